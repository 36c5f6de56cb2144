/* python/formats.c - pcapng blocks for a batch of ring records
 * (formats/pcapng.h), for the recorder and PcapngWriter; PcapSource, a
 * recording read in C (formats/pcapread.h), for exports.
 *
 * Ownership: headers, payload and out are borrowed for the call only; the
 * GIL is released while the blocks are written, so the caller must not
 * resize out meanwhile (a numpy array or bytearray it owns). A PcapSource
 * owns its read-only mapping of the file until it is closed or freed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/pcapng.h"
#include "python/formats.h"
#include "python/module.h"

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

/* -- PcapSource ---------------------------------------------------------------- */

static int Source_init(PcapSourceObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", NULL};
	PyObject *path_obj;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&", kwlist, PyUnicode_FSConverter, &path_obj))
		return -1;
	const char *path = PyBytes_AS_STRING(path_obj);
	if (self->map) {
		PyErr_SetString(PyExc_RuntimeError, "PcapSource is already open");
		Py_DECREF(path_obj);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		char call[600];
		snprintf(call, sizeof(call), "open(%s)", path);
		Py_DECREF(path_obj);
		ws_raise(NULL, e, call);
		return -1;
	}
	size_t len = (size_t)st.st_size;
	void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (map == MAP_FAILED) {
		char call[600];
		snprintf(call, sizeof(call), "mmap(%s)", path);
		Py_DECREF(path_obj);
		ws_raise(NULL, errno, call);
		return -1;
	}
	Py_DECREF(path_obj);
	if (map)
		madvise(map, len, MADV_SEQUENTIAL);
	self->map = map;
	self->len = len;
	if (ws_pcap_open(&self->rd, map, len) < 0) {
		PyErr_SetString(PyExc_ValueError, self->rd.err);
		return -1;
	}
	self->ready = 1;
	return 0;
}

static void Source_unmap(PcapSourceObject *self)
{
	if (self->map)
		munmap(self->map, self->len);
	self->map = NULL;
	self->ready = 0;
}

static void Source_dealloc(PcapSourceObject *self)
{
	Source_unmap(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Source_close(PcapSourceObject *self, PyObject *unused)
{
	(void)unused;
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "PcapSource is in use");
		return NULL;
	}
	Source_unmap(self);
	Py_RETURN_NONE;
}

/* stats() -> dict: packets, bytes read, where, skipped blocks, error */
static PyObject *Source_stats(PcapSourceObject *self, PyObject *unused)
{
	(void)unused;
	const ws_pcap_reader_t *r = &self->rd;
	unsigned long long recv = 0, drop = 0, osdrop = 0;
	for (uint32_t i = 0; i < WS_PCAP_MAX_IF; i++) {
		recv += r->isb_recv[i];
		drop += r->isb_drop[i];
		osdrop += r->isb_osdrop[i];
	}
	return Py_BuildValue("{sKsnsnsKsKszsnsKsKsKsKsz}", "packets", (unsigned long long)r->packets, "offset",
	                     (Py_ssize_t)r->off, "size", (Py_ssize_t)r->len, "skipped_blocks",
	                     (unsigned long long)r->skipped_blocks, "no_timestamp", (unsigned long long)r->no_timestamp,
	                     "error", r->err[0] ? r->err : NULL, "error_offset", (Py_ssize_t)r->err_off,
	                     "capture_blocks", (unsigned long long)r->isb_blocks, "capture_received", recv,
	                     "capture_dropped", drop, "capture_os_dropped", osdrop, "capture_host",
	                     r->host[0] ? r->host : NULL);
}

static PyMethodDef Source_methods[] = {
	{"stats", (PyCFunction)Source_stats, METH_NOARGS,
	 "stats() -> dict: packets read, offset, size, skipped_blocks, no_timestamp, error (None or why it stopped), "
	 "the capture's own counts from its statistics blocks (capture_received, capture_dropped, capture_os_dropped), "
	 "and the capture host its section header names (capture_host, or None)"},
	{"close", (PyCFunction)Source_close, METH_NOARGS, "close(): unmap the file"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject PcapSourceType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.PcapSource",
	.tp_basicsize = sizeof(PcapSourceObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "PcapSource(path): a pcapng or pcap recording, mapped read-only and read in C (formats/pcapread.h)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Source_init,
	.tp_dealloc = (destructor)Source_dealloc,
	.tp_methods = Source_methods,
};

PyMethodDef ws_py_formats_methods[] = {
	{"pcapng_epbs", py_pcapng_epbs, METH_VARARGS,
	 "pcapng_epbs(headers, payload, ifaces, out=None, offset=0) -> bytes, or bytes written into out (-needed if no room)"},
	{NULL, NULL, 0, NULL},
};
