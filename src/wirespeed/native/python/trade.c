/* python/trade.c - _native.Trader (trade/trader.h) and the strategies
 * (trade/strategy.h): ring -> books -> strategy -> order session in C.
 *
 * Ownership: a Trader holds its OrderSession and FeedRouter (and through
 * them the books) and owns the trader and the strategy's state.
 *
 * Threads: follow() is the router's loop (ws_route_follow) without the
 * GIL: it takes the books' mutex per batch, and the trader's hook takes the
 * session's inside it around each decision (trade/trader.h), so other
 * threads may call the session and read the books meanwhile. Everything
 * else holds the GIL and takes the same mutexes in the same order.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>

#include "python/book.h"
#include "python/module.h"
#include "python/orders.h"
#include "python/ring.h"
#include "trade/strategy.h"
#include "trade/trader.h"

typedef struct {
	PyObject_HEAD
	PyObject *session, *router;
	ws_route_t *route;
	ws_session_t *s;
	uint64_t records;          /* ring records through follow() and records() */
	pthread_mutex_t *slock, *block;
	ws_trader_t *t;
	const ws_strategy_t *st;
	void *state;
	int following;
} TraderObject;

static int Trader_init(TraderObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"session", "router", "strategy", "params", NULL};
	PyObject *session, *router;
	const char *spec, *params = "";
	if (!PyArg_ParseTupleAndKeywords(args, kw, "OOs|s", kwlist, &session, &router, &spec, &params))
		return -1;
	if (self->t) {
		PyErr_SetString(PyExc_RuntimeError, "Trader is already initialised");
		return -1;
	}
	char err[512] = "";
	const ws_strategy_t *st = ws_strategy_load(spec, err, sizeof(err));
	if (!st) {
		PyErr_Format(PyExc_ValueError, "strategy %s: %s", spec, err);
		return -1;
	}
	void *state = NULL;
	if (st->init(&state, params, err, sizeof(err))) {
		PyErr_Format(PyExc_ValueError, "strategy %s: %s", st->name, err[0] ? err : "its init refused the parameters");
		return -1;
	}
	ws_books_t *books;
	if (ws_py_router_hold(router, &self->route, &books, &self->block)) {
		st->fini(state);
		return -1;
	}
	self->s = ws_py_session_hold(session, self->block, &self->slock);
	if (!self->s) {
		ws_py_router_drop(router);
		st->fini(state);
		return -1;
	}
	pthread_mutex_lock(self->block);
	pthread_mutex_lock(self->slock);
	self->t = ws_trader_new(self->route, books, self->s, self->slock, st, state);
	pthread_mutex_unlock(self->slock);
	pthread_mutex_unlock(self->block);
	if (!self->t) {
		ws_py_session_drop(session);
		ws_py_router_drop(router);
		st->fini(state);
		PyErr_NoMemory();
		return -1;
	}
	Py_INCREF(session);
	Py_INCREF(router);
	self->session = session;
	self->router = router;
	self->st = st;
	self->state = state;
	return 0;
}

static void Trader_dealloc(TraderObject *self)
{
	if (self->t) {
		pthread_mutex_lock(self->block);
		pthread_mutex_lock(self->slock);
		ws_trader_delete(self->t);
		pthread_mutex_unlock(self->slock);
		pthread_mutex_unlock(self->block);
		self->st->fini(self->state);
		ws_py_session_drop(self->session);
		ws_py_router_drop(self->router);
	}
	Py_XDECREF(self->session);
	Py_XDECREF(self->router);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Trader_ready(TraderObject *self)
{
	if (!self->t) {
		PyErr_SetString(PyExc_RuntimeError, "Trader not initialised");
		return 0;
	}
	return 1;
}

/* follow(reader, seconds) -> records: the live loop without the GIL. */
static PyObject *Trader_follow(TraderObject *self, PyObject *args)
{
	PyObject *reader;
	double seconds;
	if (!PyArg_ParseTuple(args, "Od", &reader, &seconds) || !Trader_ready(self))
		return NULL;
	if (!(seconds >= 0 && seconds <= 3600)) {
		PyErr_SetString(PyExc_ValueError, "follow: seconds is 0..3600");
		return NULL;
	}
	if (self->following) {
		PyErr_SetString(PyExc_RuntimeError, "Trader is following in another thread");
		return NULL;
	}
	uint64_t buf_sz = 8ull * WS_RING_MAX_PAYLOAD;
	uint8_t *buf = PyMem_Malloc(buf_sz);
	ws_ring_reader_t *rd = buf ? ws_py_ring_reader_hold(reader) : NULL;
	if (!rd) {
		PyMem_Free(buf);
		return buf ? NULL : PyErr_NoMemory();
	}
	int64_t n;
	uint64_t unmeasured;
	self->following = 1;
	Py_BEGIN_ALLOW_THREADS
	n = ws_route_follow(self->route, rd, self->block, (uint64_t)(seconds * 1e9), buf, buf_sz, NULL, 0, &unmeasured);
	Py_END_ALLOW_THREADS
	self->following = 0;
	if (n > 0)
		self->records += (uint64_t)n;
	ws_py_ring_reader_drop(reader);
	PyMem_Free(buf);
	if (n < 0)
		return ws_ring_raise((int)n, NULL, NULL);
	return PyLong_FromLongLong(n);
}

/* records(headers, payload, n) -> n: a ring batch through the trader (offline, tests). */
static PyObject *Trader_records(TraderObject *self, PyObject *args)
{
	Py_buffer h, pl;
	unsigned int n;
	if (!PyArg_ParseTuple(args, "y*y*I", &h, &pl, &n))
		return NULL;
	PyObject *res = NULL;
	if ((size_t)h.len < (size_t)n * sizeof(ws_ring_rec_t)) {
		PyErr_SetString(PyExc_ValueError, "records: headers hold fewer than n records");
	} else if (Trader_ready(self)) {
		pthread_mutex_lock(self->block); /* the hook takes the session's inside */
		ws_route_records(self->route, h.buf, n, pl.buf, (uint64_t)pl.len, NULL);
		pthread_mutex_unlock(self->block);
		self->records += n;
		res = PyLong_FromUnsignedLong(n);
	}
	PyBuffer_Release(&h);
	PyBuffer_Release(&pl);
	return res;
}

static PyObject *Trader_stats(TraderObject *self, PyObject *unused)
{
	(void)unused;
	if (!Trader_ready(self))
		return NULL;
	pthread_mutex_lock(self->block);
	pthread_mutex_lock(self->slock);
	ws_trader_stats_t st = *ws_trader_stats(self->t);
	pthread_mutex_unlock(self->slock);
	pthread_mutex_unlock(self->block);
	return Py_BuildValue("{s:s,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:L,s:K}", "strategy", self->st->name, "records",
	                     (unsigned long long)self->records,
	                     "ticks", st.ticks, "intents", st.intents, "entered", st.entered, "replaced", st.replaced,
	                     "unchanged", st.unchanged, "refused", st.refused, "last_refusal",
	                     -(long long)st.last_refusal, "lock_errors", st.lock_errors);
}

static PyMethodDef Trader_methods[] = {
	{"follow", (PyCFunction)Trader_follow, METH_VARARGS, "follow(reader, seconds) -> records: the live loop in C"},
	{"records", (PyCFunction)Trader_records, METH_VARARGS, "records(headers, payload, n) -> n"},
	{"stats", (PyCFunction)Trader_stats, METH_NOARGS, "stats() -> dict"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject TraderType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.Trader",
	.tp_basicsize = sizeof(TraderObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Trader(session, router, strategy, params=''): trade/trader.h",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Trader_init,
	.tp_dealloc = (destructor)Trader_dealloc,
	.tp_methods = Trader_methods,
};

/* strategies() -> [(name, doc)]: the built-in ones. */
static PyObject *py_strategies(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	PyObject *out = PyList_New(0);
	for (int i = 0; out && ws_strategies[i]; i++) {
		PyObject *t = Py_BuildValue("(ss)", ws_strategies[i]->name, ws_strategies[i]->doc);
		if (!t || PyList_Append(out, t)) {
			Py_XDECREF(t);
			Py_CLEAR(out);
		}
		Py_XDECREF(t);
	}
	return out;
}

PyMethodDef ws_py_trade_methods[] = {
	{"strategies", py_strategies, METH_NOARGS, "strategies() -> [(name, doc)]: the built-in C strategies"},
	{NULL, NULL, 0, NULL},
};
