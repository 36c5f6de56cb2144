/* python/book.h - what python/book.c lends the other bindings
 * (python/orders.c, python/trade.c): the router, books and books' mutex
 * behind a FeedRouter object.
 *
 * Memory: the pointers live inside the Python objects; a holder keeps its
 * reference to the FeedRouter until it drops it. Threads: call with the GIL
 * held. While held, the FeedRouter (and its BookEngine) refuse to be
 * re-initialised; the books may be used without the GIL under the mutex.
 */
#ifndef WS_PY_BOOK_H
#define WS_PY_BOOK_H

#include <Python.h>
#include <pthread.h>

#include "book/book.h"
#include "book/route.h"

/* 0 with the three set, or -1 with an exception (not a FeedRouter, not initialised). */
int ws_py_router_hold(PyObject *o, ws_route_t **route, ws_books_t **books, pthread_mutex_t **lock);
void ws_py_router_drop(PyObject *o);

#endif
