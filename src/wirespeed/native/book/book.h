/* book/book.h - ITCH 5.0 order books: every order (L3), levels (L2), BBO.
 *
 * What it is for: applying a stream of ITCH 5.0 messages (A F E C X D U;
 * P Q counted as trades; S R set up the session and the symbols) to one book
 * per stock locate, fast enough that the feed, not the book, is the limit.
 *
 * Structure (the shape that makes books fast, per itch-book's measurements):
 *   - books in a flat array indexed by stock locate (ITCH's own dense id);
 *   - per side, a sorted array of (key, level handle) with the best price
 *     at the back, searched and shifted 16 levels at a time from the back
 *     (where the traffic is) with no depth-dependent branch;
 *   - a level emptied below the best stays as a ghost (invisible to reads,
 *     at most 16 a side) so that the price quoted again finds it; a full
 *     level pool takes the ghosts back before it refuses an add;
 *   - each order holds the handle of its level and sits in that level's
 *     ring (time priority), linked by pool indices, not pointers;
 *   - order reference -> order via a paged direct index (ITCH counts
 *     references up through the day, so live orders crowd a few pages),
 *     with an open-addressing table for references past 2^32 and for when
 *     the page pool is used up;
 *   - orders, levels and index pages come from pools with free lists,
 *     sized at create.
 *
 * Memory: ws_books_create allocates everything but the per-side level
 * arrays, which grow by doubling the first time a book's side gets deeper
 * than before (rare, never per message in steady state); ws_books_delete
 * frees all. The caller owns message buffers; nothing keeps pointers to them.
 *
 * Threads: one thread applies messages; readers of bbo/depth must be that
 * thread or be serialised with it by the caller.
 *
 * Bad input is counted, never applied halfway: a message that cannot be
 * applied as a whole (unknown reference, execution or cancel larger than
 * the order, a replace of a missing order, a duplicate reference, a locate
 * that is not the order's, a wrong length, a full pool) changes no book and
 * bumps one counter in ws_book_stats_t.
 */
#ifndef WS_BOOK_H
#define WS_BOOK_H

#include <stddef.h>
#include <stdint.h>

#define WS_BOOK_NIL 0xffffffffu

typedef struct {
	uint64_t messages;        /* framed messages seen */
	uint64_t applied;         /* A F E C X D U that changed a book */
	uint64_t adds, executes, cancels, deletes, replaces;
	uint64_t trades;          /* P, Q */
	uint64_t system_events;   /* S */
	uint64_t directory;       /* R */
	uint64_t other;           /* known types that do not touch books */
	uint64_t unknown_type;    /* skipped by their length */
	uint64_t bad_length;      /* a known type whose length is wrong */
	uint64_t truncated;       /* the buffer ended inside a message */
	uint64_t unknown_ref;     /* E C X D U of an order the book does not hold */
	uint64_t duplicate_ref;   /* A F U adding a reference that is live */
	uint64_t too_many_shares; /* E C X larger than what is left of the order */
	uint64_t locate_mismatch; /* E C X D U naming another stock than the order's */
	uint64_t bad_locate;      /* locate beyond max_locate */
	uint64_t bad_side;        /* side not B or S */
	uint64_t pool_full;       /* no free order or level: message dropped */
	uint64_t bbo_changes;     /* best bid or offer price or size changed */
	uint64_t bbo_log_full;    /* changes not logged: the log was full (ws_books_take_bbo) */
} ws_book_stats_t;

/* One BBO change, logged for ws_books_take_bbo: both sides as they are
 * after the message (price 0 and size 0 for an empty side). */
typedef struct {
	uint64_t msg;             /* stats.messages when it changed: the message's ordinal */
	uint64_t bid_shares, ask_shares;
	uint32_t bid_price, ask_price;
	uint32_t bid_orders, ask_orders;
	uint16_t locate;
	uint16_t pad;
	uint32_t row;             /* with the MBO log on: the index of the row after which it changed
	                           * (in the log as the next take returns it); UINT32_MAX otherwise */
} ws_bbo_change_t;

typedef struct {
	uint32_t price;   /* 4 implied decimals */
	uint32_t count;   /* orders at the level */
	uint64_t shares;
} ws_book_level_t;

typedef struct ws_books ws_books_t;

/* ws_books_create: books for locates 1..max_locate, room for max_orders
 * live orders and max_levels live price levels over all books. NULL on
 * allocation failure or a zero size. */
ws_books_t *ws_books_create(uint32_t max_locate, uint32_t max_orders, uint32_t max_levels);
void ws_books_delete(ws_books_t *b);

/* ws_books_apply: one message of len bytes (no length prefix). Returns 1 if
 * a book changed, 0 if not (counted in stats either way). */
int ws_books_apply(ws_books_t *b, const uint8_t *msg, uint32_t len);

/* ws_books_apply_day: messages framed as in NASDAQ's day files (2-byte
 * big-endian length, then the message), the whole buffer. Returns how many
 * messages it read; a message cut by the buffer's end is counted truncated. */
uint64_t ws_books_apply_day(ws_books_t *b, const uint8_t *buf, size_t len);

const ws_book_stats_t *ws_books_stats(const ws_books_t *b);

/* ws_books_depth: up to n levels of side (0 bid, 1 ask) of a locate, best
 * first, into out. Returns how many; 0 for an unknown locate. */
uint32_t ws_books_depth(const ws_books_t *b, uint16_t locate, int side, ws_book_level_t *out, uint32_t n);

/* ws_books_orders: the orders of level `level` (0 = best) of a side, in time
 * priority: refs[i], shares[i], at most n of them. Returns how many the
 * level holds (call with n = 0 to size the arrays); 0 for no such level. */
uint32_t ws_books_orders(const ws_books_t *b, uint16_t locate, int side, uint32_t level, uint64_t *refs,
                         uint32_t *shares, uint32_t n);

/* ws_books_max_locate: the highest locate these books hold. */
uint32_t ws_books_max_locate(const ws_books_t *b);

/* ws_books_levels: how many levels a side of a locate holds. */
uint32_t ws_books_levels(const ws_books_t *b, uint16_t locate, int side);

/* ws_books_symbol: the 8-byte, space-padded symbol R gave this locate
 * (spaces if none yet). */
void ws_books_symbol(const ws_books_t *b, uint16_t locate, char out[8]);

/* ws_books_log_bbo: keep a log of BBO changes, up to cap of them between
 * takes (allocated here, once; 0 turns the log off). -ENOMEM on failure. */
int ws_books_log_bbo(ws_books_t *b, uint32_t cap);

/* ws_books_take_bbo: the logged changes in order (*n of them); the log is
 * empty afterwards. The pointer is valid until the next apply or take. */
const ws_bbo_change_t *ws_books_take_bbo(ws_books_t *b, uint32_t *n);

/* ws_books_on_bbo: fn(ctx, change) at every BBO change, from inside the
 * apply that made it (the book is consistent: the message is applied),
 * before the next message; NULL turns it off. This is where a strategy
 * decides (orders/trader.h): whatever fn does delays the rest of the
 * packet, so it should decide and send, not compute. fn must not apply
 * messages to these books. */
typedef void (*ws_bbo_fn)(void *ctx, const ws_bbo_change_t *c);
void ws_books_on_bbo(ws_books_t *b, ws_bbo_fn fn, void *ctx);

/* -- the order-by-order (MBO) log: what each message did, for data products ----
 *
 * With the log on, every message that changes a book (A F E C X D U) and
 * every trade (P Q) leaves rows in the log, with what the book knows and the
 * message does not say (the side and price of an order a cancel names).
 * The actions follow Databento's MBO convention, so that a reader who replays
 * them with Databento's own examples gets these books:
 *   A, F     -> Add
 *   E, C     -> Trade (the aggressor's side: the other side of the order),
 *               Fill (the resting order), then Cancel of the executed
 *               shares: Trade and Fill never change a book, the Cancel does
 *   X        -> Cancel of the cancelled shares;  D -> Cancel of what is left
 *   U        -> Cancel of the old order, Add of the new one (a new reference)
 *   P        -> Trade (the side the message gives, no order: a hidden one)
 *   Q        -> Trade (side None: the cross)
 * A message that cannot be applied (counted in ws_book_stats_t) leaves no
 * row. The caller (the feed) says where each message came from through
 * ws_books_mbo_ctx before it applies it; the log copies that into the rows.
 * Prices are int64 at 1e-9 (ITCH's 4 decimals x 100000). */
#define WS_MBO_F_LAST 0x80u           /* the last row a packet left (ws_books_mbo_end_packet) */
#define WS_MBO_F_MAYBE_BAD_BOOK 0x04u /* the first row after messages of the session were given up */

typedef struct {
	uint64_t ts_recv;   /* the feed's clock when the message was applied (ns, CLOCK_REALTIME) */
	uint64_t ts_itch;   /* the message's timestamp: ns since the trading day's midnight */
	uint64_t sequence;  /* MoldUDP64 sequence number of the message */
	uint64_t order_id;  /* 0 for P and Q */
	int64_t price;      /* 1e-9 units */
	uint32_t size;
	uint16_t locate;
	uint16_t session;   /* index of the MoldUDP64 session (ws_route_feed) */
	uint8_t action;     /* 'A' 'C' 'T' 'F' */
	uint8_t side;       /* 'B' bid, 'A' ask, 'N' none */
	uint8_t flags;      /* WS_MBO_F_* */
	uint8_t line;       /* 0 A, 1 B, 2 a retransmission */
	uint8_t type;       /* the ITCH message type it came from */
	uint8_t pad[3];
	uint32_t pad2[2];
} ws_mbo_t;           /* 64 bytes */

/* What the feed says about the message it applies next. */
typedef struct {
	uint64_t ts_recv, sequence;
	uint16_t session;
	uint8_t line;
	uint8_t flags;      /* WS_MBO_F_MAYBE_BAD_BOOK: set by the feed, cleared by the next row */
} ws_mbo_ctx_t;

/* ws_books_log_mbo: keep up to cap rows between takes (0 turns it off).
 * -ENOMEM on failure. A message that would overflow the log is applied and
 * its rows counted in *dropped of ws_books_take_mbo: the caller takes the
 * log before it can fill (ws_books_mbo_room). */
int ws_books_log_mbo(ws_books_t *b, uint32_t cap);
ws_mbo_ctx_t *ws_books_mbo_ctx(ws_books_t *b); /* NULL while the log is off */
uint32_t ws_books_mbo_room(const ws_books_t *b); /* rows free in the log; UINT32_MAX while it is off */
/* ws_books_mbo_end_packet: the feed applied a packet's messages; its last row
 * (if it left any) gets WS_MBO_F_LAST. */
void ws_books_mbo_end_packet(ws_books_t *b);
/* ws_books_take_mbo: the rows since the last take, in the order applied,
 * and the log emptied; the rows stay valid until the next message is
 * applied (copy them first). *dropped: rows lost to a full log, ever. */
const ws_mbo_t *ws_books_take_mbo(ws_books_t *b, uint32_t *n, uint64_t *dropped);
/* ws_books_mbo_peek: the rows logged so far (*n), the log left as it is. */
const ws_mbo_t *ws_books_mbo_peek(const ws_books_t *b, uint32_t *n);

/* The depth beside the MBO log (LOBSTER's order book file): with it on, a row
 * that changes a book (A, C) or reports a trade of a hidden order or a cross
 * (T of P, Q) gets the book of its stock as it stands right after that row:
 * for each of `levels` levels, ask price, ask shares, bid price, bid shares
 * (u32; an empty level is 0, 0; shares above 2^32-1 are clamped). Other rows
 * (the Trade and Fill of an execution) get zeros. Row i's is at
 * ws_books_mbo_depth(b) + i * levels * 4. ws_books_log_depth needs the MBO
 * log on (it sizes by its capacity); 0 levels turns it off; -ENOMEM,
 * -EINVAL. */
int ws_books_log_depth(ws_books_t *b, uint32_t levels);
const uint32_t *ws_books_mbo_depth(const ws_books_t *b, uint32_t *levels);

/* ws_books_live_orders: orders in all books now. */
uint64_t ws_books_live_orders(const ws_books_t *b);

#endif /* WS_BOOK_H */
