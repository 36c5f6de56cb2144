/* system/ethtool.h - the SIOCETHTOOL ioctl, for reading what a NIC driver reports.
 *
 * What it is for: `doctor` reads driver info, channel (queue) counts, ring
 * sizes, coalescing, offloads and timestamping capabilities; `tune` sets
 * offloads and coalescing, and the NIC's hardware timestamping
 * (SIOCGHWTSTAMP / SIOCSHWTSTAMP, the same kind of ifreq ioctl). The request and
 * reply structures are laid out by the caller (wirespeed/system/ethtool.py
 * packs them from <linux/ethtool.h>); this only issues the call, because an
 * ioctl whose argument holds a pointer is simpler from C than from Python.
 *
 * Ownership: buf is the caller's; its first 4 bytes are the ETHTOOL_* command.
 * Threads: any. Not for a hot path.
 */
#ifndef WS_ETHTOOL_H
#define WS_ETHTOOL_H

/* ws_ethtool issues SIOCETHTOOL for interface ifname (in the caller's network
 * namespace) with ifr_data = buf. Returns 0 or -errno (EOPNOTSUPP: the driver
 * does not implement this query; ENODEV: no such interface; ENAMETOOLONG:
 * name longer than IFNAMSIZ-1). */
int ws_ethtool(const char *ifname, void *buf);

/* ws_hwtstamp reads (set = 0, SIOCGHWTSTAMP) or sets (set = 1, SIOCSHWTSTAMP)
 * the interface's hardware timestamping config: cfg is the caller's struct
 * hwtstamp_config {flags, tx_type, rx_filter} (12 bytes); on a set the
 * driver writes back the filter it really applied (it may widen it).
 * Returns 0 or -errno (EOPNOTSUPP: no hardware timestamping; EPERM: a set
 * needs CAP_NET_ADMIN). */
int ws_hwtstamp(const char *ifname, int set, void *cfg);

#endif /* WS_ETHTOOL_H */
