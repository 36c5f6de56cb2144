/* book/book.c - ITCH 5.0 order books; see book.h for the structure and rules.
 *
 * Speed notes (each measured with `wirespeed bench book`, see #7):
 *   - the hot helpers are forced inline and error paths marked unlikely:
 *     the call overhead and the block layout were a fifth of the time;
 *   - this file is compiled with strict aliasing although the module is
 *     not (its packet code overlays structs on frames): here memory is only
 *     ever read through its own type, and without it every store into a
 *     pool made the compiler reload the pool pointers (6 % slower).
 */
#pragma GCC optimize("strict-aliasing")

#include "book/book.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "feed/itch.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define WS_PAGE_BITS 12u
#define WS_PAGE_SLOTS (1u << WS_PAGE_BITS)
#define WS_PAGED_REFS (1ull << 32)               /* references below this are paged */
#define WS_PAGE_TABLE (WS_PAGED_REFS >> WS_PAGE_BITS)

typedef struct {
	uint64_t ref;
	uint32_t shares, price;
	uint32_t level;      /* handle of its level */
	uint32_t prev, next; /* the level's ring (time priority); next is the free-list link when free */
	uint16_t locate;
	uint8_t side;        /* 0 bid, 1 ask */
	uint8_t paged;       /* in the paged index (else in the table) */
} ws_order_t;

/* A level's orders form a ring through prev/next whose head is the order
 * slot max_orders + (the level's handle): never an order, always linked,
 * so joining and leaving a level never asks "first? last?" - branches
 * that mispredicted on half the messages. head.next is the oldest order,
 * head.prev the newest. */
typedef struct {
	uint32_t price, count;
	uint64_t shares;
	uint32_t free;       /* the free-list link when free */
} ws_level_t;

/* A level in its side's array: the sort key inline, so a search walks one
 * contiguous array instead of chasing handles into the level pool. */
typedef struct {
	uint32_t key, li;
} ws_lvref_t;

/* Empty levels below the best stay in the side as ghosts (count 0, their
 * pool entry kept, their ring empty): the price is likely to be quoted
 * again, and then the add finds its level instead of making one, and the
 * delete that emptied it moved nothing. The best level is never a ghost:
 * when it empties, it and the ghosts under it leave. A side keeps at most
 * WS_MAX_GHOSTS (then it is compacted), and a full level pool takes them
 * all back before an add is refused. Reads skip them. */
#define WS_MAX_GHOSTS 16u

typedef struct {
	ws_lvref_t *lv;      /* sorted by key, worst -> best (best at the back) */
	uint32_t n, cap;
	uint32_t ghosts;     /* entries of lv whose level is empty */
} ws_side_t;

typedef struct {
	ws_side_t side[2];
	uint32_t best_price[2];
	uint64_t best_shares[2];
	char symbol[8];
} ws_book_t;

struct ws_books {
	ws_book_t *books;    /* [max_locate + 1], locate 0 unused */
	uint32_t max_locate;
	ws_order_t *orders;  /* [max_orders + max_levels]: orders, then the levels' ring heads */
	uint32_t max_orders, order_free;
	uint64_t live;
	ws_level_t *levels;
	uint32_t max_levels, level_free;
	/* reference -> order: a paged direct index for references below
	 * WS_PAGED_REFS (ITCH counts them up through the day, so live orders
	 * crowd a few hot pages), and an open-addressing table for the rest and
	 * for when the page pool is used up */
	uint32_t *page_of;   /* [WS_PAGE_TABLE]: page handle or NIL */
	uint32_t *pages;     /* [max_pages][WS_PAGE_SLOTS] order handles */
	uint32_t *page_live; /* [max_pages] live orders in the page; the free-list link when free */
	uint32_t max_pages, page_free;
	uint64_t ghosts;     /* over all sides */
	uint32_t *index;
	uint64_t mask, in_index;
	int shift;
	ws_book_stats_t st;
	ws_bbo_change_t *log; /* BBO changes since the last take; NULL: not logged */
	uint32_t log_cap, log_n;
	ws_bbo_change_t *log_out; /* what the last take handed out (swapped with log) */
	ws_bbo_fn on_bbo;         /* called at each BBO change (NULL: none) */
	void *on_bbo_ctx;
	ws_mbo_t *mbo;            /* the MBO log; NULL: off */
	uint32_t mbo_cap, mbo_n;
	uint32_t mbo_packet;      /* rows before the current packet's first */
	uint32_t *depth;          /* beside the MBO log: depth_levels * 4 per row; NULL: off */
	uint32_t depth_levels;
	int mbo_last_kept;        /* the last row went into the log (not dropped): its depth may follow */
	uint64_t mbo_dropped;
	const uint8_t *mbo_msg;   /* the message being applied (its timestamp and type) */
	ws_mbo_ctx_t mbo_ctx;
};

#define WS_HOT __attribute__((always_inline))
#define WS_LIKELY(x) __builtin_expect(!!(x), 1)
#define WS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* -- the reference index ------------------------------------------------------ */

static inline uint64_t ws_slot(const ws_books_t *b, uint64_t ref)
{
	return (ref * 0x9E3779B97F4A7C15ull) >> b->shift;
}

static inline uint32_t ws_hash_find(const ws_books_t *b, uint64_t ref)
{
	if (WS_LIKELY(!b->in_index))
		return WS_BOOK_NIL;
	for (uint64_t i = ws_slot(b, ref);; i = (i + 1) & b->mask) {
		uint32_t o = b->index[i];
		if (o == WS_BOOK_NIL || b->orders[o].ref == ref)
			return o;
	}
}

static inline void ws_hash_put(ws_books_t *b, uint64_t ref, uint32_t o)
{
	uint64_t i = ws_slot(b, ref);
	while (b->index[i] != WS_BOOK_NIL)
		i = (i + 1) & b->mask;
	b->index[i] = o;
	b->in_index++;
}

/* Backward-shift delete: later entries of the probe run move up into the
 * hole unless their home slot lies cyclically in (hole, j]. */
static void ws_hash_del(ws_books_t *b, uint64_t ref)
{
	b->in_index--;
	uint64_t i = ws_slot(b, ref);
	while (b->orders[b->index[i]].ref != ref)
		i = (i + 1) & b->mask;
	for (uint64_t j = i;;) {
		j = (j + 1) & b->mask;
		uint32_t o = b->index[j];
		if (o == WS_BOOK_NIL)
			break;
		uint64_t k = ws_slot(b, b->orders[o].ref);
		int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			b->index[i] = o;
			i = j;
		}
	}
	b->index[i] = WS_BOOK_NIL;
}

/* The paged part. A page holds WS_PAGE_SLOTS consecutive references. */
static inline uint32_t *ws_page_slot(const ws_books_t *b, uint64_t ref)
{
	if (WS_UNLIKELY(ref >= WS_PAGED_REFS))
		return NULL;
	uint32_t pg = b->page_of[ref >> WS_PAGE_BITS];
	return pg == WS_BOOK_NIL ? NULL : &b->pages[(size_t)pg * WS_PAGE_SLOTS + (ref & (WS_PAGE_SLOTS - 1))];
}

static inline uint32_t ws_find(const ws_books_t *b, uint64_t ref)
{
	const uint32_t *slot = ws_page_slot(b, ref);
	if (WS_LIKELY(slot && *slot != WS_BOOK_NIL))
		return *slot;
	return ws_hash_find(b, ref);
}

/* Where a new reference goes: its page (taken from the pool if need be),
 * else the table; an order remembers which (o->paged). */
WS_HOT static inline void ws_index_put(ws_books_t *b, uint64_t ref, uint32_t o)
{
	if (WS_LIKELY(ref < WS_PAGED_REFS)) {
		uint32_t *pg = &b->page_of[ref >> WS_PAGE_BITS];
		if (WS_UNLIKELY(*pg == WS_BOOK_NIL && b->page_free != WS_BOOK_NIL)) {
			*pg = b->page_free;
			b->page_free = b->page_live[*pg];
			b->page_live[*pg] = 0; /* a page goes back to the pool empty: all its slots are NIL */
		}
		if (WS_LIKELY(*pg != WS_BOOK_NIL)) {
			b->pages[(size_t)*pg * WS_PAGE_SLOTS + (ref & (WS_PAGE_SLOTS - 1))] = o;
			b->page_live[*pg]++;
			b->orders[o].paged = 1;
			return;
		}
	}
	ws_hash_put(b, ref, o);
	b->orders[o].paged = 0;
}

WS_HOT static inline void ws_index_del(ws_books_t *b, const ws_order_t *o)
{
	if (WS_UNLIKELY(!o->paged)) {
		ws_hash_del(b, o->ref);
		return;
	}
	uint32_t *pg = &b->page_of[o->ref >> WS_PAGE_BITS];
	b->pages[(size_t)*pg * WS_PAGE_SLOTS + (o->ref & (WS_PAGE_SLOTS - 1))] = WS_BOOK_NIL;
	if (WS_UNLIKELY(--b->page_live[*pg] == 0)) { /* back to the pool */
		b->page_live[*pg] = b->page_free;
		b->page_free = *pg;
		*pg = WS_BOOK_NIL;
	}
}

/* -- levels -------------------------------------------------------------------- */

/* Sort key: ascending keys run worst -> best on both sides. */
static inline uint32_t ws_key(int side, uint32_t price)
{
	return (side ? ~price : price) ^ 0x80000000u; /* biased: a signed compare orders them */
}

/* Side arrays keep WS_WIN entries of padding past n, all WS_PAD, and a
 * side never used points at a shared read-only padding; so the search and
 * the shifts below work on a fixed window of WS_WIN entries at the busy
 * end: no loop whose exit depends on the book's depth, four vector
 * compares instead of a dozen scalar ones. */
#define WS_WIN 16u
#define WS_PAD 0x7fffffffu /* the largest key (signed): never counted as below */
static const ws_lvref_t ws_no_levels[WS_WIN] = {
#define P4 {WS_PAD, WS_BOOK_NIL}, {WS_PAD, WS_BOOK_NIL}, {WS_PAD, WS_BOOK_NIL}, {WS_PAD, WS_BOOK_NIL}
	P4, P4, P4, P4
#undef P4
};

/* How many of the WS_WIN keys at w are below k (signed). */
static inline uint32_t ws_count_below(const ws_lvref_t *w, uint32_t k)
{
#if defined(__SSE2__)
	const __m128 *v = (const __m128 *)(const void *)w;
	__m128i kk = _mm_set1_epi32((int)k), m[4];
	for (int i = 0; i < 4; i++) { /* keys of 4 entries: the even lanes of two vectors */
		__m128 keys = _mm_shuffle_ps(_mm_loadu_ps((const float *)(v + 2 * i)),
		                             _mm_loadu_ps((const float *)(v + 2 * i + 1)), _MM_SHUFFLE(2, 0, 2, 0));
		m[i] = _mm_cmplt_epi32(_mm_castps_si128(keys), kk);
	}
	__m128i all = _mm_packs_epi16(_mm_packs_epi32(m[0], m[1]), _mm_packs_epi32(m[2], m[3]));
	/* sorted, so the keys below k are a prefix: count the mask's low ones
	 * (ctz, not popcount: x86-64's baseline has no popcnt instruction) */
	return (uint32_t)__builtin_ctz(~(unsigned)_mm_movemask_epi8(all));
#else
	uint32_t below = 0;
	for (uint32_t i = 0; i < WS_WIN; i++)
		below += (int32_t)w[i].key < (int32_t)k;
	return below;
#endif
}

/* Position of price in the side: where it is, or where it would go. Adds
 * land near the best, so look at the WS_WIN levels at the back first. */
WS_HOT static inline uint32_t ws_level_pos(const ws_side_t *s, int side, uint32_t price, int *found)
{
	uint32_t k = ws_key(side, price), n = s->n;
	uint32_t lo = n > WS_WIN ? n - WS_WIN : 0, below = lo;
	below += ws_count_below(s->lv + lo, k);
	if (WS_UNLIKELY(below == lo && lo)) { /* deeper than the window: binary search below it */
		uint32_t hi = lo;
		lo = 0;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if ((int32_t)s->lv[mid].key < (int32_t)k)
				lo = mid + 1;
			else
				hi = mid;
		}
		below = lo;
	}
	*found = below < n && s->lv[below].key == k;
	return below;
}

/* Room for one more level and its padding. */
static int ws_side_reserve(ws_side_t *s)
{
	if (WS_LIKELY(s->n + 1 + WS_WIN <= s->cap))
		return 0;
	uint32_t cap = s->cap ? s->cap * 2 : 4 * WS_WIN;
	ws_lvref_t *lv = realloc(s->cap ? s->lv : NULL, (size_t)cap * sizeof(*lv));
	if (!lv)
		return -1;
	for (uint32_t i = s->cap; i < cap; i++)
		lv[i] = (ws_lvref_t){WS_PAD, WS_BOOK_NIL};
	s->lv = lv;
	s->cap = cap;
	return 0;
}

/* Open a hole at pos (n grows by one). Within the window, a fixed-size
 * copy through registers; the padding moves along, so the entries past n
 * stay WS_PAD. (Levels leave only from the back or by compaction.) */
WS_HOT static inline void ws_side_open(ws_side_t *s, uint32_t pos)
{
	ws_lvref_t t[WS_WIN];
	if (WS_LIKELY(s->n - pos <= WS_WIN)) {
		memcpy(t, &s->lv[pos], sizeof(t));
		memcpy(&s->lv[pos + 1], t, sizeof(t));
	} else {
		memmove(&s->lv[pos + 1], &s->lv[pos], (size_t)(s->n - pos) * sizeof(*s->lv));
	}
	s->n++;
}

static inline void ws_level_free(ws_books_t *b, uint32_t li)
{
	b->levels[li].free = b->level_free;
	b->level_free = li;
}

/* The back (best) level leaves its side; the padding follows it. */
static inline void ws_side_pop(ws_books_t *b, ws_side_t *s)
{
	ws_level_free(b, s->lv[--s->n].li);
	s->lv[s->n] = (ws_lvref_t){WS_PAD, WS_BOOK_NIL};
}

/* Drop a side's ghosts: their levels go back to the pool. Moves positions. */
static void ws_side_compact(ws_books_t *b, ws_side_t *s)
{
	uint32_t j = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		if (b->levels[s->lv[i].li].count)
			s->lv[j++] = s->lv[i];
		else
			ws_level_free(b, s->lv[i].li);
	}
	for (uint32_t i = j; i < s->n; i++)
		s->lv[i] = (ws_lvref_t){WS_PAD, WS_BOOK_NIL};
	s->n = j;
	b->ghosts -= s->ghosts;
	s->ghosts = 0;
}

/* The level pool ran dry: every side gives its ghosts back (rare - the
 * pool is sized for the live levels - and a walk over the books). */
static void ws_reclaim_ghosts(ws_books_t *b)
{
	for (uint32_t loc = 1; b->ghosts && loc <= b->max_locate; loc++)
		for (int sd = 0; sd < 2; sd++)
			if (b->books[loc].side[sd].ghosts)
				ws_side_compact(b, &b->books[loc].side[sd]);
}

/* Both sides of a book as they are now: what a BBO change carries. */
static void ws_bbo_of(const ws_books_t *b, const ws_book_t *bk, ws_bbo_change_t *c)
{
	*c = (ws_bbo_change_t){.msg = b->st.messages, .locate = (uint16_t)(bk - b->books),
	                       .row = b->mbo && b->mbo_last_kept ? b->mbo_n - 1 : UINT32_MAX};
	for (int sd = 0; sd < 2; sd++) {
		const ws_side_t *s = &bk->side[sd];
		if (!s->n)
			continue;
		const ws_level_t *l = &b->levels[s->lv[s->n - 1].li];
		if (sd == 0) {
			c->bid_price = l->price;
			c->bid_shares = l->shares;
			c->bid_orders = l->count;
		} else {
			c->ask_price = l->price;
			c->ask_shares = l->shares;
			c->ask_orders = l->count;
		}
	}
}

static void ws_note_bbo(ws_books_t *b, ws_book_t *bk, int side)
{
	const ws_side_t *s = &bk->side[side];
	uint32_t p = 0;
	uint64_t q = 0;
	if (s->n) {
		const ws_level_t *l = &b->levels[s->lv[s->n - 1].li];
		p = l->price;
		q = l->shares;
	}
	if (p != bk->best_price[side] || q != bk->best_shares[side]) {
		bk->best_price[side] = p;
		bk->best_shares[side] = q;
		b->st.bbo_changes++;
		if (b->log) {
			if (b->log_n == b->log_cap)
				b->st.bbo_log_full++;
			else
				ws_bbo_of(b, bk, &b->log[b->log_n++]);
		}
		if (b->on_bbo) {
			ws_bbo_change_t c;
			ws_bbo_of(b, bk, &c);
			b->on_bbo(b->on_bbo_ctx, &c);
		}
	}
}

/* -- the MBO log ------------------------------------------------------------------- */

#define WS_PRICE_NANOS 100000ll /* ITCH's 4 implied decimals -> 1e-9 units */

/* One row of what the message being applied did. */
static void ws_mbo_row(ws_books_t *b, uint8_t action, uint8_t side, uint16_t locate, uint64_t ref, uint32_t price,
                       uint32_t size)
{
	if (WS_UNLIKELY(b->mbo_n == b->mbo_cap)) {
		b->mbo_dropped++;
		b->mbo_last_kept = 0;
		return;
	}
	b->mbo_last_kept = 1;
	ws_mbo_ctx_t *c = &b->mbo_ctx;
	ws_mbo_t *r = &b->mbo[b->mbo_n++];
	*r = (ws_mbo_t){.ts_recv = c->ts_recv, .ts_itch = ws_rd48(b->mbo_msg + 5), .sequence = c->sequence,
	                .order_id = ref, .price = (int64_t)price * WS_PRICE_NANOS, .size = size, .locate = locate,
	                .session = c->session, .action = action, .side = side, .line = c->line,
	                .type = b->mbo_msg[0]};
	r->flags = c->flags;
	c->flags = 0; /* "maybe bad book" marks the first row after the loss only */
	if (b->depth)
		memset(&b->depth[(size_t)(b->mbo_n - 1) * b->depth_levels * 4], 0, (size_t)b->depth_levels * 16);
}

#define WS_DEPTH_LEVELS_MAX 1000u /* ws_books_log_depth's limit */

/* The stock's book as it stands now, beside the last row (the depth log), in
 * LOBSTER's order: ask price, ask shares, bid price, bid shares a level. */
static void ws_mbo_depth(ws_books_t *b, uint16_t locate)
{
	if (!b->depth || !b->mbo_last_kept)
		return;
	uint32_t *d = &b->depth[(size_t)(b->mbo_n - 1) * b->depth_levels * 4];
	ws_book_level_t lv[WS_DEPTH_LEVELS_MAX];
	for (int side = 0; side < 2; side++) {
		uint32_t k = ws_books_depth(b, locate, side, lv, b->depth_levels);
		for (uint32_t i = 0; i < k; i++) {
			uint32_t *e = &d[i * 4 + (side ? 0 : 2)];
			e[0] = lv[i].price;
			e[1] = lv[i].shares > UINT32_MAX ? UINT32_MAX : (uint32_t)lv[i].shares;
		}
	}
}

/* The book side of an order as an MBO side. */
static inline uint8_t ws_mbo_side(int side)
{
	return side ? 'A' : 'B';
}

/* -- orders -------------------------------------------------------------------- */

/* Everything an add needs is there (checked by the caller, who found the
 * level's position): link it in. */
WS_HOT static inline void ws_add_checked(ws_books_t *b, uint16_t locate, int side, uint64_t ref, uint32_t shares,
                                        uint32_t price, uint32_t pos, int found)
{
	ws_side_t *s = &b->books[locate].side[side];
	uint32_t li;
	if (found) {
		li = s->lv[pos].li;
		uint32_t ghost = !b->levels[li].count; /* a ghost comes back (no branch: a coin toss) */
		s->ghosts -= ghost;
		b->ghosts -= ghost;
	} else {
		li = b->level_free;
		b->level_free = b->levels[li].free;
		b->levels[li] = (ws_level_t){.price = price, .count = 0, .shares = 0};
		ws_order_t *h = &b->orders[b->max_orders + li];
		h->prev = h->next = b->max_orders + li;
		ws_side_open(s, pos);
		s->lv[pos] = (ws_lvref_t){.key = ws_key(side, price), .li = li};
	}
	uint32_t oi = b->order_free;
	ws_order_t *o = &b->orders[oi];
	b->order_free = o->next;
	ws_level_t *l = &b->levels[li];
	uint32_t hi = b->max_orders + li;
	ws_order_t *h = &b->orders[hi];
	*o = (ws_order_t){.ref = ref, .shares = shares, .price = price, .level = li, .prev = h->prev,
	                  .next = hi, .locate = locate, .side = (uint8_t)side};
	b->orders[h->prev].next = oi;
	h->prev = oi;
	l->count++;
	l->shares += shares;
	ws_index_put(b, ref, oi);
	b->live++;
}

/* Can an add of this price on this side go in without a pool running out?
 * Finds the level's position on the way. `frees_level`: the caller is
 * about to free one level (a replace). */
WS_HOT static inline int ws_add_fits(ws_books_t *b, uint16_t locate, int side, uint32_t price, int frees_level,
                                    uint32_t *pos, int *found)
{
	ws_side_t *s = &b->books[locate].side[side];
	*pos = ws_level_pos(s, side, price, found);
	if (WS_UNLIKELY(!*found && b->level_free == WS_BOOK_NIL && !frees_level)) {
		if (!b->ghosts)
			return 0;
		ws_reclaim_ghosts(b); /* frees at least one level; positions moved */
		*pos = ws_level_pos(s, side, price, found);
	}
	return !*found ? ws_side_reserve(s) == 0 : 1;
}

WS_HOT static inline void ws_remove(ws_books_t *b, uint32_t oi)
{
	ws_order_t *o = &b->orders[oi];
	ws_level_t *l = &b->levels[o->level];
	b->orders[o->prev].next = o->next;
	b->orders[o->next].prev = o->prev;
	l->count--;
	l->shares -= o->shares;
	if (!l->count) {
		ws_side_t *s = &b->books[o->locate].side[o->side];
		if (s->lv[s->n - 1].li == o->level) {
			ws_side_pop(b, s); /* the best went, and the ghosts right under it */
			while (s->n && !b->levels[s->lv[s->n - 1].li].count) {
				s->ghosts--;
				b->ghosts--;
				ws_side_pop(b, s);
			}
		} else {
			b->ghosts++;
			if (WS_UNLIKELY(++s->ghosts > WS_MAX_GHOSTS))
				ws_side_compact(b, s);
		}
	}
	ws_index_del(b, o);
	o->next = b->order_free;
	b->order_free = oi;
	b->live--;
}

/* -- messages -------------------------------------------------------------------- */

WS_HOT static inline int ws_locate_ok(ws_books_t *b, uint16_t locate)
{
	if (WS_UNLIKELY(locate == 0 || locate > b->max_locate)) {
		b->st.bad_locate++;
		return 0;
	}
	return 1;
}

WS_HOT static inline int ws_on_add(ws_books_t *b, uint16_t locate, const uint8_t *m)
{
	uint64_t ref = ws_rd64(m + 11);
	uint8_t sd = m[19];
	uint32_t shares = ws_rd32(m + 20), price = ws_rd32(m + 32);
	if (!ws_locate_ok(b, locate))
		return 0;
	if (WS_UNLIKELY(sd != 'B' && sd != 'S')) {
		b->st.bad_side++;
		return 0;
	}
	int side = sd == 'S';
	if (WS_UNLIKELY(ws_find(b, ref) != WS_BOOK_NIL)) {
		b->st.duplicate_ref++;
		return 0;
	}
	uint32_t pos;
	int found;
	if (WS_UNLIKELY(b->order_free == WS_BOOK_NIL || !ws_add_fits(b, locate, side, price, 0, &pos, &found))) {
		b->st.pool_full++;
		return 0;
	}
	ws_add_checked(b, locate, side, ref, shares, price, pos, found);
	b->st.adds++;
	if (WS_UNLIKELY(b->mbo != NULL)) {
		ws_mbo_row(b, 'A', ws_mbo_side(side), locate, ref, price, shares);
		ws_mbo_depth(b, locate);
	}
	if (pos == b->books[locate].side[side].n - 1) /* only the best level can move the BBO */
		ws_note_bbo(b, &b->books[locate], side);
	return 1;
}

/* Is the order in the best level of its side? (Only changes there move the BBO.) */
static inline int ws_at_best(const ws_books_t *b, const ws_order_t *o)
{
	const ws_side_t *s = &b->books[o->locate].side[o->side];
	return s->lv[s->n - 1].li == o->level;
}

/* The order a message names, or NIL (counted). */
WS_HOT static inline uint32_t ws_named(ws_books_t *b, uint16_t locate, uint64_t ref)
{
	uint32_t oi = ws_find(b, ref);
	if (WS_UNLIKELY(oi == WS_BOOK_NIL)) {
		b->st.unknown_ref++;
		return WS_BOOK_NIL;
	}
	if (WS_UNLIKELY(b->orders[oi].locate != locate)) {
		b->st.locate_mismatch++;
		return WS_BOOK_NIL;
	}
	return oi;
}

/* The rows of a cancel (X, D) or an execution (E, C) at exec_price, before
 * the order changes. */
static void ws_mbo_reduce(ws_books_t *b, const ws_order_t *o, uint64_t ref, uint32_t shares, int cancel,
                          uint32_t exec_price)
{
	uint8_t side = ws_mbo_side(o->side);
	if (!cancel) {
		ws_mbo_row(b, 'T', side == 'B' ? 'A' : 'B', o->locate, ref, exec_price, shares);
		ws_mbo_row(b, 'F', side, o->locate, ref, exec_price, shares);
	}
	ws_mbo_row(b, 'C', side, o->locate, ref, o->price, shares);
}

/* How a reduction came about, for the MBO log. */
enum { WS_CANCELLED, WS_EXECUTED, WS_EXECUTED_AT };

/* E, C, X: take shares off an order; all of them removes it. how: a cancel,
 * an execution at the order's price, or one at exec_price (C). */
WS_HOT static inline int ws_on_reduce(ws_books_t *b, uint16_t locate, uint64_t ref, uint32_t shares, uint64_t *counter,
                                      int how, uint32_t exec_price)
{
	uint32_t oi = ws_named(b, locate, ref);
	if (WS_UNLIKELY(oi == WS_BOOK_NIL))
		return 0;
	ws_order_t *o = &b->orders[oi];
	if (WS_UNLIKELY(shares > o->shares)) {
		b->st.too_many_shares++;
		return 0;
	}
	if (WS_UNLIKELY(b->mbo != NULL))
		ws_mbo_reduce(b, o, ref, shares, how == WS_CANCELLED, how == WS_EXECUTED ? o->price : exec_price);
	int side = o->side, best = ws_at_best(b, o);
	if (shares == o->shares) {
		ws_remove(b, oi);
	} else {
		o->shares -= shares;
		b->levels[o->level].shares -= shares;
	}
	(*counter)++;
	if (WS_UNLIKELY(b->mbo != NULL))
		ws_mbo_depth(b, locate);
	if (best)
		ws_note_bbo(b, &b->books[locate], side);
	return 1;
}

WS_HOT static inline int ws_on_delete(ws_books_t *b, uint16_t locate, uint64_t ref)
{
	uint32_t oi = ws_named(b, locate, ref);
	if (WS_UNLIKELY(oi == WS_BOOK_NIL))
		return 0;
	if (WS_UNLIKELY(b->mbo != NULL))
		ws_mbo_reduce(b, &b->orders[oi], ref, b->orders[oi].shares, 1, 0);
	int side = b->orders[oi].side, best = ws_at_best(b, &b->orders[oi]);
	ws_remove(b, oi);
	b->st.deletes++;
	if (WS_UNLIKELY(b->mbo != NULL))
		ws_mbo_depth(b, locate);
	if (best)
		ws_note_bbo(b, &b->books[locate], side);
	return 1;
}

/* U: the old order leaves, the new one joins the back of its price level
 * (a replace loses time priority), same side and stock. */
WS_HOT static inline int ws_on_replace(ws_books_t *b, uint16_t locate, const uint8_t *m)
{
	uint64_t ref = ws_rd64(m + 11), nref = ws_rd64(m + 19);
	uint32_t shares = ws_rd32(m + 27), price = ws_rd32(m + 31);
	uint32_t oi = ws_named(b, locate, ref);
	if (WS_UNLIKELY(oi == WS_BOOK_NIL))
		return 0;
	if (WS_UNLIKELY(ws_find(b, nref) != WS_BOOK_NIL)) {
		b->st.duplicate_ref++;
		return 0;
	}
	const ws_order_t *o = &b->orders[oi];
	int side = o->side;
	int frees_level = b->levels[o->level].count == 1;
	uint32_t pos;
	int found;
	if (WS_UNLIKELY(!ws_add_fits(b, locate, side, price, frees_level, &pos, &found))) {
		b->st.pool_full++;
		return 0;
	}
	int best = ws_at_best(b, o);
	if (WS_UNLIKELY(b->mbo != NULL))
		ws_mbo_row(b, 'C', ws_mbo_side(side), locate, ref, o->price, o->shares);
	ws_remove(b, oi);
	if (WS_UNLIKELY(b->mbo != NULL))
		ws_mbo_depth(b, locate); /* the book between the two halves of the replace */
	if (frees_level) { /* its level emptied: positions may have moved, look again */
		pos = ws_level_pos(&b->books[locate].side[side], side, price, &found);
		if (!found && b->level_free == WS_BOOK_NIL) { /* it stayed as a ghost: take it back */
			ws_reclaim_ghosts(b);
			pos = ws_level_pos(&b->books[locate].side[side], side, price, &found);
		}
	}
	ws_add_checked(b, locate, side, nref, shares, price, pos, found);
	b->st.replaces++;
	if (WS_UNLIKELY(b->mbo != NULL)) {
		ws_mbo_row(b, 'A', ws_mbo_side(side), locate, nref, price, shares);
		ws_mbo_depth(b, locate);
	}
	if (best || pos == b->books[locate].side[side].n - 1)
		ws_note_bbo(b, &b->books[locate], side);
	return 1;
}

WS_HOT static inline int ws_apply(ws_books_t *b, const uint8_t *m, uint32_t len)
{
	b->st.messages++;
	if (WS_UNLIKELY(len == 0)) {
		b->st.bad_length++;
		return 0;
	}
	uint32_t want = ws_itch_len(m[0]);
	if (WS_UNLIKELY(!want)) {
		b->st.unknown_type++;
		return 0;
	}
	if (WS_UNLIKELY(len != want)) {
		b->st.bad_length++;
		return 0;
	}
	uint16_t locate = ws_rd16(m + 1);
	int changed = 0;
	b->mbo_msg = m;
	switch (m[0]) {
	case 'A':
	case 'F':
		changed = ws_on_add(b, locate, m);
		break;
	case 'E':
		changed = ws_on_reduce(b, locate, ws_rd64(m + 11), ws_rd32(m + 19), &b->st.executes, WS_EXECUTED, 0);
		break;
	case 'C':
		changed = ws_on_reduce(b, locate, ws_rd64(m + 11), ws_rd32(m + 19), &b->st.executes, WS_EXECUTED_AT,
		                       ws_rd32(m + 32));
		break;
	case 'X':
		changed = ws_on_reduce(b, locate, ws_rd64(m + 11), ws_rd32(m + 19), &b->st.cancels, WS_CANCELLED, 0);
		break;
	case 'D':
		changed = ws_on_delete(b, locate, ws_rd64(m + 11));
		break;
	case 'U':
		changed = ws_on_replace(b, locate, m);
		break;
	case 'P': /* ref 11, side 19, shares 20, stock 24, price 32 */
		b->st.trades++;
		if (WS_UNLIKELY(b->mbo != NULL) && ws_locate_ok(b, locate)) {
			ws_mbo_row(b, 'T', m[19] == 'S' ? 'A' : m[19] == 'B' ? 'B' : 'N', locate, 0, ws_rd32(m + 32),
			           ws_rd32(m + 20));
			ws_mbo_depth(b, locate);
		}
		break;
	case 'Q': /* shares 11 (8 bytes), stock 19, cross price 27 */
		b->st.trades++;
		if (WS_UNLIKELY(b->mbo != NULL) && ws_locate_ok(b, locate)) {
			uint64_t q = ws_rd64(m + 11);
			ws_mbo_row(b, 'T', 'N', locate, 0, ws_rd32(m + 27), q > UINT32_MAX ? UINT32_MAX : (uint32_t)q);
			ws_mbo_depth(b, locate);
		}
		break;
	case 'S':
		b->st.system_events++;
		break;
	case 'R':
		b->st.directory++;
		if (ws_locate_ok(b, locate))
			memcpy(b->books[locate].symbol, m + 11, 8);
		break;
	default:
		b->st.other++;
		break;
	}
	b->st.applied += (uint64_t)changed;
	return changed;
}

int ws_books_apply(ws_books_t *b, const uint8_t *m, uint32_t len)
{
	return ws_apply(b, m, len);
}

uint64_t ws_books_apply_day(ws_books_t *b, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	uint64_t n = 0;
	while (off + 2 <= len) {
		uint32_t ml = ws_rd16(buf + off);
		if (WS_UNLIKELY(off + 2 + ml > len))
			break;
		ws_apply(b, buf + off + 2, ml);
		off += 2 + (size_t)ml;
		n++;
	}
	if (off < len)
		b->st.truncated++;
	return n;
}

/* -- lifetime and reads ------------------------------------------------------------ */

ws_books_t *ws_books_create(uint32_t max_locate, uint32_t max_orders, uint32_t max_levels)
{
	if (!max_locate || max_locate > 65535 || !max_orders || max_orders > (1u << 30) || !max_levels ||
	    max_levels >= WS_BOOK_NIL)
		return NULL;
	ws_books_t *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	int bits = 1;
	while ((1ull << bits) < 2ull * max_orders)
		bits++;
	b->mask = (1ull << bits) - 1;
	b->shift = 64 - bits;
	b->max_locate = max_locate;
	b->max_orders = max_orders;
	b->max_levels = max_levels;
	b->books = calloc((size_t)max_locate + 1, sizeof(*b->books));
	b->orders = malloc(((size_t)max_orders + max_levels) * sizeof(*b->orders));
	b->levels = malloc((size_t)max_levels * sizeof(*b->levels));
	b->index = malloc((size_t)(b->mask + 1) * sizeof(*b->index));
	/* 16 KB each, filled with NIL here so that no page is touched for the
	 * first time while messages are applied; when they run out, the table
	 * takes over (slower, never wrong) */
	b->max_pages = max_orders / 512 + 64;
	b->page_of = malloc(WS_PAGE_TABLE * sizeof(*b->page_of));
	b->pages = malloc((size_t)b->max_pages * WS_PAGE_SLOTS * sizeof(*b->pages));
	b->page_live = malloc((size_t)b->max_pages * sizeof(*b->page_live));
	if (!b->books || !b->orders || !b->levels || !b->index || !b->page_of || !b->pages || !b->page_live) {
		ws_books_delete(b);
		return NULL;
	}
	memset(b->index, 0xff, (size_t)(b->mask + 1) * sizeof(*b->index));
	memset(b->page_of, 0xff, WS_PAGE_TABLE * sizeof(*b->page_of));
	memset(b->pages, 0xff, (size_t)b->max_pages * WS_PAGE_SLOTS * sizeof(*b->pages));
	for (uint32_t i = 0; i < b->max_pages; i++)
		b->page_live[i] = i + 1 < b->max_pages ? i + 1 : WS_BOOK_NIL;
	b->page_free = 0;
	for (uint32_t i = 0; i < max_orders; i++)
		b->orders[i].next = i + 1 < max_orders ? i + 1 : WS_BOOK_NIL;
	for (uint32_t i = 0; i < max_levels; i++)
		b->levels[i].free = i + 1 < max_levels ? i + 1 : WS_BOOK_NIL;
	for (uint32_t i = 0; i <= max_locate; i++) {
		memset(b->books[i].symbol, ' ', 8);
		b->books[i].side[0].lv = b->books[i].side[1].lv = (ws_lvref_t *)ws_no_levels;
	}
	return b;
}

void ws_books_delete(ws_books_t *b)
{
	if (!b)
		return;
	if (b->books)
		for (uint32_t i = 0; i <= b->max_locate; i++) {
			for (int sd = 0; sd < 2; sd++)
				if (b->books[i].side[sd].cap)
					free(b->books[i].side[sd].lv);
		}
	free(b->books);
	free(b->orders);
	free(b->levels);
	free(b->index);
	free(b->log);
	free(b->log_out);
	free(b->mbo);
	free(b->depth);
	free(b->page_of);
	free(b->pages);
	free(b->page_live);
	free(b);
}

const ws_book_stats_t *ws_books_stats(const ws_books_t *b)
{
	return &b->st;
}

static const ws_side_t *ws_side_of(const ws_books_t *b, uint16_t locate, int side)
{
	if (locate == 0 || locate > b->max_locate || (side != 0 && side != 1))
		return NULL;
	return &b->books[locate].side[side];
}

uint32_t ws_books_max_locate(const ws_books_t *b)
{
	return b->max_locate;
}

uint32_t ws_books_levels(const ws_books_t *b, uint16_t locate, int side)
{
	const ws_side_t *s = ws_side_of(b, locate, side);
	return s ? s->n - s->ghosts : 0;
}

uint32_t ws_books_depth(const ws_books_t *b, uint16_t locate, int side, ws_book_level_t *out, uint32_t n)
{
	const ws_side_t *s = ws_side_of(b, locate, side);
	if (!s)
		return 0;
	uint32_t k = 0;
	for (uint32_t i = s->n; k < n && i > 0; i--) {
		const ws_level_t *l = &b->levels[s->lv[i - 1].li];
		if (l->count) /* not a ghost */
			out[k++] = (ws_book_level_t){.price = l->price, .count = l->count, .shares = l->shares};
	}
	return k;
}

uint32_t ws_books_orders(const ws_books_t *b, uint16_t locate, int side, uint32_t level, uint64_t *refs,
                         uint32_t *shares, uint32_t n)
{
	const ws_side_t *s = ws_side_of(b, locate, side);
	if (!s || level >= s->n - s->ghosts)
		return 0;
	const ws_level_t *l = NULL;
	for (uint32_t i = s->n, live = 0; i > 0; i--) { /* the level-th that is not a ghost */
		l = &b->levels[s->lv[i - 1].li];
		if (l->count && live++ == level)
			break;
	}
	uint32_t k = 0;
	uint32_t hi = b->max_orders + (uint32_t)(l - b->levels);
	for (uint32_t oi = b->orders[hi].next; oi != hi && k < n; oi = b->orders[oi].next, k++) {
		refs[k] = b->orders[oi].ref;
		shares[k] = b->orders[oi].shares;
	}
	return l->count;
}

void ws_books_symbol(const ws_books_t *b, uint16_t locate, char out[8])
{
	if (locate == 0 || locate > b->max_locate)
		memset(out, ' ', 8);
	else
		memcpy(out, b->books[locate].symbol, 8);
}

int ws_books_log_bbo(ws_books_t *b, uint32_t cap)
{
	free(b->log);
	free(b->log_out);
	b->log = b->log_out = NULL;
	b->log_cap = b->log_n = 0;
	if (!cap)
		return 0;
	b->log = malloc((size_t)cap * sizeof(*b->log));
	b->log_out = malloc((size_t)cap * sizeof(*b->log_out));
	if (!b->log || !b->log_out) {
		free(b->log);
		free(b->log_out);
		b->log = b->log_out = NULL;
		return -ENOMEM;
	}
	b->log_cap = cap;
	return 0;
}

const ws_bbo_change_t *ws_books_take_bbo(ws_books_t *b, uint32_t *n)
{
	*n = b->log_n;
	if (!b->log)
		return NULL;
	ws_bbo_change_t *out = b->log; /* double buffer: applying goes on into the other */
	b->log = b->log_out;
	b->log_out = out;
	b->log_n = 0;
	return out;
}

int ws_books_log_mbo(ws_books_t *b, uint32_t cap)
{
	ws_books_log_depth(b, 0); /* sized by the log: made again after it */
	free(b->mbo);
	b->mbo = NULL;
	b->mbo_cap = b->mbo_n = 0;
	if (!cap)
		return 0;
	b->mbo = malloc((size_t)cap * sizeof(*b->mbo));
	if (!b->mbo)
		return -ENOMEM;
	b->mbo_cap = cap;
	return 0;
}

ws_mbo_ctx_t *ws_books_mbo_ctx(ws_books_t *b)
{
	return b->mbo ? &b->mbo_ctx : NULL;
}

uint32_t ws_books_mbo_room(const ws_books_t *b)
{
	return b->mbo ? b->mbo_cap - b->mbo_n : UINT32_MAX; /* no log: nothing to fill */
}

void ws_books_mbo_end_packet(ws_books_t *b)
{
	if (b->mbo && b->mbo_n > b->mbo_packet)
		b->mbo[b->mbo_n - 1].flags |= WS_MBO_F_LAST;
	b->mbo_packet = b->mbo_n;
}

const ws_mbo_t *ws_books_take_mbo(ws_books_t *b, uint32_t *n, uint64_t *dropped)
{
	*n = b->mbo_n;
	*dropped = b->mbo_dropped;
	b->mbo_n = b->mbo_packet = 0; /* the rows stay intact until the next apply writes over them */
	b->mbo_last_kept = 0;
	return b->mbo;
}

int ws_books_log_depth(ws_books_t *b, uint32_t levels)
{
	free(b->depth);
	b->depth = NULL;
	b->depth_levels = 0;
	if (!levels)
		return 0;
	if (!b->mbo || levels > WS_DEPTH_LEVELS_MAX)
		return -EINVAL;
	b->depth = malloc((size_t)b->mbo_cap * levels * 4 * sizeof(*b->depth));
	if (!b->depth)
		return -ENOMEM;
	b->depth_levels = levels;
	return 0;
}

const uint32_t *ws_books_mbo_depth(const ws_books_t *b, uint32_t *levels)
{
	*levels = b->depth_levels;
	return b->depth;
}

const ws_mbo_t *ws_books_mbo_peek(const ws_books_t *b, uint32_t *n)
{
	*n = b->mbo_n;
	return b->mbo;
}

uint64_t ws_books_live_orders(const ws_books_t *b)
{
	return b->live;
}

void ws_books_on_bbo(ws_books_t *b, ws_bbo_fn fn, void *ctx)
{
	b->on_bbo = fn;
	b->on_bbo_ctx = ctx;
}
