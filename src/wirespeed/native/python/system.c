/* python/system.c - kernel glue for wirespeed/system: the SIOCETHTOOL
 * ioctl (system/ethtool.h) and setns (system/netns.h). Buffers are borrowed
 * for the call only; setns moves the calling thread alone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "python/module.h"
#include "system/ethtool.h"
#include "system/netns.h"

static PyObject *py_ethtool(PyObject *self, PyObject *args)
{
	(void)self;
	const char *ifname;
	Py_buffer buf;
	if (!PyArg_ParseTuple(args, "sw*", &ifname, &buf))
		return NULL;
	if (buf.len < 4) {
		PyBuffer_Release(&buf);
		PyErr_SetString(PyExc_ValueError, "ethtool buffer must start with a 4-byte command");
		return NULL;
	}
	uint32_t cmd;
	memcpy(&cmd, buf.buf, sizeof(cmd));
	int rc = ws_ethtool(ifname, buf.buf);
	PyBuffer_Release(&buf);
	if (rc < 0) {
		char call[96];
		snprintf(call, sizeof(call), "ioctl(SIOCETHTOOL, cmd=0x%x, %.16s)", cmd, ifname);
		return ws_raise(NULL, -rc, call);
	}
	Py_RETURN_NONE;
}

/* hwtstamp(ifname, buf, set): SIOCGHWTSTAMP (set false) or SIOCSHWTSTAMP into a
 * 12-byte struct hwtstamp_config the caller packed. */
static PyObject *py_hwtstamp(PyObject *self, PyObject *args)
{
	(void)self;
	const char *ifname;
	Py_buffer buf;
	int set;
	if (!PyArg_ParseTuple(args, "sw*p", &ifname, &buf, &set))
		return NULL;
	if (buf.len < 12) {
		PyBuffer_Release(&buf);
		PyErr_SetString(PyExc_ValueError, "hwtstamp buffer must hold a 12-byte struct hwtstamp_config");
		return NULL;
	}
	int rc = ws_hwtstamp(ifname, set, buf.buf);
	PyBuffer_Release(&buf);
	if (rc < 0) {
		char call[64];
		snprintf(call, sizeof(call), "ioctl(%s, %.16s)", set ? "SIOCSHWTSTAMP" : "SIOCGHWTSTAMP", ifname);
		return ws_raise(NULL, -rc, call);
	}
	Py_RETURN_NONE;
}

static PyObject *py_setns(PyObject *self, PyObject *args)
{
	(void)self;
	int fd, nstype;
	if (!PyArg_ParseTuple(args, "ii", &fd, &nstype))
		return NULL;
	int rc = ws_setns(fd, nstype);
	if (rc < 0)
		return ws_raise(NULL, -rc, "setns()");
	Py_RETURN_NONE;
}

PyMethodDef ws_py_system_methods[] = {
	{"ethtool", py_ethtool, METH_VARARGS,
	 "ethtool(ifname, buf) -> None; SIOCETHTOOL with ifr_data = buf (writable, command first)."},
	{"hwtstamp", py_hwtstamp, METH_VARARGS,
	 "hwtstamp(ifname, buf, set) -> None; SIOCGHWTSTAMP/SIOCSHWTSTAMP on a struct hwtstamp_config."},
	{"setns", py_setns, METH_VARARGS,
	 "setns(fd, nstype) -> None; moves the calling thread only."},
	{NULL, NULL, 0, NULL},
};
