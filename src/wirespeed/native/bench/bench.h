/* bench/bench.h - native kernels for `wirespeed bench` (measurement only).
 *
 * What it is for: numbers that Python cannot measure itself: the cache-line
 * ping-pong between two cores (the physical floor for any one-way handoff),
 * and a ring writer and reader that run in separate processes, each pinned to
 * its own core, timing with the TSC.
 *
 * And an order-entry client's Enter -> Accepted round trip (bench/orders.c),
 * timed where no Python runs between the send and the answer.
 *
 * Time: ws_tsc() reads the invariant TSC (x86-64); elsewhere it falls back to
 * CLOCK_MONOTONIC ns. Callers convert ticks to ns with a rate they calibrate
 * (wirespeed/bench/ring.py), so both processes use one clock.
 *
 * Ownership: sample arrays are the caller's (numpy), written in place.
 * Threads: each function runs on the calling thread (ping-pong starts one
 * helper thread and joins it). All block for the length of the run.
 */
#ifndef WS_BENCH_H
#define WS_BENCH_H

#include <stdint.h>

uint64_t ws_tsc(void);

/* ws_tsc_ordered reads the TSC only once every earlier instruction has
 * completed (lfence; rdtsc). A plain rdtsc may run ahead of the loads
 * before it, so a receipt stamp taken right after reading a record could
 * precede the moment the record arrived: latency kernels stamp receipt
 * with this one. */
uint64_t ws_tsc_ordered(void);

/* ws_pin_cpu pins the calling thread to cpu (-1: leave as is). 0 or -errno. */
int ws_pin_cpu(int cpu);

/* ws_bench_pingpong bounces a cache line between cpu_a and cpu_b iters
 * times; samples[i] = round-trip ticks / 2 (one-way). 0 or -errno. */
int ws_bench_pingpong(int cpu_a, int cpu_b, uint64_t *samples, uint64_t iters);

/* ws_bench_stalls spins on the calling thread for duration_ns reading
 * CLOCK_MONOTONIC, and records every gap between two consecutive reads
 * longer than threshold_ns: when the core was taken from the thread (an
 * interrupt, a softirq, another task, the hypervisor). lens[i] = gap i in
 * ns, for at most cap gaps; *n counts them all, *stolen_ns sums them all.
 * Pin the thread first (ws_pin_cpu). 0. */
int ws_bench_stalls(uint64_t duration_ns, uint64_t threshold_ns, uint64_t *lens, uint64_t cap, uint64_t *n,
                    uint64_t *stolen_ns);

/* The bare limit of a one-writer handoff between cores, with nothing of the
 * ring's: mem is `lines` (a power of two) 64-byte lines, shared by two
 * processes. The writer stores lines 1..n, each its payload then its
 * sequence number (release), one every gap_ticks (0: flat out). The reader
 * follows with acquire loads, reads each payload, re-checks the sequence
 * number (a seqlock, as the ring's readers do) and counts what it missed:
 * lapped, or overwritten while read; it stops after n or after
 * timeout_ticks with nothing new. Both return 0. */
int ws_bench_lines_writer(void *mem, uint64_t lines, uint64_t n, uint64_t gap_ticks, uint64_t *elapsed_ticks);
int ws_bench_lines_reader(const void *mem, uint64_t lines, uint64_t n, uint64_t timeout_ticks, uint64_t *got,
                          uint64_t *lost, uint64_t *elapsed_ticks);

/* ws_bench_ring_writer publishes n records of rec_sz bytes to the ring at
 * path. gap_ticks = 0: as fast as possible (one clock read per 64 records);
 * else one record every gap_ticks with ts_ns = ws_tsc() taken just before
 * publishing (latency mode). *elapsed_ticks = first to last publish.
 * Returns 0 or a WS_RING_* error. */
int ws_bench_ring_writer(const char *path, uint64_t n, uint32_t rec_sz, uint64_t gap_ticks,
                         uint64_t *elapsed_ticks);

/* ws_bench_ring_reader reads from the ring at path (started at `latest`)
 * until it has seen seq >= last_seq or timeout_ticks pass with nothing new.
 * Without lat (throughput) it reads in batches of 64 (ws_ring_read_batch,
 * payloads copied) with one clock read per batch.
 * If lat is not NULL (latency mode), lat[i] = ws_tsc_ordered() at receipt -
 * record ts for at most lat_cap records, *lat_n = samples written. A
 * receipt stamp earlier than the record's own is impossible (TSCs out of
 * step between the two cores): it is not a latency, and is counted in
 * *rejected instead of being written. *got = records read, *lost = records
 * lost, *elapsed_ticks = first to last record. Returns 0 or a WS_RING_*
 * error. */
int ws_bench_ring_reader(const char *path, uint64_t last_seq, uint64_t timeout_ticks, uint64_t *lat,
                         uint64_t lat_cap, uint64_t *lat_n, uint64_t *rejected, uint64_t *got, uint64_t *lost,
                         uint64_t *elapsed_ticks);

/* ws_bench_ouch_rtt is an order-entry client's round trip, timed in C:
 * on fd, a connected, blocking TCP socket already logged in to an OUCH
 * 5.0 / SoupBinTCP 4.1 port with nothing unread, it enters n Day buy
 * orders for `symbol` at `price` (Price(4)), one every gap_ns, with
 * UserRefNums first_urn, first_urn + 1, ...; rtt_ns[i] = CLOCK_MONOTONIC
 * from just before the Enter's send() to the recv() that completes its
 * Accepted. Each order is then canceled and its Canceled awaited, untimed,
 * so the book stays as it was. Reads block (SO_RCVTIMEO
 * = timeout_ns), as a plain kernel-TCP client's would.
 * *done = round trips completed. Returns 0; -ETIMEDOUT (no answer within
 * timeout_ns); -EPROTO (a framing error, an End of Session, or a Rejected:
 * *reject holds its reason, 0 otherwise); -ECONNRESET (the port closed);
 * or another -errno of send()/recv(). */
int ws_bench_ouch_rtt(int fd, const char *symbol, uint64_t price, uint32_t first_urn, uint64_t n, uint64_t gap_ns,
                      uint64_t timeout_ns, uint64_t *rtt_ns, uint64_t *done, uint16_t *reject);

/* A way to send one message: 0 or -errno. */
typedef int (*ws_bench_send_fn)(void *ctx, const uint8_t *msg, uint32_t len);

/* ws_bench_send_fd sends on a connected socket (ctx: the fd as intptr_t):
 * one send(), whole or an error (TCP or UDP). */
int ws_bench_send_fd(void *ctx, const uint8_t *msg, uint32_t len);

/* ws_bench_send_tcp_xsk sends on a user-space TCP connection (ctx: its
 * ws_tcp_xsk_t, established) through its send path; ws_bench_send_tcp_probe
 * fires the same bytes as a bare segment (ws_tcp_xsk_probe). Each then
 * polls the connection (the peer's ACKs), after the send. */
int ws_bench_send_tcp_xsk(void *ctx, const uint8_t *msg, uint32_t len);
int ws_bench_send_tcp_probe(void *ctx, const uint8_t *msg, uint32_t len);

/* ws_bench_oneway is a sender's side of a one-way figure: n pre-encoded
 * 50-byte messages (an Enter Order's size with its SoupBinTCP header;
 * bytes 3..10 carry i, big-endian), one every gap_ns, through send;
 * tx_ns[i] = CLOCK_REALTIME just before message i is handed over. The
 * receiver stamps arrivals (SO_TIMESTAMPING). Returns 0 or send's -errno
 * (after a failed message, the rest are not sent). */
int ws_bench_oneway(ws_bench_send_fn send, void *ctx, uint64_t n, uint64_t gap_ns, uint64_t *tx_ns);

/* ws_bench_risk times the pre-trade checks (orders/risk.h) with every
 * check on: out_ns[k] = ns per order (check + commit + release) over batch
 * k of 64 orders, for n batches, on varied orders that all pass. Returns 0,
 * or -1 if an order was refused (the limits are wrong, not the figure). */
int ws_bench_risk(uint64_t n, double *out_ns);

#endif /* WS_BENCH_H */
