/* python/module.h - what the binding files share, and what each one adds
 * to wirespeed._native.
 *
 * What it is for: the bindings are split like the engines they wrap, one
 * file per folder of native/ (python/ring.c binds ring/, python/xdp.c binds
 * xdp/, ...), so the C behind a Python module is found by its name. Each
 * file exports its module-level functions as a method table and its types;
 * module.c gathers them into the module and owns the exception objects.
 *
 * Memory: nothing here is allocated per call; the exception objects live
 * as long as the module. Threads: everything here needs the GIL.
 */
#ifndef WS_PY_MODULE_H
#define WS_PY_MODULE_H

#include <Python.h>

/* OSError subclass carrying .verifier_log (python/xdp.c raises it). */
extern PyObject *ws_BpfError;
/* A ring refused or found corrupt: RingError(message, code, path). */
extern PyObject *ws_RingError;

/* ws_raise sets OSError(errno, "<call>: <strerror>") of the errno's own
 * subclass (PermissionError, ...), or of type when type is not NULL, so a
 * traceback names the syscall and its arguments. Returns NULL. */
PyObject *ws_raise(PyObject *type, int err, const char *call);

/* Module-level functions, a table per binding file. */
extern PyMethodDef ws_py_bench_methods[];      /* python/bench.c: tsc, pin_cpu, bench_* */
extern PyMethodDef ws_py_feed_methods[];       /* python/feed.c: itch_decode */
extern PyMethodDef ws_py_formats_methods[];    /* python/formats.c: pcapng_epbs */
extern PyMethodDef ws_py_net_methods[];        /* python/net.c: frame_check */
extern PyMethodDef ws_py_orders_methods[];     /* python/orders.c: ouch_*, soup_* */
extern PyMethodDef ws_py_products_methods[];   /* python/products.c: mbo_pump */
extern PyMethodDef ws_py_ring_methods[];       /* python/ring.c: ring_create */
extern PyMethodDef ws_py_system_methods[];     /* python/system.c: ethtool, setns */
extern PyMethodDef ws_py_trade_methods[];      /* python/trade.c: strategies */
extern PyMethodDef ws_py_transports_methods[]; /* python/transports.c: xsk_probe */
extern PyMethodDef ws_py_xdp_methods[];        /* python/xdp.c: bpf_* */

/* Types, by the file that defines them. */
extern PyTypeObject RingWriterType, RingReaderType; /* python/ring.c */
extern PyTypeObject KernelRxType, XskRxType, UdpTxType, TcpXskType; /* python/transports.c */
extern PyTypeObject BookType, FeedType, RouterType; /* python/book.c */
extern PyTypeObject SimType, MatchType;             /* python/exchange.c */
extern PyTypeObject SessionType;                    /* python/orders.c */
extern PyTypeObject TraderType;                     /* python/trade.c */
extern PyTypeObject PcapSourceType;                 /* python/formats.c */
extern PyTypeObject GridType, ParquetWriterType;    /* python/products.c */

#endif /* WS_PY_MODULE_H */
