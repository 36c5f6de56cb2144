/* formats/pcapng.h - enhanced packet blocks for a whole batch of ring records.
 *
 * What it is for: the recorder (wirespeed/capture/record.py) writes every record
 * of the ring to pcapng. Building one block per packet in Python cost
 * ~7 us a packet (a quarter of what the disk takes); here a batch becomes
 * one buffer, written with one write().
 *
 * Layout (pcapng spec, section 4.3), little-endian:
 *   u32 type=6 | u32 total | u32 iface | u32 ts_hi | u32 ts_lo |
 *   u32 caplen | u32 origlen | data, zero-padded to 4 | u32 total
 * Timestamps are in the interface's units: wirespeed's IDBs say
 * if_tsresol = 9, so ts is the record's ts_ns as is.
 *
 * Ownership: caller buffers only. Threads: pure functions.
 */
#ifndef WS_PCAPNG_H
#define WS_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h"

/* ws_pcapng_epb_size is the bytes ws_pcapng_epbs writes for n records. */
size_t ws_pcapng_epb_size(const ws_ring_rec_t *recs, size_t n);

/* ws_pcapng_epbs writes the EPBs of recs[0..n) to out (of at least
 * ws_pcapng_epb_size bytes). Record i's bytes are payload[off, off+len),
 * which the caller has bounds-checked against payload_sz; iface[i] is its
 * interface id. Returns the bytes written, or 0 if a record lies outside
 * the payload (nothing useful is written then). */
size_t ws_pcapng_epbs(uint8_t *out, const ws_ring_rec_t *recs, size_t n, const uint8_t *payload,
                      size_t payload_sz, const uint32_t *iface);

#endif /* WS_PCAPNG_H */
