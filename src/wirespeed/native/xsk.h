/* xsk.h - AF_XDP sockets.
 *
 * What it is for (so far): answering, by really trying, whether an interface
 * queue takes an AF_XDP socket in zero-copy mode or only in copy mode. The
 * receive path proper (UMEM, fill/rx rings, busy-poll loop) grows here with
 * the af_xdp transport.
 *
 * Ownership: ws_xsk_probe creates and destroys everything it uses (socket,
 * a small anonymous UMEM); nothing outlives the call, and nothing is attached
 * to the interface (binding an XSK needs no XDP program).
 *
 * Threads: any thread; not for a hot path.
 */
#ifndef WS_XSK_H
#define WS_XSK_H

#include <stdint.h>

/* Steps of the probe, so that a failure names the syscall that refused. */
enum ws_xsk_step {
	WS_XSK_STEP_NONE = 0,
	WS_XSK_STEP_SOCKET,     /* socket(AF_XDP, SOCK_RAW) */
	WS_XSK_STEP_UMEM_MMAP,  /* mmap() of the probe UMEM */
	WS_XSK_STEP_UMEM_REG,   /* setsockopt(XDP_UMEM_REG) */
	WS_XSK_STEP_RINGS,      /* setsockopt(XDP_UMEM_FILL_RING/COMPLETION_RING/RX_RING) */
	WS_XSK_STEP_BIND,       /* bind(sockaddr_xdp) */
};

/* ws_xsk_step_name returns the syscall text for a step (static string). */
const char *ws_xsk_step_name(enum ws_xsk_step step);

/* ws_xsk_probe binds a throwaway AF_XDP socket to (ifindex, queue_id) with
 * bind_flags (XDP_COPY or XDP_ZEROCOPY, optionally XDP_USE_NEED_WAKEUP), then
 * tears it down. Returns 0 if the bind succeeded, else -errno with *failed
 * set to the step that refused: EOPNOTSUPP at BIND with XDP_ZEROCOPY means
 * the driver has no zero-copy support; EBUSY means another socket owns the
 * queue; EPERM at SOCKET means CAP_NET_RAW is missing; ENOBUFS/EPERM at
 * UMEM_REG means the memlock limit is too low without CAP_IPC_LOCK. */
int ws_xsk_probe(int ifindex, uint32_t queue_id, uint16_t bind_flags, enum ws_xsk_step *failed);

#endif /* WS_XSK_H */
