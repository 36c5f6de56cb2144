"""XDP capabilities the kernel advertises per interface: the `netdev` generic
netlink family (Linux >= 6.3), `ynl --family netdev --dump dev-get` in C.

This is the driver's own claim; `doctor` also tries the real thing.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, genlmsg
from pyroute2.netlink.generic import GenericNetlinkSocket

NETDEV_CMD_DEV_GET = 1

# enum netdev_xdp_act (linux/netdev.h)
XDP_ACT = {
    "basic": 1 << 0,
    "redirect": 1 << 1,
    "ndo-xmit": 1 << 2,
    "xsk-zerocopy": 1 << 3,
    "hw-offload": 1 << 4,
    "rx-sg": 1 << 5,
    "ndo-xmit-sg": 1 << 6,
}


class _netdevmsg(genlmsg):
    prefix = "NETDEV_A_DEV_"
    nla_map = (
        ("NETDEV_A_DEV_UNSPEC", "none"),
        ("NETDEV_A_DEV_IFINDEX", "uint32"),
        ("NETDEV_A_DEV_PAD", "none"),
        ("NETDEV_A_DEV_XDP_FEATURES", "uint64"),
        ("NETDEV_A_DEV_XDP_ZC_MAX_SEGS", "uint32"),
        ("NETDEV_A_DEV_XDP_RX_METADATA_FEATURES", "uint64"),
        ("NETDEV_A_DEV_XSK_FEATURES", "uint64"),
    )


@dataclass(frozen=True)
class XdpFeatures:
    bits: int

    @property
    def names(self) -> list[str]:
        return [n for n, b in XDP_ACT.items() if self.bits & b]

    @property
    def native(self) -> bool:
        return bool(self.bits & XDP_ACT["basic"])

    @property
    def zerocopy(self) -> bool:
        return bool(self.bits & XDP_ACT["xsk-zerocopy"])


def xdp_features() -> dict[int, XdpFeatures] | None:
    """ifindex -> advertised features for every interface in this namespace,
    or None when the kernel has no netdev family (older than 6.3)."""
    sock = GenericNetlinkSocket()
    try:
        try:
            sock.bind("netdev", _netdevmsg)
        except Exception:  # pyroute2 raises NetlinkError or a plain error by version
            return None
        msg = _netdevmsg()
        msg["cmd"] = NETDEV_CMD_DEV_GET
        msg["version"] = 1
        out: dict[int, XdpFeatures] = {}
        for reply in sock.nlm_request(msg, msg_type=sock.prid, msg_flags=NLM_F_REQUEST | NLM_F_DUMP):
            ifindex = reply.get("ifindex")
            if ifindex is not None:
                out[ifindex] = XdpFeatures(reply.get("xdp_features") or 0)
        return out
    finally:
        sock.close()
