/* system/clock.h - the monotonic clock the C core's deadlines and pacing read.
 *
 * What it is for: one definition of "now" for code that waits or stops at
 * a time (the simulator's pacing, FeedRouter.follow's slices), and of the
 * time of day exchange messages carry (ws_midnight_ns). The ring's record
 * stamps use CLOCK_REALTIME too (ws_ring_now_ns in ring.h), because readers
 * in other processes compare them with wall time.
 *
 * Memory: none. Threads: any. clock_gettime(CLOCK_MONOTONIC) is a vDSO
 * call, no syscall, so it may be read in spin loops.
 */
#ifndef WS_CLOCK_H
#define WS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ws_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ws_midnight_ns is ns since midnight UTC of CLOCK_REALTIME: what ITCH and
 * OUCH timestamps count, so a receiver on the same host measures one-way
 * latency from the message itself. */
static inline uint64_t ws_midnight_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec % 86400ull) * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ws_epoch_ns is CLOCK_REALTIME in ns: the clock receive stamps (kernel
 * and the ring's) are taken on, so stamps from either side compare. */
static inline uint64_t ws_epoch_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
