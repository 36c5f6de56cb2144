/* book/route.c - frames to sessions to feeds; see route.h. */
#include "book/route.h"

#include <stdlib.h>
#include <string.h>

#include "system/clock.h"
#include "net/endian.h"
#include "net/frame.h"
#include "feed/itch.h"

typedef struct {
	uint8_t id[10];          /* the MoldUDP64 session */
	uint8_t lines;           /* flows seen: 0, 1 (A) or 2 (A and B) */
	uint32_t daddr[2];       /* line i's flow, network order */
	uint16_t dport[2];
	ws_feed_t *feed;
} ws_session_t;

struct ws_route {
	ws_books_t *books;
	ws_feed_cfg_t cfg;
	ws_session_t *s;
	uint32_t n, max, last;   /* last: the session the previous packet was for */
	uint64_t cur_seq, cur_ts; /* the packet being routed (ws_route_current) */
	ws_route_stats_t st;
};

ws_route_t *ws_route_create(ws_books_t *books, const ws_feed_cfg_t *cfg, uint32_t max_sessions)
{
	if (!books || !cfg || !max_sessions || max_sessions > 4096)
		return NULL;
	ws_route_t *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->s = calloc(max_sessions, sizeof(*r->s));
	if (!r->s) {
		free(r);
		return NULL;
	}
	r->books = books;
	r->cfg = *cfg;
	r->max = max_sessions;
	return r;
}

void ws_route_delete(ws_route_t *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n; i++)
		ws_feed_delete(r->s[i].feed);
	free(r->s);
	free(r);
}

/* The session a packet names, made on first sight; NULL when the table is
 * full (counted) or `make` is 0 and it is unknown. Feeds carry one session
 * or two at a time, so a scan from the last hit is the lookup. */
static ws_session_t *ws_session_of(ws_route_t *r, const uint8_t *id, int make)
{
	if (r->n && !memcmp(r->s[r->last].id, id, 10))
		return &r->s[r->last];
	for (uint32_t i = 0; i < r->n; i++)
		if (!memcmp(r->s[i].id, id, 10)) {
			r->last = i;
			return &r->s[i];
		}
	if (!make)
		return NULL;
	if (r->n == r->max) {
		r->st.too_many_sessions++;
		return NULL;
	}
	ws_session_t *s = &r->s[r->n];
	s->feed = ws_feed_create(r->books, &r->cfg);
	if (!s->feed) { /* no memory for its hold buffer: as good as a full table */
		r->st.too_many_sessions++;
		return NULL;
	}
	memcpy(s->id, id, 10);
	ws_feed_set_id(s->feed, (uint16_t)r->n);
	r->last = r->n++;
	return s;
}

/* The line of a flow within its session: A, B, or -1 for a third one. */
static int ws_line_of(ws_route_t *r, ws_session_t *s, uint32_t daddr, uint16_t dport)
{
	for (int i = 0; i < s->lines; i++)
		if (s->daddr[i] == daddr && s->dport[i] == dport)
			return i;
	if (s->lines == 2) {
		r->st.third_line++;
		return -1;
	}
	s->daddr[s->lines] = daddr;
	s->dport[s->lines] = dport;
	return s->lines++;
}

void ws_route_payload(ws_route_t *r, const uint8_t *p, uint32_t len, uint32_t daddr, uint16_t dport, uint64_t ts_ns)
{
	r->st.frames++;
	if (len < WS_MOLD_HDR) {
		r->st.not_moldudp64++;
		return;
	}
	ws_session_t *s = ws_session_of(r, p, 1);
	if (!s)
		return;
	r->cur_seq = ws_rd64(p + 10);
	r->cur_ts = ts_ns;
	int line = ws_line_of(r, s, daddr, dport);
	if (line >= 0)
		ws_feed_packet(s->feed, p, len, line, ts_ns);
}

void ws_route_frame(ws_route_t *r, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
	ws_udp4_view_t v;
	if (ws_frame_check(frame, len, &v) != WS_FRAME_OK) {
		r->st.frames++;
		r->st.not_udp4++;
		return;
	}
	ws_route_payload(r, frame + v.payload_off, v.payload_len, v.daddr, v.dport, ts_ns);
}

uint32_t ws_route_records(ws_route_t *r, const ws_ring_rec_t *recs, uint32_t n, const uint8_t *payload,
                          uint64_t payload_len, int64_t *lat_ns)
{
	for (uint32_t i = 0; i < n; i++) {
		const ws_ring_rec_t *rec = &recs[i];
		if (rec->pos > payload_len || rec->len > payload_len - rec->pos) {
			r->st.frames++;
			r->st.bad_record++;
		} else {
			ws_route_frame(r, payload + rec->pos, rec->len, rec->ts_ns);
		}
		if (lat_ns)
			lat_ns[i] = (int64_t)(ws_ring_now_ns() - rec->ts_ns); /* the stamps' clock, CLOCK_REALTIME */
	}
	return n;
}

int64_t ws_route_follow(ws_route_t *r, ws_ring_reader_t *rd, pthread_mutex_t *lock, uint64_t for_ns, uint8_t *buf,
                        uint64_t buf_sz, int64_t *lat_ns, uint64_t lat_cap, uint64_t *lat_n)
{
	uint64_t until_ns = ws_mono_ns() + for_ns;
	ws_ring_rec_t recs[256];
	int64_t total = 0;
	*lat_n = 0;
	for (uint32_t spins = 0;; spins++) {
		int n = ws_ring_read_batch(rd, recs, 256, buf, buf_sz);
		if (n < 0)
			return n;
		if (n > 0) {
			int64_t *lat = lat_ns && *lat_n + (uint64_t)n <= lat_cap ? lat_ns + *lat_n : NULL;
			if (lock && pthread_mutex_lock(lock))
				return WS_RING_EINVAL; /* a bad mutex: never apply unguarded */
			ws_route_records(r, recs, (uint32_t)n, buf, buf_sz, lat);
			if (lock)
				pthread_mutex_unlock(lock);
			if (lat)
				*lat_n += (uint64_t)n;
			total += n;
		} else {
			ws_relax();
		}
		/* the clock (vDSO, no syscall) every so often: often enough to stop
		 * within microseconds of until_ns, rarely enough to cost nothing */
		if ((spins & 63) == 0 && ws_mono_ns() >= until_ns)
			return total;
	}
}

void ws_route_current(const ws_route_t *r, uint64_t *seq, uint64_t *ts_ns)
{
	*seq = r->cur_seq;
	*ts_ns = r->cur_ts;
}

void ws_route_reply(ws_route_t *r, const uint8_t *p, uint32_t len, uint64_t now_ns)
{
	ws_session_t *s = len >= WS_MOLD_HDR ? ws_session_of(r, p, 0) : NULL;
	if (!s) {
		r->st.unknown_reply++;
		return;
	}
	r->cur_seq = ws_rd64(p + 10);
	r->cur_ts = now_ns;
	ws_feed_packet(s->feed, p, len, 2, now_ns);
}

void ws_route_poll(ws_route_t *r, uint64_t now_ns)
{
	for (uint32_t i = 0; i < r->n; i++)
		ws_feed_poll(r->s[i].feed, now_ns);
}

uint32_t ws_route_sessions(const ws_route_t *r)
{
	return r->n;
}

ws_feed_t *ws_route_feed(const ws_route_t *r, uint32_t i, const uint8_t **id)
{
	if (i >= r->n)
		return NULL;
	*id = r->s[i].id;
	return r->s[i].feed;
}

const ws_route_stats_t *ws_route_stats(const ws_route_t *r)
{
	return &r->st;
}

int ws_route_stale(const ws_route_t *r)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (ws_feed_stale(r->s[i].feed))
			return 1;
	return 0;
}
