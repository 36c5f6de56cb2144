"""`wirespeed testbed`: the test host (a network namespace joined by veth)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import EXIT_FAILURE, WirespeedError

app = typer.Typer(
    help=(
        "A second host for the exchange side: a network namespace joined to this host by a veth pair.\n\n"
        "The simulator and retransmit server run inside it; wirespeed captures on the host side. "
        "Addresses default to 198.18.0.0/24 (RFC 2544's benchmarking range). Needs root."
    ),
    no_args_is_help=True,
)

NetnsOpt = Annotated[str, typer.Option("--netns", help="Name of the namespace (the exchange side).")]
HostIfOpt = Annotated[str, typer.Option("--host-if", help="Host-side veth name (wirespeed captures here; max 15 chars).")]
PeerIfOpt = Annotated[str, typer.Option("--peer-if", help="Namespace-side veth name (the exchange sends here).")]
SubnetOpt = Annotated[str, typer.Option("--subnet", help="IPv4 subnet of the link: host gets .1, namespace .2.")]


def _testbed_cfg(netns: str, host_if: str, peer_if: str, subnet: str) -> Any:
    from wirespeed.host.testbed import TestbedConfig

    return TestbedConfig(netns=netns, host_if=host_if, peer_if=peer_if, subnet=subnet)


def _show_testbed(st: Any, as_json: bool) -> None:
    d = st.as_dict()
    if as_json:
        print_json(d)
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
    from wirespeed.host import testbed

    cfg = _testbed_cfg(netns, host_if, peer_if, subnet)
    try:
        if action == "status":
            st = testbed.status(cfg)
        else:
            st = getattr(testbed, action)(cfg, _log(as_json))
    except WirespeedError as exc:
        raise fail(exc) from None
    _show_testbed(st, as_json)
    if action == "status" and not st.complete:
        raise typer.Exit(EXIT_FAILURE)


@app.command("up")
def testbed_up(netns: NetnsOpt = "ws-exchange", host_if: HostIfOpt = "ws-host0",
               peer_if: PeerIfOpt = "ws-exch0", subnet: SubnetOpt = "198.18.0.0/24",
               as_json: JsonOpt = False) -> None:
    """Make the test host (idempotent: completes a partial one, leaves a whole one alone).

    If any step fails, what this call made is removed again: no half-made test host.
    """
    _testbed_action("up", netns, host_if, peer_if, subnet, as_json)


@app.command("down")
def testbed_down(netns: NetnsOpt = "ws-exchange", host_if: HostIfOpt = "ws-host0",
                 peer_if: PeerIfOpt = "ws-exch0", subnet: SubnetOpt = "198.18.0.0/24",
                 as_json: JsonOpt = False) -> None:
    """Remove the test host: what wirespeed made, nothing else."""
    _testbed_action("down", netns, host_if, peer_if, subnet, as_json)


@app.command("status")
def testbed_status(netns: NetnsOpt = "ws-exchange", host_if: HostIfOpt = "ws-host0",
                   peer_if: PeerIfOpt = "ws-exch0", subnet: SubnetOpt = "198.18.0.0/24",
                   as_json: JsonOpt = False) -> None:
    """Say what exists of the test host. Exit 0 if it is complete, 1 otherwise."""
    _testbed_action("status", netns, host_if, peer_if, subnet, as_json)
