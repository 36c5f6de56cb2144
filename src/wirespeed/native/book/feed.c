/* book/feed.c - A/B arbitration and gaps for one MoldUDP64 session; see feed.h. */
#include "book/feed.h"

#include <stdlib.h>
#include <string.h>

#include "feed/itch.h"

typedef struct {
	uint64_t seq;
	uint32_t len;
	uint16_t count;
	uint8_t used;
	uint8_t line;        /* the line it came on, for the MBO log */
	uint8_t data[WS_FEED_MAX_PAYLOAD];
} ws_held_pkt_t;

struct ws_feed {
	ws_books_t *books;
	ws_feed_cfg_t cfg;
	uint32_t gap_requests; /* asked for the open gap */
	uint64_t last_request;
	uint8_t session[10];
	int have_session;
	uint64_t next;       /* next sequence number to apply: sessions count from 1, so a
	                      * feed that joins late sees a gap from 1, not a silent start */
	uint64_t known_end;  /* one past the highest sequence number known to exist */
	int gap_open;
	uint64_t gap_since;
	uint64_t now;        /* the latest time given: the feed's clock never goes back */
	uint32_t n_held;
	ws_held_pkt_t *hold; /* [WS_FEED_HOLD] */
	ws_feed_stats_t st;
	uint16_t id;         /* the session's index, for the MBO log */
	uint8_t gave_up;     /* messages were given up since the last one applied */
};

/* Header and blocks within the packet; 0 if sound. */
static int ws_mold_check(const uint8_t *p, uint32_t len, uint64_t *seq, uint16_t *count)
{
	if (len < WS_MOLD_HDR)
		return -1;
	*seq = ws_rd64(p + 10);
	*count = ws_rd16(p + 18);
	if (*count == WS_MOLD_HEARTBEAT || *count == WS_MOLD_EOS)
		return 0;
	uint32_t off = WS_MOLD_HDR;
	for (uint32_t i = 0; i < *count; i++) {
		if (off + 2 > len)
			return -1;
		uint32_t ml = ws_rd16(p + off);
		if (off + 2 + ml > len)
			return -1;
		off += 2 + ml;
	}
	return 0;
}

/* Tell the MBO log where the message applied next comes from. */
static inline void ws_mbo_say(ws_feed_t *f, ws_mbo_ctx_t *c, uint64_t seq, int line)
{
	c->ts_recv = f->now; /* when it became applicable: for a held packet, when its gap closed */
	c->sequence = seq;
	c->session = f->id;
	c->line = (uint8_t)line;
	if (f->gave_up) {
		c->flags |= WS_MBO_F_MAYBE_BAD_BOOK;
		f->gave_up = 0;
	}
}

/* Apply the packet's messages from the skip-th on (the first `skip` were applied already). */
static void ws_apply_from(ws_feed_t *f, const uint8_t *p, uint64_t seq, uint16_t count, uint64_t skip, int line)
{
	if (line == 2 && count > skip)
		f->st.recovered += count - skip;
	ws_mbo_ctx_t *mbo = ws_books_mbo_ctx(f->books); /* NULL unless exporting: once a packet, not per message */
	uint32_t off = WS_MOLD_HDR;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t ml = ws_rd16(p + off);
		if (i >= skip) {
			if (mbo)
				ws_mbo_say(f, mbo, seq + i, line);
			ws_books_apply(f->books, p + off + 2, ml);
			f->st.messages++;
		}
		off += 2 + ml;
	}
	if (mbo)
		ws_books_mbo_end_packet(f->books);
}

/* A packet whose first message is at or before next: apply what is new. */
static void ws_take(ws_feed_t *f, const uint8_t *p, uint64_t seq, uint16_t count, int line)
{
	uint64_t end = seq + count;
	if (end <= f->next) {
		f->st.duplicates += count;
		return;
	}
	uint64_t skip = f->next - seq;
	f->st.duplicates += skip;
	ws_apply_from(f, p, seq, count, skip, line);
	f->next = end;
}

static void ws_open_gap(ws_feed_t *f, uint64_t now)
{
	if (!f->gap_open) {
		f->gap_open = 1;
		f->gap_since = now;
		f->gap_requests = 0;
		f->st.gaps++;
	}
}

/* Held packets that now follow on, oldest first; closes the gap when nothing is missing. */
static void ws_drain(ws_feed_t *f, uint64_t now)
{
	while (f->n_held) {
		ws_held_pkt_t *min = NULL;
		for (uint32_t i = 0; i < WS_FEED_HOLD; i++)
			if (f->hold[i].used && (!min || f->hold[i].seq < min->seq))
				min = &f->hold[i];
		if (min->seq > f->next)
			break;
		ws_take(f, min->data, min->seq, min->count, min->line);
		min->used = 0;
		f->n_held--;
	}
	if (f->gap_open && !f->n_held && f->next >= f->known_end) {
		f->gap_open = 0;
		f->st.gaps_filled++;
	} else if (f->n_held || f->next < f->known_end) {
		ws_open_gap(f, now);
	}
}

static void ws_hold(ws_feed_t *f, const uint8_t *p, uint32_t len, uint64_t seq, uint16_t count, int line)
{
	ws_held_pkt_t *free_slot = NULL;
	for (uint32_t i = 0; i < WS_FEED_HOLD; i++) {
		ws_held_pkt_t *h = &f->hold[i];
		if (h->used && h->seq == seq && h->count == count) { /* the other line's copy */
			f->st.duplicates += count;
			return;
		}
		if (!h->used && !free_slot)
			free_slot = h;
	}
	if (!free_slot || len > WS_FEED_MAX_PAYLOAD) {
		f->st.hold_full++;
		return;
	}
	free_slot->used = 1;
	free_slot->line = (uint8_t)line;
	free_slot->seq = seq;
	free_slot->count = count;
	free_slot->len = len;
	memcpy(free_slot->data, p, len);
	f->n_held++;
	f->st.held++;
}

/* A heartbeat or end of session says which number comes next. */
static void ws_seen_upto(ws_feed_t *f, uint64_t seq, uint64_t now)
{
	if (seq > f->known_end)
		f->known_end = seq;
	if (f->known_end > f->next)
		ws_open_gap(f, now);
}

/* The feed's time: callers pass capture stamps with packets and the time
 * now with service calls, so a reader behind the wire goes back in time;
 * ages are taken against the latest time seen, so they never wrap. */
static inline uint64_t ws_feed_clock(ws_feed_t *f, uint64_t now)
{
	if (now > f->now)
		f->now = now;
	return f->now;
}

/* One past the hole in front: the oldest held packet, else the highest number known to exist. */
static uint64_t ws_hole_end(const ws_feed_t *f)
{
	uint64_t end = f->known_end;
	for (uint32_t i = 0; i < WS_FEED_HOLD; i++)
		if (f->hold[i].used && f->hold[i].seq < end)
			end = f->hold[i].seq;
	return end;
}

void ws_feed_packet(ws_feed_t *f, const uint8_t *p, uint32_t len, int line, uint64_t now)
{
	uint64_t seq;
	uint16_t count;
	now = ws_feed_clock(f, now);
	ws_feed_poll(f, now); /* a gap past its time is given up before this packet counts */
	if (ws_mold_check(p, len, &seq, &count)) {
		f->st.bad_packets++;
		return;
	}
	if (!f->have_session) {
		memcpy(f->session, p, 10);
		f->have_session = 1;
	} else if (memcmp(f->session, p, 10)) {
		f->st.other_session++;
		return;
	}
	f->st.packets++;
	f->st.line_packets[line == 2 ? 2 : line ? 1 : 0]++;
	if (count == WS_MOLD_HEARTBEAT || count == WS_MOLD_EOS) {
		if (count == WS_MOLD_EOS)
			f->st.end_of_session++;
		else
			f->st.heartbeats++;
		ws_seen_upto(f, seq, now);
		return;
	}
	if (seq + count > f->known_end)
		f->known_end = seq + count;
	if (seq <= f->next) {
		uint64_t before = f->next;
		ws_take(f, p, seq, count, line);
		if (f->n_held || f->gap_open)
			ws_drain(f, now);
		if (f->gap_open && f->next > before) { /* progress: the hole now in front is a new one */
			f->gap_since = now;
			f->gap_requests = 0;
		}
		return;
	}
	ws_open_gap(f, now);
	ws_hold(f, p, len, seq, count, line);
}

void ws_feed_poll(ws_feed_t *f, uint64_t now)
{
	now = ws_feed_clock(f, now);
	if (!f->gap_open || now - f->gap_since < f->cfg.hold_timeout_ns)
		return;
	uint64_t target = ws_hole_end(f);
	if (target > f->next) {
		f->st.lost += target - f->next;
		f->next = target;
		f->gave_up = 1;
	}
	f->gap_open = 0;
	f->st.gaps_given_up++;
	ws_drain(f, now); /* what is held after the lost stretch; a further hole opens a new gap */
}

int ws_feed_request(ws_feed_t *f, uint64_t now, uint64_t *seq, uint16_t *count)
{
	now = ws_feed_clock(f, now);
	if (!f->gap_open || !f->cfg.request_after_ns || f->gap_requests >= f->cfg.max_requests)
		return 0;
	if (now - f->gap_since < f->cfg.request_after_ns)
		return 0;
	if (f->gap_requests && now - f->last_request < f->cfg.retry_ns)
		return 0;
	uint64_t end = ws_hole_end(f);
	if (end <= f->next)
		return 0;
	*seq = f->next;
	*count = (uint16_t)(end - f->next > 65534 ? 65534 : end - f->next);
	f->gap_requests++;
	f->last_request = now;
	f->st.requests++;
	f->st.requested_msgs += *count;
	return 1;
}

const uint8_t *ws_feed_session(const ws_feed_t *f)
{
	return f->have_session ? f->session : NULL;
}

ws_feed_t *ws_feed_create(ws_books_t *books, const ws_feed_cfg_t *cfg)
{
	if (!books || !cfg)
		return NULL;
	ws_feed_t *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->hold = calloc(WS_FEED_HOLD, sizeof(*f->hold));
	if (!f->hold) {
		free(f);
		return NULL;
	}
	f->books = books;
	f->cfg = *cfg;
	f->next = 1;
	f->known_end = 1;
	return f;
}

void ws_feed_delete(ws_feed_t *f)
{
	if (!f)
		return;
	free(f->hold);
	free(f);
}

void ws_feed_set_id(ws_feed_t *f, uint16_t id) { f->id = id; }
const ws_feed_stats_t *ws_feed_stats(const ws_feed_t *f) { return &f->st; }
uint64_t ws_feed_next_seq(const ws_feed_t *f) { return f->next; }
int ws_feed_stale(const ws_feed_t *f) { return f->gap_open; }
uint32_t ws_feed_held(const ws_feed_t *f) { return f->n_held; }
