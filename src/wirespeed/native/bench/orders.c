/* bench/orders.c - an OUCH client's round trip for `wirespeed bench
 * exchange` (see bench.h). One connection, one order in flight at a time:
 * the figure is the port's answer time plus the kernel TCP path both ways,
 * which is what sockperf's TCP ping-pong measures without an exchange. */
#include "bench/bench.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "net/endian.h"
#include "orders/ouch.h"
#include "orders/risk.h"
#include "orders/soupbin.h"
#include "system/clock.h"
#include "transports/tcp_xsk.h"

#define WS_RTT_BUF 65536u

struct ws_rtt_conn {
	int fd;
	uint8_t buf[WS_RTT_BUF];
	uint32_t have; /* bytes held from buf[0] */
	uint16_t reject;
};

/* ws_rtt_send writes one Unsequenced Data packet carrying m. */
static int ws_rtt_send(int fd, const ws_ouch_msg_t *m)
{
	uint8_t pkt[128];
	uint32_t len = ws_ouch_size(WS_OUCH_IN, m);
	if (!len || len + 3 > sizeof(pkt))
		return -EINVAL;
	uint32_t h = ws_soup_header(pkt, WS_SOUP_UNSEQUENCED, len);
	ws_ouch_encode(WS_OUCH_IN, m, pkt + h);
	return ws_bench_send_fd((void *)(intptr_t)fd, pkt, h + len);
}

/* ws_rtt_next reads until the next sequenced message for urn (of any
 * type) and decodes it into *m; heartbeats and messages for other orders
 * are passed over. A Rejected for urn is an error (its reason kept). */
static int ws_rtt_next(struct ws_rtt_conn *c, uint32_t urn, ws_ouch_msg_t *m)
{
	for (;;) {
		uint32_t off = 0;
		int found = 0, rc = 0;
		while (!found && !rc) {
			ws_soup_pkt_t pkt;
			int k = ws_soup_next(c->buf + off, c->have - off, WS_RTT_BUF - 2, &pkt);
			if (k <= 0) {
				rc = k < 0 ? -EPROTO : 0;
				break;
			}
			off += (uint32_t)k;
			if (pkt.type == WS_SOUP_END_OF_SESSION)
				rc = -EPROTO;
			else if (pkt.type != WS_SOUP_SEQUENCED)
				continue;
			else if (ws_ouch_decode(WS_OUCH_OUT, pkt.payload, pkt.payload_len, m) != WS_OUCH_OK)
				rc = -EPROTO;
			else if (m->user_ref_num == urn && m->type == 'J') {
				c->reject = m->reject_reason;
				rc = -EPROTO;
			} else
				found = m->user_ref_num == urn;
		}
		memmove(c->buf, c->buf + off, c->have - off);
		c->have -= off;
		if (found || rc)
			return rc;
		ssize_t k = recv(c->fd, c->buf + c->have, WS_RTT_BUF - c->have, 0);
		if (k == 0)
			return -ECONNRESET;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		c->have += (uint32_t)k;
	}
}

/* ws_rtt_await reads until a message of `type` for urn. */
static int ws_rtt_await(struct ws_rtt_conn *c, uint8_t type, uint32_t urn)
{
	ws_ouch_msg_t m;
	int rc;
	while (!(rc = ws_rtt_next(c, urn, &m)) && m.type != type)
		;
	return rc;
}

/* ws_rtt_gone reads until order urn, `open` shares, is no more: Canceled,
 * or executed in full (the simulator's own flow trades with the front of
 * the book, which a lone resting order can be; a cancel after that is
 * ignored, as OUCH ignores every cancel of what is not open). */
static int ws_rtt_gone(struct ws_rtt_conn *c, uint32_t urn, uint32_t open)
{
	ws_ouch_msg_t m;
	int rc;
	while (!(rc = ws_rtt_next(c, urn, &m))) {
		if (m.type == 'C')
			return 0;
		if (m.type == 'E' && (open = m.quantity < open ? open - m.quantity : 0) == 0)
			return 0;
	}
	return rc;
}

static void ws_sleep_until(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int ws_bench_ouch_rtt(int fd, const char *symbol, uint64_t price, uint32_t first_urn, uint64_t n, uint64_t gap_ns,
                      uint64_t timeout_ns, uint64_t *rtt_ns, uint64_t *done, uint16_t *reject)
{
	static struct ws_rtt_conn c; /* static: 64 KiB is no stack frame; one run at a time (the GIL's caller) */
	memset(&c, 0, sizeof(c));
	c.fd = fd;
	*done = 0;
	*reject = 0;
	struct timeval tv = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull / 1000)};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	ws_ouch_msg_t enter = {.type = 'O', .side = 'B', .quantity = 100, .price = price, .tif = '0', .display = 'Y',
	                       .capacity = 'A', .ims = 'N', .cross_type = 'N'};
	ws_ouch_alpha(enter.symbol, symbol, sizeof(enter.symbol));
	ws_ouch_alpha(enter.clordid, "WSBENCH", sizeof(enter.clordid));
	ws_ouch_msg_t cancel = {.type = 'X', .quantity = 0}; /* to 0 open: all of it */
	uint64_t start = ws_mono_ns();
	int rc = 0;
	for (uint64_t i = 0; i < n && !rc; i++) {
		ws_sleep_until(start + i * gap_ns);
		enter.user_ref_num = first_urn + (uint32_t)i;
		uint64_t t0 = ws_mono_ns();
		rc = ws_rtt_send(fd, &enter);
		if (!rc)
			rc = ws_rtt_await(&c, 'A', enter.user_ref_num);
		if (rc)
			break;
		rtt_ns[i] = ws_mono_ns() - t0;
		cancel.user_ref_num = enter.user_ref_num; /* a Cancel names the order by its UserRefNum */
		rc = ws_rtt_send(fd, &cancel);
		if (!rc)
			rc = ws_rtt_gone(&c, enter.user_ref_num, enter.quantity);
		if (!rc)
			*done = i + 1;
	}
	*reject = c.reject;
	return rc;
}

int ws_bench_send_fd(void *ctx, const uint8_t *msg, uint32_t len)
{
	int fd = (int)(intptr_t)ctx;
	for (uint32_t off = 0; off < len;) {
		ssize_t k = send(fd, msg + off, len - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		off += (uint32_t)k;
	}
	return 0;
}

int ws_bench_send_tcp_xsk(void *ctx, const uint8_t *msg, uint32_t len)
{
	uint64_t now = ws_mono_ns();
	int k = ws_tcp_xsk_send(ctx, msg, len, now);
	ws_tcp_xsk_poll(ctx, now); /* after the send: the ACKs of earlier messages, outside the figure */
	return k == (int)len ? 0 : k < 0 ? k : -EIO;
}

int ws_bench_send_tcp_probe(void *ctx, const uint8_t *msg, uint32_t len)
{
	uint64_t now = ws_mono_ns();
	int k = ws_tcp_xsk_probe(ctx, msg, len, now);
	ws_tcp_xsk_poll(ctx, now);
	return k == (int)len ? 0 : k < 0 ? k : -EIO;
}

int ws_bench_oneway(ws_bench_send_fn send_fn, void *ctx, uint64_t n, uint64_t gap_ns, uint64_t *tx_ns)
{
	uint8_t msg[50];
	memset(msg, 'x', sizeof(msg));
	ws_soup_header(msg, WS_SOUP_UNSEQUENCED, 47);
	uint64_t next = ws_mono_ns();
	for (uint64_t i = 0; i < n; i++) {
		ws_be64(msg + 3, i);
		next += gap_ns;
		tx_ns[i] = ws_epoch_ns();
		int rc = send_fn(ctx, msg, sizeof(msg));
		if (rc)
			return rc;
		struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	return 0;
}

int ws_bench_risk(uint64_t n, double *out_ns)
{
	ws_risk_limits_t lim = {.max_order_qty = 10000, .max_order_notional = 100000000000ull, .collar_bp = 500,
	                        .max_open_orders = 1000000, .max_orders_per_s = 1000000, .dup_window_ms = 10};
	ws_risk_symbol_limits_t sym = {.max_position = 1000000000ull, .max_gross_notional = UINT64_MAX / 4};
	ws_risk_t *r = ws_risk_new(&lim, &sym, 64);
	if (!r)
		return -1;
	ws_risk_ref_t ref = {.bid = 1000000, .ask = 1000100, .known = 1};
	int rc = 0;
	uint32_t k = 0;
	uint64_t now = 1000000000ull; /* orders' own clock: one every 2 us, within the rate limit */
	for (uint64_t b = 0; b < n && !rc; b++) {
		uint64_t t0 = ws_mono_ns();
		for (int i = 0; i < 64; i++, k++, now += 2000) {
			/* varied: symbol, side, price and size change, so the duplicate guard passes them */
			uint32_t s = k & 63, qty = 100 + (k % 997), px = 999000 + (k % 1500);
			char side = k & 1 ? 'S' : 'B';
			uint32_t rp = side == 'B' ? px : (px > ref.bid ? px : ref.bid);
			if (ws_risk_check(r, s, side, qty, px, rp, &ref, NULL, now)) {
				rc = -1;
				break;
			}
			ws_risk_commit(r, s, side, qty, px, rp, now);
			ws_risk_release(r, s, side, qty, rp, 1); /* an order that went away: nothing piles up */
		}
		out_ns[b] = (double)(ws_mono_ns() - t0) / 64.0;
	}
	ws_risk_delete(r);
	return rc;
}
