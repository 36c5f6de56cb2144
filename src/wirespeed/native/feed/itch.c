/* feed/itch.c - see itch.h. */
#include "feed/itch.h"

int ws_itch_decode(const uint8_t *p, uint32_t len, ws_itch_msg_t *m)
{
	if (!len)
		return -2;
	uint32_t want = ws_itch_len(p[0]);
	if (!want)
		return 0;
	if (len != want)
		return -1;
	memset(m, 0, sizeof(*m));
	m->type = p[0];
	m->locate = ws_rd16(p + 1);
	m->tracking = ws_rd16(p + 3);
	m->ts_ns = ws_rd48(p + 5);
	const uint8_t *b = p + 11;
	switch (m->type) {
	case 'S': m->event = b[0]; break;
	case 'R': case 'Y': case 'K': case 'J': case 'h': case 'N': memcpy(m->stock, b, 8); break;
	case 'H': memcpy(m->stock, b, 8); m->event = b[8]; break;
	case 'L': memcpy(m->stock, b + 4, 8); break;
	case 'A': case 'F':
		m->order_ref = ws_rd64(b); m->side = b[8]; m->shares = ws_rd32(b + 9);
		memcpy(m->stock, b + 13, 8); m->price = ws_rd32(b + 21);
		break;
	case 'E': m->order_ref = ws_rd64(b); m->shares = ws_rd32(b + 8); m->match = ws_rd64(b + 12); break;
	case 'C':
		m->order_ref = ws_rd64(b); m->shares = ws_rd32(b + 8); m->match = ws_rd64(b + 12);
		m->printable = b[20]; m->price = ws_rd32(b + 21);
		break;
	case 'X': m->order_ref = ws_rd64(b); m->shares = ws_rd32(b + 8); break;
	case 'D': m->order_ref = ws_rd64(b); break;
	case 'U':
		m->order_ref = ws_rd64(b); m->new_ref = ws_rd64(b + 8); m->shares = ws_rd32(b + 16);
		m->price = ws_rd32(b + 20);
		break;
	case 'P':
		m->order_ref = ws_rd64(b); m->side = b[8]; m->shares = ws_rd32(b + 9);
		memcpy(m->stock, b + 13, 8); m->price = ws_rd32(b + 21); m->match = ws_rd64(b + 25);
		break;
	case 'Q':
		m->shares = ws_rd64(b); memcpy(m->stock, b + 8, 8); m->price = ws_rd32(b + 16);
		m->match = ws_rd64(b + 20); m->event = b[28];
		break;
	case 'B': m->match = ws_rd64(b); break;
	case 'I': memcpy(m->stock, b + 17, 8); break;
	default: break; /* V, W: header only is of interest */
	}
	return 1;
}
