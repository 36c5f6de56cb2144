/* python/orders.c - the C OUCH and SoupBinTCP codecs (orders/), so tests
 * hold them to the Python ones (wirespeed/orders/) byte for byte and
 * verdict for verdict (not a hot path: a message becomes a dict); and
 * _native.OrderSession, the order session with its risk checks
 * (orders/session.h, orders/risk.h).
 *
 * Ownership: codec buffers are borrowed for the call only; results are new
 * objects. An OrderSession owns its session (and the bookref its collar
 * reads, holding the FeedRouter it was given).
 *
 * Threads: codec calls hold the GIL throughout. An OrderSession has a
 * mutex: every call takes it (after the books' mutex when it reads the
 * books: the same order as trade/trader.h's loop), and run() - the I/O
 * loop, without the GIL - takes it only to service the socket, never while
 * it waits in poll(). No call holds it while waiting for the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <arpa/inet.h>

#include "orders/ouch.h"
#include "orders/soupbin.h"
#include "orders/session.h"
#include "python/book.h"
#include "python/module.h"
#include "python/orders.h"
#include "python/transports.h"
#include "system/clock.h"
#include "trade/bookref.h"

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

/* -- _native.OrderSession ------------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	ws_session_t *s;
	pthread_mutex_t lock;
	int lock_made;
	PyObject *router;             /* held (ws_py_router_hold) while the collar reads its books */
	ws_bookref_t *br;
	pthread_mutex_t *books_lock;  /* of the books the collar reads (ours, or a trader's): taken first */
	int running;                  /* run() calls without the GIL */
	int lent;                     /* lent to a Trader (ws_py_session_hold) */
	PyObject *tcp;                /* the TcpXsk the session's link runs over (lent to it), or NULL */
} SessionObject;

static int ws_u32_item(PyObject *d, const char *key, uint32_t *out)
{
	PyObject *v = PyDict_GetItemString(d, key);
	if (!v)
		return 0;
	unsigned long long x = PyLong_AsUnsignedLongLong(v);
	if (PyErr_Occurred())
		return -1;
	if (x > UINT32_MAX) {
		PyErr_Format(PyExc_ValueError, "%s: at most %u", key, UINT32_MAX);
		return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

static int ws_u64_item(PyObject *d, const char *key, uint64_t *out)
{
	PyObject *v = PyDict_GetItemString(d, key);
	if (!v)
		return 0;
	unsigned long long x = PyLong_AsUnsignedLongLong(v);
	if (PyErr_Occurred())
		return -1;
	*out = x;
	return 0;
}

static int ws_limits_from(PyObject *d, ws_risk_limits_t *l)
{
	if (!d || d == Py_None)
		return 0;
	if (!PyDict_Check(d)) {
		PyErr_SetString(PyExc_TypeError, "limits: a dict");
		return -1;
	}
	return ws_u32_item(d, "max_order_qty", &l->max_order_qty) || ws_u64_item(d, "max_order_notional", &l->max_order_notional) ||
	       ws_u32_item(d, "collar_bp", &l->collar_bp) || ws_u32_item(d, "max_open_orders", &l->max_open_orders) ||
	       ws_u32_item(d, "max_orders_per_s", &l->max_orders_per_s) || ws_u32_item(d, "dup_window_ms", &l->dup_window_ms)
	           ? -1 : 0;
}

static int ws_symlimits_from(PyObject *d, ws_risk_symbol_limits_t *l)
{
	if (!d || d == Py_None)
		return 0;
	if (!PyDict_Check(d)) {
		PyErr_SetString(PyExc_TypeError, "symbol limits: a dict");
		return -1;
	}
	uint32_t restricted = l->restricted;
	if (ws_u64_item(d, "max_position", &l->max_position) || ws_u64_item(d, "max_gross_notional", &l->max_gross_notional) ||
	    ws_u32_item(d, "restricted", &restricted))
		return -1;
	l->restricted = restricted != 0;
	return 0;
}

static int Session_init(SessionObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"host", "port", "user", "password", "journal", "symbols", "firm", "heartbeat_ms",
	                         "server_timeout_ms", "reconnect_ms", "max_orders", "event_cap", "limits",
	                         "symbol_limits", "tcp", NULL};
	const char *host, *user, *password, *journal, *firm = "";
	unsigned int port, hb = 0, timeout = 0, reconnect = 0, max_orders = 0, event_cap = 0;
	PyObject *symbols, *limits = Py_None, *symlimits = Py_None, *tcp = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "sIsssO|sIIIIIOOO", kwlist, &host, &port, &user, &password, &journal,
	                                 &symbols, &firm, &hb, &timeout, &reconnect, &max_orders, &event_cap, &limits,
	                                 &symlimits, &tcp))
		return -1;
	if (self->s) {
		PyErr_SetString(PyExc_RuntimeError, "OrderSession is already initialised");
		return -1;
	}
	ws_session_cfg_t cfg = {.heartbeat_ms = hb, .server_timeout_ms = timeout, .reconnect_ms = reconnect,
	                        .max_orders = max_orders, .event_cap = event_cap, .journal = journal};
	if (strlen(user) > 6 || strlen(password) > 10 || strlen(firm) > 4 || port == 0 || port > 65535) {
		PyErr_SetString(PyExc_ValueError, "user: at most 6 characters, password 10, firm 4; port 1..65535");
		return -1;
	}
	strcpy(cfg.user, user);
	strcpy(cfg.password, password);
	strcpy(cfg.firm, firm);
	cfg.addr.sin_family = AF_INET;
	cfg.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &cfg.addr.sin_addr) != 1) {
		PyErr_Format(PyExc_ValueError, "host %s: an IPv4 address", host);
		return -1;
	}
	if (ws_limits_from(limits, &cfg.limits) || ws_symlimits_from(symlimits, &cfg.symbol_limits))
		return -1;
	PyObject *seq = PySequence_Fast(symbols, "symbols: a list of strings");
	if (!seq)
		return -1;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	char(*names)[8] = n > 0 && n <= 65535 ? PyMem_Malloc((size_t)n * 8) : NULL;
	if (!names) {
		Py_DECREF(seq);
		PyErr_SetString(PyExc_ValueError, "symbols: 1 to 65535 of them");
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		Py_ssize_t len;
		const char *name = PyUnicode_Check(PySequence_Fast_GET_ITEM(seq, i))
		                       ? PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(seq, i), &len) : NULL;
		if (!name || len < 1 || len > 8) {
			PyMem_Free(names);
			Py_DECREF(seq);
			PyErr_SetString(PyExc_ValueError, "symbols: strings of 1 to 8 characters");
			return -1;
		}
		memset(names[i], ' ', 8);
		memcpy(names[i], name, (size_t)len);
	}
	Py_DECREF(seq);
	int err = 0;
	self->s = ws_session_new(&cfg, (const char(*)[8])names, (uint32_t)n, &err);
	PyMem_Free(names);
	if (!self->s) {
		errno = -err;
		PyErr_SetFromErrnoWithFilename(PyExc_OSError, journal);
		return -1;
	}
	if (tcp != Py_None) {
		ws_tcp_xsk_t *t = ws_py_tcp_xsk_lend(tcp);
		if (!t) {
			ws_session_delete(self->s);
			self->s = NULL;
			PyErr_SetString(PyExc_ValueError, "tcp: an open TcpXsk that no other session uses");
			return -1;
		}
		ws_session_use_tcp_xsk(self->s, t);
		Py_INCREF(tcp);
		self->tcp = tcp;
	}
	if (!self->lock_made) {
		if (pthread_mutex_init(&self->lock, NULL)) {
			PyErr_SetString(PyExc_RuntimeError, "OrderSession: pthread_mutex_init() failed");
			return -1;
		}
		self->lock_made = 1;
	}
	return 0;
}

static void Session_unbook(SessionObject *self)
{
	if (!self->router)
		return;
	ws_session_set_ref(self->s, NULL, NULL);
	ws_bookref_delete(self->br);
	self->br = NULL;
	ws_py_router_drop(self->router);
	Py_CLEAR(self->router);
	self->books_lock = NULL;
}

static void Session_dealloc(SessionObject *self)
{
	if (self->s) {
		Session_unbook(self);
		ws_session_delete(self->s);
	}
	if (self->tcp) { /* the session is gone: the connection is its owner's again */
		ws_py_tcp_xsk_return(self->tcp);
		Py_CLEAR(self->tcp);
	}
	if (self->lock_made)
		pthread_mutex_destroy(&self->lock);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Session_enter: the books' mutex (if the collar reads books), then the session's. */
static int Session_enter(SessionObject *self)
{
	if (!self->s) {
		PyErr_SetString(PyExc_RuntimeError, "OrderSession not initialised");
		return 0;
	}
	if (self->books_lock)
		pthread_mutex_lock(self->books_lock);
	pthread_mutex_lock(&self->lock);
	return 1;
}

static void Session_leave(SessionObject *self)
{
	pthread_mutex_unlock(&self->lock);
	if (self->books_lock)
		pthread_mutex_unlock(self->books_lock);
}

/* use_books(router or None): the collar reads the books behind a FeedRouter. */
static PyObject *Session_use_books(SessionObject *self, PyObject *router)
{
	if (!self->s) {
		PyErr_SetString(PyExc_RuntimeError, "OrderSession not initialised");
		return NULL;
	}
	if (self->lent) {
		PyErr_SetString(PyExc_RuntimeError, "OrderSession is lent to a Trader, which sets the books itself");
		return NULL;
	}
	pthread_mutex_lock(&self->lock);
	Session_unbook(self);
	pthread_mutex_unlock(&self->lock);
	if (router == Py_None)
		Py_RETURN_NONE;
	ws_route_t *route;
	ws_books_t *books;
	pthread_mutex_t *block;
	if (ws_py_router_hold(router, &route, &books, &block))
		return NULL;
	pthread_mutex_lock(block);
	ws_bookref_t *br = ws_bookref_new(books, route, self->s);
	pthread_mutex_unlock(block);
	if (!br) {
		ws_py_router_drop(router);
		return PyErr_NoMemory();
	}
	Py_INCREF(router);
	pthread_mutex_lock(&self->lock);
	self->router = router;
	self->br = br;
	self->books_lock = block;
	ws_session_set_ref(self->s, ws_bookref_ref, br);
	pthread_mutex_unlock(&self->lock);
	Py_RETURN_NONE;
}

/* run(seconds): the I/O loop without the GIL: waits for the socket (at most
 * 10 ms at a time, so timers run), then services it under the mutex. */
static PyObject *Session_run(SessionObject *self, PyObject *args)
{
	double seconds;
	if (!PyArg_ParseTuple(args, "d", &seconds))
		return NULL;
	if (!self->s) {
		PyErr_SetString(PyExc_RuntimeError, "OrderSession not initialised");
		return NULL;
	}
	if (!(seconds >= 0 && seconds <= 3600)) {
		PyErr_SetString(PyExc_ValueError, "run: seconds is 0..3600");
		return NULL;
	}
	self->running++;
	Py_BEGIN_ALLOW_THREADS
	uint64_t end = ws_mono_ns() + (uint64_t)(seconds * 1e9);
	for (;;) {
		pthread_mutex_t *block = self->books_lock; /* set and cleared with the GIL held */
		if (block)
			pthread_mutex_lock(block);
		pthread_mutex_lock(&self->lock);
		if (self->br)
			ws_bookref_map(self->br); /* the directory may have grown: a compare if not */
		ws_session_service(self->s, ws_mono_ns());
		struct pollfd pfd = {.fd = ws_session_fd(self->s), .events = POLLIN};
		if (ws_session_wants_write(self->s))
			pfd.events |= POLLOUT;
		pthread_mutex_unlock(&self->lock);
		if (block)
			pthread_mutex_unlock(block);
		uint64_t now = ws_mono_ns();
		if (now >= end)
			break;
		uint64_t left_ms = (end - now) / 1000000ull;
		int wait = left_ms < 10 ? (int)left_ms : 10;
		if (pfd.fd >= 0)
			poll(&pfd, 1, wait ? wait : 1);
		else
			usleep((useconds_t)(wait ? wait : 1) * 1000u);
	}
	Py_END_ALLOW_THREADS
	self->running--;
	Py_RETURN_NONE;
}

static PyObject *Session_service(SessionObject *self, PyObject *unused)
{
	(void)unused;
	if (!Session_enter(self))
		return NULL;
	ws_session_service(self->s, ws_mono_ns());
	Session_leave(self);
	Py_RETURN_NONE;
}

/* enter(sym, side, qty, price, tif, clordid=None) -> UserRefNum, or a refusal < 0 */
static PyObject *Session_enter_order(SessionObject *self, PyObject *args)
{
	unsigned int sym, qty, price;
	int side, tif;
	const char *clordid = NULL;
	Py_ssize_t cl_len = 0;
	if (!PyArg_ParseTuple(args, "ICIIC|z#", &sym, &side, &qty, &price, &tif, &clordid, &cl_len))
		return NULL;
	char cl[14];
	if (clordid) {
		if (cl_len > 14) {
			PyErr_SetString(PyExc_ValueError, "clordid: at most 14 characters");
			return NULL;
		}
		memset(cl, ' ', 14);
		memcpy(cl, clordid, (size_t)cl_len);
	}
	if (!Session_enter(self))
		return NULL;
	int64_t rc = ws_session_enter(self->s, sym, (char)side, qty, price, (char)tif, clordid ? cl : NULL, ws_mono_ns());
	Session_leave(self);
	return PyLong_FromLongLong(rc);
}

static PyObject *Session_replace(SessionObject *self, PyObject *args)
{
	unsigned int urn, qty, price;
	if (!PyArg_ParseTuple(args, "III", &urn, &qty, &price) || !Session_enter(self))
		return NULL;
	int64_t rc = ws_session_replace(self->s, urn, qty, price, NULL, ws_mono_ns());
	Session_leave(self);
	return PyLong_FromLongLong(rc);
}

static PyObject *Session_cancel(SessionObject *self, PyObject *args)
{
	unsigned int urn, qty = 0;
	if (!PyArg_ParseTuple(args, "I|I", &urn, &qty) || !Session_enter(self))
		return NULL;
	int rc = ws_session_cancel(self->s, urn, qty);
	Session_leave(self);
	return PyLong_FromLong(rc);
}

static PyObject *Session_kill(SessionObject *self, PyObject *args)
{
	int disable = 0;
	if (!PyArg_ParseTuple(args, "|p", &disable) || !Session_enter(self))
		return NULL;
	int n = ws_session_kill(self->s, disable);
	Session_leave(self);
	return PyLong_FromLong(n);
}

/* A call that takes the session alone, under its locks. */
static PyObject *Session_do(SessionObject *self, void (*fn)(ws_session_t *))
{
	if (!Session_enter(self))
		return NULL;
	fn(self->s);
	Session_leave(self);
	Py_RETURN_NONE;
}

static PyObject *Session_unkill(SessionObject *self, PyObject *unused)
{
	(void)unused;
	return Session_do(self, ws_session_unkill);
}

/* close(): Logout, the link closed for good; a user-space TCP goes back to its owner. */
static PyObject *Session_close(SessionObject *self, PyObject *unused)
{
	(void)unused;
	if (!Session_enter(self))
		return NULL;
	ws_session_close(self->s);
	if (self->tcp)
		ws_session_use_tcp_xsk(self->s, NULL);
	Session_leave(self);
	if (self->tcp) {
		ws_py_tcp_xsk_return(self->tcp);
		Py_CLEAR(self->tcp);
	}
	Py_RETURN_NONE;
}

static PyObject *Session_sync(SessionObject *self, PyObject *unused)
{
	(void)unused;
	if (!Session_enter(self))
		return NULL;
	int rc = ws_session_sync(self->s);
	Session_leave(self);
	if (rc) {
		errno = -rc;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	Py_RETURN_NONE;
}

static PyObject *ws_counts(const uint64_t *c, int n, const char *const *names)
{
	PyObject *d = PyDict_New();
	for (int i = 0; d && i < n; i++) {
		PyObject *v = PyLong_FromUnsignedLongLong(c[i]);
		if (!v || PyDict_SetItemString(d, names[i], v)) {
			Py_XDECREF(v);
			Py_DECREF(d);
			return NULL;
		}
		Py_DECREF(v);
	}
	return d;
}

static PyObject *ws_by_letter(const uint64_t *c)
{
	PyObject *d = PyDict_New();
	for (int t = 0; d && t < 128; t++) {
		if (!c[t])
			continue;
		char k[2] = {(char)t, 0};
		PyObject *v = PyLong_FromUnsignedLongLong(c[t]);
		if (!v || PyDict_SetItemString(d, k, v)) {
			Py_XDECREF(v);
			Py_DECREF(d);
			return NULL;
		}
		Py_DECREF(v);
	}
	return d;
}

/* stats() -> dict: the link, counters, refusals by check. Copied under the
 * mutex, built after (no GC-tracked object is made under it). */
static PyObject *Session_stats(SessionObject *self, PyObject *unused)
{
	(void)unused;
	if (!Session_enter(self))
		return NULL;
	ws_session_stats_t st = *ws_session_stats(self->s);
	uint64_t refused[WS_RISK_CHECKS];
	memcpy(refused, ws_risk_refusals(ws_session_risk(self->s)), sizeof(refused));
	uint64_t open = ws_risk_open_orders(ws_session_risk(self->s));
	int killed = ws_risk_killed(ws_session_risk(self->s));
	Session_leave(self);
	refused[0] = 0;
	return Py_BuildValue(
	    "{s:s,s:s,s:K,s:K,s:K,s:N,s:N,s:N,s:N,s:{s:K,s:K,s:K,s:K,s:K,s:K},s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,"
	    "s:K,s:K,s:I,s:I,s:I,s:K,s:O,s:K,s:K}",
	    "link", ws_link_names[st.link], "last_drop", ws_link_drop_names[st.last_drop], "connects", st.connects,
	    "logins", st.logins, "login_rejected", st.login_rejected, "drops",
	    ws_counts(st.drops, WS_LDROPS, ws_link_drop_names), "sent", ws_by_letter(st.sent_by_type), "received",
	    ws_by_letter(st.recv_by_type), "refused_by_check", ws_counts(refused + 1, WS_RISK_CHECKS - 1, ws_risk_check_names + 1),
	    "refused", "link_down", st.refused_link, "unknown_symbol", st.refused_symbol, "bad_order", st.refused_bad,
	    "journal_full", st.refused_journal, "backpressure", st.refused_backpressure, "unknown_order",
	    st.refused_unknown, "heartbeats_sent", st.heartbeats_sent, "heartbeats_recv", st.heartbeats_recv,
	    "seq_gaps", st.seq_gaps, "seq_lost", st.seq_lost, "replayed", st.replayed, "events_lost", st.events_lost,
	    "unknown_urn", st.unknown_urn, "fills", st.fills, "filled_shares", st.filled_shares, "bytes_out",
	    st.bytes_out, "bytes_in", st.bytes_in, "next_seq", st.next_seq, "next_urn", st.next_urn,
	    "exchange_next_urn", st.exchange_next_urn, "recovered_orders", st.recovered_orders, "open_orders", open,
	    "killed", killed ? Py_True : Py_False, "lost_in_transit", st.lost_in_transit, "revived", st.revived);
}

/* orders() -> bytes: ws_order_t for UserRefNums 1..max (unused slots zero). */
static PyObject *Session_orders(SessionObject *self, PyObject *unused)
{
	(void)unused;
	if (!Session_enter(self))
		return NULL;
	uint32_t top = ws_session_max_urn(self->s);
	ws_order_t *copy = top ? PyMem_Malloc((size_t)top * sizeof(*copy)) : NULL;
	if (top && !copy) {
		Session_leave(self);
		return PyErr_NoMemory();
	}
	for (uint32_t u = 1; u <= top; u++) {
		const ws_order_t *o = ws_session_order(self->s, u);
		if (o)
			copy[u - 1] = *o;
		else
			memset(&copy[u - 1], 0, sizeof(*copy));
	}
	Session_leave(self);
	PyObject *b = PyBytes_FromStringAndSize((const char *)copy, (Py_ssize_t)top * (Py_ssize_t)sizeof(ws_order_t));
	PyMem_Free(copy);
	return b;
}

/* take_events() -> bytes: ws_order_ev_t of every exchange message since the last take. */
static PyObject *Session_take_events(SessionObject *self, PyObject *unused)
{
	(void)unused;
	if (!Session_enter(self))
		return NULL;
	uint32_t n;
	const ws_order_ev_t *ev = ws_session_take_events(self->s, &n);
	PyObject *b = PyBytes_FromStringAndSize((const char *)ev, (Py_ssize_t)n * (Py_ssize_t)sizeof(*ev));
	Session_leave(self);
	return b;
}

/* positions() -> list of (symbol, position, open_buy, open_sell, exec_buy, exec_sell, notional_buy, notional_sell) */
static PyObject *Session_positions(SessionObject *self, PyObject *unused)
{
	(void)unused;
	if (!Session_enter(self))
		return NULL;
	uint32_t n = ws_session_symbols(self->s);
	ws_risk_symbol_t *copy = PyMem_Malloc((size_t)n * sizeof(*copy));
	char(*names)[8] = PyMem_Malloc((size_t)n * 8);
	if (copy && names)
		for (uint32_t i = 0; i < n; i++) {
			copy[i] = *ws_risk_symbol(ws_session_risk(self->s), i);
			memcpy(names[i], ws_session_symbol(self->s, i), 8);
		}
	Session_leave(self);
	PyObject *out = copy && names ? PyList_New(n) : PyErr_NoMemory();
	for (uint32_t i = 0; out && i < n; i++) {
		int len = 8;
		while (len > 0 && names[i][len - 1] == ' ')
			len--;
		PyObject *t = Py_BuildValue("(s#LKKKKKK)", names[i], (Py_ssize_t)len, (long long)copy[i].position,
		                            copy[i].open_qty[0], copy[i].open_qty[1], copy[i].exec_qty[0], copy[i].exec_qty[1],
		                            copy[i].exec_notional[0], copy[i].exec_notional[1]);
		if (!t) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, i, t);
	}
	PyMem_Free(copy);
	PyMem_Free(names);
	return out;
}

static PyObject *Session_set_limits(SessionObject *self, PyObject *d)
{
	if (!Session_enter(self))
		return NULL;
	ws_risk_limits_t l = *ws_risk_limits(ws_session_risk(self->s));
	Session_leave(self);
	if (ws_limits_from(d, &l))
		return NULL;
	Session_enter(self);
	ws_risk_set_limits(ws_session_risk(self->s), &l);
	Session_leave(self);
	Py_RETURN_NONE;
}

static PyObject *Session_set_symbol_limits(SessionObject *self, PyObject *args)
{
	unsigned int sym;
	PyObject *d;
	if (!PyArg_ParseTuple(args, "IO!", &sym, &PyDict_Type, &d) || !Session_enter(self))
		return NULL;
	const ws_risk_symbol_t *rs = ws_risk_symbol(ws_session_risk(self->s), sym);
	ws_risk_symbol_limits_t l = rs ? rs->lim : (ws_risk_symbol_limits_t){0};
	Session_leave(self);
	if (!rs) {
		PyErr_Format(PyExc_IndexError, "no symbol %u", sym);
		return NULL;
	}
	if (ws_symlimits_from(d, &l))
		return NULL;
	Session_enter(self);
	ws_risk_set_symbol(ws_session_risk(self->s), sym, &l);
	Session_leave(self);
	Py_RETURN_NONE;
}

static PyObject *Session_ref(SessionObject *self, PyObject *args)
{
	unsigned int sym;
	if (!PyArg_ParseTuple(args, "I", &sym) || !Session_enter(self))
		return NULL;
	ws_risk_ref_t r = ws_session_ref(self->s, sym);
	Session_leave(self);
	return Py_BuildValue("{s:I,s:I,s:O,s:O}", "bid", r.bid, "ask", r.ask, "stale", r.stale ? Py_True : Py_False,
	                     "known", r.known ? Py_True : Py_False);
}

static PyMethodDef Session_methods[] = {
	{"use_books", (PyCFunction)Session_use_books, METH_O, "use_books(router or None): the collar reads these books"},
	{"run", (PyCFunction)Session_run, METH_VARARGS, "run(seconds): the I/O loop, without the GIL"},
	{"service", (PyCFunction)Session_service, METH_NOARGS, "service(): what is due now (never blocks)"},
	{"enter", (PyCFunction)Session_enter_order, METH_VARARGS,
	 "enter(sym, side, qty, price, tif, clordid=None) -> UserRefNum (> 0) or refusal (< 0)"},
	{"replace", (PyCFunction)Session_replace, METH_VARARGS, "replace(urn, qty, price) -> new UserRefNum or refusal"},
	{"cancel", (PyCFunction)Session_cancel, METH_VARARGS, "cancel(urn, leave=0) -> 0 or refusal"},
	{"kill", (PyCFunction)Session_kill, METH_VARARGS, "kill(disable=False) -> cancels sent"},
	{"unkill", (PyCFunction)Session_unkill, METH_NOARGS, "unkill(): accept orders again"},
	{"close", (PyCFunction)Session_close, METH_NOARGS, "close(): logout, no reconnect"},
	{"sync", (PyCFunction)Session_sync, METH_NOARGS, "sync(): msync the journal"},
	{"stats", (PyCFunction)Session_stats, METH_NOARGS, "stats() -> dict"},
	{"orders", (PyCFunction)Session_orders, METH_NOARGS, "orders() -> bytes of ws_order_t"},
	{"take_events", (PyCFunction)Session_take_events, METH_NOARGS, "take_events() -> bytes of ws_order_ev_t"},
	{"positions", (PyCFunction)Session_positions, METH_NOARGS, "positions() -> list of tuples"},
	{"set_limits", (PyCFunction)Session_set_limits, METH_O, "set_limits(dict)"},
	{"set_symbol_limits", (PyCFunction)Session_set_symbol_limits, METH_VARARGS, "set_symbol_limits(sym, dict)"},
	{"ref", (PyCFunction)Session_ref, METH_VARARGS, "ref(sym) -> the collar's reference now"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject SessionType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.OrderSession",
	.tp_basicsize = sizeof(SessionObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "OrderSession(host, port, user, password, journal, symbols, ...): orders/session.h",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Session_init,
	.tp_dealloc = (destructor)Session_dealloc,
	.tp_methods = Session_methods,
};

/* -- lent to python/trade.c (python/orders.h) -- */

ws_session_t *ws_py_session_hold(PyObject *o, pthread_mutex_t *books_lock, pthread_mutex_t **lock)
{
	if (!PyObject_TypeCheck(o, &SessionType) || !((SessionObject *)o)->s) {
		PyErr_SetString(PyExc_TypeError, "expected an initialised OrderSession");
		return NULL;
	}
	SessionObject *self = (SessionObject *)o;
	if (self->router) {
		PyErr_SetString(PyExc_RuntimeError, "OrderSession reads other books (use_books(None) first)");
		return NULL;
	}
	if (self->lent) {
		PyErr_SetString(PyExc_RuntimeError, "OrderSession is lent to a Trader already");
		return NULL;
	}
	self->lent = 1;
	self->books_lock = books_lock; /* the trader's books: every call takes their lock first */
	*lock = &self->lock;
	return self->s;
}

void ws_py_session_drop(PyObject *o)
{
	SessionObject *self = (SessionObject *)o;
	self->lent = 0;
	self->books_lock = NULL;
}
