/* transports/tx_xsk.c - pre-armed UDP frames through AF_XDP; see tx_xsk.h. */
#include "transports/tx_xsk.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/endian.h"
#include "net/frame.h"

static inline uint16_t ws_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

int ws_udp_tx_open(ws_udp_tx_t *t, int ifindex, uint32_t queue, uint32_t frames, const uint8_t dmac[6],
                   const uint8_t smac[6], uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, uint8_t ttl,
                   int zerocopy, enum ws_xsk_step *failed)
{
	memset(t, 0, sizeof(*t));
	int rc = ws_xsk_open_tx(&t->x, ifindex, queue, frames, 2048, zerocopy, 1, failed);
	if (rc)
		return rc;
	t->free = malloc(frames * sizeof(*t->free));
	t->cur_len = malloc(frames * sizeof(*t->cur_len));
	if (!t->free || !t->cur_len) {
		ws_udp_tx_close(t);
		return -ENOMEM;
	}
	/* what the link carries: a frame longer than the MTU would be dropped on the way, silently */
	t->max_payload = 2048 - WS_FRAME_HDR;
	char name[IF_NAMESIZE];
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && if_indextoname((unsigned)ifindex, name)) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, name, IF_NAMESIZE);
		if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 28 && (uint32_t)ifr.ifr_mtu - 28 < t->max_payload)
			t->max_payload = (uint32_t)ifr.ifr_mtu - 28;
	}
	if (s >= 0)
		close(s);
	for (uint32_t i = 0; i < frames; i++) {
		uint8_t *f = t->x.umem + (size_t)i * 2048;
		ws_frame_udp4(f, dmac, smac, saddr, daddr, sport, dport, ttl, 0); /* armed for an empty payload */
		t->cur_len[i] = 0;
		t->free[t->n_free++] = i * 2048;
	}
	/* what the UDP checksum always holds: the pseudo header's addresses and protocol, and the ports */
	uint8_t c[12];
	memcpy(c, &saddr, 4);
	memcpy(c + 4, &daddr, 4);
	c[8] = 0;
	c[9] = 17;
	memcpy(c + 10, &sport, 2);
	t->udp_base = ws_csum_add(ws_csum_add(0, c, 12), (const uint8_t *)&dport, 2);
	return 0;
}

void ws_udp_tx_close(ws_udp_tx_t *t)
{
	ws_xsk_close(&t->x);
	free(t->free);
	free(t->cur_len);
	t->free = NULL;
	t->cur_len = NULL;
}

uint32_t ws_udp_tx_reap(ws_udp_tx_t *t)
{
	ws_xsk_ring_t *cq = &t->x.comp;
	uint32_t prod = atomic_load_explicit(cq->producer, memory_order_acquire);
	uint32_t n = prod - cq->cached_cons;
	const uint64_t *addrs = cq->ring;
	for (uint32_t i = 0; i < n; i++)
		t->free[t->n_free++] = (uint32_t)addrs[(cq->cached_cons + i) & cq->mask];
	cq->cached_cons += n;
	atomic_store_explicit(cq->consumer, cq->cached_cons, memory_order_release);
	t->st.completed += n;
	return n;
}

int ws_udp_tx_send(ws_udp_tx_t *t, const uint8_t *payload, uint32_t len)
{
	if (len > t->max_payload) {
		t->st.too_big++;
		return -EMSGSIZE;
	}
	ws_xsk_ring_t *tx = &t->x.tx;
	if (!t->n_free)
		ws_udp_tx_reap(t);
	uint32_t cons = atomic_load_explicit(tx->consumer, memory_order_acquire);
	if (!t->n_free || tx->cached_prod - cons > tx->mask) {
		t->st.no_frame++;
		return -ENOBUFS;
	}
	uint32_t addr = t->free[--t->n_free];
	uint8_t *f = t->x.umem + addr, *ip = f + 14, *udp = ip + 20;
	memcpy(f + WS_FRAME_HDR, payload, len);
	uint16_t old = t->cur_len[addr / 2048];
	if (old != len) { /* the lengths move: the IPv4 checksum follows (RFC 1624: HC' = ~(~HC + ~m + m')) */
		uint16_t m = (uint16_t)(28 + old), m2 = (uint16_t)(28 + len);
		uint16_t hc = ws_rd16(ip + 10);
		ws_be16(ip + 10, (uint16_t)~ws_fold((uint32_t)(uint16_t)~hc + (uint16_t)~m + m2));
		ws_be16(ip + 2, m2);
		ws_be16(udp + 4, (uint16_t)(8 + len));
		t->cur_len[addr / 2048] = (uint16_t)len;
	}
	/* the pseudo header's and the header's length, then the payload: the rest was summed at open */
	uint32_t sum = t->udp_base + 2u * (8 + len);
	uint16_t csum = (uint16_t)~ws_fold(ws_csum_add(ws_fold(sum), payload, len));
	ws_be16(udp + 6, csum ? csum : 0xffff);
	struct xdp_desc *d = &((struct xdp_desc *)tx->ring)[tx->cached_prod & tx->mask];
	d->addr = addr;
	d->len = WS_FRAME_HDR + len;
	d->options = 0;
	tx->cached_prod++;
	atomic_store_explicit(tx->producer, tx->cached_prod, memory_order_release);
	t->st.sent++;
	if (!t->x.need_wakeup || (atomic_load_explicit(tx->flags, memory_order_relaxed) & XDP_RING_NEED_WAKEUP)) {
		t->st.kicks++;
		if (sendto(t->x.fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY &&
		    errno != ENOBUFS)
			t->st.kick_errors++;
	}
	return 0;
}
