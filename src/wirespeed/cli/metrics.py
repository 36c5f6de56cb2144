"""`wirespeed metrics`: every ring's counters as a Prometheus scrape endpoint."""
from __future__ import annotations

import signal
import threading
from typing import Annotated, Optional

import typer

from wirespeed.cli.common import err, fail, out
from wirespeed.errors import WirespeedError

ListenOpt = Annotated[str, typer.Option("--listen", "-l", metavar="HOST:PORT",
                                        help="Address to serve /metrics on. Loopback unless --allow-remote.")]
AllowRemoteOpt = Annotated[bool, typer.Option("--allow-remote", help="Allow an address other hosts can reach: "
                                              "the counters say what this host receives and trades.")]


def metrics(
    rings: Annotated[Optional[list[str]], typer.Argument(metavar="[RING]...", help="Rings to export (default: every ring in /dev/shm and hugetlbfs mounts, found at each scrape).")] = None,
    listen: ListenOpt = "127.0.0.1:9464",
    allow_remote: AllowRemoteOpt = False,
    once: Annotated[bool, typer.Option("--once", help="Print one scrape in Prometheus text format and exit (no server).")] = False,
) -> None:
    """Serve Prometheus metrics read from the rings' control pages and their readers' statuses.

    Counters live in the rings, not in this process: stop and restart it at will, run two, and
    every count is the same. Book followers (`wirespeed book --ring`) and traders publish their
    feed sessions (gaps, filled, lost, stale) and order session (link, orders, fills, rejects by
    check) beside the ring; they appear as wirespeed_feed_* and wirespeed_order_*.

    Examples:

      wirespeed metrics                       # every ring, on 127.0.0.1:9464
      curl -s 127.0.0.1:9464/metrics | grep wirespeed_drops_total
      wirespeed metrics feed --once           # one scrape to stdout
      wirespeed capture -i ws-host0 --feed itch=239.1.1.1:30001 --metrics 127.0.0.1:9464
    """
    from wirespeed.monitor.metrics import MetricsServer, RingCollector, parse_listen

    try:
        if once:
            from prometheus_client import generate_latest
            from prometheus_client.registry import CollectorRegistry

            reg = CollectorRegistry(auto_describe=False)
            collector = RingCollector(rings)
            reg.register(collector)
            out.file.write(generate_latest(reg).decode())
            collector.close()
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        with MetricsServer(parse_listen(listen, allow_remote), rings) as server:
            which = ", ".join(rings) if rings else "every ring found"
            err.print(f"serving {server.url} ({which}); Ctrl-C to stop", highlight=False, soft_wrap=True)
            stop.wait()
    except WirespeedError as exc:
        raise fail(exc) from None
