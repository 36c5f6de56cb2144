/* py_capture.c - Python types over the rx engines: _native.KernelRx.
 *
 * Ownership: a KernelRx holds a reference to the RingWriter it publishes to
 * (so the ring stays joined while it runs) and borrows the socket fds it was
 * given (the Python transport owns and closes them). run() releases the GIL;
 * stop() and stats() may be called from other threads meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "rx_kernel.h"

ws_ring_writer_t *ws_py_ring_writer(PyObject *o);

typedef struct {
	PyObject_HEAD
	PyObject *writer;
	ws_rxk_sock_t socks[WS_RXK_MAX_SOCKS];
	unsigned n;
	int mode, stamp, running;
	_Atomic int stop;
	ws_rxk_stats_t st;
} KernelRxObject;

static int KernelRx_init(KernelRxObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"writer", "sockets", "mode", "stamp", NULL};
	PyObject *writer, *socks;
	const char *mode = "block", *stamp = "kernel";
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!|ss", kwlist, &writer, &PyList_Type, &socks, &mode, &stamp))
		return -1;
	if (!ws_py_ring_writer(writer))
		return -1;
	Py_ssize_t n = PyList_GET_SIZE(socks);
	if (n < 1 || n > WS_RXK_MAX_SOCKS) {
		PyErr_Format(PyExc_ValueError, "1 to %d sockets", WS_RXK_MAX_SOCKS);
		return -1;
	}
	if (strcmp(mode, "block") && strcmp(mode, "busy")) {
		PyErr_SetString(PyExc_ValueError, "mode is block or busy");
		return -1;
	}
	if (strcmp(stamp, "kernel") && strcmp(stamp, "user")) {
		PyErr_SetString(PyExc_ValueError, "stamp is kernel or user");
		return -1;
	}
	memset(self->socks, 0, sizeof(self->socks));
	for (Py_ssize_t i = 0; i < n; i++) {
		int fd;
		unsigned int stream, port;
		if (!PyArg_ParseTuple(PyList_GET_ITEM(socks, i), "iII", &fd, &stream, &port))
			return -1;
		if (stream > 0xffff || port > 0xffff) {
			PyErr_SetString(PyExc_ValueError, "stream and port must fit 16 bits");
			return -1;
		}
		self->socks[i].fd = fd;
		self->socks[i].stream = (uint16_t)stream;
		self->socks[i].port = (uint16_t)port;
	}
	self->n = (unsigned)n;
	self->mode = strcmp(mode, "busy") ? WS_RXK_BLOCK : WS_RXK_BUSY;
	self->stamp = strcmp(stamp, "user") ? WS_STAMP_KERNEL : WS_STAMP_USER;
	Py_XSETREF(self->writer, Py_NewRef(writer));
	return 0;
}

static PyObject *KernelRx_run(KernelRxObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_ring_writer_t *w = ws_py_ring_writer(self->writer);
	if (!w)
		return NULL;
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "already running");
		return NULL;
	}
	self->running = 1;
	atomic_store(&self->stop, 0);
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_rx_kernel_run(w, self->socks, self->n, self->mode, self->stamp, &self->stop, &self->st);
	Py_END_ALLOW_THREADS
	self->running = 0;
	if (rc) {
		errno = -rc;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	Py_RETURN_NONE;
}

static PyObject *KernelRx_stop(KernelRxObject *self, PyObject *noargs)
{
	(void)noargs;
	atomic_store(&self->stop, 1);
	Py_RETURN_NONE;
}

static PyObject *KernelRx_stats(KernelRxObject *self, PyObject *noargs)
{
	(void)noargs;
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K}", "packets", (unsigned long long)atomic_load(&self->st.packets),
	                     "bytes", (unsigned long long)atomic_load(&self->st.bytes), "sock_overflow",
	                     (unsigned long long)atomic_load(&self->st.sock_overflow), "too_big",
	                     (unsigned long long)atomic_load(&self->st.too_big), "polls",
	                     (unsigned long long)atomic_load(&self->st.polls), "empty_polls",
	                     (unsigned long long)atomic_load(&self->st.empty_polls));
}

static void KernelRx_dealloc(KernelRxObject *self)
{
	Py_XDECREF(self->writer);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef KernelRx_methods[] = {
	{"run", (PyCFunction)KernelRx_run, METH_NOARGS, "run(): receive into the ring until stop() (GIL released)"},
	{"stop", (PyCFunction)KernelRx_stop, METH_NOARGS, "stop(): end run() from another thread"},
	{"stats", (PyCFunction)KernelRx_stats, METH_NOARGS, "stats() -> dict"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject KernelRxType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.KernelRx",
	.tp_basicsize = sizeof(KernelRxObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "KernelRx(writer, sockets=[(fd, stream, port)], mode='block'|'busy', stamp='kernel'|'user')",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)KernelRx_init,
	.tp_dealloc = (destructor)KernelRx_dealloc,
	.tp_methods = KernelRx_methods,
};
