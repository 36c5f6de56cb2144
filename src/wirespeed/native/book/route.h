/* book/route.h - captured frames to MoldUDP64 sessions to their feed handlers.
 *
 * What it is for: the live path from the ring to the books without a
 * Python call per packet. A batch of ring records (ws_ring_rec_t, as a
 * reader's poll returns them) goes through here in one call: each frame's
 * Ethernet/IPv4/UDP headers are checked (ws_frame_check), the MoldUDP64
 * session is looked up (a new one gets its own ws_feed_t), the flow
 * (group, port) picks the line - the first flow a session arrives on is A,
 * the next B - and the feed applies the messages to the shared books.
 * Retransmission replies come in through ws_route_reply as line 2.
 *
 * Memory: ws_route_create allocates the session table; each session's feed
 * is created the first time the session is seen (its hold buffer, once per
 * session per run: not per packet), up to max_sessions. The books and the
 * record and payload buffers are the caller's; nothing keeps pointers to
 * the buffers after a call returns (the feeds copy what they hold).
 *
 * Threads: one thread at a time, the books' writer, makes every call.
 * ws_route_follow may instead be given a mutex: it then holds it only
 * while it applies a batch (never while it spins on the ring), so other
 * threads may read the books, or call in here, under the same mutex
 * between batches.
 *
 * Bad input is counted, never fatal: a frame that is not IPv4/UDP
 * (not_udp4), a payload too short for a MoldUDP64 header (not_moldudp64),
 * a third flow for a session (third_line), a session past max_sessions
 * (too_many_sessions), a record whose bytes lie outside the payload buffer
 * (bad_record), a reply for a session never seen (unknown_reply).
 */
#ifndef WS_ROUTE_H
#define WS_ROUTE_H

#include <pthread.h>
#include <stdint.h>

#include "book/feed.h"
#include "ring/ring.h"

typedef struct {
	uint64_t frames;           /* frames and payloads handed in */
	uint64_t not_udp4, not_moldudp64, third_line, too_many_sessions, bad_record, unknown_reply;
} ws_route_stats_t;

typedef struct ws_route ws_route_t;

/* ws_route_create: a router into books with feeds made with cfg, for at
 * most max_sessions sessions (1..4096). NULL on a bad size or no memory. */
ws_route_t *ws_route_create(ws_books_t *books, const ws_feed_cfg_t *cfg, uint32_t max_sessions);
void ws_route_delete(ws_route_t *r);

/* ws_route_frame: one Ethernet frame received at ts_ns. */
void ws_route_frame(ws_route_t *r, const uint8_t *frame, uint32_t len, uint64_t ts_ns);

/* ws_route_payload: one UDP payload of flow (daddr, dport), network order. */
void ws_route_payload(ws_route_t *r, const uint8_t *p, uint32_t len, uint32_t daddr, uint16_t dport, uint64_t ts_ns);

/* ws_route_records: n ring records whose frames are payload[rec.pos ..
 * rec.pos + rec.len). With lat_ns, lat_ns[i] = CLOCK_REALTIME once record
 * i is applied minus its receive stamp (tick to book; a vDSO clock read,
 * no syscall); without, no clock is read. Returns n. */
uint32_t ws_route_records(ws_route_t *r, const ws_ring_rec_t *recs, uint32_t n, const uint8_t *payload,
                          uint64_t payload_len, int64_t *lat_ns);

/* ws_route_follow: the live loop. Reads rd (copying each record out, so a
 * record the writer laps is never applied torn) and routes every batch,
 * spinning without sleeping or a syscall for for_ns (CLOCK_MONOTONIC).
 * lat_ns[0..lat_cap) takes each record's tick to book, in order, as in
 * ws_route_records; *lat_n says how many were written (the
 * rest are not measured, never an error). buf (buf_sz >= 8 x
 * WS_RING_MAX_PAYLOAD) is scratch for the payloads. lock (or NULL) is
 * held around each batch's routing (see Threads). Returns the records
 * read, or a negative WS_RING_E* from the ring (WS_RING_EINVAL if lock
 * cannot be taken). */
int64_t ws_route_follow(ws_route_t *r, ws_ring_reader_t *rd, pthread_mutex_t *lock, uint64_t for_ns, uint8_t *buf,
                        uint64_t buf_sz,
                        int64_t *lat_ns, uint64_t lat_cap, uint64_t *lat_n);

/* ws_route_current: the packet being routed now (for a hook called from
 * inside it, ws_books_on_bbo's): its MoldUDP64 sequence number (the first
 * message's) and receive stamp (a retransmission reply's: the time it was
 * handed in). 0 and 0 before any packet. A held packet applied when a gap
 * closes counts as the packet that closed it. */
void ws_route_current(const ws_route_t *r, uint64_t *seq, uint64_t *ts_ns);

/* ws_route_reply: a retransmission reply (line 2), routed by its session. */
void ws_route_reply(ws_route_t *r, const uint8_t *p, uint32_t len, uint64_t now_ns);

/* ws_route_poll: every session gives up gaps older than its hold timeout. */
void ws_route_poll(ws_route_t *r, uint64_t now_ns);

uint32_t ws_route_sessions(const ws_route_t *r);
/* Session i (< ws_route_sessions): its feed, and its 10-byte id in *id
 * (the router's: a feed knows its session only after a valid packet). */
ws_feed_t *ws_route_feed(const ws_route_t *r, uint32_t i, const uint8_t **id);
const ws_route_stats_t *ws_route_stats(const ws_route_t *r);
int ws_route_stale(const ws_route_t *r); /* some session has a gap open */

#endif /* WS_ROUTE_H */
