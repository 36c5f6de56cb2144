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
 * Memory: ws_trader_new allocates the trader; the route, books, session and
 * strategy state are the caller's and must outlive it. Threads: the
 * follower's thread makes every call; ws_trader_follow takes the books'
 * lock, then the session's, around each batch (never while it spins), so
 * other threads may read either between batches under the same locks, in
 * the same order. The session's socket is serviced by its owner (the
 * Python face's I/O thread), not here: this loop only sends.
 */
#ifndef WS_ORDERS_TRADER_H
#define WS_ORDERS_TRADER_H

#include <pthread.h>
#include <stdint.h>

#include "book/route.h"
#include "orders/session.h"
#include "trade/strategy.h"
#include "ring/ring.h"

typedef struct {
	uint64_t records;          /* ring records routed */
	uint64_t ticks;            /* BBO changes of the session's symbols: strategy calls */
	uint64_t intents;          /* intents the strategy returned */
	uint64_t entered, replaced, unchanged; /* orders sent; REPRICE intents already in place */
	uint64_t refused;          /* intents the session refused (risk checks, link down, ...: counted there by reason) */
	uint64_t last_refusal;     /* its code: a risk check (> 0) or minus an enum ws_ord_err */
} ws_trader_stats_t;

typedef struct ws_trader ws_trader_t;

/* NULL on a bad argument or no memory. state: the strategy's, from its init. */
ws_trader_t *ws_trader_new(ws_route_t *route, ws_books_t *books, ws_session_t *session, const ws_strategy_t *strategy,
                           void *state);
/* Unhooks from the books and frees the trader (not what it was given). */
void ws_trader_delete(ws_trader_t *t);

/* ws_trader_records: n records (as ws_route_records takes them), with the
 * strategy run at every BBO change; the caller holds the locks. */
void ws_trader_records(ws_trader_t *t, const ws_ring_rec_t *recs, uint32_t n, const uint8_t *payload,
                       uint64_t payload_len);

/* ws_trader_follow: the live loop, spinning on rd for for_ns (no sleep, no
 * syscall but the sends of the orders it makes). buf as ws_route_follow's.
 * Returns the records read or a negative WS_RING_E*. */
int64_t ws_trader_follow(ws_trader_t *t, ws_ring_reader_t *rd, pthread_mutex_t *books_lock,
                         pthread_mutex_t *session_lock, uint64_t for_ns, uint8_t *buf, uint64_t buf_sz);

const ws_trader_stats_t *ws_trader_stats(const ws_trader_t *t);

#endif /* WS_ORDERS_TRADER_H */
