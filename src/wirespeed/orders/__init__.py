"""Order entry: the protocols a client and an exchange speak over TCP.

  soupbintcp.py   SoupBinTCP 4.1 framing, logins and packet types
  ouch.py         OUCH 5.0 messages, both directions
  client.py       a plain blocking client (OuchClient) for scripts, tests and notebooks

The C twins are native/orders/ (soupbin.c, ouch.c); the exchange's order
port (wirespeed.exchange) uses them.
"""
