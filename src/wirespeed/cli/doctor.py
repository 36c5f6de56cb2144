"""`wirespeed doctor`: what this host can do for kernel bypass."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, fail, out, print_json
from wirespeed.errors import EXIT_FAILURE, EXIT_OK, WirespeedError

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


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
    from wirespeed.host import doctor as doc

    try:
        report = doc.run(doc.DoctorOptions(ifaces=tuple(iface), try_attach=not no_try))
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(report.as_dict())
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
