/* products/export.c - a recording into the MBO log; see export.h. */
#include "products/export.h"

/* Gaps of other sessions are given up on time, not only when their own next
 * packet comes: a session gone quiet would otherwise hold its rows back and
 * stamp them late. */
#define WS_EXPORT_POLL_NS 1000000ull

int ws_export_pump(ws_pcap_reader_t *rd, ws_route_t *route, ws_books_t *books, ws_export_clock_t *clk)
{
	const uint8_t *frame;
	uint32_t len, iface;
	uint64_t ts;
	while (ws_books_mbo_room(books) >= WS_EXPORT_ROWS_PER_PACKET) {
		int rc = ws_pcap_next(rd, &frame, &len, &ts, &iface);
		if (rc <= 0)
			return rc;
		if (ts > clk->last_ns)
			clk->last_ns = ts;
		if (clk->last_ns >= clk->polled_ns + WS_EXPORT_POLL_NS) { /* as a live reader's service() would */
			ws_route_poll(route, clk->last_ns);
			clk->polled_ns = clk->last_ns;
		}
		ws_route_frame(route, frame, len, ts);
	}
	return 1;
}

void ws_export_columns(const ws_mbo_t *rows, uint32_t n, const ws_export_cols_t *c)
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
		c->action[i] = r->action;
		c->side[i] = r->side;
		c->type[i] = r->type;
		c->line[i] = (int8_t)r->line;
	}
}
