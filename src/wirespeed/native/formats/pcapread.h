/* formats/pcapread.h - packets out of a pcapng or classic pcap file in memory.
 *
 * What it is for: exports and replays that read a whole recording at C
 * speed (products/export.h), where formats/pcapng.py's reader would cost a
 * Python call per packet. It reads what formats/pcapng.py reads: pcapng
 * (any number of sections, either byte order, per-interface if_tsresol,
 * enhanced and simple packet blocks, interface statistics; other blocks
 * skipped, as the format says) and classic pcap (microsecond and nanosecond magic, either byte
 * order).
 *
 * Memory: the caller owns the buffer (typically the whole file, mmap'ed)
 * and keeps it for the reader's life; frames point into it.
 *
 * Threads: a reader is used by one thread.
 *
 * Bad input never reads outside the buffer: a block or record that claims
 * more bytes than are left, a length that is not a multiple of 4, trailing
 * lengths that disagree, a packet of an interface never described. The
 * reader stops there with an error naming the byte offset (ws_pcap_next
 * returns -1, err says what); the packets before it were returned.
 */
#ifndef WS_PCAPREAD_H
#define WS_PCAPREAD_H

#include <stddef.h>
#include <stdint.h>

#define WS_PCAP_MAX_IF 64u

typedef struct {
	const uint8_t *buf;
	size_t len, off;
	int pcapng;                 /* 1 pcapng, 0 classic pcap */
	int swap;                   /* the current section is big-endian */
	uint64_t tick_ns;           /* classic pcap: ns per tick (1000 or 1) */
	uint32_t n_if;              /* interfaces of the current section */
	uint64_t if_num[WS_PCAP_MAX_IF], if_den[WS_PCAP_MAX_IF]; /* ns = ticks * num / den */
	uint64_t packets;           /* returned so far */
	uint64_t skipped_blocks;    /* blocks of other types, skipped */
	uint64_t no_timestamp;      /* simple packet blocks: returned with ts 0 */
	/* what the capture itself counted, from the newest interface statistics
	 * block of each interface (isb_ifrecv, isb_ifdrop, isb_osdrop); a section
	 * adds its own: summed over every interface seen */
	uint64_t isb_recv[WS_PCAP_MAX_IF], isb_drop[WS_PCAP_MAX_IF], isb_osdrop[WS_PCAP_MAX_IF];
	uint64_t isb_blocks;
	uint32_t if_base;           /* interfaces of earlier sections, for the ISB arrays */
	char host[64];              /* the capture host a section header names (an opt_comment
	                             * "host=NAME", as wirespeed's recorder writes it); "" if none */
	size_t err_off;
	char err[160];
} ws_pcap_reader_t;

/* ws_pcap_open checks the file's first block. 0, or -1 with err set
 * ("not a pcap or pcapng file"). */
int ws_pcap_open(ws_pcap_reader_t *r, const uint8_t *buf, size_t len);

/* ws_pcap_next: 1 and the next packet (frame points into the buffer,
 * ts in ns since the epoch, iface its interface id), 0 at the end of the
 * file, -1 on a corrupt or truncated file (err, err_off). */
int ws_pcap_next(ws_pcap_reader_t *r, const uint8_t **frame, uint32_t *len, uint64_t *ts_ns, uint32_t *iface);

#endif /* WS_PCAPREAD_H */
