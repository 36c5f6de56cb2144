/* transports/xsk.h - AF_XDP sockets.
 *
 * What it is for: (1) answering, by really trying, whether an interface
 * queue takes an AF_XDP socket in zero-copy mode or only in copy mode
 * (ws_xsk_probe, for doctor); (2) the receive socket of the af_xdp
 * transport (ws_xsk_open): one socket and one UMEM per queue, the fill and
 * RX rings mapped into this process. The loop that drains them is rx_xsk.c.
 *
 * The rings are single-producer/single-consumer arrays shared with the
 * kernel. Fill: we produce frame addresses, the kernel consumes them. RX:
 * the kernel produces descriptors (addr, len), we consume them. Producer and
 * consumer indices are free-running u32s; an index is loaded with acquire
 * from the other side and stored with release by its owner.
 *
 * Ownership: a ws_xsk_t owns its socket, its UMEM (anonymous memory,
 * frame_cnt * frame_sz bytes) and its ring mappings; ws_xsk_close releases
 * them, socket first so the kernel drops its pin on the UMEM pages. Every
 * UMEM frame is always in exactly one place: the fill ring, the kernel, the
 * RX ring, or (briefly) the rx loop, which returns it to the fill ring in
 * the same batch. Both rings have frame_cnt entries, so returning a frame
 * always finds room.
 * ws_xsk_probe creates and destroys everything it uses; nothing outlives
 * the call, and nothing is attached to the interface (binding an XSK needs
 * no XDP program).
 *
 * Sending (ws_xsk_open_tx, used by tx_xsk.c): a TX ring we produce
 * descriptors into and a completion ring the kernel returns sent frames on.
 * Both (ws_xsk_open_rxtx, used by tcp_xsk.c): the UMEM split in halves.
 *
 * Threads: open/close/statistics from any thread (not concurrently with each
 * other); the rings from the one rx (or tx) thread only.
 */
#ifndef WS_XSK_H
#define WS_XSK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>

/* Steps of the probe, so that a failure names the syscall that refused. */
enum ws_xsk_step {
	WS_XSK_STEP_NONE = 0,
	WS_XSK_STEP_SOCKET,     /* socket(AF_XDP, SOCK_RAW) */
	WS_XSK_STEP_UMEM_MMAP,  /* mmap() of the probe UMEM */
	WS_XSK_STEP_UMEM_REG,   /* setsockopt(XDP_UMEM_REG) */
	WS_XSK_STEP_RINGS,      /* setsockopt(XDP_UMEM_FILL_RING/COMPLETION_RING/RX_RING) */
	WS_XSK_STEP_BIND,       /* bind(sockaddr_xdp) */
};

/* ws_xsk_step_name returns the syscall text for a step (static string). */
const char *ws_xsk_step_name(enum ws_xsk_step step);

/* ws_xsk_probe binds a throwaway AF_XDP socket to (ifindex, queue_id) with
 * bind_flags (XDP_COPY or XDP_ZEROCOPY, optionally XDP_USE_NEED_WAKEUP), then
 * tears it down. Returns 0 if the bind succeeded, else -errno with *failed
 * set to the step that refused: EOPNOTSUPP at BIND with XDP_ZEROCOPY means
 * the driver has no zero-copy support; EBUSY means another socket owns the
 * queue; EPERM at SOCKET means CAP_NET_RAW is missing; ENOBUFS/EPERM at
 * UMEM_REG means the memlock limit is too low without CAP_IPC_LOCK. */
int ws_xsk_probe(int ifindex, uint32_t queue_id, uint16_t bind_flags, enum ws_xsk_step *failed);

/* A ring shared with the kernel, as mapped; cached_* are private copies. */
typedef struct {
	_Atomic uint32_t *producer;
	_Atomic uint32_t *consumer;
	_Atomic uint32_t *flags; /* XDP_RING_NEED_WAKEUP lives here */
	void *ring;              /* u64 addresses (fill) or struct xdp_desc (rx) */
	uint32_t mask;
	uint32_t cached_prod, cached_cons;
	void *map;
	size_t map_sz;
} ws_xsk_ring_t;

/* Frames a socket sharing a UMEM (ws_xsk_open_shared) is done with, on
 * their way back to the owner's fill ring: the sharer produces (one thread
 * at a time), the owner's receive loop consumes (ws_xsk_take_returns).
 * frame_cnt entries: more frames than that never exist. */
typedef struct {
	uint64_t *addr;
	uint32_t mask;
	_Atomic uint32_t prod, cons;
} ws_xsk_returns_t;

typedef struct {
	int fd;
	int ifindex;
	uint32_t queue;
	uint8_t *umem;                /* the owner's, when umem_borrowed */
	size_t umem_sz;
	uint32_t frame_sz, frame_cnt;
	int zerocopy;    /* 1 if the kernel bound in zero-copy mode */
	int need_wakeup; /* 1 if bound with XDP_USE_NEED_WAKEUP */
	ws_xsk_ring_t fill, rx;
	ws_xsk_ring_t tx, comp; /* a sending socket's (ws_xsk_open_tx); unmapped otherwise */
	uint32_t reserved;       /* frames [frame_cnt - reserved, frame_cnt): never in the fill ring, a sharer's to send */
	ws_xsk_returns_t *ret;   /* with reserved: a sharer's frames coming back */
	int umem_borrowed;       /* a sharer's: the UMEM (and fill ring) are the owner's */
} ws_xsk_t;

/* ws_xsk_open creates the socket and UMEM of frame_cnt frames of frame_sz
 * bytes (both powers of two; frame_sz 2048 or 4096), sets up fill,
 * completion and RX rings of frame_cnt entries, maps fill and RX, binds to
 * (ifindex, queue) and gives every frame to the fill ring - but the last
 * `reserve`, kept for a socket that will share the queue (0: none; else
 * a returns ring is made too). zerocopy: 0 copy only, 1 zero-copy or else
 * copy, 2 zero-copy or fail. need_wakeup asks for XDP_USE_NEED_WAKEUP. On
 * failure returns -errno with *failed naming the step, and nothing is left
 * open. */
int ws_xsk_open(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz, int zerocopy,
                int need_wakeup, uint32_t reserve, enum ws_xsk_step *failed);

/* ws_xsk_open_shared: a second socket on the owner's queue and UMEM
 * (XDP_SHARED_UMEM; the owner opened with a reserve): RX and TX rings of
 * its own, the owner's fill ring (the kernel takes the frames it receives
 * into from there), the owner's completion ring (mapped here: the owner
 * never sends). Frames it received go back with ws_xsk_give_back; it
 * sends from the owner's reserved frames. The owner must outlive it. */
int ws_xsk_open_shared(ws_xsk_t *x, ws_xsk_t *owner, enum ws_xsk_step *failed);

/* ws_xsk_give_back: a sharer is done with a received frame (its chunk base). */
static inline void ws_xsk_give_back(ws_xsk_t *owner, uint64_t addr)
{
	ws_xsk_returns_t *r = owner->ret;
	uint32_t p = atomic_load_explicit(&r->prod, memory_order_relaxed);
	r->addr[p & r->mask] = addr;
	atomic_store_explicit(&r->prod, p + 1, memory_order_release);
}

/* ws_xsk_take_returns: the owner's receive loop moves what sharers gave
 * back into its fill ring. Returns how many. */
static inline uint32_t ws_xsk_take_returns(ws_xsk_t *x)
{
	ws_xsk_returns_t *r = x->ret;
	if (!r)
		return 0;
	uint32_t prod = atomic_load_explicit(&r->prod, memory_order_acquire);
	uint32_t cons = atomic_load_explicit(&r->cons, memory_order_relaxed), n = prod - cons;
	if (!n)
		return 0;
	uint64_t *fa = x->fill.ring;
	for (uint32_t i = 0; i < n; i++)
		fa[(x->fill.cached_prod + i) & x->fill.mask] = r->addr[(cons + i) & r->mask];
	x->fill.cached_prod += n;
	atomic_store_explicit(x->fill.producer, x->fill.cached_prod, memory_order_release);
	atomic_store_explicit(&r->cons, prod, memory_order_release);
	return n;
}

/* ws_xsk_open_tx: a sending socket on (ifindex, queue): a UMEM of
 * frame_cnt frames, all the sender's (none given to the kernel to receive
 * into), a TX ring and a completion ring of frame_cnt entries (and the
 * fill ring the kernel requires of a UMEM's owner, left empty). The TX
 * frames are the caller's to fill; a frame is the kernel's from the TX push
 * until it comes back on the completion ring. Same zerocopy, need_wakeup
 * and errors as ws_xsk_open. */
int ws_xsk_open_tx(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz, int zerocopy,
                   int need_wakeup, enum ws_xsk_step *failed);

/* ws_xsk_open_rxtx: both directions on one socket and UMEM (a TCP
 * connection's, transports/tcp_xsk.h): frames [0, frame_cnt/2) start in the
 * fill ring to receive into, [frame_cnt/2, frame_cnt) are the caller's to
 * send from. A received frame goes back to the fill ring; a sent one comes
 * back on the completion ring. Same arguments and errors as ws_xsk_open. */
int ws_xsk_open_rxtx(ws_xsk_t *x, int ifindex, uint32_t queue, uint32_t frame_cnt, uint32_t frame_sz, int zerocopy,
                     int need_wakeup, enum ws_xsk_step *failed);

/* ws_xsk_tx_push puts one built frame (addr, len) on the TX ring - the
 * caller has checked there is room - and kicks the kernel only when it
 * asks (XDP_RING_NEED_WAKEUP; a socket bound without need_wakeup always).
 * Returns 0 (no kick), 1 (kicked), or -1 (the kick failed other than
 * EAGAIN/EBUSY/ENOBUFS, which the next kick retries). Inline: it is every
 * send's path. */
static inline int ws_xsk_tx_push(ws_xsk_t *x, uint64_t addr, uint32_t len)
{
	ws_xsk_ring_t *tx = &x->tx;
	struct xdp_desc *d = &((struct xdp_desc *)tx->ring)[tx->cached_prod & tx->mask];
	d->addr = addr;
	d->len = len;
	d->options = 0;
	tx->cached_prod++;
	atomic_store_explicit(tx->producer, tx->cached_prod, memory_order_release);
	if (x->need_wakeup && !(atomic_load_explicit(tx->flags, memory_order_relaxed) & XDP_RING_NEED_WAKEUP))
		return 0;
	if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY && errno != ENOBUFS)
		return -1;
	return 1;
}

/* ws_xsk_tx_reap moves the frames the kernel has sent (the completion
 * ring) onto the caller's free stack (stack[*n..], *n advanced; the stack
 * has room for every send frame). Returns how many. */
uint32_t ws_xsk_tx_reap(ws_xsk_t *x, uint32_t *stack, uint32_t *n);

/* ws_xsk_close releases everything ws_xsk_open made; safe to call twice. */
void ws_xsk_close(ws_xsk_t *x);

/* The kernel's counters for the socket (getsockopt XDP_STATISTICS). */
typedef struct {
	uint64_t rx_dropped, rx_invalid_descs, rx_ring_full, rx_fill_ring_empty;
} ws_xsk_stats_t;
int ws_xsk_statistics(const ws_xsk_t *x, ws_xsk_stats_t *st);

#endif /* WS_XSK_H */
