/* python/transports.c - the receive engines of transports/ as Python types
 * (_native.KernelRx, _native.XskRx), the pre-armed AF_XDP sender
 * (_native.UdpTx), the user-space TCP connection (_native.TcpXsk) and the
 * AF_XDP bind probe doctor uses.
 *
 * Ownership: a KernelRx holds a reference to the RingWriter it publishes to
 * (so the ring stays joined while it runs) and borrows the socket fds it was
 * given (the Python transport owns and closes them). An XskRx owns its
 * AF_XDP sockets and UMEMs. run() releases the GIL; stop() and stats() may
 * be called from other threads meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include "python/module.h"
#include "python/ring.h"
#include "python/transports.h"
#include "system/clock.h"
#include "transports/rx_kernel.h"
#include "transports/rx_xsk.h"
#include "transports/tcp_xsk.h"
#include "transports/xsk.h"

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
	if (!PyObject_TypeCheck(writer, &RingWriterType)) {
		PyErr_SetString(PyExc_TypeError, "expected a wirespeed._native.RingWriter");
		return -1;
	}
	Py_ssize_t n = PyList_GET_SIZE(socks);
	if (n < 1 || n > WS_RXK_MAX_SOCKS) {
		PyErr_Format(PyExc_ValueError, "1 to %d sockets", WS_RXK_MAX_SOCKS);
		return -1;
	}
	if (strcmp(mode, "block") && strcmp(mode, "busy")) {
		PyErr_SetString(PyExc_ValueError, "mode is block or busy");
		return -1;
	}
	if (strcmp(stamp, "kernel") && strcmp(stamp, "user") && strcmp(stamp, "hardware")) {
		PyErr_SetString(PyExc_ValueError, "stamp is kernel, user or hardware");
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
	self->stamp = !strcmp(stamp, "user") ? WS_STAMP_USER : !strcmp(stamp, "hardware") ? WS_STAMP_HARDWARE : WS_STAMP_KERNEL;
	Py_XSETREF(self->writer, Py_NewRef(writer));
	return 0;
}

static PyObject *KernelRx_run(KernelRxObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "already running");
		return NULL;
	}
	ws_ring_writer_t *w = ws_py_ring_writer_hold(self->writer); /* close() refuses until the loop ends */
	if (!w)
		return NULL;
	self->running = 1; /* stop is sticky: a stop() that came before run() is honoured */
	pthread_setname_np(pthread_self(), "ws-rx-kernel"); /* for top -H, perf, strace -p */
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_rx_kernel_run(w, self->socks, self->n, self->mode, self->stamp, &self->stop, &self->st);
	Py_END_ALLOW_THREADS
	self->running = 0;
	ws_py_ring_writer_drop(self->writer);
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
	.tp_doc = "KernelRx(writer, sockets=[(fd, stream, port)], mode='block'|'busy', stamp='kernel'|'user'|'hardware')",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)KernelRx_init,
	.tp_dealloc = (destructor)KernelRx_dealloc,
	.tp_methods = KernelRx_methods,
};

/* _native.XskRx: the af_xdp receive engine. It owns its AF_XDP sockets
 * (one per queue, opened in __init__ so every failure surfaces before any
 * XDP program is attached) and the flow table; run(writer) borrows a
 * reference to the writer for the duration of the run. close() refuses while
 * run() is in progress. */

typedef struct {
	PyObject_HEAD
	ws_xsk_t socks[WS_RXX_MAX_SOCKS];
	unsigned n;
	int mode, policy, running;
	int sharers;                  /* TcpXsk objects on its sockets' UMEMs (ws_py_xsk_rx_share) */
	_Atomic int stop;
	ws_flows_t flows;
	ws_rxx_stats_t st;
} XskRxObject;

static void XskRx_close_socks(XskRxObject *self)
{
	for (unsigned i = 0; i < self->n; i++)
		ws_xsk_close(&self->socks[i]);
	self->n = 0;
}

static int XskRx_init(XskRxObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"ifindex", "queues", "frames", "frame_size", "zerocopy", "need_wakeup",
	                         "mode", "malformed", "reserve", NULL};
	int ifindex, zerocopy = 1, need_wakeup = 1;
	PyObject *queues;
	unsigned int frames = 4096, frame_size = 4096, reserve = 0;
	const char *mode = "busy", *malformed = "skip";
	if (!PyArg_ParseTupleAndKeywords(args, kw, "iO!|IIipssI", kwlist, &ifindex, &PyList_Type, &queues, &frames,
	                                 &frame_size, &zerocopy, &need_wakeup, &mode, &malformed, &reserve))
		return -1;
	if (self->n) {
		PyErr_SetString(PyExc_RuntimeError, "already initialised");
		return -1;
	}
	Py_ssize_t nq = PyList_GET_SIZE(queues);
	if (nq < 1 || nq > WS_RXX_MAX_SOCKS) {
		PyErr_Format(PyExc_ValueError, "1 to %d queues", WS_RXX_MAX_SOCKS);
		return -1;
	}
	if (strcmp(mode, "block") && strcmp(mode, "busy")) {
		PyErr_SetString(PyExc_ValueError, "mode is block or busy");
		return -1;
	}
	if (strcmp(malformed, "skip") && strcmp(malformed, "keep")) {
		PyErr_SetString(PyExc_ValueError, "malformed is skip or keep");
		return -1;
	}
	if (zerocopy < 0 || zerocopy > 2) {
		PyErr_SetString(PyExc_ValueError, "zerocopy is 0 (never), 1 (if possible) or 2 (required)");
		return -1;
	}
	self->mode = strcmp(mode, "busy") ? WS_RXX_BLOCK : WS_RXX_BUSY;
	self->policy = strcmp(malformed, "keep") ? WS_RXX_SKIP_MALFORMED : WS_RXX_KEEP_MALFORMED;
	for (Py_ssize_t i = 0; i < nq; i++) {
		unsigned long q = PyLong_AsUnsignedLong(PyList_GET_ITEM(queues, i));
		if (PyErr_Occurred()) {
			XskRx_close_socks(self);
			return -1;
		}
		enum ws_xsk_step step;
		int rc;
		Py_BEGIN_ALLOW_THREADS
		rc = ws_xsk_open(&self->socks[self->n], ifindex, (uint32_t)q, frames, frame_size, zerocopy, need_wakeup,
		                 reserve, &step);
		Py_END_ALLOW_THREADS
		if (rc) {
			XskRx_close_socks(self);
			char call[160];
			snprintf(call, sizeof(call), "%s (ifindex=%d, queue=%lu)",
			         step == WS_XSK_STEP_NONE ? "AF_XDP socket setup" : ws_xsk_step_name(step), ifindex, q);
			errno = -rc;
			PyObject *msg = PyUnicode_FromFormat("%s: %s", call, strerror(-rc));
			PyObject *exc = msg ? PyObject_CallFunction(PyExc_OSError, "iO", -rc, msg) : NULL;
			Py_XDECREF(msg);
			if (exc) {
				PyErr_SetObject(PyExc_OSError, exc);
				Py_DECREF(exc);
			}
			return -1;
		}
		self->n++;
	}
	return 0;
}

static PyObject *XskRx_sockets(XskRxObject *self, PyObject *noargs)
{
	(void)noargs;
	PyObject *l = PyList_New(0);
	for (unsigned i = 0; l && i < self->n; i++) {
		ws_xsk_t *x = &self->socks[i];
		PyObject *d = Py_BuildValue("{s:i,s:I,s:O,s:O,s:I,s:I}", "fd", x->fd, "queue", x->queue, "zerocopy",
		                            x->zerocopy ? Py_True : Py_False, "need_wakeup",
		                            x->need_wakeup ? Py_True : Py_False, "frames", x->frame_cnt, "frame_size",
		                            x->frame_sz);
		if (!d || PyList_Append(l, d)) {
			Py_XDECREF(d);
			Py_CLEAR(l);
		}
		Py_XDECREF(d);
	}
	return l;
}

/* add_flow(group, port, stream): group as a dotted string, port host order. */
static PyObject *XskRx_add_flow(XskRxObject *self, PyObject *args)
{
	const char *group;
	unsigned int port, stream;
	if (!PyArg_ParseTuple(args, "sII", &group, &port, &stream))
		return NULL;
	struct in_addr a;
	if (inet_pton(AF_INET, group, &a) != 1 || !port || port > 0xffff || !stream || stream > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "add_flow(group 'a.b.c.d', port 1..65535, stream 1..65535)");
		return NULL;
	}
	if (ws_flows_add(&self->flows, a.s_addr, htons((uint16_t)port), (uint16_t)stream) < 0) {
		PyErr_Format(PyExc_ValueError, "at most %d flows", WS_MAX_FLOWS);
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *XskRx_remove_flow(XskRxObject *self, PyObject *args)
{
	const char *group;
	unsigned int port;
	if (!PyArg_ParseTuple(args, "sI", &group, &port))
		return NULL;
	struct in_addr a;
	if (inet_pton(AF_INET, group, &a) != 1 || port > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "remove_flow(group 'a.b.c.d', port)");
		return NULL;
	}
	ws_flows_remove(&self->flows, a.s_addr, htons((uint16_t)port));
	Py_RETURN_NONE;
}

static PyObject *XskRx_run(XskRxObject *self, PyObject *args)
{
	PyObject *writer;
	if (!PyArg_ParseTuple(args, "O", &writer))
		return NULL;
	if (!self->n) {
		PyErr_SetString(PyExc_RuntimeError, "closed");
		return NULL;
	}
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "already running");
		return NULL;
	}
	ws_ring_writer_t *w = ws_py_ring_writer_hold(writer); /* close() refuses until the loop ends */
	if (!w)
		return NULL;
	self->running = 1; /* stop is sticky: a stop() that came before run() is honoured */
	pthread_setname_np(pthread_self(), "ws-rx-af_xdp"); /* for top -H, perf, strace -p */
	Py_INCREF(writer); /* the object, and so the mapping, lives while the loop writes to it */
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_rx_xsk_run(w, self->socks, self->n, &self->flows, self->mode, self->policy, &self->stop, &self->st);
	Py_END_ALLOW_THREADS
	ws_py_ring_writer_drop(writer);
	Py_DECREF(writer);
	self->running = 0;
	if (rc) {
		errno = -rc;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	Py_RETURN_NONE;
}

static PyObject *XskRx_stop(XskRxObject *self, PyObject *noargs)
{
	(void)noargs;
	atomic_store(&self->stop, 1);
	Py_RETURN_NONE;
}

static PyObject *XskRx_stats(XskRxObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_rxx_stats_t *s = &self->st;
	PyObject *d = Py_BuildValue(
	    "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "packets", (unsigned long long)atomic_load(&s->packets), "bytes",
	    (unsigned long long)atomic_load(&s->bytes), "polls", (unsigned long long)atomic_load(&s->polls),
	    "empty_polls", (unsigned long long)atomic_load(&s->empty_polls), "wakeups",
	    (unsigned long long)atomic_load(&s->wakeups), "sleeps", (unsigned long long)atomic_load(&s->sleeps),
	    "malformed", (unsigned long long)atomic_load(&s->malformed), "unknown_flow",
	    (unsigned long long)atomic_load(&s->unknown_flow));
	for (int v = 1; d && v < WS_FRAME_VERDICTS; v++) {
		PyObject *x = PyLong_FromUnsignedLongLong(atomic_load(&s->verdicts[v]));
		if (!x || PyDict_SetItemString(d, ws_frame_verdict_names[v], x))
			Py_CLEAR(d);
		Py_XDECREF(x);
	}
	return d;
}

/* ws_py_xsk_stats sums XDP_STATISTICS over socks[0..n) into a dict. */
static PyObject *ws_py_xsk_stats(const ws_xsk_t *socks, unsigned n)
{
	ws_xsk_stats_t sum = {0};
	for (unsigned i = 0; i < n; i++) {
		ws_xsk_stats_t s;
		int rc = ws_xsk_statistics(&socks[i], &s);
		if (rc) {
			errno = -rc;
			return PyErr_SetFromErrno(PyExc_OSError);
		}
		sum.rx_dropped += s.rx_dropped;
		sum.rx_invalid_descs += s.rx_invalid_descs;
		sum.rx_ring_full += s.rx_ring_full;
		sum.rx_fill_ring_empty += s.rx_fill_ring_empty;
	}
	return Py_BuildValue("{s:K,s:K,s:K,s:K}", "rx_dropped", (unsigned long long)sum.rx_dropped,
	                     "rx_invalid_descs", (unsigned long long)sum.rx_invalid_descs, "rx_ring_full",
	                     (unsigned long long)sum.rx_ring_full, "rx_fill_ring_empty",
	                     (unsigned long long)sum.rx_fill_ring_empty);
}

/* statistics(): the kernel's XDP_STATISTICS, summed over the sockets. */
static PyObject *XskRx_statistics(XskRxObject *self, PyObject *noargs)
{
	(void)noargs;
	return ws_py_xsk_stats(self->socks, self->n);
}

/* xsk_statistics(fds): the same for AF_XDP sockets someone else opened
 * (DPDK's net_af_xdp, whose ethdev counters leave out ring-full drops). */
static PyObject *py_xsk_statistics(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *list;
	if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &list))
		return NULL;
	ws_xsk_t socks[WS_RXX_MAX_SOCKS];
	Py_ssize_t n = PyList_GET_SIZE(list);
	if (n > WS_RXX_MAX_SOCKS) {
		PyErr_Format(PyExc_ValueError, "at most %d sockets", WS_RXX_MAX_SOCKS);
		return NULL;
	}
	memset(socks, 0, sizeof(socks));
	for (Py_ssize_t i = 0; i < n; i++) {
		socks[i].fd = (int)PyLong_AsLong(PyList_GET_ITEM(list, i));
		if (socks[i].fd < 0 || PyErr_Occurred()) {
			PyErr_SetString(PyExc_ValueError, "xsk_statistics([fd, ...])");
			return NULL;
		}
	}
	return ws_py_xsk_stats(socks, (unsigned)n);
}

static PyObject *XskRx_close(XskRxObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "cannot close while run() is in progress; stop() first");
		return NULL;
	}
	if (self->sharers) {
		PyErr_SetString(PyExc_RuntimeError, "cannot close while a user-space TCP shares a socket; close it first");
		return NULL;
	}
	XskRx_close_socks(self);
	Py_RETURN_NONE;
}

ws_xsk_t *ws_py_xsk_rx_share(PyObject *o, uint32_t queue)
{
	if (!PyObject_TypeCheck(o, &XskRxType))
		return NULL;
	XskRxObject *self = (XskRxObject *)o;
	for (unsigned i = 0; i < self->n; i++)
		if (self->socks[i].queue == queue && self->socks[i].reserved) {
			self->sharers++;
			return &self->socks[i];
		}
	return NULL;
}

void ws_py_xsk_rx_unshare(PyObject *o)
{
	if (PyObject_TypeCheck(o, &XskRxType) && ((XskRxObject *)o)->sharers > 0)
		((XskRxObject *)o)->sharers--;
}

static void XskRx_dealloc(XskRxObject *self)
{
	XskRx_close_socks(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef XskRx_methods[] = {
	{"sockets", (PyCFunction)XskRx_sockets, METH_NOARGS, "sockets() -> [{fd, queue, zerocopy, need_wakeup, ...}]"},
	{"add_flow", (PyCFunction)XskRx_add_flow, METH_VARARGS, "add_flow(group, port, stream)"},
	{"remove_flow", (PyCFunction)XskRx_remove_flow, METH_VARARGS, "remove_flow(group, port)"},
	{"run", (PyCFunction)XskRx_run, METH_VARARGS, "run(writer): receive into the ring until stop() (GIL released)"},
	{"stop", (PyCFunction)XskRx_stop, METH_NOARGS, "stop(): end run() from another thread"},
	{"stats", (PyCFunction)XskRx_stats, METH_NOARGS, "stats() -> dict of the loop's counters"},
	{"statistics", (PyCFunction)XskRx_statistics, METH_NOARGS, "statistics() -> the kernel's XDP_STATISTICS, summed"},
	{"close", (PyCFunction)XskRx_close, METH_NOARGS, "close(): close the sockets and free the UMEMs"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject XskRxType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.XskRx",
	.tp_basicsize = sizeof(XskRxObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "XskRx(ifindex, queues, frames=4096, frame_size=4096, zerocopy=1, need_wakeup=True, mode='busy',"
	          " malformed='skip')",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)XskRx_init,
	.tp_dealloc = (destructor)XskRx_dealloc,
	.tp_methods = XskRx_methods,
};

static PyObject *py_xsk_probe(PyObject *self, PyObject *args)
{
	(void)self;
	int ifindex;
	unsigned int queue_id, flags;
	if (!PyArg_ParseTuple(args, "iII", &ifindex, &queue_id, &flags))
		return NULL;
	if (flags > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "bind flags do not fit 16 bits");
		return NULL;
	}
	enum ws_xsk_step step;
	int rc = ws_xsk_probe(ifindex, queue_id, (uint16_t)flags, &step);
	if (rc < 0) {
		char call[160];
		snprintf(call, sizeof(call), "%s (ifindex=%d, queue=%u, flags=0x%x)",
		         ws_xsk_step_name(step), ifindex, queue_id, flags);
		return ws_raise(NULL, -rc, call);
	}
	Py_RETURN_NONE;
}

/* -- _native.UdpTx: pre-armed UDP frames through AF_XDP (tx_xsk.h) ------------------ */

typedef struct {
	PyObject_HEAD
	ws_udp_tx_t t;
	int open;
} UdpTxObject;

static int UdpTx_init(UdpTxObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"ifindex", "queue", "frames", "zerocopy", NULL};
	int ifindex, zerocopy = 1;
	unsigned int queue, frames = 256;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "iI|Ip", kwlist, &ifindex, &queue, &frames, &zerocopy))
		return -1;
	if (self->open) {
		ws_udp_tx_close(&self->t);
		self->open = 0;
	}
	enum ws_xsk_step step;
	int rc = ws_udp_tx_open(&self->t, ifindex, queue, frames, zerocopy, &step);
	if (rc) {
		char call[96];
		snprintf(call, sizeof(call), "%s (ifindex %d, queue %u)", ws_xsk_step_name(step), ifindex, queue);
		ws_raise(NULL, -rc, call);
		return -1;
	}
	self->open = 1;
	return 0;
}

static int UdpTx_ready(UdpTxObject *self);

/* flow(dmac, smac, saddr, daddr, sport, dport, ttl=64) -> id: arm a flow. */
static PyObject *UdpTx_flow(UdpTxObject *self, PyObject *args)
{
	Py_buffer dmac, smac;
	const char *saddr, *daddr;
	unsigned int sport, dport, ttl = 64;
	if (!PyArg_ParseTuple(args, "y*y*ssII|I", &dmac, &smac, &saddr, &daddr, &sport, &dport, &ttl))
		return NULL;
	int bad = dmac.len != 6 || smac.len != 6 || sport > 65535 || dport > 65535 || ttl > 255;
	uint8_t dm[6], sm[6];
	if (!bad) {
		memcpy(dm, dmac.buf, 6);
		memcpy(sm, smac.buf, 6);
	}
	PyBuffer_Release(&dmac);
	PyBuffer_Release(&smac);
	struct in_addr sa, da;
	if (bad || inet_pton(AF_INET, saddr, &sa) != 1 || inet_pton(AF_INET, daddr, &da) != 1) {
		PyErr_SetString(PyExc_ValueError, "flow: MACs of 6 bytes, IPv4 addresses, ports 0..65535, ttl 0..255");
		return NULL;
	}
	if (!UdpTx_ready(self))
		return NULL;
	int id = ws_udp_tx_flow(&self->t, dm, sm, sa.s_addr, da.s_addr, htons((uint16_t)sport), htons((uint16_t)dport),
	                        (uint8_t)ttl);
	if (id < 0) {
		PyErr_Format(PyExc_ValueError, "flow: at most %d flows on one sender", WS_UDP_TX_FLOWS);
		return NULL;
	}
	return PyLong_FromLong(id);
}

static void UdpTx_dealloc(UdpTxObject *self)
{
	if (self->open)
		ws_udp_tx_close(&self->t);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int UdpTx_ready(UdpTxObject *self)
{
	if (!self->open) {
		PyErr_SetString(PyExc_RuntimeError, "UdpTx is closed");
		return 0;
	}
	return 1;
}

/* send(payload, flow=0) -> 0 or a negative errno (-ENOBUFS: no free frame; -EMSGSIZE; -EINVAL: no such flow). */
static PyObject *UdpTx_send(UdpTxObject *self, PyObject *args)
{
	Py_buffer b;
	unsigned int flow = 0;
	if (!PyArg_ParseTuple(args, "y*|I", &b, &flow))
		return NULL;
	PyObject *res = NULL;
	if (UdpTx_ready(self)) {
		ws_udp_tx_reap(&self->t);
		res = PyLong_FromLong(ws_udp_tx_send(&self->t, flow, b.buf, (uint32_t)b.len));
	}
	PyBuffer_Release(&b);
	return res;
}

static PyObject *UdpTx_stats(UdpTxObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!UdpTx_ready(self))
		return NULL;
	ws_udp_tx_reap(&self->t);
	const ws_udp_tx_stats_t *s = &self->t.st;
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:O,s:I,s:I}", "sent", s->sent, "completed", s->completed,
	                     "kicks", s->kicks, "kick_errors", s->kick_errors, "no_frame", s->no_frame, "too_big",
	                     s->too_big, "headers_written", s->headers_written, "zerocopy",
	                     self->t.x.zerocopy ? Py_True : Py_False, "free", self->t.n_free, "max_payload",
	                     self->t.max_payload);
}

static PyObject *UdpTx_close(UdpTxObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->open)
		ws_udp_tx_close(&self->t);
	self->open = 0;
	Py_RETURN_NONE;
}

static PyMethodDef UdpTx_methods[] = {
	{"flow", (PyCFunction)UdpTx_flow, METH_VARARGS, "flow(dmac, smac, saddr, daddr, sport, dport, ttl=64) -> id"},
	{"send", (PyCFunction)UdpTx_send, METH_VARARGS, "send(payload, flow=0) -> 0 or -errno: one pre-armed datagram"},
	{"stats", (PyCFunction)UdpTx_stats, METH_NOARGS, "stats() -> dict"},
	{"close", (PyCFunction)UdpTx_close, METH_NOARGS, "close(): the socket and UMEM go"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject UdpTxType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.UdpTx",
	.tp_basicsize = sizeof(UdpTxObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "UdpTx(ifindex, queue, frames=256, zerocopy=True): pre-armed UDP frames through AF_XDP "
	          "(transports/tx_xsk.h); flow() arms a flow, send() sends on one",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)UdpTx_init,
	.tp_dealloc = (destructor)UdpTx_dealloc,
	.tp_methods = UdpTx_methods,
};

ws_udp_tx_t *ws_py_udp_tx(PyObject *o)
{
	if (!PyObject_TypeCheck(o, &UdpTxType) || !((UdpTxObject *)o)->open)
		return NULL;
	return &((UdpTxObject *)o)->t;
}

/* -- _native.TcpXsk: one TCP connection in user space over AF_XDP (tcp_xsk.h) ------- */

typedef struct {
	PyObject_HEAD
	ws_tcp_xsk_t *t;
	int lent;          /* an OrderSession uses it: only stats() and state from Python meanwhile */
	PyObject *share;   /* the XskRx whose socket's UMEM it shares (held while t lives), or NULL */
} TcpXskObject;

static void TcpXsk_free(TcpXskObject *self)
{
	ws_tcp_xsk_delete(self->t); /* before the capture's socket it shared can go */
	self->t = NULL;
	if (self->share) {
		ws_py_xsk_rx_unshare(self->share);
		Py_CLEAR(self->share);
	}
}

static int ws_mac(Py_buffer *b, uint8_t out[6])
{
	int ok = b->len == 6;
	if (ok)
		memcpy(out, b->buf, 6);
	PyBuffer_Release(b);
	return ok;
}

static int TcpXsk_init(TcpXskObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"ifindex", "queue", "smac", "dmac", "saddr", "daddr", "dport", "frames", "zerocopy",
	                         "rx_drop_ppm", "tcp_map_fd", "xsks_map_fd", "xsk_index", "share", "rx_reorder_ppm",
	                         "tx_reorder_ppm", NULL};
	ws_tcp_xsk_cfg_t cfg = {.tcp_map_fd = -1, .xsks_map_fd = -1, .zerocopy = 1};
	Py_buffer smac, dmac;
	const char *saddr, *daddr;
	unsigned int queue, dport, frames = 512, drop = 0, index = 0, rxr = 0, txr = 0;
	PyObject *share = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "iIy*y*ssI|IpIiiIOII", kwlist, &cfg.ifindex, &queue, &smac, &dmac,
	                                 &saddr, &daddr, &dport, &frames, &cfg.zerocopy, &drop, &cfg.tcp_map_fd,
	                                 &cfg.xsks_map_fd, &index, &share, &rxr, &txr))
		return -1;
	int macs = ws_mac(&smac, cfg.smac) & ws_mac(&dmac, cfg.dmac);
	struct in_addr sa, da;
	if (!macs || inet_pton(AF_INET, saddr, &sa) != 1 || inet_pton(AF_INET, daddr, &da) != 1 || !dport ||
	    dport > 65535 || drop > 1000000 || rxr > 1000000 || txr > 1000000) {
		PyErr_SetString(PyExc_ValueError, "TcpXsk: MACs of 6 bytes, IPv4 addresses, dport 1..65535, rx_drop_ppm "
		                                  "0..1000000");
		return -1;
	}
	if (self->t) {
		PyErr_SetString(PyExc_RuntimeError, "TcpXsk is already initialised");
		return -1;
	}
	if (share != Py_None) {
		cfg.share = ws_py_xsk_rx_share(share, queue);
		if (!cfg.share) {
			PyErr_Format(PyExc_ValueError, "share: an XskRx with a socket on queue %u opened with a reserve", queue);
			return -1;
		}
		Py_INCREF(share);
		self->share = share;
	}
	cfg.queue = queue;
	cfg.saddr = sa.s_addr;
	cfg.daddr = da.s_addr;
	cfg.dport = htons((uint16_t)dport);
	cfg.frames = frames;
	cfg.rx_drop_ppm = drop;
	cfg.rx_reorder_ppm = rxr;
	cfg.tx_reorder_ppm = txr;
	cfg.xsk_index = index;
	int err = 0;
	enum ws_xsk_step step = WS_XSK_STEP_NONE;
	self->t = ws_tcp_xsk_open(&cfg, &err, &step);
	if (!self->t) {
		TcpXsk_free(self);
		char call[96];
		snprintf(call, sizeof(call), "%s (ifindex %d, queue %u)",
		         step == WS_XSK_STEP_NONE ? "user-space TCP setup" : ws_xsk_step_name(step), cfg.ifindex, queue);
		ws_raise(NULL, -err, call);
		return -1;
	}
	return 0;
}

static void TcpXsk_dealloc(TcpXskObject *self)
{
	TcpXsk_free(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Methods that drive the connection refuse while a session has it. */
static ws_tcp_xsk_t *TcpXsk_own(TcpXskObject *self)
{
	if (!self->t)
		PyErr_SetString(PyExc_RuntimeError, "TcpXsk is closed");
	else if (self->lent)
		PyErr_SetString(PyExc_RuntimeError, "TcpXsk is an order session's: drive it through the session");
	return self->t && !self->lent ? self->t : NULL;
}

static PyObject *TcpXsk_connect(TcpXskObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_tcp_xsk_t *t = TcpXsk_own(self);
	if (!t)
		return NULL;
	int rc = ws_tcp_xsk_connect(t, ws_mono_ns());
	if (rc)
		return ws_raise(NULL, -rc, "connect (port reservation, steering entry)");
	Py_RETURN_NONE;
}

static PyObject *TcpXsk_poll(TcpXskObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_tcp_xsk_t *t = TcpXsk_own(self);
	if (!t)
		return NULL;
	ws_tcp_xsk_poll(t, ws_mono_ns());
	Py_RETURN_NONE;
}

/* send(data) -> bytes taken (all) or a negative errno (-EAGAIN: the send buffer is full; -ENOTCONN). */
static PyObject *TcpXsk_send(TcpXskObject *self, PyObject *args)
{
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "y*", &b))
		return NULL;
	ws_tcp_xsk_t *t = TcpXsk_own(self);
	PyObject *res = t ? PyLong_FromLong(ws_tcp_xsk_send(t, b.buf, (uint32_t)b.len, ws_mono_ns())) : NULL;
	PyBuffer_Release(&b);
	return res;
}

/* recv(cap) -> bytes (b"" at the peer's FIN), or None if nothing yet; OSError when the connection ended badly. */
static PyObject *TcpXsk_recv(TcpXskObject *self, PyObject *args)
{
	unsigned int cap = 65536;
	if (!PyArg_ParseTuple(args, "|I", &cap))
		return NULL;
	ws_tcp_xsk_t *t = TcpXsk_own(self);
	if (!t)
		return NULL;
	PyObject *out = PyBytes_FromStringAndSize(NULL, cap);
	if (!out)
		return NULL;
	int n = ws_tcp_xsk_recv(t, (uint8_t *)PyBytes_AS_STRING(out), cap, ws_mono_ns());
	if (n == -EAGAIN) {
		Py_DECREF(out);
		Py_RETURN_NONE;
	}
	if (n < 0) {
		Py_DECREF(out);
		return ws_raise(NULL, -n, "recv");
	}
	_PyBytes_Resize(&out, n);
	return out;
}

static PyObject *TcpXsk_close(TcpXskObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_tcp_xsk_t *t = TcpXsk_own(self);
	if (!t)
		return NULL;
	ws_tcp_xsk_close(t, ws_mono_ns());
	Py_RETURN_NONE;
}

static PyObject *TcpXsk_abort(TcpXskObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_tcp_xsk_t *t = TcpXsk_own(self);
	if (!t)
		return NULL;
	ws_tcp_xsk_abort(t, ws_mono_ns());
	Py_RETURN_NONE;
}

static PyObject *TcpXsk_delete(TcpXskObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->lent) {
		PyErr_SetString(PyExc_RuntimeError, "TcpXsk is an order session's: close the session first");
		return NULL;
	}
	TcpXsk_free(self);
	Py_RETURN_NONE;
}

static PyObject *TcpXsk_stats(TcpXskObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!self->t) {
		PyErr_SetString(PyExc_RuntimeError, "TcpXsk is closed");
		return NULL;
	}
	ws_tcp_xsk_stats_t s = *ws_tcp_xsk_stats(self->t);
	PyObject *d = Py_BuildValue(
	    "{s:s,s:s,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "state",
	    ws_tcp_state_names[ws_tcp_xsk_state(self->t)], "end", ws_tcp_end_names[ws_tcp_xsk_end(self->t)],
	    "segs_out", s.segs_out, "segs_in", s.segs_in, "bytes_out", s.bytes_out, "bytes_in", s.bytes_in,
	    "retransmits", s.retransmits, "rto_expiries", s.rto_expiries, "fast_retransmits", s.fast_retransmits,
	    "dup_acks_in", s.dup_acks_in, "dup_acks_out", s.dup_acks_out, "out_of_order", s.out_of_order,
	    "ooo_dropped", s.ooo_dropped, "old_segments", s.old_segments, "zero_window_waits", s.zero_window_waits,
	    "zero_window_probes", s.zero_window_probes, "rcv_window_full", s.rcv_window_full, "bad_csum", s.bad_csum,
	    "malformed", s.malformed, "foreign", s.foreign, "injected_drops", s.injected_drops, "injected_reorders",
	    s.injected_reorders, "no_frame", s.no_frame, "kicks", s.kicks, "resets_in", s.resets_in);
	if (!d)
		return NULL;
	ws_xsk_stats_t k = {0};
	ws_xsk_statistics(ws_tcp_xsk_socket(self->t), &k); /* zeros if the kernel will not say */
	PyObject *more = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:I}", "resets_out",
	                               s.resets_out, "csum_partial", s.csum_partial, "xsk_rx_dropped", k.rx_dropped,
	                               "xsk_rx_ring_full", k.rx_ring_full, "xsk_fill_ring_empty", k.rx_fill_ring_empty, "kick_errors", s.kick_errors, "srtt_us", s.srtt_us, "rttvar_us",
	                               s.rttvar_us, "rto_ms", s.rto_ms, "snd_wnd", s.snd_wnd, "cwnd", s.cwnd, "mss",
	                               s.mss, "snd_wscale", s.snd_wscale, "rcv_wscale", s.rcv_wscale, "local_port",
	                               ws_tcp_xsk_local_port(self->t), "zerocopy",
	                               ws_tcp_xsk_socket(self->t)->zerocopy ? Py_True : Py_False, "unacked",
	                               ws_tcp_xsk_unacked(self->t));
	if (!more || PyDict_Update(d, more)) {
		Py_XDECREF(more);
		Py_DECREF(d);
		return NULL;
	}
	Py_DECREF(more);
	return d;
}

static PyObject *TcpXsk_get_fd(TcpXskObject *self, void *closure)
{
	(void)closure;
	return PyLong_FromLong(self->t ? ws_tcp_xsk_fd(self->t) : -1);
}

static PyMethodDef TcpXsk_methods[] = {
	{"connect", (PyCFunction)TcpXsk_connect, METH_NOARGS, "connect(): reserve a port, steer it, send the SYN"},
	{"poll", (PyCFunction)TcpXsk_poll, METH_NOARGS, "poll(): take what arrived, answer it, run the timers"},
	{"send", (PyCFunction)TcpXsk_send, METH_VARARGS, "send(data) -> len(data), or -EAGAIN / -ENOTCONN"},
	{"recv", (PyCFunction)TcpXsk_recv, METH_VARARGS, "recv(cap=65536) -> bytes, b'' at FIN, None if none yet"},
	{"close", (PyCFunction)TcpXsk_close, METH_NOARGS, "close(): FIN after what is buffered"},
	{"abort", (PyCFunction)TcpXsk_abort, METH_NOARGS, "abort(): RST, connection forgotten"},
	{"delete", (PyCFunction)TcpXsk_delete, METH_NOARGS, "delete(): socket and UMEM go (no word to the peer)"},
	{"stats", (PyCFunction)TcpXsk_stats, METH_NOARGS, "stats() -> dict: state, counters, RTT, windows"},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef TcpXsk_getset[] = {
	{"fd", (getter)TcpXsk_get_fd, NULL, "the AF_XDP socket (poll() it for POLLIN)", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject TcpXskType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.TcpXsk",
	.tp_basicsize = sizeof(TcpXskObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "TcpXsk(ifindex, queue, smac, dmac, saddr, daddr, dport, frames=512, zerocopy=True, rx_drop_ppm=0, "
	          "tcp_map_fd=-1, xsks_map_fd=-1, xsk_index=0, share=None): one TCP client connection in user space over "
	          "AF_XDP (share: an XskRx whose queue's UMEM to share) "
	          "(transports/tcp_xsk.h); wirespeed.transports.tcp_xsk sets it up",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)TcpXsk_init,
	.tp_dealloc = (destructor)TcpXsk_dealloc,
	.tp_methods = TcpXsk_methods,
	.tp_getset = TcpXsk_getset,
};

ws_tcp_xsk_t *ws_py_tcp_xsk_lend(PyObject *o)
{
	if (!PyObject_TypeCheck(o, &TcpXskType) || !((TcpXskObject *)o)->t || ((TcpXskObject *)o)->lent)
		return NULL;
	((TcpXskObject *)o)->lent = 1;
	return ((TcpXskObject *)o)->t;
}

void ws_py_tcp_xsk_return(PyObject *o)
{
	if (PyObject_TypeCheck(o, &TcpXskType))
		((TcpXskObject *)o)->lent = 0;
}

PyMethodDef ws_py_transports_methods[] = {
	{"xsk_probe", py_xsk_probe, METH_VARARGS,
	 "xsk_probe(ifindex, queue_id, bind_flags) -> None; raises OSError naming the refused step."},
	{"xsk_statistics", py_xsk_statistics, METH_VARARGS,
	 "xsk_statistics([fd, ...]) -> XDP_STATISTICS summed over AF_XDP sockets opened elsewhere"},
	{NULL, NULL, 0, NULL},
};
