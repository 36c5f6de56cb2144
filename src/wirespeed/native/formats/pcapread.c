/* formats/pcapread.c - packets out of a pcapng or pcap file; see pcapread.h. */
#include "formats/pcapread.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WS_SHB 0x0A0D0D0Au
#define WS_IDB 1u
#define WS_SPB 3u
#define WS_EPB 6u
#define WS_ISB 5u
#define WS_PCAP_MAX_CAPLEN 262144u /* what formats/pcapng.py accepts too */

static uint32_t ws_u32(const ws_pcap_reader_t *r, const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static uint16_t ws_u16(const ws_pcap_reader_t *r, const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return r->swap ? __builtin_bswap16(v) : v;
}

static int ws_fail(ws_pcap_reader_t *r, size_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->err_off = off;
	return -1;
}

int ws_pcap_open(ws_pcap_reader_t *r, const uint8_t *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	if (len < 4)
		return ws_fail(r, 0, "not a pcap or pcapng file (%zu bytes)", len);
	uint32_t m;
	memcpy(&m, buf, 4);
	if (m == WS_SHB) {
		r->pcapng = 1;
		return 0;
	}
	/* classic pcap: the magic says byte order and tick */
	if (m == 0xA1B2C3D4u || m == 0xA1B23C4Du) {
		r->tick_ns = m == 0xA1B2C3D4u ? 1000 : 1;
	} else if (m == 0xD4C3B2A1u || m == 0x4D3CB2A1u) {
		r->swap = 1;
		r->tick_ns = m == 0xD4C3B2A1u ? 1000 : 1;
	} else {
		return ws_fail(r, 0, "not a pcap or pcapng file (starts with %02x%02x%02x%02x)", buf[0], buf[1], buf[2],
		               buf[3]);
	}
	if (len < 24)
		return ws_fail(r, 0, "truncated pcap header");
	r->off = 24;
	return 0;
}

static int ws_next_pcap(ws_pcap_reader_t *r, const uint8_t **frame, uint32_t *len, uint64_t *ts_ns, uint32_t *iface)
{
	if (r->off == r->len)
		return 0;
	if (r->len - r->off < 16)
		return ws_fail(r, r->off, "truncated packet header at byte %zu", r->off);
	const uint8_t *h = r->buf + r->off;
	uint32_t sec = ws_u32(r, h), frac = ws_u32(r, h + 4), incl = ws_u32(r, h + 8);
	if (incl > WS_PCAP_MAX_CAPLEN)
		return ws_fail(r, r->off, "packet at byte %zu claims %u bytes: corrupt", r->off, incl);
	if (r->len - r->off - 16 < incl)
		return ws_fail(r, r->off, "truncated packet at byte %zu", r->off);
	*frame = h + 16;
	*len = incl;
	*ts_ns = (uint64_t)sec * 1000000000ull + (uint64_t)frac * r->tick_ns;
	*iface = 0;
	r->off += 16 + (size_t)incl;
	return 1;
}

/* if_tsresol: 10^-n or 2^-n seconds a tick, as ns = ticks * num / den. */
static void ws_tsresol(uint8_t v, uint64_t *num, uint64_t *den)
{
	uint32_t e = v & 0x7f;
	if (v & 0x80) {
		*num = 1000000000ull;
		*den = e < 64 ? 1ull << e : 1ull << 63;
		return;
	}
	*num = 1;
	*den = 1;
	if (e <= 9)
		for (uint32_t i = e; i < 9; i++)
			*num *= 10;
	else
		for (uint32_t i = 9; i < e && i < 28; i++)
			*den *= 10;
}

static void ws_read_idb(ws_pcap_reader_t *r, const uint8_t *body, size_t n)
{
	uint64_t num = 1000, den = 1; /* no if_tsresol: microseconds */
	size_t pos = 8;
	while (pos + 4 <= n) {
		uint16_t code = ws_u16(r, body + pos), olen = ws_u16(r, body + pos + 2);
		if (code == 0 || pos + 4 + olen > n)
			break;
		if (code == 9 && olen >= 1)
			ws_tsresol(body[pos + 4], &num, &den);
		pos += 4 + olen + ((4 - olen % 4) % 4);
	}
	if (r->n_if < WS_PCAP_MAX_IF) {
		r->if_num[r->n_if] = num;
		r->if_den[r->n_if] = den;
	}
	r->n_if++;
}

static uint64_t ws_u64opt(const ws_pcap_reader_t *r, const uint8_t *p)
{
	uint32_t a = ws_u32(r, p), b = ws_u32(r, p + 4);
	/* a u64 option is two u32 in the section's order, the high one first on big-endian */
	return r->swap ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
}

/* The capture's own counters for an interface: the newest block wins. */
static void ws_read_isb(ws_pcap_reader_t *r, const uint8_t *body, size_t n)
{
	if (n < 12)
		return;
	uint32_t id = r->if_base + ws_u32(r, body);
	if (id >= WS_PCAP_MAX_IF)
		return;
	r->isb_blocks++;
	size_t pos = 12;
	while (pos + 4 <= n) {
		uint16_t code = ws_u16(r, body + pos), olen = ws_u16(r, body + pos + 2);
		if (code == 0 || pos + 4 + olen > n)
			break;
		if (olen == 8) {
			uint64_t v = ws_u64opt(r, body + pos + 4);
			if (code == 4)
				r->isb_recv[id] = v;
			else if (code == 5)
				r->isb_drop[id] = v;
			else if (code == 7)
				r->isb_osdrop[id] = v;
		}
		pos += 4 + olen + ((4 - olen % 4) % 4);
	}
}

/* A section header's options: the capture host, when the recorder named it. */
static void ws_read_shb(ws_pcap_reader_t *r, const uint8_t *body, size_t n)
{
	size_t pos = 16; /* byte-order magic, version, section length */
	while (pos + 4 <= n) {
		uint16_t code = ws_u16(r, body + pos), olen = ws_u16(r, body + pos + 2);
		if (code == 0 || pos + 4 + olen > n)
			break;
		if (code == 1 && olen > 5 && !memcmp(body + pos + 4, "host=", 5)) {
			size_t len = (size_t)olen - 5 < sizeof(r->host) - 1 ? (size_t)olen - 5 : sizeof(r->host) - 1;
			for (size_t i = 0; i < len; i++) { /* printable ASCII only: it ends up in JSON and metadata */
				uint8_t c = body[pos + 9 + i];
				r->host[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
			}
			r->host[len] = 0;
		}
		pos += 4 + olen + ((4 - olen % 4) % 4);
	}
}

static int ws_next_pcapng(ws_pcap_reader_t *r, const uint8_t **frame, uint32_t *len, uint64_t *ts_ns,
                          uint32_t *iface)
{
	for (;;) {
		size_t off = r->off;
		if (off == r->len)
			return 0;
		if (r->len - off < 12)
			return ws_fail(r, off, "truncated block header at byte %zu", off);
		const uint8_t *b = r->buf + off;
		uint32_t type;
		memcpy(&type, b, 4); /* the SHB's type reads the same in both orders */
		if (type == WS_SHB) {
			uint32_t bom;
			memcpy(&bom, b + 8, 4);
			if (bom == 0x1A2B3C4Du)
				r->swap = 0;
			else if (bom == 0x4D3C2B1Au)
				r->swap = 1;
			else
				return ws_fail(r, off, "bad byte-order magic in the section header at byte %zu", off);
			r->if_base += r->n_if;
			r->n_if = 0; /* interface ids restart in every section */
		} else {
			type = ws_u32(r, b);
		}
		uint32_t total = ws_u32(r, b + 4);
		if (total < 12 || total % 4)
			return ws_fail(r, off, "block at byte %zu has a bad length %u: corrupt", off, total);
		if (r->len - off < total)
			return ws_fail(r, off, "truncated block at byte %zu", off);
		if (ws_u32(r, b + total - 4) != total)
			return ws_fail(r, off, "block at byte %zu: trailing length disagrees: corrupt", off);
		const uint8_t *body = b + 8;
		size_t n = total - 12;
		r->off = off + total;
		if (type == WS_SHB) {
			ws_read_shb(r, body, n);
		} else if (type == WS_IDB) {
			ws_read_idb(r, body, n);
		} else if (type == WS_EPB) {
			if (n < 20)
				return ws_fail(r, off, "packet block at byte %zu too short", off);
			uint32_t id = ws_u32(r, body), cap = ws_u32(r, body + 12);
			if (id >= r->n_if || id >= WS_PCAP_MAX_IF || cap > n - 20)
				return ws_fail(r, off, "packet block at byte %zu: unknown interface or bad length", off);
			uint64_t ticks = (uint64_t)ws_u32(r, body + 4) << 32 | ws_u32(r, body + 8);
			*ts_ns = (uint64_t)((unsigned __int128)ticks * r->if_num[id] / r->if_den[id]);
			*frame = body + 20;
			*len = cap;
			*iface = id;
			return 1;
		} else if (type == WS_SPB) {
			if (n < 4)
				return ws_fail(r, off, "simple packet block at byte %zu too short", off);
			uint32_t orig = ws_u32(r, body);
			*frame = body + 4;
			*len = orig < n - 4 ? orig : (uint32_t)(n - 4);
			*ts_ns = 0;
			*iface = 0;
			r->no_timestamp++;
			return 1;
		} else if (type == WS_ISB) {
			ws_read_isb(r, body, n);
		} else {
			r->skipped_blocks++;
		}
	}
}

int ws_pcap_next(ws_pcap_reader_t *r, const uint8_t **frame, uint32_t *len, uint64_t *ts_ns, uint32_t *iface)
{
	if (r->err[0])
		return -1; /* stays stopped where it failed */
	int rc = r->pcapng ? ws_next_pcapng(r, frame, len, ts_ns, iface) : ws_next_pcap(r, frame, len, ts_ns, iface);
	if (rc == 1)
		r->packets++;
	return rc;
}
