/* bench/bench.c - see bench.h. */
#include "bench/bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "ring/ring.h"

#define WS_BENCH_BATCH 64

uint64_t ws_tsc(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

uint64_t ws_tsc_ordered(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("lfence" ::: "memory");
#endif
	return ws_tsc();
}

int ws_pin_cpu(int cpu)
{
	if (cpu < 0)
		return 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) ? -EINVAL : 0;
}

/* Two lines, one written by each side, so each store is one line transfer. */
struct ws_pp {
	_Atomic uint64_t ping __attribute__((aligned(128)));
	_Atomic uint64_t pong __attribute__((aligned(128)));
	uint64_t iters;
	int cpu;
};

static void *ws_pp_echo(void *arg)
{
	struct ws_pp *pp = arg;
	ws_pin_cpu(pp->cpu);
	for (uint64_t i = 1; i <= pp->iters; i++) {
		while (atomic_load_explicit(&pp->ping, memory_order_acquire) != i)
			ws_relax();
		atomic_store_explicit(&pp->pong, i, memory_order_release);
	}
	return NULL;
}

int ws_bench_stalls(uint64_t duration_ns, uint64_t threshold_ns, uint64_t *lens, uint64_t cap, uint64_t *n,
                    uint64_t *stolen_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, prev = t0, count = 0, stolen = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (now - prev > threshold_ns) {
			if (count < cap)
				lens[count] = now - prev;
			count++;
			stolen += now - prev;
		}
		prev = now;
		if (now - t0 >= duration_ns)
			break;
	}
	*n = count;
	*stolen_ns = stolen;
	return 0;
}

int ws_bench_pingpong(int cpu_a, int cpu_b, uint64_t *samples, uint64_t iters)
{
	static struct ws_pp pp; /* static: aligned, and no large stack frame */
	memset(&pp, 0, sizeof(pp));
	pp.iters = iters;
	pp.cpu = cpu_b;
	/* The caller's thread is pinned for the measurement only: it is
	 * Python's thread, and what it runs next must keep its own cores. */
	cpu_set_t home;
	if (pthread_getaffinity_np(pthread_self(), sizeof(home), &home))
		return -EINVAL;
	pthread_t t;
	if (pthread_create(&t, NULL, ws_pp_echo, &pp))
		return -EAGAIN;
	int rc = ws_pin_cpu(cpu_a);
	for (uint64_t i = 1; i <= iters && !rc; i++) {
		uint64_t t0 = ws_tsc_ordered();
		atomic_store_explicit(&pp.ping, i, memory_order_release);
		while (atomic_load_explicit(&pp.pong, memory_order_acquire) != i)
			ws_relax();
		samples[i - 1] = (ws_tsc_ordered() - t0) / 2; /* one core's clock: never negative */
	}
	if (rc) /* the echo thread waits for pings that will not come: send them */
		for (uint64_t i = 1; i <= iters; i++) {
			atomic_store_explicit(&pp.ping, i, memory_order_release);
			while (atomic_load_explicit(&pp.pong, memory_order_acquire) != i)
				ws_relax();
		}
	pthread_join(t, NULL);
	if (pthread_setaffinity_np(pthread_self(), sizeof(home), &home))
		return rc ? rc : -EINVAL;
	return rc;
}

/* -- the bare limit: 64-byte lines handed from one core to another -------------- */

static volatile uint64_t ws_bench_sink;

/* ws_bench_pace waits for *next and moves it one gap on. It spins on the
 * clock alone: a pause costs up to ~140 cycles on recent cores, longer than
 * the gap at tens of millions of records a second. A late record is sent at
 * once, and the ones after it catch up, so the average rate holds. */
static inline void ws_bench_pace(uint64_t *next, uint64_t gap_ticks)
{
	while (ws_tsc() < *next)
		;
	*next += gap_ticks;
}

struct ws_line {
	_Atomic uint64_t seq; /* written last, with release */
	uint64_t data[7];
};

int ws_bench_lines_writer(void *mem, uint64_t lines, uint64_t n, uint64_t gap_ticks, uint64_t *elapsed_ticks)
{
	struct ws_line *l = mem;
	uint64_t mask = lines - 1, t0 = ws_tsc(), next = t0;
	for (uint64_t s = 1; s <= n; s++) {
		if (gap_ticks)
			ws_bench_pace(&next, gap_ticks);
		struct ws_line *x = &l[s & mask];
		for (int i = 0; i < 7; i++)
			x->data[i] = s;
		atomic_store_explicit(&x->seq, s, memory_order_release);
	}
	*elapsed_ticks = ws_tsc() - t0;
	return 0;
}

int ws_bench_lines_reader(const void *mem, uint64_t lines, uint64_t n, uint64_t timeout_ticks, uint64_t *got,
                          uint64_t *lost, uint64_t *elapsed_ticks)
{
	struct ws_line *l = (struct ws_line *)mem;
	uint64_t mask = lines - 1, s = 1, k = 0, miss = 0, first = 0, last = 0, quiet_since = ws_tsc(), sum = 0;
	while (s <= n) {
		struct ws_line *x = &l[s & mask];
		uint64_t v = atomic_load_explicit(&x->seq, memory_order_acquire);
		if (v < s) {
			uint64_t now = ws_tsc();
			if (now - quiet_since > timeout_ticks)
				break;
			ws_relax();
			continue;
		}
		if (v > s) { /* lapped: the line holds a later record; s .. v-1 are gone from here */
			miss += v - s;
			s = v;
			continue;
		}
		for (int i = 0; i < 7; i++)
			sum += x->data[i]; /* the payload is read, as a consumer would */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&x->seq, memory_order_relaxed) != s) {
			miss++; /* overwritten while read */
		} else {
			k++;
			if ((k & 63) == 1) {
				uint64_t now = ws_tsc();
				if (!first)
					first = now;
				quiet_since = now;
			}
		}
		s++;
	}
	last = ws_tsc();
	*got = k;
	*lost = miss + (n >= s ? n - s + 1 : 0);
	*elapsed_ticks = first ? last - first : 0;
	ws_bench_sink = sum; /* the payload reads are kept */
	return 0;
}

int ws_bench_ring_writer(const char *path, uint64_t n, uint32_t rec_sz, uint64_t gap_ticks,
                         uint64_t *elapsed_ticks)
{
	ws_ring_writer_t w;
	int rc = ws_ring_writer_join(&w, path, NULL);
	if (rc)
		return rc;
	uint8_t rec[WS_RING_MAX_PAYLOAD];
	memset(rec, 0xab, sizeof(rec));
	uint64_t t0 = ws_tsc(), next = t0, ts = t0;
	for (uint64_t i = 0; i < n; i++) {
		if (gap_ticks) {
			ws_bench_pace(&next, gap_ticks);
			ts = ws_tsc();
		} else if (!(i & 63)) {
			ts = ws_tsc();
		}
		memcpy(rec, &i, sizeof(i)); /* each record distinct */
		ws_ring_publish(&w, rec, rec_sz, ts, 0, 0);
	}
	*elapsed_ticks = ws_tsc() - t0;
	ws_ring_writer_leave(&w);
	return 0;
}

int ws_bench_ring_reader(const char *path, uint64_t last_seq, uint64_t timeout_ticks, uint64_t *lat,
                         uint64_t lat_cap, uint64_t *lat_n, uint64_t *rejected, uint64_t *got, uint64_t *lost,
                         uint64_t *elapsed_ticks)
{
	ws_ring_reader_t r;
	int rc = ws_ring_reader_join(&r, path, WS_RING_START_LATEST, 0, NULL);
	if (rc)
		return rc;
	static uint8_t buf[WS_RING_MAX_PAYLOAD];
	ws_ring_rec_t rec;
	uint64_t n = 0, m = 0, bad = 0, first = 0, last = 0, quiet_since = ws_tsc();
	if (!lat) { /* throughput: batches, as a consumer keeping up reads, one clock read per batch */
		static uint8_t bbuf[WS_BENCH_BATCH * 64 + WS_RING_MAX_PAYLOAD];
		static ws_ring_rec_t recs[WS_BENCH_BATCH];
		for (;;) {
			rc = ws_ring_read_batch(&r, recs, WS_BENCH_BATCH, bbuf, sizeof(bbuf));
			if (rc < 0)
				break;
			uint64_t now = ws_tsc();
			if (rc == 0) {
				if (now - quiet_since > timeout_ticks)
					break;
				ws_relax();
				continue;
			}
			quiet_since = now;
			if (!n)
				first = now;
			last = now;
			n += (uint64_t)rc;
			if (recs[rc - 1].seq >= last_seq)
				break;
		}
		*got = n;
		*lat_n = 0;
		*rejected = 0;
		*lost = r.lost_cnt;
		*elapsed_ticks = last - first;
		ws_ring_reader_leave(&r);
		return rc < 0 ? rc : 0;
	}
	for (;;) {
		rc = ws_ring_read(&r, &rec, buf, sizeof(buf));
		if (rc < 0)
			break;
		if (rc == 0) {
			uint64_t now = ws_tsc();
			if (now - quiet_since > timeout_ticks)
				break;
			ws_relax();
			continue;
		}
		uint64_t now = ws_tsc_ordered();
		quiet_since = now;
		if (lat && n < lat_cap) {
			if (now >= rec.ts_ns)
				lat[m++] = now - rec.ts_ns;
			else
				bad++; /* not a latency: an unsigned difference would wrap to ~1.8e19 */
		}
		if (!n)
			first = now;
		last = now;
		n++;
		if (rec.seq >= last_seq)
			break;
	}
	*got = n;
	*lat_n = m;
	*rejected = bad;
	*lost = r.lost_cnt;
	*elapsed_ticks = last - first;
	ws_ring_reader_leave(&r);
	return rc < 0 ? rc : 0;
}
