/* exchange/sim.c - see sim.h for the contract and the order-flow model. */
#include "exchange/sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <sys/socket.h>
#include <time.h>

#include "exchange/match.h"
#include "exchange/port.h"
#include "feed/itch.h"
#include "net/frame.h"
#include "system/clock.h"

enum { PH_START_O, PH_DIRECTORY, PH_START_S, PH_START_Q, PH_TRADING, PH_END_M, PH_END_E, PH_END_C, PH_EOS };

typedef struct {
	char stock[8];
	uint32_t mid;       /* Price(4) */
} ws_symbol_t;

/* A message waiting for a packet: the books' events become these. */
typedef struct {
	uint8_t len;
	uint8_t flow;       /* the simulator's own flow (paced); 0: a client's doing (sent at once) */
	uint8_t msg[50];    /* the longest ITCH message is 50 bytes */
} ws_outmsg_t;

struct ws_sim {
	ws_sim_cfg_t cfg;
	uint64_t rng;
	ws_symbol_t *syms;
	char (*stocks)[8];  /* [i] = syms[i].stock, the port's symbol table */
	ws_match_t *m;      /* the books: the simulator's orders (owner 0) and its clients' */
	uint64_t seq, flow_sent;
	int phase;
	uint32_t dir_idx;
	/* outbox: a ring of messages for the next packets, grown by doubling */
	ws_outmsg_t *out;
	uint32_t out_head, out_n, out_cap, out_client;
	ws_port_t *port;    /* while ws_sim_run runs with an order port */
	/* history: message bytes by seq, for retransmission */
	uint8_t *hist_buf;
	uint64_t hist_buf_sz, hist_buf_mask, hist_pos; /* size a power of two: mask, never divide */
	uint64_t *hist_off;  /* per seq slot: (pos << 8) | len; pos in the virtual byte stream */
	uint64_t hist_mask;
	_Atomic int stop;
	ws_sim_stats_t st;
	ws_port_stats_t port_st;
	/* tick-to-trade stamps (ws_sim_run_cfg_t.stamp_log): packets as they are sent, orders as they arrive */
	ws_sim_sent_t *sent_log;
	ws_port_stamp_t *order_log;
	uint32_t log_cap;
	uint64_t sent_n, order_n;
};

/* -- randomness: xorshift64*, deterministic per seed -------------------------- */

/* ws_mix: splitmix64's finaliser, a stateless hash of a counter (the fill's
 * draws leave the flow's random stream as it is). */
static inline uint64_t ws_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static inline uint64_t ws_rand(ws_sim_t *s)
{
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline uint32_t ws_below(ws_sim_t *s, uint32_t n) { return (uint32_t)((ws_rand(s) >> 32) * n >> 32); }

/* -- life cycle ------------------------------------------------------------------ */

/* Room for clients' orders in the books, beside the simulator's own. */
#define WS_SIM_CLIENT_ORDERS 65536u

ws_sim_t *ws_sim_new(const ws_sim_cfg_t *cfg)
{
	if (!cfg->n_symbols || cfg->symbol_base + cfg->n_symbols > 65535 || cfg->max_payload < WS_MOLD_HDR + 2 + 50 ||
	    cfg->max_payload > 9000)
		return NULL;
	ws_sim_t *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	if (!s->cfg.order_cap)
		s->cfg.order_cap = 1024;
	if (!s->cfg.history_lg || s->cfg.history_lg > 26)
		s->cfg.history_lg = 20;
	s->rng = cfg->seed ? cfg->seed * 0x9E3779B97F4A7C15ull : 0x1234567887654321ull;
	s->seq = 1;
	s->syms = calloc(cfg->n_symbols, sizeof(ws_symbol_t));
	s->stocks = calloc(cfg->n_symbols, sizeof(*s->stocks));
	s->m = ws_match_new(cfg->n_symbols, cfg->n_symbols * s->cfg.order_cap + WS_SIM_CLIENT_ORDERS);
	s->out_cap = 1024;
	s->out = malloc(s->out_cap * sizeof(*s->out));
	uint64_t hist_n = 1ull << s->cfg.history_lg;
	s->hist_mask = hist_n - 1;
	s->hist_off = calloc(hist_n, sizeof(uint64_t));
	s->hist_buf_sz = hist_n * 64; /* ~ messages of up to 64 bytes on average */
	s->hist_buf_mask = s->hist_buf_sz - 1;
	s->hist_buf = malloc(s->hist_buf_sz);
	if (!s->syms || !s->stocks || !s->m || !s->out || !s->hist_off || !s->hist_buf)
		goto fail;
	for (uint32_t i = 0; i < cfg->n_symbols; i++) {
		ws_symbol_t *y = &s->syms[i];
		/* Symbols S0001.. with mids between $10 and $500, on a cent grid. */
		memset(y->stock, ' ', 8);
		char name[9];
		int n = snprintf(name, sizeof(name), "S%04u", cfg->symbol_base + i + 1);
		memcpy(y->stock, name, (size_t)n);
		memcpy(s->stocks[i], y->stock, 8);
		y->mid = (1000u + ws_below(s, 49000u)) * 100u;
	}
	return s;
fail:
	ws_sim_delete(s);
	return NULL;
}

void ws_sim_delete(ws_sim_t *s)
{
	if (!s)
		return;
	ws_match_delete(s->m);
	free(s->syms);
	free(s->stocks);
	free(s->out);
	free(s->hist_off);
	free(s->hist_buf);
	free(s->sent_log);
	free(s->order_log);
	free(s);
}

const ws_sim_sent_t *ws_sim_sent_log(const ws_sim_t *s, uint64_t *n, uint64_t *kept)
{
	*n = s->sent_n;
	*kept = s->sent_n < s->log_cap ? s->sent_n : s->log_cap;
	return s->sent_log;
}

const ws_port_stamp_t *ws_sim_order_log(const ws_sim_t *s, uint64_t *n, uint64_t *kept)
{
	*n = s->order_n;
	*kept = s->order_n < s->log_cap ? s->order_n : s->log_cap;
	return s->order_log;
}

void ws_sim_stop(ws_sim_t *s) { atomic_store(&s->stop, 1); }
const ws_sim_stats_t *ws_sim_stats(const ws_sim_t *s) { return &s->st; }
const ws_port_stats_t *ws_sim_port_stats(const ws_sim_t *s) { return &s->port_st; }
const ws_match_stats_t *ws_sim_match_stats(const ws_sim_t *s) { return ws_match_stats(s->m); }

void ws_sim_symbol(const ws_sim_t *s, uint32_t k, char stock[8], uint32_t *mid)
{
	memcpy(stock, s->syms[k].stock, 8);
	*mid = s->syms[k].mid;
}

/* -- the outbox ------------------------------------------------------------------- */

/* A slot at the back of the outbox (grown when full; NULL only out of memory, counted). */
static ws_outmsg_t *ws_out_push(ws_sim_t *s, int flow)
{
	if (s->out_n == s->out_cap) {
		ws_outmsg_t *o = malloc(2 * (size_t)s->out_cap * sizeof(*o));
		if (!o) {
			s->st.outbox_lost++;
			return NULL;
		}
		for (uint32_t i = 0; i < s->out_n; i++) /* unroll the ring into the new array */
			o[i] = s->out[(s->out_head + i) & (s->out_cap - 1)];
		free(s->out);
		s->out = o;
		s->out_head = 0;
		s->out_cap *= 2;
	}
	ws_outmsg_t *m = &s->out[(s->out_head + s->out_n++) & (s->out_cap - 1)]; /* cap: a power of two */
	m->flow = (uint8_t)flow;
	if (!flow)
		s->out_client++;
	return m;
}

static const ws_outmsg_t *ws_out_pop(ws_sim_t *s)
{
	const ws_outmsg_t *m = &s->out[s->out_head];
	s->out_head = (s->out_head + 1) & (s->out_cap - 1);
	s->out_n--;
	if (!m->flow)
		s->out_client--;
	return m;
}

/* -- messages ----------------------------------------------------------------------- */

static uint32_t ws_msg_system(uint8_t *p, uint8_t code)
{
	ws_itch_hdr(p, 'S', 0, 0, 0);
	p[11] = code;
	return 12;
}

static uint32_t ws_msg_directory(ws_sim_t *s, uint8_t *p, uint32_t i)
{
	ws_itch_hdr(p, 'R', (uint16_t)(s->cfg.symbol_base + i + 1), 0, 0);
	uint8_t *b = p + 11;
	memcpy(b, s->syms[i].stock, 8);
	b[8] = 'Q';          /* market category: NASDAQ Global Select */
	b[9] = 'N';          /* financial status: normal */
	ws_be32(b + 10, 100); /* round lot */
	b[14] = 'N';
	b[15] = 'C';         /* issue classification: common stock */
	b[16] = 'Z'; b[17] = ' ';
	b[18] = 'P';         /* authenticity: production */
	b[19] = 'N'; b[20] = 'N'; b[21] = '1'; b[22] = 'N';
	ws_be32(b + 23, 0);
	b[27] = 'N';
	return 39;
}

/* ws_msg_event writes the ITCH message of one engine event (0: none, an
 * order that never rested). The ITCH locate of engine book k is base + k. */
static uint32_t ws_msg_event(ws_sim_t *s, const ws_match_ev_t *ev, uint8_t *p)
{
	uint16_t loc = (uint16_t)(s->cfg.symbol_base + ev->locate);
	switch (ev->kind) {
	case WS_EV_ADD: {
		ws_itch_hdr(p, ev->attributed ? 'F' : 'A', loc, 0, 0);
		ws_be64(p + 11, ev->ref);
		p[19] = ev->side;
		ws_be32(p + 20, ev->qty);
		memcpy(p + 24, s->syms[ev->locate - 1].stock, 8);
		ws_be32(p + 32, ev->price);
		if (!ev->attributed)
			return 36;
		if (ev->owner && s->port)
			ws_port_firm(s->port, ev->owner, (char *)p + 36);
		else
			memcpy(p + 36, "WSIM", 4);
		return 40;
	}
	case WS_EV_EXEC:
		ws_itch_hdr(p, ev->with_price ? 'C' : 'E', loc, 0, 0);
		ws_be64(p + 11, ev->ref);
		ws_be32(p + 19, ev->qty);
		ws_be64(p + 23, ev->match);
		if (!ev->with_price)
			return 31;
		p[31] = 'Y';
		ws_be32(p + 32, ev->price);
		return 36;
	case WS_EV_CANCEL:
		if (!ev->rested)
			return 0;
		if (!ev->remaining) {
			ws_itch_hdr(p, 'D', loc, 0, 0);
			ws_be64(p + 11, ev->ref);
			return 19;
		}
		ws_itch_hdr(p, 'X', loc, 0, 0);
		ws_be64(p + 11, ev->ref);
		ws_be32(p + 19, ev->qty);
		return 23;
	case WS_EV_REPLACE:
		ws_itch_hdr(p, 'U', loc, 0, 0);
		ws_be64(p + 11, ev->ref);
		ws_be64(p + 19, ev->new_ref);
		ws_be32(p + 27, ev->qty);
		ws_be32(p + 31, ev->price);
		return 35;
	default:
		return 0;
	}
}

/* ws_sim_drain publishes what the books did: every event as its ITCH
 * message into the outbox, and the ones that name a client order to the
 * order port (its OUCH messages). flow: the simulator's own doing. */
static void ws_sim_drain(ws_sim_t *s, int flow)
{
	uint32_t n;
	const ws_match_ev_t *ev = ws_match_events(s->m, &n);
	for (uint32_t i = 0; i < n; i++) {
		if (ev[i].kind != WS_EV_CANCEL || ev[i].rested) { /* an order that never rested is not in the feed */
			ws_outmsg_t *o = ws_out_push(s, flow);
			if (o)
				o->len = (uint8_t)ws_msg_event(s, &ev[i], o->msg);
		}
		if (s->port && (ev[i].owner || ev[i].taker_owner))
			ws_port_event(s->port, &ev[i]);
	}
	ws_match_clear_events(s->m);
}

static void ws_drain_for_port(void *ctx) { ws_sim_drain(ctx, 0); }

static void ws_out_msg(ws_sim_t *s, const uint8_t *msg, uint32_t len)
{
	ws_outmsg_t *o = ws_out_push(s, 1);
	if (o) {
		o->len = (uint8_t)len;
		memcpy(o->msg, msg, len);
	}
}

static uint32_t ws_price_for(ws_sim_t *s, const ws_symbol_t *y, uint8_t side)
{
	/* 1..20 cents away from the mid, on the resting side: the simulator's own orders never cross */
	uint32_t away = (1 + ws_below(s, 20)) * 100u;
	return side == 'B' ? y->mid - away : y->mid + away;
}

/* One of book k's simulator orders, at random (its handle). */
static uint32_t ws_pick(ws_sim_t *s, uint16_t k)
{
	return ws_match_sim_order(s->m, k, ws_below(s, ws_match_sim_count(s->m, k)));
}

/* ws_flow is one action of the simulator's order flow, through the books:
 * its messages go to the outbox. The mix: A 40 %, F 4 %, D 43 %, U 8 %,
 * E 1.6 %, C 0.2 %, X 1.2 %, P 1.5 %, I 0.3 %, H 0.2 %. */
static void ws_flow(ws_sim_t *s)
{
	uint32_t si = ws_below(s, s->cfg.n_symbols);
	ws_symbol_t *y = &s->syms[si];
	uint16_t k = (uint16_t)(si + 1);                  /* the engine's book */
	uint16_t loc = (uint16_t)(s->cfg.symbol_base + k); /* ITCH's locate */
	uint32_t r = ws_below(s, 1000000); /* parts per million */
	uint32_t mine = ws_match_sim_count(s->m, k);
	int removal = r >= 440000 && r < 985000; /* D U E C X need a live order */
	uint8_t p[64];
	uint64_t ref;
	if (r < 440000 || (removal && !mine)) {
		if (mine == s->cfg.order_cap) {
			ws_match_reduce(s->m, ws_pick(s, k), 0);
		} else {
			uint8_t side = ws_below(s, 2) ? 'B' : 'S';
			uint32_t shares = 100u * (1 + ws_below(s, 10));
			ws_match_add(s->m, k, side, ws_price_for(s, y, side), shares, 0, 0, 0, r < 40000, &ref);
		}
	} else if (r >= 985000) {
		if (r < 1000000 - 5000) { /* P: a trade against a hidden order; the book is untouched */
			uint8_t side = ws_below(s, 2) ? 'B' : 'S';
			ws_itch_hdr(p, 'P', loc, 0, 0);
			ws_be64(p + 11, 0);
			p[19] = side;
			ws_be32(p + 20, 100u * (1 + ws_below(s, 5)));
			memcpy(p + 24, y->stock, 8);
			ws_be32(p + 32, y->mid);
			ws_be64(p + 36, ws_match_next_match(s->m));
			ws_out_msg(s, p, 44);
		} else if (r < 1000000 - 2000) { /* I: net order imbalance indicator */
			ws_itch_hdr(p, 'I', loc, 0, 0);
			uint8_t *b = p + 11;
			ws_be64(b, 100u * ws_below(s, 1000));
			ws_be64(b + 8, 100u * ws_below(s, 100));
			b[16] = ws_below(s, 2) ? 'B' : 'S';
			memcpy(b + 17, y->stock, 8);
			ws_be32(b + 25, y->mid);
			ws_be32(b + 29, y->mid);
			ws_be32(b + 33, y->mid);
			b[37] = 'C';
			b[38] = 'L';
			ws_out_msg(s, p, 50);
		} else { /* H: still trading (a state refresh) */
			ws_itch_hdr(p, 'H', loc, 0, 0);
			memcpy(p + 11, y->stock, 8);
			p[19] = 'T';
			p[20] = ' ';
			memcpy(p + 21, "    ", 4);
			ws_out_msg(s, p, 25);
		}
	} else if (r < 870000) { /* D */
		ws_match_reduce(s->m, ws_pick(s, k), 0);
	} else if (r < 950000) { /* U: new reference, new size and price, same side */
		uint32_t h = ws_pick(s, k), price, qty, owner;
		uint64_t tag;
		uint8_t side;
		ws_match_order(s->m, h, &ref, &side, &price, &qty, &owner, &tag);
		uint32_t shares = 100u * (1 + ws_below(s, 10));
		ws_match_replace(s->m, h, ws_price_for(s, y, side), shares, 0, &ref);
	} else if (r < 972000) { /* E or C: execute part or all of the order first in line */
		uint8_t side = ws_below(s, 2) ? 'B' : 'S';
		uint32_t h = ws_match_front(s->m, k, side), price, qty, owner;
		uint64_t tag;
		uint8_t oside;
		ws_match_order(s->m, h, &ref, &oside, &price, &qty, &owner, &tag);
		uint32_t n = qty > 100 && ws_below(s, 2) ? 100u * (1 + ws_below(s, qty / 100 - 1)) : qty;
		ws_match_execute_front(s->m, k, side, n, r >= 970000);
	} else { /* X: cancel part of the order, leaving at least one round lot */
		uint32_t h = ws_pick(s, k), price, qty, owner;
		uint64_t tag;
		uint8_t side;
		ws_match_order(s->m, h, &ref, &side, &price, &qty, &owner, &tag);
		ws_match_reduce(s->m, h, qty <= 100 ? 0 : qty - 100u * (1 + ws_below(s, qty / 100 - 1)));
	}
	ws_sim_drain(s, 1);
}

/* ws_next puts the session's next message(s) into the outbox; 0 when it is over. */
static int ws_next(ws_sim_t *s)
{
	uint8_t p[64];
	switch (s->phase) {
	case PH_START_O: s->phase = PH_DIRECTORY; ws_out_msg(s, p, ws_msg_system(p, 'O')); return 1;
	case PH_DIRECTORY: {
		ws_out_msg(s, p, ws_msg_directory(s, p, s->dir_idx++));
		if (s->dir_idx == s->cfg.n_symbols)
			s->phase = PH_START_S;
		return 1;
	}
	case PH_START_S: s->phase = PH_START_Q; ws_out_msg(s, p, ws_msg_system(p, 'S')); return 1;
	case PH_START_Q: s->phase = PH_TRADING; ws_out_msg(s, p, ws_msg_system(p, 'Q')); return 1;
	case PH_TRADING:
		if (!s->cfg.total_msgs || s->flow_sent < s->cfg.total_msgs) {
			s->flow_sent++;
			ws_flow(s);
			return 1;
		}
		s->phase = PH_END_M;
		if (s->port)
			ws_port_close_market(s->port);
		/* fall through */
	case PH_END_M: s->phase = PH_END_E; ws_out_msg(s, p, ws_msg_system(p, 'M')); return 1;
	case PH_END_E: s->phase = PH_END_C; ws_out_msg(s, p, ws_msg_system(p, 'E')); return 1;
	case PH_END_C: s->phase = PH_EOS; ws_out_msg(s, p, ws_msg_system(p, 'C')); return 1;
	default: return 0;
	}
}

/* Messages are copied WS_MSG_COPY bytes at a time, whatever their length:
 * a fixed size compiles to a few vector moves, a variable one to `rep
 * movs`, which cost a third of the packet builder. Every buffer a message
 * is copied into has that much room. */
#define WS_MSG_COPY 50u

static void ws_hist_put(ws_sim_t *s, uint64_t seq, const uint8_t *msg, uint32_t len)
{
	uint64_t pos = s->hist_pos;
	uint64_t off = pos & s->hist_buf_mask;
	if (off + WS_MSG_COPY > s->hist_buf_sz) {
		pos += s->hist_buf_sz - off; /* never straddle the end */
		off = 0;
	}
	memcpy(s->hist_buf + off, msg, WS_MSG_COPY);
	s->hist_off[seq & s->hist_mask] = (pos << 8) | len;
	s->hist_pos = pos + len;
}

uint32_t ws_sim_packet(ws_sim_t *s, uint8_t *pkt, uint32_t max_flow, uint64_t ts, uint32_t *count, uint32_t *flow)
{
	memcpy(pkt, s->cfg.session, 10);
	ws_be64(pkt + 10, s->seq);
	*flow = 0;
	if (s->phase == PH_EOS && !s->out_n) {
		ws_be16(pkt + 18, WS_MOLD_EOS);
		*count = WS_MOLD_EOS;
		return WS_MOLD_HDR;
	}
	uint32_t off = WS_MOLD_HDR, n = 0, nf = 0;
	while (off + 2 + 50 <= s->cfg.max_payload) {
		if (!s->out_n) {
			/* the next of the simulator's messages, if its budget allows */
			if (nf >= max_flow || !ws_next(s))
				break;
			continue;
		}
		const ws_outmsg_t *m = ws_out_pop(s);
		uint8_t *dst = pkt + off + 2;
		memcpy(dst, m->msg, WS_MSG_COPY); /* the loop's bound leaves room for it */
		ws_be48(dst + 5, ts);
		ws_be16(pkt + off, m->len);
		ws_hist_put(s, s->seq + n, dst, m->len);
		s->st.by_type[dst[0] & 127]++;
		nf += m->flow;
		off += 2 + m->len;
		n++;
	}
	ws_be16(pkt + 18, (uint16_t)n);
	s->seq += n;
	s->st.msgs += n;
	s->st.next_seq = s->seq;
	*count = n;
	*flow = nf;
	return off;
}

uint32_t ws_sim_retransmit(ws_sim_t *s, uint64_t seq, uint32_t count, uint8_t *pkt)
{
	uint64_t oldest = s->seq > s->hist_mask + 1 ? s->seq - s->hist_mask - 1 : 1;
	memcpy(pkt, s->cfg.session, 10);
	ws_be64(pkt + 10, seq);
	uint32_t off = WS_MOLD_HDR, n = 0;
	for (uint64_t q = seq; n < count && q < s->seq && q >= oldest; q++, n++) {
		uint64_t e = s->hist_off[q & s->hist_mask];
		uint64_t pos = e >> 8;
		uint32_t len = (uint32_t)(e & 0xff);
		if (s->hist_pos - pos + WS_MSG_COPY > s->hist_buf_sz || off + 2 + len > s->cfg.max_payload)
			break; /* bytes already overwritten, or the reply is full */
		ws_be16(pkt + off, (uint16_t)len);
		memcpy(pkt + off + 2, s->hist_buf + (pos & s->hist_buf_mask), len);
		off += 2 + len;
	}
	if (!n)
		return 0;
	ws_be16(pkt + 18, (uint16_t)n);
	s->st.rtx_msgs += n;
	return off;
}

/* -- the send loop ------------------------------------------------------------------ */

#define WS_BATCH 64
#define WS_DELAY_Q 4096

typedef struct {
	uint8_t data[9000];
	uint32_t len;
	uint64_t due_ns;
	uint32_t line;
} ws_held_t;

typedef struct {
	struct mmsghdr msgs[WS_BATCH];
	struct iovec iov[WS_BATCH];
	uint64_t seq[WS_BATCH];  /* the packet's first message (0: not a data packet), for the sent log */
	uint32_t n;
} ws_batch_t;

struct ws_runner {
	ws_sim_t *s;
	const ws_sim_run_cfg_t *rc;
	ws_batch_t batch[WS_SIM_MAX_LINES];
	uint8_t (*bufs)[9100];          /* datagrams (or whole frames) referenced by the batches */
	uint32_t nbufs;
	ws_held_t *reorder[WS_SIM_MAX_LINES];
	ws_held_t *delayq;
	uint32_t n_delayed;
	uint64_t last_send_ns;
	uint64_t last_poll_ns; /* of the order port */
	struct { uint32_t addr; uint16_t port; uint64_t window_ns; uint32_t used; } req[64];
};

/* ws_read_tx_stamps takes every TX stamp waiting on a raw line's error
 * queue (non-blocking) and writes it into the sent log's entries
 * first..end-1 (the batch just sent), matched by the MoldUDP64 sequence
 * number in the frame the kernel returns with it. The stamp is taken in
 * the driver's transmit, which on veth runs inside the send call, so the
 * queue holds the batch's stamps by the time the call returns. */
static void ws_read_tx_stamps(ws_sim_t *s, int fd, uint64_t first, uint64_t end)
{
	enum { ETH = 14, UDP = 8, MOLD_SEQ = 10 };
	uint8_t frame[ETH + 60 + UDP + MOLD_SEQ + 8 + 2];
	union {
		char buf[CMSG_SPACE(sizeof(struct scm_timestamping)) + CMSG_SPACE(sizeof(struct sock_extended_err) + 16)];
		struct cmsghdr align;
	} ctl;
	uint64_t at_log = first;
	for (;;) {
		struct iovec iov = {frame, sizeof(frame)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
		                    .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0)
			return; /* EAGAIN: all read */
		uint64_t ts = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
				struct scm_timestamping t;
				memcpy(&t, CMSG_DATA(c), sizeof(t));
				ts = (uint64_t)t.ts[0].tv_sec * 1000000000ull + (uint64_t)t.ts[0].tv_nsec;
			}
		uint32_t ihl = n > ETH ? (uint32_t)(frame[ETH] & 0x0f) * 4 : 0;
		uint32_t at = ETH + ihl + UDP + MOLD_SEQ;
		if (!ts || ihl < 20 || (size_t)n < at + 10) {
			s->st.tx_stamps_unmatched++;
			continue;
		}
		uint64_t seq = 0;
		for (int i = 0; i < 8; i++)
			seq = seq << 8 | frame[at + i];
		uint32_t count = (uint32_t)frame[at + 8] << 8 | frame[at + 9];
		if (count == 0 || count == 0xffff)
			continue; /* a heartbeat or the end of session: not in the log */
		s->st.tx_stamps++;
		/* stamps come back in send order: look from the last match on, then wrap */
		uint64_t i = at_log, tries = end - first;
		while (tries && (s->sent_log[i].seq != seq || s->sent_log[i].tx_ns)) {
			i = i + 1 < end ? i + 1 : first;
			tries--;
		}
		if (tries) {
			s->sent_log[i].tx_ns = ts;
			at_log = i + 1 < end ? i + 1 : first;
		} else {
			s->st.tx_stamps_unmatched++;
		}
	}
}

static void ws_flush(struct ws_runner *w, uint32_t line)
{
	ws_batch_t *b = &w->batch[line];
	ws_sim_t *s = w->s;
	uint64_t log_first = s->sent_n < s->log_cap ? s->sent_n : s->log_cap;
	if (s->sent_log && b->n) { /* stamped as the send call starts: on veth the call runs the receiver too */
		uint64_t t = ws_epoch_ns();
		for (uint32_t i = 0; i < b->n; i++)
			if (b->seq[i] && s->sent_n++ < s->log_cap)
				s->sent_log[s->sent_n - 1] = (ws_sim_sent_t){.seq = b->seq[i], .ns = t};
	}
	uint64_t log_end = s->sent_n < s->log_cap ? s->sent_n : s->log_cap;
	ws_udp_tx_t *xsk = w->rc->lines[line].xsk;
	uint32_t flow = w->rc->lines[line].xsk_flow;
	if (xsk) { /* pre-armed frames: each datagram is a patched frame and a descriptor */
		for (uint32_t i = 0; i < b->n; i++) {
			int rc = ws_udp_tx_send(xsk, flow, b->iov[i].iov_base, (uint32_t)b->iov[i].iov_len);
			for (int tries = 0; rc == -ENOBUFS && tries < 1000; tries++) { /* every frame in flight: wait */
				ws_udp_tx_reap(xsk);
				rc = ws_udp_tx_send(xsk, flow, b->iov[i].iov_base, (uint32_t)b->iov[i].iov_len);
			}
			if (rc)
				w->s->st.send_errors++;
			else
				w->s->st.sent_pkts[line]++;
		}
		ws_udp_tx_reap(xsk);
		b->n = 0;
		w->last_send_ns = ws_mono_ns();
		return;
	}
	uint32_t done = 0;
	while (done < b->n) {
		int k = sendmmsg(w->rc->lines[line].fd, b->msgs + done, b->n - done, 0);
		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			w->s->st.send_errors++; /* skip the refused datagram, keep the rest */
			done++;
			continue;
		}
		w->s->st.sent_pkts[line] += (uint64_t)k;
		done += (uint32_t)k;
	}
	if (w->rc->tx_stamps && w->rc->lines[line].raw && s->sent_log)
		ws_read_tx_stamps(s, w->rc->lines[line].fd, log_first, log_end);
	b->n = 0;
	w->last_send_ns = ws_mono_ns();
}

static void ws_flush_all(struct ws_runner *w)
{
	for (uint32_t l = 0; l < w->rc->n_lines; l++)
		ws_flush(w, l);
	w->nbufs = 0;
}

/* ws_queue adds a datagram to a line's batch (copied into the runner's
 * buffers; in raw mode behind the frame headers it writes). */
static void ws_queue(struct ws_runner *w, uint32_t line, const uint8_t *pkt, uint32_t len, uint64_t seq)
{
	if (w->batch[line].n == WS_BATCH || w->nbufs == WS_BATCH * WS_SIM_MAX_LINES)
		ws_flush_all(w);
	const ws_sim_line_t *l = &w->rc->lines[line];
	uint8_t *buf = w->bufs[w->nbufs++];
	if (l->raw) {
		memcpy(buf + WS_FRAME_HDR, pkt, len);
		ws_frame_udp4(buf, NULL, l->src_mac, l->src_ip, l->dst.sin_addr.s_addr, htons(l->sport), l->dst.sin_port,
		              l->ttl, len);
		len += WS_FRAME_HDR;
	} else {
		memcpy(buf, pkt, len);
	}
	ws_batch_t *b = &w->batch[line];
	b->seq[b->n] = seq;
	struct mmsghdr *m = &b->msgs[b->n];
	b->iov[b->n].iov_base = buf;
	b->iov[b->n].iov_len = len;
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_iov = &b->iov[b->n];
	m->msg_hdr.msg_iovlen = 1;
	if (!l->raw) { /* a raw socket is bound to its interface and takes whole frames */
		m->msg_hdr.msg_name = (void *)&l->dst;
		m->msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
	}
	b->n++;
}

/* ws_in_ranges: 1 if messages lo..hi meet a range of this kind. */
static int ws_in_ranges(const ws_sim_faults_t *f, uint64_t lo, uint64_t hi, uint8_t kind)
{
	for (uint32_t i = 0; i < f->n_ranges; i++)
		if (f->range_kind[i] == kind && lo <= f->range_hi[i] && f->range_lo[i] <= hi)
			return 1;
	return 0;
}

static int ws_fault(ws_sim_t *s, const ws_sim_faults_t *f, uint32_t ppm, uint64_t seq, uint32_t count, uint8_t kind)
{
	return (f->n_ranges && ws_in_ranges(f, seq, seq + count - 1, kind)) || (ppm && ws_below(s, 1000000) < ppm);
}

/* ws_send_line applies the line's faults to one packet and queues what is sent. */
static void ws_send_line(struct ws_runner *w, uint32_t line, const uint8_t *pkt, uint32_t len, uint64_t seq,
                         uint32_t count, uint64_t now)
{
	ws_sim_t *s = w->s;
	const ws_sim_faults_t *f = &w->rc->lines[line].faults;
	int data = count && count != WS_MOLD_EOS;
	if (data && ws_fault(s, f, f->drop_ppm, seq, count, WS_FAULT_DROP)) {
		s->st.dropped[line]++;
		return;
	}
	if (data && w->n_delayed < WS_DELAY_Q && ws_fault(s, f, f->delay_ppm, seq, count, WS_FAULT_DELAY)) {
		ws_held_t *h = &w->delayq[w->n_delayed++];
		memcpy(h->data, pkt, len);
		h->len = len;
		h->line = line;
		h->due_ns = now + (uint64_t)f->delay_us * 1000u;
		s->st.delayed[line]++;
		return;
	}
	if (data && !w->reorder[line]->len && ws_fault(s, f, f->reorder_ppm, seq, count, WS_FAULT_REORDER)) {
		memcpy(w->reorder[line]->data, pkt, len); /* held back: goes out after the next one */
		w->reorder[line]->len = len;
		s->st.reordered[line]++;
		return;
	}
	ws_queue(w, line, pkt, len, data ? seq : 0);
	if (w->reorder[line]->len) {
		ws_queue(w, line, w->reorder[line]->data, w->reorder[line]->len, 0);
		w->reorder[line]->len = 0;
	}
	if (data && ws_fault(s, f, f->dup_ppm, seq, count, WS_FAULT_DUP)) {
		ws_queue(w, line, pkt, len, 0);
		s->st.duplicated[line]++;
	}
}

static void ws_release_delayed(struct ws_runner *w, uint64_t now, int all)
{
	for (uint32_t i = 0; i < w->n_delayed;) {
		ws_held_t *h = &w->delayq[i];
		if (all || h->due_ns <= now) {
			ws_queue(w, h->line, h->data, h->len, 0);
			w->delayq[i] = w->delayq[--w->n_delayed];
		} else {
			i++;
		}
	}
}

/* ws_serve_requests answers MoldUDP64 re-requests: only from the allowed
 * network, only for this session and known sequences, one reply packet per
 * request, at most rtx_rate replies per second per requester. */
static void ws_serve_requests(struct ws_runner *w, uint64_t now)
{
	const ws_sim_run_cfg_t *rc = w->rc;
	ws_sim_t *s = w->s;
	uint8_t req[64], reply[9000];
	for (int i = 0; i < 32; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(rc->rtx_fd, req, sizeof(req), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		s->st.rtx_requests++;
		if ((from.sin_addr.s_addr & rc->rtx_allow_mask) != (rc->rtx_allow_net & rc->rtx_allow_mask)) {
			s->st.rtx_refused_addr++;
			continue;
		}
		if (n != WS_MOLD_HDR || memcmp(req, s->cfg.session, 10)) {
			s->st.rtx_bad++;
			continue;
		}
		uint64_t seq = ws_rd64(req + 10);
		uint32_t count = ws_rd16(req + 18);
		if (!seq || !count || count == WS_MOLD_EOS || seq >= s->seq) {
			s->st.rtx_bad++;
			continue;
		}
		uint32_t h = (from.sin_addr.s_addr * 2654435761u ^ from.sin_port) & 63;
		if (w->req[h].addr != from.sin_addr.s_addr || w->req[h].port != from.sin_port ||
		    now - w->req[h].window_ns >= 1000000000ull) {
			w->req[h].addr = from.sin_addr.s_addr;
			w->req[h].port = from.sin_port;
			w->req[h].window_ns = now;
			w->req[h].used = 0;
		}
		if (w->req[h].used >= rc->rtx_rate) {
			s->st.rtx_rate_limited++;
			continue;
		}
		w->req[h].used++;
		uint32_t len = ws_sim_retransmit(s, seq, count, reply);
		if (len && sendto(rc->rtx_fd, reply, len, 0, (struct sockaddr *)&from, fl) == (ssize_t)len)
			s->st.rtx_answered++;
	}
}

static void ws_wait_until(uint64_t target_ns)
{
	uint64_t now = ws_mono_ns();
	if (target_ns > now + 200000) { /* far: sleep, leaving 100 us to spin */
		uint64_t t = target_ns - 100000;
		struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	while (ws_mono_ns() < target_ns)
		__asm__ __volatile__("" ::: "memory");
}

/* ws_wait is ws_wait_until serving the order port meanwhile: it returns
 * early when a client's doing left messages to publish. */
static void ws_wait(struct ws_runner *w, uint64_t target_ns)
{
	ws_sim_t *s = w->s;
	if (!s->port) {
		ws_wait_until(target_ns);
		return;
	}
	for (;;) {
		uint64_t now = ws_mono_ns();
		if (now >= target_ns || s->out_client || atomic_load_explicit(&s->stop, memory_order_relaxed))
			return;
		uint64_t left = target_ns - now;
		ws_port_poll(s->port, left > 200000 ? left - 100000 : 0); /* the last 100 us: look, do not sleep */
		w->last_poll_ns = ws_mono_ns();
	}
}

int ws_sim_run(ws_sim_t *s, const ws_sim_run_cfg_t *rc)
{
	if (!rc->n_lines || rc->n_lines > WS_SIM_MAX_LINES)
		return -EINVAL;
	struct ws_runner *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->s = s;
	w->rc = rc;
	w->bufs = malloc((size_t)WS_BATCH * WS_SIM_MAX_LINES * sizeof(*w->bufs));
	w->delayq = malloc(sizeof(ws_held_t) * WS_DELAY_Q);
	for (uint32_t l = 0; l < WS_SIM_MAX_LINES; l++)
		w->reorder[l] = calloc(1, sizeof(ws_held_t));
	int rc_err = 0;
	if (!w->bufs || !w->delayq || !w->reorder[0] || !w->reorder[1] || !w->reorder[2] || !w->reorder[3]) {
		rc_err = -ENOMEM;
		goto out;
	}
	if (rc->stamp_log && !s->sent_log) {
		s->log_cap = rc->stamp_log;
		s->sent_log = malloc((size_t)rc->stamp_log * sizeof(*s->sent_log));
		s->order_log = malloc((size_t)rc->stamp_log * sizeof(*s->order_log));
		if (!s->sent_log || !s->order_log) {
			rc_err = -ENOMEM;
			goto out;
		}
	}
	if (rc->tx_stamps && s->sent_log) /* software TX stamps, with the frame's first bytes to match them by */
		for (uint32_t l = 0; l < rc->n_lines; l++) {
			int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
			if (rc->lines[l].raw && setsockopt(rc->lines[l].fd, SOL_SOCKET, SO_TIMESTAMPING, &flags,
			                                   sizeof(flags)) < 0) {
				rc_err = -errno;
				goto out;
			}
		}
	if (rc->port) {
		ws_port_env_t env = {.engine = s->m, .n_symbols = s->cfg.n_symbols,
		                     .symbols = (const char(*)[8])s->stocks, .drain = ws_drain_for_port, .ctx = s,
		                     .stamps = s->order_log, .stamp_cap = s->log_cap, .stamp_n = &s->order_n};
		s->port = ws_port_new(rc->port, &env, &s->port_st);
		if (!s->port) {
			rc_err = -EINVAL;
			goto out;
		}
	}
	uint8_t pkt[9000];
	uint64_t t0 = ws_mono_ns(), sent = 0, eos_left = rc->eos_repeats ? rc->eos_repeats : 3;
	uint64_t hb_ns = (uint64_t)(rc->heartbeat_ms ? rc->heartbeat_ms : 1000) * 1000000ull;
	uint64_t end_ns = rc->duration_s > 0 ? t0 + (uint64_t)(rc->duration_s * 1e9) : UINT64_MAX;
	uint64_t iter = 0;
	w->last_send_ns = t0;
	s->st.start_ns = t0;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		uint64_t now = ws_mono_ns();
		if (now >= end_ns && s->phase == PH_TRADING)
			s->cfg.total_msgs = s->flow_sent ? s->flow_sent : 1; /* time is up: end the session */
		/* how many messages are due by now */
		uint64_t due;
		if (rc->rate <= 0)
			due = sent + 1000000;
		else if (rc->burst)
			due = ((uint64_t)((double)(now - t0) * rc->rate / 1e9 / rc->burst) + 1) * rc->burst;
		else
			due = (uint64_t)((double)(now - t0) * rc->rate / 1e9) + 1;
		/* a stated fill: the next packet carries `cap` of the flow's messages,
		 * so it waits until that many are due (as a sender flushing on time
		 * would have gathered them), unless the session ends first */
		uint64_t cap = rc->fill ? rc->fill[ws_mix(s->st.packets) & (rc->fill_n - 1)] : 0;
		int hold = cap && s->phase == PH_TRADING && !s->out_client && due > sent && due - sent < cap &&
		           (!s->cfg.total_msgs || s->cfg.total_msgs - s->flow_sent > due - sent) && now < end_ns;
		if (!hold && (due > sent || s->out_client || s->phase == PH_EOS)) {
			/* the paced flow that is due, and what clients' orders did at once */
			uint64_t want = due > sent ? due - sent : s->phase == PH_EOS;
			if (cap && want > cap)
				want = cap;
			uint32_t count, nflow;
			uint64_t first = s->seq;
			uint32_t len = ws_sim_packet(s, pkt, want > 0xfffe ? 0xfffe : (uint32_t)want, ws_midnight_ns(),
			                             &count, &nflow);
			if (!count)
				continue;
			s->st.packets++;
			s->st.bytes += len;
			for (uint32_t l = 0; l < rc->n_lines; l++)
				ws_send_line(w, l, pkt, len, first, count, now);
			if (count == WS_MOLD_EOS) {
				ws_release_delayed(w, now, 1);
				ws_flush_all(w);
				if (!s->st.end_ns) /* the session's span ends here, not after the repeats */
					s->st.end_ns = ws_mono_ns();
				if (!--eos_left)
					break;
				ws_wait(w, ws_mono_ns() + 1000000); /* spread the repeats */
				continue;
			}
			sent += nflow;
			if (w->nbufs >= WS_BATCH / 2 || due <= sent || s->out_client) {
				ws_release_delayed(w, now, 0);
				ws_flush_all(w);
			}
			/* sending flat out: still answer clients (last_poll_ns may be later than `now`) */
			if (s->port && now >= w->last_poll_ns + 20000) {
				ws_port_poll(s->port, 0);
				w->last_poll_ns = now;
			}
		} else {
			ws_release_delayed(w, now, 0);
			ws_flush_all(w);
			if (rc->rtx_fd >= 0)
				ws_serve_requests(w, now);
			/* a fresh clock: last_send_ns was set by the flush above, after `now` */
			if (ws_mono_ns() - w->last_send_ns >= hb_ns) {
				uint8_t hb[WS_MOLD_HDR];
				memcpy(hb, s->cfg.session, 10);
				ws_be64(hb + 10, s->seq);
				ws_be16(hb + 18, WS_MOLD_HEARTBEAT);
				for (uint32_t l = 0; l < rc->n_lines; l++)
					ws_queue(w, l, hb, WS_MOLD_HDR, 0);
				ws_flush_all(w);
				s->st.heartbeats++;
			}
			/* the next message (or burst; with a fill, the packet's last) is due at t0 + sent / rate */
			uint64_t target = t0 + (uint64_t)((double)(sent + (hold ? cap - 1 : 0)) / rc->rate * 1e9);
			if (target > end_ns)
				target = end_ns;
			if (rc->rtx_fd >= 0 && target > now + 1000000)
				target = now + 1000000; /* look at requests at least every millisecond */
			ws_wait(w, target);
		}
		if (rc->rtx_fd >= 0 && !(++iter & 255))
			ws_serve_requests(w, now);
	}
	ws_release_delayed(w, ws_mono_ns(), 1);
	ws_flush_all(w);
	if (!s->st.end_ns)
		s->st.end_ns = ws_mono_ns();
	if (s->port) {
		ws_port_end(s->port, 200);
		ws_port_delete(s->port);
		s->port = NULL;
	}
out:
	for (uint32_t l = 0; l < WS_SIM_MAX_LINES; l++)
		free(w->reorder[l]);
	free(w->delayq);
	free(w->bufs);
	free(w);
	return rc_err;
}
