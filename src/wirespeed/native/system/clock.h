/* system/clock.h - the monotonic clock the C core's deadlines and pacing read.
 *
 * What it is for: one definition of "now" for code that waits or stops at
 * a time (the simulator's pacing, FeedRouter.follow's slices). The ring's
 * record stamps use another clock, CLOCK_REALTIME (ws_ring_now_ns in
 * ring.h), because readers in other processes compare them with wall time.
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

#endif
