/* exchange/match.h - the exchange's matching engine: one limit order book
 * per symbol, price-time priority.
 *
 * What it is for: the simulator's book. Its own order flow (owner 0) and
 * the orders clients send through the order port (owner = account, 1..)
 * rest in the same books and trade with each other, so the ITCH feed the
 * simulator publishes and the OUCH reports its clients get come from one
 * sequence of events. An incoming limit order executes against the other
 * side while the prices cross, at the resting order's price, best price
 * first and oldest first within a price; what is left rests (day) or is
 * canceled (IOC). A replace loses priority (new reference, new time); a
 * reduction keeps it. Order reference numbers and match numbers are unique
 * for the day and increase; one match number names both sides of a trade.
 *
 * Events: every call appends what happened to the engine's event list
 * (ws_match_ev_t: ADD, EXEC, CANCEL, REPLACE), in the order a feed must
 * publish them; the caller reads them (ws_match_events) and clears them
 * before its next call. An order that never rests (fully executed on
 * entry, or an IOC remainder) appears only as the EXECs of the orders it
 * hit and, for the remainder, a CANCEL with rested = 0.
 *
 * Handles: orders are named by handle (their pool index), not by
 * reference: an owner keeps the handle it was given (ws_match_add's
 * result) and forgets it when an event says the order is gone
 * (remaining == 0). The engine keeps each symbol's owner-0 orders in an
 * array, so the simulator can pick one at random.
 *
 * Memory: ws_match_new allocates the order pool (max_orders), the books'
 * level arrays (grown by doubling when a book gets deeper than before:
 * rare, never per order in steady state) and the event list; nothing is
 * allocated per call after that. Prices are Price(4) integers.
 *
 * Threads: one thread makes every call. Hot path: no checks beyond what
 * the doc of each call names; the order port validates orders first.
 */
#ifndef WS_EXCHANGE_MATCH_H
#define WS_EXCHANGE_MATCH_H

#include <stdint.h>

#define WS_MATCH_NONE UINT32_MAX /* no handle */

enum ws_match_ev_kind {
	WS_EV_ADD = 1,     /* an order rests: ITCH A (F when attributed) */
	WS_EV_EXEC = 2,    /* a resting order executed: ITCH E (C with_price) */
	WS_EV_CANCEL = 3,  /* an order lost shares without a trade: ITCH X, or D when none remain */
	WS_EV_REPLACE = 4, /* a resting order replaced in place: ITCH U */
};

typedef struct {
	uint8_t kind;        /* enum ws_match_ev_kind */
	uint8_t side;        /* 'B' or 'S': of the order named */
	uint8_t attributed;  /* ADD: publish with the attribution (F) */
	uint8_t with_price;  /* EXEC: publish as C (execution with price) */
	uint8_t rested;      /* CANCEL: the order was on the book (0: an IOC remainder, never published) */
	uint16_t locate;
	uint32_t qty;        /* ADD, REPLACE: shares resting; EXEC: shares traded; CANCEL: shares canceled */
	uint32_t remaining;  /* the named order's open shares after the event */
	uint32_t price;      /* ADD, REPLACE: limit price; EXEC: the trade's price (the resting order's) */
	uint32_t handle;     /* the named order */
	uint64_t ref;        /* its order reference number (EXEC: the resting order's) */
	uint64_t new_ref;    /* REPLACE */
	uint64_t match;      /* EXEC */
	uint32_t owner;      /* the named order's owner and the owner's tag for it */
	uint64_t tag;
	uint32_t taker_owner; /* EXEC: the incoming order's owner and tag (owner 0, tag 0: the simulator's */
	uint64_t taker_tag;   /*       anonymous hidden flow) */
} ws_match_ev_t;

typedef struct {
	uint64_t adds, execs, cancels, replaces, matches; /* events and trades since new */
	uint64_t pool_full;                               /* orders that could not rest: no free order */
	uint64_t events_lost;                             /* events the list had no memory for */
	uint32_t live;                                    /* orders resting now */
} ws_match_stats_t;

typedef struct ws_match ws_match_t;

/* n_symbols books, locates 1..n_symbols; max_orders resting at once. NULL
 * on bad arguments or no memory. */
ws_match_t *ws_match_new(uint32_t n_symbols, uint32_t max_orders);
void ws_match_delete(ws_match_t *e);

/* ws_match_add enters a limit order of qty shares (> 0) at price on side
 * 'B' or 'S' of book locate (1..n_symbols). It trades with what it
 * crosses, then rests (ioc = 0) or cancels its remainder (ioc = 1).
 * *ref is its order reference number (assigned even if it never rests).
 * Returns its handle if it rests, else WS_MATCH_NONE; also WS_MATCH_NONE
 * with *ref = 0 when a day order finds the pool full (counted: pool_full;
 * nothing happens). */
uint32_t ws_match_add(ws_match_t *e, uint16_t locate, uint8_t side, uint32_t price, uint32_t qty, int ioc,
                      uint32_t owner, uint64_t tag, int attributed, uint64_t *ref);

/* ws_match_reduce leaves a resting order with open shares (< its open
 * shares; 0 removes it), keeping its priority. Returns the shares
 * canceled (0: nothing to do: handle not resting, or open <= new size). */
uint32_t ws_match_reduce(ws_match_t *e, uint32_t handle, uint32_t open);

/* ws_match_replace replaces a resting order by one of qty open shares at
 * price, same side and owner, with a new reference and time priority. If
 * the new price does not cross, the book sees one REPLACE; if it does, the
 * old order is removed (CANCEL) and the new one enters like an add (EXECs,
 * then ADD of what rests). Returns the new order's handle (WS_MATCH_NONE
 * if it did not rest, or the handle was not resting); *new_ref its
 * reference. */
uint32_t ws_match_replace(ws_match_t *e, uint32_t handle, uint32_t price, uint32_t qty, uint64_t new_tag,
                          uint64_t *new_ref);

/* ws_match_execute_front trades qty shares of the order first in line at
 * the best price of side ('B' or 'S'; if that side is empty, the other)
 * against the simulator's hidden flow: at most that order's open shares.
 * Returns the shares traded (0: both sides empty). */
uint32_t ws_match_execute_front(ws_match_t *e, uint16_t locate, uint8_t side, uint32_t qty, int with_price);

/* ws_match_front is the handle of the order ws_match_execute_front would
 * trade with (WS_MATCH_NONE: both sides empty). */
uint32_t ws_match_front(const ws_match_t *e, uint16_t locate, uint8_t side);

/* ws_match_next_match takes a match number for a trade the books do not
 * see (the simulator's hidden trades, ITCH P). */
uint64_t ws_match_next_match(ws_match_t *e);

/* Owner-0 orders of a book, for picking one at random: count, and the k-th. */
uint32_t ws_match_sim_count(const ws_match_t *e, uint16_t locate);
uint32_t ws_match_sim_order(const ws_match_t *e, uint16_t locate, uint32_t k);

/* What a resting order is (0 if handle is not resting). */
int ws_match_order(const ws_match_t *e, uint32_t handle, uint64_t *ref, uint8_t *side, uint32_t *price,
                   uint32_t *qty, uint32_t *owner, uint64_t *tag);

/* Best bid and offer of a book (0 price and size: that side is empty). */
void ws_match_bbo(const ws_match_t *e, uint16_t locate, uint32_t *bid_px, uint32_t *bid_qty, uint32_t *ask_px,
                  uint32_t *ask_qty);

/* One operation of a batch: the layout of OP_DTYPE in exchange/matching.py
 * (op 0 add, 1 reduce to qty open shares, 2 replace; target: the index of
 * the add whose order a reduce or replace names). */
typedef struct {
	uint8_t op, side, ioc, pad;
	uint16_t locate, pad2;
	uint32_t qty, price, target;
} ws_match_op_t;

/* Where the order an op made is: its handle and the tag it rests with. */
typedef struct {
	uint32_t handle, tag;
} ws_match_slot_t;

/* ws_match_run applies ops in order, as owner 1 with the op's index as
 * tag, clearing the events after each (they are counted: *events, and
 * the trades among them: *trades). slots is the caller's scratch of n
 * entries: an op naming an order that is gone (filled, canceled, its slot
 * reused) does nothing. The benchmark's loop and the tests' parity runs. */
void ws_match_run(ws_match_t *e, const ws_match_op_t *ops, uint32_t n, ws_match_slot_t *slots, uint64_t *events,
                  uint64_t *trades);

/* The events since the last clear, oldest first. */
const ws_match_ev_t *ws_match_events(const ws_match_t *e, uint32_t *n);
void ws_match_clear_events(ws_match_t *e);
const ws_match_stats_t *ws_match_stats(const ws_match_t *e);

#endif /* WS_EXCHANGE_MATCH_H */
