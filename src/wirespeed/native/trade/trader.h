/* trade/trader.h - the loop from a packet to an order: ring -> books ->
 * strategy -> risk -> order session, in one thread, in C.
 *
 * What it is for: tick-to-trade without Python. The trader reads a ring
 * (records as a capture wrote them), routes each frame to the books
 * (book/route.h: arbitration, gaps), and at every BBO change of one of its
 * session's symbols (ws_books_on_bbo) asks the strategy (orders/
 * strategy.h); an intent becomes ws_session_enter or _replace right there,
 * through the session's risk checks, before the rest of the packet is
 * applied. The order's ClOrdID is the triggering packet's MoldUDP64
 * sequence number (14 digits, zero-padded), so whoever sees the order (the
 * exchange) can tie it to the packet that caused it.
 *
 * The trader makes the session's collar read these books (trade/bookref.h)
 * until it is deleted.
 *
 * The router drives it: records go in through ws_route_records or
 * ws_route_follow (book/route.h) as for any reader of the books, and the
 * trader's hook on the books does the rest. It adds no loop of its own.
 *
 * Memory: ws_trader_new allocates the trader; the route, books, session and
 * strategy state are the caller's and must outlive it. Threads: the books'
 * writer calls the hook, under the books' lock if the books have one
 * (ws_route_follow takes it per batch); the hook takes session_lock (if
 * given) around each decision and its send, after the books' lock: the
 * order every other user of both follows. The session's socket is serviced
 * by its owner (the Python face's I/O thread), not here: the trader only
 * sends.
 */
#ifndef WS_ORDERS_TRADER_H
#define WS_ORDERS_TRADER_H

#include <pthread.h>
#include <stdint.h>

#include "book/route.h"
#include "orders/session.h"
#include "trade/strategy.h"

typedef struct {
	uint64_t ticks;            /* BBO changes of the session's symbols: strategy calls */
	uint64_t intents;          /* intents the strategy returned */
	uint64_t entered, replaced, unchanged; /* orders sent; REPRICE intents already in place */
	uint64_t refused;          /* intents the session refused (risk checks, link down, ...: counted there by reason) */
	uint64_t last_refusal;     /* its code: a risk check (> 0) or minus an enum ws_ord_err */
	uint64_t lock_errors;      /* decisions skipped: the session's lock could not be taken */
} ws_trader_stats_t;

typedef struct ws_trader ws_trader_t;

/* NULL on a bad argument or no memory. state: the strategy's, from its
 * init. session_lock: the session's mutex, or NULL if nothing else uses it. */
ws_trader_t *ws_trader_new(ws_route_t *route, ws_books_t *books, ws_session_t *session,
                           pthread_mutex_t *session_lock, const ws_strategy_t *strategy, void *state);
/* Unhooks from the books and frees the trader (not what it was given). */
void ws_trader_delete(ws_trader_t *t);

const ws_trader_stats_t *ws_trader_stats(const ws_trader_t *t);

#endif /* WS_ORDERS_TRADER_H */
