/* python/orders.h - what python/orders.c lends python/trade.c: the order
 * session behind an OrderSession object, and its mutex.
 *
 * Memory: the pointers live inside the object; the holder keeps its
 * reference until it drops it. Threads: call with the GIL held; the session
 * may be used without it under the mutex (after the books' mutex, if both).
 */
#ifndef WS_PY_ORDERS_H
#define WS_PY_ORDERS_H

#include <Python.h>
#include <pthread.h>

#include "orders/session.h"

extern PyTypeObject SessionType;

/* The session, or NULL with an exception (not an OrderSession, it reads
 * other books, or it is lent already). While held, use_books() refuses,
 * and every call on the session takes books_lock (the holder's books,
 * which its collar reads from now on) before the session's mutex. */
ws_session_t *ws_py_session_hold(PyObject *o, pthread_mutex_t *books_lock, pthread_mutex_t **lock);
void ws_py_session_drop(PyObject *o);

#endif
