/* orders/soupbin.h - SoupBinTCP 4.1 (and 4.0 logins): NASDAQ's session
 * layer over TCP, which carries OUCH.
 *
 * What it is for: framing logical packets on a byte stream (a packet may
 * arrive split across reads, or several in one), the login exchange, and
 * the packet types of either side. Layout (NASDAQ's "SoupBinTCP 4.1"
 * specification; see ../shared/PROTOCOLS.md): every packet is
 *
 *   u16 length (bytes after this field) | u8 type | payload (length - 1 bytes)
 *
 * Login Request 'L' (length 47 in 4.0, 52 in 4.1): username 6, password 10,
 * requested session 10, requested sequence number 20 (ASCII digits, 0 =
 * live, 1 = from the start), and in 4.1 the heartbeat timeout 5 (ASCII ms).
 * Login Accepted 'A': session 10, sequence number 20 (the next sequenced
 * message). ASCII fields are space-padded; readers trim both sides, since
 * implementations disagree on which side they pad.
 *
 * Ownership: caller buffers only. Threads: pure functions. Bad input: the
 * framer and the login parser check every length and return a negative
 * enum ws_soup_err; nothing reads past len.
 */
#ifndef WS_ORDERS_SOUPBIN_H
#define WS_ORDERS_SOUPBIN_H

#include <stdint.h>

/* Packet types. */
#define WS_SOUP_DEBUG '+'
#define WS_SOUP_LOGIN_ACCEPTED 'A'
#define WS_SOUP_LOGIN_REJECTED 'J'
#define WS_SOUP_SEQUENCED 'S'
#define WS_SOUP_SERVER_HEARTBEAT 'H'
#define WS_SOUP_END_OF_SESSION 'Z'
#define WS_SOUP_LOGIN_REQUEST 'L'
#define WS_SOUP_UNSEQUENCED 'U'
#define WS_SOUP_CLIENT_HEARTBEAT 'R'
#define WS_SOUP_LOGOUT_REQUEST 'O'

#define WS_SOUP_LOGIN_40 47u         /* length field of a 4.0 Login Request */
#define WS_SOUP_LOGIN_41 52u         /* ... of a 4.1 one (with the heartbeat timeout) */
#define WS_SOUP_LOGIN_ACCEPTED_LEN 31u
#define WS_SOUP_REJECT_NOT_AUTHORIZED 'A'
#define WS_SOUP_REJECT_SESSION 'S'   /* session not available */

enum ws_soup_err {
	WS_SOUP_OK = 0,
	WS_SOUP_ZERO_LENGTH = -1,   /* a length of 0: not even a type byte */
	WS_SOUP_TOO_LONG = -2,      /* longer than the reader accepts */
	WS_SOUP_BAD_LOGIN = -3,     /* a Login Request of another length */
	WS_SOUP_BAD_NUMBER = -4,    /* a numeric ASCII field with something else than digits */
};

/* A framed packet: points into the caller's buffer. */
typedef struct {
	uint8_t type;
	const uint8_t *payload;
	uint32_t payload_len;
} ws_soup_pkt_t;

/* ws_soup_next frames the packet at the start of buf (len bytes held).
 * Returns the bytes it takes (> 0) with *pkt set, 0 if more bytes are
 * needed, or a negative ws_soup_err for a length that cannot be right
 * (0, or above max_len: the reader's limit, which protects its buffer). */
int ws_soup_next(const uint8_t *buf, uint32_t len, uint32_t max_len, ws_soup_pkt_t *pkt);

typedef struct {
	char username[7], password[11], session[11]; /* trimmed, NUL-terminated */
	uint64_t sequence;                           /* 0 = live */
	uint32_t heartbeat_timeout_ms;               /* 0 = not given (4.0) */
	int version;                                 /* 40 or 41 */
} ws_soup_login_t;

/* ws_soup_login_parse reads a Login Request's payload (what follows the
 * type byte). Returns WS_SOUP_OK, WS_SOUP_BAD_LOGIN or WS_SOUP_BAD_NUMBER. */
int ws_soup_login_parse(const uint8_t *payload, uint32_t payload_len, ws_soup_login_t *out);

/* Writers: each returns the bytes written at out. */
uint32_t ws_soup_header(uint8_t *out, uint8_t type, uint32_t payload_len); /* the 3 bytes before a payload */
uint32_t ws_soup_login_accepted(uint8_t *out, const char *session, uint64_t sequence);
uint32_t ws_soup_login_rejected(uint8_t *out, uint8_t reason);
uint32_t ws_soup_login_request(uint8_t *out, const char *user, const char *password, const char *session,
                               uint64_t sequence, uint32_t heartbeat_timeout_ms); /* 4.1 */

#endif /* WS_ORDERS_SOUPBIN_H */
