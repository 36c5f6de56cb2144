"""The exchange side: what a venue sends and serves, for tests, demos and
benchmarks on a test host.

  sim.py        `wirespeed sim`: ITCH 5.0 over MoldUDP64 on A/B lines, line
                faults, the retransmission server, pcapng days (the C
                generator and sender are native/exchange/)
  matching.py   price-time matching in plain Python: the reference the C
                engine (native/exchange/match.c, _native.MatchEngine) must
                equal, and its benchmark peer
"""
