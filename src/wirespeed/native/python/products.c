/* python/products.c - a recording into the books' MBO log (products/export.h),
 * for wirespeed.products.
 *
 * Ownership: the FeedRouter and the PcapSource are held for the call (the
 * router's books under their mutex, the source marked busy), and the GIL
 * is released while frames are read and applied.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

PyMethodDef ws_py_products_methods[] = {
	{"mbo_pump", py_mbo_pump, METH_VARARGS,
	 "mbo_pump(router, source) -> (state, last_ns): a PcapSource's frames through the FeedRouter until its "
	 "books' MBO log must be taken (1), the file ends (0) or is corrupt (-1); GIL released"},
	{NULL, NULL, 0, NULL},
};
