/* formats/pcapng.c - see pcapng.h. */
#include "formats/pcapng.h"

#include <string.h>

#define WS_EPB_OVERHEAD 32u /* 7 header words + the trailing length */

static size_t ws_pad4(size_t len)
{
	return (len + 3) & ~(size_t)3;
}

size_t ws_pcapng_epb_size(const ws_ring_rec_t *recs, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += WS_EPB_OVERHEAD + ws_pad4(recs[i].len);
	return total;
}

static uint8_t *ws_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* little-endian hosts only: wirespeed runs on x86-64 and arm64 LE */
	return p + 4;
}

size_t ws_pcapng_epbs(uint8_t *out, const ws_ring_rec_t *recs, size_t n, const uint8_t *payload,
                      size_t payload_sz, const uint32_t *iface)
{
	uint8_t *p = out;
	for (size_t i = 0; i < n; i++) {
		const ws_ring_rec_t *r = &recs[i];
		if (r->pos > payload_sz || r->len > payload_sz - r->pos)
			return 0;
		uint32_t total = (uint32_t)(WS_EPB_OVERHEAD + ws_pad4(r->len));
		p = ws_put32(p, 6);
		p = ws_put32(p, total);
		p = ws_put32(p, iface[i]);
		p = ws_put32(p, (uint32_t)(r->ts_ns >> 32));
		p = ws_put32(p, (uint32_t)r->ts_ns);
		p = ws_put32(p, r->len);
		p = ws_put32(p, r->len);
		memcpy(p, payload + r->pos, r->len);
		size_t pad = ws_pad4(r->len) - r->len;
		memset(p + r->len, 0, pad);
		p += r->len + pad;
		p = ws_put32(p, total);
	}
	return (size_t)(p - out);
}
