/* feed/itch.h - NASDAQ TotalView-ITCH 5.0 and MoldUDP64 on the wire, in C.
 *
 * What it is for: the simulator's encoder (the sender's fast path) and the
 * decoder the order book will use. Layouts: NASDAQ's TotalView-ITCH 5.0 and
 * MoldUDP64 v1.00 specifications; the same tables, checked byte for byte by
 * tests, are in wirespeed/feed/itch.py and moldudp64.py. Big-endian
 * throughout; alpha fields space-padded; prices with 4 implied decimals.
 *
 *   common header: type @0 (1) | locate @1 (2) | tracking @3 (2) | timestamp @5 (6)
 *   MoldUDP64:     session @0 (10) | seq @10 (8) | count @18 (2) | blocks (len 2 + msg)
 *
 * Ownership: all functions work on caller buffers and keep no pointers.
 * Threads: pure functions; any thread.
 * Hot path: the writers do no checks; callers size buffers from
 * ws_itch_len(). The decoder checks every length against the buffer and
 * never reads past it.
 */
#ifndef WS_ITCH_H
#define WS_ITCH_H

#include <stdint.h>
#include <string.h>

#include "net/endian.h"

#define WS_MOLD_HDR 20u
#define WS_MOLD_HEARTBEAT 0u
#define WS_MOLD_EOS 0xffffu

/* Length of each known message type, 0 for unknown (ws_itch_len). */
static inline uint32_t ws_itch_len(uint8_t type)
{
	switch (type) {
	case 'S': return 12; case 'R': return 39; case 'H': return 25; case 'Y': return 20;
	case 'L': return 26; case 'V': return 35; case 'W': return 12; case 'K': return 28;
	case 'J': return 35; case 'h': return 21; case 'A': return 36; case 'F': return 40;
	case 'E': return 31; case 'C': return 36; case 'X': return 23; case 'D': return 19;
	case 'U': return 35; case 'P': return 44; case 'Q': return 40; case 'B': return 19;
	case 'I': return 50; case 'N': return 20;
	default: return 0;
	}
}

/* ws_itch_hdr writes the 11-byte common header. */
static inline void ws_itch_hdr(uint8_t *p, uint8_t type, uint16_t locate, uint16_t tracking, uint64_t ts_ns)
{
	p[0] = type;
	ws_be16(p + 1, locate);
	ws_be16(p + 3, tracking);
	ws_be48(p + 5, ts_ns);
}

/* A decoded message: the fields the order book and the latency probes use.
 * Which are meaningful depends on type (see itch.py for every field). */
typedef struct {
	uint8_t type;
	uint8_t side;        /* 'B' / 'S' (A, F, P) */
	uint8_t printable;   /* C */
	uint8_t event;       /* S: event code; H: trading state; Q: cross type */
	uint16_t locate;
	uint16_t tracking;
	uint64_t ts_ns;      /* ns since midnight */
	uint64_t order_ref;  /* A F E C X D U P */
	uint64_t new_ref;    /* U */
	uint64_t match;      /* E C P Q B */
	uint64_t shares;     /* A F E C X U P Q (Q's is 8 bytes) */
	uint32_t price;      /* A F C U P Q */
	char stock[8];       /* R H A F P Q I ... */
} ws_itch_msg_t;

/* ws_itch_decode decodes one message of exactly len bytes. Returns 1 if
 * decoded, 0 for an unknown type (skip by length), -1 for a known type
 * whose length is wrong, -2 for len 0. */
int ws_itch_decode(const uint8_t *p, uint32_t len, ws_itch_msg_t *m);

/* MoldUDP64 packet walk: counters of what was wrong, as in moldudp64.py. */
typedef struct {
	uint64_t packets, messages, heartbeats, end_of_session;
	uint64_t truncated_header, count_short, block_overrun, trailing_bytes;
} ws_mold_stats_t;

#endif /* WS_ITCH_H */
