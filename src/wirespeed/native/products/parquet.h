/* products/parquet.h - a Parquet file writer for wirespeed's tables (the MBO
 * rows and the tables derived from them), for wirespeed.products.parquet.
 *
 * What it is for: the export's columns reach the file at C speed. A general
 * writer (pyarrow's) spent most of an export's time encoding; this one knows
 * the few shapes wirespeed's tables have and encodes each the cheap way:
 *   - int columns: PLAIN, DELTA_BINARY_PACKED (times, sequences, order ids:
 *     deltas of a few bits) or a dictionary (prices, sizes, locates, flags:
 *     few distinct values; a row group's chunk falls back to PLAIN past
 *     WS_PQ_DICT_MAX of them);
 *   - strings: the caller's dictionary (Arrow's dictionary columns: codes
 *     and labels), written as a dictionary page and RLE_DICTIONARY codes;
 *   - nullable columns: definition levels (RLE), values of the valid rows.
 * Each column chooses zstd or none for its pages (what zstd gains on an
 * already bit-packed column is not worth its time). Data pages are v1 (what
 * every reader reads), WS_PQ_PAGE_ROWS rows each; statistics (min, max,
 * null count) where asked; the footer names the encodings, the codec and
 * the key-value metadata the caller gives (pyarrow's ARROW:schema among
 * them, so pyarrow reads the table back with its own types).
 *
 * Memory: the writer owns its scratch (grown to a row group's size and
 * kept) and the footer's records; the caller's arrays are read during
 * ws_pq_write_group only and never kept.
 *
 * Threads: a writer belongs to one thread at a time; writers share nothing.
 *
 * Errors: every call returns 0 or -errno, and the writer's err names what
 * failed (a column, a value, a syscall). After an error the file is not
 * valid Parquet; ws_pq_free removes nothing (the caller does).
 */
#ifndef WS_PARQUET_H
#define WS_PARQUET_H

#include <stddef.h>
#include <stdint.h>

/* Parquet's physical type codes: an int column is INT32 or INT64; a string
 * column is BYTE_ARRAY, always dictionary-coded by the caller. */
enum { WS_PQ_INT32 = 1, WS_PQ_INT64 = 2, WS_PQ_STRING = 6 };
/* Parquet's encoding codes: what a column asks for. */
enum { WS_PQ_PLAIN = 0, WS_PQ_DELTA = 5, WS_PQ_DICT = 8 };

#define WS_PQ_PAGE_ROWS 65536u     /* a data page: readers skip and decode pages of this many rows */
#define WS_PQ_DICT_MAX 65536u      /* distinct values an int column's dictionary holds at most */
#define WS_PQ_NAME_MAX 128u

typedef struct {
	char name[WS_PQ_NAME_MAX];
	uint8_t type;        /* WS_PQ_INT32, WS_PQ_INT64, WS_PQ_STRING */
	uint8_t int_bits;    /* INT32 holding a narrower signed int: 8 or 16 (its logical type); else 0 */
	uint8_t encoding;    /* WS_PQ_PLAIN, WS_PQ_DELTA (INT64 only), WS_PQ_DICT (STRING: always) */
	uint8_t zstd;        /* compress this column's pages */
	uint8_t nullable;    /* OPTIONAL, with definition levels */
	uint8_t stats;       /* min and max in the chunk's statistics (the null count is always there) */
} ws_pq_column_t;

/* One column of a row group, as the caller holds it. */
typedef struct {
	const void *values;           /* rows values, elem bytes each (the slots of nulls: anything) */
	uint8_t elem;                 /* 1, 2, 4 or 8 */
	uint8_t is_unsigned;          /* the values are unsigned */
	const uint8_t *valid;         /* NULL: no nulls; else a byte a row, 0 = null */
	/* WS_PQ_STRING: values are codes into these labels (nlabels of them) */
	const uint8_t *const *labels;
	const uint32_t *label_len;
	uint32_t nlabels;
} ws_pq_array_t;

/* One key-value pair of the footer's metadata. */
typedef struct {
	const char *key, *value;
} ws_pq_kv_t;

typedef struct ws_pq_writer ws_pq_writer_t;

/* ws_pq_open creates (truncates) path and writes the magic. zstd_level: the
 * level of the columns that compress. created_by: the footer's writer name
 * ("<app> version <x.y.z>"). On failure *w is NULL and err (errlen bytes)
 * says why. */
int ws_pq_open(ws_pq_writer_t **w, const char *path, const ws_pq_column_t *cols, uint32_t ncols, int zstd_level,
               const char *created_by, char *err, size_t errlen);

/* ws_pq_write_group writes one row group of rows rows from arrays (one per
 * column, in the columns' order). sorted_by: the index of a column the rows
 * are sorted on (ascending), named in the row group's metadata; -1: none. */
int ws_pq_write_group(ws_pq_writer_t *w, const ws_pq_array_t *arrays, uint64_t rows, int sorted_by);

/* ws_pq_close writes the footer (with the nkv pairs of kv) and closes the
 * file. The writer is then done: free it. */
int ws_pq_close(ws_pq_writer_t *w, const ws_pq_kv_t *kv, uint32_t nkv);

/* The writer's last error, "" when there was none. */
const char *ws_pq_error(const ws_pq_writer_t *w);

/* ws_pq_free closes the file if still open (leaving it as it is) and frees
 * everything. NULL is fine. */
void ws_pq_free(ws_pq_writer_t *w);

#endif /* WS_PARQUET_H */
