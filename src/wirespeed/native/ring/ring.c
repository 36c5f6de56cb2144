/* ring/ring.c - see ring.h for the contract and the protocol. */
#include "ring/ring.h"
#include "system/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

const char *const ws_ring_drop_names[WS_RING_DROP_CNT] = {
	"too_big", "sock_overflow", "xsk_rx_dropped", "xsk_rx_ring_full", "xsk_fill_ring_empty",
	"malformed", "filtered", "dpdk_imissed", "dpdk_rx_nombuf", "dpdk_ierrors", "reserved10",
	"reserved11", "reserved12", "reserved13", "reserved14", "reserved15",
};

const char *ws_ring_strerror(int err)
{
	switch (err) {
	case WS_RING_OK: return "ok";
	case WS_RING_ESYS: return "system call failed";
	case WS_RING_EMAGIC: return "not a wirespeed ring (bad magic number)";
	case WS_RING_EVERSION: return "ring made by an incompatible wirespeed version";
	case WS_RING_ELAYOUT: return "ring header is corrupt (impossible layout or checksum mismatch)";
	case WS_RING_ESHORT: return "ring file is shorter than its header says (truncated)";
	case WS_RING_EBUSY: return "another writer holds this ring";
	case WS_RING_EINVAL: return "invalid ring geometry or argument";
	case WS_RING_ECORRUPT: return "a published record points outside the payload region: ring corrupt";
	default: return "unknown ring error";
	}
}

uint64_t ws_ring_now_ns(void) { return ws_epoch_ns(); }

static int ws_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static uint64_t ws_pow2_ceil(uint64_t x)
{
	uint64_t p = 1;
	while (p < x && p)
		p <<= 1;
	return p;
}

static uint64_t ws_align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static uint64_t ws_layout_sum(const ws_ring_ctrl_t *c)
{
	const uint8_t *p = (const uint8_t *)&c->version;
	const uint8_t *end = (const uint8_t *)&c->layout_sum;
	uint64_t h = 0xcbf29ce484222325ull;
	for (; p < end; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

static int ws_sys(ws_ring_syserr_t *se, const char *call, const char *path)
{
	if (se) {
		se->errno_ = errno;
		snprintf(se->sys_call, sizeof(se->sys_call), "%s(%s)", call, path);
	}
	return WS_RING_ESYS;
}

int ws_ring_check_layout(const ws_ring_ctrl_t *c, uint64_t real_file_sz)
{
	if (real_file_sz < WS_RING_CTRL_SZ)
		return WS_RING_ESHORT;
	if (atomic_load_explicit(&c->magic, memory_order_acquire) != WS_RING_MAGIC)
		return WS_RING_EMAGIC;
	if (c->version != WS_RING_VERSION)
		return WS_RING_EVERSION;
	if (c->layout_sum != ws_layout_sum(c))
		return WS_RING_ELAYOUT;
	uint64_t index_end = WS_RING_CTRL_SZ + c->entry_cnt * WS_RING_ENTRY_SZ;
	if (c->ctrl_sz != WS_RING_CTRL_SZ || !ws_is_pow2(c->entry_cnt) || c->entry_cnt < 2 ||
	    c->entry_cnt > (1ull << 40) || !ws_is_pow2(c->payload_sz) ||
	    c->payload_sz < WS_RING_MIN_PAYLOAD_SZ || c->payload_sz > (1ull << 46) ||
	    c->max_payload != WS_RING_MAX_PAYLOAD || c->payload_off < index_end ||
	    c->payload_off % WS_RING_ALIGN || c->payload_off + c->payload_sz > c->file_sz ||
	    !ws_is_pow2(c->page_sz) || c->file_sz % c->page_sz)
		return WS_RING_ELAYOUT;
	if (real_file_sz < c->file_sz)
		return WS_RING_ESHORT;
	uint64_t head = atomic_load_explicit(&c->head_pos, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&c->tail_pos, memory_order_relaxed);
	uint32_t state = atomic_load_explicit(&c->state, memory_order_relaxed);
	/* tail may lead the published head by up to one step while the writer
	 * is between its two stores; more than that is corruption. */
	if (tail > head + c->payload_sz / WS_RING_TAIL_STEPS || (head > tail && head - tail > c->payload_sz) ||
	    state > WS_RING_STATE_CLOSED ||
	    atomic_load_explicit(&c->head_seq, memory_order_relaxed) == 0)
		return WS_RING_ELAYOUT;
	return WS_RING_OK;
}

int ws_ring_create(const char *path, const ws_ring_geom_t *geom, ws_ring_syserr_t *se)
{
	uint64_t payload_sz = ws_pow2_ceil(geom->payload_sz < WS_RING_MIN_PAYLOAD_SZ
	                                       ? WS_RING_MIN_PAYLOAD_SZ : geom->payload_sz);
	uint64_t entry_cnt = geom->entry_cnt ? geom->entry_cnt : payload_sz / 256;
	if (!payload_sz || payload_sz > (1ull << 46) || !ws_is_pow2(entry_cnt) || entry_cnt < 2 ||
	    entry_cnt > (1ull << 40))
		return WS_RING_EINVAL;

	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, geom->mode ? geom->mode : 0640);
	if (fd < 0)
		return ws_sys(se, "open", path);
	int rc = WS_RING_OK;
	void *map = MAP_FAILED;
	uint64_t file_sz = 0;
	uint32_t page_sz = 4096;

	/* The mode asked for, not the umask's: readers in the group must get in. */
	if (fchmod(fd, geom->mode ? geom->mode : 0640)) {
		rc = ws_sys(se, "fchmod", path);
		goto fail;
	}
	struct statfs sfs;
	if (fstatfs(fd, &sfs)) {
		rc = ws_sys(se, "fstatfs", path);
		goto fail;
	}
	if (sfs.f_type == (typeof(sfs.f_type))HUGETLBFS_MAGIC)
		page_sz = (uint32_t)sfs.f_bsize;
	uint64_t payload_off = ws_align_up(WS_RING_CTRL_SZ + entry_cnt * WS_RING_ENTRY_SZ, 4096);
	file_sz = ws_align_up(payload_off + payload_sz, page_sz);
	if (ftruncate(fd, (off_t)file_sz)) {
		rc = ws_sys(se, "ftruncate", path);
		goto fail;
	}
	/* Reserve every page now: an exhausted pool must fail here with a clear
	 * error, not later as SIGBUS in the writer's hot path. */
	int fa = posix_fallocate(fd, 0, (off_t)file_sz);
	if (fa) {
		errno = fa;
		rc = ws_sys(se, "fallocate", path);
		goto fail;
	}
	/* One backing page, not 4 KiB: on hugetlbfs munmap needs a length
	 * aligned to the huge page, and a shorter one fails (EINVAL) and leaks. */
	map = mmap(NULL, page_sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = ws_sys(se, "mmap", path);
		goto fail;
	}
	ws_ring_ctrl_t *c = map;
	memset(c, 0, WS_RING_CTRL_SZ);
	c->version = WS_RING_VERSION;
	c->ctrl_sz = WS_RING_CTRL_SZ;
	c->file_sz = file_sz;
	c->entry_cnt = entry_cnt;
	c->payload_off = payload_off;
	c->payload_sz = payload_sz;
	c->page_sz = page_sz;
	c->max_payload = WS_RING_MAX_PAYLOAD;
	c->created_ns = ws_ring_now_ns();
	c->layout_sum = ws_layout_sum(c);
	atomic_store_explicit(&c->head_seq, 1, memory_order_relaxed); /* seqs start at 1 */
	atomic_store_explicit(&c->state, WS_RING_STATE_CREATED, memory_order_relaxed);
	/* Magic last: a reader that sees it sees a complete layout. */
	atomic_store_explicit(&c->magic, WS_RING_MAGIC, memory_order_release);
	if (msync(map, WS_RING_CTRL_SZ, MS_SYNC)) {
		rc = ws_sys(se, "msync", path);
		goto fail;
	}
	if (munmap(map, page_sz)) {
		map = MAP_FAILED;
		rc = ws_sys(se, "munmap", path);
		goto fail;
	}
	close(fd);
	return WS_RING_OK;
fail:
	if (map != MAP_FAILED)
		munmap(map, page_sz);
	close(fd);
	unlink(path);
	return rc;
}

/* ws_map validates and maps a ring file; shared by writer and reader join. */
static int ws_map(const char *path, int writable, int *fd_out, void **map_out, uint64_t *map_sz,
                  ws_ring_syserr_t *se)
{
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return ws_sys(se, "open", path);
	int rc;
	struct stat st;
	if (fstat(fd, &st)) {
		rc = ws_sys(se, "fstat", path);
		goto fail;
	}
	if ((uint64_t)st.st_size < WS_RING_CTRL_SZ) {
		/* Too short for a control page. The magic says which: a ring cut
		 * short, or some other file (a text file named by mistake). */
		uint64_t magic;
		rc = pread(fd, &magic, sizeof(magic), offsetof(ws_ring_ctrl_t, magic)) == (ssize_t)sizeof(magic) &&
		             magic != WS_RING_MAGIC ? WS_RING_EMAGIC : WS_RING_ESHORT;
		goto fail;
	}
	/* Read the control page on its own first: a corrupt file_sz must never
	 * decide how much we map. */
	ws_ring_ctrl_t hdr;
	if (pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		rc = ws_sys(se, "pread", path);
		goto fail;
	}
	rc = ws_ring_check_layout(&hdr, (uint64_t)st.st_size);
	if (rc)
		goto fail;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	/* The writer pre-faults everything so publishing never page-faults. */
	int flags = MAP_SHARED | (writable ? MAP_POPULATE : 0);
	void *map = mmap(NULL, hdr.file_sz, prot, flags, fd, 0);
	if (map == MAP_FAILED) {
		rc = ws_sys(se, "mmap", path);
		goto fail;
	}
	*fd_out = fd;
	*map_out = map;
	*map_sz = hdr.file_sz;
	return WS_RING_OK;
fail:
	close(fd);
	return rc;
}

/* -- writer ----------------------------------------------------------------- */

int ws_ring_writer_join(ws_ring_writer_t *w, const char *path, ws_ring_syserr_t *se)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ws_sys(se, "open", path);
	/* Take the writer lock before looking further. A reader probing the lock
	 * holds LOCK_SH for a moment, so retry briefly before saying busy. */
	int locked = 0;
	for (int i = 0; i < 40 && !locked; i++) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			locked = 1;
		else if (errno == EWOULDBLOCK)
			usleep(5000);
		else
			break;
	}
	if (!locked) {
		int rc = errno == EWOULDBLOCK ? WS_RING_EBUSY : ws_sys(se, "flock", path);
		close(fd);
		return rc;
	}
	void *map;
	int mfd;
	int rc = ws_map(path, 1, &mfd, &map, &w->map_sz, se);
	if (rc) {
		close(fd);
		return rc;
	}
	close(mfd); /* the mapping keeps the file; fd keeps the lock */
	w->fd = fd;
	ws_ring_ctrl_t *c = map;
	w->ctrl = c;
	w->index = (ws_ring_entry_t *)((uint8_t *)map + WS_RING_CTRL_SZ);
	w->payload = (uint8_t *)map + c->payload_off;
	w->entry_mask = c->entry_cnt - 1;
	w->payload_sz = c->payload_sz;
	w->payload_mask = c->payload_sz - 1;
	w->max_payload = c->max_payload;
	/* Continue where the last writer stopped: a slot it left half-written
	 * (seq = s-1) is simply written again. */
	w->next_seq = atomic_load_explicit(&c->head_seq, memory_order_relaxed);
	w->next_pos = atomic_load_explicit(&c->head_pos, memory_order_relaxed);
	w->tail_pos = atomic_load_explicit(&c->tail_pos, memory_order_relaxed);
	w->tail_step = c->payload_sz / WS_RING_TAIL_STEPS;
	w->tail_limit = w->tail_pos + c->payload_sz;
	uint64_t now = ws_ring_now_ns();
	atomic_store_explicit(&c->writer_pid, (int32_t)getpid(), memory_order_relaxed);
	atomic_store_explicit(&c->writer_start_ns, now, memory_order_relaxed);
	atomic_store_explicit(&c->heartbeat_ns, now, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->epoch, 1, memory_order_release);
	atomic_store_explicit(&c->state, WS_RING_STATE_OPEN, memory_order_release);
	return WS_RING_OK;
}

int ws_ring_publish(ws_ring_writer_t *w, const void *data, uint32_t len, uint64_t ts_ns,
                    uint16_t stream, uint16_t flags)
{
	if (__builtin_expect(len > w->max_payload, 0)) {
		ws_ring_count_drop(w, WS_DROP_TOO_BIG, 1);
		return 0;
	}
	ws_ring_ctrl_t *c = w->ctrl;
	uint64_t seq = w->next_seq;
	uint64_t len_al = ((uint64_t)len + WS_RING_ALIGN - 1) & ~(uint64_t)(WS_RING_ALIGN - 1);
	uint64_t pos = w->next_pos;
	uint64_t off = pos & w->payload_mask;
	if (off + len_al > w->payload_sz)
		pos += w->payload_sz - off; /* never straddle the end: skip to the next lap */
	uint64_t end = pos + len_al;
	ws_ring_entry_t *e = &w->index[seq & w->entry_mask];

	/* 1. invalidate what we are about to overwrite (a step at a time) */
	if (end > w->tail_limit) {
		w->tail_pos = ws_align_up(end - w->payload_sz, w->tail_step);
		w->tail_limit = w->tail_pos + w->payload_sz;
		atomic_store_explicit(&c->tail_pos, w->tail_pos, memory_order_relaxed);
	}
	atomic_store_explicit(&e->seq, seq - 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	/* 2. body */
	memcpy(w->payload + (pos & w->payload_mask), data, len);
	e->ts_ns = ts_ns;
	e->pos = pos;
	e->len = len;
	e->stream = stream;
	e->flags = flags;
	/* 3. publish the record, 4. then the progress */
	atomic_store_explicit(&e->seq, seq, memory_order_release);
	w->next_seq = seq + 1;
	w->next_pos = end;
	atomic_store_explicit(&c->head_pos, end, memory_order_relaxed);
	atomic_store_explicit(&c->heartbeat_ns, ts_ns, memory_order_relaxed);
	atomic_store_explicit(&c->bytes_total,
	                      atomic_load_explicit(&c->bytes_total, memory_order_relaxed) + len,
	                      memory_order_relaxed);
	atomic_store_explicit(&c->head_seq, seq + 1, memory_order_release);
	return 1;
}

int ws_ring_set_meta(ws_ring_writer_t *w, const void *data, uint32_t len)
{
	if (len > WS_RING_META_MAX)
		return WS_RING_EINVAL;
	ws_ring_ctrl_t *c = w->ctrl;
	atomic_store_explicit(&c->meta_len, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy((uint8_t *)c + WS_RING_META_OFF, data, len);
	atomic_store_explicit(&c->meta_len, len, memory_order_release);
	return WS_RING_OK;
}

uint32_t ws_ring_get_meta(const ws_ring_ctrl_t *c, void *buf)
{
	uint32_t len = atomic_load_explicit(&c->meta_len, memory_order_acquire);
	if (len > WS_RING_META_MAX)
		return 0; /* corrupt: never copy past the control page */
	memcpy(buf, (const uint8_t *)c + WS_RING_META_OFF, len);
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&c->meta_len, memory_order_relaxed) == len ? len : 0;
}

void ws_ring_writer_leave(ws_ring_writer_t *w)
{
	if (w->ctrl) {
		atomic_store_explicit(&w->ctrl->state, WS_RING_STATE_CLOSED, memory_order_release);
		munmap(w->ctrl, w->map_sz);
		w->ctrl = NULL;
	}
	if (w->fd >= 0) {
		close(w->fd); /* releases the writer lock */
		w->fd = -1;
	}
}

/* -- reader ----------------------------------------------------------------- */

/* Is record seq, as read from slot e, intact right now? */
static inline int ws_slot_valid(const ws_ring_reader_t *r, const ws_ring_entry_t *e, uint64_t seq,
                                uint64_t pos)
{
	return atomic_load_explicit(&e->seq, memory_order_relaxed) == seq &&
	       pos >= atomic_load_explicit(&r->ctrl->tail_pos, memory_order_relaxed);
}

/* ws_oldest_valid finds the oldest seq whose slot and payload are intact:
 * binary search, since a record's payload position grows with its seq. */
static uint64_t ws_oldest_valid(const ws_ring_reader_t *r)
{
	uint64_t head = ws_ring_head(r);
	/* The slot of head - entry_cnt is the one being written now: skip it. */
	uint64_t lo = head > r->entry_cnt ? head - r->entry_cnt + 1 : 1;
	uint64_t hi = head;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const ws_ring_entry_t *e = &r->index[mid & r->entry_mask];
		uint64_t s = atomic_load_explicit(&e->seq, memory_order_acquire);
		uint64_t pos = e->pos;
		atomic_thread_fence(memory_order_acquire);
		if (s == mid && ws_slot_valid(r, e, mid, pos))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void ws_skip_to(ws_ring_reader_t *r, uint64_t seq)
{
	if (seq > r->next_seq) {
		r->lost_cnt += seq - r->next_seq;
		r->next_seq = seq;
	}
}

int ws_ring_reader_join(ws_ring_reader_t *r, const char *path, int start, uint64_t seq,
                        ws_ring_syserr_t *se)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	void *map;
	int rc = ws_map(path, 0, &r->fd, &map, &r->map_sz, se);
	if (rc)
		return rc;
	const ws_ring_ctrl_t *c = map;
	r->ctrl = c;
	r->index = (const ws_ring_entry_t *)((const uint8_t *)map + WS_RING_CTRL_SZ);
	r->payload = (const uint8_t *)map + c->payload_off;
	r->entry_cnt = c->entry_cnt;
	r->entry_mask = c->entry_cnt - 1;
	r->payload_mask = c->payload_sz - 1;
	r->max_payload = c->max_payload;
	r->epoch_seen = atomic_load_explicit(&c->epoch, memory_order_acquire);
	switch (start) {
	case WS_RING_START_LATEST:
		r->next_seq = ws_ring_head(r);
		break;
	case WS_RING_START_OLDEST:
		r->next_seq = ws_oldest_valid(r);
		break;
	case WS_RING_START_SEQ: {
		if (!seq) {
			ws_ring_reader_leave(r);
			return WS_RING_EINVAL;
		}
		r->next_seq = seq;
		uint64_t oldest = ws_oldest_valid(r);
		if (seq < oldest)
			ws_skip_to(r, oldest); /* asked for records already gone: counted */
		break;
	}
	default:
		ws_ring_reader_leave(r);
		return WS_RING_EINVAL;
	}
	return WS_RING_OK;
}

/* ws_read_one: 1 = record (header in *rec; payload copied to dst unless dst
 * is NULL), 0 = nothing yet, WS_RING_ECORRUPT. Loops over lost records. */
static inline int ws_read_one(ws_ring_reader_t *r, ws_ring_rec_t *rec, uint8_t *dst)
{
	for (;;) {
		uint64_t want = r->next_seq;
		const ws_ring_entry_t *e = &r->index[want & r->entry_mask];
		uint64_t seq0 = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (seq0 < want)
			return 0;
		if (seq0 > want) {
			uint64_t oldest = ws_oldest_valid(r);
			r->overrun_cnt++;
			ws_skip_to(r, oldest > want ? oldest : want + 1);
			continue;
		}
		rec->seq = want;
		rec->ts_ns = e->ts_ns;
		rec->pos = e->pos;
		rec->len = e->len;
		rec->stream = e->stream;
		rec->flags = e->flags;
		uint64_t off = rec->pos & r->payload_mask;
		int in_bounds = rec->len <= r->max_payload && off + rec->len <= r->payload_mask + 1;
		if (dst && in_bounds)
			memcpy(dst, r->payload + off, rec->len);
		atomic_thread_fence(memory_order_acquire);
		if (!ws_slot_valid(r, e, want, rec->pos)) {
			/* overwritten while we copied: lost, never returned */
			r->lost_cnt++;
			r->next_seq = want + 1;
			continue;
		}
		if (!in_bounds)
			return WS_RING_ECORRUPT; /* an intact record that points nowhere */
		r->next_seq = want + 1;
		return 1;
	}
}

int ws_ring_read(ws_ring_reader_t *r, ws_ring_rec_t *rec, uint8_t *buf, uint64_t buf_sz)
{
	if (buf_sz < r->max_payload)
		return WS_RING_EINVAL;
	return ws_read_one(r, rec, buf);
}

int ws_ring_read_batch(ws_ring_reader_t *r, ws_ring_rec_t *recs, uint32_t max, uint8_t *buf,
                       uint64_t buf_sz)
{
	uint32_t n = 0;
	uint64_t used = 0;
	while (n < max && buf_sz - used >= r->max_payload) {
		int rc = ws_read_one(r, &recs[n], buf + used);
		if (rc <= 0)
			return rc < 0 ? rc : (int)n;
		recs[n].pos = used;
		used += recs[n].len;
		n++;
	}
	return (int)n;
}

int ws_ring_peek_batch(ws_ring_reader_t *r, ws_ring_rec_t *recs, uint32_t max)
{
	uint32_t n = 0;
	while (n < max) {
		int rc = ws_read_one(r, &recs[n], NULL);
		if (rc <= 0)
			return rc < 0 ? rc : (int)n;
		recs[n].pos = (uint64_t)(r->payload - (const uint8_t *)r->ctrl) + (recs[n].pos & r->payload_mask);
		n++;
	}
	return (int)n;
}

int ws_ring_still_valid(const ws_ring_reader_t *r, const ws_ring_rec_t *rec)
{
	/* The reader protocol again: seq, then the slot's stream position (rec->pos
	 * is a mapping offset here), then seq once more behind an acquire fence. */
	const ws_ring_entry_t *e = &r->index[rec->seq & r->entry_mask];
	if (atomic_load_explicit(&e->seq, memory_order_acquire) != rec->seq)
		return 0;
	uint64_t pos = e->pos;
	atomic_thread_fence(memory_order_acquire);
	return ws_slot_valid(r, e, rec->seq, pos);
}

int ws_ring_writer_state(ws_ring_reader_t *r, int *restarted)
{
	uint64_t epoch = atomic_load_explicit(&r->ctrl->epoch, memory_order_acquire);
	*restarted = epoch != r->epoch_seen;
	r->epoch_seen = epoch;
	if (flock(r->fd, LOCK_SH | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			return WS_WRITER_ALIVE;
		return WS_WRITER_ALIVE; /* cannot tell: assume alive, never report a false death */
	}
	flock(r->fd, LOCK_UN);
	switch (atomic_load_explicit(&r->ctrl->state, memory_order_acquire)) {
	case WS_RING_STATE_CLOSED: return WS_WRITER_CLOSED;
	case WS_RING_STATE_CREATED: return WS_WRITER_NEVER;
	default: return WS_WRITER_DEAD;
	}
}

void ws_ring_reader_leave(ws_ring_reader_t *r)
{
	if (r->ctrl) {
		munmap((void *)r->ctrl, r->map_sz);
		r->ctrl = NULL;
	}
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}
