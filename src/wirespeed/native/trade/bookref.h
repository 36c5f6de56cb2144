/* trade/bookref.h - an order session's view of the books: its symbols'
 * locates, and the best bid and ask its price collar reads.
 *
 * What it is for: the order session (orders/session.h) knows symbols by
 * name and index; the books (book/book.h) know them by the feed's stock
 * locate, learnt from the directory (R) as it arrives. A bookref maps one
 * to the other (again whenever the directory grows: ws_bookref_map) and is
 * the session's ws_ref_fn: bid, ask, and stale while the router has a gap
 * open (book/route.h).
 *
 * Memory: ws_bookref_new allocates the maps; the books, router and session
 * are the caller's and outlive it. Threads: whoever holds the books' lock.
 */
#ifndef WS_TRADE_BOOKREF_H
#define WS_TRADE_BOOKREF_H

#include <stdint.h>

#include "book/book.h"
#include "book/route.h"
#include "orders/session.h"

typedef struct ws_bookref ws_bookref_t;

/* route may be NULL (never stale). NULL on no memory. Maps at once. */
ws_bookref_t *ws_bookref_new(ws_books_t *books, ws_route_t *route, const ws_session_t *session);
void ws_bookref_delete(ws_bookref_t *br);

/* ws_bookref_map: symbols to locates again if the directory changed since
 * the last time; returns how many of the session's symbols have a locate. */
uint32_t ws_bookref_map(ws_bookref_t *br);

int ws_bookref_sym(const ws_bookref_t *br, uint16_t locate); /* -1: not one of the session's symbols */
uint16_t ws_bookref_locate(const ws_bookref_t *br, uint32_t sym); /* 0: not in the directory yet */

/* The session's ws_ref_fn (ctx: the bookref). */
ws_risk_ref_t ws_bookref_ref(void *ctx, uint32_t sym);

#endif /* WS_TRADE_BOOKREF_H */
