/* trade/strategy.h - the strategy ABI: decide where the book changes.
 *
 * What it is for: a user's decision in C, run by the trader (orders/
 * trader.h) at every BBO change of one of its session's symbols, inside
 * the book update that made it: no Python, no allocation, no queue between
 * the packet and the order. It returns an intent or nothing; the trader
 * turns an intent into an order through the session, so every intent meets
 * the same pre-trade risk checks as any other order (orders/risk.h).
 *
 * A strategy is a ws_strategy_t: built in (ws_strategy_builtin: take_ask,
 * join_bid, ping) or in a shared object that exports one as the symbol
 * `ws_strategy` (or another name: "path.so:symbol"), loaded by
 * ws_strategy_load. Parameters come as "key=value,key=value"; prices in
 * dollars ("limit=101.25"), sizes in shares.
 *
 * Memory: init may allocate its state; fini frees it. on_bbo must not
 * allocate or block. Threads: the trader's thread calls on_bbo, one call at
 * a time; init and fini are called by whoever starts and stops it.
 */
#ifndef WS_ORDERS_STRATEGY_H
#define WS_ORDERS_STRATEGY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WS_STRATEGY_ABI 1

/* What changed, and what the strategy holds, at one BBO change. */
typedef struct {
	uint16_t sym;             /* the session's symbol index */
	uint16_t locate;          /* the feed's stock locate */
	uint32_t bid_px, ask_px;  /* Price(4); 0: that side is empty */
	uint64_t bid_sz, ask_sz;
	uint64_t pkt_seq;         /* MoldUDP64 sequence number of the packet being applied */
	uint64_t rx_ns;           /* that packet's receive stamp (CLOCK_REALTIME ns) */
	int64_t position;         /* shares held in the symbol now */
	uint64_t open_buy, open_sell; /* shares of open orders */
	uint32_t working_buy_px, working_sell_px; /* price of the REPRICE order working on each side (0: none) */
} ws_tick_t;

enum ws_intent_action {
	WS_INTENT_NONE = 0,
	WS_INTENT_ENTER,          /* a new order */
	WS_INTENT_REPRICE,        /* keep one order working on this side at this price: a Replace if one works at
	                           * another price, an Enter if none works, nothing if it is there already */
};

typedef struct {
	uint8_t action;           /* enum ws_intent_action */
	char side;                /* 'B' or 'S' */
	char tif;                 /* '0' Day or '3' IOC */
	uint32_t qty;             /* shares (for REPRICE: the shares to keep open) */
	uint32_t price;           /* Price(4) */
} ws_intent_t;

typedef struct {
	uint32_t abi;             /* WS_STRATEGY_ABI */
	const char *name;
	const char *doc;          /* one line, with its parameters */
	/* state for params, or a message in err: 0 or -1 */
	int (*init)(void **state, const char *params, char *err, size_t errlen);
	/* 1 with *out set to act, 0 to do nothing */
	int (*on_bbo)(void *state, const ws_tick_t *t, ws_intent_t *out);
	void (*fini)(void *state);
} ws_strategy_t;

/* The built-in strategies: NULL-terminated. */
extern const ws_strategy_t *const ws_strategies[];
const ws_strategy_t *ws_strategy_builtin(const char *name);

/* ws_strategy_load: "name" (built in) or "path.so[:symbol]". NULL with a
 * message in err (no such name, dlopen's error, a wrong ABI). The shared
 * object stays loaded for the life of the process. */
const ws_strategy_t *ws_strategy_load(const char *spec, char *err, size_t errlen);

/* ws_strategy_param: the value of key in "k=v,k=v" params as a double;
 * 1 if found, 0 if not, -1 if its value is not a number. Inline, so a
 * shared object needs nothing from wirespeed's own library. */
static inline int ws_strategy_param(const char *params, const char *key, double *out)
{
	size_t kl = strlen(key);
	for (const char *p = params; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			char *end;
			double v = strtod(p + kl + 1, &end);
			if (end == p + kl + 1 || (*end && *end != ',' && *end != ' ') || !(v == v) || v > 1e300 || v < -1e300)
				return -1;
			*out = v;
			return 1;
		}
		p = strchr(p, ',');
	}
	return 0;
}

#endif /* WS_ORDERS_STRATEGY_H */
