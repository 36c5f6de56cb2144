/* python/ring.h - what python/ring.c lends the other bindings
 * (python/transports.c, python/book.c): the native ring behind a RingWriter
 * or RingReader object, and the exception for a ring error.
 *
 * Memory: the returned pointers live inside the Python objects; callers keep
 * their reference to the object for as long as they use the pointer.
 * Threads: call with the GIL held. A writer or reader handed out by a
 * ws_py_ring_*_hold may be used without the GIL until the matching _drop;
 * meanwhile its object refuses close() and the calls that would race it.
 */
#ifndef WS_PY_RING_H
#define WS_PY_RING_H

#include <Python.h>

#include "ring/ring.h"

/* The joined writer behind a RingWriter, held for a loop that writes
 * without the GIL, or NULL with an exception set (not a RingWriter, closed,
 * or already held). Until ws_py_ring_writer_drop the RingWriter refuses
 * close() and publishing; counting drops and heartbeats stay allowed. The
 * caller keeps its reference to the object while it holds the writer. */
ws_ring_writer_t *ws_py_ring_writer_hold(PyObject *o);
void ws_py_ring_writer_drop(PyObject *o);

/* The writer half of this API as a capsule, wirespeed._native._ring_api,
 * for extensions built apart (wirespeed._dpdk): they compile ring/ring.c
 * themselves and take the writer from here, so a RingWriter made by
 * _native can be written by their loops. `version` changes with the struct. */
#define WS_PY_RING_API "wirespeed._native._ring_api"
typedef struct {
	int version;
	size_t writer_size; /* sizeof(ws_ring_writer_t) as _native was built: a mismatch is refused */
	ws_ring_writer_t *(*writer_hold)(PyObject *o);
	void (*writer_drop)(PyObject *o);
} ws_py_ring_api_t;
#define WS_PY_RING_API_VERSION 1

/* The joined reader behind a RingReader, held for use without the GIL, or
 * NULL with an exception set (not a RingReader, closed, or in use). */
ws_ring_reader_t *ws_py_ring_reader_hold(PyObject *o);
void ws_py_ring_reader_drop(PyObject *o);

/* RingError for a ring error, OSError naming the syscall for WS_RING_ESYS
 * (se may be NULL; path names the ring when known). Returns NULL. */
PyObject *ws_ring_raise(int rc, const ws_ring_syserr_t *se, const char *path);

#endif
