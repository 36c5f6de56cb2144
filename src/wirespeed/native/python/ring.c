/* python/ring.c - Python types over ring.h: _native.RingWriter, _native.RingReader.
 *
 * Ownership across the boundary:
 *   - A RingWriter owns its writable mapping and the writer lock until
 *     close() or deallocation. A receive loop that writes without the GIL
 *     holds it (ws_py_ring_writer_hold): meanwhile close() and publishing
 *     from Python refuse, while count_drop and heartbeat, which the control
 *     thread calls beside the loop, still work.
 *   - A RingReader owns its read-only mapping. It exports the mapping through
 *     the buffer protocol (memoryview(reader)) for zero-copy views; close()
 *     refuses while any such view is alive, so a view never outlives the
 *     memory it shows. A view's bytes stay *meaningful* only until the writer
 *     laps them: check with still_valid() after use (ring.h, peek).
 *   - Batch reads write into buffers the caller passes (numpy arrays); nothing
 *     here keeps a reference to them after the call.
 * The GIL is released around every loop over records. A reader is used by
 * one thread at a time: while a call runs on it without the GIL (a batch
 * read, FeedRouter.follow) it is held (users), and close() and every other
 * call on it refuse, so no thread unmaps or moves it under another.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>

#include "python/module.h"
#include "python/ring.h"

/* ws_ring_raise: see python/ring.h. */
PyObject *ws_ring_raise(int rc, const ws_ring_syserr_t *se, const char *path)
{
	if (rc == WS_RING_ESYS && se) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s: %s", se->sys_call, strerror(se->errno_));
		PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", se->errno_, msg);
		if (exc) {
			PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
			Py_DECREF(exc);
		}
		return NULL;
	}
	PyObject *exc = PyObject_CallFunction(ws_RingError, "sis", ws_ring_strerror(rc), rc, path ? path : "");
	if (exc) {
		PyErr_SetObject(ws_RingError, exc);
		Py_DECREF(exc);
	}
	return NULL;
}

static PyObject *py_ring_create(PyObject *self, PyObject *args, PyObject *kw)
{
	(void)self;
	static char *kwlist[] = {"path", "payload_sz", "entry_cnt", "mode", NULL};
	const char *path;
	unsigned long long payload_sz, entry_cnt = 0;
	unsigned int mode = 0640;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sK|KI", kwlist, &path, &payload_sz, &entry_cnt, &mode))
		return NULL;
	ws_ring_geom_t g = {.payload_sz = payload_sz, .entry_cnt = entry_cnt, .mode = mode};
	ws_ring_syserr_t se = {0};
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_ring_create(path, &g, &se);
	Py_END_ALLOW_THREADS
	if (rc)
		return ws_ring_raise(rc, &se, path);
	Py_RETURN_NONE;
}

/* -- writer --------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	ws_ring_writer_t w;
	int joined;
	int users; /* receive loops (and publish_batch) writing without the GIL */
} RingWriterObject;

static int RingWriter_init(RingWriterObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", NULL};
	const char *path;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s", kwlist, &path))
		return -1;
	if (self->joined) {
		PyErr_SetString(PyExc_RuntimeError, "RingWriter already joined");
		return -1;
	}
	ws_ring_syserr_t se = {0};
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_ring_writer_join(&self->w, path, &se);
	Py_END_ALLOW_THREADS
	if (rc) {
		ws_ring_raise(rc, &se, path);
		return -1;
	}
	self->joined = 1;
	return 0;
}

/* writer_joined: calls that may run beside a loop that holds the writer
 * (counting drops, the heartbeat, reading next_seq). */
static int writer_joined(RingWriterObject *self)
{
	if (!self->joined) {
		PyErr_SetString(PyExc_ValueError, "ring writer is closed");
		return 0;
	}
	return 1;
}

/* writer_ok: calls that write records or unmap the ring, which only the
 * one thread writing may do: refused while a loop holds the writer. */
static int writer_ok(RingWriterObject *self)
{
	if (!writer_joined(self))
		return 0;
	if (self->users) {
		PyErr_SetString(PyExc_RuntimeError, "ring writer is in use by a receive loop (one thread writes a ring: "
		                                    "stop the loop first)");
		return 0;
	}
	return 1;
}

static PyObject *RingWriter_publish(RingWriterObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"data", "stream", "flags", "ts_ns", NULL};
	Py_buffer data;
	unsigned int stream = 0, flags = 0;
	unsigned long long ts = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|IIK", kwlist, &data, &stream, &flags, &ts))
		return NULL;
	if (!writer_ok(self)) {
		PyBuffer_Release(&data);
		return NULL;
	}
	if (stream > 0xffff || flags > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "stream and flags must fit 16 bits");
		PyBuffer_Release(&data);
		return NULL;
	}
	if (data.len > 0xffffffffLL) {
		PyBuffer_Release(&data);
		PyErr_SetString(PyExc_ValueError, "record too long");
		return NULL;
	}
	int ok = ws_ring_publish(&self->w, data.buf, (uint32_t)data.len, ts ? ts : ws_ring_now_ns(),
	                         (uint16_t)stream, (uint16_t)flags);
	PyBuffer_Release(&data);
	return PyBool_FromLong(ok);
}

/* publish_batch(data, lengths: uint32 buffer, stream=0, flags=0, ts_ns=0)
 * records back to back in data; one clock read for the batch when ts_ns=0.
 * Returns the number published (the rest were counted as drops). */
static PyObject *RingWriter_publish_batch(RingWriterObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"data", "lengths", "stream", "flags", "ts_ns", NULL};
	Py_buffer data, lens;
	unsigned int stream = 0, flags = 0;
	unsigned long long ts = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*y*|IIK", kwlist, &data, &lens, &stream, &flags, &ts))
		return NULL;
	PyObject *res = NULL;
	if (!writer_ok(self))
		goto out;
	if (lens.len % 4 || stream > 0xffff || flags > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "lengths must be uint32; stream and flags 16 bits");
		goto out;
	}
	size_t n = (size_t)lens.len / 4;
	const uint32_t *l = lens.buf;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += l[i];
	if (total > (uint64_t)data.len) {
		PyErr_Format(PyExc_ValueError, "lengths add up to %llu bytes but data has %zd",
		             (unsigned long long)total, data.len);
		goto out;
	}
	uint64_t published = 0;
	self->users++; /* no close() from another thread while the GIL is released */
	Py_BEGIN_ALLOW_THREADS
	uint64_t t = ts ? ts : ws_ring_now_ns();
	const uint8_t *p = data.buf;
	for (size_t i = 0; i < n; i++) {
		published += (uint64_t)ws_ring_publish(&self->w, p, l[i], t, (uint16_t)stream, (uint16_t)flags);
		p += l[i];
	}
	Py_END_ALLOW_THREADS
	self->users--;
	res = PyLong_FromUnsignedLongLong(published);
out:
	PyBuffer_Release(&data);
	PyBuffer_Release(&lens);
	return res;
}

static PyObject *RingWriter_count_drop(RingWriterObject *self, PyObject *args)
{
	unsigned int cause;
	unsigned long long n = 1;
	if (!PyArg_ParseTuple(args, "I|K", &cause, &n) || !writer_joined(self))
		return NULL;
	if (cause >= WS_RING_DROP_CNT) {
		PyErr_Format(PyExc_ValueError, "drop cause %u out of range (0..%d)", cause, WS_RING_DROP_CNT - 1);
		return NULL;
	}
	ws_ring_count_drop(&self->w, cause, n);
	Py_RETURN_NONE;
}

static PyObject *RingWriter_set_meta(RingWriterObject *self, PyObject *args)
{
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "y*", &b))
		return NULL;
	if (!writer_ok(self)) {
		PyBuffer_Release(&b);
		return NULL;
	}
	int rc = ws_ring_set_meta(&self->w, b.buf, (uint32_t)(b.len > 0xffffffff ? 0xffffffff : b.len));
	PyBuffer_Release(&b);
	if (rc) {
		PyErr_Format(PyExc_ValueError, "ring description longer than %u bytes", WS_RING_META_MAX);
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *RingWriter_heartbeat(RingWriterObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!writer_joined(self))
		return NULL;
	ws_ring_heartbeat(&self->w, ws_ring_now_ns());
	Py_RETURN_NONE;
}

static PyObject *RingWriter_close(RingWriterObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!self->joined)
		Py_RETURN_NONE;
	if (!writer_ok(self)) /* a loop still writes: unmapping now would crash it */
		return NULL;
	ws_ring_writer_leave(&self->w);
	self->joined = 0;
	Py_RETURN_NONE;
}

static PyObject *RingWriter_next_seq(RingWriterObject *self, void *closure)
{
	(void)closure;
	return PyLong_FromUnsignedLongLong(self->joined ? self->w.next_seq : 0);
}

static void RingWriter_dealloc(RingWriterObject *self)
{
	if (self->joined)
		ws_ring_writer_leave(&self->w);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef RingWriter_methods[] = {
	{"publish", (PyCFunction)(void (*)(void))RingWriter_publish, METH_VARARGS | METH_KEYWORDS,
	 "publish(data, stream=0, flags=0, ts_ns=0) -> bool (False: too big, counted as a drop)"},
	{"publish_batch", (PyCFunction)(void (*)(void))RingWriter_publish_batch, METH_VARARGS | METH_KEYWORDS,
	 "publish_batch(data, lengths, stream=0, flags=0, ts_ns=0) -> number published"},
	{"count_drop", (PyCFunction)RingWriter_count_drop, METH_VARARGS, "count_drop(cause, n=1)"},
	{"heartbeat", (PyCFunction)RingWriter_heartbeat, METH_NOARGS, "heartbeat(): I am alive, just quiet"},
	{"set_meta", (PyCFunction)RingWriter_set_meta, METH_VARARGS, "set_meta(bytes): what the records are"},
	{"close", (PyCFunction)RingWriter_close, METH_NOARGS, "close(): mark the ring closed, release it"},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef RingWriter_getset[] = {
	{"next_seq", (getter)RingWriter_next_seq, NULL, "seq of the next record", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

/* ws_py_ring_writer_hold / _drop: see python/ring.h (for the rx engines). */
ws_ring_writer_t *ws_py_ring_writer_hold(PyObject *o)
{
	if (!PyObject_TypeCheck(o, &RingWriterType)) {
		PyErr_SetString(PyExc_TypeError, "expected a wirespeed._native.RingWriter");
		return NULL;
	}
	RingWriterObject *w = (RingWriterObject *)o;
	if (!writer_ok(w))
		return NULL;
	w->users++;
	return &w->w;
}

void ws_py_ring_writer_drop(PyObject *o)
{
	((RingWriterObject *)o)->users--;
}

PyTypeObject RingWriterType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.RingWriter",
	.tp_basicsize = sizeof(RingWriterObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "RingWriter(path): the one writer of a ring (holds its lock).",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)RingWriter_init,
	.tp_dealloc = (destructor)RingWriter_dealloc,
	.tp_methods = RingWriter_methods,
	.tp_getset = RingWriter_getset,
};

/* -- reader --------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	ws_ring_reader_t r;
	int joined;
	int users; /* calls running on it without the GIL (see the top) */
	Py_ssize_t exports;
} RingReaderObject;

static int RingReader_init(RingReaderObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", "start", "seq", NULL};
	const char *path;
	int start = WS_RING_START_LATEST;
	unsigned long long seq = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|iK", kwlist, &path, &start, &seq))
		return -1;
	if (self->joined) {
		PyErr_SetString(PyExc_RuntimeError, "RingReader already joined");
		return -1;
	}
	ws_ring_syserr_t se = {0};
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_ring_reader_join(&self->r, path, start, seq, &se);
	Py_END_ALLOW_THREADS
	if (rc) {
		ws_ring_raise(rc, &se, path);
		return -1;
	}
	self->joined = 1;
	return 0;
}

static int reader_ok(RingReaderObject *self)
{
	if (!self->joined) {
		PyErr_SetString(PyExc_ValueError, "ring reader is closed");
		return 0;
	}
	if (self->users) {
		PyErr_SetString(PyExc_RuntimeError, "ring reader is in use by another thread (a reader serves one thread "
		                                    "at a time: open one RingReader per thread)");
		return 0;
	}
	return 1;
}

/* ws_py_ring_reader_hold / _drop: see python/ring.h (for FeedRouter.follow). */
ws_ring_reader_t *ws_py_ring_reader_hold(PyObject *o)
{
	if (!PyObject_TypeCheck(o, &RingReaderType)) {
		PyErr_SetString(PyExc_TypeError, "expected a _native.RingReader");
		return NULL;
	}
	RingReaderObject *self = (RingReaderObject *)o;
	if (!reader_ok(self))
		return NULL;
	self->users++;
	return &self->r;
}

void ws_py_ring_reader_drop(PyObject *o)
{
	((RingReaderObject *)o)->users--;
}

/* read_batch(headers, payload, max) -> n: headers is a writable buffer of
 * 32-byte records (ws_ring_rec_t), payload a writable byte buffer. */
static PyObject *RingReader_read_batch(RingReaderObject *self, PyObject *args)
{
	Py_buffer hdr, pay;
	unsigned int max;
	if (!PyArg_ParseTuple(args, "w*w*I", &hdr, &pay, &max))
		return NULL;
	PyObject *res = NULL;
	if (!reader_ok(self))
		goto out;
	if ((size_t)hdr.len < (size_t)max * sizeof(ws_ring_rec_t)) {
		PyErr_SetString(PyExc_ValueError, "header buffer smaller than max records");
		goto out;
	}
	int n;
	self->users++;
	Py_BEGIN_ALLOW_THREADS
	n = ws_ring_read_batch(&self->r, hdr.buf, max, pay.buf, (uint64_t)pay.len);
	Py_END_ALLOW_THREADS
	self->users--;
	if (n < 0) {
		ws_ring_raise(n, NULL, NULL);
		goto out;
	}
	res = PyLong_FromLong(n);
out:
	PyBuffer_Release(&hdr);
	PyBuffer_Release(&pay);
	return res;
}

static PyObject *RingReader_peek_batch(RingReaderObject *self, PyObject *args)
{
	Py_buffer hdr;
	unsigned int max;
	if (!PyArg_ParseTuple(args, "w*I", &hdr, &max))
		return NULL;
	PyObject *res = NULL;
	if (!reader_ok(self))
		goto out;
	if ((size_t)hdr.len < (size_t)max * sizeof(ws_ring_rec_t)) {
		PyErr_SetString(PyExc_ValueError, "header buffer smaller than max records");
		goto out;
	}
	int n;
	self->users++;
	Py_BEGIN_ALLOW_THREADS
	n = ws_ring_peek_batch(&self->r, hdr.buf, max);
	Py_END_ALLOW_THREADS
	self->users--;
	if (n < 0) {
		ws_ring_raise(n, NULL, NULL);
		goto out;
	}
	res = PyLong_FromLong(n);
out:
	PyBuffer_Release(&hdr);
	return res;
}

/* still_valid(headers, n, out) -> count: out[i] = 1 if record i is intact. */
static PyObject *RingReader_still_valid(RingReaderObject *self, PyObject *args)
{
	Py_buffer hdr, out;
	unsigned int n;
	if (!PyArg_ParseTuple(args, "y*Iw*", &hdr, &n, &out))
		return NULL;
	PyObject *res = NULL;
	if (!reader_ok(self))
		goto done;
	if ((size_t)hdr.len < (size_t)n * sizeof(ws_ring_rec_t) || (size_t)out.len < n) {
		PyErr_SetString(PyExc_ValueError, "buffers smaller than n");
		goto done;
	}
	const ws_ring_rec_t *recs = hdr.buf;
	uint8_t *o = out.buf;
	unsigned long valid = 0;
	for (unsigned int i = 0; i < n; i++) {
		o[i] = (uint8_t)ws_ring_still_valid(&self->r, &recs[i]);
		valid += o[i];
	}
	res = PyLong_FromUnsignedLong(valid);
done:
	PyBuffer_Release(&hdr);
	PyBuffer_Release(&out);
	return res;
}

static PyObject *RingReader_writer_state(RingReaderObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!reader_ok(self))
		return NULL;
	int restarted = 0;
	int st = ws_ring_writer_state(&self->r, &restarted);
	static const char *names[] = {"alive", "closed", "dead", "never"};
	return Py_BuildValue("(sO)", names[st], restarted ? Py_True : Py_False);
}

static PyObject *RingReader_control(RingReaderObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!reader_ok(self))
		return NULL;
	const ws_ring_ctrl_t *c = self->r.ctrl;
	PyObject *drops = PyDict_New();
	if (!drops)
		return NULL;
	for (int i = 0; i < WS_RING_DROP_CNT; i++) {
		if (strncmp(ws_ring_drop_names[i], "reserved", 8) == 0)
			continue;
		PyObject *v = PyLong_FromUnsignedLongLong(atomic_load_explicit(&c->drops[i], memory_order_relaxed));
		if (!v || PyDict_SetItemString(drops, ws_ring_drop_names[i], v) < 0) {
			Py_XDECREF(v);
			Py_DECREF(drops);
			return NULL;
		}
		Py_DECREF(v);
	}
	static const char *states[] = {"created", "open", "closed"};
	uint32_t st = atomic_load_explicit(&c->state, memory_order_acquire);
	return Py_BuildValue(
		"{s:I,s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:K,s:K,s:s,s:i,s:K,s:K,s:K,s:K,s:K,s:K,s:N}",
		"version", c->version, "file_sz", (unsigned long long)c->file_sz,
		"entry_cnt", (unsigned long long)c->entry_cnt, "payload_off", (unsigned long long)c->payload_off,
		"payload_sz", (unsigned long long)c->payload_sz, "created_ns", (unsigned long long)c->created_ns,
		"page_sz", c->page_sz, "max_payload", c->max_payload,
		"epoch", (unsigned long long)atomic_load(&c->epoch),
		"writer_start_ns", (unsigned long long)atomic_load(&c->writer_start_ns),
		"state", st <= 2 ? states[st] : "?", "writer_pid", (int)atomic_load(&c->writer_pid),
		"head_seq", (unsigned long long)atomic_load(&c->head_seq),
		"head_pos", (unsigned long long)atomic_load(&c->head_pos),
		"tail_pos", (unsigned long long)atomic_load(&c->tail_pos),
		"heartbeat_ns", (unsigned long long)atomic_load(&c->heartbeat_ns),
		"bytes_total", (unsigned long long)atomic_load(&c->bytes_total),
		"records_published", (unsigned long long)(atomic_load(&c->head_seq) - 1), "drops", drops);
}

static PyObject *RingReader_meta(RingReaderObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!reader_ok(self))
		return NULL;
	char buf[WS_RING_META_MAX];
	uint32_t len = ws_ring_get_meta(self->r.ctrl, buf);
	return PyBytes_FromStringAndSize(buf, len);
}

static PyObject *RingReader_close(RingReaderObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->exports > 0) {
		PyErr_SetString(PyExc_BufferError,
		                "zero-copy views of this ring are still alive: release them before close()");
		return NULL;
	}
	if (self->users) {
		PyErr_SetString(PyExc_RuntimeError, "ring reader is in use by another thread: close it when that ends");
		return NULL;
	}
	if (self->joined) {
		ws_ring_reader_leave(&self->r);
		self->joined = 0;
	}
	Py_RETURN_NONE;
}

static int RingReader_getbuffer(RingReaderObject *self, Py_buffer *view, int flags)
{
	if (!reader_ok(self)) {
		view->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->r.ctrl, (Py_ssize_t)self->r.map_sz, 1,
	                      flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void RingReader_releasebuffer(RingReaderObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyBufferProcs RingReader_as_buffer = {
	(getbufferproc)RingReader_getbuffer,
	(releasebufferproc)RingReader_releasebuffer,
};

#define WS_GETTER(name, expr, doc)                                                   \
	static PyObject *RingReader_get_##name(RingReaderObject *self, void *closure) \
	{                                                                               \
		(void)closure;                                                          \
		return PyLong_FromUnsignedLongLong(self->joined ? (expr) : 0);          \
	}
WS_GETTER(next_seq, self->r.next_seq, "")
WS_GETTER(lost, self->r.lost_cnt, "")
WS_GETTER(overruns, self->r.overrun_cnt, "")
WS_GETTER(head_seq, ws_ring_head(&self->r), "")
WS_GETTER(epoch, self->r.epoch_seen, "")

static PyGetSetDef RingReader_getset[] = {
	{"next_seq", (getter)RingReader_get_next_seq, NULL, "the seq this reader wants next", NULL},
	{"lost", (getter)RingReader_get_lost, NULL, "records skipped: lapped, or overwritten while copied", NULL},
	{"overruns", (getter)RingReader_get_overruns, NULL, "times this reader was lapped", NULL},
	{"head_seq", (getter)RingReader_get_head_seq, NULL, "the next seq the writer will publish", NULL},
	{"epoch", (getter)RingReader_get_epoch, NULL, "writer epoch last seen", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static void RingReader_dealloc(RingReaderObject *self)
{
	if (self->joined)
		ws_ring_reader_leave(&self->r);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef RingReader_methods[] = {
	{"read_batch", (PyCFunction)RingReader_read_batch, METH_VARARGS,
	 "read_batch(headers, payload, max) -> n records copied"},
	{"peek_batch", (PyCFunction)RingReader_peek_batch, METH_VARARGS,
	 "peek_batch(headers, max) -> n headers; off = offset in memoryview(reader)"},
	{"still_valid", (PyCFunction)RingReader_still_valid, METH_VARARGS,
	 "still_valid(headers, n, out) -> count intact"},
	{"writer_state", (PyCFunction)RingReader_writer_state, METH_NOARGS,
	 "writer_state() -> (alive|closed|dead|never, restarted)"},
	{"control", (PyCFunction)RingReader_control, METH_NOARGS, "control() -> dict of the control page"},
	{"meta", (PyCFunction)RingReader_meta, METH_NOARGS, "meta() -> bytes: what the records are (b'' if unset)"},
	{"close", (PyCFunction)RingReader_close, METH_NOARGS, "close(): unmap (refused while views live)"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject RingReaderType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.RingReader",
	.tp_basicsize = sizeof(RingReaderObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "RingReader(path, start=0, seq=0): an independent read-only reader of a ring.",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)RingReader_init,
	.tp_dealloc = (destructor)RingReader_dealloc,
	.tp_methods = RingReader_methods,
	.tp_getset = RingReader_getset,
	.tp_as_buffer = &RingReader_as_buffer,
};

PyMethodDef ws_py_ring_methods[] = {
	{"ring_create", (PyCFunction)(void (*)(void))py_ring_create, METH_VARARGS | METH_KEYWORDS,
	 "ring_create(path, payload_sz, entry_cnt=0, mode=0o640): lay out a new ring file."},
	{NULL, NULL, 0, NULL},
};
