/* net/frame.c - see frame.h. */
#include "net/frame.h"

#include <arpa/inet.h>
#include <string.h>

#include "net/endian.h"

uint32_t ws_csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	uint64_t s = sum;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v = __builtin_bswap64(v);
		s += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		s += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

void ws_frame_udp4(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t src_ip, uint32_t dst_ip,
                   uint16_t sport, uint16_t dport, uint8_t ttl, uint32_t len)
{
	uint32_t dst = ntohl(dst_ip);
	if ((dst >> 28) == 0xe) {
		uint8_t m[6] = {0x01, 0x00, 0x5e, (uint8_t)((dst >> 16) & 0x7f), (uint8_t)(dst >> 8), (uint8_t)dst};
		memcpy(f, m, 6);
	} else if (dmac) {
		memcpy(f, dmac, 6);
	} else {
		memset(f, 0, 6);
	}
	if (smac)
		memcpy(f + 6, smac, 6);
	else
		memset(f + 6, 0, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[1] = 0;
	ws_be16(ip + 2, (uint16_t)(20 + 8 + len));
	ws_be16(ip + 4, 0);      /* IP ID 0: DF is set (RFC 6864) */
	ws_be16(ip + 6, 0x4000); /* DF */
	ip[8] = ttl;
	ip[9] = 17;
	ws_be16(ip + 10, 0);
	memcpy(ip + 12, &src_ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	ws_be16(ip + 10, (uint16_t)~ws_csum_add(0, ip, 20));
	uint8_t *udp = ip + 20;
	memcpy(udp, &sport, 2);
	memcpy(udp + 2, &dport, 2);
	ws_be16(udp + 4, (uint16_t)(8 + len));
	ws_be16(udp + 6, 0);
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	ws_be16(pseudo + 10, (uint16_t)(8 + len));
	uint16_t c = (uint16_t)~ws_csum_add(ws_csum_add(0, pseudo, 12), udp, 8 + len);
	ws_be16(udp + 6, c ? c : 0xffff);
}

const char *const ws_frame_verdict_names[WS_FRAME_VERDICTS] = {
	"ok", "truncated", "not_ipv4", "bad_ip_header", "bad_ip_checksum", "bad_ip_length",
	"fragment", "not_udp", "bad_udp_length",
};

enum ws_frame_verdict ws_frame_check(const uint8_t *f, uint32_t len, ws_udp4_view_t *v)
{
	memset(v, 0, sizeof(*v));
	if (len < 14 + 20)
		return len >= 14 && (f[12] != 0x08 || f[13] != 0x00) ? WS_FRAME_NOT_IPV4 : WS_FRAME_TRUNCATED;
	if (f[12] != 0x08 || f[13] != 0x00)
		return WS_FRAME_NOT_IPV4;
	const uint8_t *ip = f + 14;
	memcpy(&v->saddr, ip + 12, 4);
	memcpy(&v->daddr, ip + 16, 4);
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20)
		return WS_FRAME_BAD_IP_HEADER;
	if (14 + ihl > len)
		return WS_FRAME_TRUNCATED;
	if (ws_csum_add(0, ip, ihl) != 0xffff)
		return WS_FRAME_BAD_IP_CSUM;
	uint32_t tot = (uint32_t)(ip[2] << 8 | ip[3]);
	if (tot < ihl || 14 + tot > len)
		return 14 + tot > len ? WS_FRAME_TRUNCATED : WS_FRAME_BAD_IP_LEN;
	if ((ip[6] << 8 | ip[7]) & 0x3fff)
		return WS_FRAME_FRAGMENT;
	if (ip[9] != 17)
		return WS_FRAME_NOT_UDP;
	if (tot < ihl + 8)
		return WS_FRAME_BAD_IP_LEN;
	const uint8_t *udp = ip + ihl;
	memcpy(&v->sport, udp, 2);
	memcpy(&v->dport, udp + 2, 2);
	uint32_t ulen = (uint32_t)(udp[4] << 8 | udp[5]);
	if (ulen != tot - ihl)
		return WS_FRAME_BAD_UDP_LEN;
	v->payload_off = 14 + ihl + 8;
	v->payload_len = ulen - 8;
	return WS_FRAME_OK;
}
