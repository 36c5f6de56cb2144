/* orders/session.h - the client's order session: OUCH 5.0 over SoupBinTCP
 * 4.1 on kernel TCP (or wirespeed's own over AF_XDP, transports/tcp_xsk.h),
 * with every order's life, positions and pre-trade risk.
 *
 * What it is for: the one way wirespeed sends an order. ws_session_enter
 * runs the risk checks (orders/risk.h) against the live book, journals the
 * order, patches a template pre-encoded for its symbol and side (UserRefNum,
 * shares, price, time in force, ClOrdID: the rest of the 50 bytes never
 * change) and writes it with one send() - or, over the user-space TCP, into
 * a send frame armed with the connection's headers, one descriptor and a
 * kick. No allocation on that path. Replace
 * goes through the same checks; cancels and the kill switch's mass cancel
 * and Disable Order Entry take risk away and are never refused by them.
 *
 * Link: connect (non-blocking), Login Request with the session and the
 * next sequence number it expects, heartbeats both ways, and on any loss
 * (closed, reset, silence past server_timeout_ms, a packet it cannot frame
 * or decode: each counted by reason) it reconnects after reconnect_ms and
 * logs in again with the next sequence number it expects, so every
 * sequenced message is applied once and none is missed. Orders while the
 * link is not up are refused (WS_ORD_LINK_DOWN), never queued.
 *
 * Journal (a file, mmap'd MAP_SHARED): a header (the exchange's session
 * name, the next UserRefNum) and one record per order sent, written before
 * its bytes leave. A process killed at any point leaves it consistent (the
 * page cache keeps it; ws_session_sync makes it durable against the machine
 * failing too). A session opened on a journal of the same day reserves
 * every UserRefNum it holds, rebuilds the orders it names as pending, logs
 * in from sequence 1 so the exchange's replay brings each one to its state
 * again, and asks Account Query for the exchange's next UserRefNum (the
 * higher of the two is used). So a client killed with kill -9 never reuses
 * a UserRefNum and re-learns its open orders, fills and position.
 *
 * Orders in flight when a link goes (sent, not yet read by the exchange)
 * are found the same way after every login: the Account Query answer
 * (the one stamped at or after the login: replayed answers are older)
 * names the exchange's next UserRefNum, and an order sent before the query
 * at or above it never arrived. It is rejected locally
 * (WS_ORD_NOT_RECEIVED) and counted, never resent blindly; should the
 * exchange accept it after all, it is open again (counted: revived).
 *
 * State: orders by UserRefNum (pending, accepted, partially filled, filled,
 * canceled, rejected, replaced), per-symbol position and executed notional
 * (the risk module's), and a log of every exchange message (ws_order_ev_t)
 * taken in batches. The log overflows into a counter, never silently.
 *
 * Memory: ws_session_new allocates the order table (max_orders), the event
 * log, the buffers and the journal mapping; nothing is allocated after it.
 * Threads: one thread at a time makes every call except ws_session_fd (the
 * Python binding serialises with a mutex; wirespeed's trader holds it for a
 * batch). Errors are returned as negative enum ws_ord_err.
 */
#ifndef WS_ORDERS_SESSION_H
#define WS_ORDERS_SESSION_H

#include <netinet/in.h>
#include <stdint.h>

#include "orders/risk.h"
#include "transports/tcp_xsk.h"

enum ws_ord_err {
	WS_ORD_LINK_DOWN = -100,     /* not logged in: refused, not queued */
	WS_ORD_UNKNOWN_SYMBOL = -101, /* no such symbol in the session */
	WS_ORD_BAD_ORDER = -102,     /* shares 0 or above 999,999, price 0 or above $199,999.99, bad side or TIF */
	WS_ORD_JOURNAL_FULL = -103,  /* max_orders used up: a new journal (a new day) is needed */
	WS_ORD_BACKPRESSURE = -104,  /* the exchange is not reading: unsent bytes would exceed the buffer */
	WS_ORD_UNKNOWN_ORDER = -105, /* cancel or replace of an order that is not open */
	WS_ORD_SEND_FAILED = -106,   /* send() failed: the link is dropped and the order is not counted sent */
};

/* ws_order_t.reject_code of an order the exchange never rejected, but that
 * did not reach it: */
#define WS_ORD_NOT_SENT 0xffffu      /* send() failed: journaled (its UserRefNum used up), never sent */
#define WS_ORD_NOT_RECEIVED 0xfffeu  /* sent, but in flight when the link went: after the reconnect the
                                      * exchange's Account Query says it never saw that UserRefNum */

enum ws_link {
	WS_LINK_DOWN = 0,            /* waiting to reconnect */
	WS_LINK_CONNECTING,
	WS_LINK_LOGIN_SENT,
	WS_LINK_UP,
	WS_LINK_CLOSED,              /* End of Session, a rejected login, or closed by the user: no reconnect */
};
extern const char *const ws_link_names[5];

enum ws_ord_state {
	WS_ORD_NONE = 0, WS_ORD_PENDING, WS_ORD_ACCEPTED, WS_ORD_PARTIAL, WS_ORD_FILLED, WS_ORD_CANCELED,
	WS_ORD_REJECTED, WS_ORD_REPLACED, WS_ORD_STATES
};
extern const char *const ws_ord_state_names[WS_ORD_STATES];

/* Why the link went down. */
enum ws_link_drop {
	WS_LDROP_CONNECT_FAILED = 0, WS_LDROP_CLOSED, WS_LDROP_SOCKET_ERROR, WS_LDROP_SERVER_TIMEOUT,
	WS_LDROP_FRAMING, WS_LDROP_BAD_MESSAGE, WS_LDROP_UNEXPECTED, WS_LDROP_LOGIN_REJECTED, WS_LDROP_END_OF_SESSION,
	WS_LDROP_SESSION_MISMATCH, WS_LDROP_USER, WS_LDROPS
};
extern const char *const ws_link_drop_names[WS_LDROPS];

typedef struct {
	struct sockaddr_in addr;     /* the exchange's order port */
	char user[7], password[11];  /* NUL-terminated */
	char firm[5];                /* for Disable Order Entry (4 characters or empty) */
	uint32_t heartbeat_ms;       /* client heartbeat after this long without sending (0: 1000) */
	uint32_t server_timeout_ms;  /* silence from the exchange that drops the link (0: 5000) */
	uint32_t reconnect_ms;       /* wait before a reconnect (0: 200) */
	uint32_t max_orders;         /* orders (UserRefNums) a journal holds (0: 1,048,576) */
	uint32_t event_cap;          /* exchange messages kept between takes (0: 65,536) */
	const char *journal;         /* path of the journal file (created if missing) */
	ws_risk_limits_t limits;
	ws_risk_symbol_limits_t symbol_limits; /* each symbol's, until set otherwise */
} ws_session_cfg_t;

typedef struct {
	uint32_t urn;
	uint32_t orig_urn;           /* the order this one replaced (0: none) */
	uint32_t replaced_by;        /* the order that replaced this one (0: none) */
	uint16_t sym;
	char side, tif;
	uint8_t state;               /* enum ws_ord_state */
	uint8_t recovered;           /* rebuilt from the journal */
	uint16_t reject_code;        /* OUCH Rejected reason */
	uint32_t qty, open, filled;  /* shares ordered, still open, executed */
	uint32_t price;              /* Price(4) */
	uint32_t rprice;             /* the price its risk reservation counts at (a sell: at least the bid) */
	uint64_t order_ref;          /* the exchange's, from Accepted */
	uint64_t exec_notional;
	uint64_t sent_ns;            /* CLOCK_REALTIME when it was sent */
	char clordid[14];
} ws_order_t;

/* One exchange message, as the numpy batch carries it (Python's dtype
 * mirrors this byte for byte). */
typedef struct {
	uint64_t rx_ns;              /* CLOCK_REALTIME when the session read it */
	uint64_t seq;                /* SoupBinTCP sequence number */
	uint64_t timestamp;          /* the exchange's, ns since midnight */
	uint64_t price;
	uint64_t match;
	uint64_t order_ref;
	uint32_t urn, orig_urn;
	uint32_t qty;
	uint16_t sym;                /* 0xffff: not an order of a known symbol */
	uint16_t reject_code;
	uint8_t type;                /* OUCH letter */
	uint8_t flag;                /* liquidity (E), reason (C, D, B), side (A, U, M), event (S) */
	uint8_t replayed;            /* came in a replay after a (re)login */
	uint8_t pad[5];
} ws_order_ev_t;

typedef struct {
	uint64_t connects, logins, login_rejected;
	uint64_t drops[WS_LDROPS];
	uint64_t sent_by_type[128], recv_by_type[128];
	uint64_t refused_link, refused_symbol, refused_bad, refused_journal, refused_backpressure, refused_unknown;
	uint64_t heartbeats_sent, heartbeats_recv;
	uint64_t seq_gaps, seq_lost;   /* a login answered past the expected sequence: messages never seen */
	uint64_t replayed;             /* sequenced messages received in replays */
	uint64_t events_lost;          /* messages not logged for ws_session_take_events: the log was full */
	uint64_t unknown_urn;          /* messages about an order the session does not know (counted, skipped) */
	uint64_t lost_in_transit;      /* orders sent that never reached the exchange (WS_ORD_NOT_RECEIVED) */
	uint64_t revived;              /* ... that the exchange accepted after all (open again) */
	uint64_t fills, filled_shares;
	uint64_t bytes_out, bytes_in;
	uint64_t next_seq;             /* the next sequenced message expected */
	uint32_t next_urn;
	uint32_t exchange_next_urn;    /* from the last Account Query response */
	uint32_t recovered_orders;     /* orders read back from the journal */
	uint8_t link;                  /* enum ws_link */
	uint8_t last_drop;             /* enum ws_link_drop of the last drop (valid if drops > 0) */
} ws_session_stats_t;

typedef struct ws_session ws_session_t;

/* ws_session_new: a session for n_symbols symbols (1..65535) named
 * symbols[i] (8 bytes, space-padded), with a journal at cfg->journal.
 * NULL with *err set (-errno of the journal or an allocation, or -EINVAL:
 * a bad config, or a journal that is not wirespeed's, was made for other
 * symbols or is corrupt). Nothing is connected yet. */
ws_session_t *ws_session_new(const ws_session_cfg_t *cfg, const char (*symbols)[8], uint32_t n_symbols, int *err);
void ws_session_delete(ws_session_t *s);

/* The market the collar reads: fn(ctx, sym) gives symbol sym's best bid
 * and ask now (trade/bookref.h reads wirespeed's books); NULL: none, and a
 * collar then refuses (no_reference). fn runs in the caller's thread, under
 * whatever serialises the session. */
typedef ws_risk_ref_t (*ws_ref_fn)(void *ctx, uint32_t sym);
void ws_session_set_ref(ws_session_t *s, ws_ref_fn fn, void *ctx);

/* ws_session_use_tcp_xsk: carry the session over wirespeed's own TCP (t,
 * borrowed: it must outlive the session, or be taken back) instead of the
 * kernel's. Before the first service only (-EBUSY after). The session then
 * drives t: its connects, polls (in ws_session_service), sends and closes.
 * t NULL, once the session is closed (ws_session_close): t is the caller's
 * again (-EBUSY before). */
int ws_session_use_tcp_xsk(ws_session_t *s, ws_tcp_xsk_t *t);

/* ws_session_service: connects, reads and applies what the exchange sent,
 * heartbeats, timeouts, reconnects: whatever is due at now_ns
 * (CLOCK_MONOTONIC). Never blocks. */
void ws_session_service(ws_session_t *s, uint64_t now_ns);
int ws_session_fd(const ws_session_t *s);      /* the socket to wait on (-1: none now) */
int ws_session_wants_write(const ws_session_t *s); /* connecting or bytes unsent */

/* Order entry. tif: '0' Day, '3' IOC. clordid: 14 bytes or NULL (spaces).
 * Returns the UserRefNum (> 0), or a refusal (< 0): minus the risk check
 * that refused it (-1 .. -(WS_RISK_CHECKS - 1)) or an enum ws_ord_err
 * (-100 and below). Replace: qty is the new total including what executed
 * (OUCH's rule), the order keeps its side and time in force. */
int64_t ws_session_enter(ws_session_t *s, uint32_t sym, char side, uint32_t qty, uint32_t price, char tif,
                         const char *clordid, uint64_t now_ns);
int64_t ws_session_replace(ws_session_t *s, uint32_t urn, uint32_t qty, uint32_t price, const char *clordid,
                           uint64_t now_ns);
int ws_session_cancel(ws_session_t *s, uint32_t urn, uint32_t qty); /* qty: shares to leave open (0: all) */

/* The kill switch: refuse every order, cancel every open one, and with
 * `disable` send Disable Order Entry. Returns the cancels sent. */
int ws_session_kill(ws_session_t *s, int disable);
void ws_session_unkill(ws_session_t *s);

/* ws_session_close: Logout Request, then the link is closed for good. */
void ws_session_close(ws_session_t *s);

/* ws_session_sync: msync the journal (durable against a machine failure). */
int ws_session_sync(ws_session_t *s);

const ws_session_stats_t *ws_session_stats(const ws_session_t *s);
ws_risk_t *ws_session_risk(ws_session_t *s);
const ws_order_t *ws_session_order(const ws_session_t *s, uint32_t urn); /* NULL: never sent */
uint32_t ws_session_max_urn(const ws_session_t *s);                        /* highest UserRefNum sent */
const char *ws_session_symbol(const ws_session_t *s, uint32_t sym);        /* 8 bytes, space-padded */
uint32_t ws_session_symbols(const ws_session_t *s);

/* The exchange messages since the last take (*n of them); valid until the
 * next call that services the session. */
const ws_order_ev_t *ws_session_take_events(ws_session_t *s, uint32_t *n);

/* The reference the collar reads for symbol sym now. */
ws_risk_ref_t ws_session_ref(const ws_session_t *s, uint32_t sym);

#endif /* WS_ORDERS_SESSION_H */
