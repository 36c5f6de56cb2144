/* python/transports.h - what python/transports.c lends the other bindings
 * (python/bench.c): the pre-armed AF_XDP sender behind a UdpTx object.
 *
 * Memory: the pointer lives inside the object; the caller keeps its
 * reference while it uses it. Threads: call with the GIL held; the sender
 * may then be used without it by one thread (the object's own methods are
 * not called meanwhile: the caller's contract, as with any UdpTx).
 */
#ifndef WS_PY_TRANSPORTS_H
#define WS_PY_TRANSPORTS_H

#include <Python.h>

#include "transports/tx_xsk.h"

/* The sender behind a UdpTx, or NULL (no exception set) if o is not an open one. */
ws_udp_tx_t *ws_py_udp_tx(PyObject *o);

#endif
