"""Ethernet / IPv4 / UDP frames, built the way Linux sends a UDP datagram
(DF set, IP ID 0, the given TTL, checksums computed), for pcapng files of
what the simulator would put on the wire."""
from __future__ import annotations

import ipaddress
import struct

ETH_P_IP = 0x0800


def multicast_mac(group: str) -> bytes:
    """01:00:5e + the low 23 bits of the group (RFC 1112)."""
    g = int(ipaddress.IPv4Address(group))
    return bytes([0x01, 0x00, 0x5E, (g >> 16) & 0x7F, (g >> 8) & 0xFF, g & 0xFF])


def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of data: 0 over a header that carries a right one."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src_mac: bytes, dst_mac: bytes, src_ip: str, dst_ip: str, sport: int, dport: int,
              payload: bytes, ttl: int = 1) -> bytes:
    src = ipaddress.IPv4Address(src_ip).packed
    dst = ipaddress.IPv4Address(dst_ip).packed
    ulen = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    ucs = inet_checksum(pseudo + udp) or 0xFFFF  # 0 means "no checksum" in UDP: send 0xFFFF instead
    udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0x4000, ttl, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + udp
