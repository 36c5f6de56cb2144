/* transports/tcp_xsk.h - one TCP client connection in user space, over AF_XDP.
 *
 * What it is for: the order session's byte stream without the kernel's
 * TCP (the way Onload and TCPDirect take one connection from the kernel).
 * One AF_XDP socket (transports/xsk.h) on one interface queue, receiving
 * the connection's segments (the XDP program of the af_xdp transport
 * steers its 4-tuple there: a map entry made at connect, removed at close;
 * xdp/programs.py) and sending its own. Everything else the kernel keeps:
 * ARP (the next hop's MAC is the caller's, from the kernel's neighbour
 * table), other TCP, the feeds.
 *
 * The TCP, for one low-rate connection: SYN with MSS, SACK-permitted and window scale
 * (no timestamps; we never act on the peer's SACK blocks: our own losses are
 * recovered by cumulative ACKs, NewReno style), in-order data both ways, an ACK for every
 * segment with data (no delayed ACK: an order session wants its peer's
 * retransmit timer never to guess), out-of-order segments held in the
 * receive buffer where they belong (up to four ranges past a hole,
 * reported to the peer as SACK blocks, RFC 2018, so its recovery resends
 * only what is missing; a fifth is dropped, counted), retransmission on an RTO estimated per RFC 6298
 * (Karn's rule: retransmitted segments are not timed; RTO floor 200 ms as
 * Linux, not RFC 6298's 1 s; doubled per expiry up to 60 s), fast
 * retransmit on the third duplicate ACK, the peer's window respected (a
 * zero window is probed on the RTO's clock), a congestion window of RFC
 * 5681's slow start and halving (an order session never fills it), FIN
 * and RST both ways, no keepalive. No listening, no second connection, no
 * urgent data, no IP options or fragments (refused at open or counted and
 * dropped on receipt).
 *
 * Frames: the UMEM's first half is for receiving (all in the fill ring),
 * the second for sending. Or, on an interface whose queue a capture of the
 * same process holds (the kernel allows one UMEM per queue), the
 * capture's: a second socket bound with XDP_SHARED_UMEM, receiving into the
 * capture's fill ring's frames and giving each back through the capture's
 * returns ring (the capture's loop refills with it), sending from the
 * frames the capture reserved (ws_xsk_open). Every send frame is armed at connect with the
 * connection's Ethernet/IPv4/TCP headers and both checksums' constant
 * parts summed (addresses, ports, protocol); a segment then patches the
 * IPv4 length, its sequence and acknowledgement numbers, flags and window,
 * adds those and the payload to the sums, and pushes one descriptor
 * (kicking only when the kernel asks: XDP_RING_NEED_WAKEUP). A segment's
 * bytes stay in the send buffer until acknowledged; a retransmission is a
 * new frame built from them. Nothing is allocated after open.
 *
 * Ownership: a ws_tcp_xsk_t owns its socket, UMEM, buffers and the kernel
 * socket that reserves its local port (bound, never connected: the kernel
 * gives no other connection that port while the user-space one lives); the
 * steering map belongs to the caller, who passes its fd and the XSKMAP
 * index the XDP program redirects to.
 * Threads: one thread at a time (the order session's lock); stats may be
 * read by others (approximate).
 * Invariants: snd_una <= snd_nxt (mod 2^32); the send buffer holds exactly
 * the bytes from snd_una that the user gave and the peer has not acked;
 * rcv_nxt only advances by bytes copied into the receive buffer.
 */
#ifndef WS_TCP_XSK_H
#define WS_TCP_XSK_H

#include <stdint.h>

#include "transports/xsk.h"

enum ws_tcp_state {
	WS_TCP_CLOSED = 0, WS_TCP_SYN_SENT, WS_TCP_ESTABLISHED, WS_TCP_FIN_WAIT_1, WS_TCP_FIN_WAIT_2,
	WS_TCP_CLOSING, WS_TCP_TIME_WAIT, WS_TCP_CLOSE_WAIT, WS_TCP_LAST_ACK, WS_TCP_STATES
};
extern const char *const ws_tcp_state_names[WS_TCP_STATES];

/* Why a connection ended (ws_tcp_xsk_t.end). */
enum ws_tcp_end {
	WS_TCP_END_NONE = 0, WS_TCP_END_CLOSED,  /* both FINs exchanged */
	WS_TCP_END_RESET,                         /* the peer reset it */
	WS_TCP_END_REFUSED,                       /* RST to our SYN */
	WS_TCP_END_TIMEOUT,                       /* retransmissions gave up (WS_TCP_MAX_RETRIES) */
	WS_TCP_END_ABORTED,                       /* we reset it (ws_tcp_xsk_abort) */
	WS_TCP_ENDS
};
extern const char *const ws_tcp_end_names[WS_TCP_ENDS];

#define WS_TCP_MAX_RETRIES 8 /* RTO expiries in a row before the connection is given up (~ 51 s from 200 ms) */

typedef struct {
	int ifindex;
	uint32_t queue;
	uint8_t smac[6], dmac[6];    /* ours; the next hop's (the caller resolves it) */
	uint32_t saddr, daddr;       /* network order */
	uint16_t dport;              /* network order; the local port is reserved from the kernel at connect */
	uint32_t frames;             /* UMEM frames of 2048 bytes, half to receive, half to send (0: 512) */
	int zerocopy;                /* as ws_xsk_open */
	uint32_t rx_drop_ppm;        /* fault injection for tests: drop this share of received frames (counted) */
	uint32_t rx_reorder_ppm;     /* ... hold this share of received frames back until after the next */
	uint32_t tx_reorder_ppm;     /* ... send this share of data segments after the next frame */
	int tcp_map_fd;              /* the steering map (programs.tcp_key -> index); -1: the caller steers */
	uint32_t xsk_index;          /* this socket's XSKMAP index, the map entry's value */
	int xsks_map_fd;             /* the XSKMAP to put the socket in at open (-1: the caller does) */
	ws_xsk_t *share;             /* a capture's socket on this queue (opened with a reserve) to share, or
	                              * NULL: a UMEM of our own (frames, zerocopy then unused) */
} ws_tcp_xsk_cfg_t;

typedef struct {
	uint64_t segs_out, segs_in, bytes_out, bytes_in; /* data bytes, first transmissions / in order */
	uint64_t retransmits;        /* segments sent again (RTO, fast retransmit, probe) */
	uint64_t rto_expiries, fast_retransmits;
	uint64_t dup_acks_in;        /* duplicate ACKs received */
	uint64_t dup_acks_out;       /* ACKs we sent for an out-of-order or old segment */
	uint64_t out_of_order;       /* segments past rcv_nxt: held (and SACKed) while they fit */
	uint64_t ooo_dropped;        /* ... dropped: a fifth range past the hole (the peer sends them again) */
	uint64_t old_segments;       /* segments wholly before rcv_nxt (already had: retransmitted by the peer) */
	uint64_t zero_window_waits;  /* times the peer's window closed with data waiting */
	uint64_t zero_window_probes;
	uint64_t rcv_window_full;    /* bytes a segment carried past our window, dropped */
	uint64_t bad_csum, malformed, foreign; /* received frames dropped: checksum, headers, not our 4-tuple */
	uint64_t csum_partial;       /* received with the checksum a veth peer's offload left partial (accepted) */
	uint64_t injected_drops;     /* rx_drop_ppm's */
	uint64_t injected_reorders;  /* rx_reorder_ppm's and tx_reorder_ppm's */
	uint64_t no_frame;           /* segments not sent for want of a send frame (retried by the timer) */
	uint64_t kicks, kick_errors;
	uint64_t resets_in, resets_out;
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t snd_wnd, cwnd, mss; /* the peer's window (scaled), ours, the segment size agreed */
	uint8_t snd_wscale, rcv_wscale;
} ws_tcp_xsk_stats_t;

typedef struct ws_tcp_xsk ws_tcp_xsk_t;

/* ws_tcp_xsk_open: the socket and UMEM, with nothing connected. NULL with
 * *err (-errno) and *failed (the xsk step) on failure. */
ws_tcp_xsk_t *ws_tcp_xsk_open(const ws_tcp_xsk_cfg_t *cfg, int *err, enum ws_xsk_step *failed);
void ws_tcp_xsk_delete(ws_tcp_xsk_t *t);

/* ws_tcp_xsk_connect: a new connection (the old one, if any, forgotten:
 * ws_tcp_xsk_abort first to tell the peer). Reserves a local port, adds the
 * steering entry, sends a SYN. 0 or -errno. */
int ws_tcp_xsk_connect(ws_tcp_xsk_t *t, uint64_t now_ns);

/* ws_tcp_xsk_poll: takes what arrived, answers it, runs the timers
 * (retransmission, probes) due at now_ns (CLOCK_MONOTONIC). Never blocks. */
void ws_tcp_xsk_poll(ws_tcp_xsk_t *t, uint64_t now_ns);

/* ws_tcp_xsk_send: n bytes to the stream; sent at once as far as the
 * windows allow, the rest as ACKs open them. Returns n, or -EAGAIN if the
 * send buffer has no room for all n (nothing taken), -ENOTCONN if the
 * connection cannot carry data (not established, or closing). */
int ws_tcp_xsk_send(ws_tcp_xsk_t *t, const uint8_t *p, uint32_t n, uint64_t now_ns);

/* ws_tcp_xsk_probe: the bare transmit under ws_tcp_xsk_send, for the
 * benchmark's floor: n bytes (one segment) straight into a frame and out,
 * without the send path's queueing and window loop. The connection stays
 * whole (the bytes are kept for a retransmission). Only with nothing
 * unsent and room in every window (-EAGAIN otherwise); -ENOTCONN. */
int ws_tcp_xsk_probe(ws_tcp_xsk_t *t, const uint8_t *p, uint32_t n, uint64_t now_ns);

/* ws_tcp_xsk_recv: up to cap bytes received in order. Returns the count,
 * 0 at the peer's FIN with nothing left, -EAGAIN if none yet, -ECONNRESET
 * / -ETIMEDOUT / -ECONNREFUSED when the connection ended so. */
int ws_tcp_xsk_recv(ws_tcp_xsk_t *t, uint8_t *buf, uint32_t cap, uint64_t now_ns);

/* ws_tcp_xsk_close: FIN after what is buffered (ours to say no more). */
void ws_tcp_xsk_close(ws_tcp_xsk_t *t, uint64_t now_ns);
/* ws_tcp_xsk_abort: RST now, connection forgotten, steering entry removed. */
void ws_tcp_xsk_abort(ws_tcp_xsk_t *t, uint64_t now_ns);
/* ws_tcp_xsk_release: forget the connection without a word (the steering
 * entry and the reserved port go). */
void ws_tcp_xsk_release(ws_tcp_xsk_t *t);

enum ws_tcp_state ws_tcp_xsk_state(const ws_tcp_xsk_t *t);
enum ws_tcp_end ws_tcp_xsk_end(const ws_tcp_xsk_t *t);
uint32_t ws_tcp_xsk_unacked(const ws_tcp_xsk_t *t); /* bytes sent or queued and not yet acknowledged */
int ws_tcp_xsk_fd(const ws_tcp_xsk_t *t);            /* the XSK, to poll() for POLLIN */
uint16_t ws_tcp_xsk_local_port(const ws_tcp_xsk_t *t); /* host order; 0 when not connected */
const ws_tcp_xsk_stats_t *ws_tcp_xsk_stats(const ws_tcp_xsk_t *t);
const ws_xsk_t *ws_tcp_xsk_socket(const ws_tcp_xsk_t *t);

#endif /* WS_TCP_XSK_H */
