/* orders/risk.c - pre-trade risk checks; see risk.h. */
#include "orders/risk.h"

#include <stdlib.h>
#include <string.h>

const char *const ws_risk_check_names[WS_RISK_CHECKS] = {
	"ok", "kill_switch", "restricted_symbol", "max_order_qty", "max_order_notional", "stale_book",
	"no_reference", "price_collar", "position", "gross_notional", "open_orders", "order_rate",
	"duplicate_order",
};

#define WS_DUP_SLOTS 8192u /* direct-mapped: a collision forgets the older order (see ws_dup_slot) */
#define WS_MAX_RATE 1000000u

typedef struct {
	uint64_t at_ns;  /* 0: empty */
	uint32_t sym, qty, price;
	char side;
} ws_dup_t;

struct ws_risk {
	ws_risk_limits_t lim;
	uint32_t n;
	ws_risk_symbol_t *sym;
	uint64_t open_orders;
	int killed;
	uint64_t *sends;         /* ring of the last max_orders_per_s send times */
	uint32_t sends_cap, sends_head, sends_n;
	ws_dup_t *dup;
	uint64_t refused[WS_RISK_CHECKS];
};

ws_risk_t *ws_risk_new(const ws_risk_limits_t *lim, const ws_risk_symbol_limits_t *sym, uint32_t n_symbols)
{
	if (!lim || !n_symbols || n_symbols > 65535)
		return NULL;
	ws_risk_t *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->n = n_symbols;
	r->sym = calloc(n_symbols, sizeof(*r->sym));
	r->sends = calloc(WS_MAX_RATE, sizeof(*r->sends)); /* virtual until used: pages only for the limit set */
	r->dup = calloc(WS_DUP_SLOTS, sizeof(*r->dup));
	if (!r->sym || !r->sends || !r->dup) {
		ws_risk_delete(r);
		return NULL;
	}
	for (uint32_t i = 0; i < n_symbols && sym; i++)
		r->sym[i].lim = *sym;
	ws_risk_set_limits(r, lim);
	return r;
}

void ws_risk_delete(ws_risk_t *r)
{
	if (!r)
		return;
	free(r->sym);
	free(r->sends);
	free(r->dup);
	free(r);
}

void ws_risk_set_limits(ws_risk_t *r, const ws_risk_limits_t *lim)
{
	r->lim = *lim;
	if (r->lim.max_orders_per_s > WS_MAX_RATE)
		r->lim.max_orders_per_s = WS_MAX_RATE;
	if (r->lim.max_orders_per_s != r->sends_cap) { /* a new window: start it empty */
		r->sends_cap = r->lim.max_orders_per_s;
		r->sends_head = r->sends_n = 0;
	}
}

int ws_risk_set_symbol(ws_risk_t *r, uint32_t sym, const ws_risk_symbol_limits_t *lim)
{
	if (sym >= r->n)
		return -1;
	r->sym[sym].lim = *lim;
	return 0;
}

const ws_risk_limits_t *ws_risk_limits(const ws_risk_t *r) { return &r->lim; }
const ws_risk_symbol_t *ws_risk_symbol(const ws_risk_t *r, uint32_t sym) { return sym < r->n ? &r->sym[sym] : NULL; }
void ws_risk_kill(ws_risk_t *r, int on) { r->killed = !!on; }
int ws_risk_killed(const ws_risk_t *r) { return r->killed; }
uint64_t ws_risk_open_orders(const ws_risk_t *r) { return r->open_orders; }
const uint64_t *ws_risk_refusals(const ws_risk_t *r) { return r->refused; }

static inline int ws_sd(char side) { return side == 'B' ? 0 : 1; }

static inline uint32_t ws_dup_slot(uint32_t sym, char side, uint32_t qty, uint32_t price)
{
	uint64_t k = ((uint64_t)sym << 33) ^ ((uint64_t)(side == 'B') << 32) ^ ((uint64_t)qty * 0x9E3779B1u) ^ price;
	k *= 0x9E3779B97F4A7C15ull;
	return (uint32_t)(k >> 40) & (WS_DUP_SLOTS - 1);
}

/* Rate: the oldest of the last max_orders_per_s sends must be a second old. */
static int ws_rate_ok(const ws_risk_t *r, uint64_t now)
{
	if (!r->sends_cap || r->sends_n < r->sends_cap)
		return 1;
	uint64_t oldest = r->sends[r->sends_head]; /* head: the next slot written, the oldest held */
	return now - oldest >= 1000000000ull;
}

/* The collar: a buy may pay at most collar_bp above the best ask (the best
 * bid when no ask), a sell take at most collar_bp below the best bid. */
static int ws_collar(const ws_risk_t *r, char side, uint32_t price, const ws_risk_ref_t *ref)
{
	if (!ref || !ref->known)
		return WS_RISK_NO_REFERENCE;
	if (ref->stale)
		return WS_RISK_STALE_BOOK;
	uint64_t bp = r->lim.collar_bp;
	if (side == 'B') {
		uint64_t px = ref->ask ? ref->ask : ref->bid;
		if (!px)
			return WS_RISK_NO_REFERENCE;
		return (uint64_t)price * 10000u > px * (10000u + bp) ? WS_RISK_PRICE_COLLAR : WS_RISK_OK;
	}
	uint64_t px = ref->bid ? ref->bid : ref->ask;
	if (!px)
		return WS_RISK_NO_REFERENCE;
	return (uint64_t)price * 10000u + px * bp < px * 10000u ? WS_RISK_PRICE_COLLAR : WS_RISK_OK;
}

static int ws_verdict(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t price, uint32_t rprice,
                      const ws_risk_ref_t *ref, const uint32_t replacing[2], uint64_t now)
{
	const ws_risk_limits_t *L = &r->lim;
	if (r->killed)
		return WS_RISK_KILL_SWITCH;
	const ws_risk_symbol_t *s = &r->sym[sym];
	if (s->lim.restricted)
		return WS_RISK_RESTRICTED;
	uint64_t notional = (uint64_t)qty * rprice;
	if (L->max_order_qty && qty > L->max_order_qty)
		return WS_RISK_MAX_ORDER_QTY;
	if (L->max_order_notional && notional > L->max_order_notional)
		return WS_RISK_MAX_ORDER_NOTIONAL;
	if (L->collar_bp) {
		int c = ws_collar(r, side, price, ref);
		if (c)
			return c;
	}
	int sd = ws_sd(side);
	uint64_t open_q = s->open_qty[sd], open_n = s->open_notional[0] + s->open_notional[1];
	if (replacing) { /* the order replaced gives its reservation back */
		open_q -= replacing[0] <= open_q ? replacing[0] : open_q;
		uint64_t rn = (uint64_t)replacing[0] * replacing[1];
		open_n -= rn <= open_n ? rn : open_n;
	}
	if (s->lim.max_position) {
		/* worst case: every open order on this side fills, then this one */
		int64_t after = sd == 0 ? s->position + (int64_t)(open_q + qty) : s->position - (int64_t)(open_q + qty);
		uint64_t mag = after < 0 ? (uint64_t)(-after) : (uint64_t)after;
		if (mag > s->lim.max_position)
			return WS_RISK_POSITION;
	}
	if (s->lim.max_gross_notional &&
	    s->exec_notional[0] + s->exec_notional[1] + open_n + notional > s->lim.max_gross_notional)
		return WS_RISK_GROSS_NOTIONAL;
	if (L->max_open_orders && !replacing && r->open_orders >= L->max_open_orders)
		return WS_RISK_OPEN_ORDERS;
	if (!ws_rate_ok(r, now))
		return WS_RISK_ORDER_RATE;
	if (L->dup_window_ms) {
		const ws_dup_t *d = &r->dup[ws_dup_slot(sym, side, qty, price)];
		if (d->at_ns && d->sym == sym && d->side == side && d->qty == qty && d->price == price &&
		    now - d->at_ns < (uint64_t)L->dup_window_ms * 1000000ull)
			return WS_RISK_DUPLICATE;
	}
	return WS_RISK_OK;
}

int ws_risk_check(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t price, uint32_t rprice,
                  const ws_risk_ref_t *ref, const uint32_t replacing[2], uint64_t now_ns)
{
	if (sym >= r->n) /* the session checks; a guard, never a pass */
		return WS_RISK_RESTRICTED;
	int v = ws_verdict(r, sym, side, qty, price, rprice, ref, replacing, now_ns);
	r->refused[v]++;
	return v;
}

void ws_risk_reserve(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t rprice)
{
	if (sym >= r->n)
		return;
	ws_risk_symbol_t *s = &r->sym[sym];
	int sd = ws_sd(side);
	s->open_qty[sd] += qty;
	s->open_notional[sd] += (uint64_t)qty * rprice;
	r->open_orders++;
}

void ws_risk_commit(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t price, uint32_t rprice,
                    uint64_t now_ns)
{
	if (sym >= r->n)
		return;
	ws_risk_reserve(r, sym, side, qty, rprice);
	if (r->sends_cap) {
		r->sends[r->sends_head] = now_ns;
		r->sends_head = r->sends_head + 1 == r->sends_cap ? 0 : r->sends_head + 1;
		if (r->sends_n < r->sends_cap)
			r->sends_n++;
	}
	ws_dup_t *d = &r->dup[ws_dup_slot(sym, side, qty, price)];
	*d = (ws_dup_t){.at_ns = now_ns ? now_ns : 1, .sym = sym, .qty = qty, .price = price, .side = side};
}

static inline uint64_t ws_sub(uint64_t a, uint64_t b) { return b <= a ? a - b : 0; }

void ws_risk_release(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t rprice, int done)
{
	if (sym >= r->n)
		return;
	ws_risk_symbol_t *s = &r->sym[sym];
	int sd = ws_sd(side);
	s->open_qty[sd] = ws_sub(s->open_qty[sd], qty);
	s->open_notional[sd] = ws_sub(s->open_notional[sd], (uint64_t)qty * rprice);
	if (done && r->open_orders)
		r->open_orders--;
}

void ws_risk_fill(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t rprice, uint32_t exec_price,
                  int done)
{
	if (sym >= r->n)
		return;
	ws_risk_release(r, sym, side, qty, rprice, done);
	ws_risk_symbol_t *s = &r->sym[sym];
	int sd = ws_sd(side);
	s->position += sd == 0 ? (int64_t)qty : -(int64_t)qty;
	s->exec_qty[sd] += qty;
	s->exec_notional[sd] += (uint64_t)qty * exec_price;
}
