"""Order entry: the protocols a client and an exchange speak over TCP, and
the client's order session.

  soupbintcp.py   SoupBinTCP 4.1 framing, logins and packet types
  ouch.py         OUCH 5.0 messages, both directions
  session.py      Session: the order session (C), with pre-trade risk checks, a journal and reconnects
  client.py       a plain blocking client (OuchClient) for scripts, tests and notebooks

The C twins are native/orders/ (soupbin.c, ouch.c, session.c, risk.c); the
exchange's order port (wirespeed.exchange) uses the codecs.
"""
from wirespeed.orders.session import OrderRefused, RiskLimits, Session, SymbolLimits

__all__ = ["OrderRefused", "RiskLimits", "Session", "SymbolLimits"]
