/* python/formats.h - what python/formats.c lends python/products.c: the
 * reader inside a PcapSource.
 *
 * Memory: the mapping belongs to the PcapSource; a user sets busy while it
 * reads without the GIL, and close() refuses meanwhile. Threads: the GIL,
 * or busy set by its holder.
 */
#ifndef WS_PY_FORMATS_H
#define WS_PY_FORMATS_H

#include <Python.h>

#include "formats/pcapread.h"

typedef struct {
	PyObject_HEAD
	void *map;
	size_t len;
	int ready, busy;
	ws_pcap_reader_t rd;
	uint64_t clock[2]; /* products/export.h's ws_export_clock_t, kept between pumps */
} PcapSourceObject;

extern PyTypeObject PcapSourceType;

#endif
