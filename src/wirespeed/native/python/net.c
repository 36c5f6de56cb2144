/* python/net.c - the frame header checks of net/frame.h, for replay
 * (wirespeed/transports/pcap.py) and tests. Buffers are borrowed for the
 * call only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>

#include "net/frame.h"
#include "python/module.h"

/* frame_check(frame) -> (verdict, payload_off, payload_len, daddr, dport):
 * the header checks the af_xdp receive loop applies, for replay and tests.
 * daddr: 4 bytes (network order) or b"" without an IPv4 header; dport: host
 * order, 0 when the UDP header cannot be read. */
static PyObject *py_frame_check(PyObject *self, PyObject *args)
{
	(void)self;
	Py_buffer f;
	if (!PyArg_ParseTuple(args, "y*", &f))
		return NULL;
	ws_udp4_view_t v;
	uint32_t len = f.len > UINT32_MAX ? UINT32_MAX : (uint32_t)f.len;
	enum ws_frame_verdict vd = ws_frame_check(f.buf, len, &v);
	int has_ip = len >= 34 && vd != WS_FRAME_NOT_IPV4;
	PyBuffer_Release(&f);
	return Py_BuildValue("sIIy#I", ws_frame_verdict_names[vd], v.payload_off, v.payload_len, (const char *)&v.daddr,
	                     (Py_ssize_t)(has_ip ? 4 : 0), (unsigned int)ntohs(v.dport));
}

PyMethodDef ws_py_net_methods[] = {
	{"frame_check", py_frame_check, METH_VARARGS,
	 "frame_check(frame) -> (verdict, payload_off, payload_len, daddr, dport); verdict 'ok' or why not"},
	{NULL, NULL, 0, NULL},
};
