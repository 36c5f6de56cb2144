/* net/endian.h - big-endian (network order) fields in packet buffers.
 *
 * What it is for: every wire format wirespeed speaks (Ethernet/IPv4/UDP
 * headers, MoldUDP64, ITCH 5.0) is big-endian and packed, so fields are read
 * and written byte by byte at any alignment; the compiler turns each helper
 * into one load or store and a bswap.
 *
 * Ownership: caller buffers only; the caller has checked the bounds.
 * Threads: pure functions.
 */
#ifndef WS_NET_ENDIAN_H
#define WS_NET_ENDIAN_H

#include <stdint.h>

static inline void ws_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void ws_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void ws_be48(uint8_t *p, uint64_t v)
{
	ws_be16(p, (uint16_t)(v >> 32));
	ws_be32(p + 2, (uint32_t)v);
}
static inline void ws_be64(uint8_t *p, uint64_t v)
{
	ws_be32(p, (uint32_t)(v >> 32));
	ws_be32(p + 4, (uint32_t)v);
}
static inline uint16_t ws_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t ws_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t ws_rd48(const uint8_t *p) { return (uint64_t)ws_rd16(p) << 32 | ws_rd32(p + 2); }
static inline uint64_t ws_rd64(const uint8_t *p) { return (uint64_t)ws_rd32(p) << 32 | ws_rd32(p + 4); }

#endif /* WS_NET_ENDIAN_H */
