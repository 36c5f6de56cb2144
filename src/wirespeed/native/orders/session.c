/* orders/session.c - the client's order session; see session.h. */
#include "orders/session.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/endian.h"
#include "orders/ouch.h"
#include "orders/soupbin.h"
#include "system/clock.h"
#include "transports/tcp_xsk.h"

const char *const ws_link_names[5] = {"down", "connecting", "login_sent", "up", "closed"};
const char *const ws_ord_state_names[WS_ORD_STATES] = {"none", "pending", "accepted", "partially_filled",
                                                        "filled", "canceled", "rejected", "replaced"};
const char *const ws_link_drop_names[WS_LDROPS] = {
	"connect_failed", "closed", "socket_error", "server_timeout", "framing", "bad_message", "unexpected",
	"login_rejected", "end_of_session", "session_mismatch", "user",
};

/* -- the journal --------------------------------------------------------------------------- */

#define WS_JRNL_MAGIC "WSOJRNL1"
#define WS_JRNL_HDR 4096u /* a page: the records start aligned */

typedef struct {
	char magic[8];
	uint32_t version, max_orders;
	uint32_t day;                 /* days since the epoch (UTC) the journal was made */
	_Atomic uint32_t next_urn;    /* the next UserRefNum to use: bumped after its record is written */
	char session[10];             /* the exchange's session name, once a login was accepted */
	char user[7];
	uint8_t pad[1];
} ws_jhdr_t;

typedef struct {
	uint32_t urn, orig_urn;
	uint32_t qty, price, rprice;
	char symbol[8];
	char side, tif;
	uint8_t pad[2];
	uint64_t sent_ns;
	char clordid[14];
	uint8_t pad2[1];
	_Atomic uint8_t written;      /* 1 once the record is whole: written last, with release */
	uint8_t pad3[8];
} ws_jrec_t;
_Static_assert(sizeof(ws_jrec_t) == 64, "journal record layout");

#define WS_OUT_CAP (256u * 1024u)
#define WS_IN_CAP (64u * 1024u)
#define WS_ENTER_LEN 50u  /* SoupBinTCP header 3 + Enter Order 47 */

struct ws_session {
	ws_session_cfg_t cfg;
	char jpath[4096];
	int fd;                       /* the kernel socket, or the user-space TCP's XSK (to poll); -1: no link */
	ws_tcp_xsk_t *utcp;           /* the user-space TCP (borrowed), or NULL: kernel TCP */
	uint8_t link;
	uint64_t link_at_ns;          /* when the link entered its state (CLOCK_MONOTONIC) */
	uint64_t last_rx_ns, last_tx_ns;
	uint64_t login_midnight_ns;   /* ns since midnight at the last login: older messages are replays */
	char session_name[10];        /* the exchange's, space-padded ("" until a login is accepted) */
	uint64_t next_seq;            /* the next sequenced message to apply */
	uint64_t rx_seq;              /* the sequence number of the next sequenced message to arrive */
	int query_sent;
	uint32_t query_urn;           /* next_urn when this login's Account Query went out */
	ws_session_stats_t st;
	ws_risk_t *risk;
	uint32_t n_sym;
	char (*sym)[8];
	uint8_t (*tpl)[2][WS_ENTER_LEN];
	ws_ref_fn ref_fn;
	void *ref_ctx;
	ws_order_t *ord;              /* [urn - 1] */
	uint32_t max_orders;
	ws_jhdr_t *jh;
	ws_jrec_t *jr;
	size_t jlen;
	ws_order_ev_t *ev;
	uint32_t ev_n, ev_cap;
	uint8_t *in, *out;
	uint32_t in_len, out_len;
	uint32_t off_urn, off_side, off_qty, off_price, off_tif, off_clordid; /* into an Enter Order */
};

static int ws_journal_open(ws_session_t *s)
{
	int fd = open(s->cfg.journal, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb)) {
		int e = -errno;
		close(fd);
		return e;
	}
	size_t want = WS_JRNL_HDR + (size_t)s->max_orders * sizeof(ws_jrec_t);
	int fresh = sb.st_size == 0;
	if (fresh && ftruncate(fd, (off_t)want)) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (!fresh && (size_t)sb.st_size < WS_JRNL_HDR) {
		close(fd);
		return -EINVAL;
	}
	size_t len = fresh ? want : (size_t)sb.st_size;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	s->jh = m;
	s->jr = (ws_jrec_t *)((uint8_t *)m + WS_JRNL_HDR);
	s->jlen = len;
	uint32_t today = (uint32_t)(ws_epoch_ns() / 86400000000000ull);
	if (fresh) {
		memcpy(s->jh->magic, WS_JRNL_MAGIC, 8);
		s->jh->version = 1;
		s->jh->max_orders = s->max_orders;
		s->jh->day = today;
		memcpy(s->jh->user, s->cfg.user, 7);
		atomic_store_explicit(&s->jh->next_urn, 1, memory_order_release);
		return 0;
	}
	if (memcmp(s->jh->magic, WS_JRNL_MAGIC, 8) || s->jh->version != 1 || !s->jh->max_orders ||
	    WS_JRNL_HDR + (size_t)s->jh->max_orders * sizeof(ws_jrec_t) > len)
		return -EINVAL;
	if (s->jh->day != today)
		return -ESTALE; /* yesterday's: UserRefNums and sequence numbers start again each day */
	if (strncmp(s->jh->user, s->cfg.user, 7))
		return -EINVAL;
	s->max_orders = s->jh->max_orders;
	return 1;
}

static int ws_find_sym(const ws_session_t *s, const char name[8])
{
	for (uint32_t i = 0; i < s->n_sym; i++)
		if (!memcmp(s->sym[i], name, 8))
			return (int)i;
	return -1;
}

/* A journal of the same day: its orders come back as pending, reserved in
 * risk, until the exchange's replay tells their state. */
static int ws_journal_recover(ws_session_t *s)
{
	uint32_t next = atomic_load_explicit(&s->jh->next_urn, memory_order_acquire);
	if (!next || next > s->max_orders + 1)
		return -EINVAL;
	uint32_t top = next - 1;
	/* a record written but its header bump lost (killed in between): its UserRefNum is used */
	while (top < s->max_orders && atomic_load_explicit(&s->jr[top].written, memory_order_acquire))
		top++;
	for (uint32_t i = 0; i < top; i++) {
		const ws_jrec_t *j = &s->jr[i];
		if (!atomic_load_explicit(&j->written, memory_order_acquire))
			continue; /* reserved, never written: never sent */
		int sym = ws_find_sym(s, j->symbol);
		if (j->urn != i + 1 || sym < 0)
			return -EINVAL;
		ws_order_t *o = &s->ord[i];
		*o = (ws_order_t){.urn = j->urn, .orig_urn = j->orig_urn, .sym = (uint16_t)sym, .side = j->side,
		                  .tif = j->tif, .state = WS_ORD_PENDING, .recovered = 1, .qty = j->qty, .open = j->qty,
		                  .price = j->price, .rprice = j->rprice, .sent_ns = j->sent_ns};
		memcpy(o->clordid, j->clordid, 14);
		ws_risk_reserve(s->risk, (uint32_t)sym, j->side, j->qty, j->rprice);
		s->st.recovered_orders++;
	}
	s->st.next_urn = top + 1;
	atomic_store_explicit(&s->jh->next_urn, top + 1, memory_order_release);
	if (s->jh->session[0])
		memcpy(s->session_name, s->jh->session, 10);
	return 0;
}

/* Wire offsets of an Enter Order's fields, from the codec's own table. */
static int ws_enter_offsets(ws_session_t *s)
{
	const ws_ouch_spec_t *sp = ws_ouch_spec(WS_OUCH_IN, 'O');
	if (!sp)
		return -EINVAL;
	uint32_t off = 1;
	for (uint32_t i = 0; i < sp->n_fields; i++) {
		const char *n = sp->fields[i].name;
		uint32_t at = 3 + off; /* after the SoupBinTCP header */
		if (!strcmp(n, "user_ref_num"))
			s->off_urn = at;
		else if (!strcmp(n, "side"))
			s->off_side = at;
		else if (!strcmp(n, "quantity"))
			s->off_qty = at;
		else if (!strcmp(n, "price"))
			s->off_price = at;
		else if (!strcmp(n, "time_in_force"))
			s->off_tif = at;
		else if (!strcmp(n, "clordid"))
			s->off_clordid = at;
		off += sp->fields[i].width;
	}
	return s->off_urn && s->off_qty && s->off_price && s->off_clordid && 3 + off + 2 == WS_ENTER_LEN ? 0 : -EINVAL;
}

static void ws_build_templates(ws_session_t *s)
{
	for (uint32_t i = 0; i < s->n_sym; i++)
		for (int sd = 0; sd < 2; sd++) {
			ws_ouch_msg_t m = {.type = 'O', .side = sd ? 'S' : 'B', .quantity = 1, .price = 1, .tif = '0',
			                   .display = 'Y', .capacity = 'A', .ims = 'N', .cross_type = 'N', .has_app = 1};
			memcpy(m.symbol, s->sym[i], 8);
			memset(m.clordid, ' ', 14);
			uint8_t *t = s->tpl[i][sd];
			uint32_t n = ws_ouch_size(WS_OUCH_IN, &m);
			ws_soup_header(t, WS_SOUP_UNSEQUENCED, n);
			ws_ouch_encode(WS_OUCH_IN, &m, t + 3);
		}
}

ws_session_t *ws_session_new(const ws_session_cfg_t *cfg, const char (*symbols)[8], uint32_t n_symbols, int *err)
{
	*err = -EINVAL;
	if (!cfg || !cfg->journal || !symbols || !n_symbols || n_symbols > 65535 || !cfg->user[0] ||
	    strlen(cfg->journal) >= 4096)
		return NULL;
	ws_session_t *s = calloc(1, sizeof(*s));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	s->cfg = *cfg;
	strcpy(s->jpath, cfg->journal);
	s->cfg.journal = s->jpath;
	s->fd = -1;
	s->max_orders = cfg->max_orders ? cfg->max_orders : 1u << 20;
	s->ev_cap = cfg->event_cap ? cfg->event_cap : 1u << 16;
	s->n_sym = n_symbols;
	s->next_seq = s->rx_seq = 1;
	int rc = ws_journal_open(s);
	if (rc < 0) {
		*err = rc;
		ws_session_delete(s);
		return NULL;
	}
	*err = -ENOMEM;
	s->sym = malloc(n_symbols * sizeof(*s->sym));
	s->tpl = malloc(n_symbols * sizeof(*s->tpl));
	s->ord = calloc(s->max_orders, sizeof(*s->ord)); /* pages only as orders use them */
	s->ev = malloc((size_t)s->ev_cap * sizeof(*s->ev));
	s->in = malloc(WS_IN_CAP);
	s->out = malloc(WS_OUT_CAP);
	s->risk = ws_risk_new(&cfg->limits, &cfg->symbol_limits, n_symbols);
	if (!s->sym || !s->tpl || !s->ord || !s->ev || !s->in || !s->out || !s->risk) {
		ws_session_delete(s);
		return NULL;
	}
	memcpy(s->sym, symbols, n_symbols * sizeof(*s->sym));
	*err = -EINVAL;
	if (ws_enter_offsets(s)) {
		ws_session_delete(s);
		return NULL;
	}
	ws_build_templates(s);
	s->st.next_urn = 1;
	if (rc == 1 && (rc = ws_journal_recover(s)) < 0) {
		*err = rc;
		ws_session_delete(s);
		return NULL;
	}
	s->st.next_seq = s->next_seq;
	*err = 0;
	return s;
}

void ws_session_delete(ws_session_t *s)
{
	if (!s)
		return;
	if (s->utcp)
		ws_tcp_xsk_abort(s->utcp, ws_mono_ns());
	else if (s->fd >= 0)
		close(s->fd);
	if (s->jh)
		munmap(s->jh, s->jlen);
	ws_risk_delete(s->risk);
	free(s->sym);
	free(s->tpl);
	free(s->ord);
	free(s->ev);
	free(s->in);
	free(s->out);
	free(s);
}

/* -- the market ---------------------------------------------------------------------------------- */

void ws_session_set_ref(ws_session_t *s, ws_ref_fn fn, void *ctx)
{
	s->ref_fn = fn;
	s->ref_ctx = ctx;
}

ws_risk_ref_t ws_session_ref(const ws_session_t *s, uint32_t sym)
{
	ws_risk_ref_t none = {0};
	return s->ref_fn && sym < s->n_sym ? s->ref_fn(s->ref_ctx, sym) : none;
}

/* -- the link ---------------------------------------------------------------------------------- */

static void ws_link_to(ws_session_t *s, uint8_t state, uint64_t now)
{
	s->link = state;
	s->link_at_ns = now;
	s->st.link = state;
}

/* -- the byte stream: the kernel's TCP socket, or wirespeed's own TCP over AF_XDP ------------------ */

/* ws_io_send: bytes the stream took (all or part), or -errno (-EAGAIN: none now). */
static ssize_t ws_io_send(ws_session_t *s, const uint8_t *p, uint32_t n, uint64_t now)
{
	if (s->utcp) {
		int k = ws_tcp_xsk_send(s->utcp, p, n, now);
		return k == -EAGAIN ? 0 : k; /* its buffer full: the caller keeps the bytes */
	}
	ssize_t k = send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : k < 0 ? -errno : k;
}

/* ws_io_recv: bytes read, 0 at the peer's close, -EAGAIN if none yet, else -errno. */
static ssize_t ws_io_recv(ws_session_t *s, uint8_t *buf, uint32_t cap, uint64_t now)
{
	if (s->utcp)
		return ws_tcp_xsk_recv(s->utcp, buf, cap, now);
	ssize_t k = recv(s->fd, buf, cap, MSG_DONTWAIT);
	return k < 0 && (errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN : k < 0 ? -errno : k;
}

/* ws_io_close: a user's close says goodbye (FIN); any other drop resets. */
static void ws_io_close(ws_session_t *s, int graceful)
{
	if (s->fd < 0)
		return;
	if (!s->utcp) {
		close(s->fd);
	} else if (!graceful) {
		ws_tcp_xsk_abort(s->utcp, ws_mono_ns());
	} else {
		/* the FIN, and a moment for the peer's: nobody services the connection after this */
		ws_tcp_xsk_close(s->utcp, ws_mono_ns());
		uint64_t end = ws_mono_ns() + 100000000ull;
		while (ws_mono_ns() < end && ws_tcp_xsk_state(s->utcp) != WS_TCP_TIME_WAIT &&
		       ws_tcp_xsk_state(s->utcp) != WS_TCP_CLOSED)
			ws_tcp_xsk_poll(s->utcp, ws_mono_ns());
		ws_tcp_xsk_release(s->utcp);
	}
	s->fd = -1;
}

static void ws_drop(ws_session_t *s, int why, uint64_t now)
{
	ws_io_close(s, why == WS_LDROP_USER);
	s->in_len = s->out_len = 0; /* unsent bytes are gone with the connection: orders are never resent blindly */
	s->st.drops[why]++;
	s->st.last_drop = (uint8_t)why;
	int final = why == WS_LDROP_END_OF_SESSION || why == WS_LDROP_USER || why == WS_LDROP_SESSION_MISMATCH;
	ws_link_to(s, final ? WS_LINK_CLOSED : WS_LINK_DOWN, now);
}

/* ws_write sends n bytes, or queues what the socket does not take now.
 * 0, or WS_ORD_BACKPRESSURE (nothing written), or WS_ORD_SEND_FAILED
 * (the link was dropped). */
static int ws_write(ws_session_t *s, const uint8_t *p, uint32_t n, uint64_t now)
{
	if (s->out_len + n > WS_OUT_CAP)
		return WS_ORD_BACKPRESSURE;
	uint32_t done = 0;
	if (!s->out_len) {
		ssize_t k = ws_io_send(s, p, n, now);
		if (k < 0) {
			ws_drop(s, WS_LDROP_SOCKET_ERROR, now);
			return WS_ORD_SEND_FAILED;
		}
		done = (uint32_t)k;
	}
	memcpy(s->out + s->out_len, p + done, n - done);
	s->out_len += n - done;
	s->st.bytes_out += n;
	s->last_tx_ns = now;
	return 0;
}

static void ws_flush(ws_session_t *s, uint64_t now)
{
	if (!s->out_len || s->fd < 0)
		return;
	ssize_t k = ws_io_send(s, s->out, s->out_len, now);
	if (k < 0) {
		ws_drop(s, WS_LDROP_SOCKET_ERROR, now);
		return;
	}
	memmove(s->out, s->out + k, s->out_len - (uint32_t)k);
	s->out_len -= (uint32_t)k;
}

static void ws_connect(ws_session_t *s, uint64_t now)
{
	s->st.connects++;
	if (s->utcp) {
		if (ws_tcp_xsk_connect(s->utcp, now)) {
			ws_drop(s, WS_LDROP_CONNECT_FAILED, now);
			return;
		}
		s->fd = ws_tcp_xsk_fd(s->utcp);
		ws_link_to(s, WS_LINK_CONNECTING, now);
		return;
	}
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (s->fd < 0) {
		ws_drop(s, WS_LDROP_CONNECT_FAILED, now);
		return;
	}
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* an order leaves now, not with the next */
	if (connect(s->fd, (const struct sockaddr *)&s->cfg.addr, sizeof(s->cfg.addr)) && errno != EINPROGRESS) {
		ws_drop(s, WS_LDROP_CONNECT_FAILED, now);
		return;
	}
	ws_link_to(s, WS_LINK_CONNECTING, now);
}

static void ws_send_login(ws_session_t *s, uint64_t now)
{
	uint8_t buf[64];
	char sess[11] = {0};
	memcpy(sess, s->session_name, 10);
	for (int i = 9; i >= 0 && (sess[i] == ' ' || !sess[i]); i--)
		sess[i] = 0;
	uint32_t hb = s->cfg.server_timeout_ms ? s->cfg.server_timeout_ms : 5000;
	uint32_t n = ws_soup_login_request(buf, s->cfg.user, s->cfg.password, sess, s->next_seq, hb * 3);
	s->in_len = 0;
	s->query_sent = 0;
	if (ws_write(s, buf, n, now) == 0)
		ws_link_to(s, WS_LINK_LOGIN_SENT, now);
}

static void ws_connecting(ws_session_t *s, uint64_t now)
{
	if (s->utcp) {
		enum ws_tcp_state st = ws_tcp_xsk_state(s->utcp);
		if (st == WS_TCP_ESTABLISHED) {
			s->last_rx_ns = now;
			ws_send_login(s, now);
		} else if (st != WS_TCP_SYN_SENT || now - s->link_at_ns > 2000000000ull) {
			ws_drop(s, WS_LDROP_CONNECT_FAILED, now); /* refused, or no answer: try again */
		}
		return;
	}
	int e = 0;
	socklen_t el = sizeof(e);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	if (getpeername(s->fd, (struct sockaddr *)&peer, &pl) == 0) {
		s->last_rx_ns = now;
		ws_send_login(s, now);
		return;
	}
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) || e)
		ws_drop(s, WS_LDROP_CONNECT_FAILED, now);
	else if (now - s->link_at_ns > 2000000000ull)
		ws_drop(s, WS_LDROP_CONNECT_FAILED, now); /* no answer at all: try again */
}

/* -- what the exchange says --------------------------------------------------------------------- */

static ws_order_t *ws_ord(ws_session_t *s, uint32_t urn)
{
	if (!urn || urn > s->max_orders || s->ord[urn - 1].urn != urn) {
		s->st.unknown_urn++;
		return NULL;
	}
	return &s->ord[urn - 1];
}

static int ws_live(const ws_order_t *o)
{
	return o->state == WS_ORD_PENDING || o->state == WS_ORD_ACCEPTED || o->state == WS_ORD_PARTIAL;
}

/* An order is over: what is still reserved goes back. */
static void ws_finish(ws_session_t *s, ws_order_t *o, uint8_t state)
{
	if (ws_live(o))
		ws_risk_release(s->risk, o->sym, o->side, o->open, o->rprice, 1);
	o->open = 0;
	o->state = state;
}

/* An order given up as never received that the exchange does know after
 * all: open again, with its risk, so none of its fills is missed. */
static void ws_revive(ws_session_t *s, ws_order_t *o)
{
	if (o->state != WS_ORD_REJECTED || o->reject_code != WS_ORD_NOT_RECEIVED)
		return;
	o->state = WS_ORD_PENDING;
	o->reject_code = 0;
	o->open = o->qty;
	ws_risk_reserve(s->risk, o->sym, o->side, o->open, o->rprice);
	s->st.lost_in_transit--;
	s->st.revived++;
}

static void ws_log_event(ws_session_t *s, const ws_ouch_msg_t *m, uint64_t seq, uint16_t sym, uint8_t flag)
{
	if (s->ev_n == s->ev_cap) {
		s->st.events_lost++;
		return;
	}
	ws_order_ev_t *e = &s->ev[s->ev_n++];
	*e = (ws_order_ev_t){.rx_ns = ws_epoch_ns(), .seq = seq, .timestamp = m->timestamp, .price = m->price,
	                     .match = m->match, .order_ref = m->order_ref, .urn = m->user_ref_num,
	                     .orig_urn = m->orig_user_ref_num, .qty = m->quantity, .sym = sym,
	                     .reject_code = m->reject_reason, .type = m->type, .flag = flag,
	                     .replayed = m->timestamp && m->timestamp < s->login_midnight_ns};
	if (m->type == 'Q')
		e->urn = m->next_user_ref_num;
}

static void ws_apply(ws_session_t *s, const ws_ouch_msg_t *m, uint64_t seq)
{
	ws_order_t *o = NULL;
	uint8_t flag = 0;
	switch (m->type) {
	case 'A':
		flag = (uint8_t)m->side;
		if ((o = ws_ord(s, m->user_ref_num)))
			ws_revive(s, o);
		if (o && o->state == WS_ORD_PENDING) {
			o->order_ref = m->order_ref;
			if (m->quantity < o->open) /* the exchange took fewer shares than asked */
				ws_risk_release(s->risk, o->sym, o->side, o->open - m->quantity, o->rprice, 0);
			o->open = m->quantity < o->open ? m->quantity : o->open;
			o->state = o->open ? WS_ORD_ACCEPTED : WS_ORD_CANCELED;
			if (!o->open)
				ws_risk_release(s->risk, o->sym, o->side, 0, o->rprice, 1);
		}
		break;
	case 'U': {
		flag = (uint8_t)m->side;
		ws_order_t *old = ws_ord(s, m->orig_user_ref_num);
		if ((o = ws_ord(s, m->user_ref_num)) && o->state == WS_ORD_PENDING) {
			o->order_ref = m->order_ref;
			if (old) {
				o->filled = old->filled;
				o->exec_notional = old->exec_notional;
				old->replaced_by = o->urn;
				ws_finish(s, old, WS_ORD_REPLACED);
			}
			if (m->quantity < o->open)
				ws_risk_release(s->risk, o->sym, o->side, o->open - m->quantity, o->rprice, 0);
			o->open = m->quantity < o->open ? m->quantity : o->open;
			o->state = o->filled ? WS_ORD_PARTIAL : WS_ORD_ACCEPTED;
			if (!o->open)
				ws_finish(s, o, WS_ORD_CANCELED);
		}
		break;
	}
	case 'E':
		flag = (uint8_t)m->liquidity;
		if ((o = ws_ord(s, m->user_ref_num)) && ws_live(o)) {
			uint32_t q = m->quantity < o->open ? m->quantity : o->open;
			o->open -= q;
			o->filled += q;
			o->exec_notional += (uint64_t)q * m->price;
			ws_risk_fill(s->risk, o->sym, o->side, q, o->rprice, (uint32_t)m->price, o->open == 0);
			o->state = o->open ? WS_ORD_PARTIAL : WS_ORD_FILLED;
			s->st.fills++;
			s->st.filled_shares += q;
		}
		break;
	case 'C':
	case 'D':
		flag = (uint8_t)m->reason;
		if ((o = ws_ord(s, m->user_ref_num)) && ws_live(o)) {
			uint32_t q = m->quantity < o->open ? m->quantity : o->open;
			o->open -= q;
			ws_risk_release(s->risk, o->sym, o->side, q, o->rprice, o->open == 0);
			if (!o->open)
				o->state = WS_ORD_CANCELED;
		}
		break;
	case 'M':
		flag = (uint8_t)m->side;
		if ((o = ws_ord(s, m->user_ref_num)) && ws_live(o) && m->quantity < o->open) {
			ws_risk_release(s->risk, o->sym, o->side, o->open - m->quantity, o->rprice, m->quantity == 0);
			o->open = m->quantity;
			if (!o->open)
				o->state = WS_ORD_CANCELED;
		}
		break;
	case 'J':
		if ((o = ws_ord(s, m->user_ref_num))) {
			o->reject_code = m->reject_reason;
			if (ws_live(o))
				ws_finish(s, o, WS_ORD_REJECTED);
		}
		break;
	case 'Q':
		s->st.exchange_next_urn = m->next_user_ref_num;
		if (s->query_sent && m->timestamp >= s->login_midnight_ns) {
			/* the answer to this login's query (a replayed one is older; an exchange clock
			 * behind ours only delays this, and ws_revive undoes a wrong call): orders sent
			 * before it that the exchange has not seen never reached it */
			s->query_sent = 0;
			for (uint32_t u = m->next_user_ref_num ? m->next_user_ref_num : 1; u < s->query_urn; u++) {
				ws_order_t *lost = u <= s->max_orders && s->ord[u - 1].urn == u ? &s->ord[u - 1] : NULL;
				if (lost && lost->state == WS_ORD_PENDING) {
					lost->reject_code = WS_ORD_NOT_RECEIVED;
					ws_finish(s, lost, WS_ORD_REJECTED);
					s->st.lost_in_transit++;
				}
			}
		}
		if (m->next_user_ref_num > s->st.next_urn && m->next_user_ref_num <= s->max_orders + 1) {
			/* the exchange saw numbers this journal did not keep: never use them again */
			s->st.next_urn = m->next_user_ref_num;
			atomic_store_explicit(&s->jh->next_urn, s->st.next_urn, memory_order_release);
		}
		break;
	case 'B':
	case 'R':
		flag = (uint8_t)m->reason;
		o = ws_ord(s, m->user_ref_num);
		break;
	case 'S':
		flag = (uint8_t)m->event;
		break;
	default:
		break;
	}
	ws_log_event(s, m, seq, o ? o->sym : 0xffff, flag);
}

static void ws_login_accepted(ws_session_t *s, const ws_soup_pkt_t *pkt, uint64_t now)
{
	if (pkt->payload_len != WS_SOUP_LOGIN_ACCEPTED_LEN - 1) {
		ws_drop(s, WS_LDROP_BAD_MESSAGE, now);
		return;
	}
	char sess[10];
	memcpy(sess, pkt->payload, 10);
	if (s->session_name[0] && memcmp(sess, s->session_name, 10)) {
		ws_drop(s, WS_LDROP_SESSION_MISMATCH, now); /* another day's session: this journal is not for it */
		return;
	}
	uint64_t seq = 0;
	for (int i = 10; i < 30; i++) {
		uint8_t c = pkt->payload[i];
		if (c >= '0' && c <= '9')
			seq = seq * 10 + (c - '0');
		else if (c != ' ') {
			ws_drop(s, WS_LDROP_BAD_MESSAGE, now);
			return;
		}
	}
	if (!s->session_name[0]) {
		memcpy(s->session_name, sess, 10);
		memcpy(s->jh->session, sess, 10);
	}
	if (seq > s->next_seq) { /* the exchange starts past what this side has seen: lost for good */
		s->st.seq_gaps++;
		s->st.seq_lost += seq - s->next_seq;
		s->next_seq = seq;
	}
	s->rx_seq = seq;
	s->st.logins++;
	s->login_midnight_ns = ws_midnight_ns();
	ws_link_to(s, WS_LINK_UP, now);
	/* the exchange's next UserRefNum: a check on the journal's */
	uint8_t q[8];
	uint32_t n = ws_soup_header(q, WS_SOUP_UNSEQUENCED, 1);
	q[n++] = 'Q';
	if (ws_write(s, q, n, now) == 0) {
		s->st.sent_by_type['Q']++;
		s->query_sent = 1;
		s->query_urn = s->st.next_urn;
	}
}

/* One packet from the exchange. */
static void ws_packet(ws_session_t *s, const ws_soup_pkt_t *pkt, uint64_t now)
{
	switch (pkt->type) {
	case WS_SOUP_LOGIN_ACCEPTED:
		if (s->link != WS_LINK_LOGIN_SENT) {
			ws_drop(s, WS_LDROP_UNEXPECTED, now);
			return;
		}
		ws_login_accepted(s, pkt, now);
		return;
	case WS_SOUP_LOGIN_REJECTED:
		s->st.login_rejected++;
		/* 'S': the session is busy (the exchange has not seen our old connection go yet) or not
		 * there: try again later; anything else (bad credentials) will not heal by retrying */
		if (pkt->payload_len >= 1 && pkt->payload[0] == WS_SOUP_REJECT_SESSION) {
			ws_drop(s, WS_LDROP_LOGIN_REJECTED, now);
		} else {
			ws_drop(s, WS_LDROP_LOGIN_REJECTED, now);
			ws_link_to(s, WS_LINK_CLOSED, now);
		}
		return;
	case WS_SOUP_SERVER_HEARTBEAT:
		s->st.heartbeats_recv++;
		return;
	case WS_SOUP_DEBUG:
		return;
	case WS_SOUP_END_OF_SESSION:
		ws_drop(s, WS_LDROP_END_OF_SESSION, now);
		return;
	case WS_SOUP_SEQUENCED:
	case WS_SOUP_UNSEQUENCED: {
		if (s->link != WS_LINK_UP) {
			ws_drop(s, WS_LDROP_UNEXPECTED, now);
			return;
		}
		ws_ouch_msg_t m;
		if (ws_ouch_decode(WS_OUCH_OUT, pkt->payload, pkt->payload_len, &m)) {
			ws_drop(s, WS_LDROP_BAD_MESSAGE, now);
			return;
		}
		s->st.recv_by_type[m.type & 127]++;
		if (pkt->type == WS_SOUP_UNSEQUENCED) {
			ws_apply(s, &m, 0);
			return;
		}
		uint64_t seq = s->rx_seq++;
		if (seq < s->next_seq)
			return; /* applied before the reconnect: a replay's overlap, applied once */
		if (m.timestamp && m.timestamp < s->login_midnight_ns)
			s->st.replayed++;
		s->next_seq = seq + 1;
		s->st.next_seq = s->next_seq;
		ws_apply(s, &m, seq);
		return;
	}
	default:
		ws_drop(s, WS_LDROP_UNEXPECTED, now);
		return;
	}
}

static void ws_read(ws_session_t *s, uint64_t now)
{
	for (int rounds = 0; rounds < 64 && s->fd >= 0; rounds++) {
		ssize_t k = ws_io_recv(s, s->in + s->in_len, WS_IN_CAP - s->in_len, now);
		if (k == 0) {
			ws_drop(s, WS_LDROP_CLOSED, now);
			return;
		}
		if (k < 0) {
			if (k != -EAGAIN)
				ws_drop(s, WS_LDROP_SOCKET_ERROR, now);
			return;
		}
		s->in_len += (uint32_t)k;
		s->st.bytes_in += (uint64_t)k;
		s->last_rx_ns = now;
		uint32_t off = 0;
		while (s->fd >= 0) {
			ws_soup_pkt_t pkt;
			int n = ws_soup_next(s->in + off, s->in_len - off, WS_IN_CAP - 2, &pkt);
			if (n < 0) {
				ws_drop(s, WS_LDROP_FRAMING, now);
				return;
			}
			if (n == 0)
				break;
			off += (uint32_t)n;
			ws_packet(s, &pkt, now);
		}
		if (s->fd < 0)
			return;
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
	}
}

void ws_session_service(ws_session_t *s, uint64_t now)
{
	uint64_t reconnect = (uint64_t)(s->cfg.reconnect_ms ? s->cfg.reconnect_ms : 200) * 1000000ull;
	uint64_t hb = (uint64_t)(s->cfg.heartbeat_ms ? s->cfg.heartbeat_ms : 1000) * 1000000ull;
	uint64_t timeout = (uint64_t)(s->cfg.server_timeout_ms ? s->cfg.server_timeout_ms : 5000) * 1000000ull;
	if (s->utcp && s->fd >= 0)
		ws_tcp_xsk_poll(s->utcp, now); /* segments in, ACKs and retransmissions out */
	switch (s->link) {
	case WS_LINK_CLOSED:
		return;
	case WS_LINK_DOWN:
		if (!s->st.connects || now - s->link_at_ns >= reconnect)
			ws_connect(s, now);
		return;
	case WS_LINK_CONNECTING:
		ws_connecting(s, now);
		return;
	default:
		break;
	}
	ws_flush(s, now);
	ws_read(s, now);
	if (s->fd < 0)
		return;
	if (now > s->last_rx_ns && now - s->last_rx_ns > timeout) {
		ws_drop(s, WS_LDROP_SERVER_TIMEOUT, now);
		return;
	}
	if (s->link == WS_LINK_UP && (now < s->last_tx_ns ? 0 : now - s->last_tx_ns) >= hb) {
		uint8_t h[3];
		if (ws_write(s, h, ws_soup_header(h, WS_SOUP_CLIENT_HEARTBEAT, 0), now) == 0)
			s->st.heartbeats_sent++;
	}
}

int ws_session_fd(const ws_session_t *s) { return s->fd; }
int ws_session_wants_write(const ws_session_t *s)
{
	return !s->utcp && (s->link == WS_LINK_CONNECTING || s->out_len); /* an XSK's POLLOUT means TX ring room */
}

int ws_session_use_tcp_xsk(ws_session_t *s, ws_tcp_xsk_t *t)
{
	if (t ? s->st.connects != 0 : s->link != WS_LINK_CLOSED)
		return -EBUSY;
	s->utcp = t;
	return 0;
}

/* -- orders ------------------------------------------------------------------------------------- */

static int ws_valid(char side, uint32_t qty, uint32_t price, char tif)
{
	return qty && qty <= WS_OUCH_MAX_QUANTITY && price && price <= WS_OUCH_MAX_PRICE &&
	       (side == 'B' || side == 'S' || side == 'T' || side == 'E') && (tif == '0' || tif == '3');
}

/* The price a sell's reservation counts at: a marketable sell trades at
 * the bids, up to the best, so its notional is at most shares x bid. */
static uint32_t ws_rprice(char side, uint32_t price, const ws_risk_ref_t *ref)
{
	return side != 'B' && ref->bid > price ? ref->bid : price;
}

static void ws_journal_put(ws_session_t *s, const ws_order_t *o)
{
	ws_jrec_t *j = &s->jr[o->urn - 1];
	j->urn = o->urn;
	j->orig_urn = o->orig_urn;
	j->qty = o->qty;
	j->price = o->price;
	j->rprice = o->rprice;
	memcpy(j->symbol, s->sym[o->sym], 8);
	j->side = o->side;
	j->tif = o->tif;
	j->sent_ns = o->sent_ns;
	memcpy(j->clordid, o->clordid, 14);
	atomic_store_explicit(&j->written, 1, memory_order_release);
	atomic_store_explicit(&s->jh->next_urn, o->urn + 1, memory_order_release);
}

/* What every order that adds risk goes through, in this order: the link,
 * the checks, the journal's room; only then may bytes go. Returns 0 with
 * *out the new order (UserRefNum taken), or the refusal: minus a risk
 * check or an enum ws_ord_err (see session.h). */
static int ws_admit(ws_session_t *s, uint32_t sym, char side, uint32_t qty, uint32_t price, char tif,
                    const ws_order_t *replacing, uint64_t now, ws_order_t **out)
{
	if (sym >= s->n_sym) {
		s->st.refused_symbol++;
		return WS_ORD_UNKNOWN_SYMBOL;
	}
	if (!ws_valid(side, qty, price, tif)) {
		s->st.refused_bad++;
		return WS_ORD_BAD_ORDER;
	}
	if (s->link != WS_LINK_UP) {
		s->st.refused_link++;
		return WS_ORD_LINK_DOWN;
	}
	ws_risk_ref_t ref = ws_session_ref(s, sym);
	uint32_t rprice = ws_rprice(side, price, &ref);
	uint32_t rep[2] = {0, 0};
	if (replacing) {
		rep[0] = replacing->open;
		rep[1] = replacing->rprice;
	}
	int v = ws_risk_check(s->risk, sym, side, qty, price, rprice, &ref, replacing ? rep : NULL, now);
	if (v)
		return -v;
	uint32_t urn = s->st.next_urn;
	if (urn > s->max_orders) {
		s->st.refused_journal++;
		return WS_ORD_JOURNAL_FULL;
	}
	if (s->out_len + WS_ENTER_LEN > WS_OUT_CAP) {
		s->st.refused_backpressure++;
		return WS_ORD_BACKPRESSURE;
	}
	ws_order_t *o = &s->ord[urn - 1];
	*o = (ws_order_t){.urn = urn, .sym = (uint16_t)sym, .side = side, .tif = tif, .state = WS_ORD_PENDING,
	                  .qty = qty, .open = qty, .price = price, .rprice = rprice, .sent_ns = ws_epoch_ns()};
	s->st.next_urn = urn + 1;
	*out = o;
	return 0;
}

static void ws_clordid(char dst[14], const char *src)
{
	if (src)
		memcpy(dst, src, 14);
	else
		memset(dst, ' ', 14);
}

/* After the write: a sent order reserves its risk; one that could not be
 * sent (journaled, so its number stays used up) is rejected locally. */
static int64_t ws_sent(ws_session_t *s, ws_order_t *o, int rc, uint8_t type, uint64_t now)
{
	if (rc) {
		o->state = WS_ORD_REJECTED;
		o->open = 0;
		o->reject_code = WS_ORD_NOT_SENT;
		if (rc == WS_ORD_SEND_FAILED)
			s->st.refused_link++;
		return rc;
	}
	ws_risk_commit(s->risk, o->sym, o->side, o->open, o->price, o->rprice, now);
	s->st.sent_by_type[type]++;
	return o->urn;
}

int64_t ws_session_enter(ws_session_t *s, uint32_t sym, char side, uint32_t qty, uint32_t price, char tif,
                         const char *clordid, uint64_t now_ns)
{
	ws_order_t *o;
	int rc = ws_admit(s, sym, side, qty, price, tif, NULL, now_ns, &o);
	if (rc)
		return rc;
	ws_clordid(o->clordid, clordid);
	ws_journal_put(s, o);
	uint8_t *t = s->tpl[sym][side == 'B' ? 0 : 1];
	ws_be32(t + s->off_urn, o->urn);
	t[s->off_side] = (uint8_t)side;
	ws_be32(t + s->off_qty, qty);
	ws_be64(t + s->off_price, price);
	t[s->off_tif] = (uint8_t)tif;
	memcpy(t + s->off_clordid, o->clordid, 14);
	return ws_sent(s, o, ws_write(s, t, WS_ENTER_LEN, now_ns), 'O', now_ns);
}

int64_t ws_session_replace(ws_session_t *s, uint32_t urn, uint32_t qty, uint32_t price, const char *clordid,
                           uint64_t now_ns)
{
	const ws_order_t *old = urn && urn <= s->max_orders && s->ord[urn - 1].urn == urn ? &s->ord[urn - 1] : NULL;
	if (!old || !ws_live(old) || old->replaced_by) {
		s->st.refused_unknown++;
		return WS_ORD_UNKNOWN_ORDER;
	}
	if (qty <= old->filled) { /* OUCH's quantity includes what executed: this would leave nothing */
		s->st.refused_bad++;
		return WS_ORD_BAD_ORDER;
	}
	ws_order_t *o;
	int rc = ws_admit(s, old->sym, old->side, qty - old->filled, price, old->tif, old, now_ns, &o);
	if (rc)
		return rc;
	o->orig_urn = urn;
	o->filled = old->filled;
	ws_clordid(o->clordid, clordid);
	ws_journal_put(s, o);
	ws_ouch_msg_t m = {.type = 'U', .orig_user_ref_num = urn, .user_ref_num = o->urn, .quantity = qty,
	                   .price = price, .tif = old->tif, .display = 'Y', .ims = 'N', .has_app = 1};
	memcpy(m.clordid, o->clordid, 14);
	uint8_t buf[64];
	uint32_t n = ws_ouch_size(WS_OUCH_IN, &m);
	uint32_t h = ws_soup_header(buf, WS_SOUP_UNSEQUENCED, n);
	ws_ouch_encode(WS_OUCH_IN, &m, buf + h);
	return ws_sent(s, o, ws_write(s, buf, h + n, now_ns), 'U', now_ns);
}

static int ws_send_in(ws_session_t *s, const ws_ouch_msg_t *m, uint64_t now)
{
	uint8_t buf[64];
	uint32_t n = ws_ouch_size(WS_OUCH_IN, m);
	uint32_t h = ws_soup_header(buf, WS_SOUP_UNSEQUENCED, n);
	ws_ouch_encode(WS_OUCH_IN, m, buf + h);
	int rc = ws_write(s, buf, h + n, now);
	if (!rc)
		s->st.sent_by_type[m->type]++;
	return rc;
}

int ws_session_cancel(ws_session_t *s, uint32_t urn, uint32_t qty)
{
	const ws_order_t *o = urn && urn <= s->max_orders && s->ord[urn - 1].urn == urn ? &s->ord[urn - 1] : NULL;
	if (!o || !ws_live(o)) {
		s->st.refused_unknown++;
		return WS_ORD_UNKNOWN_ORDER;
	}
	if (s->link != WS_LINK_UP) {
		s->st.refused_link++;
		return WS_ORD_LINK_DOWN;
	}
	ws_ouch_msg_t m = {.type = 'X', .user_ref_num = urn, .quantity = qty};
	return ws_send_in(s, &m, ws_mono_ns());
}

int ws_session_kill(ws_session_t *s, int disable)
{
	ws_risk_kill(s->risk, 1);
	if (s->link != WS_LINK_UP)
		return 0;
	int sent = 0;
	uint32_t top = s->st.next_urn - 1;
	for (uint32_t u = 1; u <= top && u <= s->max_orders; u++)
		if (s->ord[u - 1].urn == u && ws_live(&s->ord[u - 1]) && !s->ord[u - 1].replaced_by &&
		    ws_session_cancel(s, u, 0) == 0)
			sent++;
	if (disable && s->st.next_urn <= s->max_orders) {
		/* Disable Order Entry takes a UserRefNum of its own: journal it as used */
		uint32_t urn = s->st.next_urn++;
		atomic_store_explicit(&s->jh->next_urn, s->st.next_urn, memory_order_release);
		ws_ouch_msg_t m = {.type = 'D', .user_ref_num = urn, .has_app = 1};
		ws_ouch_alpha(m.firm, s->cfg.firm, 4);
		ws_send_in(s, &m, ws_mono_ns());
	}
	return sent;
}

void ws_session_unkill(ws_session_t *s) { ws_risk_kill(s->risk, 0); }

void ws_session_close(ws_session_t *s)
{
	if (s->link == WS_LINK_UP) {
		uint8_t h[3];
		ws_write(s, h, ws_soup_header(h, WS_SOUP_LOGOUT_REQUEST, 0), ws_mono_ns());
		ws_flush(s, ws_mono_ns());
	}
	ws_drop(s, WS_LDROP_USER, ws_mono_ns());
}

int ws_session_sync(ws_session_t *s) { return msync(s->jh, s->jlen, MS_SYNC) ? -errno : 0; }

const ws_session_stats_t *ws_session_stats(const ws_session_t *s) { return &s->st; }
ws_risk_t *ws_session_risk(ws_session_t *s) { return s->risk; }
uint32_t ws_session_max_urn(const ws_session_t *s) { return s->st.next_urn - 1; }
uint32_t ws_session_symbols(const ws_session_t *s) { return s->n_sym; }
const char *ws_session_symbol(const ws_session_t *s, uint32_t sym) { return sym < s->n_sym ? s->sym[sym] : NULL; }

const ws_order_t *ws_session_order(const ws_session_t *s, uint32_t urn)
{
	return urn && urn <= s->max_orders && s->ord[urn - 1].urn == urn ? &s->ord[urn - 1] : NULL;
}

const ws_order_ev_t *ws_session_take_events(ws_session_t *s, uint32_t *n)
{
	*n = s->ev_n;
	s->ev_n = 0;
	return s->ev;
}

/* wirespeed/orders/session.py reads these byte for byte (ORDER_DTYPE, EVENT_DTYPE). */
_Static_assert(sizeof(ws_order_t) == 80 && offsetof(ws_order_t, clordid) == 64, "ws_order_t layout");
_Static_assert(sizeof(ws_order_ev_t) == 72 && offsetof(ws_order_ev_t, replayed) == 66, "ws_order_ev_t layout");
