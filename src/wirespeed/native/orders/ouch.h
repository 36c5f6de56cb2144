/* orders/ouch.h - NASDAQ OUCH 5.0 (rev 1.04) messages, both directions.
 *
 * What it is for: the exchange simulator's order port decodes what clients
 * send and encodes what it answers; a client does the reverse. Layouts are
 * those of NASDAQ's "OUCH 5.0 Order Entry Specification"; the same table,
 * checked byte for byte by tests, is in wirespeed/orders/ouch.py. Integers
 * big-endian; alpha fields left-justified and space-padded; prices 8 bytes
 * with 4 implied decimals; timestamps ns since midnight.
 *
 * Every message is one SoupBinTCP payload (orders/soupbin.h) and is sized
 * from that length, never from its type. After the fixed fields, a type
 * either has no appendage, always has one (u16 length, then TagValue
 * elements: u8 length = 1 + value size, u8 tag, value), or may have one
 * (the spec's "optional appendage": the message may end after its fixed
 * fields). A decoded message points into the caller's buffer for its
 * appendage (app, app_len): valid while that buffer is.
 *
 * One struct carries every type (ws_ouch_msg_t): the fields a type does
 * not have stay zero, and one table per direction says which fields each
 * type has, in wire order (ws_ouch_fields).
 *
 * Ownership: caller buffers only; nothing is allocated. Threads: pure
 * functions. Bad input: the decoder checks every length against the buffer
 * and returns a negative enum ws_ouch_err naming what was wrong; it never
 * reads past len.
 */
#ifndef WS_ORDERS_OUCH_H
#define WS_ORDERS_OUCH_H

#include <stddef.h>
#include <stdint.h>

enum ws_ouch_dir { WS_OUCH_IN = 0, WS_OUCH_OUT = 1 }; /* IN: client -> exchange */

enum ws_ouch_err {
	WS_OUCH_OK = 0,
	WS_OUCH_EMPTY = -1,        /* no bytes at all */
	WS_OUCH_UNKNOWN_TYPE = -2, /* a type this direction does not have */
	WS_OUCH_SHORT = -3,        /* fewer bytes than the type's fixed fields (and appendage length) */
	WS_OUCH_TRAILING = -4,     /* bytes after a message that has no appendage */
	WS_OUCH_APP_LENGTH = -5,   /* the appendage length disagrees with the bytes that follow */
	WS_OUCH_BAD_OPTION = -6,   /* a TagValue element overruns the appendage, is empty, or has a
	                            * known tag with the wrong value size */
};
#define WS_OUCH_ERRS 7
extern const char *const ws_ouch_err_names[WS_OUCH_ERRS]; /* [-err]: "ok", "empty", ... */

enum ws_ouch_app { WS_OUCH_APP_NONE = 0, WS_OUCH_APP_ALWAYS = 1, WS_OUCH_APP_OPTIONAL = 2 };

typedef struct {
	uint8_t type;
	uint64_t timestamp;         /* outbound */
	uint32_t user_ref_num;
	uint32_t orig_user_ref_num; /* U */
	uint32_t next_user_ref_num; /* Q response */
	uint32_t quantity;
	uint32_t quantity_prevented; /* D (AIQ canceled) */
	uint64_t price;              /* also D's execution price, T's limit price */
	uint64_t order_ref;          /* A, U (out), T */
	uint64_t match;              /* E, B */
	uint16_t reject_reason;      /* J */
	char side, tif, display, capacity, ims, cross_type, order_state;
	char reason;                 /* C, D, B, R */
	char liquidity, event, aiq_strategy;
	char symbol[8], clordid[14], firm[4];
	uint8_t has_app;             /* the appendage length field is present */
	uint16_t app_len;
	const uint8_t *app;          /* app_len bytes of TagValue elements */
} ws_ouch_msg_t;

/* Field kinds of the tables. */
enum ws_ouch_kind { WS_F_CHAR = 1, WS_F_ALPHA, WS_F_U16, WS_F_U32, WS_F_U64 };

typedef struct {
	const char *name;  /* as wirespeed/orders/ouch.py names it */
	uint8_t kind;      /* enum ws_ouch_kind */
	uint8_t width;     /* bytes on the wire */
	uint16_t offset;   /* into ws_ouch_msg_t */
} ws_ouch_field_t;

typedef struct {
	uint8_t type;
	uint8_t app;             /* enum ws_ouch_app */
	uint16_t fixed;          /* bytes before the appendage length (type byte included) */
	uint8_t n_fields;
	const char *name;        /* the Python class name: "EnterOrder" */
	const ws_ouch_field_t *fields;
} ws_ouch_spec_t;

/* ws_ouch_spec is the table entry of (dir, type), NULL if the type does not exist. */
const ws_ouch_spec_t *ws_ouch_spec(int dir, uint8_t type);

/* ws_ouch_decode decodes the message of exactly len bytes at p into *m.
 * Returns WS_OUCH_OK or a negative enum ws_ouch_err. */
int ws_ouch_decode(int dir, const uint8_t *p, uint32_t len, ws_ouch_msg_t *m);

/* ws_ouch_size is the encoded size of m (its spec's fixed part, plus 2 +
 * app_len when it has an appendage), 0 for an unknown type. */
uint32_t ws_ouch_size(int dir, const ws_ouch_msg_t *m);

/* ws_ouch_encode writes m at out (ws_ouch_size bytes; the caller sized it)
 * and returns the length, 0 for an unknown type. Alpha fields are written
 * as they are in m: callers pad with spaces (ws_ouch_alpha). Hot path for
 * the order port: no checks beyond the type. */
uint32_t ws_ouch_encode(int dir, const ws_ouch_msg_t *m, uint8_t *out);

/* ws_ouch_alpha copies a C string into a space-padded field of width w. */
void ws_ouch_alpha(char *dst, const char *src, uint32_t w);

/* TagValue options (Appendix A): the value size of a known tag, 0 if unknown. */
uint32_t ws_ouch_option_size(uint8_t tag);

/* ws_ouch_option_next walks an appendage: at *off, the next element's tag,
 * value and value size. Returns 1 for an element, 0 at the end, or
 * WS_OUCH_BAD_OPTION. */
int ws_ouch_option_next(const uint8_t *app, uint32_t app_len, uint32_t *off, uint8_t *tag, const uint8_t **value,
                        uint32_t *value_len);

/* Option tags wirespeed acts on. */
#define WS_OUCH_TAG_FIRM 2
#define WS_OUCH_TAG_MIN_QTY 3
#define WS_OUCH_TAG_USER_REF_IDX 28

/* Reject reasons (Appendix C) the simulator's checks give. */
#define WS_OUCH_REJ_FAT_FINGER 0x0006
#define WS_OUCH_REJ_HALTED 0x0007
#define WS_OUCH_REJ_INVALID_SIDE 0x0009
#define WS_OUCH_REJ_FIRM_NOT_AUTHORIZED 0x000C
#define WS_OUCH_REJ_OTHER 0x000F
#define WS_OUCH_REJ_INVALID_QUANTITY 0x0013
#define WS_OUCH_REJ_INVALID_SYMBOL 0x0017
#define WS_OUCH_REJ_INVALID_PRICE 0x001D
#define WS_OUCH_REJ_AGGREGATE_EXPOSURE 0x0020
#define WS_OUCH_REJ_RISK_FAT_FINGER 0x0026
#define WS_OUCH_REJ_PORT_MESSAGE_RATE 0x0029
#define WS_OUCH_REJ_SINGLE_ORDER_NOTIONAL 0x0030
#define WS_OUCH_REJ_MAX_QUANTITY 0x0031

#define WS_OUCH_MAX_QUANTITY 999999u     /* quantity must be below 1,000,000 */
#define WS_OUCH_MAX_PRICE 1999999900ull  /* $199,999.9900 */

#endif /* WS_ORDERS_OUCH_H */
