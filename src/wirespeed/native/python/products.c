/* python/products.c - a recording into the books' MBO log (products/export.h),
 * for wirespeed.products.
 *
 * Ownership: the FeedRouter and the PcapSource are held for the call (the
 * router's books under their mutex, the source marked busy), and the GIL
 * is released while frames are read and applied.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "products/export.h"
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

/* mbo_take(router, columns, depth=None) -> (n, dropped): the books' MBO log
 * into the 13 writable arrays of `columns` (a sequence in ws_export_cols_t's
 * order, each of its type and at least mbo_pending(router) long), and with
 * the depth log on, its rows into depth (uint32, levels * 4 a row); the log
 * emptied. */
static PyObject *py_mbo_take(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *router, *seq, *depth_obj = Py_None;
	if (!PyArg_ParseTuple(args, "OO|O", &router, &seq, &depth_obj))
		return NULL;
	Py_buffer db = {0};
	enum { NCOL = 13 };
	static const Py_ssize_t width[NCOL] = {8, 8, 8, 8, 8, 8, 2, 2, 2, 1, 1, 1, 1};
	PyObject *fast = PySequence_Fast(seq, "mbo_take: columns must be a sequence of 13 arrays");
	if (!fast)
		return NULL;
	if (PySequence_Fast_GET_SIZE(fast) != NCOL) {
		Py_DECREF(fast);
		PyErr_SetString(PyExc_ValueError, "mbo_take: 13 columns (see products/export.h)");
		return NULL;
	}
	Py_buffer b[NCOL];
	int got = 0;
	PyObject *res = NULL;
	ws_route_t *route;
	ws_books_t *books;
	pthread_mutex_t *lock;
	if (ws_py_router_hold(router, &route, &books, &lock) < 0)
		goto out;
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
	                      b[7].buf, b[8].buf, b[9].buf, b[10].buf, b[11].buf, b[12].buf};
	Py_BEGIN_ALLOW_THREADS
	ws_export_columns(rows, n, &c);
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
	Py_DECREF(fast);
	return res;
}

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
	 "mbo_take(router, columns) -> (n, dropped): the books' MBO log into 13 column arrays (products/export.h's "
	 "order: ts_recv, ts_itch, sequence, order_id, price, size int64; locate uint16; session, flags int16; "
	 "action, side, type uint8; line int8), and with the depth log on its rows into depth (uint32, levels * 4 "
	 "a row: book.h); the log emptied"},
	{"mbo_pending", py_mbo_pending, METH_O, "mbo_pending(router) -> rows in the books' MBO log now"},
	{"mbo_pump", py_mbo_pump, METH_VARARGS,
	 "mbo_pump(router, source, grid=None) -> (state, last_ns): a PcapSource's frames through the FeedRouter "
	 "until its books' MBO log (or the DepthGrid) must be taken (1), the file ends (0) or is corrupt (-1); "
	 "GIL released"},
	{NULL, NULL, 0, NULL},
};
