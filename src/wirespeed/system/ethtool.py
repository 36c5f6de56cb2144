"""What a NIC driver reports through SIOCETHTOOL (linux/ethtool.h layouts), and
the few settings `tune` changes (GRO, LRO, coalescing, hardware timestamping).

Each query returns None when the driver does not implement it (EOPNOTSUPP),
which is common (veth has no coalescing, virtio no timestamping); other
errors propagate as OSError naming the ioctl. A setter raises OSError,
EOPNOTSUPP included: a change that cannot be made must be said.
"""
from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

from wirespeed import _native

ETHTOOL_GDRVINFO = 0x03
ETHTOOL_GRINGPARAM = 0x10
ETHTOOL_GCOALESCE = 0x0E
ETHTOOL_SCOALESCE = 0x0F
ETHTOOL_GFLAGS = 0x25
ETHTOOL_SFLAGS = 0x26
ETHTOOL_GGRO = 0x2B
ETHTOOL_SGRO = 0x2C
ETHTOOL_GCHANNELS = 0x3C
ETHTOOL_GET_TS_INFO = 0x41
ETH_FLAG_LRO = 1 << 15

# linux/net_tstamp.h
SOF_TIMESTAMPING_TX_HARDWARE = 1 << 0
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_HARDWARE = 1 << 2
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_RAW_HARDWARE = 1 << 6
HWTSTAMP_FILTER_NONE = 0
HWTSTAMP_FILTER_ALL = 1
HWTSTAMP_TX_OFF = 0


def _query(ifname: str, cmd: int, size: int) -> bytearray | None:
    buf = bytearray(size)
    struct.pack_into("<I", buf, 0, cmd)
    try:
        _native.ethtool(ifname, buf)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
            return None
        raise
    return buf


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


@dataclass(frozen=True)
class DriverInfo:
    driver: str
    version: str
    firmware: str
    bus_info: str


def driver_info(ifname: str) -> DriverInfo | None:
    buf = _query(ifname, ETHTOOL_GDRVINFO, 196)
    if buf is None:
        return None
    f = [_cstr(buf[4 + 32 * i: 4 + 32 * (i + 1)]) for i in range(4)]
    return DriverInfo(*f)


@dataclass(frozen=True)
class Channels:
    max_rx: int
    max_tx: int
    max_other: int
    max_combined: int
    rx: int
    tx: int
    other: int
    combined: int


def channels(ifname: str) -> Channels | None:
    buf = _query(ifname, ETHTOOL_GCHANNELS, 36)
    return None if buf is None else Channels(*struct.unpack_from("<8I", buf, 4))


@dataclass(frozen=True)
class Rings:
    rx_max: int
    tx_max: int
    rx: int
    tx: int


def rings(ifname: str) -> Rings | None:
    buf = _query(ifname, ETHTOOL_GRINGPARAM, 36)
    if buf is None:
        return None
    v = struct.unpack_from("<8I", buf, 4)
    return Rings(rx_max=v[0], tx_max=v[3], rx=v[4], tx=v[7])


@dataclass(frozen=True)
class Coalesce:
    rx_usecs: int
    rx_max_frames: int
    adaptive_rx: bool


def coalesce(ifname: str) -> Coalesce | None:
    buf = _query(ifname, ETHTOOL_GCOALESCE, 92)
    if buf is None:
        return None
    v = struct.unpack_from("<22I", buf, 4)
    return Coalesce(rx_usecs=v[0], rx_max_frames=v[1], adaptive_rx=bool(v[10]))


def set_coalesce(ifname: str, rx_usecs: int, adaptive_rx: bool) -> None:
    """Set rx-usecs and adaptive-rx, keeping every other coalescing field as the driver has it."""
    buf = _query(ifname, ETHTOOL_GCOALESCE, 92)
    if buf is None:
        raise OSError(errno.EOPNOTSUPP, f"{ifname}: the driver has no interrupt coalescing settings")
    struct.pack_into("<I", buf, 0, ETHTOOL_SCOALESCE)
    struct.pack_into("<I", buf, 4, rx_usecs)
    struct.pack_into("<I", buf, 4 + 4 * 10, int(adaptive_rx))
    _native.ethtool(ifname, buf)


def gro(ifname: str) -> bool | None:
    buf = _query(ifname, ETHTOOL_GGRO, 8)
    return None if buf is None else bool(struct.unpack_from("<I", buf, 4)[0])


def set_gro(ifname: str, on: bool) -> None:
    _native.ethtool(ifname, bytearray(struct.pack("<II", ETHTOOL_SGRO, int(on))))


def lro(ifname: str) -> bool | None:
    buf = _query(ifname, ETHTOOL_GFLAGS, 8)
    return None if buf is None else bool(struct.unpack_from("<I", buf, 4)[0] & ETH_FLAG_LRO)


def set_lro(ifname: str, on: bool) -> None:
    buf = _query(ifname, ETHTOOL_GFLAGS, 8)
    if buf is None:
        raise OSError(errno.EOPNOTSUPP, f"{ifname}: the driver has no offload flags")
    flags = struct.unpack_from("<I", buf, 4)[0]
    flags = flags | ETH_FLAG_LRO if on else flags & ~ETH_FLAG_LRO
    _native.ethtool(ifname, bytearray(struct.pack("<II", ETHTOOL_SFLAGS, flags)))


@dataclass(frozen=True)
class TimestampInfo:
    so_timestamping: int
    phc_index: int
    tx_types: int
    rx_filters: int

    @property
    def hardware_rx(self) -> bool:
        return bool(self.so_timestamping & SOF_TIMESTAMPING_RX_HARDWARE)

    @property
    def hardware_rx_all(self) -> bool:
        """The NIC can stamp every received packet (HWTSTAMP_FILTER_ALL)."""
        return self.hardware_rx and bool(self.rx_filters >> HWTSTAMP_FILTER_ALL & 1)

    @property
    def rx_phc(self) -> int | None:
        """The PHC that stamps every received packet (/dev/ptpN), or None where the NIC cannot."""
        return self.phc_index if self.hardware_rx_all and self.phc_index >= 0 else None

    @property
    def software_rx(self) -> bool:
        return bool(self.so_timestamping & SOF_TIMESTAMPING_RX_SOFTWARE)


def timestamping(ifname: str) -> TimestampInfo | None:
    buf = _query(ifname, ETHTOOL_GET_TS_INFO, 44)
    if buf is None:
        return None
    so, phc, tx_types = struct.unpack_from("<Iii", buf, 4)
    (rx_filters,) = struct.unpack_from("<I", buf, 28)
    return TimestampInfo(so, phc, tx_types, rx_filters)


@dataclass(frozen=True)
class HwTstampConfig:
    """struct hwtstamp_config: what the NIC stamps now (linux/net_tstamp.h)."""

    flags: int
    tx_type: int
    rx_filter: int

    @property
    def rx_all(self) -> bool:
        return self.rx_filter == HWTSTAMP_FILTER_ALL


def hwtstamp(ifname: str) -> HwTstampConfig | None:
    """The interface's hardware timestamping config (SIOCGHWTSTAMP); None if it has none."""
    buf = bytearray(12)
    try:
        _native.hwtstamp(ifname, buf, False)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
            return None
        raise
    return HwTstampConfig(*struct.unpack("<iii", buf))


def set_hwtstamp(ifname: str, cfg: HwTstampConfig) -> HwTstampConfig:
    """Set it (SIOCSHWTSTAMP); returns what the driver applied (it may widen the filter)."""
    buf = bytearray(struct.pack("<iii", cfg.flags, cfg.tx_type, cfg.rx_filter))
    _native.hwtstamp(ifname, buf, True)
    return HwTstampConfig(*struct.unpack("<iii", buf))
