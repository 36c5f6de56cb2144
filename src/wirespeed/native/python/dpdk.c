/* python/dpdk.c - wirespeed._dpdk: the dpdk transport's engine
 * (transports/dpdk.c) as a Python module of its own, built only where
 * pkg-config finds libdpdk (setup.py), so nothing else links DPDK.
 *
 * Functions: eal_init(args), eal_ready(), log_tail(), version(),
 * pool_size(queues, rxd, burst). Type: DpdkRx, one started port.
 *
 * The RingWriter it writes to is _native's: its joined writer comes through
 * the capsule wirespeed._native._ring_api (python/ring.h), checked for the
 * same version and writer size, and is held for the whole run.
 *
 * Ownership: a DpdkRx owns its port and mempool (closed on close() or when
 * the object goes, never while run() is in progress). run() releases the
 * GIL; stop(), stats() and port_stats() may be called from other threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include "python/ring.h"
#include "transports/dpdk.h"

static const ws_py_ring_api_t *ws_ring_api;

static PyObject *ws_dpdk_raise(int rc, const char *msg)
{
	PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", rc < 0 ? -rc : rc, msg);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* -- module functions ------------------------------------------------------ */

static PyObject *py_eal_init(PyObject *self, PyObject *args)
{
	(void)self;
	PyObject *list;
	if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &list))
		return NULL;
	Py_ssize_t n = PyList_GET_SIZE(list);
	if (n < 1 || n > 64) {
		PyErr_SetString(PyExc_ValueError, "eal_init(args): 1 to 64 arguments, the program name first");
		return NULL;
	}
	/* rte_eal_init keeps pointers into argv for the process's life: copies */
	char **argv = calloc((size_t)n + 1, sizeof(char *));
	if (!argv)
		return PyErr_NoMemory();
	for (Py_ssize_t i = 0; i < n; i++) {
		const char *a = PyUnicode_AsUTF8(PyList_GET_ITEM(list, i));
		if (!a || !(argv[i] = strdup(a))) {
			for (Py_ssize_t j = 0; j < i; j++)
				free(argv[j]);
			free(argv);
			return a ? PyErr_NoMemory() : NULL;
		}
	}
	char err[512] = "";
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_dpdk_eal_init((int)n, argv, err, sizeof(err));
	Py_END_ALLOW_THREADS
	if (rc == -EALREADY && !err[0])
		Py_RETURN_FALSE; /* started before in this process: the caller's ports hot-plug */
	if (rc)
		return ws_dpdk_raise(rc, err);
	Py_RETURN_TRUE;
}

static PyObject *py_eal_ready(PyObject *self, PyObject *noargs)
{
	(void)self, (void)noargs;
	return PyBool_FromLong(ws_dpdk_eal_ready());
}

static PyObject *py_log_tail(PyObject *self, PyObject *noargs)
{
	(void)self, (void)noargs;
	char buf[4096];
	size_t n = ws_dpdk_log_tail(buf, sizeof(buf));
	return PyUnicode_DecodeUTF8(buf, (Py_ssize_t)n, "replace");
}

static PyObject *py_version(PyObject *self, PyObject *noargs)
{
	(void)self, (void)noargs;
	return PyUnicode_FromString(ws_dpdk_version());
}

static PyObject *py_pool_size(PyObject *self, PyObject *args)
{
	(void)self;
	unsigned short q, rxd, burst;
	if (!PyArg_ParseTuple(args, "HHH", &q, &rxd, &burst))
		return NULL;
	return PyLong_FromUnsignedLong(ws_dpdk_pool_size(q, rxd, burst));
}

/* -- DpdkRx ------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	ws_dpdk_port_t port;
	ws_flows_t flows;
	ws_dpdk_stats_t st;
	int mode, policy, running, open;
	_Atomic int stop;
} DpdkRxObject;

static int DpdkRx_init(DpdkRxObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"devargs", "queues", "rxd", "burst", "pool", "mode", "malformed", "timestamps",
	                         "allmulti", NULL};
	const char *devargs, *mode = "busy", *malformed = "skip", *ts = "auto";
	unsigned short queues = 0, rxd = 1024, burst = 32;
	unsigned int pool = 0;
	int allmulti = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|HHHIsssp", kwlist, &devargs, &queues, &rxd, &burst, &pool, &mode,
	                                 &malformed, &ts, &allmulti))
		return -1;
	if (self->open) {
		PyErr_SetString(PyExc_RuntimeError, "already open");
		return -1;
	}
	if ((strcmp(mode, "busy") && strcmp(mode, "block")) || (strcmp(malformed, "skip") && strcmp(malformed, "keep")) ||
	    (strcmp(ts, "auto") && strcmp(ts, "off"))) {
		PyErr_SetString(PyExc_ValueError, "mode busy|block, malformed skip|keep, timestamps auto|off");
		return -1;
	}
	self->mode = strcmp(mode, "busy") ? WS_DPDK_BLOCK : WS_DPDK_BUSY;
	self->policy = strcmp(malformed, "keep") ? WS_DPDK_SKIP_MALFORMED : WS_DPDK_KEEP_MALFORMED;
	ws_dpdk_conf_t c = {queues, rxd, burst, pool, strcmp(ts, "off") ? WS_DPDK_TS_AUTO : WS_DPDK_TS_OFF, allmulti};
	char err[512] = "";
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_dpdk_open(&self->port, devargs, &c, err, sizeof(err));
	Py_END_ALLOW_THREADS
	if (rc) {
		ws_dpdk_raise(rc, err);
		return -1;
	}
	memset(&self->flows, 0, sizeof(self->flows));
	memset(&self->st, 0, sizeof(self->st));
	atomic_store(&self->st.lcore, -1);
	atomic_store(&self->stop, 0);
	self->open = 1;
	return 0;
}

static int ws_parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = a.s_addr;
	return 0;
}

static PyObject *DpdkRx_add_flow(DpdkRxObject *self, PyObject *args)
{
	const char *group;
	unsigned int port, stream;
	uint32_t g;
	if (!PyArg_ParseTuple(args, "sII", &group, &port, &stream))
		return NULL;
	if (ws_parse_ip(group, &g) || !port || port > 0xffff || !stream || stream > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "add_flow(group 'a.b.c.d', port 1..65535, stream 1..65535)");
		return NULL;
	}
	if (ws_flows_add(&self->flows, g, htons((uint16_t)port), (uint16_t)stream) < 0) {
		PyErr_Format(PyExc_ValueError, "at most %d flows", WS_MAX_FLOWS);
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *DpdkRx_remove_flow(DpdkRxObject *self, PyObject *args)
{
	const char *group;
	unsigned int port;
	uint32_t g;
	if (!PyArg_ParseTuple(args, "sI", &group, &port))
		return NULL;
	if (ws_parse_ip(group, &g) || port > 0xffff) {
		PyErr_SetString(PyExc_ValueError, "remove_flow(group 'a.b.c.d', port)");
		return NULL;
	}
	ws_flows_remove(&self->flows, g, htons((uint16_t)port));
	Py_RETURN_NONE;
}

static PyObject *DpdkRx_run(DpdkRxObject *self, PyObject *args)
{
	PyObject *writer;
	if (!PyArg_ParseTuple(args, "O", &writer))
		return NULL;
	if (!self->open || self->running) {
		PyErr_SetString(PyExc_RuntimeError, self->open ? "already running" : "closed");
		return NULL;
	}
	ws_ring_writer_t *w = ws_ring_api->writer_hold(writer); /* the RingWriter refuses close() until we drop it */
	if (!w)
		return NULL;
	self->running = 1; /* stop is sticky: a stop() that came before run() is honoured */
	pthread_setname_np(pthread_self(), "ws-rx-dpdk");
	Py_INCREF(writer);
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = ws_dpdk_run(&self->port, w, &self->flows, self->mode, self->policy, &self->stop, &self->st);
	Py_END_ALLOW_THREADS
	ws_ring_api->writer_drop(writer);
	Py_DECREF(writer);
	self->running = 0;
	if (rc)
		return ws_dpdk_raise(rc, "ws_dpdk_run");
	Py_RETURN_NONE;
}

static PyObject *DpdkRx_stop(DpdkRxObject *self, PyObject *noargs)
{
	(void)noargs;
	atomic_store(&self->stop, 1);
	Py_RETURN_NONE;
}

static int ws_dict_set_u64(PyObject *d, const char *k, uint64_t v)
{
	PyObject *x = PyLong_FromUnsignedLongLong(v);
	int rc = x ? PyDict_SetItemString(d, k, x) : -1;
	Py_XDECREF(x);
	return rc;
}

static PyObject *DpdkRx_stats(DpdkRxObject *self, PyObject *noargs)
{
	(void)noargs;
	ws_dpdk_stats_t *s = &self->st;
	PyObject *d = PyDict_New();
	if (!d)
		return NULL;
	const struct {
		const char *k;
		_Atomic uint64_t *v;
	} f[] = {{"packets", &s->packets},         {"bytes", &s->bytes},           {"polls", &s->polls},
	         {"empty_polls", &s->empty_polls}, {"sleeps", &s->sleeps},         {"malformed", &s->malformed},
	         {"too_big", &s->too_big},         {"nic_stamps", &s->nic_stamps}, {"igmp_queries", &s->igmp_queries},
	         {"igmp_reports", &s->igmp_reports}, {"igmp_send_failed", &s->igmp_send_failed}};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (ws_dict_set_u64(d, f[i].k, atomic_load(f[i].v)))
			goto fail;
	uint64_t filtered = 0;
	for (int r = 0; r < WS_DPDK_FILTER_REASONS; r++) {
		char k[48];
		snprintf(k, sizeof(k), "filtered_%s", ws_dpdk_filter_names[r]);
		uint64_t v = atomic_load(&s->filtered[r]);
		filtered += v;
		if (ws_dict_set_u64(d, k, v))
			goto fail;
	}
	if (ws_dict_set_u64(d, "filtered", filtered))
		goto fail;
	for (int v = 1; v < WS_FRAME_VERDICTS; v++)
		if (ws_dict_set_u64(d, ws_frame_verdict_names[v], atomic_load(&s->verdicts[v])))
			goto fail;
	return d;
fail:
	Py_DECREF(d);
	return NULL;
}

/* port_stats(): the driver's counters (rte_eth_stats_get). */
static PyObject *DpdkRx_port_stats(DpdkRxObject *self, PyObject *noargs)
{
	(void)noargs;
	if (!self->open) {
		PyErr_SetString(PyExc_RuntimeError, "closed");
		return NULL;
	}
	ws_dpdk_port_stats_t ps;
	int rc = ws_dpdk_port_stats(&self->port, &ps);
	if (rc)
		return ws_dpdk_raise(rc, "rte_eth_stats_get");
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K}", "ipackets", (unsigned long long)ps.ipackets, "ibytes",
	                     (unsigned long long)ps.ibytes, "imissed", (unsigned long long)ps.imissed, "ierrors",
	                     (unsigned long long)ps.ierrors, "rx_nombuf", (unsigned long long)ps.rx_nombuf);
}

static PyObject *DpdkRx_info(DpdkRxObject *self, PyObject *noargs)
{
	(void)noargs;
	const ws_dpdk_port_t *p = &self->port;
	char mac[18];
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", p->mac[0], p->mac[1], p->mac[2], p->mac[3],
	         p->mac[4], p->mac[5]);
	return Py_BuildValue("{s:s,s:s,s:H,s:H,s:H,s:H,s:I,s:O,s:O,s:s,s:O,s:i}", "device", p->name, "driver",
	                     p->driver, "port_id", p->port, "queues", p->nb_rxq, "rxd", p->nb_rxd, "burst", p->burst,
	                     "pool", p->pool_n, "rss", p->rss ? Py_True : Py_False, "nic_timestamps",
	                     p->ts_offset >= 0 ? Py_True : Py_False, "mac", mac, "tx", p->tx ? Py_True : Py_False,
	                     "lcore", atomic_load(&self->st.lcore));
}

static PyObject *DpdkRx_igmp_source(DpdkRxObject *self, PyObject *args)
{
	const char *src;
	uint32_t a;
	if (!PyArg_ParseTuple(args, "s", &src))
		return NULL;
	if (ws_parse_ip(src, &a)) {
		PyErr_SetString(PyExc_ValueError, "igmp_source('a.b.c.d')");
		return NULL;
	}
	ws_dpdk_igmp_source(&self->port, a);
	Py_RETURN_NONE;
}

static PyObject *DpdkRx_igmp_join(DpdkRxObject *self, PyObject *args)
{
	const char *group;
	uint32_t g;
	if (!PyArg_ParseTuple(args, "s", &group))
		return NULL;
	if (ws_parse_ip(group, &g) || (ntohl(g) >> 28) != 14) {
		PyErr_SetString(PyExc_ValueError, "igmp_join(group): a multicast address 224.0.0.0/4");
		return NULL;
	}
	if (ws_dpdk_igmp_join(&self->port, g) < 0) {
		PyErr_Format(PyExc_ValueError, "at most %d groups", WS_MAX_FLOWS);
		return NULL;
	}
	atomic_store(&self->port.igmp_pending, 1); /* the loop sends the report (it owns TX) */
	Py_RETURN_NONE;
}

static PyObject *DpdkRx_igmp_leave(DpdkRxObject *self, PyObject *args)
{
	const char *group;
	uint32_t g;
	if (!PyArg_ParseTuple(args, "s", &group))
		return NULL;
	if (ws_parse_ip(group, &g)) {
		PyErr_SetString(PyExc_ValueError, "igmp_leave(group)");
		return NULL;
	}
	ws_dpdk_igmp_leave(&self->port, g);
	Py_RETURN_NONE;
}

static PyObject *DpdkRx_igmp_frame(DpdkRxObject *self, PyObject *noargs)
{
	(void)noargs;
	uint8_t buf[14 + 24 + 8 + 8 * WS_MAX_FLOWS];
	uint32_t n = ws_dpdk_igmp_frame(&self->port, buf, sizeof(buf));
	return PyBytes_FromStringAndSize((const char *)buf, n);
}

static PyObject *DpdkRx_close(DpdkRxObject *self, PyObject *noargs)
{
	(void)noargs;
	if (self->running) {
		PyErr_SetString(PyExc_RuntimeError, "running: stop() and let run() return first");
		return NULL;
	}
	if (self->open) {
		Py_BEGIN_ALLOW_THREADS
		ws_dpdk_close(&self->port);
		Py_END_ALLOW_THREADS
		self->open = 0;
	}
	Py_RETURN_NONE;
}

static void DpdkRx_dealloc(DpdkRxObject *self)
{
	if (self->open && !self->running)
		ws_dpdk_close(&self->port);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef DpdkRx_methods[] = {
	{"add_flow", (PyCFunction)DpdkRx_add_flow, METH_VARARGS, "add_flow(group, port, stream)"},
	{"remove_flow", (PyCFunction)DpdkRx_remove_flow, METH_VARARGS, "remove_flow(group, port)"},
	{"run", (PyCFunction)DpdkRx_run, METH_VARARGS, "run(writer): receive into the ring until stop() (GIL released)"},
	{"stop", (PyCFunction)DpdkRx_stop, METH_NOARGS, "stop(): end run() from another thread"},
	{"stats", (PyCFunction)DpdkRx_stats, METH_NOARGS, "stats() -> the loop's counters"},
	{"port_stats", (PyCFunction)DpdkRx_port_stats, METH_NOARGS, "port_stats() -> the driver's counters"},
	{"info", (PyCFunction)DpdkRx_info, METH_NOARGS, "info() -> how the port was set up"},
	{"igmp_source", (PyCFunction)DpdkRx_igmp_source, METH_VARARGS, "igmp_source(addr): send IGMP from addr"},
	{"igmp_join", (PyCFunction)DpdkRx_igmp_join, METH_VARARGS, "igmp_join(group): report membership (by the loop)"},
	{"igmp_leave", (PyCFunction)DpdkRx_igmp_leave, METH_VARARGS, "igmp_leave(group): left out of later reports"},
	{"igmp_frame", (PyCFunction)DpdkRx_igmp_frame, METH_NOARGS, "igmp_frame() -> the report as it would be sent"},
	{"close", (PyCFunction)DpdkRx_close, METH_NOARGS, "close(): stop the port, free its mempool"},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject DpdkRxType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "wirespeed._dpdk.DpdkRx",
	.tp_basicsize = sizeof(DpdkRxObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "DpdkRx(devargs, queues=0, rxd=1024, burst=32, pool=0, mode='busy', malformed='skip',"
	          " timestamps='auto', allmulti=False): one started DPDK port (EAL must be up: eal_init)",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)DpdkRx_init,
	.tp_dealloc = (destructor)DpdkRx_dealloc,
	.tp_methods = DpdkRx_methods,
};

static PyMethodDef ws_dpdk_methods[] = {
	{"eal_init", py_eal_init, METH_VARARGS,
	 "eal_init(args) -> True if started now, False if it was already: DPDK's EAL, once per process"},
	{"eal_ready", py_eal_ready, METH_NOARGS, "eal_ready() -> bool"},
	{"log_tail", py_log_tail, METH_NOARGS, "log_tail() -> the last few KB DPDK logged"},
	{"version", py_version, METH_NOARGS, "version() -> DPDK's version string"},
	{"pool_size", py_pool_size, METH_VARARGS, "pool_size(queues, rxd, burst) -> mbufs (transports/dpdk.h)"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef ws_dpdk_module = {
	PyModuleDef_HEAD_INIT, "wirespeed._dpdk", "The dpdk transport's engine (DPDK >= 22.11).", -1,
	ws_dpdk_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__dpdk(void)
{
	ws_ring_api = PyCapsule_Import(WS_PY_RING_API, 0);
	if (!ws_ring_api)
		return NULL;
	if (ws_ring_api->version != WS_PY_RING_API_VERSION || ws_ring_api->writer_size != sizeof(ws_ring_writer_t)) {
		PyErr_SetString(PyExc_ImportError, "wirespeed._dpdk and wirespeed._native were built from different "
		                                   "sources: rebuild both (pip install -e . or ./setup.sh)");
		return NULL;
	}
	PyObject *m = PyModule_Create(&ws_dpdk_module);
	if (!m)
		return NULL;
	if (PyType_Ready(&DpdkRxType) < 0 || PyModule_AddObjectRef(m, "DpdkRx", (PyObject *)&DpdkRxType) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
