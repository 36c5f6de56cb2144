/* products/export.h - a recording through the feed handlers and books, into
 * the books' order-by-order (MBO) log, for data products (Parquet, DBN).
 *
 * What it is for: `wirespeed export` turns a day's recording into tables
 * at C speed: every frame goes through the same checks, A/B arbitration,
 * gap handling and books as a live capture (book/route.h), and the books
 * log what each message did (book.h, ws_books_log_mbo). The caller takes
 * the log whenever ws_export_pump says so; no Python runs per packet.
 *
 * Memory: nothing is allocated here; the reader's buffer, the router and
 * the books are the caller's.
 *
 * Threads: the books' writer thread only (as for any ws_route_* call).
 */
#ifndef WS_EXPORT_H
#define WS_EXPORT_H

#include <stdint.h>

#include "book/book.h"
#include "book/route.h"
#include "formats/pcapread.h"

/* Rows one packet can leave at most: a gap that closes releases every held
 * packet (WS_FEED_HOLD) and the one that closed it; each message leaves at
 * most 3 rows (an execution) and takes at least 14 bytes (the shortest
 * ITCH message and its length). Take the log before it has less free. */
#define WS_EXPORT_ROWS_PER_FRAME (3u * (WS_FEED_MAX_PAYLOAD / 14u + 1u))
#define WS_EXPORT_ROWS_PER_PACKET ((WS_FEED_HOLD + 1u) * WS_EXPORT_ROWS_PER_FRAME)

/* The file's clock: the newest capture stamp handed in, and when gaps were
 * last polled (every millisecond of it). Zero before the first call. */
typedef struct {
	uint64_t last_ns, polled_ns;
} ws_export_clock_t;

/* Depth snapshots on a time grid (the depth table): at every multiple of
 * every_ns of the capture clock that packets crossed, each stock whose book
 * is not empty gets a row: the grid time, its locate, and `levels` levels a
 * side (bid[r * levels + i], ask[...]; past a side's depth: zeros). The
 * books as they stand after every packet stamped up to that time. A grid
 * time with no packet since the one before gets no rows (the books did not
 * change: repeat the last). The caller owns the arrays (cap rows), takes
 * the rows (n) and resets n. */
typedef struct {
	uint64_t every_ns, next_ns;    /* next_ns: 0 until the first packet sets it */
	uint32_t levels, cap, n;
	int active;                    /* a packet came since the last snapshot */
	uint64_t *ts;
	uint16_t *locate;
	ws_book_level_t *bid, *ask;
} ws_export_grid_t;

/* ws_export_grid_finish: the end of the input: the grid time after the last
 * packet gets its snapshot (if a packet came since the last one), taken of
 * the books as they are now (after the feeds gave up their open gaps). */
void ws_export_grid_finish(ws_export_grid_t *g, const ws_books_t *books);

/* Rows one snapshot can add: a stock a locate. The pump returns before a
 * grid with less room than this. */
#define WS_EXPORT_GRID_ROOM 65535u

/* ws_export_pump hands frames from rd to route until the books' MBO log
 * (when on: with it off, the pump only builds the books, as Books.from_pcapng
 * does) has fewer than WS_EXPORT_ROWS_PER_PACKET rows free, or the grid (when
 * not NULL) fewer than WS_EXPORT_GRID_ROOM (returns 1: take them and call
 * again), the file ends (0) or it is corrupt (-1: rd->err). */
int ws_export_pump(ws_pcap_reader_t *rd, ws_route_t *route, ws_books_t *books, ws_export_clock_t *clk,
                   ws_export_grid_t *grid);

/* The MBO log's rows as columns, for Arrow: the caller's arrays, n long
 * each; widened to what the tables hold (int64 sizes, int32 locates, int16
 * sessions and flags), so the columns are used as they are, with no further
 * pass. action, side and type are codes of Arrow dictionary columns, symbol
 * the code of each row's locate (ws_export_dict_t). */
typedef struct {
	int64_t *ts_recv, *ts_itch, *sequence, *order_id, *price, *size;
	int32_t *locate;
	int16_t *session, *flags;
	int8_t *action, *side, *type;
	int8_t *line;
	int32_t *symbol;
} ws_export_cols_t;

/* Dictionary codes given in the order values are first met, kept from one
 * take to the next so a column's dictionary only grows: code[v] is value
 * v's code, -1 until it is met; code[WS_EXPORT_BYTE_VALUES] (and
 * locate[WS_EXPORT_LOCATES]) counts the codes given. The caller owns the
 * tables, reads the new codes after a take, and resets a table (all -1, the
 * count 0) to start a dictionary afresh (the symbol directory changed). */
#define WS_EXPORT_BYTE_VALUES 256u
#define WS_EXPORT_BYTE_CODES 127u  /* int8 codes: a dictionary of at most this many (plus "?") */
#define WS_EXPORT_LOCATES 65536u
typedef struct {
	int8_t *action, *side, *type;  /* WS_EXPORT_BYTE_VALUES + 1 entries each */
	int32_t *locate;               /* WS_EXPORT_LOCATES + 1 entries */
} ws_export_dicts_t;

/* ws_export_columns fills c from n rows and gives new values their codes in
 * d. A byte column met with more than WS_EXPORT_BYTE_CODES distinct values
 * (the books make a handful) gives the rest code WS_EXPORT_BYTE_CODES, which
 * the caller labels "?". */
void ws_export_columns(const ws_mbo_t *rows, uint32_t n, const ws_export_cols_t *c, const ws_export_dicts_t *d);

#endif /* WS_EXPORT_H */
