/* python/xdp.c - bpf(): loading, attaching and testing eBPF programs, and
 * their maps (xdp/bpf.h), for wirespeed/xdp/bpf.py.
 *
 * Ownership: every fd returned here belongs to the Python caller, who
 * closes it (wirespeed/xdp/bpf.py wraps them in objects with close()).
 * Buffers passed in are borrowed for the call only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>

#include "python/module.h"
#include "xdp/bpf.h"

static PyObject *py_bpf_prog_load(PyObject *self, PyObject *args, PyObject *kw)
{
	(void)self;
	static char *kwlist[] = {"prog_type", "insns", "license", "expected_attach_type",
	                         "log_level", NULL};
	unsigned int prog_type, attach_type = 0, log_level = 0;
	Py_buffer insns;
	const char *license = "GPL";
	if (!PyArg_ParseTupleAndKeywords(args, kw, "Iy*|sII", kwlist, &prog_type, &insns,
	                                 &license, &attach_type, &log_level))
		return NULL;
	if (insns.len == 0 || insns.len % 8) {
		PyBuffer_Release(&insns);
		PyErr_Format(PyExc_ValueError, "insns must be a non-empty multiple of 8 bytes, got %zd",
		             insns.len);
		return NULL;
	}
	/* 1 MiB is enough for a verifier explaining a few hundred instructions. */
	uint32_t log_sz = log_level ? (1u << 20) : 0;
	char *log = log_sz ? PyMem_Malloc(log_sz) : NULL;
	if (log_sz && !log) {
		PyBuffer_Release(&insns);
		return PyErr_NoMemory();
	}
	uint32_t insn_cnt = (uint32_t)(insns.len / 8);
	int fd = ws_bpf_prog_load(prog_type, insns.buf, insn_cnt, license, attach_type, log, log_sz,
	                          log_level);
	PyBuffer_Release(&insns);
	if (fd >= 0) {
		PyMem_Free(log);
		return PyLong_FromLong(fd);
	}
	char call[128];
	snprintf(call, sizeof(call), "bpf(BPF_PROG_LOAD, prog_type=%u, insn_cnt=%u)", prog_type,
	         insn_cnt);
	ws_raise(ws_BpfError, -fd, call);
	if (log) {
		PyObject *type, *value, *tb;
		PyErr_Fetch(&type, &value, &tb);
		PyErr_NormalizeException(&type, &value, &tb);
		PyObject *text = PyUnicode_DecodeUTF8(log, (Py_ssize_t)strnlen(log, log_sz), "replace");
		if (text && value)
			PyObject_SetAttrString(value, "verifier_log", text);
		Py_XDECREF(text);
		PyErr_Restore(type, value, tb);
		PyMem_Free(log);
	}
	return NULL;
}

static PyObject *py_bpf_xdp_link_create(PyObject *self, PyObject *args)
{
	(void)self;
	int prog_fd, ifindex;
	unsigned int flags;
	if (!PyArg_ParseTuple(args, "iiI", &prog_fd, &ifindex, &flags))
		return NULL;
	int fd = ws_bpf_xdp_link_create(prog_fd, ifindex, flags);
	if (fd < 0) {
		char call[128];
		snprintf(call, sizeof(call), "bpf(BPF_LINK_CREATE, BPF_XDP, ifindex=%d, flags=0x%x)",
		         ifindex, flags);
		return ws_raise(NULL, -fd, call);
	}
	return PyLong_FromLong(fd);
}

static PyObject *py_bpf_prog_test_run(PyObject *self, PyObject *args)
{
	(void)self;
	int prog_fd;
	Py_buffer data;
	unsigned int repeat = 1;
	if (!PyArg_ParseTuple(args, "iy*|I", &prog_fd, &data, &repeat))
		return NULL;
	if (data.len > 65535) {
		PyBuffer_Release(&data);
		PyErr_SetString(PyExc_ValueError, "test packet longer than 65535 bytes");
		return NULL;
	}
	/* XDP programs may grow the packet at the tail (bpf_xdp_adjust_tail);
	 * leave room so the kernel never reports ENOSPC for a legal program. */
	uint32_t out_sz = (uint32_t)data.len + 4096;
	char *out = PyMem_Malloc(out_sz);
	if (!out) {
		PyBuffer_Release(&data);
		return PyErr_NoMemory();
	}
	uint32_t retval = 0, duration = 0;
	int rc = ws_bpf_prog_test_run(prog_fd, data.buf, (uint32_t)data.len, out, &out_sz, repeat,
	                              &retval, &duration);
	PyBuffer_Release(&data);
	if (rc < 0) {
		PyMem_Free(out);
		return ws_raise(NULL, -rc, "bpf(BPF_PROG_TEST_RUN)");
	}
	PyObject *res = Py_BuildValue("Iy#I", retval, out, (Py_ssize_t)out_sz, duration);
	PyMem_Free(out);
	return res;
}

static PyObject *py_bpf_map_create(PyObject *self, PyObject *args)
{
	(void)self;
	unsigned int type, key_sz, value_sz, max_entries;
	const char *name = NULL;
	if (!PyArg_ParseTuple(args, "IIII|z", &type, &key_sz, &value_sz, &max_entries, &name))
		return NULL;
	int fd = ws_bpf_map_create(type, key_sz, value_sz, max_entries, name);
	if (fd < 0) {
		char call[160];
		snprintf(call, sizeof(call), "bpf(BPF_MAP_CREATE, type=%u, key=%u, value=%u, entries=%u)", type,
		         key_sz, value_sz, max_entries);
		return ws_raise(NULL, -fd, call);
	}
	return PyLong_FromLong(fd);
}

static PyObject *py_bpf_map_update(PyObject *self, PyObject *args)
{
	(void)self;
	int fd;
	Py_buffer key, value;
	unsigned long long flags = 0;
	if (!PyArg_ParseTuple(args, "iy*y*|K", &fd, &key, &value, &flags))
		return NULL;
	int rc = ws_bpf_map_update(fd, key.buf, value.buf, flags);
	PyBuffer_Release(&key);
	PyBuffer_Release(&value);
	if (rc < 0)
		return ws_raise(NULL, -rc, "bpf(BPF_MAP_UPDATE_ELEM)");
	Py_RETURN_NONE;
}

static PyObject *py_bpf_map_delete(PyObject *self, PyObject *args)
{
	(void)self;
	int fd;
	Py_buffer key;
	if (!PyArg_ParseTuple(args, "iy*", &fd, &key))
		return NULL;
	int rc = ws_bpf_map_delete(fd, key.buf);
	PyBuffer_Release(&key);
	if (rc < 0)
		return ws_raise(NULL, -rc, "bpf(BPF_MAP_DELETE_ELEM)");
	Py_RETURN_NONE;
}

static PyObject *py_bpf_map_lookup(PyObject *self, PyObject *args)
{
	(void)self;
	int fd;
	Py_buffer key;
	unsigned int value_sz;
	if (!PyArg_ParseTuple(args, "iy*I", &fd, &key, &value_sz))
		return NULL;
	if (value_sz > 4096) {
		PyBuffer_Release(&key);
		PyErr_SetString(PyExc_ValueError, "value_sz above 4096");
		return NULL;
	}
	char value[4096];
	int rc = ws_bpf_map_lookup(fd, key.buf, value);
	PyBuffer_Release(&key);
	if (rc == -ENOENT)
		Py_RETURN_NONE;
	if (rc < 0)
		return ws_raise(NULL, -rc, "bpf(BPF_MAP_LOOKUP_ELEM)");
	return PyBytes_FromStringAndSize(value, value_sz);
}

PyMethodDef ws_py_xdp_methods[] = {
	{"bpf_prog_load", (PyCFunction)(void (*)(void))py_bpf_prog_load, METH_VARARGS | METH_KEYWORDS,
	 "bpf_prog_load(prog_type, insns, license='GPL', expected_attach_type=0, log_level=0) -> fd\n"
	 "Load eBPF instructions; on failure raise BpfError with .verifier_log when log_level > 0."},
	{"bpf_xdp_link_create", py_bpf_xdp_link_create, METH_VARARGS,
	 "bpf_xdp_link_create(prog_fd, ifindex, xdp_flags) -> link fd (close it to detach)."},
	{"bpf_prog_test_run", py_bpf_prog_test_run, METH_VARARGS,
	 "bpf_prog_test_run(prog_fd, packet, repeat=1) -> (retval, packet_out, duration_ns)."},
	{"bpf_map_create", py_bpf_map_create, METH_VARARGS,
	 "bpf_map_create(type, key_size, value_size, max_entries, name=None) -> map fd"},
	{"bpf_map_update", py_bpf_map_update, METH_VARARGS,
	 "bpf_map_update(fd, key, value, flags=0) -> None"},
	{"bpf_map_delete", py_bpf_map_delete, METH_VARARGS, "bpf_map_delete(fd, key) -> None"},
	{"bpf_map_lookup", py_bpf_map_lookup, METH_VARARGS,
	 "bpf_map_lookup(fd, key, value_size) -> bytes, or None if absent"},
	{NULL, NULL, 0, NULL},
};
