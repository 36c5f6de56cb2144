/* transports/xsk.c - see xsk.h for the contract. */
#include "transports/xsk.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/* Smallest UMEM the kernel accepts that still looks like a real one: 16
 * frames of 2 KiB, rings of 16 entries. */
#define WS_PROBE_FRAME_SZ 2048u
#define WS_PROBE_FRAME_CNT 16u

const char *ws_xsk_step_name(enum ws_xsk_step step)
{
	switch (step) {
	case WS_XSK_STEP_SOCKET: return "socket(AF_XDP, SOCK_RAW)";
	case WS_XSK_STEP_UMEM_MMAP: return "mmap(UMEM)";
	case WS_XSK_STEP_UMEM_REG: return "setsockopt(SOL_XDP, XDP_UMEM_REG)";
	case WS_XSK_STEP_RINGS: return "setsockopt(SOL_XDP, XDP_*_RING)";
	case WS_XSK_STEP_BIND: return "bind(AF_XDP)";
	default: return "none";
	}
}

static int ws_xsk_set_ring(int fd, int opt, int entries)
{
	return setsockopt(fd, SOL_XDP, opt, &entries, sizeof(entries)) ? -errno : 0;
}

int ws_xsk_probe(int ifindex, uint32_t queue_id, uint16_t bind_flags, enum ws_xsk_step *failed)
{
	size_t umem_sz = (size_t)WS_PROBE_FRAME_SZ * WS_PROBE_FRAME_CNT;
	void *umem = MAP_FAILED;
	int rc = 0;
	*failed = WS_XSK_STEP_NONE;

	int fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*failed = WS_XSK_STEP_SOCKET;
		return -errno;
	}
	umem = mmap(NULL, umem_sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (umem == MAP_FAILED) {
		rc = -errno;
		*failed = WS_XSK_STEP_UMEM_MMAP;
		goto fail;
	}
	struct xdp_umem_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)umem;
	reg.len = umem_sz;
	reg.chunk_size = WS_PROBE_FRAME_SZ;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) {
		rc = -errno;
		*failed = WS_XSK_STEP_UMEM_REG;
		goto fail;
	}
	if ((rc = ws_xsk_set_ring(fd, XDP_UMEM_FILL_RING, WS_PROBE_FRAME_CNT)) ||
	    (rc = ws_xsk_set_ring(fd, XDP_UMEM_COMPLETION_RING, WS_PROBE_FRAME_CNT)) ||
	    (rc = ws_xsk_set_ring(fd, XDP_RX_RING, WS_PROBE_FRAME_CNT))) {
		*failed = WS_XSK_STEP_RINGS;
		goto fail;
	}
	struct sockaddr_xdp sxdp;
	memset(&sxdp, 0, sizeof(sxdp));
	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_ifindex = (uint32_t)ifindex;
	sxdp.sxdp_queue_id = queue_id;
	sxdp.sxdp_flags = bind_flags;
	if (bind(fd, (struct sockaddr *)&sxdp, sizeof(sxdp))) {
		rc = -errno;
		*failed = WS_XSK_STEP_BIND;
		goto fail;
	}
fail:
	/* One exit, safe on a half-built probe: close the socket before the
	 * UMEM goes, so the kernel drops its pin on the pages first. */
	close(fd);
	if (umem != MAP_FAILED)
		munmap(umem, umem_sz);
	return rc;
}

/* ws_xsk_map_ring maps one ring at pgoff; desc_sz is the entry size. */
static int ws_xsk_map_ring(int fd, const struct xdp_ring_offset *off, uint32_t entries, size_t desc_sz,
                           off_t pgoff, ws_xsk_ring_t *r)
{
	r->map_sz = off->desc + entries * desc_sz;
	r->map = mmap(NULL, r->map_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return -errno;
	}
	uint8_t *base = r->map;
	r->producer = (_Atomic uint32_t *)(base + off->producer);
	r->consumer = (_Atomic uint32_t *)(base + off->consumer);
	r->flags = (_Atomic uint32_t *)(base + off->flags);
	r->ring = base + off->desc;
	r->mask = entries - 1;
	r->cached_prod = atomic_load_explicit(r->producer, memory_order_relaxed);
	r->cached_cons = atomic_load_explicit(r->consumer, memory_order_relaxed);
	return 0;
}

/* ws_xsk_bind binds, waiting out a queue that is still being released: the
 * kernel frees a closed socket's hold on its queue in a deferred work item
 * (and an XSKMAP entry keeps the socket alive until the map is freed, after
 * an RCU grace period), so a capture restarted at once may see EBUSY for a
 * few milliseconds. A queue still busy after 2 s is really taken. */
static int ws_xsk_bind(ws_xsk_t *x, uint16_t flags, int shared_umem_fd)
{
	struct sockaddr_xdp sxdp;
	memset(&sxdp, 0, sizeof(sxdp));
	sxdp.sxdp_family = AF_XDP;
	sxdp.sxdp_ifindex = (uint32_t)x->ifindex;
	sxdp.sxdp_queue_id = x->queue;
	sxdp.sxdp_flags = flags;
	sxdp.sxdp_shared_umem_fd = (uint32_t)shared_umem_fd; /* read only with XDP_SHARED_UMEM */
	for (int tries = 0;; tries++) {
		if (!bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)))
			return 0;
		if (errno != EBUSY || tries >= 200)
			return -errno;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void ws_xsk_close(ws_xsk_t *x)
{
	ws_xsk_ring_t *rings[] = {&x->fill, &x->rx, &x->tx, &x->comp};
	for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		if (rings[i]->map)
			munmap(rings[i]->map, rings[i]->map_sz);
		rings[i]->map = NULL;
	}
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	if (x->umem && !x->umem_borrowed)
		munmap(x->umem, x->umem_sz);
	x->umem = NULL;
	if (x->ret) {
		free(x->ret->addr);
		free(x->ret);
		x->ret = NULL;
	}
}

/* ws_xsk_umem: the socket and its registered UMEM of frame_cnt frames. */
static int ws_xsk_umem(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz,
                       enum ws_xsk_step *failed)
{
	memset(x, 0, sizeof(*x));
	x->fd = -1;
	*failed = WS_XSK_STEP_NONE;
	if (!frame_cnt || (frame_cnt & (frame_cnt - 1)) || (frame_sz != 2048 && frame_sz != 4096))
		return -EINVAL;
	x->ifindex = ifindex;
	x->queue = queue;
	x->frame_cnt = frame_cnt;
	x->frame_sz = frame_sz;
	x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		*failed = WS_XSK_STEP_SOCKET;
		return -errno;
	}
	x->umem_sz = (size_t)frame_cnt * frame_sz;
	x->umem = mmap(NULL, x->umem_sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x->umem == MAP_FAILED) {
		x->umem = NULL;
		*failed = WS_XSK_STEP_UMEM_MMAP;
		return -errno;
	}
	struct xdp_umem_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)x->umem;
	reg.len = x->umem_sz;
	reg.chunk_size = frame_sz;
	if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) {
		*failed = WS_XSK_STEP_UMEM_REG;
		return -errno;
	}
	return 0;
}

/* ws_xsk_bind_mode binds zero-copy or copy as asked, and learns which. */
static int ws_xsk_bind_mode(ws_xsk_t *x, int zerocopy, int need_wakeup, enum ws_xsk_step *failed)
{
	*failed = WS_XSK_STEP_BIND;
	uint16_t wake = need_wakeup ? XDP_USE_NEED_WAKEUP : 0;
	int rc = zerocopy ? ws_xsk_bind(x, XDP_ZEROCOPY | wake, 0) : -EOPNOTSUPP;
	if (rc && zerocopy != 2)
		rc = ws_xsk_bind(x, XDP_COPY | wake, 0);
	if (rc)
		return rc;
	struct xdp_options opts;
	socklen_t optlen = sizeof(opts);
	if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0)
		x->zerocopy = !!(opts.flags & XDP_OPTIONS_ZEROCOPY);
	x->need_wakeup = !!need_wakeup;
	*failed = WS_XSK_STEP_NONE;
	return 0;
}

/* ws_xsk_setup: the socket, its UMEM, the fill and completion rings (the
 * kernel requires both of a UMEM's owner) and the rings of the directions
 * asked for (WS_XSK_RX, WS_XSK_TX) - RX mapped with fill, TX with
 * completion - then the bind. */
enum { WS_XSK_RX = 1, WS_XSK_TX = 2 };
static int ws_xsk_setup(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz, int zerocopy,
                        int need_wakeup, int dirs, enum ws_xsk_step *failed)
{
	int rc = ws_xsk_umem(x, ifindex, queue, frame_cnt, frame_sz, failed);
	if (rc)
		return rc;
	*failed = WS_XSK_STEP_RINGS;
	if ((rc = ws_xsk_set_ring(x->fd, XDP_UMEM_FILL_RING, (int)frame_cnt)) ||
	    (rc = ws_xsk_set_ring(x->fd, XDP_UMEM_COMPLETION_RING, (int)frame_cnt)) ||
	    ((dirs & WS_XSK_TX) && (rc = ws_xsk_set_ring(x->fd, XDP_TX_RING, (int)frame_cnt))) ||
	    ((dirs & WS_XSK_RX) && (rc = ws_xsk_set_ring(x->fd, XDP_RX_RING, (int)frame_cnt))))
		return rc;
	struct xdp_mmap_offsets off;
	socklen_t optlen = sizeof(off);
	if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &optlen))
		return -errno;
	if (dirs & WS_XSK_TX) {
		if ((rc = ws_xsk_map_ring(x->fd, &off.tx, frame_cnt, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING, &x->tx)) ||
		    (rc = ws_xsk_map_ring(x->fd, &off.cr, frame_cnt, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING,
		                          &x->comp)))
			return rc;
	}
	if (dirs & WS_XSK_RX) {
		if ((rc = ws_xsk_map_ring(x->fd, &off.rx, frame_cnt, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING, &x->rx)) ||
		    (rc = ws_xsk_map_ring(x->fd, &off.fr, frame_cnt, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING, &x->fill)))
			return rc;
	}
	return ws_xsk_bind_mode(x, zerocopy, need_wakeup, failed);
}

/* ws_xsk_fill gives frames [first, first + n) to the fill ring. */
static void ws_xsk_fill(ws_xsk_t *x, uint32_t first, uint32_t n)
{
	uint64_t *fr = x->fill.ring;
	for (uint32_t i = 0; i < n; i++)
		fr[(x->fill.cached_prod + i) & x->fill.mask] = (uint64_t)(first + i) * x->frame_sz;
	x->fill.cached_prod += n;
	atomic_store_explicit(x->fill.producer, x->fill.cached_prod, memory_order_release);
}

int ws_xsk_open(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz, int zerocopy,
                int need_wakeup, uint32_t reserve, enum ws_xsk_step *failed)
{
	if (reserve >= frame_cnt / 2) {
		*failed = WS_XSK_STEP_NONE;
		return -EINVAL;
	}
	int rc = ws_xsk_setup(x, ifindex, queue, frame_cnt, frame_sz, zerocopy, need_wakeup, WS_XSK_RX, failed);
	if (!rc && reserve) {
		x->ret = calloc(1, sizeof(*x->ret));
		if (!x->ret || !(x->ret->addr = malloc(frame_cnt * sizeof(uint64_t))))
			rc = -ENOMEM;
		else
			x->ret->mask = frame_cnt - 1;
	}
	if (rc) {
		ws_xsk_close(x);
		return rc;
	}
	/* Every frame but a sharer's starts in the fill ring: nothing is held
	 * back, so a burst can use the whole UMEM before the kernel has to drop. */
	x->reserved = reserve;
	ws_xsk_fill(x, 0, frame_cnt - reserve);
	return 0;
}

int ws_xsk_open_shared(ws_xsk_t *x, ws_xsk_t *owner, enum ws_xsk_step *failed)
{
	memset(x, 0, sizeof(*x));
	x->fd = -1;
	*failed = WS_XSK_STEP_NONE;
	if (!owner->ret || !owner->reserved)
		return -EINVAL; /* the owner kept nothing to send from */
	x->ifindex = owner->ifindex;
	x->queue = owner->queue;
	x->umem = owner->umem;
	x->umem_sz = owner->umem_sz;
	x->frame_cnt = owner->frame_cnt;
	x->frame_sz = owner->frame_sz;
	x->umem_borrowed = 1;
	x->zerocopy = owner->zerocopy;
	x->need_wakeup = owner->need_wakeup;
	*failed = WS_XSK_STEP_SOCKET;
	x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		x->fd = -1;
		return -errno;
	}
	*failed = WS_XSK_STEP_RINGS;
	struct xdp_mmap_offsets off, own;
	socklen_t ol = sizeof(off), owl = sizeof(own);
	int rc;
	if ((rc = ws_xsk_set_ring(x->fd, XDP_RX_RING, (int)x->frame_cnt)) ||
	    (rc = ws_xsk_set_ring(x->fd, XDP_TX_RING, (int)x->frame_cnt)))
		goto fail;
	if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) ||
	    getsockopt(owner->fd, SOL_XDP, XDP_MMAP_OFFSETS, &own, &owl)) {
		rc = -errno;
		goto fail;
	}
	if ((rc = ws_xsk_map_ring(x->fd, &off.rx, x->frame_cnt, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING, &x->rx)) ||
	    (rc = ws_xsk_map_ring(x->fd, &off.tx, x->frame_cnt, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING, &x->tx)) ||
	    (rc = ws_xsk_map_ring(owner->fd, &own.cr, x->frame_cnt, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING,
	                          &x->comp)))
		goto fail;
	*failed = WS_XSK_STEP_BIND;
	/* the kernel takes no other flag with XDP_SHARED_UMEM: the owner's mode holds */
	if ((rc = ws_xsk_bind(x, XDP_SHARED_UMEM, owner->fd)))
		goto fail;
	*failed = WS_XSK_STEP_NONE;
	return 0;
fail:
	ws_xsk_close(x);
	return rc;
}

int ws_xsk_open_rxtx(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz, int zerocopy,
                     int need_wakeup, enum ws_xsk_step *failed)
{
	int rc = ws_xsk_setup(x, ifindex, queue, frame_cnt, frame_sz, zerocopy, need_wakeup, WS_XSK_RX | WS_XSK_TX,
	                      failed);
	if (rc) {
		ws_xsk_close(x);
		return rc;
	}
	ws_xsk_fill(x, 0, frame_cnt / 2);
	return 0;
}

int ws_xsk_open_tx(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz, int zerocopy,
                   int need_wakeup, enum ws_xsk_step *failed)
{
	int rc = ws_xsk_setup(x, ifindex, queue, frame_cnt, frame_sz, zerocopy, need_wakeup, WS_XSK_TX, failed);
	if (rc)
		ws_xsk_close(x);
	return rc;
}

int ws_xsk_statistics(const ws_xsk_t *x, ws_xsk_stats_t *st)
{
	struct xdp_statistics s;
	memset(&s, 0, sizeof(s));
	socklen_t len = sizeof(s);
	if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &s, &len))
		return -errno;
	st->rx_dropped = s.rx_dropped;
	st->rx_invalid_descs = s.rx_invalid_descs;
	st->rx_ring_full = s.rx_ring_full;
	st->rx_fill_ring_empty = s.rx_fill_ring_empty_descs;
	return 0;
}

uint32_t ws_xsk_tx_reap(ws_xsk_t *x, uint32_t *stack, uint32_t *n)
{
	ws_xsk_ring_t *cq = &x->comp;
	uint32_t prod = atomic_load_explicit(cq->producer, memory_order_acquire), k = prod - cq->cached_cons;
	const uint64_t *addrs = cq->ring;
	for (; cq->cached_cons != prod; cq->cached_cons++)
		stack[(*n)++] = (uint32_t)addrs[cq->cached_cons & cq->mask];
	atomic_store_explicit(cq->consumer, cq->cached_cons, memory_order_release);
	return k;
}
