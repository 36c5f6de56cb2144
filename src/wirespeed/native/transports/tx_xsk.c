/* transports/tx_xsk.c - pre-armed UDP frames through AF_XDP; see tx_xsk.h. */
#include "transports/tx_xsk.h"

#include <errno.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
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

/* The interface's MTU, or 0 if it cannot be read. */
static uint32_t ws_mtu(int ifindex)
{
	char name[IF_NAMESIZE];
	uint32_t mtu = 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && if_indextoname((unsigned)ifindex, name)) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, name, IF_NAMESIZE);
		if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
			mtu = (uint32_t)ifr.ifr_mtu;
	}
	if (s >= 0)
		close(s);
	return mtu;
}

int ws_udp_tx_open(ws_udp_tx_t *t, int ifindex, uint32_t queue, uint32_t frames, int zerocopy,
                   enum ws_xsk_step *failed)
{
	memset(t, 0, sizeof(*t));
	int rc = ws_xsk_open_tx(&t->x, ifindex, queue, frames, 2048, zerocopy, 1, failed);
	if (rc)
		return rc;
	t->free = malloc(frames * sizeof(*t->free));
	t->frame_flow = malloc(frames);
	if (!t->free || !t->frame_flow) {
		ws_udp_tx_close(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < frames; i++) {
		t->free[t->n_free++] = i * 2048;
		t->frame_flow[i] = 0xff;
	}
	/* what the link carries: a frame longer than the MTU would be dropped on the way, silently */
	uint32_t mtu = ws_mtu(ifindex);
	t->max_payload = 2048 - WS_FRAME_HDR;
	if (mtu > 28 && mtu - 28 < t->max_payload)
		t->max_payload = mtu - 28;
	return 0;
}

void ws_udp_tx_close(ws_udp_tx_t *t)
{
	ws_xsk_close(&t->x);
	free(t->free);
	free(t->frame_flow);
	t->free = NULL;
	t->frame_flow = NULL;
}

int ws_udp_tx_flow(ws_udp_tx_t *t, const uint8_t dmac[6], const uint8_t smac[6], uint32_t saddr, uint32_t daddr,
                   uint16_t sport, uint16_t dport, uint8_t ttl)
{
	if (t->n_flows == WS_UDP_TX_FLOWS)
		return -ENOSPC;
	ws_udp_flow_t *f = &t->flows[t->n_flows];
	ws_frame_udp4(f->hdr, dmac, smac, saddr, daddr, sport, dport, ttl, 0);
	uint8_t *ip = f->hdr + 14, *udp = ip + 20;
	ws_be16(ip + 2, 0);
	ws_be16(ip + 10, 0);
	ws_be16(udp + 4, 0);
	ws_be16(udp + 6, 0);
	f->ip_base = ws_csum_add(0, ip, 20);
	uint8_t c[12];
	memcpy(c, &saddr, 4);
	memcpy(c + 4, &daddr, 4);
	c[8] = 0;
	c[9] = 17;
	memcpy(c + 10, &sport, 2);
	f->udp_base = ws_csum_add(ws_csum_add(0, c, 12), (const uint8_t *)&dport, 2);
	if (t->n_flows == 0) /* arm every frame with the first flow's headers: its sends write none */
		for (uint32_t i = 0; i < t->x.frame_cnt; i++) {
			memcpy(t->x.umem + (size_t)i * 2048, f->hdr, sizeof(f->hdr));
			t->frame_flow[i] = 0;
		}
	return (int)t->n_flows++;
}

uint32_t ws_udp_tx_reap(ws_udp_tx_t *t)
{
	uint32_t k = ws_xsk_tx_reap(&t->x, t->free, &t->n_free);
	t->st.completed += k;
	return k;
}

int ws_udp_tx_send(ws_udp_tx_t *t, uint32_t flow, const uint8_t *payload, uint32_t len)
{
	if (flow >= t->n_flows)
		return -EINVAL;
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
	const ws_udp_flow_t *fl = &t->flows[flow];
	uint32_t addr = t->free[--t->n_free];
	uint8_t *f = t->x.umem + addr, *ip = f + 14, *udp = ip + 20;
	if (t->frame_flow[addr / 2048] != flow) {
		memcpy(f, fl->hdr, sizeof(fl->hdr));
		t->frame_flow[addr / 2048] = (uint8_t)flow;
		t->st.headers_written++;
	}
	memcpy(f + WS_FRAME_HDR, payload, len);
	/* only the lengths change: each checksum is its constant part plus them (and UDP's, the payload) */
	uint16_t total = (uint16_t)(28 + len), ulen = (uint16_t)(8 + len);
	ws_be16(ip + 2, total);
	ws_be16(ip + 10, (uint16_t)~ws_fold(fl->ip_base + total));
	ws_be16(udp + 4, ulen);
	uint16_t csum = (uint16_t)~ws_fold(ws_csum_add(ws_fold(fl->udp_base + 2u * ulen), payload, len));
	ws_be16(udp + 6, csum ? csum : 0xffff);
	t->st.sent++;
	int k = ws_xsk_tx_push(&t->x, addr, WS_FRAME_HDR + len);
	t->st.kicks += k != 0;
	t->st.kick_errors += k < 0;
	return 0;
}
