/* orders/soupbin.c - SoupBinTCP framing and logins; see soupbin.h. */
#include "orders/soupbin.h"

#include <stdio.h>
#include <string.h>

#include "net/endian.h"

int ws_soup_next(const uint8_t *buf, uint32_t len, uint32_t max_len, ws_soup_pkt_t *pkt)
{
	if (len < 2)
		return 0;
	uint32_t n = ws_rd16(buf);
	if (!n)
		return WS_SOUP_ZERO_LENGTH;
	if (n > max_len)
		return WS_SOUP_TOO_LONG;
	if (len < 2 + n)
		return 0;
	pkt->type = buf[2];
	pkt->payload = buf + 3;
	pkt->payload_len = n - 1;
	return (int)(2 + n);
}

/* An ASCII field without the padding on either side, NUL-terminated. */
static void ws_trim(char *dst, const uint8_t *src, uint32_t w)
{
	uint32_t a = 0, b = w;
	while (a < b && src[a] == ' ')
		a++;
	while (b > a && src[b - 1] == ' ')
		b--;
	memcpy(dst, src + a, b - a);
	dst[b - a] = 0;
}

/* Digits with spaces around them (either side pads); all spaces is 0. */
static int ws_digits(const uint8_t *p, uint32_t w, uint64_t *out)
{
	char s[21];
	ws_trim(s, p, w);
	uint64_t v = 0;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9' || v > (UINT64_MAX - 9) / 10)
			return WS_SOUP_BAD_NUMBER;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	*out = v;
	return WS_SOUP_OK;
}

int ws_soup_login_parse(const uint8_t *p, uint32_t len, ws_soup_login_t *out)
{
	if (len != WS_SOUP_LOGIN_40 - 1 && len != WS_SOUP_LOGIN_41 - 1)
		return WS_SOUP_BAD_LOGIN;
	memset(out, 0, sizeof(*out));
	ws_trim(out->username, p, 6);
	ws_trim(out->password, p + 6, 10);
	ws_trim(out->session, p + 16, 10);
	if (ws_digits(p + 26, 20, &out->sequence))
		return WS_SOUP_BAD_NUMBER;
	out->version = 40;
	if (len == WS_SOUP_LOGIN_41 - 1) {
		uint64_t hb;
		if (ws_digits(p + 46, 5, &hb))
			return WS_SOUP_BAD_NUMBER;
		out->heartbeat_timeout_ms = (uint32_t)hb;
		out->version = 41;
	}
	return WS_SOUP_OK;
}

uint32_t ws_soup_header(uint8_t *out, uint8_t type, uint32_t payload_len)
{
	ws_be16(out, (uint16_t)(payload_len + 1));
	out[2] = type;
	return 3;
}

/* Right-justified ASCII, left-padded with spaces (the spec's numeric fields). */
static void ws_rjust(uint8_t *dst, uint32_t w, uint64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	if (n < 0 || (uint32_t)n > w)
		n = (int)w;
	memset(dst, ' ', w - (uint32_t)n);
	memcpy(dst + w - (uint32_t)n, s, (size_t)n);
}

/* Left-justified ASCII, right-padded with spaces (the spec's alpha fields). */
static void ws_ljust(uint8_t *dst, uint32_t w, const char *s)
{
	uint32_t n = (uint32_t)strnlen(s, w);
	memcpy(dst, s, n);
	memset(dst + n, ' ', w - n);
}

uint32_t ws_soup_login_accepted(uint8_t *out, const char *session, uint64_t sequence)
{
	ws_soup_header(out, WS_SOUP_LOGIN_ACCEPTED, 30);
	ws_ljust(out + 3, 10, session);
	ws_rjust(out + 13, 20, sequence);
	return 33;
}

uint32_t ws_soup_login_rejected(uint8_t *out, uint8_t reason)
{
	ws_soup_header(out, WS_SOUP_LOGIN_REJECTED, 1);
	out[3] = reason;
	return 4;
}

uint32_t ws_soup_login_request(uint8_t *out, const char *user, const char *password, const char *session,
                               uint64_t sequence, uint32_t heartbeat_timeout_ms)
{
	ws_soup_header(out, WS_SOUP_LOGIN_REQUEST, WS_SOUP_LOGIN_41 - 1);
	ws_ljust(out + 3, 6, user);
	ws_ljust(out + 9, 10, password);
	ws_ljust(out + 19, 10, session);
	ws_rjust(out + 29, 20, sequence);
	ws_rjust(out + 49, 5, heartbeat_timeout_ms);
	return 2 + WS_SOUP_LOGIN_41;
}
