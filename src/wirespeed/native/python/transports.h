/* python/transports.h - what python/transports.c lends the other bindings:
 * the pre-armed AF_XDP sender behind a UdpTx object (python/bench.c), and
 * the user-space TCP connection behind a TcpXsk (python/orders.c).
 *
 * Memory: the pointer lives inside the object; the caller keeps its
 * reference while it uses it. Threads: call with the GIL held; the sender
 * may then be used without it by one thread (the object's own methods are
 * not called meanwhile: the caller's contract, as with any UdpTx).
 */
#ifndef WS_PY_TRANSPORTS_H
#define WS_PY_TRANSPORTS_H

#include <Python.h>

#include "transports/tcp_xsk.h"
#include "transports/tx_xsk.h"

/* The sender behind a UdpTx, or NULL (no exception set) if o is not an open one. */
ws_udp_tx_t *ws_py_udp_tx(PyObject *o);

/* The capture's socket on `queue` of an XskRx, to share (opened with a
 * reserve), counted so the XskRx will not close it meanwhile; NULL if none.
 * ws_py_xsk_rx_unshare ends it. */
ws_xsk_t *ws_py_xsk_rx_share(PyObject *o, uint32_t queue);
void ws_py_xsk_rx_unshare(PyObject *o);

/* The connection behind a TcpXsk, marked lent (its own driving methods then
 * refuse), or NULL (no exception set) if o is not an open, unlent one.
 * ws_py_tcp_xsk_return ends the loan; the borrower keeps a reference. */
ws_tcp_xsk_t *ws_py_tcp_xsk_lend(PyObject *o);
void ws_py_tcp_xsk_return(PyObject *o);

#endif
