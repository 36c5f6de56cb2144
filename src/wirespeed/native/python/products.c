/* python/products.c - a recording into the books' MBO log (products/export.h),
 * and tables into Parquet files (products/parquet.h), for wirespeed.products.
 *
 * Ownership: the FeedRouter and the PcapSource are held for the call (the
 * router's books under their mutex, the source marked busy), and the GIL
 * is released while frames are read and applied. A ParquetWriter owns its
 * ws_pq_writer_t; the arrays handed to write() are held as buffers (and
 * the labels as a tuple) for the call, the GIL released while it encodes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "products/export.h"
#include "products/parquet.h"
#include "python/book.h"
#include "python/formats.h"
#include "python/module.h"

/* -- DepthGrid: depth snapshots on a time grid (ws_export_grid_t) -------------- */

typedef struct {
	PyObject_HEAD
	ws_export_grid_t g;
} GridObject;

static void Grid_free(GridObject *self)
{
	free(self->g.ts);
	free(self->g.locate);
	free(self->g.bid);
	free(self->g.ask);
	memset(&self->g, 0, sizeof(self->g));
}

static int Grid_init(GridObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"every_ns", "levels", "cap", NULL};
	unsigned long long every;
	unsigned int levels, cap = 4 * WS_EXPORT_GRID_ROOM;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "KI|I", kwlist, &every, &levels, &cap))
		return -1;
	if (!every || !levels || levels > 1000 || cap < 2 * WS_EXPORT_GRID_ROOM) {
		PyErr_Format(PyExc_ValueError, "DepthGrid: every_ns > 0, 1..1000 levels, cap >= %u",
		             2 * WS_EXPORT_GRID_ROOM);
		return -1;
	}
	Grid_free(self);
	self->g.every_ns = every;
	self->g.levels = levels;
	self->g.cap = cap;
	self->g.ts = malloc((size_t)cap * sizeof(*self->g.ts));
	self->g.locate = malloc((size_t)cap * sizeof(*self->g.locate));
	self->g.bid = malloc((size_t)cap * levels * sizeof(*self->g.bid));
	self->g.ask = malloc((size_t)cap * levels * sizeof(*self->g.ask));
	if (!self->g.ts || !self->g.locate || !self->g.bid || !self->g.ask) {
		Grid_free(self);
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

static void Grid_dealloc(GridObject *self)
{
	Grid_free(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* take() -> (ts bytes, locate bytes, bid bytes, ask bytes): the rows so far (levels
 * ws_book_level_t a side a row), and the grid emptied */
static PyObject *Grid_take(GridObject *self, PyObject *unused)
{
	(void)unused;
	const ws_export_grid_t *g = &self->g;
	if (!g->ts) {
		PyErr_SetString(PyExc_ValueError, "DepthGrid is not initialised");
		return NULL;
	}
	size_t lv = (size_t)g->n * g->levels * sizeof(ws_book_level_t);
	PyObject *r = Py_BuildValue("(y#y#y#y#)", (const char *)g->ts, (Py_ssize_t)(g->n * sizeof(*g->ts)),
	                            (const char *)g->locate, (Py_ssize_t)(g->n * sizeof(*g->locate)),
	                            (const char *)g->bid, (Py_ssize_t)lv, (const char *)g->ask, (Py_ssize_t)lv);
	if (r)
		self->g.n = 0;
	return r;
}

/* finish(router): the snapshot after the last packet (ws_export_grid_finish) */
static PyObject *Grid_finish(GridObject *self, PyObject *router)
{
	ws_route_t *route;
	ws_books_t *books;
	pthread_mutex_t *lock;
	if (!self->g.ts) {
		PyErr_SetString(PyExc_ValueError, "DepthGrid is not initialised");
		return NULL;
	}
	if (ws_py_router_hold(router, &route, &books, &lock) < 0)
		return NULL;
	pthread_mutex_lock(lock);
	ws_export_grid_finish(&self->g, books);
	pthread_mutex_unlock(lock);
	ws_py_router_drop(router);
	Py_RETURN_NONE;
}

static PyMethodDef Grid_methods[] = {
	{"take", (PyCFunction)Grid_take, METH_NOARGS,
	 "take() -> (ts, locate, bid, ask) as bytes: uint64, uint16, and levels ws_book_level_t (price u32, "
	 "orders u32, shares u64) a side a row; the grid emptied"},
	{"finish", (PyCFunction)Grid_finish, METH_O, "finish(router): the snapshot after the last packet"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject GridType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.DepthGrid",
	.tp_basicsize = sizeof(GridObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "DepthGrid(every_ns, levels, cap=262140): depth snapshots of every stock on a time grid of the "
	          "capture clock, filled by mbo_pump (products/export.h)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Grid_init,
	.tp_dealloc = (destructor)Grid_dealloc,
	.tp_methods = Grid_methods,
};

/* mbo_pump(router, source, grid=None) -> (state, last_ns): frames from source
 * into the router (last_ns: the newest capture stamp read so far) until its
 * books' MBO log or the grid must be taken (state 1), the file ends (0) or is
 * corrupt (-1: source.stats()["error"]). With the MBO log off it builds the
 * books alone (Books.from_pcapng). */
static PyObject *py_mbo_pump(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *router;
	PcapSourceObject *src;
	PyObject *grid_obj = Py_None;
	if (!PyArg_ParseTuple(args, "OO!|O", &router, &PcapSourceType, &src, &grid_obj))
		return NULL;
	ws_export_grid_t *grid = NULL;
	if (grid_obj != Py_None) {
		if (!PyObject_TypeCheck(grid_obj, &GridType) || !((GridObject *)grid_obj)->g.ts) {
			PyErr_SetString(PyExc_TypeError, "mbo_pump: grid must be an initialised DepthGrid");
			return NULL;
		}
		grid = &((GridObject *)grid_obj)->g;
		if (grid->cap - grid->n < WS_EXPORT_GRID_ROOM) {
			PyErr_SetString(PyExc_ValueError, "mbo_pump: take the grid's rows first");
			return NULL;
		}
	}
	if (!src->ready) {
		PyErr_SetString(PyExc_ValueError, "the PcapSource is closed");
		return NULL;
	}
	if (src->busy) {
		PyErr_SetString(PyExc_RuntimeError, "PcapSource is in use");
		return NULL;
	}
	ws_route_t *route;
	ws_books_t *books;
	pthread_mutex_t *lock;
	if (ws_py_router_hold(router, &route, &books, &lock) < 0)
		return NULL;
	if (ws_books_mbo_room(books) < WS_EXPORT_ROWS_PER_PACKET) {
		ws_py_router_drop(router);
		PyErr_Format(PyExc_ValueError, "mbo_pump: the MBO log needs room for %u rows (take it, or log more)",
		             (unsigned)WS_EXPORT_ROWS_PER_PACKET);
		return NULL;
	}
	src->busy = 1;
	ws_export_clock_t clk = {src->clock[0], src->clock[1]};
	int rc;
	Py_BEGIN_ALLOW_THREADS
	pthread_mutex_lock(lock);
	rc = ws_export_pump(&src->rd, route, books, &clk, grid);
	pthread_mutex_unlock(lock);
	Py_END_ALLOW_THREADS
	src->clock[0] = clk.last_ns;
	src->clock[1] = clk.polled_ns;
	src->busy = 0;
	ws_py_router_drop(router);
	return Py_BuildValue("(iK)", rc, (unsigned long long)clk.last_ns);
}

/* mbo_take(router, columns, dicts, depth=None) -> (n, dropped): the books'
 * MBO log into the 14 writable arrays of `columns` (a sequence in
 * ws_export_cols_t's order, each of its type and at least
 * mbo_pending(router) long), new values' dictionary codes into the 4
 * writable tables of `dicts` (ws_export_dicts_t: int8 x 257 for action,
 * side, type; int32 x 65537 for locates), and with the depth log on, its
 * rows into depth (uint32, levels * 4 a row); the log emptied. */
static PyObject *py_mbo_take(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *router, *seq, *dseq, *depth_obj = Py_None;
	if (!PyArg_ParseTuple(args, "OOO|O", &router, &seq, &dseq, &depth_obj))
		return NULL;
	Py_buffer db = {0};
	enum { NCOL = 14, NDICT = 4 };
	static const Py_ssize_t width[NCOL] = {8, 8, 8, 8, 8, 8, 4, 2, 2, 1, 1, 1, 1, 4};
	static const Py_ssize_t dlen[NDICT] = {WS_EXPORT_BYTE_VALUES + 1, WS_EXPORT_BYTE_VALUES + 1,
	                                       WS_EXPORT_BYTE_VALUES + 1, (WS_EXPORT_LOCATES + 1) * 4};
	PyObject *fast = PySequence_Fast(seq, "mbo_take: columns must be a sequence of 14 arrays");
	if (!fast)
		return NULL;
	PyObject *dfast = PySequence_Fast(dseq, "mbo_take: dicts must be a sequence of 4 arrays");
	if (!dfast) {
		Py_DECREF(fast);
		return NULL;
	}
	if (PySequence_Fast_GET_SIZE(fast) != NCOL || PySequence_Fast_GET_SIZE(dfast) != NDICT) {
		Py_DECREF(fast);
		Py_DECREF(dfast);
		PyErr_SetString(PyExc_ValueError, "mbo_take: 14 columns and 4 dictionary tables (see products/export.h)");
		return NULL;
	}
	Py_buffer b[NCOL], dbuf[NDICT];
	int got = 0, dgot = 0;
	PyObject *res = NULL;
	ws_route_t *route;
	ws_books_t *books;
	pthread_mutex_t *lock;
	if (ws_py_router_hold(router, &route, &books, &lock) < 0)
		goto out;
	for (; dgot < NDICT; dgot++) {
		if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(dfast, dgot), &dbuf[dgot],
		                       PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
			goto drop;
		if (dbuf[dgot].len != dlen[dgot]) {
			PyErr_Format(PyExc_ValueError, "mbo_take: dictionary table %d must be %zd bytes", dgot, dlen[dgot]);
			dgot++;
			goto drop;
		}
	}
	Py_ssize_t cap = PY_SSIZE_T_MAX;
	for (; got < NCOL; got++) {
		if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, got), &b[got], PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
			goto drop;
		if (b[got].len % width[got] || (b[got].itemsize != width[got] && b[got].itemsize != 1)) {
			PyErr_Format(PyExc_ValueError, "mbo_take: column %d must hold %zd-byte items", got, width[got]);
			got++;
			goto drop;
		}
		if (b[got].len / width[got] < cap)
			cap = b[got].len / width[got];
	}
	pthread_mutex_lock(lock);
	uint32_t n;
	uint64_t dropped;
	if (!ws_books_mbo_ctx(books)) {
		pthread_mutex_unlock(lock);
		PyErr_SetString(PyExc_ValueError, "mbo_take: the books' MBO log is off (BookEngine.log_mbo)");
		goto drop;
	}
	const ws_mbo_t *rows = ws_books_mbo_peek(books, &n);
	if ((Py_ssize_t)n > cap) {
		pthread_mutex_unlock(lock);
		PyErr_Format(PyExc_ValueError, "mbo_take: the columns hold %zd rows, the log has %u", cap, n);
		goto drop;
	}
	uint32_t levels;
	const uint32_t *depth = ws_books_mbo_depth(books, &levels);
	size_t depth_sz = (size_t)n * levels * 4 * sizeof(uint32_t);
	if ((depth_obj != Py_None) != (depth != NULL)) {
		pthread_mutex_unlock(lock);
		PyErr_SetString(PyExc_ValueError, depth ? "mbo_take: the depth log is on: give depth" :
		                                          "mbo_take: depth given but the depth log is off (log_depth)");
		goto drop;
	}
	if (depth_obj != Py_None) {
		if (PyObject_GetBuffer(depth_obj, &db, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
			pthread_mutex_unlock(lock);
			goto drop;
		}
		if ((size_t)db.len < depth_sz) {
			pthread_mutex_unlock(lock);
			PyErr_Format(PyExc_ValueError, "mbo_take: depth holds %zd bytes, %zu needed", db.len, depth_sz);
			goto drop;
		}
	}
	ws_export_cols_t c = {b[0].buf, b[1].buf, b[2].buf, b[3].buf, b[4].buf, b[5].buf, b[6].buf,
	                      b[7].buf, b[8].buf, b[9].buf, b[10].buf, b[11].buf, b[12].buf, b[13].buf};
	ws_export_dicts_t d = {dbuf[0].buf, dbuf[1].buf, dbuf[2].buf, dbuf[3].buf};
	Py_BEGIN_ALLOW_THREADS
	ws_export_columns(rows, n, &c, &d);
	if (db.obj)
		memcpy(db.buf, depth, depth_sz);
	Py_END_ALLOW_THREADS
	ws_books_take_mbo(books, &n, &dropped);
	pthread_mutex_unlock(lock);
	res = Py_BuildValue("(IK)", n, (unsigned long long)dropped);
drop:
	ws_py_router_drop(router);
out:
	if (db.obj)
		PyBuffer_Release(&db);
	for (int i = 0; i < got; i++)
		PyBuffer_Release(&b[i]);
	for (int i = 0; i < dgot; i++)
		PyBuffer_Release(&dbuf[i]);
	Py_DECREF(fast);
	Py_DECREF(dfast);
	return res;
}

/* -- ParquetWriter: products/parquet.h ------------------------------------------ */

typedef struct {
	PyObject_HEAD
	ws_pq_writer_t *w;
	uint32_t ncols;
	int busy;
} PqObject;

static PyObject *pq_raise(int rc, const char *msg)
{
	if (rc == -EINVAL || rc == -E2BIG)
		PyErr_SetString(PyExc_ValueError, msg);
	else if (rc == -ENOMEM)
		PyErr_SetString(PyExc_MemoryError, msg);
	else {
		PyObject *args = Py_BuildValue("(is)", -rc, msg);
		if (args) {
			PyErr_SetObject(PyExc_OSError, args);
			Py_DECREF(args);
		}
	}
	return NULL;
}

/* the result of a call made with the GIL released: None, or its error raised */
static PyObject *pq_result(PqObject *self, int rc)
{
	if (rc < 0)
		return pq_raise(rc, ws_pq_error(self->w));
	Py_RETURN_NONE;
}

static int Pq_init(PqObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", "columns", "zstd_level", "created_by", NULL};
	PyObject *path_obj, *cols_obj;
	int level = 1;
	const char *created_by = "wirespeed";
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O|is", kwlist, PyUnicode_FSConverter, &path_obj, &cols_obj, &level,
	                                 &created_by))
		return -1;
	int ret = -1;
	ws_pq_column_t *cols = NULL;
	PyObject *fast = PySequence_Fast(cols_obj, "ParquetWriter: columns must be a sequence of tuples");
	if (!fast)
		goto out;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
	cols = calloc(n ? (size_t)n : 1, sizeof(*cols));
	if (!cols) {
		PyErr_NoMemory();
		goto out;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		const char *name;
		Py_ssize_t len;
		unsigned char type, bits, enc;
		int zstd, nullable, stats;
		if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "s#bbbppp", &name, &len, &type, &bits, &enc,
		                      &zstd, &nullable, &stats))
			goto out;
		if (len <= 0 || (size_t)len >= WS_PQ_NAME_MAX) {
			PyErr_Format(PyExc_ValueError, "ParquetWriter: column name of %zd bytes (1..%u)", len,
			             WS_PQ_NAME_MAX - 1);
			goto out;
		}
		cols[i] = (ws_pq_column_t){.type = type, .int_bits = bits, .encoding = enc, .zstd = (uint8_t)zstd,
		                           .nullable = (uint8_t)nullable, .stats = (uint8_t)stats};
		memcpy(cols[i].name, name, (size_t)len);
	}
	ws_pq_free(self->w);
	self->w = NULL;
	char err[256] = "";
	int rc = ws_pq_open(&self->w, PyBytes_AS_STRING(path_obj), cols, (uint32_t)n, level, created_by, err, sizeof(err));
	if (rc < 0) {
		pq_raise(rc, err);
		goto out;
	}
	self->ncols = (uint32_t)n;
	ret = 0;
out:
	free(cols);
	Py_XDECREF(fast);
	Py_DECREF(path_obj);
	return ret;
}

static void Pq_dealloc(PqObject *self)
{
	ws_pq_free(self->w);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int pq_ready(PqObject *self)
{
	if (!self->w) {
		PyErr_SetString(PyExc_ValueError, "the ParquetWriter is closed");
		return -1;
	}
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "the ParquetWriter is in use");
		return -1;
	}
	return 0;
}

/* a buffer of signed or unsigned ints, as the writer takes them */
static int pq_ints(PyObject *o, Py_buffer *b, Py_ssize_t rows, const char *what, uint8_t *elem, uint8_t *uns)
{
	if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
		return -1;
	const char *f = b->format ? b->format : "B";
	if (*f == '<' || *f == '=' || *f == '@')
		f++;
	if (!f[0] || f[1] || !strchr("bBhHiIlLqQ?", f[0]) || (b->itemsize != 1 && b->itemsize != 2 &&
	                                                          b->itemsize != 4 && b->itemsize != 8)) {
		PyErr_Format(PyExc_TypeError, "ParquetWriter.write: %s must hold integers, not '%s'", what, b->format);
		PyBuffer_Release(b);
		return -1;
	}
	if (b->len / b->itemsize < rows) {
		PyErr_Format(PyExc_ValueError, "ParquetWriter.write: %s holds %zd values, %zd rows given", what,
		             b->len / b->itemsize, rows);
		PyBuffer_Release(b);
		return -1;
	}
	*elem = (uint8_t)b->itemsize;
	*uns = f[0] == '?' || (f[0] >= 'A' && f[0] <= 'Z');
	return 0;
}

/* write(arrays, rows, sorted_by=-1): a row group; arrays: per column (values, valid or None, labels or None) */
static PyObject *Pq_write(PqObject *self, PyObject *args)
{
	PyObject *arrays;
	Py_ssize_t rows;
	int sorted_by = -1;
	if (!PyArg_ParseTuple(args, "On|i", &arrays, &rows, &sorted_by) || pq_ready(self) < 0)
		return NULL;
	if (rows < 0) {
		PyErr_SetString(PyExc_ValueError, "ParquetWriter.write: rows must be >= 0");
		return NULL;
	}
	PyObject *fast = PySequence_Fast(arrays, "ParquetWriter.write: arrays must be a sequence");
	if (!fast)
		return NULL;
	uint32_t n = self->ncols;
	PyObject *res = NULL;
	ws_pq_array_t *arr = calloc(n, sizeof(*arr));
	Py_buffer *vb = calloc(n, sizeof(*vb)), *mb = calloc(n, sizeof(*mb));
	PyObject **labels = calloc(n, sizeof(*labels));
	const uint8_t **lp = NULL;
	uint32_t *ll = NULL;
	if (!arr || !vb || !mb || !labels) {
		PyErr_NoMemory();
		goto out;
	}
	if (PySequence_Fast_GET_SIZE(fast) != (Py_ssize_t)n) {
		PyErr_Format(PyExc_ValueError, "ParquetWriter.write: %zd arrays for %u columns",
		             PySequence_Fast_GET_SIZE(fast), n);
		goto out;
	}
	size_t nlab = 0;
	for (uint32_t c = 0; c < n; c++) {
		PyObject *v, *m, *l;
		if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, c), "OOO", &v, &m, &l))
			goto out;
		if (pq_ints(v, &vb[c], rows, "values", &arr[c].elem, &arr[c].is_unsigned) < 0)
			goto out;
		arr[c].values = vb[c].buf;
		if (m != Py_None) {
			uint8_t e, u;
			if (pq_ints(m, &mb[c], rows, "a validity mask", &e, &u) < 0)
				goto out;
			if (e != 1) {
				PyErr_SetString(PyExc_TypeError, "ParquetWriter.write: a validity mask holds a byte a row");
				goto out;
			}
			arr[c].valid = mb[c].buf;
		}
		if (l != Py_None) {
			if (!(labels[c] = PySequence_Tuple(l)))
				goto out;
			nlab += (size_t)PyTuple_GET_SIZE(labels[c]);
		}
	}
	lp = malloc((nlab ? nlab : 1) * sizeof(*lp));
	ll = malloc((nlab ? nlab : 1) * sizeof(*ll));
	if (!lp || !ll) {
		PyErr_NoMemory();
		goto out;
	}
	size_t at = 0;
	for (uint32_t c = 0; c < n; c++) {
		if (!labels[c])
			continue;
		arr[c].labels = lp + at;
		arr[c].label_len = ll + at;
		arr[c].nlabels = (uint32_t)PyTuple_GET_SIZE(labels[c]);
		for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(labels[c]); i++, at++) {
			PyObject *b = PyTuple_GET_ITEM(labels[c], i);
			if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) > UINT32_MAX) {
				PyErr_SetString(PyExc_TypeError, "ParquetWriter.write: labels must be bytes");
				goto out;
			}
			lp[at] = (const uint8_t *)PyBytes_AS_STRING(b);
			ll[at] = (uint32_t)PyBytes_GET_SIZE(b);
		}
	}
	int rc;
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_pq_write_group(self->w, arr, (uint64_t)rows, sorted_by);
	Py_END_ALLOW_THREADS
	self->busy = 0;
	res = pq_result(self, rc);
out:
	for (uint32_t c = 0; arr && vb && mb && labels && c < n; c++) {
		if (vb[c].obj)
			PyBuffer_Release(&vb[c]);
		if (mb[c].obj)
			PyBuffer_Release(&mb[c]);
		Py_XDECREF(labels[c]);
	}
	free(lp);
	free(ll);
	free(arr);
	free(vb);
	free(mb);
	free(labels);
	Py_DECREF(fast);
	return res;
}

/* close(metadata): the footer with these key-value pairs (str: str); the file complete */
static PyObject *Pq_close(PqObject *self, PyObject *meta)
{
	if (pq_ready(self) < 0)
		return NULL;
	PyObject *items = PyMapping_Items(meta);
	if (!items)
		return NULL;
	Py_ssize_t n = PyList_GET_SIZE(items);
	ws_pq_kv_t *kv = calloc(n ? (size_t)n : 1, sizeof(*kv));
	PyObject *res = NULL;
	if (!kv) {
		PyErr_NoMemory();
		goto out;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *it = PyList_GET_ITEM(items, i);
		if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 2 || !(kv[i].key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(it, 0))) ||
		    !(kv[i].value = PyUnicode_AsUTF8(PyTuple_GET_ITEM(it, 1)))) {
			if (!PyErr_Occurred())
				PyErr_SetString(PyExc_TypeError, "ParquetWriter.close: metadata must map str to str");
			goto out;
		}
	}
	int rc;
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_pq_close(self->w, kv, (uint32_t)n);
	Py_END_ALLOW_THREADS
	self->busy = 0;
	res = pq_result(self, rc);
	ws_pq_free(self->w);
	self->w = NULL;
out:
	free(kv);
	Py_DECREF(items);
	return res;
}

/* abort(): the writer freed, the file left as it is (not valid Parquet: the caller removes it) */
static PyObject *Pq_abort(PqObject *self, PyObject *unused)
{
	(void)unused;
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "the ParquetWriter is in use");
		return NULL;
	}
	ws_pq_free(self->w);
	self->w = NULL;
	Py_RETURN_NONE;
}

static PyMethodDef Pq_methods[] = {
	{"write", (PyCFunction)Pq_write, METH_VARARGS,
	 "write(arrays, rows, sorted_by=-1): a row group; arrays: one (values, valid, labels) a column: values an "
	 "integer buffer (a string column's: codes into labels, a sequence of bytes), valid None or a byte a row "
	 "(0: null); sorted_by: the index of a column the rows are sorted on, or -1; GIL released"},
	{"close", (PyCFunction)Pq_close, METH_O,
	 "close(metadata): the footer, with metadata's str: str pairs; the file is then complete"},
	{"abort", (PyCFunction)Pq_abort, METH_NOARGS, "abort(): stop; the file is left incomplete"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject ParquetWriterType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.ParquetWriter",
	.tp_basicsize = sizeof(PqObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "ParquetWriter(path, columns, zstd_level=1, created_by='wirespeed'): a Parquet file "
	          "(products/parquet.h); columns: (name, type, int_bits, encoding, zstd, nullable, stats) tuples, "
	          "type and encoding Parquet's codes (INT32 1, INT64 2, BYTE_ARRAY 6; PLAIN 0, DELTA_BINARY_PACKED 5, "
	          "RLE_DICTIONARY 8)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Pq_init,
	.tp_dealloc = (destructor)Pq_dealloc,
	.tp_methods = Pq_methods,
};

/* mbo_pending(router) -> rows in the books' MBO log now */
static PyObject *py_mbo_pending(PyObject *self, PyObject *router)
{
	(void)self;
	ws_route_t *route;
	ws_books_t *books;
	pthread_mutex_t *lock;
	if (ws_py_router_hold(router, &route, &books, &lock) < 0)
		return NULL;
	pthread_mutex_lock(lock);
	uint32_t n;
	ws_books_mbo_peek(books, &n);
	pthread_mutex_unlock(lock);
	ws_py_router_drop(router);
	return PyLong_FromUnsignedLong(n);
}

/* mbo_limits() -> (rows one frame's messages leave at most, rows one packet can release with what it
 * frees from the hold): a reader feeding ring batches takes the log before it has less room */
static PyObject *py_mbo_limits(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return Py_BuildValue("(II)", (unsigned)WS_EXPORT_ROWS_PER_FRAME, (unsigned)WS_EXPORT_ROWS_PER_PACKET);
}

PyMethodDef ws_py_products_methods[] = {
	{"mbo_limits", py_mbo_limits, METH_NOARGS,
	 "mbo_limits() -> (rows per frame, rows per packet at most): products/export.h's bounds"},
	{"mbo_take", py_mbo_take, METH_VARARGS,
	 "mbo_take(router, columns, dicts, depth=None) -> (n, dropped): the books' MBO log into 14 column arrays "
	 "(products/export.h's order: ts_recv, ts_itch, sequence, order_id, price, size int64; locate int32; "
	 "session, flags int16; action, side, type int8 codes; line int8; symbol int32 codes), new values' codes "
	 "into the 4 dictionary tables (action, side, type: int8 x 257; locate: int32 x 65537; the last entry "
	 "counts), and with the depth log on its rows into depth (uint32, levels * 4 a row: book.h); the log "
	 "emptied"},
	{"mbo_pending", py_mbo_pending, METH_O, "mbo_pending(router) -> rows in the books' MBO log now"},
	{"mbo_pump", py_mbo_pump, METH_VARARGS,
	 "mbo_pump(router, source, grid=None) -> (state, last_ns): a PcapSource's frames through the FeedRouter "
	 "until its books' MBO log (or the DepthGrid) must be taken (1), the file ends (0) or is corrupt (-1); "
	 "GIL released"},
	{NULL, NULL, 0, NULL},
};
