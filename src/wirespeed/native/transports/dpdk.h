/* transports/dpdk.h - the dpdk transport: a DPDK port's receive queues into the ring.
 *
 * What it is for: the seeds' "best for production" path. A port is a NIC
 * bound to a DPDK driver (a PCI address) or a virtual device on a kernel
 * interface (net_af_xdp, net_af_packet, net_pcap). DPDK owns the whole port
 * (every queue it is given): there is no XDP program choosing what to take,
 * so the loop filters in software with the capture's feed table (flows.h)
 * and counts what it leaves by reason.
 *
 * This file is built only where `pkg-config libdpdk` finds DPDK >= 22.11,
 * into its own extension (wirespeed._dpdk), so the rest of wirespeed never
 * links DPDK.
 *
 * EAL: ws_dpdk_eal_init runs once per process (DPDK cannot be initialised
 * twice); the arguments are the caller's (transports/dpdk.py builds them).
 * Its log goes to a file of ours, so an error can quote what DPDK said
 * (ws_dpdk_log_tail). Ports after the first are hot-plugged (rte_dev_probe)
 * and removed again on close, so one process can open, close and reopen.
 *
 * Memory: one mempool per port, sized by ws_dpdk_pool_size:
 *     n = queues * (rx descriptors + burst) + tx descriptors
 *         + 2 * cache * queues + 512 spare,   rounded up to 2^k - 1
 * (the driver may hold every descriptor's mbuf, the loop one burst per
 * queue, each lcore cache up to 1.5 * cache; 2^k - 1 is the size the
 * mempool's ring stores best). The port owns its pool; close frees both.
 *
 * Threads: open/close/stats from the control thread; ws_dpdk_run from one
 * thread, which registers itself as an lcore for the run (so the mempool
 * serves it from a per-lcore cache, not the shared ring). stop may be set
 * from any thread; the loop's counters are relaxed atomics any thread reads.
 * ws_dpdk_port_stats reads the driver's counters from another thread, as
 * testpmd does; on net_af_xdp it is a getsockopt, so the loop never calls it.
 *
 * Steady state in BUSY mode: rte_eth_rx_burst, the copy into the ring,
 * rte_pktmbuf_free_bulk and one vDSO clock read per burst: no syscall, no
 * allocation (the mempool's cache recycles the mbufs). BLOCK mode sleeps
 * 50 us after 256 empty polls in a row (DPDK has no fd to poll for
 * every driver), counted.
 *
 * Timestamps: where the port can stamp frames (RTE_ETH_RX_OFFLOAD_TIMESTAMP)
 * the stamp is turned into CLOCK_REALTIME ns with the port's clock, measured
 * against the system clock when the port starts (rte_eth_read_clock), and the
 * record is flagged WS_REC_TS_NIC; otherwise the loop's own clock read at
 * dequeue, flagged WS_REC_TS_USER, as af_xdp does.
 *
 * IGMP: a port with a kernel interface behind it (net_af_xdp, net_af_packet)
 * is joined by a kernel socket (transports/dpdk.py). A port DPDK owns alone
 * speaks for itself: ws_dpdk_igmp_report sends an IGMPv3 report for the
 * groups, and the loop answers membership queries with one (when igmp is on).
 */
#ifndef WS_DPDK_H
#define WS_DPDK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "net/frame.h"
#include "ring/ring.h"
#include "transports/flows.h"

#define WS_DPDK_MAX_QUEUES 16
#define WS_DPDK_MAX_BURST 256

enum { WS_DPDK_BLOCK = 0, WS_DPDK_BUSY = 1 };
enum { WS_DPDK_SKIP_MALFORMED = 0, WS_DPDK_KEEP_MALFORMED = 1 };
enum { WS_DPDK_TS_AUTO = 0, WS_DPDK_TS_OFF = 1 }; /* NIC stamps where the port has them, or never */

/* Frames of the port that are not the capture's: counted, left. */
enum { WS_DPDK_NOT_IPV4 = 0, WS_DPDK_NOT_UDP, WS_DPDK_OTHER_FLOW, WS_DPDK_FILTER_REASONS };
extern const char *const ws_dpdk_filter_names[WS_DPDK_FILTER_REASONS];

typedef struct {
	uint16_t queues; /* 0: every receive queue the port has (capped at WS_DPDK_MAX_QUEUES) */
	uint16_t rxd;    /* receive descriptors per queue (the driver may adjust) */
	uint16_t burst;  /* rte_eth_rx_burst size, 1..WS_DPDK_MAX_BURST */
	uint32_t pool;   /* mbufs; 0: ws_dpdk_pool_size */
	int timestamps;  /* WS_DPDK_TS_* */
	int allmulti;    /* let every multicast frame in (all-multicast, else promiscuous), undone at close: a NIC
	                  * DPDK owns. 0 for a vdev on a kernel interface, whose group joins set its filter. */
} ws_dpdk_conf_t;

typedef struct {
	uint16_t port;
	uint16_t nb_rxq, nb_rxd, burst;
	int found;             /* port holds this device's id (else close must not touch any port) */
	int started, attached; /* attached: we probed the device, so close removes it */
	int allmulti_on, promisc_on; /* what open turned on, close turns off */
	struct rte_mempool *pool;
	uint32_t pool_n;
	int ts_offset;          /* NIC stamps: the mbuf dynamic field, or -1 */
	uint64_t ts_flag;
	uint64_t clk_ticks0, clk_ns0; /* the port's clock against CLOCK_REALTIME */
	double ns_per_tick;
	int rss;
	int tx;                 /* a transmit queue exists (IGMP) */
	uint8_t mac[6];
	uint32_t igmp_src;      /* network order; 0: no IGMP from DPDK */
	uint32_t igmp_groups[WS_MAX_FLOWS]; /* network order; 0: a left group */
	_Atomic uint32_t igmp_n;
	_Atomic int igmp_pending; /* the control thread asks the loop to send a report */
	char name[64], driver[64];
} ws_dpdk_port_t;

typedef struct {
	/* packets, bytes: published into the ring (kept malformed frames included) */
	_Atomic uint64_t packets, bytes, polls, empty_polls, sleeps, malformed, too_big, nic_stamps;
	_Atomic uint64_t filtered[WS_DPDK_FILTER_REASONS];
	_Atomic uint64_t verdicts[WS_FRAME_VERDICTS];
	_Atomic uint64_t igmp_queries, igmp_reports, igmp_send_failed;
	_Atomic int lcore; /* the lcore id the loop registered as, -1 if none */
} ws_dpdk_stats_t;

typedef struct {
	uint64_t ipackets, ibytes, imissed, ierrors, rx_nombuf;
} ws_dpdk_port_stats_t;

/* EAL, once per process. ws_dpdk_eal_init returns 0, -EALREADY if it ran
 * before, or -errno with err holding DPDK's last words. */
int ws_dpdk_eal_init(int argc, char **argv, char *err, size_t errlen);
int ws_dpdk_eal_ready(void);
/* The last bytes DPDK logged (NUL-terminated, at most len - 1). */
size_t ws_dpdk_log_tail(char *buf, size_t len);
const char *ws_dpdk_version(void);

uint32_t ws_dpdk_pool_size(uint16_t queues, uint16_t rxd, uint16_t burst);

/* ws_dpdk_open finds (or hot-plugs) the device and starts it. 0, or -errno
 * with err saying what failed; a failed open leaves nothing behind. */
int ws_dpdk_open(ws_dpdk_port_t *p, const char *devargs, const ws_dpdk_conf_t *c, char *err, size_t errlen);
int ws_dpdk_run(ws_dpdk_port_t *p, ws_ring_writer_t *w, const ws_flows_t *flows, int mode, int malformed_policy,
                _Atomic int *stop, ws_dpdk_stats_t *st);
int ws_dpdk_port_stats(const ws_dpdk_port_t *p, ws_dpdk_port_stats_t *out);
/* IGMP from DPDK itself (a port with no kernel interface behind it). The
 * loop owns the transmit queue: the control thread sets the source address
 * and adds groups (ws_dpdk_igmp_join; a group's slot is written before the
 * count is raised, with release), then asks for a report, which the loop
 * sends at its next pass: one IGMPv3 report, every group EXCLUDE {} ("send
 * me everything to these groups"). The loop also answers each query. */
void ws_dpdk_igmp_source(ws_dpdk_port_t *p, uint32_t src);
int ws_dpdk_igmp_join(ws_dpdk_port_t *p, uint32_t group);
void ws_dpdk_igmp_leave(ws_dpdk_port_t *p, uint32_t group);
/* ws_dpdk_igmp_frame builds the report into buf (at least 64 + 8 * groups
 * bytes); returns its length (exposed for tests, which parse it). */
uint32_t ws_dpdk_igmp_frame(const ws_dpdk_port_t *p, uint8_t *buf, uint32_t cap);
void ws_dpdk_close(ws_dpdk_port_t *p);

#endif /* WS_DPDK_H */
