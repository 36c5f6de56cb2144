/* net/frame.h - Ethernet/IPv4/UDP headers, written the way Linux writes them.
 *
 * What it is for: the simulator's raw send mode writes whole frames, and the
 * kernel receive transport rebuilds the frame a datagram arrived in (the
 * kernel hands it only the payload), so every ring record is a frame. The
 * same layout is produced in Python by wirespeed/net/frames.py: DF set, IP ID 0,
 * IPv4 header without options, UDP checksum computed (0xFFFF for 0).
 *
 * It also checks received frames (ws_frame_check): AF_XDP hands wirespeed
 * whatever arrived, so headers are validated before a record is trusted.
 *
 * Ownership: caller buffers only. Threads: pure functions.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stdint.h>

#define WS_FRAME_HDR 42u /* Ethernet 14 + IPv4 20 + UDP 8 */

/* ws_csum_add folds len bytes (big-endian 16-bit words, an odd last byte
 * padded) into a ones'-complement sum (RFC 1071); the result is folded to
 * 16 bits, so sums can be chained. The checksum is its complement. */
uint32_t ws_csum_add(uint32_t sum, const uint8_t *p, uint32_t len);

/* ws_frame_udp4 writes the 42 header bytes at f for a payload of len bytes
 * already at f + WS_FRAME_HDR. Addresses and ports in network order. A
 * multicast destination gets its 01:00:5e MAC; any other gets dmac (may be
 * NULL: zeros). smac may be NULL (zeros: unknown). */
void ws_frame_udp4(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t src_ip, uint32_t dst_ip,
                   uint16_t sport, uint16_t dport, uint8_t ttl, uint32_t len);

/* Why a frame is not a well-formed, unfragmented IPv4/UDP datagram. */
enum ws_frame_verdict {
	WS_FRAME_OK = 0,
	WS_FRAME_TRUNCATED,     /* shorter than Ethernet + the IPv4 header it announces + UDP */
	WS_FRAME_NOT_IPV4,      /* ethertype is not IPv4 (VLAN-tagged frames included) */
	WS_FRAME_BAD_IP_HEADER, /* version != 4 or IHL < 5 */
	WS_FRAME_BAD_IP_CSUM,   /* IPv4 header checksum wrong */
	WS_FRAME_BAD_IP_LEN,    /* IPv4 total length below its headers or beyond the frame */
	WS_FRAME_FRAGMENT,      /* MF set or fragment offset != 0 */
	WS_FRAME_NOT_UDP,
	WS_FRAME_BAD_UDP_LEN,   /* UDP length disagrees with the IPv4 total length */
	WS_FRAME_VERDICTS
};
extern const char *const ws_frame_verdict_names[WS_FRAME_VERDICTS];

/* What ws_frame_check found. Addresses and ports in network order.
 * daddr is set whenever an IPv4 header is present (even a bad one), dport
 * only when the UDP header is (0 otherwise), so a bad frame can still be
 * attributed to a feed. */
typedef struct {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t payload_off, payload_len; /* the UDP payload, when OK */
} ws_udp4_view_t;

/* ws_frame_check validates the Ethernet/IPv4/UDP headers of f[0..len) and
 * fills *v. Ethernet padding after the IPv4 total length is allowed. The
 * UDP checksum is not checked: frames from a veth or a NIC with receive
 * offload may carry a partial one, and the NIC checks it where it can. */
enum ws_frame_verdict ws_frame_check(const uint8_t *f, uint32_t len, ws_udp4_view_t *v);

#endif /* WS_FRAME_H */
