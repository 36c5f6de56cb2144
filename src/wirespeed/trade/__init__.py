"""Trading: from a market-data packet to an order, in one loop.

  trader.py   Trader: ring -> books -> strategy -> risk -> order session; the strategy in C
              (built in or a shared object, native/trade/strategy.h) or a Python callback
  runner.py   TradeConfig and the `wirespeed trade` job: capture, books, session, trader, stats

The C behind it is native/trade/ (trader.c, strategy.c, bookref.c); the order
session and its risk checks are wirespeed.orders.
"""
from wirespeed.trade.trader import Intent, Trader, include_dir, strategies

__all__ = ["Intent", "Trader", "include_dir", "strategies"]
