/* trade/trader.c - ring -> books -> strategy -> order session; see trader.h. */
#include "trade/trader.h"

#include <stdlib.h>
#include <string.h>

#include "book/book.h"
#include "trade/bookref.h"
#include "system/clock.h"

struct ws_trader {
	ws_route_t *route;
	ws_books_t *books;
	ws_session_t *s;
	pthread_mutex_t *slock;    /* the session's, around each decision (NULL: none) */
	const ws_strategy_t *st;
	void *state;
	ws_bookref_t *br;          /* symbols <-> locates, and the collar's reference */
	uint32_t *working;         /* [sym * 2 + side]: UserRefNum of the REPRICE order (0: none) */
	ws_trader_stats_t stats;
};

static void ws_clordid_of(char out[14], uint64_t seq)
{
	for (int i = 13; i >= 0; i--) {
		out[i] = (char)('0' + seq % 10);
		seq /= 10;
	}
}

static uint32_t ws_working_price(const ws_trader_t *t, uint32_t k)
{
	const ws_order_t *o = t->working[k] ? ws_session_order(t->s, t->working[k]) : NULL;
	if (!o || !(o->state == WS_ORD_PENDING || o->state == WS_ORD_ACCEPTED || o->state == WS_ORD_PARTIAL) ||
	    o->replaced_by)
		return 0;
	return o->price;
}

static void ws_act(ws_trader_t *t, uint16_t sym, const ws_intent_t *in, uint64_t pkt_seq)
{
	char clordid[14];
	ws_clordid_of(clordid, pkt_seq);
	uint64_t now = ws_mono_ns();
	uint32_t k = (uint32_t)sym * 2 + (in->side == 'B' ? 0 : 1);
	uint32_t px = in->action == WS_INTENT_REPRICE ? ws_working_price(t, k) : 0;
	if (in->action == WS_INTENT_REPRICE && px == in->price) {
		t->stats.unchanged++;
		return;
	}
	int64_t rc;
	if (px) {
		const ws_order_t *o = ws_session_order(t->s, t->working[k]);
		rc = ws_session_replace(t->s, o->urn, o->filled + in->qty, in->price, clordid, now);
		if (rc > 0)
			t->stats.replaced++;
	} else {
		rc = ws_session_enter(t->s, sym, in->side, in->qty, in->price, in->tif, clordid, now);
		if (rc > 0)
			t->stats.entered++;
	}
	if (rc > 0) {
		if (in->action == WS_INTENT_REPRICE)
			t->working[k] = (uint32_t)rc;
		return;
	}
	t->stats.refused++;
	t->stats.last_refusal = (uint64_t)-rc;
}

/* ws_books_on_bbo's hook: a change of one of the session's symbols goes to the strategy. */
static void ws_on_bbo(void *ctx, const ws_bbo_change_t *c)
{
	ws_trader_t *t = ctx;
	int sym = ws_bookref_sym(t->br, c->locate);
	if (sym < 0) { /* perhaps named by an R earlier in this very packet: map again (a compare if not) */
		ws_bookref_map(t->br);
		if ((sym = ws_bookref_sym(t->br, c->locate)) < 0)
			return;
	}
	if (t->slock && pthread_mutex_lock(t->slock)) {
		t->stats.lock_errors++;
		return;
	}
	const ws_risk_symbol_t *r = ws_risk_symbol(ws_session_risk(t->s), (uint32_t)sym);
	uint64_t pkt_seq, rx_ns;
	ws_route_current(t->route, &pkt_seq, &rx_ns); /* the packet whose message this is */
	ws_tick_t tick = {.sym = (uint16_t)sym, .locate = c->locate, .bid_px = c->bid_price, .ask_px = c->ask_price,
	                  .bid_sz = c->bid_shares, .ask_sz = c->ask_shares, .pkt_seq = pkt_seq, .rx_ns = rx_ns,
	                  .position = r->position, .open_buy = r->open_qty[0], .open_sell = r->open_qty[1],
	                  .working_buy_px = ws_working_price(t, (uint32_t)sym * 2),
	                  .working_sell_px = ws_working_price(t, (uint32_t)sym * 2 + 1)};
	t->stats.ticks++;
	ws_intent_t in;
	if (t->st->on_bbo(t->state, &tick, &in) == 1 && in.action != WS_INTENT_NONE) {
		t->stats.intents++;
		ws_act(t, (uint16_t)sym, &in, pkt_seq);
	}
	if (t->slock)
		pthread_mutex_unlock(t->slock);
}

ws_trader_t *ws_trader_new(ws_route_t *route, ws_books_t *books, ws_session_t *session,
                           pthread_mutex_t *session_lock, const ws_strategy_t *strategy, void *state)
{
	if (!route || !books || !session || !strategy || !strategy->on_bbo)
		return NULL;
	ws_trader_t *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->working = calloc((size_t)ws_session_symbols(session) * 2, sizeof(*t->working));
	if (!t->working) {
		free(t);
		return NULL;
	}
	t->br = ws_bookref_new(books, route, session);
	if (!t->br) {
		free(t->working);
		free(t);
		return NULL;
	}
	t->route = route;
	t->books = books;
	t->s = session;
	t->slock = session_lock;
	t->st = strategy;
	t->state = state;
	ws_session_set_ref(session, ws_bookref_ref, t->br);
	ws_books_on_bbo(books, ws_on_bbo, t);
	return t;
}

void ws_trader_delete(ws_trader_t *t)
{
	if (!t)
		return;
	ws_books_on_bbo(t->books, NULL, NULL);
	ws_session_set_ref(t->s, NULL, NULL);
	ws_bookref_delete(t->br);
	free(t->working);
	free(t);
}

const ws_trader_stats_t *ws_trader_stats(const ws_trader_t *t) { return &t->stats; }
