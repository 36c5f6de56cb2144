/* exchange/port.c - the order port; see port.h for the contract.
 *
 * Shape: one epoll set holds the listening socket and every connection.
 * An account's sequenced messages go into its log as whole SoupBinTCP 'S'
 * packets; a logged-in connection copies from the log into its output
 * buffer while that holds less than WS_OUT_PULL bytes, so live sending and
 * replay after a reconnect are one path, and a slow reader costs its own
 * buffer only. An account's orders live in a pool of slots; the slot index
 * is the order's tag in the engine, and an open-addressing table maps the
 * UserRefNum to it.
 */
#include "exchange/port.h"

#include <errno.h>
#include <linux/net_tstamp.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h> /* struct scm_timestamping: after <time.h>, which it needs */

#include "orders/ouch.h"
#include "orders/soupbin.h"
#include "system/clock.h"

const char *const ws_port_drop_names[WS_PORT_DROPS] = {
	"closed", "logout", "framing", "bad_message", "bad_login", "before_login", "second_login",
	"unknown_packet", "login_timeout", "heartbeat_timeout", "login_rejected", "too_many", "socket_error",
	"end_of_session",
};

#define WS_IN_CAP 65536u         /* a connection's input buffer */
#define WS_PKT_MAX 2048u         /* the longest packet a client may send (an Enter with its appendage) */
#define WS_OUT_PULL 65536u       /* log entries are copied out while the output holds less than this */
#define WS_HB_TIMEOUT_NS 15000000000ull /* a 4.0 client's silence allowance */
#define WS_LISTEN ((uint64_t)-1) /* epoll tag of the listening socket */
#define WS_NONE 0xffffffffu

enum { WS_CTX_NONE = 0, WS_CTX_MODIFY, WS_CTX_REPLACE };

typedef struct {
	uint32_t urn;
	uint32_t handle;          /* in the engine (WS_MATCH_NONE: not resting) */
	uint32_t price, open, executed, next_free;
	uint16_t locate;
	char side, tif, display, capacity, ims, cross_type;
	char clordid[14];
	uint8_t used;
} ws_porder_t;

typedef struct {
	ws_port_account_t cfg;
	uint32_t id;              /* its owner number in the engine */
	uint32_t last_urn;
	int disabled;
	int conn;                 /* the connection logged in, -1 none */
	uint8_t *log;             /* whole 'S' packets */
	uint64_t log_len, log_cap;
	uint64_t *seq_off;        /* seq_off[k]: where sequence k+1 starts in the log */
	uint64_t n_seq, seq_cap;
	ws_porder_t *ord;         /* max_open slots */
	uint32_t free_ord, n_open;
	uint32_t *urn_tab;        /* slot + 1 (0: empty), linear probing */
	uint32_t urn_mask;
	uint64_t rate_window_ns;
	uint32_t rate_n;
} ws_account_t;

typedef struct {
	int fd;                   /* -1: a free slot */
	int account;              /* -1 until logged in */
	int closing;              /* drop with this reason + 1 once the output is out */
	int want_write;
	int backlog;              /* whole packets left for the next poll (WS_PORT_BURST) */
	uint64_t opened_ns, last_rx_ns, last_tx_ns, timeout_ns;
	uint64_t rx_stamp_ns;     /* the kernel's receive stamp of the last read (with env.stamps) */
	uint64_t next_seq;        /* the next log entry to copy out */
	uint8_t *in;
	uint32_t in_len;
	uint8_t *out;
	uint32_t out_len, out_off, out_cap;
} ws_conn_t;

struct ws_port {
	ws_port_cfg_t cfg;
	ws_port_env_t env;
	ws_port_stats_t *st;
	int ep;
	int market_closed;
	uint32_t n_acct;
	ws_account_t acct[WS_PORT_MAX_ACCOUNTS];
	ws_conn_t conn[WS_PORT_MAX_CONNS];
	char session[11];         /* trimmed, for comparing with a login's */
	int ctx_mode;             /* what the engine call under way means for the client's order */
	uint32_t ctx_owner, ctx_slot;
};

/* -- accounts' orders ------------------------------------------------------------- */

static uint32_t ws_urn_hash(uint32_t urn, uint32_t mask) { return (urn * 2654435761u) & mask; }

static ws_porder_t *ws_order_of(ws_account_t *a, uint32_t urn, uint32_t *slot)
{
	for (uint32_t i = ws_urn_hash(urn, a->urn_mask);; i = (i + 1) & a->urn_mask) {
		uint32_t v = a->urn_tab[i];
		if (!v)
			return NULL;
		if (a->ord[v - 1].urn == urn) {
			*slot = v - 1;
			return &a->ord[v - 1];
		}
	}
}

/* The account's resting order named urn; NULL (counted: unknown_order)
 * if there is none, as for a cancel of what already traded away. */
static ws_porder_t *ws_open_order(ws_port_t *p, ws_account_t *a, uint32_t urn, uint32_t *slot)
{
	ws_porder_t *o = ws_order_of(a, urn, slot);
	if (o && o->handle != WS_MATCH_NONE)
		return o;
	p->st->unknown_order++;
	return NULL;
}

static void ws_urn_put(ws_account_t *a, uint32_t urn, uint32_t slot)
{
	uint32_t i = ws_urn_hash(urn, a->urn_mask);
	while (a->urn_tab[i])
		i = (i + 1) & a->urn_mask;
	a->urn_tab[i] = slot + 1;
}

/* Remove urn from the table, shifting back what probed past it. */
static void ws_urn_del(ws_account_t *a, uint32_t urn)
{
	uint32_t i = ws_urn_hash(urn, a->urn_mask);
	while (a->urn_tab[i] && a->ord[a->urn_tab[i] - 1].urn != urn)
		i = (i + 1) & a->urn_mask;
	if (!a->urn_tab[i])
		return;
	a->urn_tab[i] = 0;
	for (uint32_t j = (i + 1) & a->urn_mask; a->urn_tab[j]; j = (j + 1) & a->urn_mask) {
		uint32_t v = a->urn_tab[j];
		uint32_t home = ws_urn_hash(a->ord[v - 1].urn, a->urn_mask);
		/* move v back to i if its home is not in (i, j] (cyclically) */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			a->urn_tab[i] = v;
			a->urn_tab[j] = 0;
			i = j;
		}
	}
}

static uint32_t ws_slot_new(ws_account_t *a)
{
	uint32_t s = a->free_ord;
	if (s == WS_NONE)
		return WS_NONE;
	a->free_ord = a->ord[s].next_free;
	memset(&a->ord[s], 0, sizeof(a->ord[s]));
	a->ord[s].used = 1;
	a->ord[s].handle = WS_MATCH_NONE;
	a->n_open++;
	return s;
}

static void ws_slot_free(ws_account_t *a, uint32_t s)
{
	ws_porder_t *o = &a->ord[s];
	if (!o->used)
		return;
	ws_urn_del(a, o->urn);
	o->used = 0;
	o->next_free = a->free_ord;
	a->free_ord = s;
	a->n_open--;
}

/* -- output ------------------------------------------------------------------------ */

static int ws_grow(uint8_t **buf, uint32_t *cap, uint64_t need)
{
	if (need <= *cap)
		return 0;
	uint64_t c = *cap ? *cap : 4096;
	while (c < need)
		c *= 2;
	if (c > UINT32_MAX)
		return -1;
	uint8_t *b = realloc(*buf, c);
	if (!b)
		return -1;
	*buf = b;
	*cap = (uint32_t)c;
	return 0;
}

static void ws_drop(ws_port_t *p, int i, int reason);

static void ws_conn_out(ws_port_t *p, int i, const uint8_t *data, uint32_t n)
{
	ws_conn_t *c = &p->conn[i];
	if (c->out_off && c->out_len + n > c->out_cap) { /* what was sent makes room first */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (ws_grow(&c->out, &c->out_cap, (uint64_t)c->out_len + n)) {
		ws_drop(p, i, WS_DROP_SOCKET_ERROR); /* out of memory for one connection: it goes, nothing else */
		return;
	}
	memcpy(c->out + c->out_len, data, n);
	c->out_len += n;
	c->last_tx_ns = ws_mono_ns();
}

/* Copy the account's log entries the connection has not had, while its output is short. */
static void ws_conn_pull(ws_port_t *p, int i)
{
	ws_conn_t *c = &p->conn[i];
	ws_account_t *a = &p->acct[c->account];
	while (c->fd >= 0 && c->next_seq <= a->n_seq && c->out_len - c->out_off < WS_OUT_PULL) {
		uint64_t k = c->next_seq - 1;
		uint64_t end = k + 1 < a->n_seq ? a->seq_off[k + 1] : a->log_len;
		ws_conn_out(p, i, a->log + a->seq_off[k], (uint32_t)(end - a->seq_off[k]));
		c->next_seq++;
	}
}

static void ws_want_write(ws_port_t *p, int i, int on)
{
	ws_conn_t *c = &p->conn[i];
	if (c->want_write == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u64 = (uint64_t)i};
	epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_write = on;
}

/* Write what the connection holds; pull more from the log as it empties. */
static void ws_conn_flush(ws_port_t *p, int i)
{
	ws_conn_t *c = &p->conn[i];
	for (int round = 0; c->fd >= 0 && round < 64; round++) {
		if (c->account >= 0)
			ws_conn_pull(p, i);
		if (c->fd < 0 || c->out_off == c->out_len)
			break;
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ws_want_write(p, i, 1);
				return;
			}
			if (errno == EINTR)
				continue;
			ws_drop(p, i, WS_DROP_SOCKET_ERROR);
			return;
		}
		p->st->bytes_out += (uint64_t)n;
		c->out_off += (uint32_t)n;
		if (c->out_off == c->out_len)
			c->out_off = c->out_len = 0;
	}
	if (c->fd < 0)
		return;
	if (c->out_off == c->out_len) {
		ws_want_write(p, i, 0);
		if (c->closing)
			ws_drop(p, i, c->closing - 1);
	} else {
		ws_want_write(p, i, 1);
	}
}

/* A sequenced OUCH message to an account: into its log, and on to its session. */
static void ws_send(ws_port_t *p, ws_account_t *a, ws_ouch_msg_t *m)
{
	m->timestamp = ws_midnight_ns();
	uint32_t n = ws_ouch_size(WS_OUCH_OUT, m);
	if (a->log_len + 3 + n > a->log_cap) {
		uint64_t cap = a->log_cap ? a->log_cap : 65536;
		while (cap < a->log_len + 3 + n)
			cap *= 2;
		uint8_t *b = realloc(a->log, cap);
		if (!b) {
			p->st->log_lost++; /* out of memory: counted, never short of that */
			return;
		}
		a->log = b;
		a->log_cap = cap;
	}
	if (a->n_seq == a->seq_cap) {
		uint64_t cap = a->seq_cap ? 2 * a->seq_cap : 4096;
		uint64_t *s = realloc(a->seq_off, cap * sizeof(*s));
		if (!s) {
			p->st->log_lost++;
			return;
		}
		a->seq_off = s;
		a->seq_cap = cap;
	}
	uint8_t *dst = a->log + a->log_len;
	ws_soup_header(dst, WS_SOUP_SEQUENCED, n);
	ws_ouch_encode(WS_OUCH_OUT, m, dst + 3);
	a->seq_off[a->n_seq++] = a->log_len;
	a->log_len += 3 + n;
	p->st->out_by_type[m->type & 127]++;
	if (a->conn >= 0)
		ws_conn_flush(p, a->conn);
}

static void ws_send_unsequenced(ws_port_t *p, int i, uint8_t type, const uint8_t *payload, uint32_t n)
{
	uint8_t buf[64];
	ws_soup_header(buf, type, n);
	if (n)
		memcpy(buf + 3, payload, n);
	ws_conn_out(p, i, buf, 3 + n);
}

/* -- connections -------------------------------------------------------------------- */

static void ws_drop(ws_port_t *p, int i, int reason)
{
	ws_conn_t *c = &p->conn[i];
	if (c->fd < 0)
		return;
	close(c->fd); /* leaves the epoll set too */
	c->fd = -1;
	if (c->account >= 0) {
		p->acct[c->account].conn = -1;
		p->st->sessions_now--;
	}
	c->account = -1;
	c->in_len = c->out_len = c->out_off = 0;
	c->backlog = 0;
	p->st->drops[reason]++;
}

static void ws_accept(ws_port_t *p, uint64_t now)
{
	for (;;) {
		int fd = accept4(p->cfg.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int i = 0;
		while (i < WS_PORT_MAX_CONNS && p->conn[i].fd >= 0)
			i++;
		if (i == WS_PORT_MAX_CONNS) {
			close(fd);
			p->st->drops[WS_DROP_TOO_MANY]++;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (p->env.stamps) { /* software receive stamps, for tick-to-trade at the exchange */
			int f = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
			setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &f, sizeof(f));
		}
		ws_conn_t *c = &p->conn[i];
		c->fd = fd;
		c->account = -1;
		c->closing = c->want_write = 0;
		c->opened_ns = c->last_rx_ns = c->last_tx_ns = now;
		c->in_len = c->out_len = c->out_off = 0;
		if (!c->in && !(c->in = malloc(WS_IN_CAP))) {
			close(fd);
			c->fd = -1;
			p->st->drops[WS_DROP_SOCKET_ERROR]++;
			continue;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
		if (epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			c->fd = -1;
			p->st->drops[WS_DROP_SOCKET_ERROR]++;
			continue;
		}
		p->st->connections++;
	}
}

static void ws_reject_login(ws_port_t *p, int i, uint8_t reason, uint64_t *counter)
{
	uint8_t pkt[4];
	ws_soup_login_rejected(pkt, reason);
	ws_conn_out(p, i, pkt, 4);
	(*counter)++;
	p->conn[i].closing = WS_DROP_LOGIN_REJECTED + 1;
	ws_conn_flush(p, i);
}

static void ws_login(ws_port_t *p, int i, const ws_soup_pkt_t *pkt)
{
	ws_soup_login_t l;
	if (ws_soup_login_parse(pkt->payload, pkt->payload_len, &l)) {
		ws_drop(p, i, WS_DROP_BAD_LOGIN);
		return;
	}
	uint32_t k = 0;
	while (k < p->n_acct && strcmp(p->acct[k].cfg.user, l.username))
		k++;
	if (k == p->n_acct || strcmp(p->acct[k].cfg.password, l.password)) {
		ws_reject_login(p, i, WS_SOUP_REJECT_NOT_AUTHORIZED, &p->st->rejected_auth);
		return;
	}
	if (l.session[0] && strcmp(l.session, p->session)) {
		ws_reject_login(p, i, WS_SOUP_REJECT_SESSION, &p->st->rejected_session);
		return;
	}
	ws_account_t *a = &p->acct[k];
	if (a->conn >= 0) { /* one session per account at a time */
		ws_reject_login(p, i, WS_SOUP_REJECT_SESSION, &p->st->rejected_busy);
		return;
	}
	ws_conn_t *c = &p->conn[i];
	c->account = (int)k;
	a->conn = i;
	c->next_seq = !l.sequence || l.sequence > a->n_seq + 1 ? a->n_seq + 1 : l.sequence;
	c->timeout_ns = l.heartbeat_timeout_ms ? (uint64_t)l.heartbeat_timeout_ms * 1000000ull : WS_HB_TIMEOUT_NS;
	uint8_t out[40];
	ws_conn_out(p, i, out, ws_soup_login_accepted(out, p->session, c->next_seq));
	p->st->logins++;
	p->st->sessions_now++;
	ws_conn_flush(p, i);
}

/* -- OUCH ------------------------------------------------------------------------------ */

static ws_ouch_msg_t ws_out_msg(uint8_t type, uint32_t urn)
{
	ws_ouch_msg_t m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.user_ref_num = urn;
	return m;
}

static void ws_reject(ws_port_t *p, ws_account_t *a, uint32_t urn, uint16_t reason, const char *clordid)
{
	ws_ouch_msg_t m = ws_out_msg('J', urn);
	m.reject_reason = reason;
	memcpy(m.clordid, clordid, 14);
	p->st->rejects[reason & 63]++;
	ws_send(p, a, &m);
}

static uint16_t ws_locate_of(const ws_port_t *p, const char sym[8])
{
	for (uint32_t k = 0; k < p->env.n_symbols; k++)
		if (!memcmp(p->env.symbols[k], sym, 8))
			return (uint16_t)(k + 1);
	return 0;
}

/* The book's reference price for the collar: the other side's best, else this side's (0: an empty book). */
static uint32_t ws_ref_price(const ws_port_t *p, uint16_t locate, char side)
{
	uint32_t bp, bq, ap, aq;
	ws_match_bbo(p->env.engine, locate, &bp, &bq, &ap, &aq);
	if (side == 'B')
		return ap ? ap : bp;
	return bp ? bp : ap;
}

/* The risk checks shared by Enter and Replace; 0 or a reject reason. */
static uint16_t ws_risk(const ws_port_t *p, const ws_account_t *a, uint16_t locate, char side, uint32_t price,
                        uint32_t qty, int new_order)
{
	const ws_port_account_t *r = &a->cfg;
	if (a->disabled)
		return WS_OUCH_REJ_FIRM_NOT_AUTHORIZED; /* the kill switch */
	if (r->max_msgs_per_s && a->rate_n > r->max_msgs_per_s)
		return WS_OUCH_REJ_PORT_MESSAGE_RATE;
	if (qty > (r->max_order_qty ? r->max_order_qty : WS_OUCH_MAX_QUANTITY))
		return WS_OUCH_REJ_MAX_QUANTITY;
	if (r->max_notional && (uint64_t)price * qty > r->max_notional)
		return WS_OUCH_REJ_SINGLE_ORDER_NOTIONAL;
	uint32_t ref = r->collar_bp ? ws_ref_price(p, locate, side) : 0;
	if (ref) {
		uint64_t band = (uint64_t)ref * r->collar_bp / 10000u;
		if ((side == 'B' && price > ref + band) || (side != 'B' && (uint64_t)price + band < ref))
			return WS_OUCH_REJ_RISK_FAT_FINGER;
	}
	if (new_order && a->n_open >= (r->max_open ? r->max_open : 10000u))
		return WS_OUCH_REJ_AGGREGATE_EXPOSURE;
	return 0;
}

/* The order-level checks of an Enter; 0 or a reject reason. */
static uint16_t ws_check_enter(const ws_port_t *p, const ws_account_t *a, const ws_ouch_msg_t *m, uint16_t *locate)
{
	if (p->market_closed)
		return 0x0002; /* Destination Closed */
	if (m->side != 'B' && m->side != 'S' && m->side != 'T' && m->side != 'E')
		return WS_OUCH_REJ_INVALID_SIDE;
	if (!m->quantity || m->quantity > WS_OUCH_MAX_QUANTITY)
		return WS_OUCH_REJ_INVALID_QUANTITY;
	if (!(*locate = ws_locate_of(p, m->symbol)))
		return WS_OUCH_REJ_INVALID_SYMBOL;
	if (!m->price || m->price > WS_OUCH_MAX_PRICE)
		return WS_OUCH_REJ_INVALID_PRICE;
	if (m->tif != '0' && m->tif != '3')
		return WS_OUCH_REJ_OTHER;       /* only Day and IOC trade here */
	if (m->display != 'Y' && m->display != 'A')
		return 0x0003;                  /* Invalid Display: nothing hidden here */
	if (m->ims != 'N')
		return 0x0008;                  /* ISO Not Allowed */
	if (m->cross_type != 'N')
		return 0x0014;                  /* Invalid Cross Order: continuous market only */
	uint32_t off = 0, vl;
	uint8_t tag;
	const uint8_t *v;
	while (ws_ouch_option_next(m->app, m->app_len, &off, &tag, &v, &vl) == 1) {
		if (tag == WS_OUCH_TAG_FIRM && memcmp(v, a->cfg.firm, 4))
			return WS_OUCH_REJ_FIRM_NOT_AUTHORIZED;
		if (tag != WS_OUCH_TAG_FIRM && tag != 4 && tag != 25 && tag != 26)
			return WS_OUCH_REJ_OTHER;   /* an option the simulator does not implement: said, not ignored */
	}
	return 0;
}

static void ws_fill_order_fields(ws_ouch_msg_t *m, const ws_port_t *p, const ws_porder_t *o)
{
	m->side = o->side;
	memcpy(m->symbol, p->env.symbols[o->locate - 1], 8);
	m->price = o->price;
	m->tif = o->tif;
	m->display = o->display;
	m->capacity = o->capacity;
	m->ims = o->ims;
	m->cross_type = o->cross_type;
	m->order_state = 'L';
	memcpy(m->clordid, o->clordid, 14);
}

/* The engine call is done and its events published: a slot with nothing open goes. */
static void ws_settle(ws_account_t *a, uint32_t s)
{
	if (a->ord[s].used && !a->ord[s].open)
		ws_slot_free(a, s);
}

static void ws_enter(ws_port_t *p, ws_account_t *a, const ws_ouch_msg_t *m)
{
	if (m->user_ref_num <= a->last_urn) {
		p->st->stale_urn++;
		return;
	}
	a->last_urn = m->user_ref_num; /* used up, rejected or not */
	uint16_t locate = 0;
	uint16_t why = ws_check_enter(p, a, m, &locate);
	char bside = m->side == 'B' ? 'B' : 'S';
	if (!why)
		why = ws_risk(p, a, locate, bside, (uint32_t)m->price, m->quantity, 1);
	if (why) {
		ws_reject(p, a, m->user_ref_num, why, m->clordid);
		return;
	}
	uint32_t s = ws_slot_new(a);
	ws_porder_t *o = &a->ord[s];
	o->urn = m->user_ref_num;
	o->locate = locate;
	o->side = m->side;
	o->price = (uint32_t)m->price;
	o->open = m->quantity;
	o->tif = m->tif;
	o->display = m->display;
	o->capacity = m->capacity;
	o->ims = m->ims;
	o->cross_type = m->cross_type;
	memcpy(o->clordid, m->clordid, 14);
	ws_urn_put(a, o->urn, s);
	uint64_t ref;
	o->handle = ws_match_add(p->env.engine, locate, (uint8_t)bside, o->price, o->open, m->tif == '3', a->id, s,
	                         m->display == 'A', &ref);
	if (!ref) { /* the books are full */
		ws_match_clear_events(p->env.engine);
		o->open = 0;
		ws_settle(a, s);
		ws_reject(p, a, m->user_ref_num, 0x000A, m->clordid); /* Processing Error */
		return;
	}
	ws_ouch_msg_t acc = ws_out_msg('A', o->urn);
	ws_fill_order_fields(&acc, p, o);
	acc.quantity = m->quantity;
	acc.order_ref = ref;
	ws_send(p, a, &acc);            /* Accepted comes before any execution */
	p->ctx_owner = a->id;
	p->ctx_slot = s;
	p->env.drain(p->env.ctx);       /* the feed, and the executions */
	p->ctx_owner = 0;
	ws_settle(a, s);
}

static void ws_replace(ws_port_t *p, ws_account_t *a, const ws_ouch_msg_t *m)
{
	uint32_t s;
	ws_porder_t *o = ws_open_order(p, a, m->orig_user_ref_num, &s);
	if (!o)
		return; /* silently ignored; the new UserRefNum is not used up */
	if (m->user_ref_num <= a->last_urn) {
		p->st->stale_urn++;
		return;
	}
	int bad = !m->quantity || m->quantity > WS_OUCH_MAX_QUANTITY || m->quantity <= o->executed || !m->price ||
	          m->price > WS_OUCH_MAX_PRICE || (m->tif != '0' && m->tif != '3') ||
	          (m->display != 'Y' && m->display != 'A') || m->ims != 'N';
	if (bad) { /* the spec's case 2: the existing order is canceled, the new number not used up */
		ws_match_reduce(p->env.engine, o->handle, 0);
		p->env.drain(p->env.ctx);
		return;
	}
	a->last_urn = m->user_ref_num;
	char bside = o->side == 'B' ? 'B' : 'S';
	uint32_t open = m->quantity - o->executed;
	uint16_t why = p->market_closed ? 0x0002 : ws_risk(p, a, o->locate, bside, (uint32_t)m->price, open, 0);
	if (why) { /* the spec's case 3: rejected, the existing order stays intact */
		ws_reject(p, a, m->user_ref_num, why, m->clordid);
		return;
	}
	uint32_t orig = o->urn;
	ws_urn_del(a, orig);
	o->urn = m->user_ref_num;
	ws_urn_put(a, o->urn, s);
	o->price = (uint32_t)m->price;
	o->open = open;
	o->tif = m->tif;
	o->display = m->display;
	o->ims = m->ims;
	memcpy(o->clordid, m->clordid, 14);
	p->ctx_mode = WS_CTX_REPLACE; /* the old order's removal is the replace, not a cancel */
	p->ctx_owner = a->id;
	p->ctx_slot = s;
	uint64_t new_ref;
	o->handle = ws_match_replace(p->env.engine, o->handle, o->price, open, s, &new_ref);
	ws_ouch_msg_t rep = ws_out_msg('U', o->urn);
	ws_fill_order_fields(&rep, p, o);
	rep.orig_user_ref_num = orig;
	rep.quantity = open;
	rep.order_ref = new_ref;
	ws_send(p, a, &rep);
	p->env.drain(p->env.ctx);
	p->ctx_mode = WS_CTX_NONE;
	p->ctx_owner = 0;
	ws_settle(a, s);
}

static void ws_cancel(ws_port_t *p, ws_account_t *a, const ws_ouch_msg_t *m)
{
	uint32_t s;
	ws_porder_t *o = ws_open_order(p, a, m->user_ref_num, &s);
	if (!o)
		return;
	if (m->quantity >= o->open)
		return; /* superfluous: silently ignored, as the spec says */
	ws_match_reduce(p->env.engine, o->handle, m->quantity);
	p->env.drain(p->env.ctx);
	ws_settle(a, s);
}

static void ws_modify(ws_port_t *p, ws_account_t *a, const ws_ouch_msg_t *m)
{
	uint32_t s;
	ws_porder_t *o = ws_open_order(p, a, m->user_ref_num, &s);
	if (!o)
		return;
	int short_sides = (m->side == 'S' || m->side == 'T' || m->side == 'E') && o->side != 'B';
	if (m->side != o->side && !short_sides)
		return; /* only S, T and E trade places: ignored */
	o->side = m->side;
	if (m->quantity >= o->open) { /* no decrease: a side change alone, or nothing */
		ws_ouch_msg_t mod = ws_out_msg('M', o->urn);
		mod.side = o->side;
		mod.quantity = o->open;
		ws_send(p, a, &mod);
		return;
	}
	p->ctx_mode = WS_CTX_MODIFY;
	p->ctx_owner = a->id;
	p->ctx_slot = s;
	ws_match_reduce(p->env.engine, o->handle, m->quantity);
	p->env.drain(p->env.ctx);
	p->ctx_mode = WS_CTX_NONE;
	p->ctx_owner = 0;
	ws_settle(a, s);
}

static void ws_mass_cancel(ws_port_t *p, ws_account_t *a, const ws_ouch_msg_t *m)
{
	if (m->user_ref_num <= a->last_urn) {
		p->st->stale_urn++;
		return;
	}
	a->last_urn = m->user_ref_num;
	static const char blank[8] = "        ";
	uint16_t only = memcmp(m->symbol, blank, 8) ? ws_locate_of(p, m->symbol) : 0;
	int any = !memcmp(m->symbol, blank, 8);
	if (!memcmp(m->firm, a->cfg.firm, 4) || !memcmp(m->firm, "    ", 4)) {
		uint32_t max = a->cfg.max_open ? a->cfg.max_open : 10000u;
		for (uint32_t s = 0; s < max; s++) {
			ws_porder_t *o = &a->ord[s];
			if (!o->used || o->handle == WS_MATCH_NONE || (!any && o->locate != only))
				continue;
			ws_match_reduce(p->env.engine, o->handle, 0);
			p->env.drain(p->env.ctx);
			ws_settle(a, s);
		}
	}
	ws_ouch_msg_t r = ws_out_msg('X', m->user_ref_num);
	memcpy(r.firm, m->firm, 4);
	memcpy(r.symbol, m->symbol, 8);
	ws_send(p, a, &r);
}

static void ws_entry_switch(ws_port_t *p, ws_account_t *a, const ws_ouch_msg_t *m, int disable)
{
	if (m->user_ref_num <= a->last_urn) {
		p->st->stale_urn++;
		return;
	}
	a->last_urn = m->user_ref_num;
	if (!memcmp(m->firm, a->cfg.firm, 4) || !memcmp(m->firm, "    ", 4))
		a->disabled = disable;
	ws_ouch_msg_t r = ws_out_msg(disable ? 'G' : 'K', m->user_ref_num);
	memcpy(r.firm, m->firm, 4);
	ws_send(p, a, &r);
}

static void ws_stamp(ws_port_t *p, int i, const ws_ouch_msg_t *m)
{
	uint64_t n = (*p->env.stamp_n)++;
	if (n >= p->env.stamp_cap)
		return;
	uint64_t tag = 0;
	for (int k = 0; k < 14 && m->clordid[k] >= '0' && m->clordid[k] <= '9'; k++)
		tag = tag * 10 + (uint64_t)(m->clordid[k] - '0');
	p->env.stamps[n] = (ws_port_stamp_t){.rx_ns = p->conn[i].rx_stamp_ns, .tag = tag, .urn = m->user_ref_num,
	                                     .type = m->type, .account = (uint8_t)p->conn[i].account};
}

static void ws_ouch_in(ws_port_t *p, int i, const ws_soup_pkt_t *pkt)
{
	ws_account_t *a = &p->acct[p->conn[i].account];
	ws_ouch_msg_t m;
	if (ws_ouch_decode(WS_OUCH_IN, pkt->payload, pkt->payload_len, &m)) {
		ws_drop(p, i, WS_DROP_BAD_MESSAGE);
		return;
	}
	p->st->in_by_type[m.type & 127]++;
	if (p->env.stamps && (m.type == 'O' || m.type == 'U'))
		ws_stamp(p, i, &m);
	uint64_t now = ws_mono_ns();
	if (now - a->rate_window_ns >= 1000000000ull) {
		a->rate_window_ns = now;
		a->rate_n = 0;
	}
	a->rate_n++;
	switch (m.type) {
	case 'O': ws_enter(p, a, &m); break;
	case 'U': ws_replace(p, a, &m); break;
	case 'X': ws_cancel(p, a, &m); break;
	case 'M': ws_modify(p, a, &m); break;
	case 'C': ws_mass_cancel(p, a, &m); break;
	case 'D': ws_entry_switch(p, a, &m, 1); break;
	case 'E': ws_entry_switch(p, a, &m, 0); break;
	case 'Q': {
		ws_ouch_msg_t q = ws_out_msg('Q', 0);
		q.next_user_ref_num = a->last_urn + 1;
		ws_send(p, a, &q);
		break;
	}
	}
}

void ws_port_event(ws_port_t *p, const ws_match_ev_t *ev)
{
	if (ev->owner && ev->owner <= p->n_acct && (ev->kind == WS_EV_EXEC || ev->kind == WS_EV_CANCEL)) {
		ws_account_t *a = &p->acct[ev->owner - 1];
		uint32_t s = (uint32_t)ev->tag;
		ws_porder_t *o = &a->ord[s];
		int mine = p->ctx_owner == ev->owner && p->ctx_slot == s; /* the order the client's message is about */
		int replacing = mine && p->ctx_mode == WS_CTX_REPLACE;  /* its old self leaving: the replace says it */
		ws_ouch_msg_t m;
		if (ev->kind == WS_EV_EXEC) {
			m = ws_out_msg('E', o->urn);
			m.quantity = ev->qty;
			m.price = ev->price;
			m.liquidity = 'A';
			m.match = ev->match;
			o->executed += ev->qty;
			p->st->fills++;
			p->st->filled_shares += ev->qty;
		} else if (mine && p->ctx_mode == WS_CTX_MODIFY) {
			m = ws_out_msg('M', o->urn);
			m.side = o->side;
			m.quantity = ev->remaining;
		} else {
			m = ws_out_msg('C', o->urn);
			m.quantity = ev->qty;
			m.reason = ev->rested ? 'U' : 'I'; /* a user's cancel, or an IOC's remainder */
		}
		if (!replacing) {
			o->open = ev->remaining;
			if (!ev->remaining)
				o->handle = WS_MATCH_NONE;
			ws_send(p, a, &m);
		}
		if (!mine)
			ws_settle(a, s); /* done by the simulator's flow or another client: the slot goes now */
	}
	if (ev->kind == WS_EV_EXEC && ev->taker_owner && ev->taker_owner <= p->n_acct) {
		ws_account_t *a = &p->acct[ev->taker_owner - 1];
		ws_porder_t *o = &a->ord[(uint32_t)ev->taker_tag];
		ws_ouch_msg_t m = ws_out_msg('E', o->urn);
		m.quantity = ev->qty;
		m.price = ev->price;
		m.liquidity = 'R';
		m.match = ev->match;
		o->open -= ev->qty;
		o->executed += ev->qty;
		p->st->fills++;
		p->st->filled_shares += ev->qty;
		ws_send(p, a, &m);
	}
}

void ws_port_firm(const ws_port_t *p, uint32_t owner, char out[4])
{
	if (owner && owner <= p->n_acct)
		memcpy(out, p->acct[owner - 1].cfg.firm, 4);
	else
		memcpy(out, "WSIM", 4);
}

/* -- input --------------------------------------------------------------------------- */

/* Handle up to WS_PORT_BURST whole packets of connection i; 1 if more wait. */
static int ws_conn_process(ws_port_t *p, int i)
{
	ws_conn_t *c = &p->conn[i];
	uint32_t off = 0;
	int more = 0;
	for (int k = 0; c->fd >= 0 && !c->closing; k++) {
		ws_soup_pkt_t pkt;
		int n = ws_soup_next(c->in + off, c->in_len - off, WS_PKT_MAX, &pkt);
		if (n < 0) {
			ws_drop(p, i, WS_DROP_FRAMING);
			return 0;
		}
		if (!n)
			break;
		if (k == WS_PORT_BURST) { /* fairness: the rest on the next poll */
			more = 1;
			break;
		}
		off += (uint32_t)n;
		if (c->account < 0) {
			if (pkt.type == WS_SOUP_LOGIN_REQUEST)
				ws_login(p, i, &pkt);
			else
				ws_drop(p, i, WS_DROP_BEFORE_LOGIN);
			continue;
		}
		switch (pkt.type) {
		case WS_SOUP_UNSEQUENCED: ws_ouch_in(p, i, &pkt); break;
		case WS_SOUP_CLIENT_HEARTBEAT: break;
		case WS_SOUP_DEBUG: break;
		case WS_SOUP_LOGOUT_REQUEST: ws_drop(p, i, WS_DROP_LOGOUT); break;
		case WS_SOUP_LOGIN_REQUEST: ws_drop(p, i, WS_DROP_SECOND_LOGIN); break;
		default: ws_drop(p, i, WS_DROP_UNKNOWN_PACKET); break;
		}
	}
	if (c->fd >= 0 && off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	c->backlog = more && c->fd >= 0;
	return c->backlog;
}

static void ws_conn_read(ws_port_t *p, int i, uint64_t now)
{
	ws_conn_t *c = &p->conn[i];
	if (c->in_len == WS_IN_CAP)
		return; /* full of whole packets waiting their turn */
	ssize_t n;
	if (p->env.stamps) {
		struct iovec iov = {c->in + c->in_len, WS_IN_CAP - c->in_len};
		union {
			char buf[CMSG_SPACE(sizeof(struct scm_timestamping))];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
		                    .msg_controllen = sizeof(ctl.buf)};
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
		for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPING) {
				struct scm_timestamping ts;
				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				c->rx_stamp_ns = (uint64_t)ts.ts[0].tv_sec * 1000000000ull + (uint64_t)ts.ts[0].tv_nsec;
			}
	} else {
		n = recv(c->fd, c->in + c->in_len, WS_IN_CAP - c->in_len, MSG_DONTWAIT);
	}
	if (n == 0) {
		ws_drop(p, i, WS_DROP_CLOSED);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			ws_drop(p, i, WS_DROP_SOCKET_ERROR);
		return;
	}
	c->in_len += (uint32_t)n;
	c->last_rx_ns = now;
	p->st->bytes_in += (uint64_t)n;
}

/* ws_since is the time from t to now, 0 if t is later: a stamp taken while
 * this round was handled (a reply sent, after `now` was read) is not a
 * 2^64 ns old one. */
static inline uint64_t ws_since(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

static void ws_timers(ws_port_t *p, uint64_t now)
{
	uint64_t hb = (uint64_t)(p->cfg.heartbeat_ms ? p->cfg.heartbeat_ms : 1000) * 1000000ull;
	uint64_t login = (uint64_t)(p->cfg.login_timeout_ms ? p->cfg.login_timeout_ms : 5000) * 1000000ull;
	for (int i = 0; i < WS_PORT_MAX_CONNS; i++) {
		ws_conn_t *c = &p->conn[i];
		if (c->fd < 0)
			continue;
		if (c->account < 0) {
			if (ws_since(now, c->opened_ns) > login)
				ws_drop(p, i, c->closing ? c->closing - 1 : WS_DROP_LOGIN_TIMEOUT);
			continue;
		}
		if (ws_since(now, c->last_rx_ns) > c->timeout_ns) {
			ws_drop(p, i, WS_DROP_HEARTBEAT_TIMEOUT);
			continue;
		}
		if (ws_since(now, c->last_tx_ns) >= hb) {
			ws_send_unsequenced(p, i, WS_SOUP_SERVER_HEARTBEAT, NULL, 0);
			ws_conn_flush(p, i);
		}
	}
}

void ws_port_poll(ws_port_t *p, uint64_t wait_ns)
{
	int pending = 0; /* packets a flood left for this round: do not sleep */
	for (int i = 0; i < WS_PORT_MAX_CONNS; i++)
		pending |= p->conn[i].fd >= 0 && p->conn[i].backlog;
	struct epoll_event evs[64];
	struct timespec ts = {(time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull)};
	if (pending)
		ts.tv_sec = ts.tv_nsec = 0;
	int n = epoll_pwait2(p->ep, evs, 64, &ts, NULL);
	if (n < 0 && errno == ENOSYS) /* kernels before 5.11: millisecond waits */
		n = epoll_wait(p->ep, evs, 64, pending ? 0 : (int)((wait_ns + 999999) / 1000000));
	uint64_t now = ws_mono_ns();
	for (int k = 0; k < n; k++) {
		if (evs[k].data.u64 == WS_LISTEN) {
			ws_accept(p, now);
			continue;
		}
		int i = (int)evs[k].data.u64;
		if (p->conn[i].fd < 0)
			continue;
		if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			ws_conn_read(p, i, now);
		if (p->conn[i].fd >= 0 && (evs[k].events & EPOLLOUT))
			ws_conn_flush(p, i);
	}
	for (int i = 0; i < WS_PORT_MAX_CONNS; i++)
		if (p->conn[i].fd >= 0 && p->conn[i].in_len >= 3) {
			ws_conn_process(p, i);
			if (p->conn[i].fd >= 0)
				ws_conn_flush(p, i);
		}
	ws_timers(p, now);
}

/* -- life cycle ---------------------------------------------------------------------------- */

static void ws_account_free(ws_account_t *a)
{
	free(a->log);
	free(a->seq_off);
	free(a->ord);
	free(a->urn_tab);
}

ws_port_t *ws_port_new(const ws_port_cfg_t *cfg, const ws_port_env_t *env, ws_port_stats_t *stats)
{
	if (cfg->listen_fd < 0 || !cfg->n_accounts || cfg->n_accounts > WS_PORT_MAX_ACCOUNTS || !env->engine)
		return NULL;
	ws_port_t *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->env = *env;
	p->st = stats;
	memset(stats, 0, sizeof(*stats));
	p->ep = -1;
	for (int i = 0; i < WS_PORT_MAX_CONNS; i++) {
		p->conn[i].fd = -1;
		p->conn[i].account = -1;
	}
	uint32_t n = 10;
	while (n && cfg->session[n - 1] == ' ')
		n--;
	memcpy(p->session, cfg->session, n);
	p->n_acct = cfg->n_accounts;
	for (uint32_t k = 0; k < p->n_acct; k++) {
		ws_account_t *a = &p->acct[k];
		a->cfg = cfg->accounts[k];
		a->id = k + 1;
		a->conn = -1;
		uint32_t max = a->cfg.max_open ? a->cfg.max_open : 10000u;
		a->ord = calloc(max, sizeof(*a->ord));
		uint32_t tab = 16;
		while (tab < 2 * max)
			tab *= 2;
		a->urn_tab = calloc(tab, sizeof(*a->urn_tab));
		a->urn_mask = tab - 1;
		if (!a->ord || !a->urn_tab)
			goto fail;
		for (uint32_t s = 0; s < max; s++)
			a->ord[s].next_free = s + 1 < max ? s + 1 : WS_NONE;
		a->free_ord = 0;
	}
	int fl = fcntl(cfg->listen_fd, F_GETFL);
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WS_LISTEN};
	if (fl < 0 || fcntl(cfg->listen_fd, F_SETFL, fl | O_NONBLOCK) || p->ep < 0 ||
	    epoll_ctl(p->ep, EPOLL_CTL_ADD, cfg->listen_fd, &ev))
		goto fail;
	for (uint32_t k = 0; k < p->n_acct; k++) { /* the day starts: each account's sequence 1 */
		ws_ouch_msg_t s = ws_out_msg('S', 0);
		s.event = 'S';
		ws_send(p, &p->acct[k], &s);
	}
	return p;
fail:
	ws_port_delete(p);
	return NULL;
}

void ws_port_delete(ws_port_t *p)
{
	if (!p)
		return;
	for (int i = 0; i < WS_PORT_MAX_CONNS; i++) {
		if (p->conn[i].fd >= 0)
			close(p->conn[i].fd);
		free(p->conn[i].in);
		free(p->conn[i].out);
	}
	for (uint32_t k = 0; k < WS_PORT_MAX_ACCOUNTS; k++)
		ws_account_free(&p->acct[k]);
	if (p->ep >= 0) {
		epoll_ctl(p->ep, EPOLL_CTL_DEL, p->cfg.listen_fd, NULL);
		close(p->ep);
	}
	free(p);
}

void ws_port_close_market(ws_port_t *p)
{
	if (p->market_closed)
		return;
	p->market_closed = 1;
	for (uint32_t k = 0; k < p->n_acct; k++) {
		ws_ouch_msg_t s = ws_out_msg('S', 0);
		s.event = 'E';
		ws_send(p, &p->acct[k], &s);
	}
}

void ws_port_end(ws_port_t *p, uint32_t timeout_ms)
{
	ws_port_close_market(p);
	for (int i = 0; i < WS_PORT_MAX_CONNS; i++)
		if (p->conn[i].fd >= 0 && p->conn[i].account >= 0) {
			ws_conn_flush(p, i); /* what the log still holds for it goes first */
			if (p->conn[i].fd >= 0) {
				ws_send_unsequenced(p, i, WS_SOUP_END_OF_SESSION, NULL, 0);
				p->conn[i].closing = WS_DROP_END_OF_SESSION + 1;
				ws_conn_flush(p, i);
			}
		}
	uint64_t end = ws_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		int open = 0;
		for (int i = 0; i < WS_PORT_MAX_CONNS; i++)
			open |= p->conn[i].fd >= 0 && p->conn[i].closing;
		uint64_t now = ws_mono_ns();
		if (!open || now >= end)
			break;
		ws_port_poll(p, 1000000);
	}
	for (int i = 0; i < WS_PORT_MAX_CONNS; i++)
		if (p->conn[i].fd >= 0)
			ws_drop(p, i, WS_DROP_END_OF_SESSION);
}
