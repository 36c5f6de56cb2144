/* transports/rx_xsk.h - the af_xdp transport's receive loop: XSK RX rings into the ring.
 *
 * What it is for: the bypass path. wirespeed's XDP program (xdp/programs.py)
 * redirects feed datagrams to one AF_XDP socket per queue (xsk.h); this loop
 * drains their RX rings, checks every frame's headers (frame.h), copies the
 * good ones into the wirespeed ring as they arrived (whole Ethernet frames)
 * and hands each UMEM frame straight back to the fill ring.
 *
 * Steady state makes no syscall in BUSY mode: the rings are shared memory,
 * the clock is the vDSO. The only syscall left is the wakeup the kernel asks
 * for through XDP_RING_NEED_WAKEUP on the fill ring (a zero-copy driver that
 * ran out of fill entries); it is counted (stats.wakeups). BLOCK mode sleeps
 * in poll() when every RX ring is empty, and spins otherwise.
 *
 * Flows: a table of (group, port) -> stream (flows.h), the same entries the
 * XDP program's map holds; the control thread may change it while the loop
 * runs.
 *
 * Frames that fail ws_frame_check, or that match no active flow, are
 * MALFORMED: counted per verdict and in the ring's `malformed` drop cause
 * when skipped, or published with WS_REC_MALFORMED when kept (policy).
 *
 * Ownership: sockets and the flow table are the caller's; the ring writer is
 * the caller's and must stay joined. Threads: one thread runs; stop may be set
 * from any thread; stats are relaxed atomics any thread may read.
 */
#ifndef WS_RX_XSK_H
#define WS_RX_XSK_H

#include <stdatomic.h>
#include <stdint.h>

#include "net/frame.h"
#include "ring/ring.h"
#include "transports/flows.h"
#include "transports/xsk.h"

#define WS_RXX_MAX_SOCKS 16

enum { WS_RXX_BLOCK = 0, WS_RXX_BUSY = 1 };
enum { WS_RXX_SKIP_MALFORMED = 0, WS_RXX_KEEP_MALFORMED = 1 };

typedef struct {
	/* packets, bytes: published into the ring (kept malformed frames included) */
	_Atomic uint64_t packets, bytes, polls, empty_polls, wakeups, sleeps, malformed, unknown_flow;
	_Atomic uint64_t verdicts[WS_FRAME_VERDICTS];
} ws_rxx_stats_t;

/* ws_rx_xsk_run drains socks[0..n) until *stop. Returns 0, or -errno if
 * poll() failed (counters stay). */
int ws_rx_xsk_run(ws_ring_writer_t *w, ws_xsk_t *socks, unsigned n, const ws_flows_t *flows, int mode,
                  int malformed_policy, _Atomic int *stop, ws_rxx_stats_t *st);

#endif /* WS_RX_XSK_H */
