/* python/module.c - wirespeed._native: the module, its exceptions, and the
 * functions and types every binding file contributes (python/module.h).
 *
 * Every binding is a thin wrapper: it checks argument shapes, calls one
 * ws_* function, and turns a negative errno into an OSError whose message
 * names the syscall and its arguments, so a Python traceback is already a
 * diagnosis ("bpf(BPF_LINK_CREATE, ifindex=7, flags=DRV): Operation not
 * supported"). Hints a user can act on are added in Python, where the context
 * is known.
 *
 * Ownership across the boundary: file descriptors returned by the bindings
 * belong to the Python caller, who closes them. Buffers passed in are
 * borrowed for the duration of the call only; no binding keeps a reference
 * to Python memory unless its file's header says so (python/ring.c's
 * zero-copy views).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "python/module.h"
#include "python/ring.h"

PyObject *ws_BpfError;
PyObject *ws_RingError;

/* ws_raise: see python/module.h. */
PyObject *ws_raise(PyObject *type, int err, const char *call)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s: %s", call, strerror(err));
	PyObject *exc = PyObject_CallFunction(type ? type : PyExc_OSError, "is", err, msg);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

static struct PyModuleDef ws_module = {
	PyModuleDef_HEAD_INIT, "wirespeed._native",
	"wirespeed's native core (C11): the ring, bpf(), AF_XDP, ethtool, namespaces, books, the simulator.", -1,
	NULL, NULL, NULL, NULL, NULL,
};

static PyMethodDef *const ws_tables[] = {
	ws_py_bench_methods, ws_py_feed_methods, ws_py_formats_methods, ws_py_net_methods,
	ws_py_orders_methods, ws_py_products_methods, ws_py_ring_methods, ws_py_system_methods, ws_py_trade_methods, ws_py_transports_methods,
	ws_py_xdp_methods,
};

static const struct {
	const char *name;
	PyTypeObject *type;
} ws_types[] = {
	{"RingWriter", &RingWriterType}, {"RingReader", &RingReaderType}, {"KernelRx", &KernelRxType},
	{"XskRx", &XskRxType},           {"BookEngine", &BookType},       {"FeedHandler", &FeedType},
	{"FeedRouter", &RouterType},     {"Sim", &SimType},               {"MatchEngine", &MatchType},
	{"OrderSession", &SessionType},  {"Trader", &TraderType},        {"UdpTx", &UdpTxType}, {"TcpXsk", &TcpXskType},
	{"PcapSource", &PcapSourceType}, {"DepthGrid", &GridType},
	{"ParquetWriter", &ParquetWriterType},
};

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m = PyModule_Create(&ws_module);
	if (!m)
		return NULL;
	for (size_t i = 0; i < sizeof(ws_tables) / sizeof(ws_tables[0]); i++)
		if (PyModule_AddFunctions(m, ws_tables[i]) < 0)
			goto fail;
	ws_BpfError = PyErr_NewExceptionWithDoc(
		"wirespeed._native.BpfError",
		"bpf() refused a program; .verifier_log holds the verifier's explanation.",
		PyExc_OSError, NULL);
	if (!ws_BpfError || PyModule_AddObjectRef(m, "BpfError", ws_BpfError) < 0)
		goto fail;
	ws_RingError = PyErr_NewExceptionWithDoc(
		"wirespeed._native.RingError",
		"A ring file was refused (bad magic, version, layout, truncated) or found corrupt.",
		NULL, NULL);
	if (!ws_RingError || PyModule_AddObjectRef(m, "RingError", ws_RingError) < 0)
		goto fail;
	static const ws_py_ring_api_t ring_api = {WS_PY_RING_API_VERSION, sizeof(ws_ring_writer_t),
	                                          ws_py_ring_writer_hold, ws_py_ring_writer_drop};
	PyObject *cap = PyCapsule_New((void *)&ring_api, WS_PY_RING_API, NULL);
	int added = cap ? PyModule_AddObjectRef(m, "_ring_api", cap) : -1;
	Py_XDECREF(cap);
	if (added < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(ws_types) / sizeof(ws_types[0]); i++)
		if (PyType_Ready(ws_types[i].type) < 0 ||
		    PyModule_AddObjectRef(m, ws_types[i].name, (PyObject *)ws_types[i].type) < 0)
			goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
