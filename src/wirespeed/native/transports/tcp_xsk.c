/* transports/tcp_xsk.c - one TCP client connection over AF_XDP; see tcp_xsk.h. */
#include "transports/tcp_xsk.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/endian.h"
#include "net/frame.h"
#include "xdp/bpf.h"

#define WS_TCP_HDR 54u                 /* Ethernet 14 + IPv4 20 + TCP 20 */
#define WS_TCP_SBUF (1u << 16)         /* send buffer: bytes not yet acknowledged */
#define WS_TCP_RBUF (1u << 18)         /* receive buffer: bytes not yet read */
#define WS_TCP_RCV_WSCALE 3            /* 2^18 >> 3 fits the 16-bit window */
#define WS_TCP_RTO_MIN_NS 200000000ull /* Linux's floor (RFC 6298 says 1 s) */
#define WS_TCP_RTO_MAX_NS 60000000000ull
#define WS_TCP_RTO_INIT_NS 1000000000ull
#define WS_TCP_FRAME 2048u
#define WS_TCP_OOO_MAX 4               /* ranges held past a hole: as many as one ACK's SACK option reports */

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

const char *const ws_tcp_state_names[WS_TCP_STATES] = {
	"closed", "syn_sent", "established", "fin_wait_1", "fin_wait_2", "closing", "time_wait", "close_wait", "last_ack"};
const char *const ws_tcp_end_names[WS_TCP_ENDS] = {"", "closed", "reset", "refused", "timeout", "aborted"};

struct ws_tcp_xsk {
	ws_tcp_xsk_cfg_t cfg;
	ws_xsk_t x;
	uint32_t *free;            /* send frames not in the kernel's hands (a stack of UMEM offsets) */
	uint32_t n_free;
	uint32_t tx_first, tx_end; /* the send frames: [tx_first, tx_end) (the rest receive) */
	ws_xsk_t *owner;           /* sharing a capture's socket's UMEM: its owner (received frames go back to it) */
	uint8_t hdr[WS_TCP_HDR];   /* the connection's headers: lengths, numbers, flags, window, checksums zero */
	uint32_t ip_base;          /* ones'-complement sum of the IPv4 header without its length */
	uint32_t tcp_base;         /* ... of the pseudo header's addresses and protocol, and the ports */
	int reserve_fd;            /* the kernel socket holding our local port */
	uint16_t sport;            /* network order; 0: no connection */
	int steered;               /* the steering map holds our entry */
	uint8_t state, end;
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_end, snd_wnd, snd_wl1, snd_wl2; /* snd_end: after the user's last byte */
	uint32_t rcv_nxt, rcv_adv; /* rcv_adv: the window we last announced (bytes) */
	uint32_t rcv_edge;         /* the right edge announced: rcv_nxt + window, never moved left */
	uint32_t mss, cwnd, ssthresh, recover;
	uint8_t snd_wscale, rcv_wscale, in_recovery, fin_queued, peer_fin, syn_retx;
	uint32_t dupacks;
	uint32_t fin_seq;          /* our FIN's sequence number, once queued */
	uint64_t rto_ns, srtt_ns, rttvar_ns;
	uint64_t rto_at;           /* retransmission (or zero-window probe) deadline; 0: none */
	uint32_t backoff;          /* expiries in a row */
	uint32_t rtt_seq;          /* the segment being timed ends here (0 with !rtt_on) */
	uint64_t rtt_ts;
	int rtt_on;
	uint8_t *sbuf;             /* byte with sequence number q at sbuf[q % WS_TCP_SBUF] */
	uint8_t *rbuf;
	uint32_t rhead, rlen;      /* unread bytes: rbuf[rhead .. rhead + rlen) mod WS_TCP_RBUF */
	uint32_t rng;              /* xorshift state for rx_drop_ppm */
	struct { uint32_t start, end; } ooo[WS_TCP_OOO_MAX]; /* held past a hole: sorted, apart, all past rcv_nxt */
	uint32_t n_ooo, ooo_last;  /* ooo_last: the range the latest segment went to (the first SACK block) */
	uint8_t sack_ok;           /* the peer said SACK-permitted */
	/* fault injection (cfg's *_reorder_ppm, for tests): one frame each way held back until after the next */
	uint64_t polls;
	uint8_t *rx_held;
	uint32_t rx_held_len, tx_held_addr, tx_held_len;
	uint64_t rx_held_poll, tx_held_poll;
	ws_tcp_xsk_stats_t st;
};

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)
#define SEQ_GE(a, b) ((int32_t)((a) - (b)) >= 0)

static inline uint16_t ws_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline uint32_t ws_min(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* -- open / close -------------------------------------------------------------------------------- */

ws_tcp_xsk_t *ws_tcp_xsk_open(const ws_tcp_xsk_cfg_t *cfg, int *err, enum ws_xsk_step *failed)
{
	*failed = WS_XSK_STEP_NONE;
	uint32_t frames = cfg->frames ? cfg->frames : 512;
	if (frames < 16 || (frames & (frames - 1))) {
		*err = -EINVAL;
		return NULL;
	}
	ws_tcp_xsk_t *t = calloc(1, sizeof(*t));
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	t->cfg = *cfg;
	t->cfg.frames = frames;
	t->reserve_fd = -1;
	t->x.fd = -1;
	t->sbuf = malloc(WS_TCP_SBUF);
	t->rbuf = malloc(WS_TCP_RBUF);
	t->rx_held = cfg->rx_reorder_ppm ? malloc(4096) : NULL;
	if (!t->sbuf || !t->rbuf || (cfg->rx_reorder_ppm && !t->rx_held)) {
		*err = -ENOMEM;
		ws_tcp_xsk_delete(t);
		return NULL;
	}
	if (cfg->share) { /* a capture's queue: its UMEM, its reserved frames to send from */
		t->owner = cfg->share;
		*err = ws_xsk_open_shared(&t->x, cfg->share, failed);
		t->tx_first = cfg->share->frame_cnt - cfg->share->reserved;
		t->tx_end = cfg->share->frame_cnt;
	} else {
		*err = ws_xsk_open_rxtx(&t->x, cfg->ifindex, cfg->queue, frames, WS_TCP_FRAME, cfg->zerocopy, 1, failed);
		t->tx_first = frames / 2;
		t->tx_end = frames;
	}
	if (*err) {
		t->x.fd = -1;
		ws_tcp_xsk_delete(t);
		return NULL;
	}
	t->free = malloc((t->tx_end - t->tx_first) * sizeof(*t->free));
	if (!t->free) {
		*err = -ENOMEM;
		ws_tcp_xsk_delete(t);
		return NULL;
	}
	for (uint32_t i = t->tx_first; i < t->tx_end; i++)
		t->free[t->n_free++] = i * t->x.frame_sz;
	if (cfg->xsks_map_fd >= 0) {
		int fd = t->x.fd;
		if ((*err = ws_bpf_map_update(cfg->xsks_map_fd, &cfg->xsk_index, &fd, 0))) {
			ws_tcp_xsk_delete(t);
			return NULL;
		}
	}
	uint32_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint32_t)(uintptr_t)t;
	t->rng = seed | 1;
	t->st.rto_ms = (uint32_t)(WS_TCP_RTO_INIT_NS / 1000000);
	*err = 0;
	return t;
}

void ws_tcp_xsk_release(ws_tcp_xsk_t *t)
{
	if (t->steered && t->cfg.tcp_map_fd >= 0) {
		uint8_t key[12];
		memcpy(key, &t->cfg.daddr, 4);
		memcpy(key + 4, &t->cfg.saddr, 4);
		memcpy(key + 8, &t->cfg.dport, 2);
		memcpy(key + 10, &t->sport, 2);
		ws_bpf_map_delete(t->cfg.tcp_map_fd, key); /* gone already is fine */
	}
	t->steered = 0;
	if (t->tx_held_len) /* a frame fault injection held back: the connection it belonged to is gone */
		t->free[t->n_free++] = t->tx_held_addr;
	t->tx_held_len = t->rx_held_len = 0;
	if (t->reserve_fd >= 0)
		close(t->reserve_fd);
	t->reserve_fd = -1;
	t->sport = 0;
	t->state = WS_TCP_CLOSED;
	t->rto_at = 0;
}

void ws_tcp_xsk_delete(ws_tcp_xsk_t *t)
{
	if (!t)
		return;
	ws_tcp_xsk_release(t);
	if (t->x.fd >= 0)
		ws_xsk_close(&t->x);
	free(t->sbuf);
	free(t->rbuf);
	free(t->free);
	free(t->rx_held);
	free(t);
}

/* -- sending a segment --------------------------------------------------------------------------- */

static void ws_tcp_reap(ws_tcp_xsk_t *t) { ws_xsk_tx_reap(&t->x, t->free, &t->n_free); }

static uint32_t ws_tcp_rcv_wnd(const ws_tcp_xsk_t *t) { return WS_TCP_RBUF - t->rlen; }

/* ws_tcp_window: the window to announce. The right edge moves only by a
 * segment or more (RFC 9293 3.8.6.2.2, the receiver's side of silly
 * window avoidance), so ACKs sent while a hole waits carry the same window
 * - the peer counts them as duplicates only then, and retransmits fast -
 * and never left (a window is not taken back). */
static uint32_t ws_tcp_window(ws_tcp_xsk_t *t)
{
	uint32_t cand = t->rcv_nxt + ws_tcp_rcv_wnd(t);
	if (SEQ_LT(t->rcv_edge, t->rcv_nxt) || (SEQ_GT(cand, t->rcv_edge) && cand - t->rcv_edge >= t->mss))
		t->rcv_edge = cand;
	return t->rcv_edge - t->rcv_nxt;
}

/* ws_tcp_chance: true with probability ppm / 10^6 (fault injection). */
static int ws_tcp_chance(ws_tcp_xsk_t *t, uint32_t ppm)
{
	if (!ppm)
		return 0;
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 17;
	t->rng ^= t->rng << 5;
	return t->rng % 1000000u < ppm;
}

/* ws_tcp_push: a built frame onto the TX ring, and the kick if the kernel wants one. */
static void ws_tcp_push(ws_tcp_xsk_t *t, uint32_t addr, uint32_t len)
{
	int k = ws_xsk_tx_push(&t->x, addr, len);
	t->st.kicks += k != 0;
	t->st.kick_errors += k < 0;
}

/* ws_tcp_emit: one segment at seq with flags, dlen bytes of the send
 * buffer from seq (and opt for a SYN). 0, or -ENOBUFS (no frame, or the TX
 * ring full: counted; the caller's timer tries again). */
static int ws_tcp_emit(ws_tcp_xsk_t *t, uint32_t seq, uint8_t flags, uint32_t dlen, const uint8_t *opt, uint32_t optlen)
{
	ws_xsk_ring_t *tx = &t->x.tx;
	if (!t->n_free)
		ws_tcp_reap(t);
	uint32_t cons = atomic_load_explicit(tx->consumer, memory_order_acquire);
	if (!t->n_free || tx->cached_prod - cons > tx->mask) {
		t->st.no_frame++;
		return -ENOBUFS;
	}
	uint32_t addr = t->free[--t->n_free];
	uint8_t *f = t->x.umem + addr, *ip = f + 14, *tcp = ip + 20, *data = tcp + 20 + optlen;
	if (optlen)
		memcpy(tcp + 20, opt, optlen);
	uint32_t at = seq % WS_TCP_SBUF, first = ws_min(dlen, WS_TCP_SBUF - at);
	memcpy(data, t->sbuf + at, first);
	memcpy(data + first, t->sbuf, dlen - first);
	uint16_t total = (uint16_t)(40 + optlen + dlen), tcplen = (uint16_t)(20 + optlen + dlen);
	ws_be16(ip + 2, total);
	ws_be16(ip + 10, (uint16_t)~ws_fold(t->ip_base + total));
	uint32_t ack = (flags & F_ACK) ? t->rcv_nxt : 0;
	uint32_t wnd = (flags & F_SYN) ? ws_tcp_rcv_wnd(t) : ws_tcp_window(t);
	uint32_t wfield = (flags & F_SYN) ? ws_min(wnd, 65535) : ws_min(wnd >> t->rcv_wscale, 65535);
	t->rcv_adv = (flags & F_SYN) ? wfield : wfield << t->rcv_wscale;
	ws_be32(tcp + 4, seq);
	ws_be32(tcp + 8, ack);
	tcp[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	tcp[13] = flags;
	ws_be16(tcp + 14, (uint16_t)wfield);
	ws_be16(tcp + 16, 0);
	/* the constant part, then what this segment changed: its length, the header's second to fifth words, options, data */
	uint32_t sum = t->tcp_base + tcplen;
	sum = ws_csum_add(sum, tcp + 4, 12);
	sum = ws_csum_add(sum, tcp + 20, optlen);
	sum = ws_csum_add(ws_fold(sum), data, dlen);
	ws_be16(tcp + 16, (uint16_t)~ws_fold(sum));
	uint32_t flen = WS_TCP_HDR + optlen + dlen;
	if (dlen && !t->tx_held_len && ws_tcp_chance(t, t->cfg.tx_reorder_ppm)) {
		t->tx_held_addr = addr; /* it leaves after the next frame (or at the next poll) */
		t->tx_held_len = flen;
		t->tx_held_poll = t->polls;
		t->st.injected_reorders++;
	} else {
		ws_tcp_push(t, addr, flen);
		if (t->tx_held_len) {
			ws_tcp_push(t, t->tx_held_addr, t->tx_held_len);
			t->tx_held_len = 0;
		}
	}
	if (flags & F_RST)
		t->st.resets_out++;
	return 0;
}

/* ws_tcp_ack_now: an ACK of what we have, with SACK blocks for what is
 * held past a hole (RFC 2018: the latest segment's block first). */
static void ws_tcp_ack_now(ws_tcp_xsk_t *t)
{
	uint8_t opt[4 + 8 * WS_TCP_OOO_MAX];
	uint32_t optlen = 0;
	if (t->sack_ok && t->n_ooo) {
		opt[0] = opt[1] = 1;
		opt[2] = 5;
		opt[3] = (uint8_t)(2 + 8 * t->n_ooo);
		optlen = 4;
		for (uint32_t k = 0; k < t->n_ooo; k++) {
			uint32_t i = k == 0 ? t->ooo_last : (k <= t->ooo_last ? k - 1 : k);
			ws_be32(opt + optlen, t->ooo[i].start);
			ws_be32(opt + optlen + 4, t->ooo[i].end);
			optlen += 8;
		}
	}
	ws_tcp_emit(t, t->snd_nxt, F_ACK, 0, opt, optlen);
}

static void ws_tcp_arm_rto(ws_tcp_xsk_t *t, uint64_t now)
{
	uint64_t rto = t->rto_ns << (t->backoff < 16 ? t->backoff : 16);
	t->rto_at = now + (rto < WS_TCP_RTO_MAX_NS ? rto : WS_TCP_RTO_MAX_NS);
}

/* ws_tcp_sent: bookkeeping after a segment of n sequence numbers (the FIN
 * is one, carrying no byte: fin) left. */
static void ws_tcp_sent(ws_tcp_xsk_t *t, uint32_t seq, uint32_t n, int fin, uint64_t now)
{
	uint32_t end = seq + n;
	if (SEQ_LT(seq, t->snd_max)) {
		t->st.retransmits++;
		t->rtt_on = 0; /* Karn: a sample across a retransmission could time either copy */
	}
	if (SEQ_GT(end, t->snd_max)) {
		uint32_t fresh = end - (SEQ_GT(seq, t->snd_max) ? seq : t->snd_max);
		t->st.segs_out++;
		t->st.bytes_out += fin ? 0 : fresh;
		if (!t->rtt_on && !SEQ_LT(seq, t->snd_max)) {
			t->rtt_on = 1;
			t->rtt_seq = end;
			t->rtt_ts = now;
		}
		t->snd_max = end;
	}
	if (!t->rto_at)
		ws_tcp_arm_rto(t, now);
}

/* ws_tcp_segment_at: send the segment that starts at seq: up to an MSS of
 * data (bounded by `room`), or the FIN if that is what seq holds. Returns
 * the sequence space it took (0: nothing to send or no frame). */
static uint32_t ws_tcp_segment_at(ws_tcp_xsk_t *t, uint32_t seq, uint32_t room, uint64_t now)
{
	if (SEQ_LT(seq, t->snd_end)) {
		uint32_t n = ws_min(ws_min(t->snd_end - seq, t->mss), room);
		if (!n || ws_tcp_emit(t, seq, F_ACK | F_PSH, n, NULL, 0))
			return 0;
		ws_tcp_sent(t, seq, n, 0, now);
		return n;
	}
	if (t->fin_queued && seq == t->fin_seq) {
		if (ws_tcp_emit(t, seq, F_FIN | F_ACK, 0, NULL, 0))
			return 0;
		ws_tcp_sent(t, seq, 1, 1, now);
		return 1;
	}
	return 0;
}

static int ws_tcp_sending_state(const ws_tcp_xsk_t *t)
{
	return t->state == WS_TCP_ESTABLISHED || t->state == WS_TCP_CLOSE_WAIT || t->state == WS_TCP_FIN_WAIT_1 ||
	       t->state == WS_TCP_CLOSING || t->state == WS_TCP_LAST_ACK;
}

/* ws_tcp_output: data not yet sent (then our FIN), as far as the peer's
 * window and ours allow. No Nagle: an order leaves now. */
static void ws_tcp_output(ws_tcp_xsk_t *t, uint64_t now)
{
	if (!ws_tcp_sending_state(t))
		return;
	for (;;) {
		uint32_t inflight = t->snd_nxt - t->snd_una;
		uint32_t wnd = ws_min(t->snd_wnd, t->cwnd);
		int data_left = SEQ_LT(t->snd_nxt, t->snd_end);
		if (data_left && inflight >= wnd) {
			if (!t->snd_wnd && !inflight && !t->rto_at) { /* closed window, nothing to clock it open: probe */
				t->st.zero_window_waits++;
				ws_tcp_arm_rto(t, now);
			}
			return;
		}
		uint32_t n = ws_tcp_segment_at(t, t->snd_nxt, data_left ? wnd - inflight : 1, now);
		if (!n)
			return;
		t->snd_nxt += n;
	}
}

/* -- timers -------------------------------------------------------------------------------------- */

static void ws_tcp_syn(ws_tcp_xsk_t *t)
{
	uint8_t opt[12] = {2, 4, 0, 0, 1, 1, 4, 2, 1, 3, 3, WS_TCP_RCV_WSCALE}; /* MSS, SACK-permitted, window scale */
	ws_be16(opt + 2, (uint16_t)t->mss);
	ws_tcp_emit(t, t->iss, F_SYN, 0, opt, sizeof(opt));
}

static void ws_tcp_end(ws_tcp_xsk_t *t, uint8_t why)
{
	t->end = why;
	ws_tcp_xsk_release(t);
}

static void ws_tcp_timer(ws_tcp_xsk_t *t, uint64_t now)
{
	t->rto_at = 0;
	if (t->state == WS_TCP_SYN_SENT) {
		if (++t->backoff > WS_TCP_MAX_RETRIES) {
			ws_tcp_end(t, WS_TCP_END_TIMEOUT);
			return;
		}
		t->syn_retx = 1;
		t->st.retransmits++;
		t->st.rto_expiries++;
		ws_tcp_syn(t);
		ws_tcp_arm_rto(t, now);
		return;
	}
	if (!ws_tcp_sending_state(t))
		return;
	if (t->snd_una == t->snd_nxt && SEQ_LT(t->snd_nxt, t->snd_end) && !t->snd_wnd) {
		/* zero-window probe: an old ACK the peer must answer with its window */
		t->st.zero_window_probes++;
		ws_tcp_emit(t, t->snd_una - 1, F_ACK, 0, NULL, 0);
		if (t->backoff < 2) /* probes at most ~1 s apart: an order session waits for no window longer */
			t->backoff++;
		ws_tcp_arm_rto(t, now);
		return;
	}
	if (t->snd_una == t->snd_max) {
		ws_tcp_output(t, now); /* a send that found no frame: try again */
		return;
	}
	t->st.rto_expiries++;
	if (++t->backoff > WS_TCP_MAX_RETRIES) {
		ws_tcp_emit(t, t->snd_nxt, F_RST | F_ACK, 0, NULL, 0);
		ws_tcp_end(t, WS_TCP_END_TIMEOUT);
		return;
	}
	/* go back to the first unacknowledged byte with one segment's window (RFC 5681 3.1) */
	uint32_t flight = t->snd_max - t->snd_una;
	t->ssthresh = flight / 2 > 2 * t->mss ? flight / 2 : 2 * t->mss;
	t->cwnd = t->mss;
	t->in_recovery = 0;
	t->dupacks = 0;
	t->snd_nxt = t->snd_una;
	ws_tcp_output(t, now);
	if (!t->rto_at)
		ws_tcp_arm_rto(t, now);
}

/* RFC 6298 2.2-2.3, in ns; the clock is fine enough that G vanishes. */
static void ws_tcp_rtt_sample(ws_tcp_xsk_t *t, uint64_t r)
{
	if (!t->srtt_ns) {
		t->srtt_ns = r;
		t->rttvar_ns = r / 2;
	} else {
		uint64_t d = t->srtt_ns > r ? t->srtt_ns - r : r - t->srtt_ns;
		t->rttvar_ns = (3 * t->rttvar_ns + d) / 4;
		t->srtt_ns = (7 * t->srtt_ns + r) / 8;
	}
	uint64_t rto = t->srtt_ns + 4 * t->rttvar_ns;
	t->rto_ns = rto < WS_TCP_RTO_MIN_NS ? WS_TCP_RTO_MIN_NS : rto > WS_TCP_RTO_MAX_NS ? WS_TCP_RTO_MAX_NS : rto;
	t->st.srtt_us = (uint32_t)(t->srtt_ns / 1000);
	t->st.rttvar_us = (uint32_t)(t->rttvar_ns / 1000);
	t->st.rto_ms = (uint32_t)(t->rto_ns / 1000000);
}

/* -- connect ------------------------------------------------------------------------------------- */

/* ws_tcp_reserve: a kernel socket bound to our address and a port the
 * kernel picks, held so that no kernel connection takes that port. */
static int ws_tcp_reserve(ws_tcp_xsk_t *t)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = t->cfg.saddr};
	socklen_t al = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &al)) {
		int e = -errno;
		close(fd);
		return e;
	}
	t->reserve_fd = fd;
	t->sport = a.sin_port;
	return 0;
}

/* ws_tcp_arm: the connection's headers into every send frame, and the
 * checksums' constant parts. */
static void ws_tcp_arm(ws_tcp_xsk_t *t)
{
	uint8_t *h = t->hdr, *ip = h + 14, *tcp = ip + 20;
	memset(h, 0, sizeof(t->hdr));
	memcpy(h, t->cfg.dmac, 6);
	memcpy(h + 6, t->cfg.smac, 6);
	h[12] = 0x08;
	ip[0] = 0x45;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &t->cfg.saddr, 4);
	memcpy(ip + 16, &t->cfg.daddr, 4);
	memcpy(tcp, &t->sport, 2);
	memcpy(tcp + 2, &t->cfg.dport, 2);
	t->ip_base = ws_csum_add(0, ip, 20);
	uint8_t c[12];
	memcpy(c, &t->cfg.saddr, 4);
	memcpy(c + 4, &t->cfg.daddr, 4);
	c[8] = 0;
	c[9] = 6;
	memcpy(c + 10, tcp, 2);
	t->tcp_base = ws_csum_add(ws_csum_add(0, c, 12), tcp + 2, 2);
	for (uint32_t i = t->tx_first; i < t->tx_end; i++)
		memcpy(t->x.umem + (size_t)i * t->x.frame_sz, h, WS_TCP_HDR);
}

int ws_tcp_xsk_connect(ws_tcp_xsk_t *t, uint64_t now)
{
	ws_tcp_xsk_release(t);
	int rc = ws_tcp_reserve(t);
	if (rc)
		return rc;
	if (t->cfg.tcp_map_fd >= 0) {
		uint8_t key[12];
		memcpy(key, &t->cfg.daddr, 4);
		memcpy(key + 4, &t->cfg.saddr, 4);
		memcpy(key + 8, &t->cfg.dport, 2);
		memcpy(key + 10, &t->sport, 2);
		if ((rc = ws_bpf_map_update(t->cfg.tcp_map_fd, key, &t->cfg.xsk_index, 0))) {
			ws_tcp_xsk_release(t);
			return rc;
		}
		t->steered = 1;
	}
	ws_tcp_reap(t);
	ws_tcp_arm(t);
	uint32_t iss;
	if (getrandom(&iss, sizeof(iss), 0) != sizeof(iss))
		iss = (uint32_t)now;
	t->iss = iss;
	t->snd_una = t->snd_nxt = t->snd_end = iss + 1;
	t->snd_max = iss + 1;
	t->snd_wnd = 0;
	t->rcv_nxt = 0;
	t->rhead = t->rlen = 0;
	t->mss = 1460;
	t->cwnd = 10 * 1460; /* RFC 6928 */
	t->ssthresh = 0xffffffffu;
	t->in_recovery = t->fin_queued = t->peer_fin = t->syn_retx = t->sack_ok = 0;
	t->n_ooo = t->ooo_last = 0;
	t->dupacks = 0;
	t->rto_ns = WS_TCP_RTO_INIT_NS;
	t->srtt_ns = t->rttvar_ns = 0;
	t->backoff = 0;
	t->rtt_on = 1;
	t->rtt_seq = iss + 1;
	t->rtt_ts = now;
	t->end = WS_TCP_END_NONE;
	t->state = WS_TCP_SYN_SENT;
	ws_tcp_syn(t);
	ws_tcp_arm_rto(t, now);
	return 0;
}

/* -- receiving ----------------------------------------------------------------------------------- */

/* The SYN-ACK's options: MSS and window scale (others skipped). */
static void ws_tcp_syn_options(ws_tcp_xsk_t *t, const uint8_t *o, uint32_t n)
{
	int wscale = -1;
	uint32_t mss = 536; /* RFC 9293's default when none is given */
	for (uint32_t i = 0; i < n;) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		if (o[i] == 2 && o[i + 1] == 4)
			mss = ws_rd16(o + i + 2);
		else if (o[i] == 3 && o[i + 1] == 3)
			wscale = o[i + 2] > 14 ? 14 : o[i + 2];
		else if (o[i] == 4 && o[i + 1] == 2)
			t->sack_ok = 1;
		i += o[i + 1];
	}
	if (mss < t->mss)
		t->mss = mss < 64 ? 64 : mss;
	if (wscale >= 0) {
		t->snd_wscale = (uint8_t)wscale;
		t->rcv_wscale = WS_TCP_RCV_WSCALE;
	} else { /* scaling only if both ask (RFC 7323 2.2) */
		t->snd_wscale = t->rcv_wscale = 0;
	}
	t->cwnd = 10 * t->mss;
	t->st.mss = t->mss;
	t->st.snd_wscale = t->snd_wscale;
	t->st.rcv_wscale = t->rcv_wscale;
}

static void ws_tcp_syn_sent(ws_tcp_xsk_t *t, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t win,
                            const uint8_t *opt, uint32_t optlen, uint64_t now)
{
	if ((flags & F_ACK) && ack != t->iss + 1) {
		if (!(flags & F_RST))
			ws_tcp_emit(t, ack, F_RST, 0, NULL, 0);
		return;
	}
	if (flags & F_RST) {
		if (flags & F_ACK) {
			t->st.resets_in++;
			ws_tcp_end(t, WS_TCP_END_REFUSED);
		}
		return;
	}
	if (!(flags & F_SYN) || !(flags & F_ACK))
		return; /* a simultaneous open is not for a client of an exchange */
	ws_tcp_syn_options(t, opt, optlen);
	t->rcv_nxt = seq + 1;
	t->rcv_edge = t->rcv_nxt; /* the first ACK announces the whole buffer */
	t->snd_una = ack;
	t->snd_nxt = t->snd_max = t->snd_end = ack;
	t->snd_wnd = win; /* a SYN's window is never scaled */
	t->snd_wl1 = seq;
	t->snd_wl2 = ack;
	if (!t->syn_retx)
		ws_tcp_rtt_sample(t, now - t->rtt_ts);
	t->rtt_on = 0;
	t->backoff = 0;
	t->rto_at = 0;
	t->state = WS_TCP_ESTABLISHED;
	t->st.snd_wnd = t->snd_wnd;
	t->st.cwnd = t->cwnd;
	ws_tcp_ack_now(t);
}

/* ws_tcp_acked: the peer's ACK for our data (RFC 9293 3.10.7.4, RFC 5681, RFC 6582's partial ACKs). */
static void ws_tcp_acked(ws_tcp_xsk_t *t, uint32_t seq, uint32_t ack, uint32_t win, uint32_t dlen, uint8_t flags,
                         uint64_t now)
{
	uint32_t wnd = win << t->snd_wscale;
	if (SEQ_GT(ack, t->snd_max)) {
		ws_tcp_ack_now(t); /* acks what we never sent */
		return;
	}
	if (SEQ_GT(ack, t->snd_una)) {
		uint32_t acked = ack - t->snd_una;
		t->snd_una = ack;
		if (SEQ_LT(t->snd_nxt, ack))
			t->snd_nxt = ack;
		if (t->rtt_on && SEQ_GE(ack, t->rtt_seq)) {
			ws_tcp_rtt_sample(t, now - t->rtt_ts);
			t->rtt_on = 0;
		}
		t->backoff = 0;
		t->dupacks = 0;
		if (t->in_recovery) {
			if (SEQ_GE(ack, t->recover)) {
				t->in_recovery = 0;
				t->cwnd = t->ssthresh;
			} else {
				ws_tcp_segment_at(t, t->snd_una, t->mss, now); /* a partial ACK: the next hole */
			}
		} else if (t->cwnd < t->ssthresh) {
			t->cwnd += ws_min(acked, t->mss);
		} else {
			t->cwnd += ws_min(t->mss, t->mss * t->mss / (t->cwnd ? t->cwnd : 1));
		}
		t->rto_at = 0;
		if (t->snd_una != t->snd_max)
			ws_tcp_arm_rto(t, now);
	} else if (ack == t->snd_una && !dlen && !(flags & (F_SYN | F_FIN)) && wnd == t->snd_wnd &&
	           t->snd_una != t->snd_max) {
		t->st.dup_acks_in++;
		if (++t->dupacks == 3 && !t->in_recovery) {
			uint32_t flight = t->snd_max - t->snd_una;
			t->st.fast_retransmits++;
			t->ssthresh = flight / 2 > 2 * t->mss ? flight / 2 : 2 * t->mss;
			t->recover = t->snd_max;
			t->in_recovery = 1;
			ws_tcp_segment_at(t, t->snd_una, t->mss, now);
			t->cwnd = t->ssthresh + 3 * t->mss;
		} else if (t->dupacks > 3 && t->in_recovery) {
			t->cwnd += t->mss; /* each duplicate is a segment that left the network */
		}
	}
	if (SEQ_LT(t->snd_wl1, seq) || (t->snd_wl1 == seq && SEQ_LE(t->snd_wl2, ack))) {
		t->snd_wnd = wnd;
		t->snd_wl1 = seq;
		t->snd_wl2 = ack;
		if (wnd && t->snd_una == t->snd_max)
			t->rto_at = 0; /* a zero-window probe's timer: the window is open, output sends now */
	}
	int fin_acked = t->fin_queued && SEQ_GT(t->snd_una, t->fin_seq);
	if (fin_acked) {
		if (t->state == WS_TCP_FIN_WAIT_1)
			t->state = WS_TCP_FIN_WAIT_2;
		else if (t->state == WS_TCP_CLOSING)
			t->state = WS_TCP_TIME_WAIT;
		else if (t->state == WS_TCP_LAST_ACK)
			ws_tcp_end(t, WS_TCP_END_CLOSED);
	}
	t->st.snd_wnd = t->snd_wnd;
	t->st.cwnd = t->cwnd;
}

/* ws_tcp_place copies bytes for sequence numbers [seq, seq + n) into the
 * receive buffer where they will be read (past the unread bytes). */
static void ws_tcp_place(ws_tcp_xsk_t *t, uint32_t seq, const uint8_t *d, uint32_t n)
{
	uint32_t at = (t->rhead + t->rlen + (seq - t->rcv_nxt)) % WS_TCP_RBUF, first = ws_min(n, WS_TCP_RBUF - at);
	memcpy(t->rbuf + at, d, first);
	memcpy(t->rbuf, d + first, n - first);
}

/* ws_tcp_hold keeps [seq, end) past a hole: merged into the ranges held,
 * or refused (0) if it would make one range too many. */
static int ws_tcp_hold(ws_tcp_xsk_t *t, uint32_t seq, uint32_t end)
{
	uint32_t i = 0;
	while (i < t->n_ooo && SEQ_LT(t->ooo[i].end, seq))
		i++;
	if (i < t->n_ooo && SEQ_LE(t->ooo[i].start, end)) { /* touches range i (and maybe those after) */
		if (SEQ_LT(seq, t->ooo[i].start))
			t->ooo[i].start = seq;
		if (SEQ_GT(end, t->ooo[i].end))
			t->ooo[i].end = end;
		uint32_t j = i + 1;
		while (j < t->n_ooo && SEQ_LE(t->ooo[j].start, t->ooo[i].end)) {
			if (SEQ_GT(t->ooo[j].end, t->ooo[i].end))
				t->ooo[i].end = t->ooo[j].end;
			j++;
		}
		memmove(&t->ooo[i + 1], &t->ooo[j], (t->n_ooo - j) * sizeof(t->ooo[0]));
		t->n_ooo -= j - i - 1;
	} else {
		if (t->n_ooo == WS_TCP_OOO_MAX)
			return 0;
		memmove(&t->ooo[i + 1], &t->ooo[i], (t->n_ooo - i) * sizeof(t->ooo[0]));
		t->ooo[i].start = seq;
		t->ooo[i].end = end;
		t->n_ooo++;
	}
	t->ooo_last = i;
	return 1;
}

/* ws_tcp_data: in-order bytes to the receive buffer, and with them any
 * held ones they reach; bytes past a hole are held (and SACKed) while they
 * fit the window; anything else is answered with an ACK of what we have. */
static void ws_tcp_data(ws_tcp_xsk_t *t, uint32_t seq, const uint8_t *d, uint32_t dlen, uint8_t flags)
{
	uint32_t span = dlen + ((flags & F_FIN) ? 1 : 0);
	if (SEQ_LE(seq + span, t->rcv_nxt)) {
		t->st.old_segments++;
		t->st.dup_acks_out++;
		ws_tcp_ack_now(t);
		return;
	}
	if (SEQ_LT(seq, t->rcv_nxt)) { /* overlaps what we have: take the rest */
		uint32_t skip = t->rcv_nxt - seq;
		d += skip;
		dlen -= skip;
		seq = t->rcv_nxt;
	}
	uint32_t room = WS_TCP_RBUF - t->rlen - (seq - t->rcv_nxt); /* the window never passes the buffer's end */
	if (SEQ_GT(seq + dlen, t->rcv_nxt + WS_TCP_RBUF - t->rlen)) {
		uint32_t fit = SEQ_LT(seq, t->rcv_nxt + WS_TCP_RBUF - t->rlen) ? room : 0;
		t->st.rcv_window_full += dlen - fit;
		dlen = fit;
		flags &= (uint8_t)~F_FIN;
	}
	if (seq != t->rcv_nxt) {
		t->st.out_of_order++;
		t->st.dup_acks_out++;
		if (dlen) {
			if (ws_tcp_hold(t, seq, seq + dlen))
				ws_tcp_place(t, seq, d, dlen);
			else
				t->st.ooo_dropped++;
		}
		ws_tcp_ack_now(t);
		return;
	}
	ws_tcp_place(t, seq, d, dlen);
	uint32_t end = seq + dlen;
	while (t->n_ooo && SEQ_LE(t->ooo[0].start, end)) { /* the hole is filled: what was held joins */
		if (SEQ_GT(t->ooo[0].end, end))
			end = t->ooo[0].end;
		memmove(&t->ooo[0], &t->ooo[1], (t->n_ooo - 1) * sizeof(t->ooo[0]));
		t->n_ooo--;
		t->ooo_last = 0;
		flags &= (uint8_t)~F_FIN; /* a FIN past held bytes comes again: its segment was after them */
	}
	uint32_t took = end - t->rcv_nxt;
	t->rlen += took;
	t->rcv_nxt = end;
	t->st.bytes_in += took;
	if (dlen)
		t->st.segs_in++;
	if ((flags & F_FIN) && !t->peer_fin && !t->n_ooo) {
		t->rcv_nxt++;
		t->peer_fin = 1;
		if (t->state == WS_TCP_ESTABLISHED)
			t->state = WS_TCP_CLOSE_WAIT;
		else if (t->state == WS_TCP_FIN_WAIT_1)
			t->state = t->fin_queued && SEQ_GT(t->snd_una, t->fin_seq) ? WS_TCP_TIME_WAIT : WS_TCP_CLOSING;
		else if (t->state == WS_TCP_FIN_WAIT_2)
			t->state = WS_TCP_TIME_WAIT;
	}
	ws_tcp_ack_now(t);
}

/* ws_tcp_input: one frame, checked, then the segment it holds. */
static void ws_tcp_input(ws_tcp_xsk_t *t, const uint8_t *f, uint32_t len, uint64_t now)
{
	if (len < WS_TCP_HDR || f[12] != 0x08 || f[13] != 0x00) {
		t->st.malformed++;
		return;
	}
	const uint8_t *ip = f + 14;
	uint32_t total = ws_rd16(ip + 2);
	if (ip[0] != 0x45 || (ws_rd16(ip + 6) & 0x3fff) || total < 40 || total > len - 14) {
		t->st.malformed++; /* options, fragments, bad lengths: never ours to send, so never ours to take */
		return;
	}
	const uint8_t *tcp = ip + 20;
	if (ip[9] != 6 || memcmp(ip + 12, &t->cfg.daddr, 4) || memcmp(ip + 16, &t->cfg.saddr, 4) ||
	    memcmp(tcp, &t->cfg.dport, 2) || memcmp(tcp + 2, &t->sport, 2) || !t->sport) {
		t->st.foreign++;
		return;
	}
	uint32_t doff = (uint32_t)(tcp[12] >> 4) * 4, tcplen = total - 20;
	if (doff < 20 || doff > tcplen) {
		t->st.malformed++;
		return;
	}
	uint8_t c[12];
	memcpy(c, ip + 12, 8);
	c[8] = 0;
	c[9] = 6;
	ws_be16(c + 10, (uint16_t)tcplen);
	uint32_t pseudo = ws_csum_add(0, c, 12);
	if (ws_fold(ws_csum_add(pseudo, tcp, tcplen)) != 0xffff) {
		/* A veth peer with checksum offload hands over its segments with
		 * the checksum left partial (the pseudo header's sum, which a NIC
		 * would have completed on the wire): nothing crossed a wire, so
		 * nothing is there to check. Accepted, counted. */
		if (ws_rd16(tcp + 16) != ws_fold(pseudo)) {
			t->st.bad_csum++;
			return;
		}
		t->st.csum_partial++;
	}
	uint32_t seq = ws_rd32(tcp + 4), ack = ws_rd32(tcp + 8), win = ws_rd16(tcp + 14);
	uint8_t flags = tcp[13];
	const uint8_t *data = tcp + doff;
	uint32_t dlen = tcplen - doff;
	if (t->state == WS_TCP_SYN_SENT) {
		ws_tcp_syn_sent(t, seq, ack, flags, win, tcp + 20, doff - 20, now);
		return;
	}
	if (t->state == WS_TCP_CLOSED)
		return;
	if (flags & F_RST) {
		/* RFC 5961 3.2: only a reset at exactly rcv_nxt is believed; one elsewhere in the window gets a challenge ACK */
		if (seq == t->rcv_nxt) {
			t->st.resets_in++;
			ws_tcp_end(t, WS_TCP_END_RESET);
		} else if (SEQ_GT(seq, t->rcv_nxt) && SEQ_LT(seq, t->rcv_nxt + ws_tcp_rcv_wnd(t))) {
			ws_tcp_ack_now(t);
		}
		return;
	}
	if (flags & F_SYN) { /* the SYN-ACK again: our ACK of it was lost */
		ws_tcp_ack_now(t);
		return;
	}
	if (!(flags & F_ACK))
		return;
	ws_tcp_acked(t, seq, ack, win, dlen, flags, now);
	if (t->state == WS_TCP_CLOSED)
		return;
	if (dlen || (flags & F_FIN))
		ws_tcp_data(t, seq, data, dlen, flags);
}

static int ws_tcp_inject_drop(ws_tcp_xsk_t *t)
{
	if (!ws_tcp_chance(t, t->cfg.rx_drop_ppm))
		return 0;
	t->st.injected_drops++;
	return 1;
}

/* ws_tcp_take: one received frame to the TCP - or held back, by fault
 * injection, to come after the next (a reordering on the way in). */
static void ws_tcp_take(ws_tcp_xsk_t *t, const uint8_t *f, uint32_t len, uint64_t now)
{
	if (!t->rx_held_len && len <= 4096 && ws_tcp_chance(t, t->cfg.rx_reorder_ppm)) {
		memcpy(t->rx_held, f, len);
		t->rx_held_len = len;
		t->rx_held_poll = t->polls;
		t->st.injected_reorders++;
		return;
	}
	ws_tcp_input(t, f, len, now);
	if (t->rx_held_len) {
		uint32_t n = t->rx_held_len;
		t->rx_held_len = 0;
		ws_tcp_input(t, t->rx_held, n, now);
	}
}

void ws_tcp_xsk_poll(ws_tcp_xsk_t *t, uint64_t now)
{
	ws_xsk_ring_t *rx = &t->x.rx, *fill = &t->x.fill; /* fill: unmapped when sharing */
	uint32_t prod = atomic_load_explicit(rx->producer, memory_order_acquire);
	uint32_t n = prod - rx->cached_cons;
	if (n) {
		const struct xdp_desc *ring = rx->ring;
		uint64_t *fr = fill->ring;
		for (uint32_t i = 0; i < n; i++) {
			const struct xdp_desc *d = &ring[(rx->cached_cons + i) & rx->mask];
			uint64_t base = d->addr & ~(uint64_t)(t->x.frame_sz - 1);
			if (d->len > t->x.frame_sz - (d->addr - base))
				t->st.malformed++; /* cannot be: the kernel fills one frame at most */
			else if (!ws_tcp_inject_drop(t))
				ws_tcp_take(t, t->x.umem + d->addr, d->len, now);
			/* the frame goes back at once (the bytes were copied): to our fill ring, or to the capture's loop */
			if (t->owner)
				ws_xsk_give_back(t->owner, base);
			else
				fr[fill->cached_prod++ & fill->mask] = base;
		}
		rx->cached_cons += n;
		atomic_store_explicit(rx->consumer, rx->cached_cons, memory_order_release);
		if (!t->owner)
			atomic_store_explicit(fill->producer, fill->cached_prod, memory_order_release);
	}
	if (t->rx_held_len && t->rx_held_poll != t->polls) { /* held a whole poll: nothing came after it */
		uint32_t k = t->rx_held_len;
		t->rx_held_len = 0;
		ws_tcp_input(t, t->rx_held, k, now);
	}
	if (t->tx_held_len && t->tx_held_poll != t->polls) {
		ws_tcp_push(t, t->tx_held_addr, t->tx_held_len);
		t->tx_held_len = 0;
	}
	t->polls++;
	if (t->rto_at && now >= t->rto_at)
		ws_tcp_timer(t, now);
	ws_tcp_output(t, now);
}

/* -- the user's side ----------------------------------------------------------------------------- */

/* ws_tcp_queue appends n bytes to the send buffer (the caller checked the room). */
static void ws_tcp_queue(ws_tcp_xsk_t *t, const uint8_t *p, uint32_t n)
{
	uint32_t at = t->snd_end % WS_TCP_SBUF, first = ws_min(n, WS_TCP_SBUF - at);
	memcpy(t->sbuf + at, p, first);
	memcpy(t->sbuf, p + first, n - first);
	t->snd_end += n;
}

int ws_tcp_xsk_send(ws_tcp_xsk_t *t, const uint8_t *p, uint32_t n, uint64_t now)
{
	if ((t->state != WS_TCP_ESTABLISHED && t->state != WS_TCP_CLOSE_WAIT) || t->fin_queued)
		return -ENOTCONN;
	if (n > WS_TCP_SBUF - (t->snd_end - t->snd_una))
		return -EAGAIN;
	ws_tcp_queue(t, p, n);
	ws_tcp_output(t, now);
	return (int)n;
}

int ws_tcp_xsk_probe(ws_tcp_xsk_t *t, const uint8_t *p, uint32_t n, uint64_t now)
{
	if (t->state != WS_TCP_ESTABLISHED || t->fin_queued)
		return -ENOTCONN;
	if (t->snd_nxt != t->snd_end || n > t->mss || n > WS_TCP_SBUF - (t->snd_end - t->snd_una) ||
	    n > t->snd_wnd - (t->snd_nxt - t->snd_una))
		return -EAGAIN;
	/* the bytes go where a retransmission would read them, then straight out: the frame push is the probe */
	ws_tcp_queue(t, p, n);
	int rc = ws_tcp_emit(t, t->snd_nxt, F_ACK | F_PSH, n, NULL, 0);
	if (rc) {
		t->snd_end -= n;
		return rc;
	}
	ws_tcp_sent(t, t->snd_nxt, n, 0, now);
	t->snd_nxt += n;
	return (int)n;
}

int ws_tcp_xsk_recv(ws_tcp_xsk_t *t, uint8_t *buf, uint32_t cap, uint64_t now)
{
	(void)now;
	if (!t->rlen) {
		switch (t->end) {
		case WS_TCP_END_RESET:
		case WS_TCP_END_ABORTED:
			return -ECONNRESET;
		case WS_TCP_END_TIMEOUT:
			return -ETIMEDOUT;
		case WS_TCP_END_REFUSED:
			return -ECONNREFUSED;
		default:
			return t->peer_fin ? 0 : t->state == WS_TCP_CLOSED ? -ENOTCONN : -EAGAIN;
		}
	}
	uint32_t n = ws_min(cap, t->rlen), first = ws_min(n, WS_TCP_RBUF - t->rhead);
	memcpy(buf, t->rbuf + t->rhead, first);
	memcpy(buf + first, t->rbuf, n - first);
	t->rhead = (t->rhead + n) % WS_TCP_RBUF;
	t->rlen -= n;
	/* a window that had shrunk below a segment is announced again once half the buffer is free (RFC 9293 3.8.6.2.2) */
	if (t->rcv_adv < t->mss && ws_tcp_rcv_wnd(t) >= WS_TCP_RBUF / 2 && ws_tcp_sending_state(t))
		ws_tcp_ack_now(t);
	return (int)n;
}

void ws_tcp_xsk_close(ws_tcp_xsk_t *t, uint64_t now)
{
	if (t->state == WS_TCP_SYN_SENT) {
		ws_tcp_xsk_release(t);
		return;
	}
	if ((t->state != WS_TCP_ESTABLISHED && t->state != WS_TCP_CLOSE_WAIT) || t->fin_queued)
		return;
	t->fin_queued = 1;
	t->fin_seq = t->snd_end;
	t->state = t->state == WS_TCP_ESTABLISHED ? WS_TCP_FIN_WAIT_1 : WS_TCP_LAST_ACK;
	ws_tcp_output(t, now);
}

void ws_tcp_xsk_abort(ws_tcp_xsk_t *t, uint64_t now)
{
	(void)now;
	if (t->state != WS_TCP_CLOSED && t->state != WS_TCP_SYN_SENT)
		ws_tcp_emit(t, t->snd_nxt, F_RST | F_ACK, 0, NULL, 0);
	if (t->state != WS_TCP_CLOSED)
		t->end = WS_TCP_END_ABORTED;
	ws_tcp_xsk_release(t);
}

enum ws_tcp_state ws_tcp_xsk_state(const ws_tcp_xsk_t *t) { return (enum ws_tcp_state)t->state; }
enum ws_tcp_end ws_tcp_xsk_end(const ws_tcp_xsk_t *t) { return (enum ws_tcp_end)t->end; }
uint32_t ws_tcp_xsk_unacked(const ws_tcp_xsk_t *t)
{
	return SEQ_GT(t->snd_end, t->snd_una) ? t->snd_end - t->snd_una : 0; /* past it: our FIN is acked */
}
int ws_tcp_xsk_fd(const ws_tcp_xsk_t *t) { return t->x.fd; }
uint16_t ws_tcp_xsk_local_port(const ws_tcp_xsk_t *t) { return ntohs(t->sport); }
const ws_tcp_xsk_stats_t *ws_tcp_xsk_stats(const ws_tcp_xsk_t *t) { return &t->st; }
const ws_xsk_t *ws_tcp_xsk_socket(const ws_tcp_xsk_t *t) { return &t->x; }
