/* python/ring.h - what python/ring.c lends the other bindings
 * (python/transports.c, python/book.c): the native ring behind a RingWriter
 * or RingReader object, and the exception for a ring error.
 *
 * Memory: the returned pointers live inside the Python objects; callers keep
 * their reference to the object for as long as they use the pointer.
 * Threads: call with the GIL held. A reader handed out by
 * ws_py_ring_reader_hold may be used without the GIL until
 * ws_py_ring_reader_drop; meanwhile the RingReader refuses every other call,
 * close() included.
 */
#ifndef WS_PY_RING_H
#define WS_PY_RING_H

#include <Python.h>

#include "ring/ring.h"

/* The joined writer behind a RingWriter, or NULL with an exception set. */
ws_ring_writer_t *ws_py_ring_writer(PyObject *o);

/* The joined reader behind a RingReader, held for use without the GIL, or
 * NULL with an exception set (not a RingReader, closed, or in use). */
ws_ring_reader_t *ws_py_ring_reader_hold(PyObject *o);
void ws_py_ring_reader_drop(PyObject *o);

/* RingError for a ring error, OSError naming the syscall for WS_RING_ESYS
 * (se may be NULL; path names the ring when known). Returns NULL. */
PyObject *ws_ring_raise(int rc, const ws_ring_syserr_t *se, const char *path);

#endif
