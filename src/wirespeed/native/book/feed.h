/* book/feed.h - one MoldUDP64 session into the books: A/B arbitration and gaps.
 *
 * What it is for: packets of one session arrive on two lines (A and B, the
 * same packets twice), possibly lost, late or out of order on either. The
 * feed applies every message to the books exactly once and in sequence
 * order: the first arrival of a sequence number wins, later copies are
 * dropped and counted; a packet from beyond the next expected number opens
 * a gap and is held (copied) until the gap is filled by the other line (or
 * a re-request); a hole at the front for longer than the hold timeout is
 * given up: its messages are counted lost and the feed carries on from the
 * oldest held packet. With re-requests on, an open gap asks the session's
 * retransmission server (ws_feed_request says what to send; the caller owns
 * the socket) after request_after_ns, again every retry_ns, at most
 * max_requests times; replies come in as line 2 and fill the gap like any
 * other copy. The hold timeout stays the last word. Sessions count from 1: a feed started mid-session
 * has a gap from 1 and says so. While a gap is open the feed is `stale`: the books
 * lack messages that came before ones they will show.
 *
 * Memory: ws_feed_create allocates the hold buffer (WS_FEED_HOLD packets of
 * up to WS_FEED_MAX_PAYLOAD bytes); nothing is allocated per packet. The
 * books are the caller's and must outlive the feed.
 *
 * Threads: one thread calls ws_feed_packet / ws_feed_poll (the books'
 * writer); readers of stats are that thread or serialised with it.
 *
 * Bad input: a packet too short for its header or whose blocks overrun it
 * is counted (bad_packets) and ignored whole; a packet of another session
 * is counted (other_session) and ignored.
 */
#ifndef WS_FEED_H
#define WS_FEED_H

#include <stdint.h>

#include "book/book.h"

#define WS_FEED_HOLD 256u
#define WS_FEED_MAX_PAYLOAD 9000u

typedef struct {
	uint64_t packets;        /* with a valid header, this session */
	uint64_t line_packets[3]; /* A, B, retransmissions */
	uint64_t heartbeats, end_of_session;
	uint64_t messages;       /* applied to the books, in sequence */
	uint64_t duplicates;     /* messages that arrived again (the other line) */
	uint64_t gaps;           /* gaps opened */
	uint64_t gaps_filled;    /* closed by later arrivals */
	uint64_t gaps_given_up;  /* closed by the hold timeout */
	uint64_t lost;           /* messages given up on */
	uint64_t held;           /* packets held while a gap was open */
	uint64_t hold_full;      /* packets dropped: the hold buffer was full */
	uint64_t bad_packets, other_session;
	uint64_t requests;       /* re-requests asked for (retries included) */
	uint64_t requested_msgs; /* messages they asked for */
	uint64_t recovered;      /* messages applied from retransmissions */
} ws_feed_stats_t;

typedef struct {
	uint64_t hold_timeout_ns;  /* a gap open this long is given up */
	uint64_t request_after_ns; /* 0: never re-request */
	uint64_t retry_ns;         /* between requests for the same gap */
	uint32_t max_requests;     /* per gap */
} ws_feed_cfg_t;

typedef struct ws_feed ws_feed_t;

ws_feed_t *ws_feed_create(ws_books_t *books, const ws_feed_cfg_t *cfg);
void ws_feed_delete(ws_feed_t *f);

/* One UDP payload (a MoldUDP64 packet) from line 0 (A), 1 (B) or 2 (a
 * reply of the retransmission server), received at now_ns: one clock for
 * every call. Times may go back (a reader behind the wire passes capture
 * stamps older than the time it passes to ws_feed_request and
 * ws_feed_poll): the feed keeps the latest time it was given, so the age
 * of a gap is never taken from an older stamp. */
void ws_feed_packet(ws_feed_t *f, const uint8_t *p, uint32_t len, int line, uint64_t now_ns);

/* Gives up a gap older than the hold timeout. ws_feed_packet does it too;
 * call this when no packet comes. */
void ws_feed_poll(ws_feed_t *f, uint64_t now_ns);

/* ws_feed_request: 1 and the range to ask for (at most 65535 messages from
 * *seq) if a request is due now, 0 if not. The caller sends a MoldUDP64
 * request (session, seq, count) to the server; ws_feed_session gives it. */
int ws_feed_request(ws_feed_t *f, uint64_t now_ns, uint64_t *seq, uint16_t *count);
const uint8_t *ws_feed_session(const ws_feed_t *f); /* 10 bytes; NULL before the first packet */

const ws_feed_stats_t *ws_feed_stats(const ws_feed_t *f);
void ws_feed_set_id(ws_feed_t *f, uint16_t id); /* the session's index in the MBO log's rows */
uint64_t ws_feed_next_seq(const ws_feed_t *f); /* 1 before the first packet */
int ws_feed_stale(const ws_feed_t *f);          /* a gap is open */
uint32_t ws_feed_held(const ws_feed_t *f);      /* packets held now */

#endif /* WS_FEED_H */
