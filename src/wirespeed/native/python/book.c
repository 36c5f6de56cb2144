/* python/book.c - _native.BookEngine, FeedHandler and FeedRouter: the Python
 * types over book.h, feed.h and route.h.
 *
 * Ownership: a BookEngine owns its books (freed with the object); a
 * FeedHandler or FeedRouter holds a reference to its BookEngine.
 *
 * Threads: the books have one lock, the BookEngine's mutex. Every call
 * that touches the books, a feed or a router holds it, and so does
 * FeedRouter.follow - which runs without the GIL - but only while it
 * applies a batch, never while it spins on the ring. So another Python
 * thread may read the books while follow runs, waiting at most one batch.
 * Two rules keep this free of deadlock and of surprises:
 *   - the mutex is never held while waiting for the GIL (follow takes it
 *     without the GIL, and lets go before taking the GIL back);
 *   - under the mutex no object the cyclic GC tracks (tuple, list, dict) is
 *     made, since a collection could run Python code: calls copy what they
 *     read into C memory, let go, then build their result.
 * apply_day also runs without the GIL, for a whole day: the engine is busy
 * meanwhile and every other call refuses rather than wait.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>

#include "book/book.h"
#include "book/feed.h"
#include "book/route.h"
#include "python/ring.h"

typedef struct {
	PyObject_HEAD
	ws_books_t *books;
	int busy;      /* apply_day running without the GIL */
	int following; /* FeedRouter.follow calls running without the GIL */
	int lock_made;
	pthread_mutex_t lock; /* see Threads at the top */
} BookObject;

static int Book_init(BookObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"max_locate", "max_orders", "max_levels", NULL};
	unsigned int max_locate = 65535, max_orders = 1u << 22, max_levels = 1u << 20;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|III", kwlist, &max_locate, &max_orders, &max_levels))
		return -1;
	if (self->busy || self->following) {
		PyErr_SetString(PyExc_RuntimeError, "BookEngine is in use by another thread");
		return -1;
	}
	if (!self->lock_made) {
		if (pthread_mutex_init(&self->lock, NULL)) {
			PyErr_SetString(PyExc_RuntimeError, "BookEngine: pthread_mutex_init() failed");
			return -1;
		}
		self->lock_made = 1;
	}
	if (self->books)
		ws_books_delete(self->books);
	self->books = ws_books_create(max_locate, max_orders, max_levels);
	if (!self->books) {
		PyErr_SetString(PyExc_ValueError, "BookEngine: max_locate 1..65535, max_orders 1..2^30, max_levels >= 1 "
		                                  "(or out of memory)");
		return -1;
	}
	return 0;
}

static void Book_dealloc(BookObject *self)
{
	ws_books_delete(self->books);
	if (self->lock_made)
		pthread_mutex_destroy(&self->lock);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Book_ready(BookObject *self)
{
	if (!self->books) {
		PyErr_SetString(PyExc_RuntimeError, "BookEngine not initialised");
		return 0;
	}
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "BookEngine is applying messages in another thread");
		return 0;
	}
	return 1;
}

/* Book_enter: ready, then the books' mutex (held by another thread at most
 * for one of follow's batches). 0 with an error set if not ready. */
static int Book_enter(BookObject *self)
{
	if (!Book_ready(self))
		return 0;
	pthread_mutex_lock(&self->lock);
	return 1;
}

static void Book_leave(BookObject *self)
{
	pthread_mutex_unlock(&self->lock);
}

static PyObject *Book_apply_day(BookObject *self, PyObject *args)
{
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "y*", &b))
		return NULL;
	if (!Book_ready(self) || self->following) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_RuntimeError, "BookEngine is being followed in another thread");
		PyBuffer_Release(&b);
		return NULL;
	}
	uint64_t n;
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS
	n = ws_books_apply_day(self->books, b.buf, (size_t)b.len);
	Py_END_ALLOW_THREADS
	self->busy = 0;
	PyBuffer_Release(&b);
	return PyLong_FromUnsignedLongLong(n);
}

static PyObject *Book_apply(BookObject *self, PyObject *args)
{
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "y*", &b))
		return NULL;
	if (b.len > 65535 || !Book_enter(self)) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_ValueError, "an ITCH message is at most 65535 bytes");
		PyBuffer_Release(&b);
		return NULL;
	}
	int changed = ws_books_apply(self->books, b.buf, (uint32_t)b.len);
	Book_leave(self);
	PyBuffer_Release(&b);
	return PyBool_FromLong(changed);
}

static PyObject *Book_stats(BookObject *self, PyObject *unused)
{
	(void)unused;
	if (!Book_enter(self))
		return NULL;
	ws_book_stats_t snap = *ws_books_stats(self->books), *s = &snap;
	unsigned long long live = ws_books_live_orders(self->books);
	Book_leave(self);
	return Py_BuildValue(
		"{sKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsK}", "messages", s->messages, "applied", s->applied,
		"adds", s->adds, "executes", s->executes, "cancels", s->cancels, "deletes", s->deletes, "replaces",
		s->replaces, "trades", s->trades, "system_events", s->system_events, "directory", s->directory, "other",
		s->other, "unknown_type", s->unknown_type, "bad_length", s->bad_length, "truncated", s->truncated,
		"unknown_ref", s->unknown_ref, "duplicate_ref", s->duplicate_ref, "too_many_shares", s->too_many_shares,
		"locate_mismatch", s->locate_mismatch, "bad_locate", s->bad_locate, "bad_side", s->bad_side,
		"pool_full", s->pool_full, "bbo_changes", s->bbo_changes, "bbo_log_full", s->bbo_log_full, "live_orders",
		live);
}

/* depth(locate, side, n) -> list of (price, shares, orders), best first */
static PyObject *Book_depth(BookObject *self, PyObject *args)
{
	unsigned int locate, n;
	int side;
	if (!PyArg_ParseTuple(args, "IiI", &locate, &side, &n))
		return NULL;
	if (locate > 65535 || n > 1u << 20) {
		PyErr_SetString(PyExc_ValueError, "locate is 0..65535 and n at most 2^20");
		return NULL;
	}
	ws_book_level_t *lv = PyMem_Malloc((n ? n : 1) * sizeof(*lv));
	if (!lv)
		return PyErr_NoMemory();
	if (!Book_enter(self)) {
		PyMem_Free(lv);
		return NULL;
	}
	uint32_t k = ws_books_depth(self->books, (uint16_t)locate, side, lv, n);
	Book_leave(self);
	PyObject *out = PyList_New(k);
	for (uint32_t i = 0; out && i < k; i++) {
		PyObject *t = Py_BuildValue("(IKI)", lv[i].price, (unsigned long long)lv[i].shares, lv[i].count);
		if (!t) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, i, t);
	}
	PyMem_Free(lv);
	return out;
}

/* orders(locate, side, level) -> list of (ref, shares) in time priority */
static PyObject *Book_orders(BookObject *self, PyObject *args)
{
	unsigned int locate, level;
	int side;
	if (!PyArg_ParseTuple(args, "IiI", &locate, &side, &level))
		return NULL;
	if (locate > 65535) {
		PyErr_SetString(PyExc_ValueError, "locate is 0..65535");
		return NULL;
	}
	if (!Book_enter(self))
		return NULL;
	/* PyMem_Malloc under the mutex: plain memory, no collection can run */
	uint32_t cap = ws_books_orders(self->books, (uint16_t)locate, side, level, NULL, NULL, 0);
	uint64_t *refs = PyMem_Malloc((cap ? cap : 1) * sizeof(*refs));
	uint32_t *shares = PyMem_Malloc((cap ? cap : 1) * sizeof(*shares));
	uint32_t k = refs && shares ? ws_books_orders(self->books, (uint16_t)locate, side, level, refs, shares, cap) : 0;
	Book_leave(self);
	if (!refs || !shares) {
		PyMem_Free(refs);
		PyMem_Free(shares);
		return PyErr_NoMemory();
	}
	if (k > cap)
		k = cap;
	PyObject *out = PyList_New(k);
	for (uint32_t i = 0; out && i < k; i++) {
		PyObject *t = Py_BuildValue("(KI)", (unsigned long long)refs[i], shares[i]);
		if (!t) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, i, t);
	}
	PyMem_Free(refs);
	PyMem_Free(shares);
	return out;
}

static PyObject *Book_levels(BookObject *self, PyObject *args)
{
	unsigned int locate;
	int side;
	if (!PyArg_ParseTuple(args, "Ii", &locate, &side) || !Book_enter(self))
		return NULL;
	unsigned long n = locate > 65535 ? 0 : ws_books_levels(self->books, (uint16_t)locate, side);
	Book_leave(self);
	return PyLong_FromUnsignedLong(n);
}

static PyObject *Book_symbol(BookObject *self, PyObject *args)
{
	unsigned int locate;
	if (!PyArg_ParseTuple(args, "I", &locate) || !Book_enter(self))
		return NULL;
	char s[8];
	ws_books_symbol(self->books, (uint16_t)(locate > 65535 ? 0 : locate), s);
	Book_leave(self);
	return PyBytes_FromStringAndSize(s, 8);
}

static PyObject *Book_log_bbo(BookObject *self, PyObject *args)
{
	unsigned int cap;
	if (!PyArg_ParseTuple(args, "I", &cap))
		return NULL;
	if (cap > (1u << 26)) {
		PyErr_SetString(PyExc_ValueError, "log_bbo: at most 2^26 changes between takes");
		return NULL;
	}
	if (!Book_enter(self))
		return NULL;
	int rc = ws_books_log_bbo(self->books, cap);
	Book_leave(self);
	if (rc)
		return PyErr_NoMemory();
	Py_RETURN_NONE;
}

/* take_bbo() -> bytes of ws_bbo_change_t records (numpy reads them with BBO_CHANGE_DTYPE) */
static PyObject *Book_take_bbo(BookObject *self, PyObject *unused)
{
	(void)unused;
	if (!Book_enter(self))
		return NULL;
	uint32_t n;
	const ws_bbo_change_t *c = ws_books_take_bbo(self->books, &n);
	/* bytes: not tracked by the cyclic GC, so made under the mutex (the log is the books') */
	PyObject *out = PyBytes_FromStringAndSize((const char *)c, c ? (Py_ssize_t)n * (Py_ssize_t)sizeof(*c) : 0);
	Book_leave(self);
	return out;
}

/* log_mbo(cap): the order-by-order log (book.h), up to cap rows between takes */
static PyObject *Book_log_mbo(BookObject *self, PyObject *args)
{
	unsigned int cap;
	if (!PyArg_ParseTuple(args, "I", &cap))
		return NULL;
	if (cap > (1u << 26)) {
		PyErr_SetString(PyExc_ValueError, "log_mbo: at most 2^26 rows between takes");
		return NULL;
	}
	if (!Book_enter(self))
		return NULL;
	int rc = ws_books_log_mbo(self->books, cap);
	Book_leave(self);
	if (rc)
		return PyErr_NoMemory();
	Py_RETURN_NONE;
}

/* log_depth(levels): the depth beside the MBO log (book.h); after log_mbo */
static PyObject *Book_log_depth(BookObject *self, PyObject *args)
{
	unsigned int levels;
	if (!PyArg_ParseTuple(args, "I", &levels))
		return NULL;
	if (!Book_enter(self))
		return NULL;
	int rc = ws_books_log_depth(self->books, levels);
	Book_leave(self);
	if (rc == -ENOMEM)
		return PyErr_NoMemory();
	if (rc) {
		PyErr_SetString(PyExc_ValueError, "log_depth: 1..1000 levels, and the MBO log on first (log_mbo)");
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyMethodDef Book_methods[] = {
	{"log_depth", (PyCFunction)Book_log_depth, METH_VARARGS,
	 "log_depth(levels): beside each MBO row that changes a book, the stock's top levels after it (book.h); "
	 "0: off"},
	{"log_mbo", (PyCFunction)Book_log_mbo, METH_VARARGS,
	 "log_mbo(cap): log what each message did (order-by-order rows, book.h), up to cap rows between takes (0: off); "
	 "_native.mbo_take takes them"},
	{"log_bbo", (PyCFunction)Book_log_bbo, METH_VARARGS,
	 "log_bbo(cap): log BBO changes, up to cap between takes (0: off); overflow is counted bbo_log_full"},
	{"take_bbo", (PyCFunction)Book_take_bbo, METH_NOARGS,
	 "take_bbo() -> bytes: the changes logged since the last take, 48-byte records (see book.h)"},
	{"apply_day", (PyCFunction)Book_apply_day, METH_VARARGS,
	 "apply_day(buffer) -> messages read: NASDAQ day-file framing (2-byte BE length + message); GIL released"},
	{"apply", (PyCFunction)Book_apply, METH_VARARGS, "apply(message) -> bool: one unframed message; True if a book changed"},
	{"stats", (PyCFunction)Book_stats, METH_NOARGS, "stats() -> dict of counters"},
	{"depth", (PyCFunction)Book_depth, METH_VARARGS, "depth(locate, side, n) -> [(price, shares, orders)], best first"},
	{"orders", (PyCFunction)Book_orders, METH_VARARGS, "orders(locate, side, level) -> [(ref, shares)], oldest first"},
	{"levels", (PyCFunction)Book_levels, METH_VARARGS, "levels(locate, side) -> number of price levels"},
	{"symbol", (PyCFunction)Book_symbol, METH_VARARGS, "symbol(locate) -> 8 bytes from the stock directory"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject BookType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.BookEngine",
	.tp_basicsize = sizeof(BookObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "BookEngine(max_locate=65535, max_orders=4194304, max_levels=1048576): ITCH 5.0 books (book.h)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Book_init,
	.tp_dealloc = (destructor)Book_dealloc,
	.tp_methods = Book_methods,
};

/* -- _native.FeedHandler: one MoldUDP64 session into a BookEngine (feed.h) ----
 *
 * Ownership: a FeedHandler holds a reference to its BookEngine (the books
 * outlive the feed) and owns its hold buffer. Calls take the books' mutex. */

typedef struct {
	PyObject_HEAD
	BookObject *books;
	ws_feed_t *feed;
} FeedObject;

/* A feed's counters and state, copied under the books' mutex and made a
 * dict after (FeedHandler.stats, FeedRouter.sessions). */
typedef struct {
	ws_feed_stats_t st;
	unsigned long long next_seq;
	int stale;
	unsigned int held;
	uint8_t id[10];
} feed_snap_t;

static void feed_snap(const ws_feed_t *f, feed_snap_t *out)
{
	out->st = *ws_feed_stats(f);
	out->next_seq = ws_feed_next_seq(f);
	out->stale = ws_feed_stale(f);
	out->held = ws_feed_held(f);
}

static PyObject *feed_stats_dict(const feed_snap_t *snap)
{
	const ws_feed_stats_t *s = &snap->st;
	return Py_BuildValue(
		"{sKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsisI}", "packets", s->packets, "packets_a", s->line_packets[0],
		"packets_b", s->line_packets[1], "heartbeats", s->heartbeats, "end_of_session", s->end_of_session,
		"messages", s->messages, "duplicates", s->duplicates, "gaps", s->gaps, "gaps_filled", s->gaps_filled,
		"gaps_given_up", s->gaps_given_up, "lost", s->lost, "held", s->held, "hold_full", s->hold_full,
		"bad_packets", s->bad_packets, "other_session", s->other_session, "requests", s->requests,
		"requested_msgs", s->requested_msgs, "recovered", s->recovered, "packets_rtx", s->line_packets[2], "next_seq",
		snap->next_seq, "stale", snap->stale, "held_now", snap->held);
}

/* A re-request a feed wants now, taken under the books' mutex: 1 with
 * (session, seq, count) filled, else 0. */
typedef struct {
	uint8_t session[10];
	uint64_t seq;
	uint16_t count;
} feed_req_t;

static int feed_request_take(ws_feed_t *f, uint64_t now, feed_req_t *out)
{
	const uint8_t *session = ws_feed_session(f);
	if (!session || !ws_feed_request(f, now, &out->seq, &out->count))
		return 0;
	memcpy(out->session, session, 10);
	return 1;
}

static PyObject *feed_request_tuple(const feed_req_t *r)
{
	return Py_BuildValue("(y#KI)", r->session, (Py_ssize_t)10, (unsigned long long)r->seq, (unsigned int)r->count);
}

/* The arguments FeedHandler and FeedRouter share - the books and a feed's
 * config (hold 50 ms, no re-requests, retry 5 ms, 3 requests a gap) - and,
 * when max_sessions is given, the router's table size (64). */
static int feed_args(PyObject *args, PyObject *kw, const char *who, PyObject **books, ws_feed_cfg_t *cfg,
                     unsigned int *max_sessions)
{
	static char *feed_kw[] = {"books", "hold_timeout_ns", "request_after_ns", "retry_ns", "max_requests", NULL};
	static char *route_kw[] = {"books", "hold_timeout_ns", "request_after_ns", "retry_ns", "max_requests",
	                           "max_sessions", NULL};
	unsigned long long timeout = 50000000ull, after = 0, retry = 5000000ull;
	unsigned int max_req = 3, sessions = 64;
	if (!PyArg_ParseTupleAndKeywords(args, kw, max_sessions ? "O!|KKKII" : "O!|KKKI", max_sessions ? route_kw : feed_kw,
	                                 &BookType, books, &timeout, &after, &retry, &max_req, &sessions))
		return -1;
	if (!((BookObject *)*books)->books) {
		PyErr_Format(PyExc_ValueError, "%s: the BookEngine is not initialised", who);
		return -1;
	}
	if (max_sessions && (!sessions || sessions > 4096)) {
		PyErr_Format(PyExc_ValueError, "%s: max_sessions is 1..4096", who);
		return -1;
	}
	*cfg = (ws_feed_cfg_t){.hold_timeout_ns = timeout, .request_after_ns = after, .retry_ns = retry,
	                       .max_requests = max_req};
	if (max_sessions)
		*max_sessions = sessions;
	return 0;
}

static int Feed_init(FeedObject *self, PyObject *args, PyObject *kw)
{
	PyObject *books;
	ws_feed_cfg_t cfg;
	if (feed_args(args, kw, "FeedHandler", &books, &cfg, NULL))
		return -1;
	ws_feed_delete(self->feed);
	Py_XDECREF(self->books);
	Py_INCREF(books);
	self->books = (BookObject *)books;
	self->feed = ws_feed_create(self->books->books, &cfg);
	if (!self->feed) {
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

static void Feed_dealloc(FeedObject *self)
{
	ws_feed_delete(self->feed);
	Py_XDECREF(self->books);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Feed_enter: initialised, then the books' mutex (Book_enter); Book_leave after. */
static int Feed_enter(FeedObject *self)
{
	if (!self->feed) {
		PyErr_SetString(PyExc_RuntimeError, "FeedHandler not initialised");
		return 0;
	}
	return Book_enter(self->books);
}

static PyObject *Feed_packet(FeedObject *self, PyObject *args)
{
	Py_buffer b;
	int line;
	unsigned long long now;
	if (!PyArg_ParseTuple(args, "y*iK", &b, &line, &now))
		return NULL;
	if (b.len > 65535) { /* more than any UDP payload: refused as a bad packet */
		PyBuffer_Release(&b);
		PyErr_SetString(PyExc_ValueError, "a MoldUDP64 packet is at most 65535 bytes");
		return NULL;
	}
	if (!Feed_enter(self)) {
		PyBuffer_Release(&b);
		return NULL;
	}
	ws_feed_packet(self->feed, b.buf, (uint32_t)b.len, line, now);
	Book_leave(self->books);
	PyBuffer_Release(&b);
	Py_RETURN_NONE;
}

static PyObject *Feed_poll(FeedObject *self, PyObject *args)
{
	unsigned long long now;
	if (!PyArg_ParseTuple(args, "K", &now) || !Feed_enter(self))
		return NULL;
	ws_feed_poll(self->feed, now);
	Book_leave(self->books);
	Py_RETURN_NONE;
}

/* request(now_ns) -> (session, seq, count) to ask the retransmission server for, or None */
static PyObject *Feed_request(FeedObject *self, PyObject *args)
{
	unsigned long long now;
	if (!PyArg_ParseTuple(args, "K", &now) || !Feed_enter(self))
		return NULL;
	feed_req_t r;
	int want = feed_request_take(self->feed, now, &r);
	Book_leave(self->books);
	if (!want)
		Py_RETURN_NONE;
	return feed_request_tuple(&r);
}

static PyObject *Feed_stats(FeedObject *self, PyObject *unused)
{
	(void)unused;
	if (!Feed_enter(self))
		return NULL;
	feed_snap_t snap;
	feed_snap(self->feed, &snap);
	Book_leave(self->books);
	return feed_stats_dict(&snap);
}

static PyMethodDef Feed_methods[] = {
	{"packet", (PyCFunction)Feed_packet, METH_VARARGS,
	 "packet(udp_payload, line, now_ns): one MoldUDP64 packet from line 0 (A), 1 (B) or 2 (retransmission)"},
	{"poll", (PyCFunction)Feed_poll, METH_VARARGS, "poll(now_ns): give up a gap older than the hold timeout"},
	{"request", (PyCFunction)Feed_request, METH_VARARGS,
	 "request(now_ns) -> (session, seq, count) to re-request now, or None"},
	{"stats", (PyCFunction)Feed_stats, METH_NOARGS, "stats() -> dict: counters, next_seq, stale, held_now"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject FeedType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.FeedHandler",
	.tp_basicsize = sizeof(FeedObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "FeedHandler(books, hold_timeout_ns=50_000_000, request_after_ns=0, retry_ns=5_000_000, "
	          "max_requests=3): A/B arbitration, gaps and re-requests for one session (feed.h)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Feed_init,
	.tp_dealloc = (destructor)Feed_dealloc,
	.tp_methods = Feed_methods,
};

/* -- _native.FeedRouter: frames -> sessions -> feeds, a batch per call (route.h) --
 *
 * Ownership: holds a reference to its BookEngine and owns the router (and
 * through it every session's feed). Calls take the books' mutex; follow
 * takes it per batch, without the GIL (see Threads at the top). */

typedef struct {
	PyObject_HEAD
	BookObject *books;
	ws_route_t *route;
	int following; /* follow calls on this router running without the GIL */
} RouterObject;

static int Router_init(RouterObject *self, PyObject *args, PyObject *kw)
{
	PyObject *books;
	ws_feed_cfg_t cfg;
	unsigned int max_sessions;
	if (feed_args(args, kw, "FeedRouter", &books, &cfg, &max_sessions))
		return -1;
	if (self->following) {
		PyErr_SetString(PyExc_RuntimeError, "FeedRouter is following a ring in another thread");
		return -1;
	}
	ws_route_delete(self->route);
	Py_XDECREF(self->books);
	Py_INCREF(books);
	self->books = (BookObject *)books;
	self->route = ws_route_create(self->books->books, &cfg, max_sessions);
	if (!self->route) {
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

static void Router_dealloc(RouterObject *self)
{
	ws_route_delete(self->route);
	Py_XDECREF(self->books);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Router_ready(RouterObject *self)
{
	if (!self->route) {
		PyErr_SetString(PyExc_RuntimeError, "FeedRouter not initialised");
		return 0;
	}
	return Book_ready(self->books);
}

/* Router_enter: ready, then the books' mutex; Router_leave after. */
static int Router_enter(RouterObject *self)
{
	return Router_ready(self) && Book_enter(self->books);
}

static void Router_leave(RouterObject *self)
{
	Book_leave(self->books);
}

/* records(headers, payload, n, lat=None) -> n: a ring batch (REC_DTYPE
 * headers, the payload buffer they point into); lat: an int64 array of at
 * least n, filled with each record's tick-to-book nanoseconds. */
static PyObject *Router_records(RouterObject *self, PyObject *args)
{
	Py_buffer h, pl, lat = {0};
	unsigned int n;
	PyObject *lat_obj = Py_None;
	if (!PyArg_ParseTuple(args, "y*y*I|O", &h, &pl, &n, &lat_obj))
		return NULL;
	PyObject *res = NULL;
	if (lat_obj != Py_None && PyObject_GetBuffer(lat_obj, &lat, PyBUF_WRITABLE) < 0)
		goto out;
	if ((size_t)h.len < (size_t)n * sizeof(ws_ring_rec_t) || (lat.buf && (size_t)lat.len < (size_t)n * 8)) {
		PyErr_SetString(PyExc_ValueError, "records: headers (or lat) hold fewer than n records");
		goto out;
	}
	if (!Router_enter(self))
		goto out;
	uint32_t done = ws_route_records(self->route, h.buf, n, pl.buf, (uint64_t)pl.len, lat.buf);
	Router_leave(self);
	res = PyLong_FromUnsignedLong(done);
out:
	if (lat.buf)
		PyBuffer_Release(&lat);
	PyBuffer_Release(&h);
	PyBuffer_Release(&pl);
	return res;
}

/* follow(reader, seconds, lat=None) -> (records, measured): the live loop in C
 * (ws_route_follow) for `seconds`, spinning on the ring without the GIL and
 * holding the books' mutex only while a batch is applied, so other threads
 * run meanwhile and may read the books; lat: an int64 array for tick-to-book
 * ns, filled from 0 (measured says how far). The reader is held for the
 * call (ws_py_ring_reader_hold): it cannot be closed or read elsewhere. */
static PyObject *Router_follow(RouterObject *self, PyObject *args)
{
	PyObject *reader, *lat_obj = Py_None;
	double seconds;
	if (!PyArg_ParseTuple(args, "Od|O", &reader, &seconds, &lat_obj) || !Router_ready(self))
		return NULL;
	if (!(seconds >= 0 && seconds <= 3600)) {
		PyErr_SetString(PyExc_ValueError, "follow: seconds is 0..3600");
		return NULL;
	}
	Py_buffer lat = {0};
	if (lat_obj != Py_None && PyObject_GetBuffer(lat_obj, &lat, PyBUF_WRITABLE) < 0)
		return NULL;
	uint64_t buf_sz = 8ull * WS_RING_MAX_PAYLOAD;
	uint8_t *buf = PyMem_Malloc(buf_sz);
	ws_ring_reader_t *rd = buf ? ws_py_ring_reader_hold(reader) : NULL;
	if (!rd) {
		PyMem_Free(buf);
		if (lat.buf)
			PyBuffer_Release(&lat);
		return buf ? NULL : PyErr_NoMemory();
	}
	uint64_t measured = 0, lat_cap = lat.buf ? (uint64_t)lat.len / 8 : 0, for_ns = (uint64_t)(seconds * 1e9);
	int64_t n;
	self->following++;
	self->books->following++;
	Py_BEGIN_ALLOW_THREADS
	n = ws_route_follow(self->route, rd, &self->books->lock, for_ns, buf, buf_sz, lat.buf, lat_cap, &measured);
	Py_END_ALLOW_THREADS
	self->books->following--;
	self->following--;
	ws_py_ring_reader_drop(reader);
	PyMem_Free(buf);
	if (lat.buf)
		PyBuffer_Release(&lat);
	if (n < 0)
		return ws_ring_raise((int)n, NULL, NULL);
	return Py_BuildValue("(LK)", (long long)n, (unsigned long long)measured);
}

static PyObject *Router_frame(RouterObject *self, PyObject *args)
{
	Py_buffer f;
	unsigned long long ts;
	if (!PyArg_ParseTuple(args, "y*K", &f, &ts))
		return NULL;
	if (!Router_enter(self)) {
		PyBuffer_Release(&f);
		return NULL;
	}
	ws_route_frame(self->route, f.buf, f.len > UINT32_MAX ? UINT32_MAX : (uint32_t)f.len, ts);
	Router_leave(self);
	PyBuffer_Release(&f);
	Py_RETURN_NONE;
}

/* packet(udp_payload, daddr, dport, ts_ns): daddr 4 bytes (network order), dport host order. */
static PyObject *Router_packet(RouterObject *self, PyObject *args)
{
	Py_buffer p, a;
	unsigned int port;
	unsigned long long ts;
	if (!PyArg_ParseTuple(args, "y*y*IK", &p, &a, &port, &ts))
		return NULL;
	PyObject *res = NULL;
	if (a.len != 4 || port > 65535 || p.len > 65535) {
		PyErr_SetString(PyExc_ValueError, "packet: daddr is 4 bytes, dport 0..65535, a payload at most 65535 bytes");
		goto out;
	}
	if (!Router_enter(self))
		goto out;
	uint32_t daddr;
	memcpy(&daddr, a.buf, 4);
	ws_route_payload(self->route, p.buf, (uint32_t)p.len, daddr, htons((uint16_t)port), ts);
	Router_leave(self);
	res = Py_None;
	Py_INCREF(res);
out:
	PyBuffer_Release(&p);
	PyBuffer_Release(&a);
	return res;
}

static PyObject *Router_reply(RouterObject *self, PyObject *args)
{
	Py_buffer p;
	unsigned long long now;
	if (!PyArg_ParseTuple(args, "y*K", &p, &now))
		return NULL;
	if (!Router_enter(self)) {
		PyBuffer_Release(&p);
		return NULL;
	}
	ws_route_reply(self->route, p.buf, p.len > 65535 ? 65535 : (uint32_t)p.len, now);
	Router_leave(self);
	PyBuffer_Release(&p);
	Py_RETURN_NONE;
}

static PyObject *Router_poll(RouterObject *self, PyObject *args)
{
	unsigned long long now;
	if (!PyArg_ParseTuple(args, "K", &now) || !Router_enter(self))
		return NULL;
	ws_route_poll(self->route, now);
	Router_leave(self);
	Py_RETURN_NONE;
}

/* requests(now_ns) -> [(session, seq, count)]: what to re-request now, per session. */
static PyObject *Router_requests(RouterObject *self, PyObject *args)
{
	unsigned long long now;
	if (!PyArg_ParseTuple(args, "K", &now) || !Router_enter(self))
		return NULL;
	uint32_t n = ws_route_sessions(self->route), k = 0;
	feed_req_t *want = PyMem_Malloc((n ? n : 1) * sizeof(*want)); /* plain memory: fine under the mutex */
	for (uint32_t i = 0; want && i < n; i++) {
		const uint8_t *id;
		k += (uint32_t)feed_request_take(ws_route_feed(self->route, i, &id), now, &want[k]);
	}
	Router_leave(self);
	if (!want)
		return PyErr_NoMemory();
	PyObject *out = PyList_New(0);
	for (uint32_t i = 0; out && i < k; i++) {
		PyObject *t = feed_request_tuple(&want[i]);
		if (!t || PyList_Append(out, t) < 0)
			Py_CLEAR(out);
		Py_XDECREF(t);
	}
	PyMem_Free(want);
	return out;
}

/* sessions() -> [(session, stats)] in the order they were first seen. */
static PyObject *Router_sessions(RouterObject *self, PyObject *unused)
{
	(void)unused;
	if (!Router_enter(self))
		return NULL;
	uint32_t n = ws_route_sessions(self->route);
	feed_snap_t *snap = PyMem_Malloc((n ? n : 1) * sizeof(*snap)); /* plain memory: fine under the mutex */
	for (uint32_t i = 0; snap && i < n; i++) {
		const uint8_t *id;
		feed_snap(ws_route_feed(self->route, i, &id), &snap[i]);
		memcpy(snap[i].id, id, 10);
	}
	Router_leave(self);
	if (!snap)
		return PyErr_NoMemory();
	PyObject *out = PyList_New(0);
	for (uint32_t i = 0; out && i < n; i++) {
		PyObject *st = feed_stats_dict(&snap[i]);
		PyObject *t = st ? Py_BuildValue("(y#N)", snap[i].id, (Py_ssize_t)10, st) : NULL;
		if (!t || PyList_Append(out, t) < 0)
			Py_CLEAR(out);
		Py_XDECREF(t);
	}
	PyMem_Free(snap);
	return out;
}

static PyObject *Router_stats(RouterObject *self, PyObject *unused)
{
	(void)unused;
	if (!Router_enter(self))
		return NULL;
	ws_route_stats_t snap = *ws_route_stats(self->route), *s = &snap;
	int stale = ws_route_stale(self->route);
	Router_leave(self);
	return Py_BuildValue("{sKsKsKsKsKsKsKsi}", "frames", s->frames, "not_udp4", s->not_udp4, "not_moldudp64",
	                     s->not_moldudp64, "third_line", s->third_line, "too_many_sessions", s->too_many_sessions,
	                     "bad_record", s->bad_record, "unknown_reply", s->unknown_reply, "stale", stale);
}

static PyMethodDef Router_methods[] = {
	{"records", (PyCFunction)Router_records, METH_VARARGS,
	 "records(headers, payload, n, lat=None) -> n: a ring batch into the books in one call; lat (int64[n]): "
	 "tick-to-book ns per record"},
	{"follow", (PyCFunction)Router_follow, METH_VARARGS,
	 "follow(reader, seconds, lat=None) -> (records, measured): read the ring and apply it, in C, spinning for "
	 "seconds; lat (int64): tick-to-book ns per record, the first `measured` of them"},
	{"frame", (PyCFunction)Router_frame, METH_VARARGS, "frame(frame, ts_ns): one Ethernet frame"},
	{"packet", (PyCFunction)Router_packet, METH_VARARGS,
	 "packet(udp_payload, daddr, dport, ts_ns): one UDP payload of flow (daddr: 4 bytes, dport)"},
	{"reply", (PyCFunction)Router_reply, METH_VARARGS, "reply(payload, now_ns): a retransmission reply (line 2)"},
	{"poll", (PyCFunction)Router_poll, METH_VARARGS, "poll(now_ns): give up gaps older than the hold timeout"},
	{"requests", (PyCFunction)Router_requests, METH_VARARGS,
	 "requests(now_ns) -> [(session, seq, count)] to re-request now"},
	{"sessions", (PyCFunction)Router_sessions, METH_NOARGS, "sessions() -> [(session, feed stats)]"},
	{"stats", (PyCFunction)Router_stats, METH_NOARGS, "stats() -> dict: frames, what was skipped and why, stale"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject RouterType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.FeedRouter",
	.tp_basicsize = sizeof(RouterObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "FeedRouter(books, hold_timeout_ns=50_000_000, request_after_ns=0, retry_ns=5_000_000, "
	          "max_requests=3, max_sessions=64): frames -> MoldUDP64 sessions -> feeds (route.h)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Router_init,
	.tp_dealloc = (destructor)Router_dealloc,
	.tp_methods = Router_methods,
};

/* -- lent to the other bindings (python/book.h) ------------------------------------ */

int ws_py_router_hold(PyObject *o, ws_route_t **route, ws_books_t **books, pthread_mutex_t **lock)
{
	if (!PyObject_TypeCheck(o, &RouterType)) {
		PyErr_SetString(PyExc_TypeError, "expected a FeedRouter");
		return -1;
	}
	RouterObject *r = (RouterObject *)o;
	if (!Router_ready(r))
		return -1;
	r->following++;
	r->books->following++;
	*route = r->route;
	*books = r->books->books;
	*lock = &r->books->lock;
	return 0;
}

void ws_py_router_drop(PyObject *o)
{
	RouterObject *r = (RouterObject *)o;
	r->following--;
	r->books->following--;
}
