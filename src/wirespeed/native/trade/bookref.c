/* trade/bookref.c - the session's view of the books; see bookref.h. */
#include "trade/bookref.h"

#include <stdlib.h>
#include <string.h>

struct ws_bookref {
	ws_books_t *books;
	ws_route_t *route;
	const ws_session_t *s;
	uint32_t n_sym, mapped;
	uint64_t directory;       /* the books' R count at the last map (UINT64_MAX: never mapped) */
	uint16_t *loc;            /* [sym] */
	int32_t *sym_of_loc;      /* [65536] */
};

ws_bookref_t *ws_bookref_new(ws_books_t *books, ws_route_t *route, const ws_session_t *session)
{
	if (!books || !session)
		return NULL;
	ws_bookref_t *br = calloc(1, sizeof(*br));
	if (!br)
		return NULL;
	br->n_sym = ws_session_symbols(session);
	br->loc = calloc(br->n_sym, sizeof(*br->loc));
	br->sym_of_loc = malloc(65536 * sizeof(*br->sym_of_loc));
	if (!br->loc || !br->sym_of_loc) {
		ws_bookref_delete(br);
		return NULL;
	}
	for (uint32_t i = 0; i < 65536; i++)
		br->sym_of_loc[i] = -1;
	br->books = books;
	br->route = route;
	br->s = session;
	br->directory = UINT64_MAX;
	ws_bookref_map(br);
	return br;
}

void ws_bookref_delete(ws_bookref_t *br)
{
	if (!br)
		return;
	free(br->loc);
	free(br->sym_of_loc);
	free(br);
}

uint32_t ws_bookref_map(ws_bookref_t *br)
{
	uint64_t dir = ws_books_stats(br->books)->directory;
	if (dir == br->directory)
		return br->mapped;
	br->directory = dir;
	/* a walk over the locates: runs when the directory grows (the start of a day), never per message */
	char name[8];
	br->mapped = 0;
	for (uint32_t loc = 1; loc < 65536; loc++) {
		ws_books_symbol(br->books, (uint16_t)loc, name);
		if (name[0] == ' ')
			continue;
		for (uint32_t k = 0; k < br->n_sym; k++)
			if (!memcmp(ws_session_symbol(br->s, k), name, 8)) {
				if (br->loc[k])
					br->sym_of_loc[br->loc[k]] = -1;
				br->loc[k] = (uint16_t)loc;
				br->sym_of_loc[loc] = (int32_t)k;
				break;
			}
	}
	for (uint32_t k = 0; k < br->n_sym; k++)
		br->mapped += br->loc[k] != 0;
	return br->mapped;
}

int ws_bookref_sym(const ws_bookref_t *br, uint16_t locate) { return br->sym_of_loc[locate]; }
uint16_t ws_bookref_locate(const ws_bookref_t *br, uint32_t sym) { return sym < br->n_sym ? br->loc[sym] : 0; }

ws_risk_ref_t ws_bookref_ref(void *ctx, uint32_t sym)
{
	const ws_bookref_t *br = ctx;
	ws_risk_ref_t ref = {0};
	if (sym >= br->n_sym || !br->loc[sym])
		return ref;
	ws_book_level_t lv;
	ref.known = 1;
	if (ws_books_depth(br->books, br->loc[sym], 0, &lv, 1))
		ref.bid = lv.price;
	if (ws_books_depth(br->books, br->loc[sym], 1, &lv, 1))
		ref.ask = lv.price;
	ref.stale = br->route ? (uint8_t)ws_route_stale(br->route) : 0;
	return ref;
}
