/* python/products.c - a recording into the books' MBO log (products/export.h),
 * for wirespeed.products.
 *
 * Ownership: the FeedRouter and the PcapSource are held for the call (the
 * router's books under their mutex, the source marked busy), and the GIL
 * is released while frames are read and applied.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "products/export.h"
#include "python/book.h"
#include "python/formats.h"
#include "python/module.h"

/* mbo_pump(router, source) -> (state, last_ns): frames from source into the
 * router (last_ns: the newest capture stamp read so far) until its books' MBO log must be taken (state 1), the file ends
 * (0) or is corrupt (-1: source.stats()["error"]). */
static PyObject *py_mbo_pump(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *router;
	PcapSourceObject *src;
	if (!PyArg_ParseTuple(args, "OO!", &router, &PcapSourceType, &src))
		return NULL;
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
	if (!ws_books_mbo_ctx(books)) {
		ws_py_router_drop(router);
		PyErr_SetString(PyExc_ValueError, "mbo_pump: the books' MBO log is off (BookEngine.log_mbo)");
		return NULL;
	}
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
	rc = ws_export_pump(&src->rd, route, books, &clk);
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

PyMethodDef ws_py_products_methods[] = {
	{"mbo_take", py_mbo_take, METH_VARARGS,
	 "mbo_take(router, columns) -> (n, dropped): the books' MBO log into 13 column arrays (products/export.h's "
	 "order: ts_recv, ts_itch, sequence, order_id, price, size int64; locate uint16; session, flags int16; "
	 "action, side, type uint8; line int8), and with the depth log on its rows into depth (uint32, levels * 4 "
	 "a row: book.h); the log emptied"},
	{"mbo_pending", py_mbo_pending, METH_O, "mbo_pending(router) -> rows in the books' MBO log now"},
	{"mbo_pump", py_mbo_pump, METH_VARARGS,
	 "mbo_pump(router, source) -> (state, last_ns): a PcapSource's frames through the FeedRouter until its "
	 "books' MBO log must be taken (1), the file ends (0) or is corrupt (-1); GIL released"},
	{NULL, NULL, 0, NULL},
};
