/* exchange/port.h - the simulator's order-entry port: OUCH 5.0 over
 * SoupBinTCP 4.1, on TCP, against the simulator's own books.
 *
 * What it is for: a client logs in to an account (username, password),
 * enters, replaces, cancels and modifies orders, and gets what a NASDAQ
 * port answers: Accepted, Replaced, Canceled, Executed (liquidity A or R,
 * the match number the ITCH feed carries too), Rejected with NASDAQ's
 * codes, Modified, Account Query, Mass Cancel and Disable/Enable Order
 * Entry responses. Orders go into the matching engine (exchange/match.h)
 * as owner = account number (1..), so they trade with the simulator's flow
 * and each other, and the simulator publishes what happens in its feed.
 *
 * Sessions: one at a time per account. Everything the exchange sends an
 * account is sequenced into that account's log, which outlives a
 * connection: a client that logs in again with the next sequence number it
 * expects gets every message from there, in order, once (0: from now on).
 * Heartbeats after a second without output; a client silent past its
 * timeout (its 4.1 login's, else 15 s) is dropped. OUCH rules as NASDAQ
 * states them: UserRefNums strictly increasing per account (a lower or
 * repeated one is ignored, so inbound messages are benignly resendable; a
 * rejected one is used up), Cancel takes the intended remaining size,
 * Replace's quantity includes what executed, Modify only decreases.
 *
 * Exchange-side risk, per account, before an order reaches the book:
 * order size, notional, a price collar around the current best price, open
 * orders and inbound message rate; Disable Order Entry and Mass Cancel are
 * the kill switch. Every reject carries its NASDAQ code and is counted.
 *
 * Bad input: a packet that cannot be framed, an OUCH message that cannot be
 * decoded, data before login, a second login, an unknown packet type, a
 * login that never comes, or silence past the heartbeat timeout drops that
 * connection with a counted reason. One connection's input is processed at
 * most WS_PORT_BURST packets per poll, so a flood delays no one else, and
 * output never blocks: it waits in the connection's buffer.
 *
 * Memory: ws_port_new allocates the accounts, their order tables (max_open
 * orders each) and the connection slots; a log, an input and an output
 * buffer grow as a session needs (by doubling: rarely). The engine is the
 * simulator's. Threads: the simulator's run thread makes every call.
 */
#ifndef WS_EXCHANGE_PORT_H
#define WS_EXCHANGE_PORT_H

#include <stdint.h>

#include "exchange/match.h"

#define WS_PORT_MAX_ACCOUNTS 64
#define WS_PORT_MAX_CONNS 128   /* connections at once, logged in or not */
#define WS_PORT_BURST 256       /* packets read from one connection per poll */

typedef struct {
	char user[7];               /* NUL-terminated, at most 6 characters */
	char password[11];          /* at most 10 */
	char firm[5];               /* the MPID its attributable orders show in the feed (4 characters) */
	uint32_t max_order_qty;     /* shares per order (0: the protocol's 999,999) */
	uint64_t max_notional;      /* price x shares, in Price(4) units (0: no limit) */
	uint32_t collar_bp;         /* basis points around the best price of the book (0: no collar) */
	uint32_t max_open;          /* open orders (0: 10,000) */
	uint32_t max_msgs_per_s;    /* inbound OUCH messages a second (0: no limit) */
} ws_port_account_t;

typedef struct {
	int listen_fd;              /* a listening TCP socket; the port makes it non-blocking, never closes it */
	uint32_t n_accounts;
	const ws_port_account_t *accounts;
	char session[10];           /* SoupBinTCP session name, space-padded */
	uint32_t heartbeat_ms;      /* server heartbeat after this long without output (0: 1000) */
	uint32_t login_timeout_ms;  /* a connection that has not logged in by then is dropped (0: 5000) */
} ws_port_cfg_t;

/* An order's arrival, for tick-to-trade measured at the exchange: the
 * kernel's software receive stamp of the read that brought it (CLOCK_REALTIME
 * ns), and its ClOrdID read as a decimal number (0 if it is not one: a
 * trader puts the triggering packet's MoldUDP64 sequence number there). */
typedef struct {
	uint64_t rx_ns;
	uint64_t tag;
	uint32_t urn;
	uint8_t type;               /* 'O' Enter or 'U' Replace */
	uint8_t account;
	uint8_t pad[2];
} ws_port_stamp_t;

/* What the simulator lends the port. */
typedef struct {
	ws_match_t *engine;
	uint32_t n_symbols;
	const char (*symbols)[8];   /* [locate - 1]: each book's stock, space-padded */
	void (*drain)(void *ctx);   /* publish the engine's events (ITCH), handing client ones to ws_port_event */
	void *ctx;
	/* arrival stamps of Enter and Replace orders (NULL: not kept): the first
	 * stamp_cap of them, *stamp_n counting all (the rest are counted, not kept) */
	ws_port_stamp_t *stamps;
	uint32_t stamp_cap;
	uint64_t *stamp_n;
} ws_port_env_t;

/* Why a connection was dropped. */
enum ws_port_drop {
	WS_DROP_CLOSED = 0,         /* the client closed it */
	WS_DROP_LOGOUT,             /* Logout Request */
	WS_DROP_FRAMING,            /* a packet length of 0, or longer than any client packet */
	WS_DROP_BAD_MESSAGE,        /* an OUCH message that cannot be decoded */
	WS_DROP_BAD_LOGIN,          /* a Login Request of a wrong length or with non-digits */
	WS_DROP_BEFORE_LOGIN,       /* anything but a login first */
	WS_DROP_SECOND_LOGIN,
	WS_DROP_UNKNOWN_PACKET,     /* a packet type a client does not send */
	WS_DROP_LOGIN_TIMEOUT,
	WS_DROP_HEARTBEAT_TIMEOUT,
	WS_DROP_LOGIN_REJECTED,     /* after its Login Rejected */
	WS_DROP_TOO_MANY,           /* no free connection slot */
	WS_DROP_SOCKET_ERROR,
	WS_DROP_END_OF_SESSION,
	WS_PORT_DROPS
};
extern const char *const ws_port_drop_names[WS_PORT_DROPS];

typedef struct {
	uint64_t connections, logins;
	uint64_t rejected_auth, rejected_busy, rejected_session; /* Login Rejected A (bad credentials), S (in use, no such session) */
	uint64_t drops[WS_PORT_DROPS];
	uint64_t in_by_type[128], out_by_type[128];   /* OUCH messages by type letter */
	uint64_t rejects[64];                          /* Rejected by reason code */
	uint64_t stale_urn;                            /* inbound messages ignored: UserRefNum not above the last */
	uint64_t unknown_order;                        /* cancels, replaces, modifies of no live order: ignored */
	uint64_t fills, filled_shares;                 /* client executions (a trade between two clients counts twice) */
	uint64_t bytes_in, bytes_out;
	uint64_t log_lost;                             /* sequenced messages there was no memory for (never, short of OOM) */
	uint32_t sessions_now;
} ws_port_stats_t;

typedef struct ws_port ws_port_t;

/* NULL on a bad config (no accounts, a bad listening socket) or no memory. */
ws_port_t *ws_port_new(const ws_port_cfg_t *cfg, const ws_port_env_t *env, ws_port_stats_t *stats);
void ws_port_delete(ws_port_t *p);

/* ws_port_poll does what is due: accepts, reads and answers, writes,
 * heartbeats and timeouts. It waits at most wait_ns (0: not at all) for
 * something to happen and returns after one round. */
void ws_port_poll(ws_port_t *p, uint64_t wait_ns);

/* ws_port_event: an engine event naming a client order (owner or taker),
 * handed over by the simulator's drain: the OUCH messages it means. */
void ws_port_event(ws_port_t *p, const ws_match_ev_t *ev);

/* The MPID an account's attributable orders show (4 bytes, space-padded). */
void ws_port_firm(const ws_port_t *p, uint32_t owner, char out[4]);

/* Trading is over: new orders are rejected from now on; System Event E. */
void ws_port_close_market(ws_port_t *p);

/* ws_port_end sends End of Session to every session, gives their output
 * up to timeout_ms to leave, and closes every connection. */
void ws_port_end(ws_port_t *p, uint32_t timeout_ms);

#endif /* WS_EXCHANGE_PORT_H */
