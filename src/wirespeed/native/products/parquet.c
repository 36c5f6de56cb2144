/* products/parquet.c - see parquet.h. The layout, encodings and footer
 * follow the Parquet format's specification (parquet.thrift, Encodings.md);
 * the footer and page headers are Thrift's compact protocol, written here by
 * hand: the writer needs a dozen structs of it, not a Thrift runtime. */
#include "products/parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#define OUT_FLUSH (8u << 20)   /* the file is written in pieces of about this size */
#define HYBRID_MAX_GROUPS 4096u /* a bit-packed run: at most this many groups of 8 (readers buffer a run) */

enum { CODEC_NONE = 0, CODEC_ZSTD = 6 };
enum { PAGE_DATA = 0, PAGE_DICT = 2 };
enum { ENC_RLE = 3 };
enum { CONV_UTF8 = 0, CONV_INT_8 = 15, CONV_INT_16 = 16 };

/* -- growable bytes ------------------------------------------------------------ */

typedef struct {
	uint8_t *p;
	size_t n, cap;
	int oom; /* a reserve failed: later puts are dropped, the caller checks once */
} pq_buf_t;

static int buf_reserve(pq_buf_t *b, size_t more)
{
	if (b->oom)
		return -ENOMEM;
	if (b->n + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->n + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_put(pq_buf_t *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == 0) {
		if (n)
			memcpy(b->p + b->n, p, n);
		b->n += n;
	}
}

static void buf_byte(pq_buf_t *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

static uint8_t *put_uvarint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

static void buf_uvarint(pq_buf_t *b, uint64_t v)
{
	uint8_t tmp[10];
	buf_put(b, tmp, (size_t)(put_uvarint(tmp, v) - tmp));
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void store32(uint8_t *o, uint32_t v)
{
	o[0] = (uint8_t)v;
	o[1] = (uint8_t)(v >> 8);
	o[2] = (uint8_t)(v >> 16);
	o[3] = (uint8_t)(v >> 24);
}

static void store64(uint8_t *o, uint64_t v)
{
	store32(o, (uint32_t)v);
	store32(o + 4, (uint32_t)(v >> 32));
}

/* -- Thrift compact protocol (what the footer and page headers need) ------------ */

enum { CT_TRUE = 1, CT_FALSE = 2, CT_BYTE = 3, CT_I16 = 4, CT_I32 = 5, CT_I64 = 6, CT_BINARY = 8, CT_LIST = 9,
       CT_STRUCT = 12 };

typedef struct {
	pq_buf_t *b;
	int16_t last[8]; /* the last field id written, per open struct */
	int depth;
} tw_t;

static void tw_field(tw_t *t, int16_t id, uint8_t type)
{
	int delta = id - t->last[t->depth];
	if (delta > 0 && delta <= 15) {
		buf_byte(t->b, (uint8_t)(delta << 4 | type));
	} else {
		buf_byte(t->b, type);
		buf_uvarint(t->b, zigzag(id));
	}
	t->last[t->depth] = id;
}

static void tw_i32(tw_t *t, int16_t id, int32_t v)
{
	tw_field(t, id, CT_I32);
	buf_uvarint(t->b, zigzag(v));
}

static void tw_i64(tw_t *t, int16_t id, int64_t v)
{
	tw_field(t, id, CT_I64);
	buf_uvarint(t->b, zigzag(v));
}

static void tw_i16(tw_t *t, int16_t id, int16_t v)
{
	tw_field(t, id, CT_I16);
	buf_uvarint(t->b, zigzag(v));
}

static void tw_byte(tw_t *t, int16_t id, int8_t v)
{
	tw_field(t, id, CT_BYTE);
	buf_byte(t->b, (uint8_t)v);
}

static void tw_bool(tw_t *t, int16_t id, int v)
{
	tw_field(t, id, v ? CT_TRUE : CT_FALSE);
}

static void tw_binary(tw_t *t, int16_t id, const void *p, size_t n)
{
	tw_field(t, id, CT_BINARY);
	buf_uvarint(t->b, n);
	buf_put(t->b, p, n);
}

static void tw_list(tw_t *t, int16_t id, uint8_t elem, uint32_t n)
{
	tw_field(t, id, CT_LIST);
	if (n < 15) {
		buf_byte(t->b, (uint8_t)(n << 4 | elem));
	} else {
		buf_byte(t->b, (uint8_t)(0xf0 | elem));
		buf_uvarint(t->b, n);
	}
}

/* a struct: as a field (id > 0) or as a list's element (id 0) */
static void tw_begin(tw_t *t, int16_t id)
{
	if (id)
		tw_field(t, id, CT_STRUCT);
	t->last[++t->depth] = 0;
}

static void tw_end(tw_t *t)
{
	buf_byte(t->b, 0);
	t->depth--;
}

/* -- the writer ---------------------------------------------------------------- */

typedef struct {
	uint64_t start, data_off, uncompressed, compressed, values, nulls;
	int64_t min, max;          /* int columns */
	size_t smin, smax;         /* string columns: offsets of the labels in strs (a u32 length, then bytes) */
	uint8_t encoding, has_dict, has_minmax;
} pq_chunk_t;

typedef struct {
	uint64_t rows, start, uncompressed, compressed;
	int sorted_by;
} pq_group_t;

typedef struct {
	int64_t key;
	uint32_t code1;            /* code + 1; 0: empty */
} pq_slot_t;

struct ws_pq_writer {
	int fd;
	uint64_t off;              /* bytes of the file so far, buffered ones too */
	pq_buf_t out;              /* what is not yet written to fd */
	ws_pq_column_t *cols;
	uint32_t ncols;
	int level;
	ZSTD_CCtx *zc;
	pq_buf_t page, zpage, hdr;
	int64_t *vals;             /* a chunk's valid values, widened */
	uint32_t *codes;           /* a chunk's dictionary codes */
	uint32_t *levels;          /* a page's definition levels */
	uint8_t *used;             /* string columns: which labels the chunk uses */
	size_t scratch, used_cap;
	int64_t *dvals;            /* an int dictionary's values */
	uint32_t *slots;           /* its table by value (a small span): code + 1, 0 empty */
	size_t slot_cap;
	pq_slot_t *hash;           /* its hash (a wide span) */
	size_t hash_cap;
	uint8_t *dict_failed;      /* a column whose dictionary overflowed: plain from then on */
	pq_chunk_t *chunks;        /* ngroups * ncols */
	pq_group_t *groups;
	uint32_t ngroups, gcap;
	pq_buf_t strs;             /* string statistics */
	uint64_t rows;
	char created_by[128];
	char err[256];
};

static int fail(ws_pq_writer_t *w, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ws_pq_writer_t *w, int rc, const char *fmt, ...)
{
	if (!w->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->err, sizeof(w->err), fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int out_flush(ws_pq_writer_t *w)
{
	int rc = write_all(w->fd, w->out.p, w->out.n);
	if (rc < 0)
		return fail(w, rc, "write: %s", strerror(-rc));
	w->out.n = 0;
	return 0;
}

static int out_put(ws_pq_writer_t *w, const void *p, size_t n)
{
	buf_put(&w->out, p, n);
	if (w->out.oom)
		return fail(w, -ENOMEM, "out of memory");
	w->off += n;
	return w->out.n >= OUT_FLUSH ? out_flush(w) : 0;
}

int ws_pq_open(ws_pq_writer_t **wp, const char *path, const ws_pq_column_t *cols, uint32_t ncols, int zstd_level,
               const char *created_by, char *err, size_t errlen)
{
	*wp = NULL;
	if (!ncols) {
		snprintf(err, errlen, "a Parquet file needs at least one column");
		return -EINVAL;
	}
	for (uint32_t c = 0; c < ncols; c++) {
		const ws_pq_column_t *k = &cols[c];
		int ok = k->name[0] && memchr(k->name, 0, WS_PQ_NAME_MAX) &&
		         (k->type == WS_PQ_INT32 || k->type == WS_PQ_INT64 || k->type == WS_PQ_STRING) &&
		         (k->int_bits == 0 || (k->type == WS_PQ_INT32 && (k->int_bits == 8 || k->int_bits == 16))) &&
		         (k->encoding == WS_PQ_PLAIN || k->encoding == WS_PQ_DICT ||
		          (k->encoding == WS_PQ_DELTA && k->type == WS_PQ_INT64)) &&
		         (k->type != WS_PQ_STRING || k->encoding == WS_PQ_DICT);
		if (!ok) {
			snprintf(err, errlen, "column %u (%.*s): type %u, int_bits %u, encoding %u is not a column this "
			         "writer makes", c, (int)WS_PQ_NAME_MAX, k->name, k->type, k->int_bits, k->encoding);
			return -EINVAL;
		}
	}
	ws_pq_writer_t *w = calloc(1, sizeof(*w));
	if (w)
		w->fd = -1;
	if (!w || !(w->cols = malloc(ncols * sizeof(*cols))) || !(w->dict_failed = calloc(ncols, 1)) ||
	    !(w->zc = ZSTD_createCCtx())) {
		ws_pq_free(w);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(w->cols, cols, ncols * sizeof(*cols));
	w->ncols = ncols;
	w->level = zstd_level;
	snprintf(w->created_by, sizeof(w->created_by), "%s", created_by ? created_by : "wirespeed");
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		w->fd = -1;
		ws_pq_free(w);
		return -e;
	}
	if (out_put(w, "PAR1", 4) < 0) {
		snprintf(err, errlen, "%s", w->err);
		ws_pq_free(w);
		return -EIO;
	}
	*wp = w;
	return 0;
}

/* -- encodings ----------------------------------------------------------------- */

/* Bit-packing, least significant bit first. The loops are written once and
 * inlined per width (the switches below): with w a constant the compiler
 * unrolls them into shifts and stores at fixed places, about twice as fast
 * as one loop for every width. */
#define WS_ALWAYS_INLINE static inline __attribute__((always_inline))
#define WS_WIDTHS_1_32(C)                                                                            \
	C(1) C(2) C(3) C(4) C(5) C(6) C(7) C(8) C(9) C(10) C(11) C(12) C(13) C(14) C(15) C(16) C(17) \
	C(18) C(19) C(20) C(21) C(22) C(23) C(24) C(25) C(26) C(27) C(28) C(29) C(30) C(31) C(32)

/* n values (T: uint32_t or uint64_t, each < 2^w, w <= 32), n * w a multiple of 8 */
#define WS_PACK_NARROW(T)                                                                            \
	WS_ALWAYS_INLINE uint8_t *pack_narrow_##T(uint8_t *o, const T *x, unsigned n, unsigned w)    \
	{                                                                                            \
		uint64_t acc = 0;                                                                    \
		unsigned nb = 0;                                                                     \
		for (unsigned k = 0; k < n; k++) {                                                   \
			acc |= (uint64_t)x[k] << nb; /* nb < 32, x < 2^32: fits */                    \
			nb += w;                                                                     \
			if (nb >= 32) {                                                              \
				store32(o, (uint32_t)acc);                                           \
				o += 4;                                                              \
				acc >>= 32;                                                          \
				nb -= 32;                                                            \
			}                                                                            \
		}                                                                                    \
		for (; nb; nb -= 8) {                                                                \
			*o++ = (uint8_t)acc;                                                         \
			acc >>= 8;                                                                   \
		}                                                                                    \
		return o;                                                                            \
	}
WS_PACK_NARROW(uint32_t)
WS_PACK_NARROW(uint64_t)

/* 32 values of width w (0..64): a DELTA miniblock */
static uint8_t *pack32(uint8_t *o, const uint64_t *x, unsigned w)
{
	switch (w) {
	case 0:
		return o;
#define WS_PACK32_CASE(W) \
	case W:           \
		return pack_narrow_uint64_t(o, x, 32, W);
		WS_WIDTHS_1_32(WS_PACK32_CASE)
#undef WS_PACK32_CASE
	default:
		break;
	}
	unsigned __int128 acc = 0;
	unsigned nb = 0;
	for (int k = 0; k < 32; k++) {
		acc |= (unsigned __int128)x[k] << nb;
		nb += w;
		if (nb >= 64) {
			store64(o, (uint64_t)acc);
			o += 8;
			acc >>= 64;
			nb -= 64;
		}
	}
	if (nb) {                 /* 32 w bits with w odd: a half word is left */
		store32(o, (uint32_t)acc);
		o += 4;
	}
	return o;
}

/* The per-value loops are written to vectorise; built for the CPU's widest
 * 64-bit compares where it has them (AVX-512, AVX2), picked at load time. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* DELTA_BINARY_PACKED: blocks of 128 deltas in 4 miniblocks of 32 */
VECTOR_CLONES static uint8_t *delta_encode(uint8_t *o, const int64_t *v, uint64_t m)
{
	o = put_uvarint(o, 128);
	o = put_uvarint(o, 4);
	o = put_uvarint(o, m);
	o = put_uvarint(o, zigzag(m ? v[0] : 0));
	uint64_t d[128];
	for (uint64_t i = 1; i < m; i += 128) {
		uint32_t nb = m - i < 128 ? (uint32_t)(m - i) : 128;
		for (uint32_t j = 0; j < nb; j++)
			d[j] = (uint64_t)v[i + j] - (uint64_t)v[i + j - 1];   /* wraps, as the reader's sum does */
		int64_t mn = INT64_MAX;
		for (uint32_t j = 0; j < nb; j++)
			mn = (int64_t)d[j] < mn ? (int64_t)d[j] : mn;
		for (uint32_t j = 0; j < nb; j++)
			d[j] -= (uint64_t)mn;
		for (uint32_t j = nb; j < 128; j++)
			d[j] = 0;
		o = put_uvarint(o, zigzag(mn));
		uint8_t *widths = o;
		o += 4;
		for (uint32_t b = 0; b < 4; b++) {
			if (b * 32 >= nb) {
				widths[b] = 0; /* a miniblock past the values: its width is there, its body is not */
				continue;
			}
			uint64_t any = 0;
			for (uint32_t j = 0; j < 32; j++)
				any |= d[b * 32 + j];
			unsigned w = any ? 64u - (unsigned)__builtin_clzll(any) : 0;
			widths[b] = (uint8_t)w;
			o = pack32(o, d + b * 32, w);
		}
	}
	return o;
}

/* n values (bw <= 32 bits), a multiple of 8 of them, bit-packed in groups of 8 */
static uint8_t *pack_bits(uint8_t *o, const uint32_t *c, uint64_t n, unsigned bw)
{
	switch (bw) {
#define WS_PACK_CASE(W)                                   \
	case W:                                           \
		for (uint64_t k = 0; k < n; k += 8)       \
			o = pack_narrow_uint32_t(o, c + k, 8, W); \
		return o;
		WS_WIDTHS_1_32(WS_PACK_CASE)
#undef WS_PACK_CASE
	default:
		return o; /* bw is 1..32 (bit_width of a code) */
	}
}

static int run8(const uint32_t *c, uint64_t i, uint64_t n)
{
	if (i + 8 > n)
		return 0;
	uint32_t d = 0;
	for (int k = 1; k < 8; k++) /* no early exit: one compare of 8 lanes */
		d |= c[i + k] ^ c[i];
	return !d;
}

/* the RLE / bit-packing hybrid: runs of 8 or more equal values as RLE, the rest
 * bit-packed in groups of 8 (the last group padded) */
static uint8_t *hybrid_encode(uint8_t *o, const uint32_t *c, uint64_t n, unsigned bw)
{
	unsigned vb = (bw + 7) / 8;
	uint64_t i = 0;
	while (i < n) {
		uint64_t r = 1;
		while (i + r < n && c[i + r] == c[i])
			r++;
		if (r >= 8) {
			o = put_uvarint(o, r << 1);
			for (unsigned b = 0; b < vb; b++)
				*o++ = (uint8_t)(c[i] >> (8 * b));
			i += r;
			continue;
		}
		uint64_t s = i, g = 0;
		do {
			i += 8;
			g++;
		} while (i < n && g < HYBRID_MAX_GROUPS && !run8(c, i, n));
		o = put_uvarint(o, g << 1 | 1);
		if (i <= n) {
			o = pack_bits(o, c + s, g * 8, bw);
		} else {          /* the last group, padded with zeros */
			uint32_t last[8] = {0};
			memcpy(last, c + i - 8, (n - (i - 8)) * sizeof(*c));
			o = pack_bits(o, c + s, (g - 1) * 8, bw);
			o = pack_bits(o, last, 8, bw);
			i = n;
		}
	}
	return o;
}

static unsigned bit_width(uint32_t maxval)
{
	return maxval ? 32u - (unsigned)__builtin_clz(maxval) : 0;
}

/* -- a column chunk -------------------------------------------------------------- */

static int scratch_reserve(ws_pq_writer_t *w, uint64_t rows)
{
	size_t want = rows > WS_PQ_PAGE_ROWS ? rows : WS_PQ_PAGE_ROWS;
	if (want <= w->scratch)
		return 0;
	int64_t *v = realloc(w->vals, want * sizeof(*v));
	if (v)
		w->vals = v;
	uint32_t *c = realloc(w->codes, want * sizeof(*c));
	if (c)
		w->codes = c;
	uint32_t *l = w->levels ? w->levels : malloc(WS_PQ_PAGE_ROWS * sizeof(*l));
	if (l)
		w->levels = l;
	if (!v || !c || !l)
		return fail(w, -ENOMEM, "out of memory (%llu rows)", (unsigned long long)rows);
	w->scratch = want;
	return 0;
}

/* M(T) for the caller's element type T of a (its width and signedness) */
#define WS_BY_ELEM(a, M)                                           \
	switch ((a)->elem * 2 + ((a)->is_unsigned ? 1 : 0)) {      \
	case 2: M(int8_t); break;                                  \
	case 3: M(uint8_t); break;                                 \
	case 4: M(int16_t); break;                                 \
	case 5: M(uint16_t); break;                                \
	case 8: M(int32_t); break;                                 \
	case 9: M(uint32_t); break;                                \
	case 16: M(int64_t); break;                                \
	default: M(uint64_t); break;                               \
	}

/* The valid values of a as int64: a's own when they are int64 without nulls,
 * else widened into w->vals; *m: how many. */
static const int64_t *compact_ints(ws_pq_writer_t *w, const ws_pq_array_t *a, uint64_t rows, uint64_t *m)
{
	if (a->elem == 8 && !a->valid) {
		*m = rows;
		return (const int64_t *)a->values;
	}
	int64_t *out = w->vals;
	uint64_t k = 0;
#define COMPACT(T)                                                                                   \
	do {                                                                                         \
		const T *v = (const T *)a->values;                                                   \
		if (!a->valid) {                                                                     \
			for (uint64_t i = 0; i < rows; i++)                                          \
				out[i] = (int64_t)v[i];                                              \
			k = rows;                                                                    \
		} else {                                                                             \
			for (uint64_t i = 0; i < rows; i++)                                          \
				if (a->valid[i])                                                     \
					out[k++] = (int64_t)v[i];                                    \
		}                                                                                    \
	} while (0)
	WS_BY_ELEM(a, COMPACT)
#undef COMPACT
	*m = k;
	return out;
}

VECTOR_CLONES static void minmax(const int64_t *v, uint64_t m, int64_t *mn, int64_t *mx)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (uint64_t i = 0; i < m; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	*mn = lo;
	*mx = hi;
}

#define DIRECT_SPAN (1u << 18) /* values within this of their minimum: a table indexed by value, not a hash */
#define HASH_BITS0 10u          /* a hash starts this small (in cache) and doubles at three quarters full */

static int slots_reserve(ws_pq_writer_t *w, size_t n)
{
	if (!w->dvals && !(w->dvals = malloc(WS_PQ_DICT_MAX * sizeof(*w->dvals))))
		return fail(w, -ENOMEM, "out of memory");
	if (n <= w->slot_cap)
		return 0;
	uint32_t *s = realloc(w->slots, n * sizeof(*s));
	if (!s)
		return fail(w, -ENOMEM, "out of memory");
	w->slots = s;
	w->slot_cap = n;
	return 0;
}

static uint64_t hash_at(int64_t x, unsigned bits)
{
	return ((uint64_t)x * 0x9e3779b97f4a7c15ull) >> (64 - bits);
}

/* the hash of w->dvals' n values at 2^bits slots: each slot holds its value
 * beside its code, so a probe is one load */
static int hash_rebuild(ws_pq_writer_t *w, unsigned bits, uint32_t n)
{
	size_t size = (size_t)1 << bits;
	if (size > w->hash_cap) {
		pq_slot_t *h = realloc(w->hash, size * sizeof(*h));
		if (!h)
			return fail(w, -ENOMEM, "out of memory");
		w->hash = h;
		w->hash_cap = size;
	}
	memset(w->hash, 0, size * sizeof(*w->hash));
	for (uint32_t k = 0; k < n; k++) {
		uint64_t h = hash_at(w->dvals[k], bits);
		while (w->hash[h].code1)
			h = (h + 1) & (size - 1);
		w->hash[h] = (pq_slot_t){w->dvals[k], k + 1};
	}
	return 0;
}

/* An int dictionary of v's m values (all within lo..hi) into w->dvals, in the
 * order met, their codes into w->codes; 1 when there are more than
 * WS_PQ_DICT_MAX distinct values. */
static int dict_build(ws_pq_writer_t *w, const int64_t *v, uint64_t m, int64_t lo, int64_t hi, uint32_t *nd)
{
	uint32_t n = 0;
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	if (span < DIRECT_SPAN) { /* sizes, flags, counts: a lookup, no hashing */
		int rc = slots_reserve(w, span + 1);
		if (rc < 0)
			return rc;
		memset(w->slots, 0, (span + 1) * sizeof(*w->slots));
		for (uint64_t i = 0; i < m; i++) {
			uint32_t *e = &w->slots[(uint64_t)v[i] - (uint64_t)lo];
			if (!*e) {
				if (n == WS_PQ_DICT_MAX)
					return 1;
				w->dvals[n] = v[i];
				*e = ++n;
			}
			w->codes[i] = *e - 1;
		}
		*nd = n;
		return 0;
	}
	unsigned bits = HASH_BITS0;
	int rc = slots_reserve(w, 0); /* the dictionary's values */
	if (rc < 0 || (rc = hash_rebuild(w, bits, 0)) < 0)
		return rc;
	int64_t prev = 0;
	uint32_t prev_code = UINT32_MAX;
	for (uint64_t i = 0; i < m; i++) {
		int64_t x = v[i];
		if (x == prev && prev_code != UINT32_MAX) { /* an execution's rows share a price */
			w->codes[i] = prev_code;
			continue;
		}
		prev = x;
		uint64_t mask = ((uint64_t)1 << bits) - 1, h = hash_at(x, bits);
		for (;;) {
			pq_slot_t *e = &w->hash[h];
			if (e->key == x && e->code1) {
				w->codes[i] = prev_code = e->code1 - 1;
				break;
			}
			if (!e->code1) {
				if (n == WS_PQ_DICT_MAX)
					return 1;
				w->dvals[n] = x;
				*e = (pq_slot_t){x, ++n};
				w->codes[i] = prev_code = n - 1;
				if (4 * (uint64_t)n > 3 * mask && (rc = hash_rebuild(w, ++bits, n)) < 0)
					return rc;
				break;
			}
			h = (h + 1) & mask;
		}
	}
	*nd = n;
	return 0;
}

/* The codes of a string column's valid rows into w->codes, checked against its
 * labels; with mark, the labels used marked in w->used (for statistics).
 * Returns how many, or -EINVAL. */
static int64_t compact_codes(ws_pq_writer_t *w, uint32_t c, const ws_pq_array_t *a, uint64_t rows, int mark)
{
	if (a->nlabels > w->used_cap) {
		uint8_t *u = realloc(w->used, a->nlabels);
		if (!u)
			return fail(w, -ENOMEM, "out of memory");
		w->used = u;
		w->used_cap = a->nlabels;
	}
	uint64_t k = 0;
	int64_t lo = 0, hi = 0;
	/* widened first, checked after: the loops have no branch a row */
#define CODES(T)                                                                                     \
	do {                                                                                         \
		const T *v = (const T *)a->values;                                                   \
		if (rows)                                                                            \
			lo = hi = (int64_t)v[0];                                                     \
		for (uint64_t i = 0; i < rows; i++) {                                                \
			int64_t x = (int64_t)v[i];                                                   \
			lo = x < lo ? x : lo;                                                        \
			hi = x > hi ? x : hi;                                                        \
			w->codes[k] = (uint32_t)x;                                                   \
			k += a->valid ? (a->valid[i] != 0) : 1;                                      \
		}                                                                                    \
	} while (0)
	WS_BY_ELEM(a, CODES)  /* (a uint64 past INT64_MAX turns negative: refused below) */
#undef CODES
	if (a->valid) { /* the slots of nulls hold anything: only the valid codes are checked */
		lo = 0;
		hi = 0;
		for (uint64_t i = 0; i < k; i++)
			hi = w->codes[i] > hi ? w->codes[i] : hi;
		/* a negative code was widened to a large one: caught by hi */
	}
	if (k && (lo < 0 || hi >= (int64_t)a->nlabels))
		return fail(w, -EINVAL, "column %s: code %lld is not one of its %u labels", w->cols[c].name,
		            (long long)(lo < 0 ? lo : hi), a->nlabels);
	if (mark) {
		if (a->nlabels)
			memset(w->used, 0, a->nlabels);
		for (uint64_t i = 0; i < k; i++)
			w->used[w->codes[i]] = 1;
	}
	return (int64_t)k;
}

static int label_cmp(const ws_pq_array_t *a, uint32_t x, uint32_t y)
{
	uint32_t lx = a->label_len[x], ly = a->label_len[y];
	int r = memcmp(a->labels[x], a->labels[y], lx < ly ? lx : ly);
	return r ? r : (lx > ly) - (lx < ly);
}

static size_t keep_label(ws_pq_writer_t *w, const ws_pq_array_t *a, uint32_t i)
{
	size_t at = w->strs.n;
	uint32_t len = a->label_len[i];
	buf_put(&w->strs, &len, sizeof(len));
	buf_put(&w->strs, a->labels[i], len);
	return at;
}

static void page_header(ws_pq_writer_t *w, int type, size_t raw, size_t stored, uint32_t values, int encoding)
{
	w->hdr.n = 0;
	tw_t t = {.b = &w->hdr};
	tw_i32(&t, 1, type);
	tw_i32(&t, 2, (int32_t)raw);
	tw_i32(&t, 3, (int32_t)stored);
	if (type == PAGE_DATA) {
		tw_begin(&t, 5);
		tw_i32(&t, 1, (int32_t)values);
		tw_i32(&t, 2, encoding);
		tw_i32(&t, 3, ENC_RLE);
		tw_i32(&t, 4, ENC_RLE);
		tw_end(&t);
	} else {
		tw_begin(&t, 7);
		tw_i32(&t, 1, (int32_t)values);
		tw_i32(&t, 2, WS_PQ_PLAIN);
		tw_end(&t);
	}
	buf_byte(&w->hdr, 0);
}

/* w->page (its n bytes) as a page of the chunk: compressed when the column is,
 * its header, both to the file */
static int emit_page(ws_pq_writer_t *w, uint32_t c, pq_chunk_t *ck, int type, uint32_t values, int encoding)
{
	const uint8_t *body = w->page.p;
	size_t raw = w->page.n, stored = raw;
	if (raw > INT32_MAX)
		return fail(w, -E2BIG, "column %s: a page of %zu bytes", w->cols[c].name, raw);
	if (w->cols[c].zstd) {
		size_t cap = ZSTD_compressBound(raw);
		w->zpage.n = 0;
		if (buf_reserve(&w->zpage, cap) < 0)
			return fail(w, -ENOMEM, "out of memory");
		size_t z = ZSTD_compressCCtx(w->zc, w->zpage.p, cap, body, raw, w->level);
		if (ZSTD_isError(z))
			return fail(w, -EIO, "column %s: zstd: %s", w->cols[c].name, ZSTD_getErrorName(z));
		body = w->zpage.p;
		stored = z;
	}
	page_header(w, type, raw, stored, values, encoding);
	if (w->hdr.oom)
		return fail(w, -ENOMEM, "out of memory");
	if (type == PAGE_DATA && !ck->data_off)
		ck->data_off = w->off;
	ck->uncompressed += w->hdr.n + raw;
	ck->compressed += w->hdr.n + stored;
	int rc = out_put(w, w->hdr.p, w->hdr.n);
	return rc < 0 ? rc : out_put(w, body, stored);
}

static int page_reserve(ws_pq_writer_t *w, size_t bytes)
{
	w->page.n = 0;
	return buf_reserve(&w->page, bytes) < 0 ? fail(w, -ENOMEM, "out of memory") : 0;
}

static int write_dict_page(ws_pq_writer_t *w, uint32_t c, pq_chunk_t *ck, const ws_pq_array_t *a, uint32_t nd)
{
	const ws_pq_column_t *col = &w->cols[c];
	size_t bytes = 0;
	if (col->type == WS_PQ_STRING)
		for (uint32_t i = 0; i < nd; i++)
			bytes += 4 + a->label_len[i];
	else
		bytes = (size_t)nd * 8;
	int rc = page_reserve(w, bytes);
	if (rc < 0)
		return rc;
	uint8_t *o = w->page.p;
	for (uint32_t i = 0; i < nd; i++) {
		if (col->type == WS_PQ_STRING) {
			store32(o, a->label_len[i]);
			memcpy(o + 4, a->labels[i], a->label_len[i]);
			o += 4 + a->label_len[i];
		} else if (col->type == WS_PQ_INT32) {
			store32(o, (uint32_t)w->dvals[i]);
			o += 4;
		} else {
			store64(o, (uint64_t)w->dvals[i]);
			o += 8;
		}
	}
	w->page.n = (size_t)(o - w->page.p);
	return emit_page(w, c, ck, PAGE_DICT, nd, WS_PQ_PLAIN);
}

static int write_chunk(ws_pq_writer_t *w, uint32_t c, const ws_pq_array_t *a, uint64_t rows, pq_chunk_t *ck)
{
	const ws_pq_column_t *col = &w->cols[c];
	if (!a->values)
		return fail(w, -EINVAL, "column %s: no values", col->name);
	if (a->elem != 1 && a->elem != 2 && a->elem != 4 && a->elem != 8)
		return fail(w, -EINVAL, "column %s: values of %u bytes", col->name, a->elem);
	if (col->type == WS_PQ_INT32 && a->elem == 8)
		return fail(w, -EINVAL, "column %s: 8-byte values for a 32-bit column", col->name);
	if (a->valid && !col->nullable)
		return fail(w, -EINVAL, "column %s: nulls in a column that is not nullable", col->name);
	memset(ck, 0, sizeof(*ck));
	ck->start = w->off;
	ck->values = rows;
	uint64_t m;
	const int64_t *vals = NULL;
	uint32_t nd = 0;
	int encoding = col->encoding;
	if (col->type == WS_PQ_STRING) {
		int64_t k = compact_codes(w, c, a, rows, col->stats);
		if (k < 0)
			return (int)k;
		m = (uint64_t)k;
		nd = a->nlabels;
		if (col->stats && m) {
			uint32_t lo = UINT32_MAX, hi = UINT32_MAX;
			for (uint32_t i = 0; i < a->nlabels; i++) {
				if (!w->used[i])
					continue;
				if (lo == UINT32_MAX || label_cmp(a, i, lo) < 0)
					lo = i;
				if (hi == UINT32_MAX || label_cmp(a, i, hi) > 0)
					hi = i;
			}
			ck->smin = keep_label(w, a, lo);
			ck->smax = keep_label(w, a, hi);
			if (w->strs.oom)
				return fail(w, -ENOMEM, "out of memory");
			ck->has_minmax = 1;
		}
	} else {
		vals = compact_ints(w, a, rows, &m);
		if ((col->stats || encoding == WS_PQ_DICT) && m) {
			minmax(vals, m, &ck->min, &ck->max);
			ck->has_minmax = col->stats;
		}
		if (encoding == WS_PQ_DICT) {
			int r = w->dict_failed[c] ? 1 : dict_build(w, vals, m, ck->min, ck->max, &nd);
			if (r < 0)
				return r;
			if (r) {
				w->dict_failed[c] = 1; /* the next row groups will not do better: plain */
				encoding = WS_PQ_PLAIN;
			}
		}
	}
	if (!m && encoding == WS_PQ_DICT)
		encoding = WS_PQ_PLAIN; /* nothing but nulls: no dictionary to write */
	ck->nulls = rows - m;
	ck->encoding = (uint8_t)encoding;
	if (encoding == WS_PQ_DICT) {
		ck->has_dict = 1;
		int rc = write_dict_page(w, c, ck, a, nd);
		if (rc < 0)
			return rc;
	}
	unsigned bw = bit_width(nd > 1 ? nd - 1 : 1);
	uint64_t k = 0;
	for (uint64_t r0 = 0; r0 < rows; r0 += WS_PQ_PAGE_ROWS) {
		uint32_t pr = (uint32_t)(rows - r0 < WS_PQ_PAGE_ROWS ? rows - r0 : WS_PQ_PAGE_ROWS);
		uint32_t pm = pr;
		if (a->valid) {
			pm = 0;
			for (uint32_t i = 0; i < pr; i++) {
				w->levels[i] = a->valid[r0 + i] ? 1 : 0;
				pm += w->levels[i];
			}
		}
		int rc = page_reserve(w, (size_t)pr * 10 + (size_t)pm * 9 + 4096);
		if (rc < 0)
			return rc;
		uint8_t *o = w->page.p;
		if (col->nullable) {
			if (!a->valid)
				for (uint32_t i = 0; i < pr; i++)
					w->levels[i] = 1;
			uint8_t *len = o;
			o = hybrid_encode(o + 4, w->levels, pr, 1);
			store32(len, (uint32_t)(o - len - 4));
		}
		if (encoding == WS_PQ_DICT) {
			*o++ = (uint8_t)bw;
			o = hybrid_encode(o, w->codes + k, pm, bw);
		} else if (encoding == WS_PQ_DELTA) {
			o = delta_encode(o, vals + k, pm);
		} else if (col->type == WS_PQ_INT64) {
			memcpy(o, vals + k, (size_t)pm * 8);
			o += (size_t)pm * 8;
		} else if (col->type == WS_PQ_INT32) {
			for (uint32_t i = 0; i < pm; i++, o += 4)
				store32(o, (uint32_t)vals[k + i]);
		} /* a string column of nulls only: no values */
		w->page.n = (size_t)(o - w->page.p);
		rc = emit_page(w, c, ck, PAGE_DATA, pr, encoding);
		if (rc < 0)
			return rc;
		k += pm;
	}
	return 0;
}

int ws_pq_write_group(ws_pq_writer_t *w, const ws_pq_array_t *arrays, uint64_t rows, int sorted_by)
{
	if (w->fd < 0)
		return fail(w, -EBADF, "the writer is closed");
	if (sorted_by >= (int)w->ncols)
		return fail(w, -EINVAL, "sorted_by %d: there are %u columns", sorted_by, w->ncols);
	if (!rows)
		return 0; /* a row group of nothing: none */
	if (w->ngroups == w->gcap) {
		uint32_t cap = w->gcap ? 2 * w->gcap : 16;
		pq_group_t *g = realloc(w->groups, cap * sizeof(*g));
		if (g)
			w->groups = g;
		pq_chunk_t *k = realloc(w->chunks, (size_t)cap * w->ncols * sizeof(*k));
		if (k)
			w->chunks = k;
		if (!g || !k)
			return fail(w, -ENOMEM, "out of memory");
		w->gcap = cap;
	}
	int rc = scratch_reserve(w, rows);
	if (rc < 0)
		return rc;
	pq_group_t *g = &w->groups[w->ngroups];
	memset(g, 0, sizeof(*g));
	g->rows = rows;
	g->start = w->off;
	g->sorted_by = sorted_by;
	for (uint32_t c = 0; c < w->ncols; c++) {
		pq_chunk_t *ck = &w->chunks[(size_t)w->ngroups * w->ncols + c];
		rc = write_chunk(w, c, &arrays[c], rows, ck);
		if (rc < 0)
			return rc;
		g->uncompressed += ck->uncompressed;
		g->compressed += ck->compressed;
	}
	w->ngroups++;
	w->rows += rows;
	return 0;
}

/* -- the footer -------------------------------------------------------------------- */

static void schema_element(tw_t *t, const ws_pq_column_t *col)
{
	tw_begin(t, 0);
	tw_i32(t, 1, col->type);
	tw_i32(t, 3, col->nullable ? 1 : 0);
	tw_binary(t, 4, col->name, strlen(col->name));
	if (col->type == WS_PQ_STRING) {
		tw_i32(t, 6, CONV_UTF8);
		tw_begin(t, 10);
		tw_begin(t, 1); /* STRING */
		tw_end(t);
		tw_end(t);
	} else if (col->int_bits) {
		tw_i32(t, 6, col->int_bits == 8 ? CONV_INT_8 : CONV_INT_16);
		tw_begin(t, 10);
		tw_begin(t, 10); /* INTEGER */
		tw_byte(t, 1, (int8_t)col->int_bits);
		tw_bool(t, 2, 1);
		tw_end(t);
		tw_end(t);
	}
	tw_end(t);
}

static void stat_value(ws_pq_writer_t *w, tw_t *t, int16_t id, const ws_pq_column_t *col, int64_t v, size_t s)
{
	uint8_t b[8];
	if (col->type == WS_PQ_STRING) {
		uint32_t len;
		memcpy(&len, w->strs.p + s, sizeof(len));
		tw_binary(t, id, w->strs.p + s + sizeof(len), len);
	} else if (col->type == WS_PQ_INT32) {
		store32(b, (uint32_t)v);
		tw_binary(t, id, b, 4);
	} else {
		store64(b, (uint64_t)v);
		tw_binary(t, id, b, 8);
	}
}

static void column_chunk(ws_pq_writer_t *w, tw_t *t, const ws_pq_column_t *col, const pq_chunk_t *ck)
{
	tw_begin(t, 0);
	tw_i64(t, 2, (int64_t)ck->start);
	tw_begin(t, 3);
	tw_i32(t, 1, col->type);
	if (ck->has_dict) {
		tw_list(t, 2, CT_I32, 3);
		buf_uvarint(t->b, zigzag(WS_PQ_PLAIN));
		buf_uvarint(t->b, zigzag(ENC_RLE));
		buf_uvarint(t->b, zigzag(WS_PQ_DICT));
	} else {
		tw_list(t, 2, CT_I32, 2);
		buf_uvarint(t->b, zigzag(ck->encoding));
		buf_uvarint(t->b, zigzag(ENC_RLE));
	}
	tw_list(t, 3, CT_BINARY, 1);
	buf_uvarint(t->b, strlen(col->name));
	buf_put(t->b, col->name, strlen(col->name));
	tw_i32(t, 4, col->zstd ? CODEC_ZSTD : CODEC_NONE);
	tw_i64(t, 5, (int64_t)ck->values);
	tw_i64(t, 6, (int64_t)ck->uncompressed);
	tw_i64(t, 7, (int64_t)ck->compressed);
	tw_i64(t, 9, (int64_t)ck->data_off);
	if (ck->has_dict)
		tw_i64(t, 11, (int64_t)ck->start);
	tw_begin(t, 12);
	tw_i64(t, 3, (int64_t)ck->nulls);
	if (ck->has_minmax) {
		stat_value(w, t, 5, col, ck->max, ck->smax);
		stat_value(w, t, 6, col, ck->min, ck->smin);
	}
	tw_end(t);
	tw_end(t);
	tw_end(t);
}

static void footer(ws_pq_writer_t *w, pq_buf_t *b, const ws_pq_kv_t *kv, uint32_t nkv)
{
	tw_t t = {.b = b};
	tw_i32(&t, 1, 2);
	tw_list(&t, 2, CT_STRUCT, w->ncols + 1);
	tw_begin(&t, 0);
	tw_binary(&t, 4, "schema", 6);
	tw_i32(&t, 5, (int32_t)w->ncols);
	tw_end(&t);
	for (uint32_t c = 0; c < w->ncols; c++)
		schema_element(&t, &w->cols[c]);
	tw_i64(&t, 3, (int64_t)w->rows);
	tw_list(&t, 4, CT_STRUCT, w->ngroups);
	for (uint32_t g = 0; g < w->ngroups; g++) {
		const pq_group_t *grp = &w->groups[g];
		tw_begin(&t, 0);
		tw_list(&t, 1, CT_STRUCT, w->ncols);
		for (uint32_t c = 0; c < w->ncols; c++)
			column_chunk(w, &t, &w->cols[c], &w->chunks[(size_t)g * w->ncols + c]);
		tw_i64(&t, 2, (int64_t)grp->uncompressed);
		tw_i64(&t, 3, (int64_t)grp->rows);
		if (grp->sorted_by >= 0) {
			tw_list(&t, 4, CT_STRUCT, 1);
			tw_begin(&t, 0);
			tw_i32(&t, 1, grp->sorted_by);
			tw_bool(&t, 2, 0);
			tw_bool(&t, 3, 0);
			tw_end(&t);
		}
		tw_i64(&t, 5, (int64_t)grp->start);
		tw_i64(&t, 6, (int64_t)grp->compressed);
		tw_i16(&t, 7, (int16_t)g);
		tw_end(&t);
	}
	if (nkv) {
		tw_list(&t, 5, CT_STRUCT, nkv);
		for (uint32_t i = 0; i < nkv; i++) {
			tw_begin(&t, 0);
			tw_binary(&t, 1, kv[i].key, strlen(kv[i].key));
			tw_binary(&t, 2, kv[i].value, strlen(kv[i].value));
			tw_end(&t);
		}
	}
	tw_binary(&t, 6, w->created_by, strlen(w->created_by));
	tw_list(&t, 7, CT_STRUCT, w->ncols);
	for (uint32_t c = 0; c < w->ncols; c++) { /* min and max in each type's own order */
		tw_begin(&t, 0);
		tw_begin(&t, 1);
		tw_end(&t);
		tw_end(&t);
	}
	buf_byte(b, 0);
}

int ws_pq_close(ws_pq_writer_t *w, const ws_pq_kv_t *kv, uint32_t nkv)
{
	if (w->fd < 0)
		return fail(w, -EBADF, "the writer is closed");
	if (w->ngroups > INT16_MAX)
		return fail(w, -E2BIG, "%u row groups: at most %d", w->ngroups, INT16_MAX);
	pq_buf_t b = {0};
	footer(w, &b, kv, nkv);
	uint8_t tail[8];
	store32(tail, (uint32_t)b.n);
	memcpy(tail + 4, "PAR1", 4);
	buf_put(&b, tail, sizeof(tail));
	int rc = b.oom ? fail(w, -ENOMEM, "out of memory") : out_put(w, b.p, b.n);
	free(b.p);
	if (rc == 0)
		rc = out_flush(w);
	if (close(w->fd) < 0 && rc == 0)
		rc = fail(w, -errno, "close: %s", strerror(errno));
	w->fd = -1;
	return rc;
}

const char *ws_pq_error(const ws_pq_writer_t *w)
{
	return w->err;
}

void ws_pq_free(ws_pq_writer_t *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	ZSTD_freeCCtx(w->zc);
	free(w->out.p);
	free(w->page.p);
	free(w->zpage.p);
	free(w->hdr.p);
	free(w->strs.p);
	free(w->vals);
	free(w->codes);
	free(w->levels);
	free(w->used);
	free(w->dvals);
	free(w->slots);
	free(w->hash);
	free(w->dict_failed);
	free(w->chunks);
	free(w->groups);
	free(w->cols);
	free(w);
}
