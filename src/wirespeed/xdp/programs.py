"""The XDP programs wirespeed generates (see ebpf.py for the assembler)."""
from __future__ import annotations

from wirespeed.xdp.ebpf import R0, R1, R2, R3, R4, R5, R6, R7, R10, XDP_DROP, XDP_PASS, Program


def xdp_pass() -> Program:
    """return XDP_PASS: the smallest XDP program; `doctor` attaches it to
    learn whether an interface takes native XDP, without changing traffic."""
    prog = Program("ws_xdp_pass")
    prog.mov(R0, XDP_PASS, "r0 = XDP_PASS")
    prog.exit()
    return prog


# Helpers and map types used below (linux/bpf.h).
BPF_FUNC_map_lookup_elem = 1
BPF_FUNC_get_prandom_u32 = 7
BPF_FUNC_redirect_map = 51
BPF_MAP_TYPE_HASH = 1
BPF_MAP_TYPE_ARRAY = 2
BPF_MAP_TYPE_XSKMAP = 17

# The feed map's key: the IPv4 destination and UDP destination port exactly
# as they sit in the packet (network order), then two zero bytes. A key with
# port 0 stands for "this group's frames whose UDP port cannot be read":
# fragments, bad IHL, truncated. Those go to the socket too, where the
# receive loop counts them as malformed instead of the kernel dropping them
# unseen.
FLOW_KEY_SIZE = 8
FLOW_VALUE_SIZE = 4  # the stream id (informational: the loop matches its own table)


def flow_key(group: str, port: int) -> bytes:
    import socket
    import struct

    return socket.inet_aton(group) + struct.pack("!H", port) + b"\0\0"


def _ipv4_of(p: Program, proto: int, other: str, also: tuple[int, str] | None = None) -> None:
    """The start every program here shares: r6 = ctx, r2 = data, r3 = data_end;
    to `other` unless the frame holds a whole IPv4 header of protocol `proto`
    (or of `also`'s protocol, which jumps to `also`'s label)."""
    p.mov(R6, R1, "r6 = ctx")
    p.ldx(4, R2, R6, 0, "r2 = ctx->data")
    p.ldx(4, R3, R6, 4, "r3 = ctx->data_end")
    p.mov(R4, R2, "r4 = data")
    p.alu("+", R4, 34, "r4 += 14 (eth) + 20 (ipv4)")
    p.jmp(">", R4, R3, other, "if (data + 34 > data_end): too short for IPv4")
    p.ldx(2, R4, R2, 12, "r4 = eth->h_proto")
    p.jmp("!=", R4, 0x0008, other, "if (h_proto != htons(ETH_P_IP))")
    p.ldx(1, R4, R2, 23, "r4 = ip->protocol")
    if also is not None:
        p.jmp("==", R4, also[0], also[1], f"if (protocol == {also[0]}) {also[1]}")
    p.jmp("!=", R4, proto, other, f"if (protocol != {proto})")


def _transport_header(p: Program, bad: str, need: int, why: str) -> None:
    """r5 = data + IHL: where the IPv4 header ends (its options skipped); to `bad`
    unless the IHL is valid and `need` bytes of the transport header follow."""
    p.ldx(1, R4, R2, 14, "r4 = ip->version_ihl")
    p.alu("&", R4, 0x0F, "r4 &= 0x0f  (ihl: bounded 0..15 for the verifier)")
    p.alu("<<", R4, 2, "r4 = ihl * 4")
    p.jmp("<", R4, 20, bad, f"if (ihl < 5) {why}")
    p.mov(R5, R2, "r5 = data")
    p.alu("+", R5, R4, "r5 = data + ihl*4")
    p.mov(R4, R5, "r4 = r5")
    p.alu("+", R4, 14 + need, f"r4 += 14 (eth) + {need}")
    p.jmp(">", R4, R3, bad, f"if the transport header is cut off: {why}")


def _lookup(p: Program, map_fd: int, name: str, key_off: int, miss: str, why: str) -> None:
    """r0 = the value for the key at fp + key_off in map `name`; to `miss` if none."""
    p.ld_map_fd(R1, map_fd, f"r1 = &{name}")
    p.mov(R2, R10, "r2 = fp")
    p.alu("+", R2, key_off, "r2 = &key")
    p.call(BPF_FUNC_map_lookup_elem, f"r0 = bpf_map_lookup_elem(&{name}, &key)")
    p.jmp("==", R0, 0, miss, f"if (!r0) {why}")


def tcp_key(saddr: str, daddr: str, sport: int, dport: int) -> bytes:
    """The TCP steering map's key, as the 5-tuple sits in a segment the
    exchange sends us: its address and port are the source."""
    import socket
    import struct

    return socket.inet_aton(saddr) + socket.inet_aton(daddr) + struct.pack("!HH", sport, dport)


TCP_KEY_SIZE = 12
TCP_VALUE_SIZE = 4  # the XSKMAP index of the socket the connection's segments go to


def xdp_feed_redirect(flows_fd: int, xsks_fd: int, tcp_fd: int = -1) -> Program:
    """Feed datagrams to the AF_XDP socket of the queue they arrived on;
    everything else (ARP, TCP, other UDP, IPv6) to the kernel untouched.

    Which datagrams are feed datagrams is the map `flows_fd` (flow_key ->
    stream id): feeds are added and removed without reloading. `xsks_fd` is
    the XSKMAP indexed by queue; a queue without a socket falls back to
    XDP_PASS (bpf_redirect_map's flags argument), so nothing is dropped
    for want of a socket.

    With `tcp_fd` (a HASH of tcp_key -> XSKMAP index), the TCP connections
    it names go to their socket too: the order session's TCP in user space
    (orders/utcp). The kernel never sees their segments, so it never
    answers them; every other TCP segment is the kernel's as before. A
    connection whose socket is gone (its process died: the kernel removes
    a closed XSK from the map) falls back to the kernel, which resets it.
    """
    p = Program("ws_xdp_feeds")
    _ipv4_of(p, 17, "pass", (6, "tcp") if tcp_fd >= 0 else None)
    p.ldx(4, R4, R2, 30, "r4 = ip->daddr")
    p.stx(4, R10, -8, R4, "key.daddr = ip->daddr")
    p.st(4, R10, -4, 0, "key.dport = 0, key.pad = 0")
    p.ldx(2, R4, R2, 20, "r4 = ip->frag_off")
    p.alu("&", R4, 0xFF3F, "r4 &= htons(IP_MF | IP_OFFSET)")
    p.jmp("!=", R4, 0, "lookup", "if fragment: look up (group, 0)")
    _transport_header(p, "lookup", 8, "look up (group, 0): malformed")
    p.ldx(2, R4, R5, 16, "r4 = udp->dest  (14 + ihl*4 + 2)")
    p.stx(2, R10, -4, R4, "key.dport = udp->dest")
    p.label("lookup")
    _lookup(p, flows_fd, "flows", -8, "pass", "pass: not a feed")
    p.ldx(4, R2, R6, 16, "r2 = ctx->rx_queue_index")
    p.ld_map_fd(R1, xsks_fd, "r1 = &xsks")
    p.mov(R3, XDP_PASS, "r3 = XDP_PASS  (if this queue has no socket)")
    p.call(BPF_FUNC_redirect_map, "r0 = bpf_redirect_map(&xsks, queue, XDP_PASS)")
    p.exit()
    if tcp_fd >= 0:
        p.label("tcp")
        _transport_header(p, "pass", 4, "pass: the kernel's to judge")
        p.ldx(4, R4, R2, 26, "r4 = ip->saddr")
        p.stx(4, R10, -16, R4, "key.saddr = ip->saddr")
        p.ldx(4, R4, R2, 30, "r4 = ip->daddr")
        p.stx(4, R10, -12, R4, "key.daddr = ip->daddr")
        p.ldx(4, R4, R5, 14, "r4 = tcp->source, tcp->dest")
        p.stx(4, R10, -8, R4, "key.ports = both ports")
        _lookup(p, tcp_fd, "tcp_flows", -16, "pass", "pass: the kernel's connection")
        p.ldx(4, R2, R0, 0, "r2 = the connection's XSKMAP index")
        p.ld_map_fd(R1, xsks_fd, "r1 = &xsks")
        p.mov(R3, XDP_PASS, "r3 = XDP_PASS  (its socket is gone: the kernel resets the connection)")
        p.call(BPF_FUNC_redirect_map, "r0 = bpf_redirect_map(&xsks, index, XDP_PASS)")
        p.exit()
    p.label("pass")
    p.mov(R0, XDP_PASS, "r0 = XDP_PASS")
    p.exit()
    return p


# The loss injector's counters (an ARRAY map of two u64): packets of the flow seen, and dropped.
LOSSY_SEEN, LOSSY_DROPPED = 0, 1


def _count(p: Program, counters_fd: int, index: int, what: str) -> None:
    """counters[index] += 1, atomically (r1-r5 and r0 clobbered)."""
    p.st(4, R10, -4, index, f"key = {index}  ({what})")
    _lookup(p, counters_fd, "counters", -4, f"counted_{index}", "skip (never: an array has every key)")
    p.mov(R1, 1, "r1 = 1")
    p.atomic_add(8, R0, 0, R1, f"__sync_fetch_and_add(&counters[{index}], 1)")
    p.label(f"counted_{index}")


def xdp_lossy(counters_fd: int, ppm: int, proto: int, port: int) -> Program:
    """Drop packets of one IPv4 flow with probability ppm / 1,000,000: the
    protocol (6 TCP, 17 UDP) with `port` as its source or destination port.
    Everything else passes untouched. Counts (map `counters_fd`, ARRAY of two
    u64) the flow's packets seen and those dropped. This machine's kernel has
    no netem: this is how a test puts loss on a path (attach it to the
    receiving end of a veth: XDP sees a device's ingress)."""
    if not 0 <= ppm <= 1_000_000 or not 0 < port < 65536 or proto not in (6, 17):
        raise ValueError("ppm 0..1000000, port 1..65535, proto 6 or 17")
    nport = ((port & 0xFF) << 8) | (port >> 8)  # as it sits in the packet, read as a little-endian u16
    p = Program("ws_xdp_lossy")
    _ipv4_of(p, proto, "pass")
    _transport_header(p, "pass", 4, "pass")
    p.ldx(2, R4, R5, 14, "r4 = source port")
    p.ldx(2, R7, R5, 16, "r7 = destination port")
    p.jmp("==", R4, nport, "ours", f"if (sport == htons({port})) ours")
    p.jmp("!=", R7, nport, "pass", f"if (dport != htons({port})) pass")
    p.label("ours")
    _count(p, counters_fd, LOSSY_SEEN, "seen")
    p.call(BPF_FUNC_get_prandom_u32, "r0 = bpf_get_prandom_u32()")
    p.alu("%", R0, 1_000_000, "r0 %= 1000000", wide=False)
    p.jmp(">=", R0, ppm, "pass", f"if (r0 >= {ppm}) pass")
    _count(p, counters_fd, LOSSY_DROPPED, "dropped")
    p.mov(R0, XDP_DROP, "r0 = XDP_DROP")
    p.exit()
    p.label("pass")
    p.mov(R0, XDP_PASS, "r0 = XDP_PASS")
    p.exit()
    return p
