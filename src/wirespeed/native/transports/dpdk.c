/* transports/dpdk.c - see dpdk.h. */
#include "transports/dpdk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_version.h>

#include "transports/capture.h"

#define WS_DPDK_CACHE 256        /* mbufs per lcore cache */
#define WS_DPDK_IDLE_SPINS 256   /* BLOCK mode: empty polls before a sleep */
#define WS_DPDK_SLEEP_NS 50000
#define WS_DPDK_HEARTBEAT_NS 100000000ull

const char *const ws_dpdk_filter_names[WS_DPDK_FILTER_REASONS] = {"not_ipv4", "not_udp", "other_flow"};

static _Atomic int ws_eal_state; /* 0 never tried, 1 ready, -1 failed (DPDK cannot retry) */
static FILE *ws_eal_log;

static void ws_dpdk_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static void ws_dpdk_err(char *err, size_t errlen, const char *what, int rc)
{
	char tail[400];
	ws_dpdk_log_tail(tail, sizeof(tail));
	char *last = tail; /* the last non-empty line DPDK logged says most */
	for (char *nl = strchr(tail, '\n'); nl && nl[1]; nl = strchr(nl + 1, '\n'))
		last = nl + 1;
	last[strcspn(last, "\n")] = 0;
	snprintf(err, errlen, "%s: %s%s%s", what, strerror(rc > 0 ? rc : -rc), *last ? "; DPDK said: " : "", last);
}

size_t ws_dpdk_log_tail(char *buf, size_t len)
{
	if (!len)
		return 0;
	buf[0] = 0;
	if (!ws_eal_log)
		return 0;
	fflush(ws_eal_log);
	long end = ftell(ws_eal_log);
	long from = end > (long)(len - 1) ? end - (long)(len - 1) : 0;
	FILE *f = ws_eal_log;
	if (fseek(f, from, SEEK_SET) != 0)
		return 0;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fseek(f, 0, SEEK_END); /* DPDK goes on appending */
	return n;
}

const char *ws_dpdk_version(void)
{
	return rte_version();
}

int ws_dpdk_eal_ready(void)
{
	return atomic_load(&ws_eal_state) == 1;
}

int ws_dpdk_eal_init(int argc, char **argv, char *err, size_t errlen)
{
	int state = atomic_load(&ws_eal_state);
	if (state == 1)
		return -EALREADY;
	if (state == -1) {
		snprintf(err, errlen, "DPDK's EAL failed to start earlier in this process and cannot be started twice");
		return -EALREADY;
	}
	if (!ws_eal_log) {
		ws_eal_log = tmpfile(); /* DPDK's log, for error messages; stderr if it cannot be made */
		if (ws_eal_log)
			rte_openlog_stream(ws_eal_log);
	}
	if (rte_eal_init(argc, argv) < 0) {
		int rc = rte_errno ? rte_errno : EINVAL;
		atomic_store(&ws_eal_state, -1);
		ws_dpdk_err(err, errlen, "rte_eal_init", rc);
		return -rc;
	}
	atomic_store(&ws_eal_state, 1);
	return 0;
}

uint32_t ws_dpdk_pool_size(uint16_t queues, uint16_t rxd, uint16_t burst)
{
	uint64_t n = (uint64_t)queues * (rxd + burst) + 512 /* tx descriptors */ + 2ull * WS_DPDK_CACHE * queues + 512;
	uint64_t p = 1;
	while (p - 1 < n)
		p <<= 1;
	return (uint32_t)(p - 1);
}

/* ws_dpdk_clock_sync measures the port's clock against CLOCK_REALTIME: two
 * readings 20 ms apart give ticks per ns (rte_eth_read_clock's documented use). */
static int ws_dpdk_clock_sync(ws_dpdk_port_t *p)
{
	uint64_t t0, t1;
	if (rte_eth_read_clock(p->port, &t0) != 0)
		return -1;
	uint64_t n0 = ws_ring_now_ns();
	struct timespec d = {0, 20000000};
	nanosleep(&d, NULL);
	if (rte_eth_read_clock(p->port, &t1) != 0 || t1 <= t0)
		return -1;
	uint64_t n1 = ws_ring_now_ns();
	p->ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
	p->clk_ticks0 = t1;
	p->clk_ns0 = n1;
	return 0;
}

static int ws_dpdk_find(ws_dpdk_port_t *p, const char *devargs, char *err, size_t errlen)
{
	size_t nl = strcspn(devargs, ",");
	if (!nl || nl >= sizeof(p->name)) {
		snprintf(err, errlen, "device %.80s: expected a PCI address or a vdev string (net_af_xdp0,iface=...)",
		         devargs);
		return -EINVAL;
	}
	memcpy(p->name, devargs, nl);
	p->name[nl] = 0;
	if (rte_eth_dev_get_port_by_name(p->name, &p->port) == 0) {
		p->found = 1;
		return 0; /* probed at EAL init (-a PCI) */
	}
	int rc = rte_dev_probe(devargs);
	if (rc < 0) {
		ws_dpdk_err(err, errlen, "rte_dev_probe", rc);
		return rc;
	}
	p->attached = 1;
	if (rte_eth_dev_get_port_by_name(p->name, &p->port) != 0) {
		snprintf(err, errlen, "device %s was probed but is not an ethernet port", p->name);
		return -ENODEV;
	}
	p->found = 1;
	return 0;
}

static int ws_dpdk_start(ws_dpdk_port_t *p, const ws_dpdk_conf_t *c, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(p->port, &info);
	if (rc != 0) {
		ws_dpdk_err(err, errlen, "rte_eth_dev_info_get", rc);
		return rc;
	}
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name ? info.driver_name : "?");
	uint16_t q = c->queues ? c->queues : info.max_rx_queues;
	if (q > WS_DPDK_MAX_QUEUES)
		q = WS_DPDK_MAX_QUEUES;
	if (!q || q > info.max_rx_queues) {
		snprintf(err, errlen, "%s has %u receive queue(s); %u asked", p->name, info.max_rx_queues, q);
		return -EINVAL;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (q > 1 && info.flow_type_rss_offloads) { /* spread the feeds over the queues by flow */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
		p->rss = 1;
	}
	p->ts_offset = -1;
	if (c->timestamps == WS_DPDK_TS_AUTO && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) &&
	    rte_mbuf_dyn_rx_timestamp_register(&p->ts_offset, &p->ts_flag) == 0)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	else
		p->ts_offset = -1;
	uint16_t ntx = info.max_tx_queues ? 1 : 0;
	rc = rte_eth_dev_configure(p->port, q, ntx, &conf);
	if (rc != 0) {
		ws_dpdk_err(err, errlen, "rte_eth_dev_configure", rc);
		return rc;
	}
	uint16_t rxd = c->rxd, txd = 512;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port, &rxd, &txd);
	if (rc != 0) {
		ws_dpdk_err(err, errlen, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
		return rc;
	}
	p->nb_rxq = q;
	p->nb_rxd = rxd;
	p->burst = c->burst;
	p->pool_n = c->pool ? c->pool : ws_dpdk_pool_size(q, rxd, c->burst);
	char pname[RTE_MEMPOOL_NAMESIZE];
	static _Atomic unsigned pools;
	snprintf(pname, sizeof(pname), "ws_rx%u_%u", p->port, atomic_fetch_add(&pools, 1));
	int socket = rte_eth_dev_socket_id(p->port);
	p->pool = rte_pktmbuf_pool_create(pname, p->pool_n, WS_DPDK_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                  socket < 0 ? (int)SOCKET_ID_ANY : socket);
	if (!p->pool) {
		ws_dpdk_err(err, errlen, "rte_pktmbuf_pool_create", rte_errno);
		return -rte_errno;
	}
	for (uint16_t i = 0; i < q; i++) {
		rc = rte_eth_rx_queue_setup(p->port, i, rxd, (unsigned)rte_eth_dev_socket_id(p->port), NULL, p->pool);
		if (rc != 0) {
			ws_dpdk_err(err, errlen, "rte_eth_rx_queue_setup", rc);
			return rc;
		}
	}
	if (ntx) {
		rc = rte_eth_tx_queue_setup(p->port, 0, txd, (unsigned)rte_eth_dev_socket_id(p->port), NULL);
		if (rc != 0) {
			ws_dpdk_err(err, errlen, "rte_eth_tx_queue_setup", rc);
			return rc;
		}
		p->tx = 1;
	}
	rc = rte_eth_dev_start(p->port);
	if (rc != 0) {
		ws_dpdk_err(err, errlen, "rte_eth_dev_start", rc);
		return rc;
	}
	p->started = 1;
	/* Multicast must reach us on a NIC DPDK owns; a driver without an
	 * all-multicast mode gets promiscuous mode instead. */
	if (c->allmulti && !rte_eth_allmulticast_get(p->port)) {
		if (rte_eth_allmulticast_enable(p->port) == 0)
			p->allmulti_on = 1;
		else if (!rte_eth_promiscuous_get(p->port) && rte_eth_promiscuous_enable(p->port) == 0)
			p->promisc_on = 1;
	}
	struct rte_ether_addr mac;
	if (rte_eth_macaddr_get(p->port, &mac) == 0)
		memcpy(p->mac, mac.addr_bytes, 6);
	if (p->ts_offset >= 0 && ws_dpdk_clock_sync(p) != 0)
		p->ts_offset = -1; /* stamps we cannot convert are no stamps: dequeue time instead */
	return 0;
}

int ws_dpdk_open(ws_dpdk_port_t *p, const char *devargs, const ws_dpdk_conf_t *c, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->ts_offset = -1;
	if (!ws_dpdk_eal_ready()) {
		snprintf(err, errlen, "DPDK's EAL is not started");
		return -ENODEV;
	}
	if (!c->burst || c->burst > WS_DPDK_MAX_BURST || !c->rxd) {
		snprintf(err, errlen, "burst 1..%d and rxd > 0", WS_DPDK_MAX_BURST);
		return -EINVAL;
	}
	int rc = ws_dpdk_find(p, devargs, err, errlen);
	if (rc == 0)
		rc = ws_dpdk_start(p, c, err, errlen);
	if (rc != 0)
		ws_dpdk_close(p);
	return rc;
}

int ws_dpdk_port_stats(const ws_dpdk_port_t *p, ws_dpdk_port_stats_t *out)
{
	struct rte_eth_stats s;
	int rc = rte_eth_stats_get(p->port, &s);
	if (rc != 0)
		return rc;
	*out = (ws_dpdk_port_stats_t){s.ipackets, s.ibytes, s.imissed, s.ierrors, s.rx_nombuf};
	return 0;
}

void ws_dpdk_close(ws_dpdk_port_t *p)
{
	if (!p->found || !ws_dpdk_eal_ready())
		return; /* no port of ours: p->port may be another capture's */
	struct rte_eth_dev_info info;
	struct rte_device *dev = NULL;
	if (rte_eth_dev_is_valid_port(p->port) && rte_eth_dev_info_get(p->port, &info) == 0)
		dev = info.device;
	if (p->allmulti_on)
		rte_eth_allmulticast_disable(p->port);
	if (p->promisc_on)
		rte_eth_promiscuous_disable(p->port);
	if (p->started)
		rte_eth_dev_stop(p->port);
	if (dev) {
		rte_eth_dev_close(p->port); /* a net_af_xdp port takes its XDP program off the interface here */
		if (p->attached)
			rte_dev_remove(dev); /* frees the name, so this process can open it again */
	}
	if (p->pool)
		rte_mempool_free(p->pool);
	memset(p, 0, sizeof(*p));
	p->ts_offset = -1;
}

/* -- IGMP ------------------------------------------------------------------ */

void ws_dpdk_igmp_source(ws_dpdk_port_t *p, uint32_t src)
{
	p->igmp_src = src;
}

int ws_dpdk_igmp_join(ws_dpdk_port_t *p, uint32_t group)
{
	uint32_t n = atomic_load_explicit(&p->igmp_n, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (p->igmp_groups[i] == group)
			return 0;
	if (n >= WS_MAX_FLOWS)
		return -ENOSPC;
	p->igmp_groups[n] = group;
	atomic_store_explicit(&p->igmp_n, n + 1, memory_order_release);
	return 0;
}

void ws_dpdk_igmp_leave(ws_dpdk_port_t *p, uint32_t group)
{
	uint32_t n = atomic_load_explicit(&p->igmp_n, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (p->igmp_groups[i] == group)
			p->igmp_groups[i] = 0; /* the next report leaves it out; a router ages it out */
}

uint32_t ws_dpdk_igmp_frame(const ws_dpdk_port_t *p, uint8_t *f, uint32_t cap)
{
	uint32_t n = atomic_load_explicit(&p->igmp_n, memory_order_acquire), groups = 0;
	for (uint32_t i = 0; i < n; i++)
		groups += p->igmp_groups[i] != 0;
	uint32_t len = 14 + 24 + 8 + 8 * groups;
	if (cap < len || !groups)
		return 0;
	static const uint8_t dmac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x16}; /* 224.0.0.22 */
	memcpy(f, dmac, 6);
	memcpy(f + 6, p->mac, 6);
	f[12] = 0x08, f[13] = 0x00;
	uint8_t *ip = f + 14;
	uint16_t tot = (uint16_t)(len - 14);
	/* RFC 3376: TTL 1, TOS 0xc0, the Router Alert option (RFC 2113) */
	const uint8_t hdr[24] = {0x46, 0xc0, (uint8_t)(tot >> 8), (uint8_t)tot, 0, 0, 0x40, 0, 1, 2, 0, 0,
	                         0, 0, 0, 0, 224, 0, 0, 22, 0x94, 0x04, 0, 0};
	memcpy(ip, hdr, 24);
	memcpy(ip + 12, &p->igmp_src, 4);
	uint16_t cs = (uint16_t)~ws_csum_add(0, ip, 24);
	ip[10] = (uint8_t)(cs >> 8), ip[11] = (uint8_t)cs;
	uint8_t *g = ip + 24;
	memset(g, 0, 8);
	g[0] = 0x22; /* v3 membership report */
	g[6] = (uint8_t)(groups >> 8), g[7] = (uint8_t)groups;
	uint8_t *r = g + 8;
	for (uint32_t i = 0; i < n; i++) {
		if (!p->igmp_groups[i])
			continue;
		r[0] = 2; /* MODE_IS_EXCLUDE with no source: every sender */
		r[1] = 0, r[2] = 0, r[3] = 0;
		memcpy(r + 4, &p->igmp_groups[i], 4);
		r += 8;
	}
	cs = (uint16_t)~ws_csum_add(0, g, 8 + 8 * groups);
	g[2] = (uint8_t)(cs >> 8), g[3] = (uint8_t)cs;
	return len;
}

/* ws_dpdk_igmp_send puts one report on the transmit queue (loop thread). */
static void ws_dpdk_igmp_send(ws_dpdk_port_t *p, ws_dpdk_stats_t *st)
{
	if (!p->tx || !p->igmp_src)
		return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	uint32_t len = 0;
	if (m) {
		len = ws_dpdk_igmp_frame(p, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m));
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
	}
	if (!m || !len || rte_eth_tx_burst(p->port, 0, &m, 1) != 1) {
		if (m)
			rte_pktmbuf_free(m);
		if (len || !m)
			ws_dpdk_add(&st->igmp_send_failed, 1);
		return;
	}
	ws_dpdk_add(&st->igmp_reports, 1);
}

/* ws_dpdk_is_igmp_query: an IPv4 frame carrying an IGMP membership query. */
static int ws_dpdk_is_igmp_query(const uint8_t *f, uint32_t len)
{
	if (len < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4 || f[14 + 9] != 2)
		return 0;
	uint32_t ihl = (f[14] & 0x0fu) * 4u;
	return ihl >= 20 && len >= 14 + ihl + 8 && f[14 + ihl] == 0x11;
}

/* -- receive loop ---------------------------------------------------------- */

/* What one burst did, summed in registers and counted once per burst: the
 * ring's drop counters sit on a cache line its readers and the control
 * thread also touch, so a port full of foreign traffic must not hit it per frame. */
typedef struct {
	uint64_t published, bytes, filtered, malformed_skipped, too_big;
} ws_dpdk_burst_t;

/* ws_dpdk_take files one frame: into the ring, or counted where it went. */
#define WS_DPDK_PREFETCH 8

static inline void ws_dpdk_prefetch(struct rte_mbuf *m)
{
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	rte_prefetch0(data);
	rte_prefetch0(data + 64);
}

static void ws_dpdk_take(ws_dpdk_port_t *p, ws_ring_writer_t *w, const ws_flows_t *fl, int policy,
                         struct rte_mbuf *m, uint64_t now, ws_dpdk_stats_t *st, ws_dpdk_burst_t *b)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len;
	if (m->nb_segs != 1) { /* a frame larger than one mbuf: not a feed datagram */
		b->too_big++;
		return;
	}
	ws_udp4_view_t v;
	enum ws_frame_verdict vd = ws_frame_check(f, len, &v);
	int reason = -1;
	if (vd == WS_FRAME_NOT_IPV4)
		reason = WS_DPDK_NOT_IPV4; /* ARP, IPv6, LLDP: the port's other traffic */
	else if (vd == WS_FRAME_NOT_UDP)
		reason = WS_DPDK_NOT_UDP;
	uint16_t stream = 0;
	if (vd == WS_FRAME_OK || vd == WS_FRAME_FRAGMENT || vd == WS_FRAME_BAD_UDP_LEN) {
		stream = ws_flows_stream(fl, v.daddr, v.dport);
		if (!stream)
			reason = WS_DPDK_OTHER_FLOW; /* not a feed of ours, however it looks */
	}
	if (reason >= 0) {
		if (reason == WS_DPDK_NOT_UDP && p->igmp_src && ws_dpdk_is_igmp_query(f, len)) {
			ws_dpdk_add(&st->igmp_queries, 1);
			atomic_store_explicit(&p->igmp_pending, 1, memory_order_relaxed);
		}
		ws_dpdk_add(&st->filtered[reason], 1);
		b->filtered++;
		return;
	}
	uint16_t flags = WS_REC_DPDK;
	uint64_t ts = now;
	if (p->ts_offset >= 0 && (m->ol_flags & p->ts_flag)) {
		uint64_t ticks = *RTE_MBUF_DYNFIELD(m, p->ts_offset, rte_mbuf_timestamp_t *);
		ts = p->clk_ns0 + (uint64_t)((double)(int64_t)(ticks - p->clk_ticks0) * p->ns_per_tick);
		flags |= WS_REC_TS_NIC;
		ws_dpdk_add(&st->nic_stamps, 1);
	} else {
		flags |= WS_REC_TS_USER;
	}
	if (vd != WS_FRAME_OK) {
		ws_dpdk_add(&st->verdicts[vd], 1);
		ws_dpdk_add(&st->malformed, 1);
		if (policy == WS_DPDK_SKIP_MALFORMED) {
			b->malformed_skipped++;
			return;
		}
		flags |= WS_REC_MALFORMED;
	}
	ws_ring_publish(w, f, len, ts, stream, flags);
	b->published++;
	b->bytes += len;
}

static void ws_dpdk_count(ws_ring_writer_t *w, ws_dpdk_stats_t *st, const ws_dpdk_burst_t *b)
{
	ws_dpdk_add(&st->packets, b->published);
	ws_dpdk_add(&st->bytes, b->bytes);
	if (b->filtered)
		ws_ring_count_drop(w, WS_DROP_FILTERED, b->filtered);
	if (b->malformed_skipped)
		ws_ring_count_drop(w, WS_DROP_MALFORMED, b->malformed_skipped);
	if (b->too_big) {
		ws_dpdk_add(&st->too_big, b->too_big);
		ws_ring_count_drop(w, WS_DROP_TOO_BIG, b->too_big);
	}
}

int ws_dpdk_run(ws_dpdk_port_t *p, ws_ring_writer_t *w, const ws_flows_t *fl, int mode, int policy,
                _Atomic int *stop, ws_dpdk_stats_t *st)
{
	if (!p->started)
		return -ENODEV;
	/* An lcore id of its own: the mempool then recycles mbufs through this
	 * thread's cache instead of the shared ring's atomics. */
	int registered = rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() == 0;
	atomic_store(&st->lcore, rte_lcore_id() == LCORE_ID_ANY ? -1 : (int)rte_lcore_id());
	struct rte_mbuf *mb[WS_DPDK_MAX_BURST];
	uint64_t idle = 0, last_beat = ws_ring_now_ns();
	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		if (atomic_load_explicit(&p->igmp_pending, memory_order_relaxed)) {
			atomic_store_explicit(&p->igmp_pending, 0, memory_order_relaxed);
			ws_dpdk_igmp_send(p, st);
		}
		unsigned got = 0;
		for (uint16_t q = 0; q < p->nb_rxq; q++) {
			uint16_t n = rte_eth_rx_burst(p->port, q, mb, p->burst);
			if (!n)
				continue;
			uint64_t now = ws_ring_now_ns();
			ws_dpdk_burst_t b = {0};
			/* as rx_xsk.c does: the frames' first two lines a few packets ahead */
			for (uint16_t i = 0; i < n && i < WS_DPDK_PREFETCH; i++)
				ws_dpdk_prefetch(mb[i]);
			for (uint16_t i = 0; i < n; i++) {
				if (i + WS_DPDK_PREFETCH < n)
					ws_dpdk_prefetch(mb[i + WS_DPDK_PREFETCH]);
				ws_dpdk_take(p, w, fl, policy, mb[i], now, st, &b);
			}
			rte_pktmbuf_free_bulk(mb, n);
			ws_dpdk_count(w, st, &b);
			got += n;
		}
		ws_dpdk_add(&st->polls, 1);
		if (got) {
			idle = 0;
			continue;
		}
		ws_dpdk_add(&st->empty_polls, 1);
		++idle;
		if (mode == WS_DPDK_BUSY) {
			if (!(idle & 0xfffff))
				ws_ring_heartbeat(w, ws_ring_now_ns());
			continue;
		}
		if (idle >= WS_DPDK_IDLE_SPINS) {
			struct timespec d = {0, WS_DPDK_SLEEP_NS};
			nanosleep(&d, NULL);
			ws_dpdk_add(&st->sleeps, 1);
			uint64_t now = ws_ring_now_ns();
			if (now - last_beat > WS_DPDK_HEARTBEAT_NS) {
				ws_ring_heartbeat(w, now);
				last_beat = now;
			}
		}
	}
	if (registered)
		rte_thread_unregister();
	return 0;
}
