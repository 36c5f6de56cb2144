/* python/module.c - the Python face of the native core, wirespeed._native.
 *
 * Every binding here is a thin wrapper: it checks argument shapes, calls one
 * ws_* function, and turns a negative errno into an OSError whose message
 * names the syscall and its arguments, so a Python traceback is already a
 * diagnosis ("bpf(BPF_LINK_CREATE, ifindex=7, flags=DRV): Operation not
 * supported"). Hints a user can act on are added in Python, where the context
 * is known.
 *
 * Ownership across the boundary: file descriptors returned here belong to the
 * Python caller, who closes them (wirespeed/xdp/bpf.py wraps them in objects
 * with close()). Buffers passed in are borrowed for the duration of the call
 * only; nothing here keeps a reference to Python memory.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "bench/bench.h"
#include "xdp/bpf.h"
#include "ring/ring.h"
#include "system/ethtool.h"
#include "system/netns.h"
#include "transports/xsk.h"
#include "net/frame.h"
#include "formats/pcapng.h"

static PyObject *ws_BpfError; /* OSError subclass carrying .verifier_log */
PyObject *ws_RingError;        /* a ring refused or found corrupt: (message, code, path) */

/* py_ring.c */
extern PyTypeObject RingWriterType, RingReaderType;
PyObject *py_ring_create(PyObject *self, PyObject *args, PyObject *kw);
/* py_capture.c */
extern PyTypeObject KernelRxType;
extern PyTypeObject XskRxType;
/* py_sim.c */
extern PyTypeObject SimType;
extern PyTypeObject BookType;
extern PyTypeObject FeedType;
extern PyTypeObject RouterType;
PyObject *py_itch_decode(PyObject *self, PyObject *args);

/* ws_raise builds OSError(errno, "<call>: <strerror>") of the errno's own
 * subclass (PermissionError, ...), or of type when type is not NULL. */
static PyObject *ws_raise(PyObject *type, int err, const char *call)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s: %s", call, strerror(err));
	PyObject *exc = PyObject_CallFunction(type ? type : PyExc_OSError, "is", err, msg);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

static PyObject *py_bpf_prog_load(PyObject *self, PyObject *args, PyObject *kw)
{
	(void)self;
	static char *kwlist[] = {"prog_type", "insns", "license", "expected_attach_type",
	                         "log_level", NULL};
	unsigned int prog_type, attach_type = 0, log_level = 0;
	Py_buffer insns;
	const char *license = "GPL";
	if (!PyArg_ParseTupleAndKeywords(args, kw, "Iy*|sII", kwlist, &prog_type, &insns,
	                                 &license, &attach_type, &log_level))
		return NULL;
	if (insns.len == 0 || insns.len % 8) {
		PyBuffer_Release(&insns);
		PyErr_Format(PyExc_ValueError, "insns must be a non-empty multiple of 8 bytes, got %zd",
		             insns.len);
		return NULL;
	}
	/* 1 MiB is enough for a verifier explaining a few hundred instructions. */
	uint32_t log_sz = log_level ? (1u << 20) : 0;
	char *log = log_sz ? PyMem_Malloc(log_sz) : NULL;
	if (log_sz && !log) {
		PyBuffer_Release(&insns);
		return PyErr_NoMemory();
	}
	uint32_t insn_cnt = (uint32_t)(insns.len / 8);
	int fd = ws_bpf_prog_load(prog_type, insns.buf, insn_cnt, license, attach_type, log, log_sz,
	                          log_level);
	PyBuffer_Release(&insns);
	if (fd >= 0) {
		PyMem_Free(log);
		return PyLong_FromLong(fd);
	}
	char call[128];
	snprintf(call, sizeof(call), "bpf(BPF_PROG_LOAD, prog_type=%u, insn_cnt=%u)", prog_type,
	         insn_cnt);
	ws_raise(ws_BpfError, -fd, call);
	if (log) {
		PyObject *type, *value, *tb;
		PyErr_Fetch(&type, &value, &tb);
		PyErr_NormalizeException(&type, &value, &tb);
		PyObject *text = PyUnicode_DecodeUTF8(log, (Py_ssize_t)strnlen(log, log_sz), "replace");
		if (text && value)
			PyObject_SetAttrString(value, "verifier_log", text);
		Py_XDECREF(text);
		PyErr_Restore(type, value, tb);
		PyMem_Free(log);
	}
	return NULL;
}

static PyObject *py_bpf_xdp_link_create(PyObject *self, PyObject *args)
{
	(void)self;
	int prog_fd, ifindex;
	unsigned int flags;
	if (!PyArg_ParseTuple(args, "iiI", &prog_fd, &ifindex, &flags))
		return NULL;
	int fd = ws_bpf_xdp_link_create(prog_fd, ifindex, flags);
	if (fd < 0) {
		char call[128];
		snprintf(call, sizeof(call), "bpf(BPF_LINK_CREATE, BPF_XDP, ifindex=%d, flags=0x%x)",
		         ifindex, flags);
		return ws_raise(NULL, -fd, call);
	}
	return PyLong_FromLong(fd);
}

static PyObject *py_bpf_prog_test_run(PyObject *self, PyObject *args)
{
	(void)self;
	int prog_fd;
	Py_buffer data;
	unsigned int repeat = 1;
	if (!PyArg_ParseTuple(args, "iy*|I", &prog_fd, &data, &repeat))
		return NULL;
	if (data.len > 65535) {
		PyBuffer_Release(&data);
		PyErr_SetString(PyExc_ValueError, "test packet longer than 65535 bytes");
		return NULL;
	}
	/* XDP programs may grow the packet at the tail (bpf_xdp_adjust_tail);
	 * leave room so the kernel never reports ENOSPC for a legal program. */
	uint32_t out_sz = (uint32_t)data.len + 4096;
	char *out = PyMem_Malloc(out_sz);
	if (!out) {
		PyBuffer_Release(&data);
		return PyErr_NoMemory();
	}
	uint32_t retval = 0, duration = 0;
	int rc = ws_bpf_prog_test_run(prog_fd, data.buf, (uint32_t)data.len, out, &out_sz, repeat,
	                              &retval, &duration);
	PyBuffer_Release(&data);
	if (rc < 0) {
		PyMem_Free(out);
		return ws_raise(NULL, -rc, "bpf(BPF_PROG_TEST_RUN)");
	}
	PyObject *res = Py_BuildValue("Iy#I", retval, out, (Py_ssize_t)out_sz, duration);
	PyMem_Free(out);
	return res;
}

static PyObject *py_bpf_map_create(PyObject *self, PyObject *args)
{
	(void)self;
	unsigned int type, key_sz, value_sz, max_entries;
	const char *name = NULL;
	if (!PyArg_ParseTuple(args, "IIII|z", &type, &key_sz, &value_sz, &max_entries, &name))
		return NULL;
	int fd = ws_bpf_map_create(type, key_sz, value_sz, max_entries, name);
	if (fd < 0) {
		char call[160];
		snprintf(call, sizeof(call), "bpf(BPF_MAP_CREATE, type=%u, key=%u, value=%u, entries=%u)", type,
		         key_sz, value_sz, max_entries);
		return ws_raise(NULL, -fd, call);
	}
	return PyLong_FromLong(fd);
}

static PyObject *py_bpf_map_update(PyObject *self, PyObject *args)
{
	(void)self;
	int fd;
	Py_buffer key, value;
	unsigned long long flags = 0;
	if (!PyArg_ParseTuple(args, "iy*y*|K", &fd, &key, &value, &flags))
		return NULL;
	int rc = ws_bpf_map_update(fd, key.buf, value.buf, flags);
	PyBuffer_Release(&key);
	PyBuffer_Release(&value);
	if (rc < 0)
		return ws_raise(NULL, -rc, "bpf(BPF_MAP_UPDATE_ELEM)");
	Py_RETURN_NONE;
}

static PyObject *py_bpf_map_delete(PyObject *self, PyObject *args)
{
	(void)self;
	int fd;
	Py_buffer key;
	if (!PyArg_ParseTuple(args, "iy*", &fd, &key))
		return NULL;
	int rc = ws_bpf_map_delete(fd, key.buf);
	PyBuffer_Release(&key);
	if (rc < 0)
		return ws_raise(NULL, -rc, "bpf(BPF_MAP_DELETE_ELEM)");
	Py_RETURN_NONE;
}

static PyObject *py_bpf_map_lookup(PyObject *self, PyObject *args)
{
	(void)self;
	int fd;
	Py_buffer key;
	unsigned int value_sz;
	if (!PyArg_ParseTuple(args, "iy*I", &fd, &key, &value_sz))
		return NULL;
	if (value_sz > 4096) {
		PyBuffer_Release(&key);
		PyErr_SetString(PyExc_ValueError, "value_sz above 4096");
		return NULL;
	}
	char value[4096];
	int rc = ws_bpf_map_lookup(fd, key.buf, value);
	PyBuffer_Release(&key);
	if (rc == -ENOENT)
		Py_RETURN_NONE;
	if (rc < 0)
		return ws_raise(NULL, -rc, "bpf(BPF_MAP_LOOKUP_ELEM)");
	return PyBytes_FromStringAndSize(value, value_sz);
}

/* frame_check(frame) -> (verdict, payload_off, payload_len, daddr, dport):
 * the header checks the af_xdp receive loop applies, for replay and tests.
 * daddr: 4 bytes (network order) or b"" without an IPv4 header; dport: host
 * order, 0 when the UDP header cannot be read. */
static PyObject *py_frame_check(PyObject *self, PyObject *args)
{
	(void)self;
	Py_buffer f;
	if (!PyArg_ParseTuple(args, "y*", &f))
		return NULL;
	ws_udp4_view_t v;
	uint32_t len = f.len > UINT32_MAX ? UINT32_MAX : (uint32_t)f.len;
	enum ws_frame_verdict vd = ws_frame_check(f.buf, len, &v);
	int has_ip = len >= 34 && vd != WS_FRAME_NOT_IPV4;
	PyBuffer_Release(&f);
	return Py_BuildValue("sIIy#I", ws_frame_verdict_names[vd], v.payload_off, v.payload_len, (const char *)&v.daddr,
	                     (Py_ssize_t)(has_ip ? 4 : 0), (unsigned int)ntohs(v.dport));
}

/* pcapng_epbs(headers, payload, ifaces, out=None, offset=0): the enhanced
 * packet blocks of a polled batch (headers: REC_DTYPE records, ifaces: one
 * u32 per record). Without out: returns them as bytes. With a writable out:
 * writes them at out[offset:] and returns the byte count, or -needed when
 * they do not fit (nothing written). */
static PyObject *py_pcapng_epbs(PyObject *self, PyObject *args)
{
	(void)self;
	Py_buffer h, pl, ifc, ob = {0};
	PyObject *out = Py_None;
	Py_ssize_t at = 0;
	if (!PyArg_ParseTuple(args, "y*y*y*|On", &h, &pl, &ifc, &out, &at))
		return NULL;
	PyObject *res = NULL;
	size_t n = (size_t)h.len / sizeof(ws_ring_rec_t);
	if ((size_t)h.len % sizeof(ws_ring_rec_t) || (size_t)ifc.len != n * sizeof(uint32_t)) {
		PyErr_SetString(PyExc_ValueError, "headers must be REC_DTYPE records and ifaces one uint32 per record");
		goto out;
	}
	size_t sz = ws_pcapng_epb_size(h.buf, n);
	uint8_t *dst;
	if (out == Py_None) {
		res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sz);
		if (!res)
			goto out;
		dst = (uint8_t *)PyBytes_AS_STRING(res);
	} else {
		if (PyObject_GetBuffer(out, &ob, PyBUF_WRITABLE) < 0)
			goto out;
		if (at < 0 || at > ob.len) {
			PyErr_SetString(PyExc_ValueError, "offset outside out");
			goto out;
		}
		if (sz > (size_t)(ob.len - at)) {
			res = PyLong_FromSsize_t(-(Py_ssize_t)sz);
			goto out;
		}
		dst = (uint8_t *)ob.buf + at;
	}
	size_t w;
	Py_BEGIN_ALLOW_THREADS
	w = ws_pcapng_epbs(dst, h.buf, n, pl.buf, (size_t)pl.len, ifc.buf);
	Py_END_ALLOW_THREADS
	if (w != sz) {
		Py_CLEAR(res);
		PyErr_SetString(PyExc_ValueError, "a record lies outside the payload buffer");
	} else if (out != Py_None) {
		res = PyLong_FromSize_t(sz);
	}
out:
	if (ob.obj)
		PyBuffer_Release(&ob);
	PyBuffer_Release(&h);
	PyBuffer_Release(&pl);
	PyBuffer_Release(&ifc);
	return res;
}

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

static PyObject *py_ethtool(PyObject *self, PyObject *args)
{
	(void)self;
	const char *ifname;
	Py_buffer buf;
	if (!PyArg_ParseTuple(args, "sw*", &ifname, &buf))
		return NULL;
	if (buf.len < 4) {
		PyBuffer_Release(&buf);
		PyErr_SetString(PyExc_ValueError, "ethtool buffer must start with a 4-byte command");
		return NULL;
	}
	uint32_t cmd;
	memcpy(&cmd, buf.buf, sizeof(cmd));
	int rc = ws_ethtool(ifname, buf.buf);
	PyBuffer_Release(&buf);
	if (rc < 0) {
		char call[96];
		snprintf(call, sizeof(call), "ioctl(SIOCETHTOOL, cmd=0x%x, %.16s)", cmd, ifname);
		return ws_raise(NULL, -rc, call);
	}
	Py_RETURN_NONE;
}

static PyObject *py_setns(PyObject *self, PyObject *args)
{
	(void)self;
	int fd, nstype;
	if (!PyArg_ParseTuple(args, "ii", &fd, &nstype))
		return NULL;
	int rc = ws_setns(fd, nstype);
	if (rc < 0)
		return ws_raise(NULL, -rc, "setns()");
	Py_RETURN_NONE;
}

/* -- bench kernels (bench.h); the GIL is released for the whole run ------- */

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
	uint64_t got = 0, lost = 0, el = 0;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_bench_ring_reader(path, last, timeout, have_lat ? lat.buf : NULL,
	                          have_lat ? (uint64_t)lat.len / 8 : 0, &got, &lost, &el);
	Py_END_ALLOW_THREADS
	if (have_lat)
		PyBuffer_Release(&lat);
	if (rc) {
		PyErr_Format(PyExc_RuntimeError, "bench reader: %s", ws_ring_strerror(rc));
		return NULL;
	}
	return Py_BuildValue("KKK", got, lost, el);
}

static PyMethodDef ws_methods[] = {
	{"tsc", py_tsc, METH_NOARGS, "tsc() -> ticks of the clock bench kernels use"},
	{"pin_cpu", py_pin_cpu, METH_VARARGS, "pin_cpu(cpu): pin the calling thread"},
	{"bench_pingpong", py_bench_pingpong, METH_VARARGS,
	 "bench_pingpong(cpu_a, cpu_b, samples: uint64 buffer): one-way ticks per round trip"},
	{"bench_ring_writer", py_bench_ring_writer, METH_VARARGS,
	 "bench_ring_writer(path, n, rec_sz, gap_ticks) -> elapsed ticks"},
	{"bench_ring_reader", py_bench_ring_reader, METH_VARARGS,
	 "bench_ring_reader(path, last_seq, timeout_ticks, lat or None) -> (got, lost, elapsed ticks)"},
	{"bpf_prog_load", (PyCFunction)(void (*)(void))py_bpf_prog_load, METH_VARARGS | METH_KEYWORDS,
	 "bpf_prog_load(prog_type, insns, license='GPL', expected_attach_type=0, log_level=0) -> fd\n"
	 "Load eBPF instructions; on failure raise BpfError with .verifier_log when log_level > 0."},
	{"bpf_xdp_link_create", py_bpf_xdp_link_create, METH_VARARGS,
	 "bpf_xdp_link_create(prog_fd, ifindex, xdp_flags) -> link fd (close it to detach)."},
	{"bpf_prog_test_run", py_bpf_prog_test_run, METH_VARARGS,
	 "bpf_prog_test_run(prog_fd, packet, repeat=1) -> (retval, packet_out, duration_ns)."},
	{"bpf_map_create", py_bpf_map_create, METH_VARARGS,
	 "bpf_map_create(type, key_size, value_size, max_entries, name=None) -> map fd"},
	{"bpf_map_update", py_bpf_map_update, METH_VARARGS,
	 "bpf_map_update(fd, key, value, flags=0) -> None"},
	{"bpf_map_delete", py_bpf_map_delete, METH_VARARGS, "bpf_map_delete(fd, key) -> None"},
	{"bpf_map_lookup", py_bpf_map_lookup, METH_VARARGS,
	 "bpf_map_lookup(fd, key, value_size) -> bytes, or None if absent"},
	{"frame_check", py_frame_check, METH_VARARGS,
	 "frame_check(frame) -> (verdict, payload_off, payload_len, daddr, dport); verdict 'ok' or why not"},
	{"pcapng_epbs", py_pcapng_epbs, METH_VARARGS,
	 "pcapng_epbs(headers, payload, ifaces, out=None, offset=0) -> bytes, or bytes written into out (-needed if no room)"},
	{"xsk_probe", py_xsk_probe, METH_VARARGS,
	 "xsk_probe(ifindex, queue_id, bind_flags) -> None; raises OSError naming the refused step."},
	{"ethtool", py_ethtool, METH_VARARGS,
	 "ethtool(ifname, buf) -> None; SIOCETHTOOL with ifr_data = buf (writable, command first)."},
	{"setns", py_setns, METH_VARARGS,
	 "setns(fd, nstype) -> None; moves the calling thread only."},
	{"itch_decode", py_itch_decode, METH_VARARGS,
	 "itch_decode(msg) -> dict, or 0 (unknown type), -1 (wrong length), -2 (empty): the C decoder"},
	{"ring_create", (PyCFunction)(void (*)(void))py_ring_create, METH_VARARGS | METH_KEYWORDS,
	 "ring_create(path, payload_sz, entry_cnt=0, mode=0o640): lay out a new ring file."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef ws_module = {
	PyModuleDef_HEAD_INIT, "wirespeed._native",
	"wirespeed's native core (C11): the ring, bpf(), AF_XDP, ethtool, namespaces.", -1, ws_methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m = PyModule_Create(&ws_module);
	if (!m)
		return NULL;
	ws_BpfError = PyErr_NewExceptionWithDoc(
		"wirespeed._native.BpfError",
		"bpf() refused a program; .verifier_log holds the verifier's explanation.",
		PyExc_OSError, NULL);
	if (!ws_BpfError || PyModule_AddObjectRef(m, "BpfError", ws_BpfError) < 0)
		goto fail;
	ws_RingError = PyErr_NewExceptionWithDoc(
		"wirespeed._native.RingError",
		"A ring file was refused (bad magic, version, layout, truncated) or found corrupt.",
		NULL, NULL);
	if (!ws_RingError || PyModule_AddObjectRef(m, "RingError", ws_RingError) < 0)
		goto fail;
	if (PyType_Ready(&SimType) < 0 || PyModule_AddObjectRef(m, "Sim", (PyObject *)&SimType) < 0 ||
	    PyType_Ready(&KernelRxType) < 0 || PyModule_AddObjectRef(m, "KernelRx", (PyObject *)&KernelRxType) < 0 ||
	    PyType_Ready(&XskRxType) < 0 || PyModule_AddObjectRef(m, "XskRx", (PyObject *)&XskRxType) < 0 ||
	    PyType_Ready(&BookType) < 0 || PyModule_AddObjectRef(m, "BookEngine", (PyObject *)&BookType) < 0 ||
	    PyType_Ready(&FeedType) < 0 || PyModule_AddObjectRef(m, "FeedHandler", (PyObject *)&FeedType) < 0 ||
	    PyType_Ready(&RouterType) < 0 || PyModule_AddObjectRef(m, "FeedRouter", (PyObject *)&RouterType) < 0)
		goto fail;
	if (PyType_Ready(&RingWriterType) < 0 || PyType_Ready(&RingReaderType) < 0 ||
	    PyModule_AddObjectRef(m, "RingWriter", (PyObject *)&RingWriterType) < 0 ||
	    PyModule_AddObjectRef(m, "RingReader", (PyObject *)&RingReaderType) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
