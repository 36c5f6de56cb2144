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
 * each; widened to what the tables hold (int64 sizes, int16 sessions and
 * flags), so the columns are used as they are, with no further pass. */
typedef struct {
	int64_t *ts_recv, *ts_itch, *sequence, *order_id, *price, *size;
	uint16_t *locate;
	int16_t *session, *flags;
	uint8_t *action, *side, *type;
	int8_t *line;
} ws_export_cols_t;

void ws_export_columns(const ws_mbo_t *rows, uint32_t n, const ws_export_cols_t *c);

#endif /* WS_EXPORT_H */
