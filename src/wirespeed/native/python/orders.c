/* python/orders.c - the C OUCH and SoupBinTCP codecs (orders/), so tests
 * hold them to the Python ones (wirespeed/orders/) byte for byte and
 * verdict for verdict. Not a hot path: a message becomes a dict.
 *
 * Ownership: buffers are borrowed for the call only; results are new
 * objects. Threads: the GIL is held throughout.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "orders/ouch.h"
#include "orders/soupbin.h"
#include "python/module.h"

static int ws_dir_ok(int dir)
{
	if (dir != WS_OUCH_IN && dir != WS_OUCH_OUT) {
		PyErr_SetString(PyExc_ValueError, "direction is 0 (in) or 1 (out)");
		return 0;
	}
	return 1;
}

/* One field of m as a Python value (alpha fields with their padding). */
static PyObject *ws_field_value(const ws_ouch_msg_t *m, const ws_ouch_field_t *f)
{
	const uint8_t *src = (const uint8_t *)m + f->offset;
	switch (f->kind) {
	case WS_F_CHAR: return PyUnicode_DecodeLatin1((const char *)src, 1, NULL);
	case WS_F_ALPHA: return PyUnicode_DecodeLatin1((const char *)src, f->width, NULL);
	case WS_F_U16: return PyLong_FromUnsignedLong(*(const uint16_t *)src);
	case WS_F_U32: return PyLong_FromUnsignedLong(*(const uint32_t *)src);
	default: return PyLong_FromUnsignedLongLong(*(const uint64_t *)src);
	}
}

/* ouch_decode(direction, data) -> dict (fields, "type", "options": the
 * appendage's bytes or None), or the negative ws_ouch_err. */
static PyObject *py_ouch_decode(PyObject *self, PyObject *args)
{
	(void)self;
	int dir;
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "iy*", &dir, &b))
		return NULL;
	PyObject *res = NULL;
	if (!ws_dir_ok(dir))
		goto out;
	ws_ouch_msg_t m;
	uint32_t len = b.len > UINT32_MAX ? UINT32_MAX : (uint32_t)b.len;
	int rc = ws_ouch_decode(dir, b.buf, len, &m);
	if (rc) {
		res = PyLong_FromLong(rc);
		goto out;
	}
	const ws_ouch_spec_t *s = ws_ouch_spec(dir, m.type);
	res = PyDict_New();
	PyObject *v = res ? PyUnicode_DecodeLatin1((const char *)&m.type, 1, NULL) : NULL;
	if (!v || PyDict_SetItemString(res, "type", v))
		goto fail;
	Py_DECREF(v);
	for (uint32_t i = 0; i < s->n_fields; i++) {
		v = ws_field_value(&m, &s->fields[i]);
		if (!v || PyDict_SetItemString(res, s->fields[i].name, v))
			goto fail;
		Py_DECREF(v);
	}
	v = m.has_app ? PyBytes_FromStringAndSize((const char *)m.app, m.app_len) : Py_NewRef(Py_None);
	if (!v || PyDict_SetItemString(res, "options", v))
		goto fail;
	Py_DECREF(v);
	goto out;
fail:
	Py_XDECREF(v);
	Py_CLEAR(res);
out:
	PyBuffer_Release(&b);
	return res;
}

/* Fill one field of m from the dict's value. 0 or -1 with an exception. */
static int ws_field_set(ws_ouch_msg_t *m, const ws_ouch_field_t *f, PyObject *v)
{
	uint8_t *dst = (uint8_t *)m + f->offset;
	if (f->kind == WS_F_CHAR || f->kind == WS_F_ALPHA) {
		Py_ssize_t n;
		const char *s = PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, &n) : NULL;
		if (!s || n > f->width) {
			PyErr_Format(PyExc_ValueError, "%s: a str of at most %d characters", f->name, f->width);
			return -1;
		}
		memset(dst, ' ', f->width);
		memcpy(dst, s, (size_t)n);
		return 0;
	}
	unsigned long long x = PyLong_AsUnsignedLongLong(v);
	if (PyErr_Occurred())
		return -1;
	if ((f->kind == WS_F_U16 && x > 0xffff) || (f->kind == WS_F_U32 && x > 0xffffffffull)) {
		PyErr_Format(PyExc_ValueError, "%s: %llu does not fit %d bytes", f->name, x, f->width);
		return -1;
	}
	if (f->kind == WS_F_U16)
		*(uint16_t *)dst = (uint16_t)x;
	else if (f->kind == WS_F_U32)
		*(uint32_t *)dst = (uint32_t)x;
	else
		*(uint64_t *)dst = x;
	return 0;
}

/* ouch_encode(direction, dict) -> bytes: the C encoder, from a dict shaped
 * like ouch_decode's ("options": appendage bytes, or None). */
static PyObject *py_ouch_encode(PyObject *self, PyObject *args)
{
	(void)self;
	int dir;
	PyObject *d;
	if (!PyArg_ParseTuple(args, "iO!", &dir, &PyDict_Type, &d) || !ws_dir_ok(dir))
		return NULL;
	PyObject *t = PyDict_GetItemString(d, "type");
	Py_ssize_t tn;
	const char *ts = t && PyUnicode_Check(t) ? PyUnicode_AsUTF8AndSize(t, &tn) : NULL;
	const ws_ouch_spec_t *s = ts && tn == 1 ? ws_ouch_spec(dir, (uint8_t)ts[0]) : NULL;
	if (!s) {
		PyErr_SetString(PyExc_ValueError, "type: an OUCH 5.0 type letter of this direction");
		return NULL;
	}
	ws_ouch_msg_t m;
	memset(&m, 0, sizeof(m));
	m.type = (uint8_t)ts[0];
	for (uint32_t i = 0; i < s->n_fields; i++) {
		PyObject *v = PyDict_GetItemString(d, s->fields[i].name);
		if (!v) {
			PyErr_Format(PyExc_KeyError, "%s", s->fields[i].name);
			return NULL;
		}
		if (ws_field_set(&m, &s->fields[i], v))
			return NULL;
	}
	PyObject *opt = PyDict_GetItemString(d, "options");
	Py_buffer app = {0};
	if (opt && opt != Py_None) {
		if (PyObject_GetBuffer(opt, &app, PyBUF_SIMPLE))
			return NULL;
		if (app.len > 0xffff) {
			PyBuffer_Release(&app);
			PyErr_SetString(PyExc_ValueError, "options: at most 65535 bytes");
			return NULL;
		}
		m.has_app = 1;
		m.app_len = (uint16_t)app.len;
		m.app = app.buf;
	}
	uint32_t size = ws_ouch_size(dir, &m);
	PyObject *res = PyBytes_FromStringAndSize(NULL, size);
	if (res)
		ws_ouch_encode(dir, &m, (uint8_t *)PyBytes_AS_STRING(res));
	if (app.obj)
		PyBuffer_Release(&app);
	return res;
}

/* ouch_specs(direction) -> [(type, name, fixed, appendage, [(field, kind, width)])] */
static PyObject *py_ouch_specs(PyObject *self, PyObject *args)
{
	(void)self;
	int dir;
	if (!PyArg_ParseTuple(args, "i", &dir) || !ws_dir_ok(dir))
		return NULL;
	PyObject *out = PyList_New(0);
	for (int c = 0; out && c < 128; c++) {
		const ws_ouch_spec_t *s = ws_ouch_spec(dir, (uint8_t)c);
		if (!s)
			continue;
		PyObject *fields = PyList_New(0);
		for (uint32_t i = 0; fields && i < s->n_fields; i++) {
			PyObject *f = Py_BuildValue("(sii)", s->fields[i].name, s->fields[i].kind, s->fields[i].width);
			if (!f || PyList_Append(fields, f))
				Py_CLEAR(fields);
			Py_XDECREF(f);
		}
		PyObject *e = fields ? Py_BuildValue("(CsiiN)", c, s->name, s->fixed, s->app, fields) : NULL;
		if (!e || PyList_Append(out, e))
			Py_CLEAR(out);
		Py_XDECREF(e);
	}
	return out;
}

/* soup_next(buf, max_len) -> (taken, type, payload); (0, None, None) if
 * more bytes are needed; a negative ws_soup_err for an impossible length. */
static PyObject *py_soup_next(PyObject *self, PyObject *args)
{
	(void)self;
	Py_buffer b;
	unsigned int max_len;
	if (!PyArg_ParseTuple(args, "y*I", &b, &max_len))
		return NULL;
	ws_soup_pkt_t pkt;
	uint32_t len = b.len > UINT32_MAX ? UINT32_MAX : (uint32_t)b.len;
	int rc = ws_soup_next(b.buf, len, max_len, &pkt);
	PyObject *res;
	if (rc < 0)
		res = PyLong_FromLong(rc);
	else if (rc == 0)
		res = Py_BuildValue("(iOO)", 0, Py_None, Py_None);
	else
		res = Py_BuildValue("(iy#y#)", rc, (const char *)&pkt.type, (Py_ssize_t)1, (const char *)pkt.payload,
		                    (Py_ssize_t)pkt.payload_len);
	PyBuffer_Release(&b);
	return res;
}

/* soup_login_parse(payload) -> dict, or a negative ws_soup_err. */
static PyObject *py_soup_login_parse(PyObject *self, PyObject *args)
{
	(void)self;
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "y*", &b))
		return NULL;
	ws_soup_login_t l;
	uint32_t len = b.len > UINT32_MAX ? UINT32_MAX : (uint32_t)b.len;
	int rc = ws_soup_login_parse(b.buf, len, &l);
	PyBuffer_Release(&b);
	if (rc)
		return PyLong_FromLong(rc);
	return Py_BuildValue("{s:s,s:s,s:s,s:K,s:I,s:i}", "username", l.username, "password", l.password, "session",
	                     l.session, "sequence", (unsigned long long)l.sequence, "heartbeat_timeout_ms",
	                     l.heartbeat_timeout_ms, "version", l.version);
}

/* soup_login_request(user, password, session, sequence, heartbeat_ms) and
 * soup_login_accepted(session, sequence) -> the packet's bytes. */
static PyObject *py_soup_login_request(PyObject *self, PyObject *args)
{
	(void)self;
	const char *u, *p, *s;
	unsigned long long seq;
	unsigned int hb;
	if (!PyArg_ParseTuple(args, "sssKI", &u, &p, &s, &seq, &hb))
		return NULL;
	uint8_t out[64];
	uint32_t n = ws_soup_login_request(out, u, p, s, seq, hb);
	return PyBytes_FromStringAndSize((const char *)out, n);
}

static PyObject *py_soup_login_accepted(PyObject *self, PyObject *args)
{
	(void)self;
	const char *s;
	unsigned long long seq;
	if (!PyArg_ParseTuple(args, "sK", &s, &seq))
		return NULL;
	uint8_t out[40];
	uint32_t n = ws_soup_login_accepted(out, s, seq);
	return PyBytes_FromStringAndSize((const char *)out, n);
}

PyMethodDef ws_py_orders_methods[] = {
	{"ouch_decode", py_ouch_decode, METH_VARARGS,
	 "ouch_decode(direction, data) -> dict, or the negative reason it cannot be decoded (ws_ouch_err)"},
	{"ouch_encode", py_ouch_encode, METH_VARARGS, "ouch_encode(direction, dict) -> bytes: the C encoder"},
	{"ouch_specs", py_ouch_specs, METH_VARARGS, "ouch_specs(direction) -> the C message table"},
	{"soup_next", py_soup_next, METH_VARARGS,
	 "soup_next(buf, max_len) -> (taken, type, payload), (0, None, None) for more, or a negative ws_soup_err"},
	{"soup_login_parse", py_soup_login_parse, METH_VARARGS, "soup_login_parse(payload) -> dict or ws_soup_err"},
	{"soup_login_request", py_soup_login_request, METH_VARARGS,
	 "soup_login_request(user, password, session, sequence, heartbeat_ms) -> bytes (4.1)"},
	{"soup_login_accepted", py_soup_login_accepted, METH_VARARGS, "soup_login_accepted(session, sequence) -> bytes"},
	{NULL, NULL, 0, NULL},
};
