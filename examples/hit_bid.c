/* examples/hit_bid.c - a strategy of your own, in C, loaded by path.
 *
 * Sells qty (default 100) at the best bid, immediate-or-cancel, whenever
 * the bid is at or above limit (dollars): the mirror of the built-in
 * take_ask. Build it against wirespeed's strategy header and run it:
 *
 *   cc -O2 -shared -fPIC -I "$(python -c 'import wirespeed.trade as t; print(t.include_dir())')" \
 *      -o hit_bid.so examples/hit_bid.c -lm
 *   wirespeed trade ... --strategy ./hit_bid.so --params limit=36.10,qty=100
 *
 * The trader calls on_bbo at every BBO change of the session's symbols,
 * inside the book update (trade/strategy.h): decide, fill *out, return 1.
 * No allocation, no blocking there. Every intent still meets the session's
 * risk checks before a byte is sent.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "trade/strategy.h"

typedef struct {
	uint32_t qty, limit; /* shares; Price(4) */
} hit_bid_t;

static int hit_bid_init(void **state, const char *params, char *err, size_t errlen)
{
	double qty = 100, limit = 0;
	if (ws_strategy_param(params, "qty", &qty) < 0 || qty < 1 || qty > 999999 ||
	    ws_strategy_param(params, "limit", &limit) != 1 || limit <= 0) {
		snprintf(err, errlen, "give limit=PRICE (dollars) and optionally qty=SHARES");
		return -1;
	}
	hit_bid_t *s = malloc(sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->qty = (uint32_t)qty;
	s->limit = (uint32_t)llround(limit * 10000.0);
	*state = s;
	return 0;
}

static int hit_bid_on_bbo(void *state, const ws_tick_t *t, ws_intent_t *out)
{
	const hit_bid_t *s = state;
	if (!t->bid_px || t->bid_px < s->limit)
		return 0;
	*out = (ws_intent_t){.action = WS_INTENT_ENTER, .side = 'S', .tif = '3', .qty = s->qty, .price = t->bid_px};
	return 1;
}

static void hit_bid_fini(void *state) { free(state); }

const ws_strategy_t ws_strategy = {WS_STRATEGY_ABI, "hit_bid",
	"sell qty (default 100) at the bid, IOC, whenever the bid is at or above limit (dollars)",
	hit_bid_init, hit_bid_on_bbo, hit_bid_fini};
