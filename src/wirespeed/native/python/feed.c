/* python/feed.c - the C ITCH 5.0 decoder (feed/itch.h), so tests hold it
 * to the Python one (wirespeed/feed/itch.py). The buffer is borrowed for
 * the call only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "feed/itch.h"
#include "python/module.h"

/* itch_decode(bytes) -> dict, or an int: 0 unknown type, -1 bad length, -2 empty */
static PyObject *py_itch_decode(PyObject *self, PyObject *args)
{
	(void)self;
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "y*", &b))
		return NULL;
	ws_itch_msg_t m;
	int rc = ws_itch_decode(b.buf, (uint32_t)b.len, &m);
	PyBuffer_Release(&b);
	if (rc != 1)
		return PyLong_FromLong(rc);
	return Py_BuildValue("{s:C,s:H,s:H,s:K,s:K,s:K,s:K,s:K,s:I,s:y#,s:i,s:i,s:i}", "type", m.type,
	                     "locate", m.locate, "tracking", m.tracking, "ts_ns", m.ts_ns, "order_ref", m.order_ref,
	                     "new_ref", m.new_ref, "match", m.match, "shares", m.shares, "price", m.price, "stock",
	                     m.stock, (Py_ssize_t)8, "side", m.side, "printable", m.printable, "event", m.event);
}

PyMethodDef ws_py_feed_methods[] = {
	{"itch_decode", py_itch_decode, METH_VARARGS,
	 "itch_decode(msg) -> dict, or 0 (unknown type), -1 (wrong length), -2 (empty): the C decoder"},
	{NULL, NULL, 0, NULL},
};
