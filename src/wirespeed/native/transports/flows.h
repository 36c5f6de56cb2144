/* transports/flows.h - the capture's feed table, (group, port) -> stream, as
 * the receive loops that filter in software read it (rx_xsk.c checks what the
 * XDP program let through; dpdk.c sees the whole port).
 *
 * Threads: one loop reads while the control thread adds or deactivates
 * entries. An entry's fields are written before `n` is raised (release) and
 * `active` is an atomic the loop reads relaxed, so the loop never sees half an
 * entry. Entries are never removed, only deactivated, so `n` only grows.
 * Memory: the table is the caller's (inside its binding object).
 */
#ifndef WS_FLOWS_H
#define WS_FLOWS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#define WS_MAX_FLOWS 64

typedef struct {
	uint32_t group;  /* network order */
	uint16_t port;   /* network order */
	uint16_t stream;
	_Atomic int active;
} ws_flow_t;

typedef struct {
	ws_flow_t flows[WS_MAX_FLOWS];
	_Atomic uint32_t n;
} ws_flows_t;

/* ws_flows_stream finds the stream of a frame to (daddr, dport); a frame
 * with no UDP header (dport 0) is attributed by group alone. 0: no flow. */
static inline uint16_t ws_flows_stream(const ws_flows_t *fl, uint32_t daddr, uint16_t dport)
{
	uint32_t n = atomic_load_explicit(&fl->n, memory_order_acquire);
	for (uint32_t i = 0; i < n; i++) {
		const ws_flow_t *f = &fl->flows[i];
		if (f->group == daddr && (f->port == dport || !dport) &&
		    atomic_load_explicit(&f->active, memory_order_relaxed))
			return f->stream;
	}
	return 0;
}

/* ws_flows_add adds (or re-activates) group:port -> stream (network order;
 * control thread). Returns 0, or -ENOSPC when the table is full. */
static inline int ws_flows_add(ws_flows_t *fl, uint32_t group, uint16_t port, uint16_t stream)
{
	uint32_t n = atomic_load_explicit(&fl->n, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		ws_flow_t *f = &fl->flows[i];
		if (f->group == group && f->port == port) {
			f->stream = stream; /* re-adding a removed flow: the loop skips it until active */
			atomic_store(&f->active, 1);
			return 0;
		}
	}
	if (n >= WS_MAX_FLOWS)
		return -ENOSPC;
	ws_flow_t *f = &fl->flows[n];
	f->group = group;
	f->port = port;
	f->stream = stream;
	atomic_store(&f->active, 1);
	atomic_store_explicit(&fl->n, n + 1, memory_order_release);
	return 0;
}

/* ws_flows_remove deactivates group:port (control thread). */
static inline void ws_flows_remove(ws_flows_t *fl, uint32_t group, uint16_t port)
{
	uint32_t n = atomic_load_explicit(&fl->n, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (fl->flows[i].group == group && fl->flows[i].port == port)
			atomic_store(&fl->flows[i].active, 0);
}

#endif /* WS_FLOWS_H */
