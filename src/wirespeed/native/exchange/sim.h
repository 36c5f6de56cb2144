/* exchange/sim.h - an exchange in a box: NASDAQ TotalView-ITCH 5.0 over MoldUDP64.
 *
 * What it is for: `wirespeed sim` sends a realistic, deterministic (seeded)
 * feed: a session start (S, R per symbol), order flow in the proportions a
 * real venue shows (see ORDER FLOW below), and an end of session. Every
 * message's ITCH timestamp is the time its packet was built, right before it
 * is sent (ns since midnight UTC, CLOCK_REALTIME), so a receiver on the same
 * host measures one-way latency from the message itself.
 *
 * ORDER FLOW (per PROTOCOLS.md, NASDAQ 12/30/2019: adds ~44 %, deletes ~43 %,
 * replaces ~8 %, executions and partial cancels ~3 %, the rest ~2 %).
 * The flow goes through the matching engine (exchange/match.h), whose
 * events become the feed's messages, so the stream is always a valid book:
 * deletes, cancels, executions and replaces only name live orders; cancels
 * and partial executions leave positive size; the simulator's buys rest
 * below the symbol's mid and its sells above it, so it never crosses
 * itself. When a symbol has none of its orders a removal becomes an add;
 * when it has order_cap of them an add becomes a delete. The mix actually
 * sent is counted per type (ws_sim_stats_t.by_type).
 *
 * ORDER ENTRY: with an order port (ws_sim_run_cfg_t.port, exchange/port.h)
 * clients' orders enter the same books: they trade with the simulator's
 * orders and each other, rest, and leave, and the feed publishes it all
 * (an order a client rests is an A, or F with its firm, whose reference is
 * the one its OUCH Accepted gave; a trade with a resting order is an E on
 * that order with the match number of both OUCH Executed). What clients'
 * orders do is published at once, whatever the pacing.
 *
 * Ownership: ws_sim_new allocates everything (the books, the history of
 * sent messages for retransmission, the outbox of messages waiting for a
 * packet, which grows by doubling); ws_sim_delete frees it. Sockets given
 * to ws_sim_run are the caller's; the run never closes them.
 *
 * Threads: one thread runs a sim. ws_sim_stop may be called from any thread
 * (it sets an atomic flag); stats may be read while it runs (approximate).
 */
#ifndef WS_SIM_H
#define WS_SIM_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>

#include "exchange/match.h"
#include "exchange/port.h"
#include "transports/tx_xsk.h"

#define WS_SIM_MAX_LINES 4
#define WS_SIM_MAX_RANGES 16

typedef struct {
	uint32_t n_symbols;     /* 1..65535 */
	uint32_t symbol_base;   /* this feed's first symbol is S<base+1>, locate base+1 (feeds split the symbols) */
	uint64_t seed;
	char session[10];       /* space-padded */
	uint32_t max_payload;   /* UDP payload cap, bytes (MoldUDP64 header included); <= 9000 */
	uint64_t total_msgs;    /* order-flow messages before the end of session; 0 = until stopped */
	uint32_t order_cap;     /* live orders per symbol (default 1024) */
	uint32_t history_lg;    /* retransmission history: 2^history_lg messages (default 20) */
} ws_sim_cfg_t;

typedef struct ws_sim ws_sim_t;

/* What a sequence range does to the packets that carry its messages. */
enum ws_sim_fault { WS_FAULT_DROP = 0, WS_FAULT_DUP = 1, WS_FAULT_REORDER = 2, WS_FAULT_DELAY = 3 };

/* Fault injection for one line: probabilities in parts per million, and
 * sequence ranges (inclusive message seqs) whose packets are always dropped,
 * duplicated, reordered or delayed. */
typedef struct {
	uint32_t drop_ppm, dup_ppm, reorder_ppm, delay_ppm;
	uint32_t delay_us;
	uint32_t n_ranges;
	uint64_t range_lo[WS_SIM_MAX_RANGES], range_hi[WS_SIM_MAX_RANGES];
	uint8_t range_kind[WS_SIM_MAX_RANGES]; /* enum ws_sim_fault */
} ws_sim_faults_t;

typedef struct {
	int fd;                        /* UDP socket (IP_MULTICAST_IF/TTL set), or a bound AF_PACKET socket */
	struct sockaddr_in dst;        /* group:port */
	ws_sim_faults_t faults;
	/* raw mode: the sim writes Ethernet/IPv4/UDP itself and sends whole frames
	 * through an AF_PACKET socket bound to the interface, skipping the
	 * kernel's UDP/IP output path (multicast destinations only). Headers as
	 * Linux writes them (DF set, IP ID 0, checksums computed): the same bytes
	 * as wirespeed/net/frames.py, so --to-pcapng matches what is sent. */
	int raw;
	uint8_t src_mac[6];
	uint32_t src_ip;               /* network order */
	uint16_t sport;                /* host order */
	uint8_t ttl;
	/* af_xdp mode: datagrams go out as pre-armed frames of this AF_XDP sender
	 * (transports/tx_xsk.h, armed for the line's flow; the caller's, open for
	 * the run), not through fd: no socket path, one descriptor each */
	ws_udp_tx_t *xsk;
	uint32_t xsk_flow;             /* the line's flow on it */
} ws_sim_line_t;

typedef struct {
	uint32_t n_lines;
	ws_sim_line_t lines[WS_SIM_MAX_LINES];
	double rate;                   /* messages per second; 0 = as fast as possible */
	uint32_t burst;                /* 0 = evenly paced; else bursts of this many messages */
	double duration_s;             /* 0 = until total_msgs or stop */
	int rtx_fd;                    /* re-request server socket (non-blocking), -1 = none */
	uint32_t rtx_allow_net, rtx_allow_mask; /* requesters allowed (network order) */
	uint32_t rtx_rate;             /* responses per second per requester */
	uint32_t heartbeat_ms;         /* heartbeat after this long without a packet (default 1000) */
	uint32_t eos_repeats;          /* end-of-session packets sent at the end (default 3) */
	const ws_port_cfg_t *port;     /* an order port for the length of the run (NULL: none) */
	uint32_t stamp_log;            /* tick-to-trade stamps kept: packets sent, orders arrived (0: none) */
	/* with stamp_log, on raw lines: the kernel's software TX stamp of every
	 * data packet (SO_TIMESTAMPING, taken as the driver takes the frame: on
	 * veth, as it enters the receiver's side). The run sets the option on
	 * the line's socket and reads the stamps from its error queue after
	 * each send call; each stamp comes back with its frame's first bytes,
	 * so it is matched by the packet's sequence number, never by counting. */
	int tx_stamps;
	/* a stated fill: packet k carries at most fill[hash(k) & (fill_n-1)]
	 * of the messages due (the rest go in the next packets at once), so
	 * messages per packet follow the table's distribution at any pacing,
	 * not the sender's wake-ups. fill_n a power of two, entries >= 1; the
	 * caller's memory for the run. NULL: every packet takes what is due. */
	const uint16_t *fill;
	uint32_t fill_n;
} ws_sim_run_cfg_t;

/* A packet as it was sent: its first message's sequence number,
 * CLOCK_REALTIME ns as the send call that took it started, and (tx_stamps)
 * the kernel's TX stamp, CLOCK_REALTIME ns, 0 where none came back. */
typedef struct {
	uint64_t seq;
	uint64_t ns;
	uint64_t tx_ns;
} ws_sim_sent_t;

typedef struct {
	uint64_t msgs, packets, bytes;           /* generated (before faults) */
	uint64_t sent_pkts[WS_SIM_MAX_LINES];    /* datagrams sent per line */
	uint64_t dropped[WS_SIM_MAX_LINES], duplicated[WS_SIM_MAX_LINES];
	uint64_t reordered[WS_SIM_MAX_LINES], delayed[WS_SIM_MAX_LINES];
	uint64_t send_errors;                    /* sendmmsg refused a datagram (ENOBUFS...) */
	uint64_t heartbeats;
	uint64_t rtx_requests, rtx_answered, rtx_refused_addr, rtx_rate_limited, rtx_bad;
	uint64_t rtx_msgs;
	uint64_t start_ns, end_ns;               /* CLOCK_MONOTONIC of the first and last send */
	uint64_t by_type[128];
	uint64_t next_seq;
	uint64_t outbox_lost;                    /* messages there was no memory for (never, short of OOM) */
	/* TX stamps of data packets read back; of those, how many matched no
	 * logged packet (the log was full) */
	uint64_t tx_stamps, tx_stamps_unmatched;
} ws_sim_stats_t;

ws_sim_t *ws_sim_new(const ws_sim_cfg_t *cfg);
void ws_sim_delete(ws_sim_t *sim);

/* ws_sim_packet builds the next MoldUDP64 packet stamped ts_midnight_ns:
 * first what waits to be published (what clients' orders did, and what
 * an earlier flow action left), then at most max_flow more of the
 * simulator's own messages (UINT32_MAX: as many as fit; 0: none). Returns
 * its length; *count is its message count (0xFFFF for the end-of-session
 * packet, which is returned once the session is over, again and again)
 * and *flow how many of them were the simulator's own. */
uint32_t ws_sim_packet(ws_sim_t *sim, uint8_t *pkt, uint32_t max_flow, uint64_t ts_midnight_ns, uint32_t *count,
                       uint32_t *flow);

/* ws_sim_retransmit builds a reply to a request for count messages from seq,
 * from history: at most max_payload bytes, possibly fewer messages; returns
 * the length, or 0 if none of them is in history (reply with nothing). */
uint32_t ws_sim_retransmit(ws_sim_t *sim, uint64_t seq, uint32_t count, uint8_t *pkt);

/* ws_sim_run sends the session on the lines of rc until it ends, the
 * duration passes, or ws_sim_stop. Returns 0 or -errno of a setup failure. */
int ws_sim_run(ws_sim_t *sim, const ws_sim_run_cfg_t *rc);

void ws_sim_stop(ws_sim_t *sim);
const ws_sim_stats_t *ws_sim_stats(const ws_sim_t *sim);
const ws_port_stats_t *ws_sim_port_stats(const ws_sim_t *sim); /* zero without an order port */
const ws_match_stats_t *ws_sim_match_stats(const ws_sim_t *sim);

/* Tick-to-trade stamps of the runs with stamp_log: *n counts every one,
 * *kept how many the log holds (the first stamp_log). Read them after a run. */
const ws_sim_sent_t *ws_sim_sent_log(const ws_sim_t *sim, uint64_t *n, uint64_t *kept);
const ws_port_stamp_t *ws_sim_order_log(const ws_sim_t *sim, uint64_t *n, uint64_t *kept);

/* ws_sim_symbol: book k's (0..n_symbols-1) stock (8 bytes, space-padded)
 * and the mid the simulator's own orders rest around (its buys 1 to 20
 * cents below, its sells above). Fixed at ws_sim_new: safe while it runs. */
void ws_sim_symbol(const ws_sim_t *sim, uint32_t k, char stock[8], uint32_t *mid);

#endif /* WS_SIM_H */
