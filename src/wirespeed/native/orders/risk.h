/* orders/risk.h - pre-trade risk checks: what an order must pass before a
 * byte of it is sent (SEC 15c3-5 in spirit). The exchange's own checks
 * (exchange/port.h) are a second line, not a substitute.
 *
 * What it is for: one verdict per order, in well under 100 ns, from limits
 * and from the account's state: per symbol, the position, the shares and
 * notional of open orders on each side and the executed notional; for the
 * account, the open orders, a sliding one-second window of sends, recent
 * orders (the duplicate guard) and the kill switch.
 *
 * Worst case, always: an open order counts as if it will fill. A buy passes
 * the position limit only if position + open buys + its shares stays within
 * it (a sell, the mirror), and the gross notional limit counts executed plus
 * open notional plus its own. So no sequence of fills of orders that passed
 * can take a position or notional past its limit, however many are in
 * flight (tests/orders/test_risk.py holds this as a property).
 *
 * The checks, in the order they run (enum ws_risk_check; the first that
 * fails names the refusal, and each refusal is counted by check):
 *   kill_switch, restricted_symbol, max_order_qty, max_order_notional,
 *   stale_book (a gap is open in the feed the collar reads), no_reference
 *   (a collar with no price on the side it reads), price_collar, position,
 *   gross_notional, open_orders, order_rate, duplicate_order.
 * A limit of 0 is "no limit". Prices are OUCH's Price(4) integers; notional
 * is price x shares in the same unit.
 *
 * Memory: ws_risk_new allocates the instruments, the rate window and the
 * duplicate table once; nothing afterwards. Threads: one thread at a time
 * (the order session's lock serialises its callers).
 */
#ifndef WS_ORDERS_RISK_H
#define WS_ORDERS_RISK_H

#include <stdint.h>

enum ws_risk_check {
	WS_RISK_OK = 0,
	WS_RISK_KILL_SWITCH,
	WS_RISK_RESTRICTED,
	WS_RISK_MAX_ORDER_QTY,
	WS_RISK_MAX_ORDER_NOTIONAL,
	WS_RISK_STALE_BOOK,
	WS_RISK_NO_REFERENCE,
	WS_RISK_PRICE_COLLAR,
	WS_RISK_POSITION,
	WS_RISK_GROSS_NOTIONAL,
	WS_RISK_OPEN_ORDERS,
	WS_RISK_ORDER_RATE,
	WS_RISK_DUPLICATE,
	WS_RISK_CHECKS
};
extern const char *const ws_risk_check_names[WS_RISK_CHECKS]; /* "ok", "kill_switch", ... */

/* Account-wide limits (0: none). */
typedef struct {
	uint32_t max_order_qty;
	uint64_t max_order_notional;
	uint32_t collar_bp;          /* a buy at most this far above the best ask, a sell below the best bid */
	uint32_t max_open_orders;
	uint32_t max_orders_per_s;   /* sends in any sliding second (at most 1,000,000) */
	uint32_t dup_window_ms;      /* same symbol, side, price and shares again within this: refused */
} ws_risk_limits_t;

/* Per-symbol limits (0: none). */
typedef struct {
	uint64_t max_position;       /* |shares held| */
	uint64_t max_gross_notional; /* executed + open notional, both sides */
	uint8_t restricted;          /* no orders at all */
} ws_risk_symbol_limits_t;

/* Per-symbol state, kept by the account's fills, cancels and sends. */
typedef struct {
	int64_t position;              /* shares: buys minus sells executed */
	uint64_t open_qty[2];          /* [0] buys, [1] sells: shares of open orders */
	uint64_t open_notional[2];
	uint64_t exec_qty[2];
	uint64_t exec_notional[2];     /* executed price x shares, by side */
	ws_risk_symbol_limits_t lim;
} ws_risk_symbol_t;

/* The market the collar reads: best bid and ask now (0: that side is
 * empty), and whether the book may be missing messages. */
typedef struct {
	uint32_t bid, ask;
	uint8_t stale;
	uint8_t known;    /* 0: no book to read (a collar then refuses: no_reference) */
} ws_risk_ref_t;

typedef struct ws_risk ws_risk_t;

/* ws_risk_new: room for n_symbols symbols (1..65535), each with default
 * per-symbol limits `sym`. NULL on a bad size or no memory. */
ws_risk_t *ws_risk_new(const ws_risk_limits_t *lim, const ws_risk_symbol_limits_t *sym, uint32_t n_symbols);
void ws_risk_delete(ws_risk_t *r);

/* Limits may change at any time (between orders); they apply to the next. */
void ws_risk_set_limits(ws_risk_t *r, const ws_risk_limits_t *lim);
int ws_risk_set_symbol(ws_risk_t *r, uint32_t sym, const ws_risk_symbol_limits_t *lim);
const ws_risk_limits_t *ws_risk_limits(const ws_risk_t *r);
const ws_risk_symbol_t *ws_risk_symbol(const ws_risk_t *r, uint32_t sym); /* NULL past n_symbols */

/* The kill switch: on, every order is refused until it is turned off. */
void ws_risk_kill(ws_risk_t *r, int on);
int ws_risk_killed(const ws_risk_t *r);

/* ws_risk_check: the verdict on an order of `qty` shares at limit `price`
 * on side 'B' or 'S' (anything else counts as a sell: short sells are
 * sells) of symbol `sym`, sent at now_ns (CLOCK_MONOTONIC). `rprice`: the
 * price its notional counts at, the worst it can trade at (a buy: its
 * limit; a sell: the higher of its limit and the best bid, since a
 * marketable sell trades at the bids). The collar reads `price`. Counts a
 * refusal by its check; changes no other state. `replacing`: open shares
 * and rprice of the order a Replace would take the place of (its
 * reservation is not counted twice), or NULL. The reservation functions
 * below take the same rprice. */
int ws_risk_check(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t price, uint32_t rprice,
                  const ws_risk_ref_t *ref, const uint32_t replacing[2], uint64_t now_ns);

/* ws_risk_commit: an order that passed is being sent: its shares are
 * reserved as open (ws_risk_reserve), it enters the rate window and the
 * duplicate guard (by its limit price). */
void ws_risk_commit(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t price, uint32_t rprice,
                    uint64_t now_ns);

/* ws_risk_reserve: an open order's shares counted (an order recovered
 * from a journal: open until the exchange says otherwise). */
void ws_risk_reserve(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t rprice);

/* ws_risk_release: open shares that will not fill (canceled, rejected,
 * replaced away, an order not sent after all). `done`: the order is over
 * (the open order count drops). */
void ws_risk_release(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t rprice, int done);

/* ws_risk_fill: qty of an order reserved at `rprice` executed at `exec_price`. */
void ws_risk_fill(ws_risk_t *r, uint32_t sym, char side, uint32_t qty, uint32_t rprice, uint32_t exec_price,
                  int done);

uint64_t ws_risk_open_orders(const ws_risk_t *r);
const uint64_t *ws_risk_refusals(const ws_risk_t *r); /* [WS_RISK_CHECKS], by check */

#endif /* WS_ORDERS_RISK_H */
