/* exchange/match.c - price-time matching; see match.h for the contract.
 *
 * Each side of a book is an array of price levels sorted by key, best at
 * the back (bids: key = price, asks: key = ~price, so both sort ascending
 * towards the best). A level holds its orders in arrival order, linked by
 * pool index (head = first in line). Most activity is at the back, so
 * lookups scan the last levels before they search.
 */
#include "exchange/match.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	uint32_t key;
	uint32_t head, tail; /* pool indices, WS_MATCH_NONE if empty */
	uint32_t n;
	uint64_t qty;
} ws_lvl_t;

typedef struct {
	ws_lvl_t *lv;
	uint32_t n, cap;
} ws_side_t;

typedef struct {
	ws_side_t side[2]; /* 0 bids, 1 asks */
	uint32_t *sim;     /* owner-0 orders, any order */
	uint32_t n_sim, cap_sim;
} ws_mbook_t;

typedef struct {
	uint64_t ref, tag;
	uint32_t qty, price;
	uint32_t prev, next; /* in the level; next also links the free list */
	uint32_t owner, sim_pos;
	uint16_t locate;
	uint8_t side, live;
} ws_mord_t;

struct ws_match {
	uint32_t n_symbols, max_orders;
	ws_mbook_t *books; /* [locate - 1] */
	ws_mord_t *ord;
	uint32_t free_head;
	uint64_t next_ref, next_match;
	ws_match_ev_t *ev;
	uint32_t n_ev, cap_ev;
	ws_match_stats_t st;
};

static inline int ws_si(uint8_t side) { return side == 'B' ? 0 : 1; }
static inline uint32_t ws_key(int si, uint32_t price) { return si ? ~price : price; }
static inline uint32_t ws_price_of(int si, uint32_t key) { return si ? ~key : key; }

ws_match_t *ws_match_new(uint32_t n_symbols, uint32_t max_orders)
{
	if (!n_symbols || n_symbols > 65535 || !max_orders || max_orders >= WS_MATCH_NONE)
		return NULL;
	ws_match_t *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->n_symbols = n_symbols;
	e->max_orders = max_orders;
	e->books = calloc(n_symbols, sizeof(*e->books));
	e->ord = calloc(max_orders, sizeof(*e->ord));
	e->cap_ev = 256;
	e->ev = malloc(e->cap_ev * sizeof(*e->ev));
	if (!e->books || !e->ord || !e->ev) {
		ws_match_delete(e);
		return NULL;
	}
	for (uint32_t i = 0; i < max_orders; i++)
		e->ord[i].next = i + 1 < max_orders ? i + 1 : WS_MATCH_NONE;
	e->free_head = 0;
	e->next_ref = 1;
	e->next_match = 1;
	return e;
}

void ws_match_delete(ws_match_t *e)
{
	if (!e)
		return;
	if (e->books)
		for (uint32_t i = 0; i < e->n_symbols; i++) {
			free(e->books[i].side[0].lv);
			free(e->books[i].side[1].lv);
			free(e->books[i].sim);
		}
	free(e->books);
	free(e->ord);
	free(e->ev);
	free(e);
}

/* -- events -------------------------------------------------------------------------- */

/* A new event slot; NULL only when the list cannot grow (out of memory). */
static ws_match_ev_t *ws_emit(ws_match_t *e, uint8_t kind, const ws_mord_t *o, uint32_t handle)
{
	if (e->n_ev == e->cap_ev) {
		ws_match_ev_t *ev = realloc(e->ev, 2 * (size_t)e->cap_ev * sizeof(*ev));
		if (!ev) {
			e->st.events_lost++;
			return NULL;
		}
		e->ev = ev;
		e->cap_ev *= 2;
	}
	ws_match_ev_t *v = &e->ev[e->n_ev++];
	*v = (ws_match_ev_t){.kind = kind, .side = o->side, .locate = o->locate, .handle = handle, .ref = o->ref,
	                     .owner = o->owner, .tag = o->tag, .price = o->price, .remaining = o->qty};
	return v;
}

const ws_match_ev_t *ws_match_events(const ws_match_t *e, uint32_t *n)
{
	*n = e->n_ev;
	return e->ev;
}

void ws_match_clear_events(ws_match_t *e) { e->n_ev = 0; }
const ws_match_stats_t *ws_match_stats(const ws_match_t *e) { return &e->st; }

/* -- levels ------------------------------------------------------------------------- */

/* The index of the level with key, or -(insertion point) - 1. */
static int64_t ws_lvl_find(const ws_side_t *s, uint32_t key)
{
	uint32_t hi = s->n, lo = 0;
	for (uint32_t k = 0; k < 24 && hi > lo; k++) { /* the back first: that is where orders come */
		uint32_t i = hi - 1;
		if (s->lv[i].key == key)
			return i;
		if (s->lv[i].key < key)
			return -(int64_t)hi - 1;
		hi = i;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s->lv[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->lv[lo].key == key ? (int64_t)lo : -(int64_t)lo - 1;
}

/* The level of key, made if missing; NULL if the side cannot grow. */
static ws_lvl_t *ws_lvl_get(ws_side_t *s, uint32_t key)
{
	int64_t i = ws_lvl_find(s, key);
	if (i >= 0)
		return &s->lv[i];
	uint32_t at = (uint32_t)(-i - 1);
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? 2 * s->cap : 32;
		ws_lvl_t *lv = realloc(s->lv, cap * sizeof(*lv));
		if (!lv)
			return NULL;
		s->lv = lv;
		s->cap = cap;
	}
	memmove(&s->lv[at + 1], &s->lv[at], (s->n - at) * sizeof(*s->lv));
	s->n++;
	s->lv[at] = (ws_lvl_t){.key = key, .head = WS_MATCH_NONE, .tail = WS_MATCH_NONE};
	return &s->lv[at];
}

static void ws_lvl_drop(ws_side_t *s, ws_lvl_t *l)
{
	uint32_t at = (uint32_t)(l - s->lv);
	memmove(&s->lv[at], &s->lv[at + 1], (s->n - at - 1) * sizeof(*s->lv));
	s->n--;
}

/* -- orders ------------------------------------------------------------------------- */

static void ws_sim_push(ws_mbook_t *b, ws_mord_t *o, uint32_t h)
{
	if (b->n_sim == b->cap_sim) {
		uint32_t cap = b->cap_sim ? 2 * b->cap_sim : 64;
		uint32_t *a = realloc(b->sim, cap * sizeof(*a));
		if (!a) { /* not pickable by the simulator's random flow; still in the book */
			o->sim_pos = WS_MATCH_NONE;
			return;
		}
		b->sim = a;
		b->cap_sim = cap;
	}
	o->sim_pos = b->n_sim;
	b->sim[b->n_sim++] = h;
}

static void ws_sim_pop(ws_match_t *e, ws_mbook_t *b, ws_mord_t *o)
{
	if (o->owner || o->sim_pos == WS_MATCH_NONE)
		return;
	uint32_t last = b->sim[--b->n_sim];
	b->sim[o->sim_pos] = last;
	e->ord[last].sim_pos = o->sim_pos;
}

/* Append order h at the tail of its level (made if missing). 0 or -1. */
static int ws_link(ws_match_t *e, uint32_t h)
{
	ws_mord_t *o = &e->ord[h];
	int si = ws_si(o->side);
	ws_lvl_t *l = ws_lvl_get(&e->books[o->locate - 1].side[si], ws_key(si, o->price));
	if (!l)
		return -1;
	o->prev = l->tail;
	o->next = WS_MATCH_NONE;
	if (l->tail != WS_MATCH_NONE)
		e->ord[l->tail].next = h;
	else
		l->head = h;
	l->tail = h;
	l->n++;
	l->qty += o->qty;
	return 0;
}

/* The side and level a resting order is in. */
static ws_lvl_t *ws_lvl_of(ws_match_t *e, const ws_mord_t *o, ws_side_t **side)
{
	int si = ws_si(o->side);
	ws_side_t *s = &e->books[o->locate - 1].side[si];
	*side = s;
	return &s->lv[ws_lvl_find(s, ws_key(si, o->price))];
}

/* Take order h out of its level (dropped when empty). */
static void ws_unlink(ws_match_t *e, uint32_t h)
{
	ws_mord_t *o = &e->ord[h];
	ws_side_t *s;
	ws_lvl_t *l = ws_lvl_of(e, o, &s);
	if (o->prev != WS_MATCH_NONE)
		e->ord[o->prev].next = o->next;
	else
		l->head = o->next;
	if (o->next != WS_MATCH_NONE)
		e->ord[o->next].prev = o->prev;
	else
		l->tail = o->prev;
	l->qty -= o->qty;
	if (!--l->n)
		ws_lvl_drop(s, l);
}

static void ws_free(ws_match_t *e, uint32_t h)
{
	ws_mord_t *o = &e->ord[h];
	ws_sim_pop(e, &e->books[o->locate - 1], o);
	o->live = 0;
	o->next = e->free_head;
	e->free_head = h;
	e->st.live--;
}

/* Trade n shares of the order first in line at level l of side s. */
static void ws_fill_front(ws_match_t *e, ws_side_t *s, ws_lvl_t *l, uint32_t n, uint32_t taker_owner,
                          uint64_t taker_tag, int with_price)
{
	uint32_t h = l->head;
	ws_mord_t *o = &e->ord[h];
	o->qty -= n;
	l->qty -= n;
	ws_match_ev_t *v = ws_emit(e, WS_EV_EXEC, o, h);
	if (v) {
		v->qty = n;
		v->match = e->next_match;
		v->taker_owner = taker_owner;
		v->taker_tag = taker_tag;
		v->with_price = (uint8_t)with_price;
	}
	e->next_match++;
	e->st.execs++;
	e->st.matches++;
	if (!o->qty) {
		l->head = o->next;
		if (o->next != WS_MATCH_NONE)
			e->ord[o->next].prev = WS_MATCH_NONE;
		else
			l->tail = WS_MATCH_NONE;
		if (!--l->n)
			ws_lvl_drop(s, l);
		ws_free(e, h);
	}
}

/* Trade an incoming order against the other side while it crosses; returns what is left. */
static uint32_t ws_cross(ws_match_t *e, uint16_t locate, int si, uint32_t price, uint32_t qty, uint32_t owner,
                         uint64_t tag)
{
	ws_side_t *opp = &e->books[locate - 1].side[si ^ 1];
	uint32_t limit = ws_key(si ^ 1, price); /* the other side's key at our price: its levels >= it cross */
	while (qty && opp->n && opp->lv[opp->n - 1].key >= limit) {
		ws_lvl_t *l = &opp->lv[opp->n - 1];
		uint32_t front = e->ord[l->head].qty;
		uint32_t n = qty < front ? qty : front;
		ws_fill_front(e, opp, l, n, owner, tag, 0);
		qty -= n;
	}
	return qty;
}

/* Rest qty shares as a new order with ref; its handle, or NONE (pool full). */
static uint32_t ws_rest(ws_match_t *e, uint16_t locate, uint8_t side, uint32_t price, uint32_t qty, uint32_t owner,
                        uint64_t tag, uint64_t ref, int attributed)
{
	uint32_t h = e->free_head;
	if (h == WS_MATCH_NONE) {
		e->st.pool_full++;
		return WS_MATCH_NONE;
	}
	ws_mord_t *o = &e->ord[h];
	e->free_head = o->next;
	*o = (ws_mord_t){.ref = ref, .tag = tag, .qty = qty, .price = price, .owner = owner,
	                 .sim_pos = WS_MATCH_NONE, .locate = locate, .side = side, .live = 1};
	if (ws_link(e, h)) {
		o->live = 0;
		o->next = e->free_head;
		e->free_head = h;
		e->st.pool_full++;
		return WS_MATCH_NONE;
	}
	if (!owner)
		ws_sim_push(&e->books[locate - 1], o, h);
	e->st.live++;
	e->st.adds++;
	ws_match_ev_t *v = ws_emit(e, WS_EV_ADD, o, h);
	if (v) {
		v->qty = qty;
		v->attributed = (uint8_t)attributed;
	}
	return h;
}

/* What is left of an order that does not rest: canceled, never published. */
static void ws_cancel_unrested(ws_match_t *e, uint16_t locate, uint8_t side, uint32_t price, uint32_t qty,
                               uint32_t owner, uint64_t tag, uint64_t ref)
{
	ws_mord_t tmp = {.ref = ref, .tag = tag, .price = price, .owner = owner, .locate = locate, .side = side};
	ws_match_ev_t *v = ws_emit(e, WS_EV_CANCEL, &tmp, WS_MATCH_NONE);
	if (v)
		v->qty = qty;
	e->st.cancels++;
}

uint32_t ws_match_add(ws_match_t *e, uint16_t locate, uint8_t side, uint32_t price, uint32_t qty, int ioc,
                      uint32_t owner, uint64_t tag, int attributed, uint64_t *ref)
{
	if (!ioc && e->free_head == WS_MATCH_NONE) { /* refuse before it trades: all or nothing */
		e->st.pool_full++;
		*ref = 0;
		return WS_MATCH_NONE;
	}
	*ref = e->next_ref++;
	uint32_t left = ws_cross(e, locate, ws_si(side), price, qty, owner, tag);
	if (!left)
		return WS_MATCH_NONE;
	uint32_t h = ioc ? WS_MATCH_NONE : ws_rest(e, locate, side, price, left, owner, tag, *ref, attributed);
	if (h == WS_MATCH_NONE) /* an IOC remainder, or no room to rest (counted): it says so */
		ws_cancel_unrested(e, locate, side, price, left, owner, tag, *ref);
	return h;
}

uint32_t ws_match_reduce(ws_match_t *e, uint32_t h, uint32_t open)
{
	if (h >= e->max_orders || !e->ord[h].live || open >= e->ord[h].qty)
		return 0;
	ws_mord_t *o = &e->ord[h];
	uint32_t n = o->qty - open;
	if (!open) {
		ws_unlink(e, h);
	} else {
		ws_side_t *s;
		ws_lvl_of(e, o, &s)->qty -= n;
	}
	o->qty = open;
	ws_match_ev_t *v = ws_emit(e, WS_EV_CANCEL, o, h);
	if (v) {
		v->qty = n;
		v->rested = 1;
	}
	e->st.cancels++;
	if (!open)
		ws_free(e, h);
	return n;
}

uint32_t ws_match_replace(ws_match_t *e, uint32_t h, uint32_t price, uint32_t qty, uint64_t new_tag,
                          uint64_t *new_ref)
{
	*new_ref = 0;
	if (h >= e->max_orders || !e->ord[h].live || !qty)
		return WS_MATCH_NONE;
	ws_mord_t *o = &e->ord[h];
	int si = ws_si(o->side);
	const ws_side_t *opp = &e->books[o->locate - 1].side[si ^ 1];
	if (opp->n && opp->lv[opp->n - 1].key >= ws_key(si ^ 1, price)) {
		/* it would trade: the old order goes, the new one enters like an add */
		uint16_t locate = o->locate;
		uint8_t side = o->side;
		uint32_t owner = o->owner;
		ws_match_reduce(e, h, 0);
		return ws_match_add(e, locate, side, price, qty, 0, owner, new_tag, 0, new_ref);
	}
	uint64_t old_ref = o->ref;
	ws_unlink(e, h);
	o->ref = *new_ref = e->next_ref++;
	o->price = price;
	o->qty = qty;
	o->tag = new_tag;
	if (ws_link(e, h)) { /* no room for a new level: it leaves the book */
		ws_match_ev_t *v = ws_emit(e, WS_EV_CANCEL, o, h);
		if (v) {
			v->ref = old_ref;
			v->qty = qty;
			v->remaining = 0;
			v->rested = 1;
		}
		o->qty = 0;
		ws_free(e, h);
		return WS_MATCH_NONE;
	}
	ws_match_ev_t *v = ws_emit(e, WS_EV_REPLACE, o, h);
	if (v) {
		v->ref = old_ref;
		v->new_ref = o->ref;
		v->qty = qty;
	}
	e->st.replaces++;
	return h;
}

uint32_t ws_match_execute_front(ws_match_t *e, uint16_t locate, uint8_t side, uint32_t qty, int with_price)
{
	ws_mbook_t *b = &e->books[locate - 1];
	int si = ws_si(side);
	if (!b->side[si].n)
		si ^= 1;
	ws_side_t *s = &b->side[si];
	if (!s->n || !qty)
		return 0;
	ws_lvl_t *l = &s->lv[s->n - 1];
	uint32_t front = e->ord[l->head].qty;
	uint32_t n = qty < front ? qty : front;
	ws_fill_front(e, s, l, n, 0, 0, with_price);
	return n;
}

uint32_t ws_match_front(const ws_match_t *e, uint16_t locate, uint8_t side)
{
	const ws_mbook_t *b = &e->books[locate - 1];
	int si = ws_si(side);
	if (!b->side[si].n)
		si ^= 1;
	const ws_side_t *s = &b->side[si];
	return s->n ? s->lv[s->n - 1].head : WS_MATCH_NONE;
}

uint64_t ws_match_next_match(ws_match_t *e) { return e->next_match++; }

uint32_t ws_match_sim_count(const ws_match_t *e, uint16_t locate) { return e->books[locate - 1].n_sim; }

uint32_t ws_match_sim_order(const ws_match_t *e, uint16_t locate, uint32_t k)
{
	const ws_mbook_t *b = &e->books[locate - 1];
	return k < b->n_sim ? b->sim[k] : WS_MATCH_NONE;
}

int ws_match_order(const ws_match_t *e, uint32_t h, uint64_t *ref, uint8_t *side, uint32_t *price, uint32_t *qty,
                   uint32_t *owner, uint64_t *tag)
{
	if (h >= e->max_orders || !e->ord[h].live)
		return 0;
	const ws_mord_t *o = &e->ord[h];
	*ref = o->ref;
	*side = o->side;
	*price = o->price;
	*qty = o->qty;
	*owner = o->owner;
	*tag = o->tag;
	return 1;
}

void ws_match_bbo(const ws_match_t *e, uint16_t locate, uint32_t *bid_px, uint32_t *bid_qty, uint32_t *ask_px,
                  uint32_t *ask_qty)
{
	const ws_mbook_t *b = &e->books[locate - 1];
	const ws_side_t *bid = &b->side[0], *ask = &b->side[1];
	*bid_px = bid->n ? ws_price_of(0, bid->lv[bid->n - 1].key) : 0;
	*bid_qty = bid->n ? (uint32_t)bid->lv[bid->n - 1].qty : 0;
	*ask_px = ask->n ? ws_price_of(1, ask->lv[ask->n - 1].key) : 0;
	*ask_qty = ask->n ? (uint32_t)ask->lv[ask->n - 1].qty : 0;
}

/* The handle of the order slot s names, if that order still rests. */
static uint32_t ws_slot_live(const ws_match_t *e, const ws_match_slot_t *s)
{
	if (s->handle == WS_MATCH_NONE || !e->ord[s->handle].live || e->ord[s->handle].tag != s->tag)
		return WS_MATCH_NONE;
	return s->handle;
}

void ws_match_run(ws_match_t *e, const ws_match_op_t *ops, uint32_t n, ws_match_slot_t *slots, uint64_t *events,
                  uint64_t *trades)
{
	uint64_t ev = 0, tr = 0, ref;
	for (uint32_t i = 0; i < n; i++) {
		const ws_match_op_t *o = &ops[i];
		slots[i] = (ws_match_slot_t){WS_MATCH_NONE, i};
		ws_match_slot_t *t = o->target < i ? &slots[o->target] : NULL;
		uint32_t target = t ? ws_slot_live(e, t) : WS_MATCH_NONE;
		if (o->op == 0) {
			slots[i].handle = ws_match_add(e, o->locate, o->side, o->price, o->qty, o->ioc, 1, i, 0, &ref);
		} else if (o->op == 1) {
			if (target != WS_MATCH_NONE)
				ws_match_reduce(e, target, o->qty);
		} else if (target != WS_MATCH_NONE) {
			*t = (ws_match_slot_t){ws_match_replace(e, target, o->price, o->qty, i, &ref), i};
		}
		ev += e->n_ev;
		for (uint32_t k = 0; k < e->n_ev; k++)
			tr += e->ev[k].kind == WS_EV_EXEC;
		e->n_ev = 0;
	}
	*events = ev;
	*trades = tr;
}
