/* python/formats.c - pcapng blocks for a batch of ring records
 * (formats/pcapng.h), for the recorder and PcapngWriter.
 *
 * Ownership: headers, payload and out are borrowed for the call only; the
 * GIL is released while the blocks are written, so the caller must not
 * resize out meanwhile (a numpy array or bytearray it owns).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "formats/pcapng.h"
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

PyMethodDef ws_py_formats_methods[] = {
	{"pcapng_epbs", py_pcapng_epbs, METH_VARARGS,
	 "pcapng_epbs(headers, payload, ifaces, out=None, offset=0) -> bytes, or bytes written into out (-needed if no room)"},
	{NULL, NULL, 0, NULL},
};
