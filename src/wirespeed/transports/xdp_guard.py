"""python -m wirespeed.transports.xdp_guard IFACE PROG_ID

Waits for EOF on stdin (the pipe's other end belongs to the process that
started it), then takes XDP program PROG_ID off IFACE if it is still there.
The dpdk transport starts one per net_af_xdp port: DPDK attaches its program
through netlink, which outlives a killed process, and a program redirecting a
queue to a socket that no longer exists blackholes the interface. Kept to the
standard library, so it starts in milliseconds.
"""
from __future__ import annotations

import re
import subprocess
import sys


def prog_id(iface: str) -> int | None:
    r = subprocess.run(["ip", "-d", "link", "show", "dev", iface], capture_output=True, text=True)
    m = re.search(r"prog/xdp\w* id (\d+)", r.stdout)
    return int(m.group(1)) if m else None


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m wirespeed.transports.xdp_guard IFACE PROG_ID", file=sys.stderr)
        return 2
    iface, prog = argv[0], int(argv[1])
    while sys.stdin.buffer.read(4096):
        pass
    if prog_id(iface) != prog:
        return 0  # closed cleanly, or someone else's program now: not ours to touch
    for mode in ("xdpdrv", "xdpgeneric"):  # whichever it is attached as
        subprocess.run(["ip", "link", "set", "dev", iface, mode, "off"], capture_output=True)
    if prog_id(iface) == prog:
        print(f"wirespeed xdp_guard: could not take XDP program {prog} off {iface}: "
              f"ip link set dev {iface} xdp off", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
