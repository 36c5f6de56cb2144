/* python/exchange.c - the exchange side: the simulator (exchange/sim.h) as
 * _native.Sim, and the matching engine (exchange/match.h) as
 * _native.MatchEngine.
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
#include <time.h>

#include "exchange/match.h"
#include "exchange/sim.h"
#include "system/clock.h"
#include "python/module.h"
#include "python/transports.h"

typedef struct {
	PyObject_HEAD
	ws_sim_t *sim;
	int running;
	uint32_t n_symbols, symbol_base;
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
	self->n_symbols = n_symbols;
	self->symbol_base = symbol_base;
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
	uint32_t count, flow;
	uint32_t len = ws_sim_packet(self->sim, pkt, max_msgs ? max_msgs : UINT32_MAX, ts ? ts : ws_midnight_ns(), &count,
	                             &flow);
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

static int ws_get_u64(PyObject *d, const char *key, uint64_t *out)
{
	PyObject *v = PyDict_GetItemString(d, key);
	*out = 0;
	if (!v)
		return 0;
	*out = PyLong_AsUnsignedLongLong(v);
	return PyErr_Occurred() ? -1 : 0;
}

/* A str of at most w characters into a NUL-terminated field; -1 with an exception. */
static int ws_get_str(PyObject *d, const char *key, char *out, Py_ssize_t w)
{
	PyObject *v = PyDict_GetItemString(d, key);
	Py_ssize_t n;
	const char *s = v && PyUnicode_Check(v) ? PyUnicode_AsUTF8AndSize(v, &n) : NULL;
	if (!s || n > w) {
		PyErr_Format(PyExc_ValueError, "order port: %s must be a str of at most %zd characters", key, w);
		return -1;
	}
	memcpy(out, s, (size_t)n);
	out[n] = 0;
	return 0;
}

/* The "ouch" part of run()'s config: listen_fd, session, heartbeat_ms,
 * login_timeout_ms, accounts = [{user, password, firm, max_order_qty,
 * max_notional, collar_bp, max_open, max_msgs_per_s}]. */
static int ws_port_config(PyObject *d, ws_port_cfg_t *pc, ws_port_account_t *acct)
{
	uint32_t fd;
	char session[11];
	if (ws_get_u32(d, "listen_fd", &fd, 0xffffffffu) || ws_get_u32(d, "heartbeat_ms", &pc->heartbeat_ms, 1000) ||
	    ws_get_u32(d, "login_timeout_ms", &pc->login_timeout_ms, 5000) || ws_get_str(d, "session", session, 10))
		return -1;
	pc->listen_fd = fd == 0xffffffffu ? -1 : (int)fd;
	memset(pc->session, ' ', 10);
	memcpy(pc->session, session, strlen(session));
	PyObject *accounts = PyDict_GetItemString(d, "accounts");
	if (!accounts || !PyList_Check(accounts) || !PyList_GET_SIZE(accounts) ||
	    PyList_GET_SIZE(accounts) > WS_PORT_MAX_ACCOUNTS) {
		PyErr_Format(PyExc_ValueError, "order port: 1 to %d accounts", WS_PORT_MAX_ACCOUNTS);
		return -1;
	}
	pc->n_accounts = (uint32_t)PyList_GET_SIZE(accounts);
	pc->accounts = acct;
	for (uint32_t k = 0; k < pc->n_accounts; k++) {
		PyObject *a = PyList_GET_ITEM(accounts, k);
		ws_port_account_t *x = &acct[k];
		memset(x, 0, sizeof(*x));
		char firm[5];
		if (!PyDict_Check(a) || ws_get_str(a, "user", x->user, 6) || ws_get_str(a, "password", x->password, 10) ||
		    ws_get_str(a, "firm", firm, 4) || ws_get_u32(a, "max_order_qty", &x->max_order_qty, 0) ||
		    ws_get_u64(a, "max_notional", &x->max_notional) || ws_get_u32(a, "collar_bp", &x->collar_bp, 0) ||
		    ws_get_u32(a, "max_open", &x->max_open, 0) || ws_get_u32(a, "max_msgs_per_s", &x->max_msgs_per_s, 0)) {
			if (!PyErr_Occurred())
				PyErr_SetString(PyExc_ValueError, "order port: an account is a dict");
			return -1;
		}
		memset(x->firm, ' ', 4);
		memcpy(x->firm, firm, strlen(firm));
	}
	return 0;
}

/* run(config: dict): lines = [(fd, group, port, faults dict[, raw[, (UdpTx, flow)]])], rate, burst,
 * duration_s, rtx_fd, rtx_allow (net, mask as dotted strings), rtx_rate,
 * heartbeat_ms, eos_repeats, stamp_log, tx_stamps (ws_sim_run_cfg_t) and ouch (an order port:
 * ws_port_config). */
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
		PyObject *faults, *raw = Py_None, *xsk = Py_None;
		if (!PyArg_ParseTuple(PyList_GET_ITEM(lines, i), "isiO!|OO", &fd, &group, &port, &PyDict_Type, &faults,
		                      &raw, &xsk))
			return NULL;
		ws_sim_line_t *l = &rc.lines[i];
		l->fd = fd;
		if (xsk != Py_None) { /* (UdpTx, flow): the caller keeps it open for the run */
			PyObject *tx;
			unsigned int flow;
			if (!PyArg_ParseTuple(xsk, "OI", &tx, &flow) || !(l->xsk = ws_py_udp_tx(tx)) ||
			    flow >= l->xsk->n_flows) {
				PyErr_Clear();
				PyErr_SetString(PyExc_ValueError, "a line's sender: (an open UdpTx, one of its flows), or None");
				return NULL;
			}
			l->xsk_flow = flow;
		}
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
	    ws_get_u32(d, "rtx_fd", &rtx_fd, 0xffffffffu) || ws_get_u32(d, "stamp_log", &rc.stamp_log, 0))
		return NULL;
	uint32_t tx_stamps;
	if (ws_get_u32(d, "tx_stamps", &tx_stamps, 0))
		return NULL;
	rc.tx_stamps = tx_stamps != 0;
	PyObject *fill = PyDict_GetItemString(d, "fill"); /* bytes: uint16 entries, a power of two of them */
	if (fill && fill != Py_None) {
		Py_ssize_t n = PyBytes_Check(fill) ? PyBytes_GET_SIZE(fill) / 2 : 0;
		const uint16_t *t = n ? (const uint16_t *)PyBytes_AS_STRING(fill) : NULL;
		int ok = n > 0 && (n & (n - 1)) == 0 && PyBytes_GET_SIZE(fill) % 2 == 0;
		for (Py_ssize_t i = 0; ok && i < n; i++)
			ok = t[i] >= 1;
		if (!ok) {
			PyErr_SetString(PyExc_ValueError, "fill: bytes of uint16 entries >= 1, a power of two of them");
			return NULL;
		}
		rc.fill = t; /* the dict (and so the bytes) outlives the run: the caller holds it */
		rc.fill_n = (uint32_t)n;
	}
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
	ws_port_cfg_t pc;
	ws_port_account_t accounts[WS_PORT_MAX_ACCOUNTS];
	PyObject *ouch = PyDict_GetItemString(d, "ouch");
	if (ouch && ouch != Py_None) {
		memset(&pc, 0, sizeof(pc));
		if (!PyDict_Check(ouch)) {
			PyErr_SetString(PyExc_ValueError, "ouch: a dict");
			return NULL;
		}
		if (ws_port_config(ouch, &pc, accounts))
			return NULL;
		rc.port = &pc;
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
	if (err == -EINVAL && rc.port) {
		PyErr_SetString(PyExc_ValueError, "the order port could not start (a listening TCP socket and 1..64 "
		                                  "accounts are needed)");
		return NULL;
	}
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
		"{s:K,s:K,s:K,s:N,s:N,s:N,s:N,s:N,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:N,s:K,s:K}",
		"msgs", s->msgs, "packets", s->packets, "bytes", s->bytes,
		"sent_pkts", ws_u64_list(s->sent_pkts, WS_SIM_MAX_LINES),
		"dropped", ws_u64_list(s->dropped, WS_SIM_MAX_LINES),
		"duplicated", ws_u64_list(s->duplicated, WS_SIM_MAX_LINES),
		"reordered", ws_u64_list(s->reordered, WS_SIM_MAX_LINES),
		"delayed", ws_u64_list(s->delayed, WS_SIM_MAX_LINES),
		"send_errors", s->send_errors, "heartbeats", s->heartbeats, "rtx_requests", s->rtx_requests,
		"rtx_answered", s->rtx_answered, "rtx_refused_addr", s->rtx_refused_addr,
		"rtx_rate_limited", s->rtx_rate_limited, "rtx_bad", s->rtx_bad, "rtx_msgs", s->rtx_msgs,
		"start_ns", s->start_ns, "end_ns", s->end_ns, "next_seq", s->next_seq, "by_type", types,
		"tx_stamps", s->tx_stamps, "tx_stamps_unmatched", s->tx_stamps_unmatched);
}

/* {letter: count} of the non-zero entries of a 128-entry table. */
static PyObject *ws_by_letter(const uint64_t *v)
{
	PyObject *d = PyDict_New();
	for (int t = 0; d && t < 128; t++) {
		if (!v[t])
			continue;
		char key[2] = {(char)t, 0};
		PyObject *x = PyLong_FromUnsignedLongLong(v[t]);
		if (!x || PyDict_SetItemString(d, key, x))
			Py_CLEAR(d);
		Py_XDECREF(x);
	}
	return d;
}

/* symbols() -> [(locate, stock, mid)]: each book's ITCH locate, stock and
 * the mid the simulator's own orders rest around (Price(4)). */
static PyObject *Sim_symbols(SimObject *self, PyObject *noargs)
{
	(void)noargs;
	PyObject *out = PyList_New(0);
	for (uint32_t k = 0; out && k < self->n_symbols; k++) {
		char stock[8];
		uint32_t mid;
		ws_sim_symbol(self->sim, k, stock, &mid);
		uint32_t n = 8;
		while (n && stock[n - 1] == ' ')
			n--;
		PyObject *e = Py_BuildValue("(Is#I)", self->symbol_base + k + 1, stock, (Py_ssize_t)n, mid);
		if (!e || PyList_Append(out, e))
			Py_CLEAR(out);
		Py_XDECREF(e);
	}
	return out;
}

/* order_stats() -> dict: the order port's counters (zero before a run with
 * one) and the books' (the matching engine's). */
static PyObject *Sim_order_stats(SimObject *self, PyObject *noargs)
{
	(void)noargs;
	const ws_port_stats_t *p = ws_sim_port_stats(self->sim);
	const ws_match_stats_t *m = ws_sim_match_stats(self->sim);
	PyObject *drops = PyDict_New(), *rejects = PyDict_New();
	for (int i = 0; drops && i < WS_PORT_DROPS; i++) {
		PyObject *x = p->drops[i] ? PyLong_FromUnsignedLongLong(p->drops[i]) : NULL;
		if (x && PyDict_SetItemString(drops, ws_port_drop_names[i], x))
			Py_CLEAR(drops);
		Py_XDECREF(x);
	}
	for (int i = 0; rejects && i < 64; i++) {
		char key[8];
		snprintf(key, sizeof(key), "0x%04X", i);
		PyObject *x = p->rejects[i] ? PyLong_FromUnsignedLongLong(p->rejects[i]) : NULL;
		if (x && PyDict_SetItemString(rejects, key, x))
			Py_CLEAR(rejects);
		Py_XDECREF(x);
	}
	if (!drops || !rejects) {
		Py_XDECREF(drops);
		Py_XDECREF(rejects);
		return NULL;
	}
	return Py_BuildValue(
		"{s:K,s:K,s:K,s:K,s:K,s:N,s:N,s:N,s:N,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I,s:{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I}}",
		"connections", p->connections, "logins", p->logins, "rejected_auth", p->rejected_auth, "rejected_busy",
		p->rejected_busy, "rejected_session", p->rejected_session, "drops", drops, "in_by_type",
		ws_by_letter(p->in_by_type), "out_by_type", ws_by_letter(p->out_by_type), "rejects", rejects, "stale_urn",
		p->stale_urn, "unknown_order", p->unknown_order, "fills", p->fills, "filled_shares", p->filled_shares,
		"bytes_in", p->bytes_in, "bytes_out", p->bytes_out, "log_lost", p->log_lost, "sessions_now",
		p->sessions_now, "books", "adds", m->adds, "execs", m->execs, "cancels", m->cancels, "replaces",
		m->replaces, "matches", m->matches, "pool_full", m->pool_full, "events_lost", m->events_lost, "live",
		m->live);
}

/* stamps() -> (sent, orders, sent_total, orders_total): the last run's
 * tick-to-trade logs as bytes (ws_sim_sent_t, ws_port_stamp_t); refused
 * while it runs (the run thread writes them). */
static PyObject *Sim_stamps(SimObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "stamps: the simulator is running (read them after the run)");
		return NULL;
	}
	uint64_t ns, no, cap_s, cap_o;
	const ws_sim_sent_t *sent = ws_sim_sent_log(self->sim, &ns, &cap_s);
	const ws_port_stamp_t *ord = ws_sim_order_log(self->sim, &no, &cap_o);
	if (!sent)
		cap_s = cap_o = 0;
	return Py_BuildValue("(y#y#KK)", (const char *)sent, (Py_ssize_t)(cap_s * sizeof(*sent)), (const char *)ord,
	                     (Py_ssize_t)(cap_o * sizeof(*ord)), (unsigned long long)ns, (unsigned long long)no);
}

static PyMethodDef Sim_methods[] = {
	{"stamps", (PyCFunction)Sim_stamps, METH_NOARGS, "stamps() -> (sent, orders, sent_total, orders_total)"},
	{"packet", (PyCFunction)Sim_packet, METH_VARARGS,
	 "packet(max_msgs=0, ts_midnight_ns=0) -> (bytes, count): the next MoldUDP64 packet, no network"},
	{"retransmit", (PyCFunction)Sim_retransmit, METH_VARARGS, "retransmit(seq, count) -> bytes or None"},
	{"run", (PyCFunction)Sim_run, METH_VARARGS, "run(config) : send the session (GIL released)"},
	{"stop", (PyCFunction)Sim_stop, METH_NOARGS, "stop(): end a run from another thread"},
	{"stats", (PyCFunction)Sim_stats, METH_NOARGS, "stats() -> dict"},
	{"symbols", (PyCFunction)Sim_symbols, METH_NOARGS, "symbols() -> [(locate, stock, mid price)]"},
	{"order_stats", (PyCFunction)Sim_order_stats, METH_NOARGS,
	 "order_stats() -> dict: the order port's counters and the books'"},
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

/* -- _native.MatchEngine: the matching engine, for tests and the benchmark ----------
 *
 * Ownership: owns its engine (freed with the object). Arguments are
 * checked here (the engine's calls are not); the GIL is held except in
 * run(), which holds the engine busy meanwhile (other calls refuse). */

typedef struct {
	PyObject_HEAD
	ws_match_t *e;
	uint32_t n_symbols;
	int busy;
} MatchObject;

static int Match_init(MatchObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"n_symbols", "max_orders", NULL};
	unsigned int n_symbols, max_orders = 1u << 20;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "I|I", kwlist, &n_symbols, &max_orders))
		return -1;
	if (self->e) {
		PyErr_SetString(PyExc_RuntimeError, "MatchEngine already made");
		return -1;
	}
	self->e = ws_match_new(n_symbols, max_orders);
	if (!self->e) {
		PyErr_Format(PyExc_ValueError, "MatchEngine(n_symbols=%u, max_orders=%u): 1..65535 symbols, "
		             "a positive pool (or out of memory)", n_symbols, max_orders);
		return -1;
	}
	self->n_symbols = n_symbols;
	return 0;
}

static void Match_dealloc(MatchObject *self)
{
	ws_match_delete(self->e);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int match_ready(MatchObject *self)
{
	if (!self->e || self->busy) {
		PyErr_SetString(PyExc_RuntimeError, self->e ? "MatchEngine is running a batch" : "MatchEngine not made");
		return 0;
	}
	return 1;
}

static int match_locate(MatchObject *self, unsigned int locate)
{
	if (!locate || locate > self->n_symbols) {
		PyErr_Format(PyExc_ValueError, "locate %u outside 1..%u", locate, self->n_symbols);
		return 0;
	}
	return 1;
}

static int match_side(const char *side, uint8_t *out)
{
	if (strcmp(side, "B") && strcmp(side, "S")) {
		PyErr_SetString(PyExc_ValueError, "side is 'B' or 'S'");
		return 0;
	}
	*out = (uint8_t)side[0];
	return 1;
}

static PyObject *match_handle(uint32_t h)
{
	return h == WS_MATCH_NONE ? Py_NewRef(Py_None) : PyLong_FromUnsignedLong(h);
}

static PyObject *Match_add(MatchObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"locate", "side", "price", "qty", "ioc", "owner", "tag", "attributed", NULL};
	unsigned int locate, price, qty, owner = 0;
	unsigned long long tag = 0;
	const char *side;
	int ioc = 0, attributed = 0;
	uint8_t s;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "IsII|pIKp", kwlist, &locate, &side, &price, &qty, &ioc, &owner, &tag,
	                                 &attributed) ||
	    !match_ready(self) || !match_locate(self, locate) || !match_side(side, &s))
		return NULL;
	if (!qty || !price) {
		PyErr_SetString(PyExc_ValueError, "qty and price must be positive");
		return NULL;
	}
	uint64_t ref;
	uint32_t h = ws_match_add(self->e, (uint16_t)locate, s, price, qty, ioc, owner, tag, attributed, &ref);
	return Py_BuildValue("(NK)", match_handle(h), (unsigned long long)ref);
}

static PyObject *Match_reduce(MatchObject *self, PyObject *args)
{
	unsigned int h, open;
	if (!PyArg_ParseTuple(args, "II", &h, &open) || !match_ready(self))
		return NULL;
	return PyLong_FromUnsignedLong(ws_match_reduce(self->e, h, open));
}

static PyObject *Match_replace(MatchObject *self, PyObject *args)
{
	unsigned int h, price, qty;
	unsigned long long tag = 0;
	if (!PyArg_ParseTuple(args, "III|K", &h, &price, &qty, &tag) || !match_ready(self))
		return NULL;
	if (!price) {
		PyErr_SetString(PyExc_ValueError, "price must be positive");
		return NULL;
	}
	uint64_t ref;
	uint32_t nh = ws_match_replace(self->e, h, price, qty, tag, &ref);
	return Py_BuildValue("(NK)", match_handle(nh), (unsigned long long)ref);
}

static PyObject *Match_execute_front(MatchObject *self, PyObject *args)
{
	unsigned int locate, qty;
	const char *side;
	int with_price = 0;
	uint8_t s;
	if (!PyArg_ParseTuple(args, "IsI|p", &locate, &side, &qty, &with_price) || !match_ready(self) ||
	    !match_locate(self, locate) || !match_side(side, &s))
		return NULL;
	return PyLong_FromUnsignedLong(ws_match_execute_front(self->e, (uint16_t)locate, s, qty, with_price));
}

static PyObject *Match_next_match(MatchObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!match_ready(self))
		return NULL;
	return PyLong_FromUnsignedLongLong(ws_match_next_match(self->e));
}

static PyObject *Match_sim_orders(MatchObject *self, PyObject *args)
{
	unsigned int locate;
	if (!PyArg_ParseTuple(args, "I", &locate) || !match_ready(self) || !match_locate(self, locate))
		return NULL;
	uint32_t n = ws_match_sim_count(self->e, (uint16_t)locate);
	PyObject *out = PyList_New(n);
	for (uint32_t k = 0; out && k < n; k++) {
		PyObject *v = PyLong_FromUnsignedLong(ws_match_sim_order(self->e, (uint16_t)locate, k));
		if (!v) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, k, v);
	}
	return out;
}

static PyObject *Match_order(MatchObject *self, PyObject *args)
{
	unsigned int h;
	if (!PyArg_ParseTuple(args, "I", &h) || !match_ready(self))
		return NULL;
	uint64_t ref, tag;
	uint8_t side;
	uint32_t price, qty, owner;
	if (!ws_match_order(self->e, h, &ref, &side, &price, &qty, &owner, &tag))
		Py_RETURN_NONE;
	return Py_BuildValue("{s:K,s:C,s:I,s:I,s:I,s:K}", "ref", (unsigned long long)ref, "side", side, "price", price,
	                     "qty", qty, "owner", owner, "tag", (unsigned long long)tag);
}

static PyObject *Match_bbo(MatchObject *self, PyObject *args)
{
	unsigned int locate;
	if (!PyArg_ParseTuple(args, "I", &locate) || !match_ready(self) || !match_locate(self, locate))
		return NULL;
	uint32_t bp, bq, ap, aq;
	ws_match_bbo(self->e, (uint16_t)locate, &bp, &bq, &ap, &aq);
	return Py_BuildValue("(IIII)", bp, bq, ap, aq);
}

/* events() -> [dict]: what happened since the last call, oldest first; clears them. */
static PyObject *Match_events(MatchObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!match_ready(self))
		return NULL;
	uint32_t n;
	const ws_match_ev_t *ev = ws_match_events(self->e, &n);
	PyObject *out = PyList_New(n);
	for (uint32_t i = 0; out && i < n; i++) {
		const ws_match_ev_t *v = &ev[i];
		PyObject *d = Py_BuildValue(
		    "{s:i,s:C,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:N,s:K,s:K,s:K,s:I,s:K,s:I,s:K}", "kind", v->kind, "side",
		    v->side, "attributed", v->attributed, "with_price", v->with_price, "rested", v->rested, "locate",
		    v->locate, "qty", v->qty, "remaining", v->remaining, "price", v->price, "handle",
		    match_handle(v->handle), "ref", (unsigned long long)v->ref, "new_ref", (unsigned long long)v->new_ref,
		    "match", (unsigned long long)v->match, "owner", v->owner, "tag", (unsigned long long)v->tag,
		    "taker_owner", v->taker_owner, "taker_tag", (unsigned long long)v->taker_tag);
		if (!d) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, i, d);
	}
	ws_match_clear_events(self->e);
	return out;
}

/* run(ops) -> (events, trades, elapsed_ns): a batch in OP_DTYPE layout
 * (exchange/matching.py), applied in C without the GIL. */
static PyObject *Match_run(MatchObject *self, PyObject *args)
{
	Py_buffer b;
	if (!PyArg_ParseTuple(args, "y*", &b))
		return NULL;
	if (!match_ready(self) || b.len % (Py_ssize_t)sizeof(ws_match_op_t) ||
	    (size_t)b.len / sizeof(ws_match_op_t) > UINT32_MAX) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_ValueError, "ops: a buffer of OP_DTYPE records");
		PyBuffer_Release(&b);
		return NULL;
	}
	uint32_t n = (uint32_t)((size_t)b.len / sizeof(ws_match_op_t));
	const ws_match_op_t *ops = b.buf;
	for (uint32_t i = 0; i < n; i++)
		if (!ops[i].locate || ops[i].locate > self->n_symbols || (ops[i].side != 'B' && ops[i].side != 'S') ||
		    ops[i].op > 2 || (ops[i].op != 1 && (!ops[i].qty || !ops[i].price))) {
			PyBuffer_Release(&b);
			return PyErr_Format(PyExc_ValueError, "op %u is not a valid operation", i);
		}
	ws_match_slot_t *slots = PyMem_RawMalloc((size_t)n * sizeof(*slots) + 1);
	if (!slots) {
		PyBuffer_Release(&b);
		return PyErr_NoMemory();
	}
	uint64_t events, trades;
	struct timespec t0, t1;
	self->busy = 1;
	Py_BEGIN_ALLOW_THREADS
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ws_match_run(self->e, ops, n, slots, &events, &trades);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	Py_END_ALLOW_THREADS
	self->busy = 0;
	PyMem_RawFree(slots);
	PyBuffer_Release(&b);
	long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec);
	return Py_BuildValue("(KKL)", (unsigned long long)events, (unsigned long long)trades, ns);
}

static PyObject *Match_stats(MatchObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!match_ready(self))
		return NULL;
	const ws_match_stats_t *s = ws_match_stats(self->e);
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:I}", "adds", s->adds, "execs", s->execs, "cancels",
	                     s->cancels, "replaces", s->replaces, "matches", s->matches, "pool_full", s->pool_full,
	                     "events_lost", s->events_lost, "live", s->live);
}

static PyMethodDef Match_methods[] = {
	{"add", (PyCFunction)(void (*)(void))Match_add, METH_VARARGS | METH_KEYWORDS,
	 "add(locate, side, price, qty, ioc=False, owner=0, tag=0, attributed=False) -> (handle or None, ref)"},
	{"reduce", (PyCFunction)Match_reduce, METH_VARARGS, "reduce(handle, open) -> shares canceled"},
	{"replace", (PyCFunction)Match_replace, METH_VARARGS,
	 "replace(handle, price, qty, new_tag=0) -> (handle or None, new_ref)"},
	{"execute_front", (PyCFunction)Match_execute_front, METH_VARARGS,
	 "execute_front(locate, side, qty, with_price=False) -> shares traded"},
	{"next_match", (PyCFunction)Match_next_match, METH_NOARGS, "next_match() -> a match number for a hidden trade"},
	{"sim_orders", (PyCFunction)Match_sim_orders, METH_VARARGS, "sim_orders(locate) -> handles of owner-0 orders"},
	{"order", (PyCFunction)Match_order, METH_VARARGS, "order(handle) -> dict, or None if not resting"},
	{"bbo", (PyCFunction)Match_bbo, METH_VARARGS, "bbo(locate) -> (bid_px, bid_qty, ask_px, ask_qty)"},
	{"events", (PyCFunction)Match_events, METH_NOARGS, "events() -> [dict] since the last call (then cleared)"},
	{"run", (PyCFunction)Match_run, METH_VARARGS, "run(ops) -> (events, trades, elapsed_ns), GIL released"},
	{"stats", (PyCFunction)Match_stats, METH_NOARGS, "stats() -> dict"},
	{NULL, NULL, 0, NULL},
};

PyTypeObject MatchType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._native.MatchEngine",
	.tp_basicsize = sizeof(MatchObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "MatchEngine(n_symbols, max_orders=1048576): price-time books (exchange/match.h)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Match_init,
	.tp_dealloc = (destructor)Match_dealloc,
	.tp_methods = Match_methods,
};
