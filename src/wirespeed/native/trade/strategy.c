/* trade/strategy.c - the built-in strategies and the loader; see strategy.h. */
#include "trade/strategy.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameters every example takes: qty (shares) and, where it applies, limit (dollars). */
typedef struct {
	uint32_t qty;
	uint32_t limit; /* Price(4) */
} ws_simple_t;

static int ws_simple_init(void **state, const char *params, char *err, size_t errlen, int need_limit)
{
	double qty = 100, limit = 0;
	int q = ws_strategy_param(params, "qty", &qty), l = ws_strategy_param(params, "limit", &limit);
	if (q < 0 || qty < 1 || qty > 999999 || qty != floor(qty)) {
		snprintf(err, errlen, "qty must be a whole number of shares, 1..999999");
		return -1;
	}
	if (need_limit && (l <= 0 || limit <= 0 || limit > 199999.99)) {
		snprintf(err, errlen, "limit=PRICE (dollars, above 0) is required");
		return -1;
	}
	ws_simple_t *s = malloc(sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->qty = (uint32_t)qty;
	s->limit = (uint32_t)llround(limit * 10000.0);
	*state = s;
	return 0;
}

static void ws_simple_fini(void *state) { free(state); }

/* take_ask: buy qty at the ask, immediate-or-cancel, whenever the ask is at or below limit. */
static int ws_take_ask_init(void **st, const char *p, char *e, size_t el) { return ws_simple_init(st, p, e, el, 1); }

static int ws_take_ask(void *state, const ws_tick_t *t, ws_intent_t *out)
{
	const ws_simple_t *s = state;
	if (!t->ask_px || t->ask_px > s->limit)
		return 0;
	*out = (ws_intent_t){.action = WS_INTENT_ENTER, .side = 'B', .tif = '3', .qty = s->qty, .price = t->ask_px};
	return 1;
}

/* join_bid: keep a Day buy of qty working at the best bid (replaced as the bid moves). */
static int ws_join_bid_init(void **st, const char *p, char *e, size_t el) { return ws_simple_init(st, p, e, el, 0); }

static int ws_join_bid(void *state, const ws_tick_t *t, ws_intent_t *out)
{
	const ws_simple_t *s = state;
	if (!t->bid_px || t->bid_px == t->working_buy_px)
		return 0;
	*out = (ws_intent_t){.action = WS_INTENT_REPRICE, .side = 'B', .tif = '0', .qty = s->qty, .price = t->bid_px};
	return 1;
}

/* ping: at every BBO change, an IOC buy of qty at the best bid. It never
 * trades (the ask is above the bid) and leaves no trace in the book: a
 * probe for tick-to-trade, the same decision and order as a real one. */
static int ws_ping_init(void **st, const char *p, char *e, size_t el) { return ws_simple_init(st, p, e, el, 0); }

static int ws_ping(void *state, const ws_tick_t *t, ws_intent_t *out)
{
	const ws_simple_t *s = state;
	if (!t->bid_px)
		return 0;
	*out = (ws_intent_t){.action = WS_INTENT_ENTER, .side = 'B', .tif = '3', .qty = s->qty, .price = t->bid_px};
	return 1;
}

static const ws_strategy_t ws_take_ask_s = {WS_STRATEGY_ABI, "take_ask",
	"buy qty (default 100) at the ask, IOC, whenever the ask is at or below limit (dollars, required)",
	ws_take_ask_init, ws_take_ask, ws_simple_fini};
static const ws_strategy_t ws_join_bid_s = {WS_STRATEGY_ABI, "join_bid",
	"keep a Day buy of qty (default 100) working at the best bid, replaced as the bid moves",
	ws_join_bid_init, ws_join_bid, ws_simple_fini};
static const ws_strategy_t ws_ping_s = {WS_STRATEGY_ABI, "ping",
	"an IOC buy of qty (default 100) at the best bid at every BBO change: never trades; for tick-to-trade",
	ws_ping_init, ws_ping, ws_simple_fini};

const ws_strategy_t *const ws_strategies[] = {&ws_take_ask_s, &ws_join_bid_s, &ws_ping_s, NULL};

const ws_strategy_t *ws_strategy_builtin(const char *name)
{
	for (int i = 0; ws_strategies[i]; i++)
		if (!strcmp(ws_strategies[i]->name, name))
			return ws_strategies[i];
	return NULL;
}

const ws_strategy_t *ws_strategy_load(const char *spec, char *err, size_t errlen)
{
	const ws_strategy_t *st = ws_strategy_builtin(spec);
	if (st)
		return st;
	if (!strstr(spec, ".so")) {
		snprintf(err, errlen, "no built-in strategy %s (a shared object's path ends in .so)", spec);
		return NULL;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s", spec);
	const char *sym = "ws_strategy";
	char *colon = strrchr(path, ':');
	if (colon && strstr(path, ".so") < colon) {
		*colon = 0;
		sym = colon + 1;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return NULL;
	}
	st = dlsym(h, sym);
	if (!st) {
		snprintf(err, errlen, "%s has no symbol %s", path, sym);
		return NULL;
	}
	if (st->abi != WS_STRATEGY_ABI || !st->init || !st->on_bbo || !st->fini || !st->name) {
		snprintf(err, errlen, "%s:%s is not a ws_strategy_t of ABI %d (trade/strategy.h)", path, sym,
		         WS_STRATEGY_ABI);
		return NULL;
	}
	return st;
}
