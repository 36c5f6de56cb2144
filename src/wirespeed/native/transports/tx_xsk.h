/* transports/tx_xsk.h - pre-armed UDP frames sent through AF_XDP.
 *
 * What it is for: sending a datagram without the kernel's socket path. At
 * open, every frame of a sending AF_XDP socket's UMEM (transports/xsk.h) is
 * armed with the Ethernet, IPv4 and UDP headers of one flow (MACs,
 * addresses, ports, TTL, DF, IP ID 0), and the constant part of the UDP
 * checksum (pseudo header and ports) is summed once. A send takes a free
 * frame, copies the payload in, sets the two lengths, patches the IPv4
 * checksum incrementally (RFC 1624) and finishes the UDP checksum over the
 * payload alone, pushes one TX descriptor and kicks the kernel only when
 * it says it needs one (XDP_RING_NEED_WAKEUP; a copy-mode socket, veth's,
 * always does: its transmit runs inside that sendto). Frames come back on
 * the completion ring and are reused; nothing is allocated after open.
 *
 * The destination MAC is the caller's (the next hop's: for the test host,
 * the peer veth's); a multicast group gets its 01:00:5e MAC.
 *
 * Ownership: a ws_udp_tx_t owns its socket and UMEM (ws_udp_tx_close).
 * Threads: one thread sends; stats may be read by others (approximate).
 * Errors: a send with no free frame or a full TX ring is refused (-ENOBUFS)
 * and counted; a payload too big for a frame or for the interface's MTU
 * (read at open: the frame would be dropped on the way) is refused
 * (-EMSGSIZE) and counted.
 */
#ifndef WS_TX_XSK_H
#define WS_TX_XSK_H

#include <stdint.h>

#include "transports/xsk.h"

typedef struct {
	uint64_t sent;            /* descriptors pushed */
	uint64_t completed;       /* frames the kernel gave back */
	uint64_t kicks;           /* sendto() wake-ups made */
	uint64_t kick_errors;     /* ... that failed other than EAGAIN/EBUSY (the kernel will take it next kick) */
	uint64_t no_frame;        /* sends refused: every frame in flight, or the TX ring full */
	uint64_t too_big;         /* sends refused: payload larger than a frame takes */
} ws_udp_tx_stats_t;

typedef struct {
	ws_xsk_t x;
	uint32_t *free;           /* free frame addresses (a stack) */
	uint32_t n_free;
	uint16_t *cur_len;        /* [frame]: the payload length its headers say */
	uint32_t udp_base;        /* ones'-complement sum of pseudo header addresses, protocol and ports */
	uint32_t max_payload;     /* the smaller of a frame's room and the MTU's (MTU - 28) */
	ws_udp_tx_stats_t st;
} ws_udp_tx_t;

/* ws_udp_tx_open: a sending socket on (ifindex, queue) with frames frames of
 * 2048 bytes, armed for the flow. Addresses and ports in network order.
 * Returns 0 or -errno with *failed naming the step (see ws_xsk_open). */
int ws_udp_tx_open(ws_udp_tx_t *t, int ifindex, uint32_t queue, uint32_t frames, const uint8_t dmac[6],
                   const uint8_t smac[6], uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, uint8_t ttl,
                   int zerocopy, enum ws_xsk_step *failed);
void ws_udp_tx_close(ws_udp_tx_t *t);

/* ws_udp_tx_send: one datagram of len bytes. 0, -ENOBUFS or -EMSGSIZE. */
int ws_udp_tx_send(ws_udp_tx_t *t, const uint8_t *payload, uint32_t len);

/* ws_udp_tx_reap: frames the kernel has sent back to the free stack; returns how many. */
uint32_t ws_udp_tx_reap(ws_udp_tx_t *t);

#endif /* WS_TX_XSK_H */
