/* transports/rx_kernel.h - the kernel transport: UDP sockets into the ring.
 *
 * What it is for: seed 001's kernel receiver baseline, and the path for
 * flows the machine cannot bypass. recvmmsg batches; per datagram the kernel
 * receive stamp (SO_TIMESTAMPNS, or the NIC's through SO_TIMESTAMPING), the source (msg_name), the destination
 * (IP_PKTINFO) and TTL (IP_RECVTTL) rebuild the frame header; the socket's
 * overflow counter (SO_RXQ_OVFL) is turned into the ring's sock_overflow drop
 * count, so a full socket queue is never a silent loss. Nothing here
 * defeats LD_PRELOAD acceleration (onload): only standard socket calls.
 *
 * Modes: BLOCK waits in epoll_wait (the baseline); BUSY spins on
 * recvmmsg(MSG_DONTWAIT) over the sockets (no sleep, still one syscall per
 * poll: the kernel path cannot avoid it; AF_XDP can).
 *
 * Ownership: sockets are the caller's (new ones: their overflow count must
 * start at 0; opened, bound, joined and given the
 * socket options above by wirespeed/transports/kernel.py); the run never
 * closes them. The ring writer is the caller's and must stay joined.
 * Threads: one thread runs; ws_rx_kernel stop flag may be set from any thread.
 */
#ifndef WS_RX_KERNEL_H
#define WS_RX_KERNEL_H

#include <stdatomic.h>
#include <stdint.h>

#include "ring/ring.h"

#define WS_RXK_MAX_SOCKS 16

enum { WS_RXK_BLOCK = 0, WS_RXK_BUSY = 1 };
/* KERNEL: SO_TIMESTAMPNS, flagged TS_KERNEL. USER: the batch's dequeue time,
 * TS_USER. HARDWARE: SO_TIMESTAMPING with raw hardware and software stamps
 * asked for by the caller; each record takes the NIC's stamp (TS_NIC) where
 * there is one, else the kernel's (TS_KERNEL). A record with no stamp from
 * the kernel at all gets the dequeue time and TS_USER. */
enum { WS_STAMP_KERNEL = 0, WS_STAMP_USER = 1, WS_STAMP_HARDWARE = 2 };

typedef struct {
	int fd;
	uint16_t stream;
	uint16_t port;      /* the port the socket is bound to (host order): the frames' destination port */
	uint32_t ovfl_seen; /* private: last SO_RXQ_OVFL value; 0 for a new socket */
} ws_rxk_sock_t;

typedef struct {
	_Atomic uint64_t packets, bytes, sock_overflow, too_big, polls, empty_polls;
} ws_rxk_stats_t;

/* ws_rx_kernel_run receives until *stop is set. Returns 0, or -errno if
 * epoll could not be set up or a socket failed with something other than
 * EAGAIN/EINTR (the error is for the caller to report; counters stay). */
int ws_rx_kernel_run(ws_ring_writer_t *w, ws_rxk_sock_t *socks, unsigned n, int mode, int stamp,
                     _Atomic int *stop, ws_rxk_stats_t *st);

#endif /* WS_RX_KERNEL_H */
