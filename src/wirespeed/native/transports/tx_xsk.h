/* transports/tx_xsk.h - pre-armed UDP frames sent through AF_XDP.
 *
 * What it is for: sending a datagram without the kernel's socket path. A
 * sender is one AF_XDP socket bound to an interface queue (transports/xsk.h)
 * with a UMEM of frames that are all its own. A flow (MACs, addresses,
 * ports, TTL; DF set, IP ID 0) is armed once: its 42 header bytes are
 * built, and the constant parts of both checksums summed (the IPv4
 * header's words without its length; the UDP pseudo header's addresses and
 * protocol and the ports). Every frame is armed with the first flow's
 * headers at the start, and keeps the headers of the flow it last carried,
 * so a send on the same flow writes no header byte. A send takes a free
 * frame, copies the payload in, sets the two lengths, adds them to the
 * checksums' sums (and the payload's to UDP's), pushes one TX descriptor
 * and kicks the kernel only when it says it needs one (XDP_RING_NEED_WAKEUP;
 * a copy-mode socket, veth's, always does: its transmit runs inside that
 * sendto). Frames come back on the completion ring and are reused; nothing
 * is allocated after open.
 *
 * One socket per interface queue (the kernel allows no second), so a
 * sender carries several flows (a feed's A and B lines, say): up to
 * WS_UDP_TX_FLOWS. A multicast destination gets its 01:00:5e MAC, any
 * other the caller's (the next hop's).
 *
 * Ownership: a ws_udp_tx_t owns its socket and UMEM (ws_udp_tx_close).
 * Threads: one thread sends; stats may be read by others (approximate).
 * Errors: a send with no free frame or a full TX ring is refused (-ENOBUFS)
 * and counted; a payload too big for a frame or for the interface's MTU
 * (read at open: the frame would be dropped on the way) is refused
 * (-EMSGSIZE) and counted; an unknown flow is refused (-EINVAL).
 */
#ifndef WS_TX_XSK_H
#define WS_TX_XSK_H

#include <stdint.h>

#include "transports/xsk.h"

#define WS_UDP_TX_FLOWS 16

typedef struct {
	uint64_t sent;            /* descriptors pushed */
	uint64_t completed;       /* frames the kernel gave back */
	uint64_t kicks;           /* sendto() wake-ups made */
	uint64_t kick_errors;     /* ... that failed other than EAGAIN/EBUSY/ENOBUFS (the next kick retries) */
	uint64_t no_frame;        /* sends refused: every frame in flight, or the TX ring full */
	uint64_t too_big;         /* sends refused: payload larger than a frame or the MTU takes */
	uint64_t headers_written; /* sends whose frame last carried another flow (its 42 bytes copied) */
} ws_udp_tx_stats_t;

typedef struct {
	uint8_t hdr[42];          /* lengths and checksums zero */
	uint32_t ip_base;         /* ones'-complement sum of the IPv4 header without length and checksum */
	uint32_t udp_base;        /* ... of the pseudo header's addresses and protocol, and the ports */
} ws_udp_flow_t;

typedef struct {
	ws_xsk_t x;
	uint32_t *free;           /* free frame addresses (a stack) */
	uint32_t n_free;
	uint8_t *frame_flow;      /* [frame]: the flow whose headers it holds (0xff: none) */
	ws_udp_flow_t flows[WS_UDP_TX_FLOWS];
	uint32_t n_flows;
	uint32_t max_payload;     /* the smaller of a frame's room and the MTU's (MTU - 28) */
	ws_udp_tx_stats_t st;
} ws_udp_tx_t;

/* ws_udp_tx_open: a sending socket on (ifindex, queue) with `frames`
 * frames of 2048 bytes. Returns 0 or -errno with *failed naming the step
 * (see ws_xsk_open). */
int ws_udp_tx_open(ws_udp_tx_t *t, int ifindex, uint32_t queue, uint32_t frames, int zerocopy,
                   enum ws_xsk_step *failed);
void ws_udp_tx_close(ws_udp_tx_t *t);

/* ws_udp_tx_flow arms a flow (addresses and ports in network order; dmac
 * for a unicast destination, may be NULL for multicast). Returns its id
 * (0, 1, ...) or -ENOSPC when WS_UDP_TX_FLOWS are armed. */
int ws_udp_tx_flow(ws_udp_tx_t *t, const uint8_t dmac[6], const uint8_t smac[6], uint32_t saddr, uint32_t daddr,
                   uint16_t sport, uint16_t dport, uint8_t ttl);

/* ws_udp_tx_send: one datagram of len bytes on a flow. 0, -ENOBUFS,
 * -EMSGSIZE or -EINVAL. */
int ws_udp_tx_send(ws_udp_tx_t *t, uint32_t flow, const uint8_t *payload, uint32_t len);

/* ws_udp_tx_reap: frames the kernel has sent back to the free stack; returns how many. */
uint32_t ws_udp_tx_reap(ws_udp_tx_t *t);

#endif /* WS_TX_XSK_H */
