/* transports/rx_xsk.c - see rx_xsk.h. */
#include "transports/rx_xsk.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/socket.h>

#include "transports/capture.h"

#define WS_RXX_BATCH 64
/* Frames the kernel copied in on another core (on veth, the sender's) are in
 * that core's cache: each costs a cross-core transfer or two. Asking for the
 * frame this many descriptors ahead overlaps them with the work on this one. */
#define WS_RXX_PREFETCH 8

static inline void ws_rxx_prefetch(const ws_xsk_t *x, const struct xdp_desc *desc)
{
	const uint8_t *frame = x->umem + desc->addr;
	__builtin_prefetch(frame);
	__builtin_prefetch(frame + 64);
}

static void ws_rxx_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

/* ws_rxx_drain takes up to one batch from x's RX ring into the ring and
 * returns the frames to the fill ring. Returns the number taken. */
static unsigned ws_rxx_drain(ws_ring_writer_t *w, ws_xsk_t *x, const ws_flows_t *fl, int policy,
                             ws_rxx_stats_t *st)
{
	ws_xsk_ring_t *rx = &x->rx, *fr = &x->fill;
	uint32_t avail = rx->cached_prod - rx->cached_cons;
	if (!avail) {
		rx->cached_prod = atomic_load_explicit(rx->producer, memory_order_acquire);
		avail = rx->cached_prod - rx->cached_cons;
		if (!avail)
			return 0;
	}
	unsigned n = avail < WS_RXX_BATCH ? avail : WS_RXX_BATCH;
	uint64_t now = ws_ring_now_ns(); /* one clock read per batch: the dequeue time */
	const struct xdp_desc *d = rx->ring;
	uint64_t *fa = fr->ring;
	uint64_t published = 0, bytes = 0, bad = 0, unknown = 0;
	for (unsigned i = 0; i < n && i < WS_RXX_PREFETCH; i++)
		ws_rxx_prefetch(x, &d[(rx->cached_cons + i) & rx->mask]);
	for (unsigned i = 0; i < n; i++) {
		if (i + WS_RXX_PREFETCH < n)
			ws_rxx_prefetch(x, &d[(rx->cached_cons + i + WS_RXX_PREFETCH) & rx->mask]);
		const struct xdp_desc *desc = &d[(rx->cached_cons + i) & rx->mask];
		const uint8_t *frame = x->umem + desc->addr;
		ws_udp4_view_t v;
		enum ws_frame_verdict vd = ws_frame_check(frame, desc->len, &v);
		uint16_t stream = ws_flows_stream(fl, v.daddr, v.dport);
		uint16_t flags = WS_REC_AF_XDP | WS_REC_TS_USER;
		if (vd == WS_FRAME_OK && !stream) {
			unknown++; /* a flow removed while its frames were in flight */
			vd = WS_FRAME_VERDICTS;
		}
		if (vd != WS_FRAME_OK) {
			bad++;
			if (vd < WS_FRAME_VERDICTS)
				ws_rxx_add(&st->verdicts[vd], 1);
			if (policy == WS_RXX_SKIP_MALFORMED) {
				ws_ring_count_drop(w, WS_DROP_MALFORMED, 1);
				goto give_back;
			}
			flags |= WS_REC_MALFORMED;
		}
		ws_ring_publish(w, frame, desc->len, now, stream, flags);
		published++;
		bytes += desc->len;
	give_back:
		/* aligned mode: the chunk's base address; the kernel adds headroom */
		fa[(fr->cached_prod + i) & fr->mask] = desc->addr & ~(uint64_t)(x->frame_sz - 1);
	}
	rx->cached_cons += n;
	atomic_store_explicit(rx->consumer, rx->cached_cons, memory_order_release);
	fr->cached_prod += n;
	atomic_store_explicit(fr->producer, fr->cached_prod, memory_order_release);
	ws_rxx_add(&st->packets, published); /* what went into the ring, kept malformed frames included */
	ws_rxx_add(&st->bytes, bytes);
	if (bad)
		ws_rxx_add(&st->malformed, bad);
	if (unknown)
		ws_rxx_add(&st->unknown_flow, unknown);
	return n;
}

/* ws_rxx_kick wakes the driver when it asked (need_wakeup); the one syscall
 * the busy loop may make, and only when the kernel has run dry of frames. */
static void ws_rxx_kick(ws_xsk_t *x, ws_rxx_stats_t *st)
{
	if (x->need_wakeup && (atomic_load_explicit(x->fill.flags, memory_order_relaxed) & XDP_RING_NEED_WAKEUP)) {
		recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		ws_rxx_add(&st->wakeups, 1);
	}
}

int ws_rx_xsk_run(ws_ring_writer_t *w, ws_xsk_t *socks, unsigned n, const ws_flows_t *flows, int mode,
                  int policy, _Atomic int *stop, ws_rxx_stats_t *st)
{
	if (!n || n > WS_RXX_MAX_SOCKS)
		return -EINVAL;
	struct pollfd pfd[WS_RXX_MAX_SOCKS];
	for (unsigned i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = socks[i].fd, .events = POLLIN};
	uint64_t idle = 0;
	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		unsigned got = 0;
		for (unsigned i = 0; i < n; i++) {
			ws_xsk_take_returns(&socks[i]); /* frames a sharing socket (the order session's TCP) is done with */
			unsigned k = ws_rxx_drain(w, &socks[i], flows, policy, st);
			if (!k)
				ws_rxx_kick(&socks[i], st);
			got += k;
		}
		ws_rxx_add(&st->polls, 1);
		if (got) {
			idle = 0;
			continue;
		}
		ws_rxx_add(&st->empty_polls, 1);
		if (mode == WS_RXX_BUSY) {
			if (!(++idle & 0xfffff))
				ws_ring_heartbeat(w, ws_ring_now_ns());
			continue;
		}
		ws_rxx_add(&st->sleeps, 1);
		int r = poll(pfd, n, 100);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0)
			ws_ring_heartbeat(w, ws_ring_now_ns());
	}
	return 0;
}
