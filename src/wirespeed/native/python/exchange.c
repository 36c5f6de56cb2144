/* python/exchange.c - the simulator (exchange/sim.h) as _native.Sim.
 *
 * Ownership: a Sim owns its generator state and history (freed with the
 * object). run() borrows the socket fds in its config for the length of the
 * call and never closes them; it releases the GIL, so another thread can
 * call stop() and read stats() while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <string.h>

#include "exchange/sim.h"
#include "python/module.h"

typedef struct {
	PyObject_HEAD
	ws_sim_t *sim;
	int running;
} SimObject;

static int Sim_init(SimObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"n_symbols", "seed", "session", "max_payload", "total_msgs", "order_cap",
	                         "history_lg", "symbol_base", NULL};
	ws_sim_cfg_t cfg = {0};
	const char *session = "WIRESPEED";
	Py_ssize_t session_len = 9;
	unsigned int n_symbols = 8, max_payload = 1400, order_cap = 0, history_lg = 0, symbol_base = 0;
	unsigned long long seed = 1, total = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|IKs#IKIII", kwlist, &n_symbols, &seed, &session, &session_len,
	                                 &max_payload, &total, &order_cap, &history_lg, &symbol_base))
		return -1;
	if (session_len > 10) {
		PyErr_SetString(PyExc_ValueError, "session is at most 10 characters");
		return -1;
	}
	memset(cfg.session, ' ', 10);
	memcpy(cfg.session, session, (size_t)session_len);
	cfg.n_symbols = n_symbols;
	cfg.seed = seed;
	cfg.max_payload = max_payload;
	cfg.total_msgs = total;
	cfg.order_cap = order_cap;
	cfg.history_lg = history_lg;
	cfg.symbol_base = symbol_base;
	if (self->sim)
		ws_sim_delete(self->sim);
	self->sim = ws_sim_new(&cfg);
	if (!self->sim) {
		PyErr_SetString(PyExc_ValueError,
		                "invalid simulator settings: 1..65535 symbols in all, max_payload 72..9000 bytes "
		                "(or out of memory)");
		return -1;
	}
	return 0;
}

static void Sim_dealloc(SimObject *self)
{
	ws_sim_delete(self->sim);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Sim_packet(SimObject *self, PyObject *args)
{
	unsigned int max_msgs = 0;
	unsigned long long ts = 0;
	if (!PyArg_ParseTuple(args, "|IK", &max_msgs, &ts))
		return NULL;
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "the simulator is running");
		return NULL;
	}
	uint8_t pkt[9000];
	uint32_t count;
	uint32_t len = ws_sim_packet(self->sim, pkt, max_msgs, ts ? ts : ws_sim_midnight_ns(), &count);
	return Py_BuildValue("(y#I)", pkt, (Py_ssize_t)len, count);
}

static PyObject *Sim_retransmit(SimObject *self, PyObject *args)
{
	unsigned long long seq;
	unsigned int count;
	if (!PyArg_ParseTuple(args, "KI", &seq, &count))
		return NULL;
	uint8_t pkt[9000];
	uint32_t len = ws_sim_retransmit(self->sim, seq, count, pkt);
	if (!len)
		Py_RETURN_NONE;
	return PyBytes_FromStringAndSize((const char *)pkt, len);
}

static int ws_get_u32(PyObject *d, const char *key, uint32_t *out, uint32_t dflt)
{
	PyObject *v = PyDict_GetItemString(d, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	unsigned long x = PyLong_AsUnsignedLong(v);
	if (PyErr_Occurred())
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* run(config: dict): lines = [(fd, group, port, faults dict[, raw])], rate, burst,
 * duration_s, rtx_fd, rtx_allow (net, mask as dotted strings), rtx_rate,
 * heartbeat_ms, eos_repeats. */
static PyObject *Sim_run(SimObject *self, PyObject *args)
{
	PyObject *d;
	if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &d))
		return NULL;
	ws_sim_run_cfg_t rc;
	memset(&rc, 0, sizeof(rc));
	PyObject *lines = PyDict_GetItemString(d, "lines");
	if (!lines || !PyList_Check(lines) || PyList_GET_SIZE(lines) < 1 || PyList_GET_SIZE(lines) > WS_SIM_MAX_LINES) {
		PyErr_SetString(PyExc_ValueError, "config needs 1..4 lines");
		return NULL;
	}
	rc.n_lines = (uint32_t)PyList_GET_SIZE(lines);
	for (uint32_t i = 0; i < rc.n_lines; i++) {
		int fd, port;
		const char *group;
		PyObject *faults, *raw = Py_None;
		if (!PyArg_ParseTuple(PyList_GET_ITEM(lines, i), "isiO!|O", &fd, &group, &port, &PyDict_Type, &faults,
		                      &raw))
			return NULL;
		ws_sim_line_t *l = &rc.lines[i];
		l->fd = fd;
		l->dst.sin_family = AF_INET;
		l->dst.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, group, &l->dst.sin_addr) != 1) {
			PyErr_Format(PyExc_ValueError, "invalid IPv4 address %s", group);
			return NULL;
		}
		if (raw != Py_None) { /* (src_mac bytes, src_ip, sport, ttl) */
			const char *mac, *src;
			Py_ssize_t mac_len;
			unsigned int sport, ttl;
			if (!PyArg_ParseTuple(raw, "y#sII", &mac, &mac_len, &src, &sport, &ttl))
				return NULL;
			if (mac_len != 6 || inet_pton(AF_INET, src, &l->src_ip) != 1 || sport > 65535 || ttl > 255 ||
			    (ntohl(l->dst.sin_addr.s_addr) >> 28) != 0xe) {
				PyErr_SetString(PyExc_ValueError,
				                "raw mode: a 6-byte MAC, an IPv4 source, port and TTL, and a multicast group");
				return NULL;
			}
			l->raw = 1;
			memcpy(l->src_mac, mac, 6);
			l->sport = (uint16_t)sport;
			l->ttl = (uint8_t)ttl;
		}
		ws_sim_faults_t *f = &l->faults;
		if (ws_get_u32(faults, "drop_ppm", &f->drop_ppm, 0) || ws_get_u32(faults, "dup_ppm", &f->dup_ppm, 0) ||
		    ws_get_u32(faults, "reorder_ppm", &f->reorder_ppm, 0) ||
		    ws_get_u32(faults, "delay_ppm", &f->delay_ppm, 0) || ws_get_u32(faults, "delay_us", &f->delay_us, 0))
			return NULL;
		PyObject *ranges = PyDict_GetItemString(faults, "ranges"); /* [(kind, lo, hi)] */
		if (ranges) {
			if (!PyList_Check(ranges) || PyList_GET_SIZE(ranges) > WS_SIM_MAX_RANGES) {
				PyErr_SetString(PyExc_ValueError, "ranges: a list of at most 16 (kind, lo, hi)");
				return NULL;
			}
			f->n_ranges = (uint32_t)PyList_GET_SIZE(ranges);
			for (uint32_t k = 0; k < f->n_ranges; k++) {
				unsigned int kind;
				unsigned long long lo, hi;
				if (!PyArg_ParseTuple(PyList_GET_ITEM(ranges, k), "IKK", &kind, &lo, &hi))
					return NULL;
				if (kind > WS_FAULT_DELAY) {
					PyErr_SetString(PyExc_ValueError, "fault kind: 0 drop, 1 dup, 2 reorder, 3 delay");
					return NULL;
				}
				f->range_kind[k] = (uint8_t)kind;
				f->range_lo[k] = lo;
				f->range_hi[k] = hi;
			}
		}
	}
	PyObject *v;
	if ((v = PyDict_GetItemString(d, "rate")) && (rc.rate = PyFloat_AsDouble(v)) == -1 && PyErr_Occurred())
		return NULL;
	if ((v = PyDict_GetItemString(d, "duration_s")) && (rc.duration_s = PyFloat_AsDouble(v)) == -1 && PyErr_Occurred())
		return NULL;
	uint32_t rtx_fd;
	if (ws_get_u32(d, "burst", &rc.burst, 0) || ws_get_u32(d, "rtx_rate", &rc.rtx_rate, 100) ||
	    ws_get_u32(d, "heartbeat_ms", &rc.heartbeat_ms, 1000) || ws_get_u32(d, "eos_repeats", &rc.eos_repeats, 3) ||
	    ws_get_u32(d, "rtx_fd", &rtx_fd, 0xffffffffu))
		return NULL;
	rc.rtx_fd = rtx_fd == 0xffffffffu ? -1 : (int)rtx_fd;
	PyObject *allow = PyDict_GetItemString(d, "rtx_allow");
	if (allow) {
		const char *net, *mask;
		if (!PyArg_ParseTuple(allow, "ss", &net, &mask))
			return NULL;
		if (inet_pton(AF_INET, net, &rc.rtx_allow_net) != 1 || inet_pton(AF_INET, mask, &rc.rtx_allow_mask) != 1) {
			PyErr_SetString(PyExc_ValueError, "rtx_allow: (network, netmask) as dotted quads");
			return NULL;
		}
	} else {
		rc.rtx_allow_net = htonl(0x7f000000u); /* loopback only */
		rc.rtx_allow_mask = htonl(0xff000000u);
	}
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "the simulator is already running");
		return NULL;
	}
	self->running = 1;
	int err;
	Py_BEGIN_ALLOW_THREADS
	err = ws_sim_run(self->sim, &rc);
	Py_END_ALLOW_THREADS
	self->running = 0;
	if (err) {
		errno = -err;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	Py_RETURN_NONE;
}

static PyObject *Sim_stop(SimObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_sim_stop(self->sim);
	Py_RETURN_NONE;
}

static PyObject *ws_u64_list(const uint64_t *v, int n)
{
	PyObject *l = PyList_New(n);
	for (int i = 0; l && i < n; i++)
		PyList_SET_ITEM(l, i, PyLong_FromUnsignedLongLong(v[i]));
	return l;
}

static PyObject *Sim_stats(SimObject *self, PyObject *noargs)
{
	(void)noargs;
	const ws_sim_stats_t *s = ws_sim_stats(self->sim);
	PyObject *types = PyDict_New();
	for (int t = 0; types && t < 128; t++) {
		if (!s->by_type[t])
			continue;
		char key[2] = {(char)t, 0};
		PyObject *v = PyLong_FromUnsignedLongLong(s->by_type[t]);
		PyDict_SetItemString(types, key, v);
		Py_XDECREF(v);
	}
	return Py_BuildValue(
		"{s:K,s:K,s:K,s:N,s:N,s:N,s:N,s:N,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:N}",
		"msgs", s->msgs, "packets", s->packets, "bytes", s->bytes,
		"sent_pkts", ws_u64_list(s->sent_pkts, WS_SIM_MAX_LINES),
		"dropped", ws_u64_list(s->dropped, WS_SIM_MAX_LINES),
		"duplicated", ws_u64_list(s->duplicated, WS_SIM_MAX_LINES),
		"reordered", ws_u64_list(s->reordered, WS_SIM_MAX_LINES),
		"delayed", ws_u64_list(s->delayed, WS_SIM_MAX_LINES),
		"send_errors", s->send_errors, "heartbeats", s->heartbeats, "rtx_requests", s->rtx_requests,
		"rtx_answered", s->rtx_answered, "rtx_refused_addr", s->rtx_refused_addr,
		"rtx_rate_limited", s->rtx_rate_limited, "rtx_bad", s->rtx_bad, "rtx_msgs", s->rtx_msgs,
		"start_ns", s->start_ns, "end_ns", s->end_ns, "next_seq", s->next_seq, "by_type", types);
}

static PyMethodDef Sim_methods[] = {
	{"packet", (PyCFunction)Sim_packet, METH_VARARGS,
	 "packet(max_msgs=0, ts_midnight_ns=0) -> (bytes, count): the next MoldUDP64 packet, no network"},
	{"retransmit", (PyCFunction)Sim_retransmit, METH_VARARGS, "retransmit(seq, count) -> bytes or None"},
	{"run", (PyCFunction)Sim_run, METH_VARARGS, "run(config) : send the session (GIL released)"},
	{"stop", (PyCFunction)Sim_stop, METH_NOARGS, "stop(): end a run from another thread"},
	{"stats", (PyCFunction)Sim_stats, METH_NOARGS, "stats() -> dict"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject SimType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.Sim",
	.tp_basicsize = sizeof(SimObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Sim(n_symbols=8, seed=1, session='WIRESPEED', max_payload=1400, total_msgs=0, ...)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Sim_init,
	.tp_dealloc = (destructor)Sim_dealloc,
	.tp_methods = Sim_methods,
};
