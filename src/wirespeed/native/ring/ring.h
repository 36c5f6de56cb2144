/* ring/ring.h - the shared-memory broadcast ring: one writer, any number of
 * independent readers, nothing lost silently.
 *
 * What it is for: the capture engine appends every received packet here with
 * its nanosecond timestamp; recorders, feed handlers, Python analytics and
 * monitors are separate processes that map the same file read-only, start and
 * stop whenever they like, and never slow the writer down. A reader that falls
 * a full lap behind is told exactly how many records it lost.
 *
 * The file (on hugetlbfs or /dev/shm):
 *
 *   offset 0            ctrl_sz            payload_off                 file_sz
 *   ┌─────────────────┬──────────────────┬──────────────────────────┬──────┐
 *   │ control page    │ index            │ payload bytes            │ pad  │
 *   │ layout, writer, │ entry_cnt × 64 B │ payload_sz (power of 2), │ to a │
 *   │ counters        │ (power of 2)     │ records 64-byte aligned  │ page │
 *   └─────────────────┴──────────────────┴──────────────────────────┴──────┘
 *
 * Sequence numbers start at 1 (as MoldUDP64's do); a slot holding 0 is empty.
 * Record seq lives in index slot seq & (entry_cnt-1). Its payload starts at
 * byte `pos` of an endless virtual stream; the bytes are at payload_off +
 * (pos & (payload_sz-1)). A record never straddles the end of the payload
 * region: the writer skips to the next lap instead.
 *
 * Ownership: the writer process owns the file: it creates it (mode 0640 by
 * default) and is the only process that maps it writable. Readers map it
 * PROT_READ, so a reader can never corrupt the writer or another reader. Only
 * one writer at a time: the writer holds flock(LOCK_EX) on the file for its
 * whole life, which the kernel releases when the process dies; readers test
 * that lock (LOCK_SH|LOCK_NB, released at once) to tell "writer gone" from
 * "writer quiet".
 *
 * Threads: a ws_ring_writer publishes from one thread (counting drops and
 * the heartbeat may come from another of its process); a ws_ring_reader is
 * used by one thread. Different readers need no coordination with each other or the
 * writer. Nothing here takes a lock or makes a syscall after join, except
 * ws_ring_writer_state (flock probe) which readers call only when idle.
 *
 * THE PROTOCOL (seqlock per slot, Boehm 2012; Firedancer's mcache does the same)
 *
 *   writer, publishing record s with payload at [pos, pos+len):
 *     1. if pos + len_aligned - payload_sz > tail_pos:
 *          tail_pos = that, rounded up to a step of payload_sz/64  relaxed
 *        slot.seq = s - 1                                          relaxed
 *        atomic_thread_fence(release)   -- invalidations visible before
 *                                          any byte they protect changes
 *     2. copy the payload; write slot.ts_ns, pos, len, stream, flags
 *     3. slot.seq = s                   release  -- record is published
 *     4. head_seq = s + 1, head_pos     release  -- for attach, info and wait
 *   tail_pos moves in steps, not per record, because every reader reads it
 *   for every record: a per-record store would bounce its cache line between
 *   cores (measured: 18 M rec/s instead of the writer's 100 M). The price: a
 *   reader within 1/64 of a lap of being overrun loses those records a
 *   little early - counted like any other loss.
 *   slot.seq = s - 1 reads as "not yet" to a reader waiting for s and as
 *   "overrun" to a reader still wanting s - entry_cnt: both correct.
 *
 *   reader, wanting record s:
 *     a. seq0 = slot.seq (acquire). seq0 < s: not published yet (return 0).
 *        seq0 > s: lapped; record s is gone. Resume at the oldest record
 *        still valid (found by binary search: pos grows with seq), and
 *        lost += resume - s.
 *     b. copy ts, pos, len, stream, flags, bounds-check pos/len (a torn
 *        read may see garbage; garbage is never used to address memory),
 *        copy the payload.
 *     c. atomic_thread_fence(acquire); seq1 = slot.seq; tail = tail_pos.
 *        seq1 != s or pos < tail: the writer overwrote the record while we
 *        copied it. Count it lost (exactly 1) and move on. Never returned.
 *
 *   A minimal C reader:
 *
 *     ws_ring_reader_t r;
 *     int err = ws_ring_reader_join(&r, "/dev/shm/feed", WS_RING_START_LATEST, 0);
 *     if (err) { fprintf(stderr, "%s\n", ws_ring_strerror(err)); return 1; }
 *     ws_ring_rec_t rec; uint8_t buf[WS_RING_MAX_PAYLOAD];
 *     for (;;) {
 *       int n = ws_ring_read(&r, &rec, buf, sizeof buf);
 *       if (n < 0) break;                  // corrupt ring: stop, say so
 *       if (n == 0) { idle(); continue; }  // nothing new; check writer state now and then
 *       handle(&rec, buf);                 // rec.seq, rec.ts_ns, rec.len, ...
 *     }
 *     // r.lost_cnt: records skipped (lapped or overwritten while copied), exactly
 *     ws_ring_reader_leave(&r);
 *
 * Memory-model note: payload bytes are copied with plain memcpy while the
 * writer may be changing them; the fences above order them against the
 * atomic seq and tail_pos, as in the Linux kernel's seqlock. Correct on x86-64
 * (TSO) and with the fences on arm64.
 *
 * Counters (control page, written by the writer only): head_seq = records
 * published; bytes_total; drop counters by cause (ws_ring_drop_names).
 * Invariant: every record offered to the writer is either published or
 * counted in exactly one drop cause.
 */
#ifndef WS_RING_H
#define WS_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WS_RING_MAGIC 0x31474e4952535721ULL /* "!WSRING1" little-endian */
#define WS_RING_VERSION 2u /* 2: one index slot per cache line */
#define WS_RING_CTRL_SZ 4096u
#define WS_RING_ENTRY_SZ 64u
#define WS_RING_ALIGN 64u /* payload records start on a cache line */
#define WS_RING_MAX_PAYLOAD 9216u /* a jumbo frame */
#define WS_RING_MIN_PAYLOAD_SZ (WS_RING_MAX_PAYLOAD * 8u) /* rounded up to 128 KiB */
#define WS_RING_DROP_CNT 16
#define WS_RING_TAIL_STEPS 64u /* tail_pos advances by payload_sz/64 at a time */

/* ws_relax: the spin-wait hint for a reader polling an empty ring (lets
 * the sibling hyperthread run, saves power; no syscall). */
static inline void ws_relax(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("pause");
#endif
}

/* Drop causes: indices into ctrl.drops. Names in ws_ring_drop_names. */
enum ws_ring_drop {
	WS_DROP_TOO_BIG = 0,         /* record longer than WS_RING_MAX_PAYLOAD */
	WS_DROP_SOCK_OVERFLOW = 1,   /* kernel socket receive queue overflowed (SO_RXQ_OVFL) */
	WS_DROP_XSK_RX_DROPPED = 2,  /* XDP_STATISTICS rx_dropped */
	WS_DROP_XSK_RX_RING_FULL = 3,
	WS_DROP_XSK_FILL_EMPTY = 4,  /* fill ring empty: no UMEM frame for the NIC */
	WS_DROP_MALFORMED = 5,       /* packet failed header checks and was not kept */
	WS_DROP_FILTERED = 6,        /* not a feed of this capture, on a port it owns whole (dpdk: ARP, other UDP) */
	WS_DROP_DPDK_IMISSED = 7,    /* the port had no descriptor for it (rte_eth_stats imissed) */
	WS_DROP_DPDK_RX_NOMBUF = 8,  /* no mbuf to receive into (rx_nombuf) */
	WS_DROP_DPDK_IERRORS = 9,    /* the port received it in error (ierrors: bad FCS, runts) */
};
extern const char *const ws_ring_drop_names[WS_RING_DROP_CNT];

/* Writer state as stored in the control page. */
enum ws_ring_state {
	WS_RING_STATE_CREATED = 0, /* laid out, no writer has joined yet */
	WS_RING_STATE_OPEN = 1,    /* a writer joined and has not left */
	WS_RING_STATE_CLOSED = 2,  /* the last writer left cleanly */
};

/* What a reader concludes about the writer (ws_ring_writer_state). */
enum ws_ring_liveness {
	WS_WRITER_ALIVE = 0,     /* holds the writer lock */
	WS_WRITER_CLOSED = 1,    /* left cleanly; the records stay readable */
	WS_WRITER_DEAD = 2,      /* state OPEN but nobody holds the lock: crashed or killed */
	WS_WRITER_NEVER = 3,     /* ring created, no writer yet */
};

/* One index slot. seq is the seqlock; everything else is covered by it.
 * A slot fills a cache line of its own although it needs 32 bytes: with two
 * slots to a line, a reader following closely pulls the line away between
 * the writer's two records and the writer takes it back for the second, a
 * transfer per record on top of the payload's. Measured on a host with
 * ~180 ns cross-core transfers: 24 M rec/s loss-free with 32-byte slots,
 * 30-32 M with 64 (`wirespeed bench ring`). The index costs entry_cnt x 64
 * bytes, a quarter of the payload at the default entry count. */
typedef struct {
	_Atomic uint64_t seq __attribute__((aligned(64)));
	uint64_t ts_ns;   /* rx timestamp, CLOCK_REALTIME ns */
	uint64_t pos;     /* payload position in the virtual byte stream */
	uint32_t len;     /* payload bytes */
	uint16_t stream;  /* stream (feed) id */
	uint16_t flags;
} ws_ring_entry_t;
_Static_assert(sizeof(ws_ring_entry_t) == WS_RING_ENTRY_SZ, "the file layout counts index slots in WS_RING_ENTRY_SZ");

/* The control page. Line 0 is immutable after create and checksummed;
 * the others are written by the writer only, each on its own cache line. */
typedef struct {
	/* line 0: layout */
	_Atomic uint64_t magic;  /* written last by create, with release */
	uint32_t version;
	uint32_t ctrl_sz;
	uint64_t file_sz;
	uint64_t entry_cnt;
	uint64_t payload_off;
	uint64_t payload_sz;
	uint32_t page_sz;        /* backing page size: 4096, 2 MiB or 1 GiB */
	uint32_t max_payload;
	uint64_t created_ns;
	uint64_t layout_sum;     /* FNV-1a of the fields above except magic */
	/* line 1: writer identity */
	_Atomic uint64_t epoch __attribute__((aligned(64))); /* +1 on every writer join */
	_Atomic uint32_t state;  /* enum ws_ring_state */
	_Atomic int32_t writer_pid;
	_Atomic uint64_t writer_start_ns;
	/* line 2: writer progress (hot: written per record) */
	_Atomic uint64_t head_seq __attribute__((aligned(64))); /* next seq = records published */
	_Atomic uint64_t head_pos;  /* next payload position */
	_Atomic uint64_t heartbeat_ns; /* CLOCK_REALTIME of the last publish or heartbeat */
	_Atomic uint64_t bytes_total;
	/* line 3: read by every reader on every record, so written rarely: the
	 * writer moves it in steps of payload_sz / WS_RING_TAIL_STEPS, not per
	 * record, and it never shares a line with the per-record stores. */
	_Atomic uint64_t tail_pos __attribute__((aligned(64))); /* payload below this is overwritten */
	/* lines 4-5: drops by cause */
	_Atomic uint64_t drops[WS_RING_DROP_CNT] __attribute__((aligned(64)));
	/* bytes WS_RING_META_OFF..CTRL_SZ: what the records are (the capture's
	 * streams, as JSON), set by the writer before it publishes: meta_len is
	 * stored after the bytes, with release; 0 while being rewritten. */
	_Atomic uint32_t meta_len __attribute__((aligned(64)));
} ws_ring_ctrl_t;

#define WS_RING_META_OFF 1024u
#define WS_RING_META_MAX (WS_RING_CTRL_SZ - WS_RING_META_OFF)

/* Errors: negative return values. ws_ring_strerror says what each means. */
enum ws_ring_err {
	WS_RING_OK = 0,
	WS_RING_ESYS = -1,        /* a syscall failed: errno_ is set (see sys_call) */
	WS_RING_EMAGIC = -2,      /* not a wirespeed ring (bad magic) */
	WS_RING_EVERSION = -3,    /* made by another version of wirespeed */
	WS_RING_ELAYOUT = -4,     /* impossible layout or checksum mismatch: corrupt */
	WS_RING_ESHORT = -5,      /* file shorter than its header says: truncated */
	WS_RING_EBUSY = -6,       /* another writer holds the ring */
	WS_RING_EINVAL = -7,      /* bad argument (size, entries, seq) */
	WS_RING_ECORRUPT = -8,    /* a published record points outside the payload */
};
const char *ws_ring_strerror(int err);

/* Geometry chosen at create. */
typedef struct {
	uint64_t payload_sz; /* rounded up to a power of two, >= WS_RING_MIN_PAYLOAD_SZ */
	uint64_t entry_cnt;  /* power of two; 0 = payload_sz / 256 */
	uint32_t page_sz;    /* backing page size (4096 for /dev/shm) */
	uint32_t mode;       /* file mode, e.g. 0640 */
} ws_ring_geom_t;

/* A failed syscall, for messages: "open(/dev/shm/x): Permission denied". */
typedef struct {
	int errno_;
	char sys_call[96];
} ws_ring_syserr_t;

/* ws_ring_create lays out a new ring file at path (O_EXCL: an existing file
 * is never overwritten). Reserves its memory up front (fallocate on tmpfs;
 * hugetlbfs reserves at mmap), so a too-small pool fails here with ENOSPC or
 * ENOMEM instead of SIGBUS later. No writer joins. Returns 0 or an error; on
 * any error the half-made file is removed. */
int ws_ring_create(const char *path, const ws_ring_geom_t *geom, ws_ring_syserr_t *se);

/* -- writer ------------------------------------------------------------- */

typedef struct {
	ws_ring_ctrl_t *ctrl;
	ws_ring_entry_t *index;
	uint8_t *payload;
	uint64_t entry_mask, payload_mask, payload_sz, max_payload;
	uint64_t next_seq, next_pos, tail_pos; /* private copies of the shared values */
	uint64_t tail_step, tail_limit; /* a record ending beyond tail_limit moves the tail */
	uint64_t map_sz;
	int fd;
} ws_ring_writer_t;

/* ws_ring_writer_join maps an existing ring writable, takes the writer lock
 * (WS_RING_EBUSY if another process holds it), validates the layout, bumps the
 * epoch, records pid and start time, and continues the sequence where the
 * last writer stopped (readers see a restart, not a reset). Pre-faults the
 * whole mapping so the per-record path takes no page faults. */
int ws_ring_writer_join(ws_ring_writer_t *w, const char *path, ws_ring_syserr_t *se);

/* ws_ring_publish appends one record. Never waits, never fails for a slow
 * reader. Hot path: no syscall, no allocation, no argument checks beyond
 * the length (len > max_payload is counted as WS_DROP_TOO_BIG and returns
 * 0). Returns 1 if published. */
int ws_ring_publish(ws_ring_writer_t *w, const void *data, uint32_t len, uint64_t ts_ns,
                    uint16_t stream, uint16_t flags);

/* ws_ring_set_meta stores up to WS_RING_META_MAX bytes describing the
 * records (WS_RING_EINVAL if longer). Call before publishing. */
int ws_ring_set_meta(ws_ring_writer_t *w, const void *data, uint32_t len);

/* ws_ring_get_meta copies the description into buf (at least
 * WS_RING_META_MAX bytes); returns its length (0: none). */
uint32_t ws_ring_get_meta(const ws_ring_ctrl_t *c, void *buf);

/* ws_ring_count_drop adds n to drop counter `cause`. Any thread of the
 * writer's process: the receive loop counts what it drops while a control
 * thread counts what the kernel reports, so the add is atomic (relaxed:
 * readers only need each counter exact, not ordered with the records). */
static inline void ws_ring_count_drop(ws_ring_writer_t *w, unsigned cause, uint64_t n)
{
	atomic_fetch_add_explicit(&w->ctrl->drops[cause % WS_RING_DROP_CNT], n, memory_order_relaxed);
}

/* ws_ring_heartbeat tells readers the writer is alive while no record flows. */
static inline void ws_ring_heartbeat(ws_ring_writer_t *w, uint64_t now_ns)
{
	atomic_store_explicit(&w->ctrl->heartbeat_ns, now_ns, memory_order_relaxed);
}

/* ws_ring_writer_leave marks the ring CLOSED (readers see a clean end),
 * unmaps and releases the lock. Safe on a half-joined writer. */
void ws_ring_writer_leave(ws_ring_writer_t *w);

/* -- reader ------------------------------------------------------------- */

enum ws_ring_start {
	WS_RING_START_LATEST = 0, /* only records published from now on */
	WS_RING_START_OLDEST = 1, /* the oldest record still in the ring */
	WS_RING_START_SEQ = 2,    /* a given seq (clamped into the valid window, loss counted) */
};

typedef struct {
	uint64_t seq;
	uint64_t ts_ns;
	uint64_t pos;
	uint32_t len;
	uint16_t stream;
	uint16_t flags;
} ws_ring_rec_t;

typedef struct {
	const ws_ring_ctrl_t *ctrl;
	const ws_ring_entry_t *index;
	const uint8_t *payload;
	uint64_t entry_mask, payload_mask, entry_cnt, max_payload;
	uint64_t next_seq;  /* the seq this reader wants next */
	uint64_t lost_cnt;  /* records skipped: lapped, or overwritten while copied */
	uint64_t overrun_cnt; /* times it was lapped (each may lose many records) */
	uint64_t epoch_seen;  /* the writer epoch at join or last ws_ring_writer_state */
	uint64_t map_sz;
	int fd;
} ws_ring_reader_t;

/* ws_ring_reader_join maps the ring read-only (no privilege beyond read
 * permission on the file) and validates it: magic, version, layout checksum,
 * geometry, file size. Starts at `start` (seq used with WS_RING_START_SEQ). */
int ws_ring_reader_join(ws_ring_reader_t *r, const char *path, int start, uint64_t seq,
                        ws_ring_syserr_t *se);

/* ws_ring_read copies the next record's header to *rec and its payload to
 * buf (buf_sz must be >= max_payload). Returns 1 (a record), 0 (nothing new)
 * or WS_RING_ECORRUPT. Lost records are added to r->lost_cnt. Hot path: no
 * syscall, no allocation. */
int ws_ring_read(ws_ring_reader_t *r, ws_ring_rec_t *rec, uint8_t *buf, uint64_t buf_sz);

/* ws_ring_read_batch reads up to max records: headers to recs[], payloads
 * packed back to back into buf (rec.pos is rewritten to the offset in buf).
 * Stops early when buf cannot hold a max-size payload. Returns the count, or
 * WS_RING_ECORRUPT. */
int ws_ring_read_batch(ws_ring_reader_t *r, ws_ring_rec_t *recs, uint32_t max, uint8_t *buf,
                       uint64_t buf_sz);

/* ws_ring_peek_batch gives up to max headers without copying payloads:
 * rec.pos is the payload's offset in the mapping. The bytes stay valid only
 * until the writer laps them: call ws_ring_still_valid on each after use.
 * Records that fail the first check are counted lost and skipped. */
int ws_ring_peek_batch(ws_ring_reader_t *r, ws_ring_rec_t *recs, uint32_t max);

/* ws_ring_still_valid: 1 if the record is still intact in the ring (its
 * slot still holds rec->seq and its payload is above tail_pos). */
int ws_ring_still_valid(const ws_ring_reader_t *r, const ws_ring_rec_t *rec);

/* ws_ring_writer_state probes the writer lock (two syscalls: call it when
 * idle, not per record) and notes an epoch change in *restarted. */
int ws_ring_writer_state(ws_ring_reader_t *r, int *restarted);

/* ws_ring_head returns head_seq (acquire): the next seq to be published. */
static inline uint64_t ws_ring_head(const ws_ring_reader_t *r)
{
	return atomic_load_explicit(&r->ctrl->head_seq, memory_order_acquire);
}

void ws_ring_reader_leave(ws_ring_reader_t *r);

/* -- validation shared by both sides -------------------------------------- */

/* ws_ring_check_layout validates a control page against the real file size.
 * Returns 0 or WS_RING_EMAGIC/EVERSION/ELAYOUT/ESHORT. */
int ws_ring_check_layout(const ws_ring_ctrl_t *c, uint64_t real_file_sz);

/* ws_ring_now_ns: CLOCK_REALTIME in ns (vDSO, no syscall on x86-64). */
uint64_t ws_ring_now_ns(void);

#endif /* WS_RING_H */
