/* transports/rx_kernel.c - see rx_kernel.h. */
#include "transports/rx_kernel.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/errqueue.h> /* struct scm_timestamping: after time.h */
#include <unistd.h>

#include "transports/capture.h"
#include "net/frame.h"

#define WS_RXK_BATCH 32
#define WS_RXK_CMSG 192 /* SCM_TIMESTAMPING (64) + SO_RXQ_OVFL + IP_PKTINFO + IP_TTL, aligned */

struct ws_rxk_bufs {
	uint8_t frame[WS_RXK_BATCH][WS_RING_MAX_PAYLOAD];
	uint8_t cmsg[WS_RXK_BATCH][WS_RXK_CMSG];
	struct iovec iov[WS_RXK_BATCH];
	struct sockaddr_in from[WS_RXK_BATCH];
	struct mmsghdr msgs[WS_RXK_BATCH];
	int ready;
};

static _Thread_local struct ws_rxk_bufs ws_bufs; /* one per rx thread, no allocation */

/* ws_rxk_prepare points the headers at their buffers, once per thread. */
static void ws_rxk_prepare(struct ws_rxk_bufs *b)
{
	for (int i = 0; i < WS_RXK_BATCH; i++) {
		b->iov[i].iov_base = b->frame[i] + WS_FRAME_HDR;
		b->iov[i].iov_len = WS_RING_MAX_PAYLOAD - WS_FRAME_HDR;
		struct msghdr *h = &b->msgs[i].msg_hdr;
		h->msg_name = &b->from[i];
		h->msg_namelen = sizeof(b->from[i]);
		h->msg_iov = &b->iov[i];
		h->msg_iovlen = 1;
		h->msg_control = b->cmsg[i];
		h->msg_controllen = WS_RXK_CMSG;
		h->msg_flags = 0;
	}
	b->ready = 1;
}

/* ws_rxk_reset restores what recvmmsg overwrote in the n headers it used. */
static void ws_rxk_reset(struct ws_rxk_bufs *b, int n)
{
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &b->msgs[i].msg_hdr;
		h->msg_namelen = sizeof(b->from[i]);
		h->msg_controllen = WS_RXK_CMSG;
		h->msg_flags = 0;
	}
}

/* ws_rxk_drain receives one batch from s and publishes it. Returns the
 * number of datagrams, 0 if none, -errno on a real error. */
static int ws_rxk_drain(ws_ring_writer_t *w, ws_rxk_sock_t *s, int flags, int stamp, ws_rxk_stats_t *st)
{
	struct ws_rxk_bufs *b = &ws_bufs;
	if (!b->ready)
		ws_rxk_prepare(b); /* not per poll: an empty busy poll costs only the syscall */
	int n = recvmmsg(s->fd, b->msgs, WS_RXK_BATCH, flags, NULL);
	if (n <= 0)
		return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR ? -errno : 0;
	uint64_t now = ws_ring_now_ns(); /* one clock read per batch */
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &b->msgs[i].msg_hdr;
		uint32_t len = b->msgs[i].msg_len;
		uint64_t ts = now;
		uint32_t dst = 0;
		uint8_t ttl = 1;
		uint16_t fl = WS_REC_REBUILT | WS_REC_KERNEL;
		int stamped = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && stamp == WS_STAMP_KERNEL) {
				struct timespec t;
				memcpy(&t, CMSG_DATA(c), sizeof(t));
				ts = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
				fl |= WS_REC_TS_KERNEL;
				stamped = 1;
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
			           stamp == WS_STAMP_HARDWARE) {
				/* ts[2] is the NIC's raw stamp, ts[0] the kernel's software one;
				 * a packet the NIC did not stamp (its filter, a queue without
				 * stamping) still gets the kernel's, and its flag says so. */
				struct scm_timestamping t;
				memcpy(&t, CMSG_DATA(c), sizeof(t));
				const struct timespec *pick = NULL;
				if (t.ts[2].tv_sec || t.ts[2].tv_nsec) {
					pick = &t.ts[2];
					fl |= WS_REC_TS_NIC;
				} else if (t.ts[0].tv_sec || t.ts[0].tv_nsec) {
					pick = &t.ts[0];
					fl |= WS_REC_TS_KERNEL;
				}
				if (pick) {
					ts = (uint64_t)pick->tv_sec * 1000000000ull + (uint64_t)pick->tv_nsec;
					stamped = 1;
				}
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
				uint32_t drops;
				memcpy(&drops, CMSG_DATA(c), sizeof(drops));
				/* The counter starts at 0 on a new socket (the transport always
				 * opens new ones), so every increase is loss; it wraps at 2^32. */
				if (drops != s->ovfl_seen) {
					uint32_t d = drops - s->ovfl_seen;
					ws_ring_count_drop(w, WS_DROP_SOCK_OVERFLOW, d);
					atomic_fetch_add_explicit(&st->sock_overflow, d, memory_order_relaxed);
				}
				s->ovfl_seen = drops;
			} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				dst = pi.ipi_addr.s_addr;
			} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
				int t;
				memcpy(&t, CMSG_DATA(c), sizeof(t));
				ttl = (uint8_t)t;
			}
		}
		if (!stamped)
			fl |= WS_REC_TS_USER; /* asked for user stamps, or the kernel gave none */
		if (h->msg_flags & MSG_TRUNC) { /* larger than a jumbo frame: counted, not cut */
			ws_ring_count_drop(w, WS_DROP_TOO_BIG, 1);
			atomic_fetch_add_explicit(&st->too_big, 1, memory_order_relaxed);
			continue;
		}
		ws_frame_udp4(b->frame[i], NULL, NULL, b->from[i].sin_addr.s_addr, dst, b->from[i].sin_port, htons(s->port),
		              ttl, len);
		ws_ring_publish(w, b->frame[i], WS_FRAME_HDR + len, ts, s->stream, fl);
		atomic_fetch_add_explicit(&st->packets, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&st->bytes, len, memory_order_relaxed);
	}
	ws_rxk_reset(b, n);
	return n;
}

int ws_rx_kernel_run(ws_ring_writer_t *w, ws_rxk_sock_t *socks, unsigned n, int mode, int stamp,
                     _Atomic int *stop, ws_rxk_stats_t *st)
{
	if (!n || n > WS_RXK_MAX_SOCKS)
		return -EINVAL;
	if (mode == WS_RXK_BUSY) {
		uint64_t idle = 0;
		while (!atomic_load_explicit(stop, memory_order_relaxed)) {
			int got = 0;
			for (unsigned i = 0; i < n; i++) {
				int r = ws_rxk_drain(w, &socks[i], MSG_DONTWAIT, stamp, st);
				if (r < 0)
					return r;
				got += r;
			}
			atomic_fetch_add_explicit(&st->polls, 1, memory_order_relaxed);
			if (!got) {
				atomic_fetch_add_explicit(&st->empty_polls, 1, memory_order_relaxed);
				if (!(++idle & 0xfffff))
					ws_ring_heartbeat(w, ws_ring_now_ns());
			}
		}
		return 0;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	int rc = 0;
	for (unsigned i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, socks[i].fd, &ev)) {
			rc = -errno;
			goto out;
		}
	}
	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		struct epoll_event evs[WS_RXK_MAX_SOCKS];
		int k = epoll_wait(ep, evs, WS_RXK_MAX_SOCKS, 100);
		if (k < 0 && errno != EINTR) {
			rc = -errno;
			goto out;
		}
		if (k <= 0) {
			ws_ring_heartbeat(w, ws_ring_now_ns());
			continue;
		}
		for (int j = 0; j < k; j++) {
			ws_rxk_sock_t *s = &socks[evs[j].data.u32];
			int r;
			while ((r = ws_rxk_drain(w, s, MSG_DONTWAIT, stamp, st)) == WS_RXK_BATCH)
				;
			if (r < 0) {
				rc = r;
				goto out;
			}
		}
	}
out:
	close(ep);
	return rc;
}
