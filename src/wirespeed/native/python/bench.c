/* python/bench.c - the measurement kernels of bench/bench.h, for
 * wirespeed/bench. The GIL is released for the whole of each run; sample
 * buffers are the caller's (numpy), written in place and borrowed for the
 * call only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bench/bench.h"
#include "python/module.h"
#include "python/transports.h"
#include "ring/ring.h"

static PyObject *py_tsc(PyObject *self, PyObject *noargs)
{
	(void)self;
	(void)noargs;
	return PyLong_FromUnsignedLongLong(ws_tsc());
}

static PyObject *py_pin_cpu(PyObject *self, PyObject *args)
{
	(void)self;
	int cpu;
	if (!PyArg_ParseTuple(args, "i", &cpu))
		return NULL;
	int rc = ws_pin_cpu(cpu);
	if (rc)
		return ws_raise(NULL, -rc, "pthread_setaffinity_np()");
	Py_RETURN_NONE;
}

static PyObject *py_bench_pingpong(PyObject *self, PyObject *args)
{
	(void)self;
	int a, b;
	Py_buffer s;
	if (!PyArg_ParseTuple(args, "iiw*", &a, &b, &s))
		return NULL;
	uint64_t iters = (uint64_t)s.len / 8;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_bench_pingpong(a, b, s.buf, iters);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&s);
	if (rc)
		return ws_raise(NULL, -rc, "pthread_create()");
	Py_RETURN_NONE;
}

/* bench_stalls(seconds, threshold_ns, lens) -> (n, stolen_ns): the calling
 * thread's stalls (ws_bench_stalls), their lengths into a uint64 buffer;
 * the GIL is released while it spins. */
static PyObject *py_bench_stalls(PyObject *self, PyObject *args)
{
	(void)self;
	double seconds;
	unsigned long long threshold;
	Py_buffer ln;
	if (!PyArg_ParseTuple(args, "dKw*", &seconds, &threshold, &ln))
		return NULL;
	if (seconds < 0 || seconds > 3600) {
		PyBuffer_Release(&ln);
		PyErr_SetString(PyExc_ValueError, "bench_stalls: 0..3600 s");
		return NULL;
	}
	uint64_t n = 0, stolen = 0;
	Py_BEGIN_ALLOW_THREADS
	ws_bench_stalls((uint64_t)(seconds * 1e9), threshold, ln.buf, (uint64_t)ln.len / 8, &n, &stolen);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&ln);
	return Py_BuildValue("(KK)", (unsigned long long)n, (unsigned long long)stolen);
}

static PyObject *py_bench_ring_writer(PyObject *self, PyObject *args)
{
	(void)self;
	const char *path;
	unsigned long long n, gap;
	unsigned int sz;
	if (!PyArg_ParseTuple(args, "sKIK", &path, &n, &sz, &gap))
		return NULL;
	if (sz > WS_RING_MAX_PAYLOAD) {
		PyErr_SetString(PyExc_ValueError, "record size above the ring's maximum");
		return NULL;
	}
	uint64_t el = 0;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_bench_ring_writer(path, n, sz, gap, &el);
	Py_END_ALLOW_THREADS
	if (rc) {
		PyErr_Format(PyExc_RuntimeError, "bench writer: %s", ws_ring_strerror(rc));
		return NULL;
	}
	return PyLong_FromUnsignedLongLong(el);
}

static PyObject *py_bench_ring_reader(PyObject *self, PyObject *args)
{
	(void)self;
	const char *path;
	unsigned long long last, timeout;
	PyObject *lat_obj;
	if (!PyArg_ParseTuple(args, "sKKO", &path, &last, &timeout, &lat_obj))
		return NULL;
	Py_buffer lat = {0};
	int have_lat = lat_obj != Py_None;
	if (have_lat && PyObject_GetBuffer(lat_obj, &lat, PyBUF_WRITABLE) < 0)
		return NULL;
	uint64_t got = 0, lost = 0, el = 0, lat_n = 0, rejected = 0;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_bench_ring_reader(path, last, timeout, have_lat ? lat.buf : NULL,
	                          have_lat ? (uint64_t)lat.len / 8 : 0, &lat_n, &rejected, &got, &lost, &el);
	Py_END_ALLOW_THREADS
	if (have_lat)
		PyBuffer_Release(&lat);
	if (rc) {
		PyErr_Format(PyExc_RuntimeError, "bench reader: %s", ws_ring_strerror(rc));
		return NULL;
	}
	return Py_BuildValue("KKKKK", got, lost, el, lat_n, rejected);
}

/* ws_bench_lines_*: the buffer is a shared mapping (mmap) of a power of two of 64-byte lines. */
static int ws_lines_buffer(PyObject *obj, Py_buffer *b)
{
	if (PyObject_GetBuffer(obj, b, PyBUF_WRITABLE) < 0)
		return -1;
	uint64_t lines = (uint64_t)b->len / 64;
	if (lines < 2 || (lines & (lines - 1)) || (uintptr_t)b->buf % 64) {
		PyBuffer_Release(b);
		PyErr_SetString(PyExc_ValueError, "a 64-byte aligned buffer of a power of two of 64-byte lines");
		return -1;
	}
	return 0;
}

/* bench_lines_writer(buf, n, gap_ticks) -> elapsed ticks */
static PyObject *py_bench_lines_writer(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *obj;
	unsigned long long n, gap;
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "OKK", &obj, &n, &gap) || ws_lines_buffer(obj, &b))
		return NULL;
	uint64_t el = 0;
	Py_BEGIN_ALLOW_THREADS
	ws_bench_lines_writer(b.buf, (uint64_t)b.len / 64, n, gap, &el);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&b);
	return PyLong_FromUnsignedLongLong(el);
}

/* bench_lines_reader(buf, n, timeout_ticks) -> (got, lost, elapsed ticks) */
static PyObject *py_bench_lines_reader(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *obj;
	unsigned long long n, timeout;
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "OKK", &obj, &n, &timeout) || ws_lines_buffer(obj, &b))
		return NULL;
	uint64_t got = 0, lost = 0, el = 0;
	Py_BEGIN_ALLOW_THREADS
	ws_bench_lines_reader(b.buf, (uint64_t)b.len / 64, n, timeout, &got, &lost, &el);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&b);
	return Py_BuildValue("KKK", got, lost, el);
}

static PyObject *py_bench_ouch_rtt(PyObject *self, PyObject *args)
{
	(void)self;
	int fd;
	const char *symbol;
	unsigned long long price, n, gap, timeout;
	unsigned int urn;
	Py_buffer s;
	if (!PyArg_ParseTuple(args, "isKIKKw*", &fd, &symbol, &price, &urn, &gap, &timeout, &s))
		return NULL;
	n = (unsigned long long)s.len / 8;
	uint64_t done = 0;
	uint16_t reject = 0;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_bench_ouch_rtt(fd, symbol, price, urn, n, gap, timeout, s.buf, &done, &reject);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&s);
	return Py_BuildValue("iKI", -rc, (unsigned long long)done, (unsigned int)reject);
}

static int ws_bench_send_udp_tx(void *ctx, const uint8_t *msg, uint32_t len)
{
	ws_udp_tx_t *t = ctx;
	int rc = ws_udp_tx_send(t, 0, msg, len); /* its first flow */
	ws_udp_tx_reap(t); /* frames back as they are sent: the stack never runs dry at this pace */
	return rc;
}

/* bench_oneway(target, gap_ns, tx_ns) -> errno: target a connected socket's fd
 * (send()) or a UdpTx (a pre-armed AF_XDP frame on its first flow). */
static PyObject *py_bench_oneway(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *target;
	unsigned long long gap;
	Py_buffer s;
	int probe = 0;
	if (!PyArg_ParseTuple(args, "OKw*|p", &target, &gap, &s, &probe))
		return NULL;
	ws_bench_send_fn fn;
	void *ctx;
	ws_udp_tx_t *t = ws_py_udp_tx(target);
	ws_tcp_xsk_t *tcp = t ? NULL : ws_py_tcp_xsk_lend(target);
	if (t) {
		fn = ws_bench_send_udp_tx;
		ctx = t;
	} else if (tcp) {
		fn = probe ? ws_bench_send_tcp_probe : ws_bench_send_tcp_xsk;
		ctx = tcp;
	} else {
		long fd = PyLong_AsLong(target);
		if (fd == -1 && PyErr_Occurred()) {
			PyBuffer_Release(&s);
			PyErr_SetString(PyExc_TypeError, "bench_oneway: a socket's fd, a UdpTx or an established TcpXsk");
			return NULL;
		}
		fn = ws_bench_send_fd;
		ctx = (void *)(intptr_t)fd;
	}
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_bench_oneway(fn, ctx, (uint64_t)s.len / 8, gap, s.buf);
	Py_END_ALLOW_THREADS
	if (tcp)
		ws_py_tcp_xsk_return(target);
	PyBuffer_Release(&s);
	return PyLong_FromLong(-rc);
}

static PyObject *py_bench_risk(PyObject *self, PyObject *args)
{
	(void)self;
	Py_buffer s;
	if (!PyArg_ParseTuple(args, "w*", &s))
		return NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_bench_risk((uint64_t)s.len / 8, s.buf);
	Py_END_ALLOW_THREADS
	PyBuffer_Release(&s);
	return PyLong_FromLong(rc);
}

PyMethodDef ws_py_bench_methods[] = {
	{"bench_oneway", py_bench_oneway, METH_VARARGS,
	 "bench_oneway(fd, UdpTx or TcpXsk, gap_ns, tx_ns: uint64 buffer, probe=False) -> errno: 50-byte messages, "
	 "each stamped before; probe: a TcpXsk's bare segments (ws_tcp_xsk_probe)"},
	{"bench_risk", py_bench_risk, METH_VARARGS,
	 "bench_risk(out_ns: float64 buffer) -> 0, or -1 if an order was refused: ns per order, per batch of 64"},
	{"tsc", py_tsc, METH_NOARGS, "tsc() -> ticks of the clock bench kernels use"},
	{"pin_cpu", py_pin_cpu, METH_VARARGS, "pin_cpu(cpu): pin the calling thread"},
	{"bench_stalls", py_bench_stalls, METH_VARARGS,
	 "bench_stalls(seconds, threshold_ns, lens: uint64 buffer) -> (n, stolen_ns): the thread's stalls"},
	{"bench_pingpong", py_bench_pingpong, METH_VARARGS,
	 "bench_pingpong(cpu_a, cpu_b, samples: uint64 buffer): one-way ticks per round trip"},
	{"bench_ring_writer", py_bench_ring_writer, METH_VARARGS,
	 "bench_ring_writer(path, n, rec_sz, gap_ticks) -> elapsed ticks"},
	{"bench_ring_reader", py_bench_ring_reader, METH_VARARGS,
	 "bench_ring_reader(path, last_seq, timeout_ticks, lat or None) -> (got, lost, elapsed ticks, samples, "
	 "rejected): lat[:samples] filled; rejected: receipts stamped before the record (impossible, left out)"},
	{"bench_lines_writer", py_bench_lines_writer, METH_VARARGS,
	 "bench_lines_writer(buf, n, gap_ticks) -> elapsed ticks: lines 1..n into a shared buffer of 64-byte lines"},
	{"bench_lines_reader", py_bench_lines_reader, METH_VARARGS,
	 "bench_lines_reader(buf, n, timeout_ticks) -> (got, lost, elapsed ticks): follows bench_lines_writer"},
	{"bench_ouch_rtt", py_bench_ouch_rtt, METH_VARARGS,
	 "bench_ouch_rtt(fd, symbol, price, first_urn, gap_ns, timeout_ns, rtt: uint64 buffer) -> (errno, done, "
	 "reject): Enter -> Accepted round trips on a logged-in OUCH session, rtt[:done] in ns; errno 0 if all ran"},
	{NULL, NULL, 0, NULL},
};
