/* products/export.c - a recording into the MBO log; see export.h. */
#include "products/export.h"

#include <string.h>

/* Gaps of other sessions are given up on time, not only when their own next
 * packet comes: a session gone quiet would otherwise hold its rows back and
 * stamp them late. */
#define WS_EXPORT_POLL_NS 1000000ull

/* Every stock's book, as it stands, at grid time t. */
static void ws_grid_snapshot(ws_export_grid_t *g, const ws_books_t *books, uint64_t t)
{
	uint32_t max = ws_books_max_locate(books);
	for (uint32_t loc = 1; loc <= max && g->n < g->cap; loc++) {
		ws_book_level_t *bid = &g->bid[(size_t)g->n * g->levels], *ask = &g->ask[(size_t)g->n * g->levels];
		uint32_t nb = ws_books_depth(books, (uint16_t)loc, 0, bid, g->levels);
		uint32_t na = ws_books_depth(books, (uint16_t)loc, 1, ask, g->levels);
		if (!nb && !na)
			continue;
		memset(bid + nb, 0, (g->levels - nb) * sizeof(*bid));
		memset(ask + na, 0, (g->levels - na) * sizeof(*ask));
		g->ts[g->n] = t;
		g->locate[g->n] = (uint16_t)loc;
		g->n++;
	}
}

/* Snapshots for the grid times before a packet stamped ts. */
static void ws_grid_before(ws_export_grid_t *g, const ws_books_t *books, uint64_t ts)
{
	if (!g->next_ns) { /* the first packet: the grid starts at the next multiple */
		g->next_ns = (ts / g->every_ns + 1) * g->every_ns;
		return;
	}
	if (ts < g->next_ns)
		return;
	if (g->active)
		ws_grid_snapshot(g, books, g->next_ns);
	g->active = 0;
	g->next_ns = (ts / g->every_ns + 1) * g->every_ns; /* times with no packet get no rows */
}

void ws_export_grid_finish(ws_export_grid_t *g, const ws_books_t *books)
{
	if (g->active && g->next_ns)
		ws_grid_snapshot(g, books, g->next_ns);
	g->active = 0;
}

int ws_export_pump(ws_pcap_reader_t *rd, ws_route_t *route, ws_books_t *books, ws_export_clock_t *clk,
                   ws_export_grid_t *grid)
{
	const uint8_t *frame;
	uint32_t len, iface;
	uint64_t ts;
	while (ws_books_mbo_room(books) >= WS_EXPORT_ROWS_PER_PACKET &&
	       (!grid || grid->cap - grid->n >= WS_EXPORT_GRID_ROOM)) {
		int rc = ws_pcap_next(rd, &frame, &len, &ts, &iface);
		if (rc <= 0)
			return rc;
		if (ts > clk->last_ns)
			clk->last_ns = ts;
		if (grid)
			ws_grid_before(grid, books, clk->last_ns);
		if (clk->last_ns >= clk->polled_ns + WS_EXPORT_POLL_NS) { /* as a live reader's service() would */
			ws_route_poll(route, clk->last_ns);
			clk->polled_ns = clk->last_ns;
		}
		ws_route_frame(route, frame, len, ts);
		if (grid)
			grid->active = 1;
	}
	return 1;
}

static int8_t byte_code(int8_t *code, uint8_t v)
{
	if (code[v] >= 0)
		return code[v];
	int8_t *n = &code[WS_EXPORT_BYTE_VALUES];
	if (*n >= (int8_t)WS_EXPORT_BYTE_CODES)
		return (int8_t)WS_EXPORT_BYTE_CODES;
	return code[v] = (*n)++;
}

static int32_t locate_code(int32_t *code, uint16_t v)
{
	if (code[v] >= 0)
		return code[v];
	return code[v] = code[WS_EXPORT_LOCATES]++;
}

void ws_export_columns(const ws_mbo_t *rows, uint32_t n, const ws_export_cols_t *c, const ws_export_dicts_t *d)
{
	for (uint32_t i = 0; i < n; i++) {
		const ws_mbo_t *r = &rows[i];
		c->ts_recv[i] = (int64_t)r->ts_recv;
		c->ts_itch[i] = (int64_t)r->ts_itch;
		c->sequence[i] = (int64_t)r->sequence;
		c->order_id[i] = (int64_t)r->order_id;
		c->price[i] = r->price;
		c->size[i] = r->size;
		c->locate[i] = r->locate;
		c->session[i] = (int16_t)r->session;
		c->flags[i] = r->flags;
		c->action[i] = byte_code(d->action, r->action);
		c->side[i] = byte_code(d->side, r->side);
		c->type[i] = byte_code(d->type, r->type);
		c->line[i] = (int8_t)r->line;
		c->symbol[i] = locate_code(d->locate, r->locate);
	}
}
