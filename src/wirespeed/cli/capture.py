"""`wirespeed capture`: feeds from an interface into the ring, with a live view."""
from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import UsageError, WirespeedError


def capture(
    config: Annotated[Optional[str], typer.Option("--config", "-c", help="A capture config (TOML): iface, ring, mode, cpu, [[feed]] tables.")] = None,
    iface: Annotated[Optional[str], typer.Option("--iface", "-i", help="Interface to capture on (the test host: ws-host0).")] = None,
    feed: Annotated[list[str], typer.Option("--feed", metavar="NAME=GROUP:PORT[/LINE]", help="A feed line to capture; repeatable.")] = [],  # noqa: B006
    ring: Annotated[str, typer.Option("--ring", help="Ring file (made if missing): a path, or a NAME in /dev/shm.")] = "/dev/shm/wirespeed",
    ring_size: Annotated[str, typer.Option("--ring-size", help="Payload size of a new ring: 256M, 1G, 8G.")] = "256M",
    transport: Annotated[str, typer.Option("--transport", "-t", help="kernel (UDP sockets, works everywhere), af_xdp (XDP redirects the feeds to AF_XDP sockets; root) or dpdk (a DPDK port, --dpdk-port; root).")] = "kernel",
    dpdk_port: Annotated[Optional[str], typer.Option("--dpdk-port", metavar="DEV", help="dpdk: a PCI address bound to DPDK, or a vdev: net_af_xdp0,iface=ws-host0, net_af_packet0,iface=IF, net_pcap0,rx_pcap=FILE. Implies --transport dpdk.")] = None,
    mode: Annotated[Optional[str], typer.Option("--mode", help="block (sleep in epoll/poll when idle) or busy (spin, no syscalls on af_xdp). Default: block for kernel, busy for af_xdp.")] = None,
    stamp: Annotated[str, typer.Option("--stamp", help="kernel transport: auto (the NIC's where it stamps every packet on a PHC, else the kernel's), kernel (SO_TIMESTAMPNS), hardware (SO_TIMESTAMPING raw NIC stamps), user (when the rx thread dequeues; af_xdp: always). Each record's flags say which clock.")] = "auto",
    xdp_mode: Annotated[str, typer.Option("--xdp-mode", help="af_xdp: native (in the driver), generic (after the skb), auto (native, else generic).")] = "auto",
    zerocopy: Annotated[str, typer.Option("--zerocopy", help="af_xdp: on, off, or auto (zero-copy where the driver has it, else copy).")] = "auto",
    malformed: Annotated[str, typer.Option("--malformed", help="af_xdp, pcap: skip (count as drops) or keep (publish flagged) frames with bad headers.")] = "skip",
    pcap: Annotated[Optional[str], typer.Option("--pcap", help="Replay this pcapng/pcap file instead of an interface (transport pcap).")] = None,
    pace: Annotated[str, typer.Option("--pace", help="pcap: max (as fast as the ring takes it) or recorded (the file's timing).")] = "max",
    speed: Annotated[float, typer.Option("--speed", help="pcap with --pace recorded: 10 = ten times faster than recorded.")] = 1.0,
    rcvbuf: Annotated[str, typer.Option("--rcvbuf", help="kernel: each socket's receive queue, e.g. 32M (default) or 256K; what overflows it is counted as sock_overflow.")] = "32M",
    cpu: Annotated[Optional[int], typer.Option("--cpu", help="Pin the receive thread to this core.")] = None,
    duration: Annotated[float, typer.Option("--duration", "-d", help="Stop after this many seconds (0: at Ctrl-C or SIGTERM).")] = 0.0,
    record_dir: Annotated[Optional[str], typer.Option("--record", help="Also record to pcapng in this folder (a separate process).")] = None,
    metrics: Annotated[Optional[str], typer.Option("--metrics", metavar="HOST:PORT", help="Also serve this ring's Prometheus metrics on HOST:PORT (loopback unless --metrics-allow-remote).")] = None,
    metrics_allow_remote: Annotated[bool, typer.Option("--metrics-allow-remote", help="Allow --metrics on an address other hosts can reach.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Capture feeds from an interface into the shared-memory ring, every packet stamped in ns.

    Transports: kernel (UDP sockets, recvmmsg, SO_TIMESTAMPNS, socket overflow counted),
    af_xdp (an XDP program wirespeed writes itself sends only the feeds' datagrams to AF_XDP
    sockets; ARP, TCP and other UDP stay with the kernel; no syscalls per packet) and dpdk
    (DPDK takes the whole port and wirespeed keeps the feeds, counting the rest as filtered;
    where wirespeed was built with DPDK: wirespeed doctor says). Ctrl-C or SIGTERM stops
    cleanly: counters flushed, XDP detached, ring marked closed.

    Examples (as root, on the test host from `wirespeed testbed up`):

      wirespeed capture -i ws-host0 --feed itch=239.1.1.1:30001 --transport af_xdp --record pcaps/
      wirespeed capture --dpdk-port net_af_xdp0,iface=ws-host0 --feed itch=239.1.1.1:30001
      wirespeed capture -c capture.toml --json
      wirespeed capture --pcap day.pcapng --feed itch=239.1.1.1:30001 --pace recorded --speed 10
      wirespeed capture -i ws-host0 --feed itch=239.1.1.1:30001 --metrics 127.0.0.1:9464

    Watch it from another terminal with `wirespeed top`; every count is in the ring's control page.
    """
    from wirespeed.capture import runner as cap

    server = None
    try:
        if config:
            cfg = cap.CaptureConfig.from_toml(config)
        else:
            if not iface and not pcap and not dpdk_port:
                raise UsageError("name the interface with --iface (or give --config, or --pcap FILE to replay)",
                                 "the test host's is ws-host0")
            from wirespeed.transports.af_xdp import AfXdpOptions
            from wirespeed.transports.dpdk import DpdkOptions

            if dpdk_port and transport == "kernel":
                transport = "dpdk"  # naming a DPDK port says which transport

            cfg = cap.CaptureConfig(iface=iface or "", feeds=[cap.parse_feed_flag(f) for f in feed], ring=ring,
                                    ring_size=ring_size, mode=mode, stamp=stamp, rcvbuf=rcvbuf, cpu=cpu, transport=transport,
                                    xdp=AfXdpOptions(xdp_mode=xdp_mode, zerocopy=zerocopy, malformed=malformed),
                                    pcap=pcap, pace=pace, speed=speed,
                                    dpdk=DpdkOptions(port=dpdk_port or "")).validate()
        if metrics:
            from wirespeed.monitor.metrics import MetricsServer, parse_listen

            server = MetricsServer(parse_listen(metrics, metrics_allow_remote), [cfg.ring])
            err.print(f"metrics: {server.url}", highlight=False)
        recorder = None
        if record_dir:
            import subprocess

            recorder = subprocess.Popen([sys.executable, "-m", "wirespeed", "record", cfg.ring, "--dir", record_dir,
                                         "--wait-for-ring"])
        if as_json:
            res = cap.run(cfg, duration)
        else:
            from rich.live import Live

            with Live(console=err, refresh_per_second=4, transient=False) as live:
                view = _CaptureView()
                res = cap.run(cfg, duration, lambda s: live.update(view(s)))
        if recorder is not None:
            recorder.wait(30)
    except WirespeedError as exc:
        raise fail(exc) from None
    finally:
        if server is not None:
            server.close()
    if as_json:
        print_json(res)
        return
    t = Table(title=f"wirespeed capture on {res['iface']}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("packets", f"{res['records']:,} into {res['ring']} in {res['elapsed_s']:.1f} s")
    setup = ", ".join(f"{k} {v}" for k, v in res["setup"].items() if k != "transport")
    t.add_row("transport", f"{res['transport']} ({setup})")
    t.add_row("drops", ", ".join(f"{k} {v}" for k, v in res["drops"].items()))
    out.print(t)


_CAUSES = {"kernel": ("sock_overflow", "too_big", "malformed"), "pcap": ("malformed", "too_big"),
           "af_xdp": ("xsk_rx_dropped", "xsk_rx_ring_full", "xsk_fill_ring_empty", "malformed", "too_big"),
           "dpdk": ("dpdk_imissed", "xsk_rx_ring_full", "dpdk_rx_nombuf", "dpdk_ierrors", "malformed", "too_big",
                    "filtered")}


class _CaptureView:
    """The live view of a capture: what arrives, what is lost and why."""

    def __init__(self) -> None:
        self.prev = (0.0, 0)

    def __call__(self, s: dict[str, Any]) -> Table:
        dt = s["elapsed_s"] - self.prev[0]
        rate = (s["records"] - self.prev[1]) / dt if dt > 0 else 0.0
        self.prev = (s["elapsed_s"], s["records"])
        t = Table(title=f"capture on {s['iface']}: {s['transport']}/{s['mode']}  (Ctrl-C to stop)", show_header=False)
        t.add_column(style="bold")
        t.add_column(justify="right")
        t.add_row("packets", f"{s['records']:,}")
        t.add_row("rate", f"{rate:,.0f} pkt/s")
        t.add_row("elapsed", f"{s['elapsed_s']:.1f} s")
        for cause in _CAUSES.get(s["transport"], ()):
            n = s["drops"].get(cause, 0)
            t.add_row(f"drop: {cause}", f"[red]{n:,}[/red]" if n else "0")
        for w in s.get("setup", {}).get("warnings", []):
            t.add_row("[yellow]warning[/]", f"[yellow]{w}[/]")
        rx = s.get("rx", {})
        if rx.get("polls"):
            t.add_row("polls with work", f"{1 - rx.get('empty_polls', 0) / rx['polls']:.2%}")
        return t
