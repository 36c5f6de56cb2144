"""`wirespeed tune`: plan, apply and revert host settings for a capture."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import EXIT_FAILURE, UsageError, WirespeedError

app = typer.Typer(
    help=(
        "Set this host up for capture the way `wirespeed doctor` asks, with a way back.\n\n"
        "`tune plan` says what it would change and why; `tune apply` makes the runtime changes, each shown "
        "first, recorded with its previous value, then read back; `tune revert` puts every one back. "
        "Boot flags (isolcpus, nohz_full, rcu_nocbs) are printed, never written. Interfaces are touched only "
        "when named. Changes and the state file (/run/wirespeed/tune.json) last until reboot."
    ),
    no_args_is_help=True,
)

ConfigOpt = Annotated[Optional[str], typer.Option("--config", "-c", help="A capture config (TOML): its iface, cpu, ring_size, transport and mode.")]
IfaceOpt = Annotated[list[str], typer.Option("--iface", "-i", help="A capture interface to tune; repeatable. None: host-wide settings only.")]
CpuOpt = Annotated[list[int], typer.Option("--cpu", help="A receive core (the capture's --cpu); repeatable. None: the isolated cores.")]
RingSizeOpt = Annotated[Optional[str], typer.Option("--ring-size", help="Payload size of the ring to back with 2 MiB hugepages (the capture's default: 256M).")]
TransportOpt = Annotated[Optional[str], typer.Option("--transport", "-t", help="kernel, af_xdp or dpdk (dpdk: 128 more hugepages for its EAL).")]
ModeOpt = Annotated[Optional[str], typer.Option("--mode", help="busy: a busy-polling kernel capture gets the busy-poll sysctls.")]
HwtsOpt = Annotated[bool, typer.Option("--hw-timestamps", help="Also turn on the NIC's hardware RX timestamping of every packet, where it has it.")]
OnlyOpt = Annotated[Optional[str], typer.Option("--only", metavar="PARTS", help="Comma-separated parts: hugepages, hugetlbfs, irq, rps, xps, offloads, coalesce, busypoll, napi, governor, thp, jit, hwtstamp, boot.")]
StateOpt = Annotated[Path, typer.Option("--state", help="Where applied changes and their previous values are kept.")]


def _options(config: str | None, iface: list[str], cpu: list[int], ring_size: str | None, transport: str | None,
             mode: str | None, hw_timestamps: bool, only: str | None) -> Any:
    from wirespeed.host.tune import PARTS, TuneOptions
    from wirespeed.ring import file_size

    if config:
        from wirespeed.capture.runner import CaptureConfig

        cfg = CaptureConfig.from_toml(config)
        iface = iface or ([cfg.iface] if cfg.iface else [])
        cpu = cpu or ([cfg.cpu] if cfg.cpu is not None else [])
        ring_size = ring_size or cfg.ring_size
        transport = transport or cfg.transport
        mode = mode or cfg.mode
    transport = transport or "kernel"
    if transport not in ("kernel", "af_xdp", "dpdk"):
        raise UsageError(f"--transport {transport!r}", "kernel, af_xdp or dpdk")
    parts = None
    if only:
        parts = frozenset(p.strip() for p in only.split(",") if p.strip())
        unknown = parts - set(PARTS)
        if unknown:
            raise UsageError(f"--only: unknown part(s) {', '.join(sorted(unknown))}", f"known: {', '.join(PARTS)}")
    return TuneOptions(ifaces=tuple(iface), rx_cpus=frozenset(cpu), ring_bytes=file_size(ring_size or "256M"),
                       dpdk=transport == "dpdk", busy_poll=transport == "kernel" and mode == "busy",
                       hw_timestamps=hw_timestamps, only=parts)


def _table(changes: list[Any], title: str) -> Table:
    t = Table(title=title)
    for col in ("part", "setting", "now", "to", "why"):
        t.add_column(col, overflow="fold")
    for c in changes:
        t.add_row(c.part, c.target, "(none)" if c.old is None else c.old, c.new, c.why)
    return t


def _boot_flags(changes: list[Any]) -> None:
    """The boot flags still missing, as one line to add to the kernel command line."""
    boot = [c for c in changes if c.boot]
    if boot:
        out.print("boot flags (printed, never written; add them to the kernel command line and reboot): "
                  + " ".join(f"{c.target.removeprefix('boot:')}={c.new}" for c in boot), soft_wrap=True)


@app.command("plan")
def tune_plan(config: ConfigOpt = None, iface: IfaceOpt = [], cpu: CpuOpt = [],  # noqa: B006
              ring_size: RingSizeOpt = None, transport: TransportOpt = None, mode: ModeOpt = None,
              hw_timestamps: HwtsOpt = False, only: OnlyOpt = None, as_json: JsonOpt = False) -> None:
    """Show what `tune apply` would change, from what, to what, and why. Changes nothing.

    Examples:

      wirespeed tune plan -i ws-host0 --cpu 1
      wirespeed tune plan -c capture.toml --json
    """
    from dataclasses import asdict

    from wirespeed.host import tune

    try:
        changes = tune.plan(_options(config, iface, cpu, ring_size, transport, mode, hw_timestamps, only))
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json({"changes": [asdict(c) for c in changes if not c.boot],
                    "boot_flags": [asdict(c) for c in changes if c.boot]})
        return
    runtime = [c for c in changes if not c.boot]
    if runtime:
        out.print(_table(runtime, "wirespeed tune plan"))
    else:
        out.print("nothing to change at run time")
    _boot_flags(changes)


@app.command("apply")
def tune_apply(config: ConfigOpt = None, iface: IfaceOpt = [], cpu: CpuOpt = [],  # noqa: B006
               ring_size: RingSizeOpt = None, transport: TransportOpt = None, mode: ModeOpt = None,
               hw_timestamps: HwtsOpt = False, only: OnlyOpt = None,
               state: StateOpt = Path("/run/wirespeed/tune.json"), as_json: JsonOpt = False) -> None:
    """Make the planned runtime changes, each shown before it is made and read back after.

    The previous values go to the state file first, so `wirespeed tune revert` can put back whatever was
    done, even if the apply stopped half way (exit 1). Applying again changes nothing.
    """
    from dataclasses import asdict

    from wirespeed.host import tune

    def show(c: Any, phase: str) -> None:
        if as_json:
            return
        if phase == "before":
            err.print(f"set {c.describe()}  [dim]({c.why})[/]", highlight=False, soft_wrap=True)
        elif phase == "unsupported":
            err.print(f"  [yellow]skipped[/] {c.target}: not supported by this driver or kernel", highlight=False,
                      soft_wrap=True)
        else:
            err.print(f"  [green]ok[/] {c.target} reads {c.new}", highlight=False, soft_wrap=True)

    changes: list[Any] = []
    try:
        changes = tune.plan(_options(config, iface, cpu, ring_size, transport, mode, hw_timestamps, only))
        res = tune.apply(changes, tune.Host(), state, show)
    except WirespeedError as exc:
        if as_json:
            print_json({"error": exc.message, "applied": [asdict(c) for c in changes if c.state == "applied"],
                        "state": str(state)})
        raise fail(exc) from None
    if as_json:
        print_json({"applied": [asdict(c) for c in res.done], "unsupported": [asdict(c) for c in res.unsupported],
                    "boot_flags": [asdict(c) for c in changes if c.boot], "state": str(state)})
        return
    out.print(f"{len(res.done)} change(s) applied" + (f", recorded in {state}" if res.done else "; nothing to change")
              + (f"; {len(res.unsupported)} not supported here" if res.unsupported else ""))
    _boot_flags(changes)


@app.command("revert")
def tune_revert(state: StateOpt = Path("/run/wirespeed/tune.json"), as_json: JsonOpt = False) -> None:
    """Put back every value `tune apply` changed, last first. Exit 1 if one could not be restored
    (it stays in the state file; fix what holds it, e.g. a ring still on the hugetlbfs mount, and run again)."""
    from dataclasses import asdict

    from wirespeed.host import tune

    def show(c: Any, phase: str) -> None:
        if not as_json:
            err.print(f"restore {c.target}: {c.new} -> {c.old}", highlight=False, soft_wrap=True)

    try:
        res = tune.revert(tune.Host(), state, show)
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json({"restored": [asdict(c) for c in res.restored],
                    "failed": [asdict(c) | {"error": why} for c, why in res.failed]})
    else:
        out.print(f"{len(res.restored)} setting(s) restored" if res.restored or res.failed else "nothing to revert")
        for c, why in res.failed:
            err.print(f"[bold red]not restored:[/] {c.target} to {c.old}: {why}", highlight=False, soft_wrap=True)
    if res.failed:
        raise typer.Exit(EXIT_FAILURE)
