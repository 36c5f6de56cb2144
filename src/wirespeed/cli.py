"""The `wirespeed` command.

Exit codes: 0 ok; 1 failure or findings (a failed doctor check, an incomplete
test host); 2 usage (bad arguments, unknown names); 130 interrupted.
Every reporting command takes --json for machines; people get Rich tables.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from wirespeed import __version__
from wirespeed.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, WirespeedError

app = typer.Typer(
    name="wirespeed",
    help=(
        "Kernel-bypass market-data capture: receive exchange multicast through AF_XDP, "
        "DPDK or the kernel, stamp every packet in ns, fan it out through a shared-memory ring.\n\n"
        "Start with `wirespeed doctor` to see what this host can do, and "
        "`sudo wirespeed testbed up` to make a second host for the exchange side."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
testbed_app = typer.Typer(
    help=(
        "A second host for the exchange side: a network namespace joined to this host by a veth pair.\n\n"
        "The simulator and retransmit server run inside it; wirespeed captures on the host side. "
        "Addresses default to 198.18.0.0/24 (RFC 2544's benchmarking range). Needs root."
    ),
    no_args_is_help=True,
)
app.add_typer(testbed_app, name="testbed")

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for machines instead of a table.")]


def _fail(exc: WirespeedError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _print_json(doc: object) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"wirespeed {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


# -- doctor ---------------------------------------------------------------------

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


@app.command()
def doctor(
    iface: Annotated[list[str], typer.Option(
        "--iface", "-i", metavar="IF",
        help="Interface to examine and really try (attach XDP_PASS, bind AF_XDP); repeatable. "
             "Default: the test host's veth if it exists, plus the default-route interface (not tried).")] = [],  # noqa: B006
    no_try: Annotated[bool, typer.Option(
        "--no-try", help="Never attach XDP or bind AF_XDP, only read (attaching resets the rings of some NICs).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """What this host can do for kernel bypass, and the exact fix for what it cannot.

    Checks the kernel (AF_XDP, bpf(), JIT, io_uring, hugetlbfs), privileges per transport,
    each interface (driver, queues, MTU, offloads, coalescing, timestamping, native XDP and
    AF_XDP zero-copy really tried), CPU isolation, memory and peer tools.
    Exit code 1 if any check fails.
    """
    from wirespeed import doctor as doc

    try:
        report = doc.run(doc.DoctorOptions(ifaces=tuple(iface), try_attach=not no_try))
    except WirespeedError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(report.as_dict())
    else:
        table = Table(title="wirespeed doctor", show_lines=False, expand=False)
        for col, kw in (("section", {"style": "bold"}), ("check", {}), ("", {}), ("finding", {"overflow": "fold"}),
                        ("fix", {"style": "cyan", "overflow": "fold"})):
            table.add_column(col, **kw)
        last = None
        for c in report.checks:
            st = c.status.value
            table.add_row(c.section if c.section != last else "", c.name, f"[{_STYLE[st]}]{st}[/]",
                          c.value, c.fix or "", end_section=False)
            last = c.section
        out.print(table)
        s = report.as_dict()["summary"]
        out.print(f"{s['pass']} pass, {s['warn']} warn, {s['fail']} fail, {s['info']} info")  # type: ignore[index]
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILURE)


# -- testbed --------------------------------------------------------------------

NetnsOpt = Annotated[str, typer.Option("--netns", help="Name of the namespace (the exchange side).")]
HostIfOpt = Annotated[str, typer.Option("--host-if", help="Host-side veth name (wirespeed captures here; max 15 chars).")]
PeerIfOpt = Annotated[str, typer.Option("--peer-if", help="Namespace-side veth name (the exchange sends here).")]
SubnetOpt = Annotated[str, typer.Option("--subnet", help="IPv4 subnet of the link: host gets .1, namespace .2.")]


def _testbed_cfg(netns: str, host_if: str, peer_if: str, subnet: str) -> Any:
    from wirespeed.testbed import TestbedConfig

    return TestbedConfig(netns=netns, host_if=host_if, peer_if=peer_if, subnet=subnet)


def _show_testbed(st: Any, as_json: bool) -> None:
    d = st.as_dict()
    if as_json:
        _print_json(d)
        return
    cfg = st.config
    table = Table(title=f"test host {cfg.netns}: {d['state']}", show_header=False)
    table.add_column(style="bold")
    table.add_column()

    def yes(flag: bool) -> str:
        return "[green]yes[/]" if flag else "[red]no[/]"

    table.add_row("namespace", f"{cfg.netns}  exists {yes(st.netns_exists)}  made by wirespeed {yes(st.netns_owned)}")
    table.add_row("host side", f"{cfg.host_if} {d['host_addr']}  exists {yes(st.host_if_exists)}  up {yes(st.host_if_up)}"
                  + (f"  ifindex {st.host_ifindex}" if st.host_ifindex else ""))
    table.add_row("exchange side", f"{cfg.netns}:{cfg.peer_if} {d['peer_addr']}  exists {yes(st.peer_if_exists)}  up {yes(st.peer_if_up)}")
    table.add_row("multicast route", f"224.0.0.0/4 dev {cfg.peer_if} in {cfg.netns}  {yes(st.multicast_route)}")
    for p in st.problems:
        table.add_row("[red]problem[/]", p)
    out.print(table)


def _log(as_json: bool) -> Callable[[str], None]:
    return (lambda _m: None) if as_json else (lambda m: err.print(f"[dim]{m}[/]", highlight=False))


def _testbed_action(action: str, netns: str, host_if: str, peer_if: str, subnet: str, as_json: bool) -> None:
    from wirespeed import testbed

    cfg = _testbed_cfg(netns, host_if, peer_if, subnet)
    try:
        if action == "status":
            st = testbed.status(cfg)
        else:
            st = getattr(testbed, action)(cfg, _log(as_json))
    except WirespeedError as exc:
        raise _fail(exc) from None
    _show_testbed(st, as_json)
    if action == "status" and not st.complete:
        raise typer.Exit(EXIT_FAILURE)


@testbed_app.command("up")
def testbed_up(netns: NetnsOpt = "ws-exchange", host_if: HostIfOpt = "ws-host0",
               peer_if: PeerIfOpt = "ws-exch0", subnet: SubnetOpt = "198.18.0.0/24",
               as_json: JsonOpt = False) -> None:
    """Make the test host (idempotent: completes a partial one, leaves a whole one alone).

    If any step fails, what this call made is removed again: no half-made test host.
    """
    _testbed_action("up", netns, host_if, peer_if, subnet, as_json)


@testbed_app.command("down")
def testbed_down(netns: NetnsOpt = "ws-exchange", host_if: HostIfOpt = "ws-host0",
                 peer_if: PeerIfOpt = "ws-exch0", subnet: SubnetOpt = "198.18.0.0/24",
                 as_json: JsonOpt = False) -> None:
    """Remove the test host: what wirespeed made, nothing else."""
    _testbed_action("down", netns, host_if, peer_if, subnet, as_json)


@testbed_app.command("status")
def testbed_status(netns: NetnsOpt = "ws-exchange", host_if: HostIfOpt = "ws-host0",
                   peer_if: PeerIfOpt = "ws-exch0", subnet: SubnetOpt = "198.18.0.0/24",
                   as_json: JsonOpt = False) -> None:
    """Say what exists of the test host. Exit 0 if it is complete, 1 otherwise."""
    _testbed_action("status", netns, host_if, peer_if, subnet, as_json)


def main() -> None:
    """Entry point: turns Ctrl-C into exit 130, keeps usage errors at 2."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


__all__ = ["app", "main", "EXIT_USAGE"]
