/* orders/ouch.c - OUCH 5.0 tables, decoder and encoder; see ouch.h. */
#include "orders/ouch.h"

#include <string.h>

#include "net/endian.h"

const char *const ws_ouch_err_names[WS_OUCH_ERRS] = {
	"ok", "empty", "unknown_type", "short", "trailing", "app_length", "bad_option",
};

#define F(name, kind, width, member) {name, kind, width, (uint16_t)offsetof(ws_ouch_msg_t, member)}
#define CHR(name, member) F(name, WS_F_CHAR, 1, member)
#define ALPHA(name, member, w) F(name, WS_F_ALPHA, w, member)
#define U16(name, member) F(name, WS_F_U16, 2, member)
#define U32(name, member) F(name, WS_F_U32, 4, member)
#define U64(name, member) F(name, WS_F_U64, 8, member)
#define TS U64("timestamp", timestamp)
#define URN U32("user_ref_num", user_ref_num)
#define N(a) (uint8_t)(sizeof(a) / sizeof((a)[0]))

/* -- inbound: client -> exchange ---------------------------------------------- */

static const ws_ouch_field_t in_enter[] = {
	URN, CHR("side", side), U32("quantity", quantity), ALPHA("symbol", symbol, 8), U64("price", price),
	CHR("time_in_force", tif), CHR("display", display), CHR("capacity", capacity),
	CHR("intermarket_sweep", ims), CHR("cross_type", cross_type), ALPHA("clordid", clordid, 14),
};
static const ws_ouch_field_t in_replace[] = {
	U32("orig_user_ref_num", orig_user_ref_num), URN, U32("quantity", quantity), U64("price", price),
	CHR("time_in_force", tif), CHR("display", display), CHR("intermarket_sweep", ims),
	ALPHA("clordid", clordid, 14),
};
static const ws_ouch_field_t in_cancel[] = {URN, U32("quantity", quantity)};
static const ws_ouch_field_t in_modify[] = {URN, CHR("side", side), U32("quantity", quantity)};
static const ws_ouch_field_t in_mass_cancel[] = {URN, ALPHA("firm", firm, 4), ALPHA("symbol", symbol, 8)};
static const ws_ouch_field_t in_firm[] = {URN, ALPHA("firm", firm, 4)};

static const ws_ouch_spec_t in_specs[] = {
	{'O', WS_OUCH_APP_ALWAYS, 45, N(in_enter), "EnterOrder", in_enter},
	{'U', WS_OUCH_APP_ALWAYS, 38, N(in_replace), "ReplaceOrder", in_replace},
	{'X', WS_OUCH_APP_OPTIONAL, 9, N(in_cancel), "CancelOrder", in_cancel},
	{'M', WS_OUCH_APP_OPTIONAL, 10, N(in_modify), "ModifyOrder", in_modify},
	{'Q', WS_OUCH_APP_OPTIONAL, 1, 0, "AccountQuery", NULL},
	{'C', WS_OUCH_APP_ALWAYS, 17, N(in_mass_cancel), "MassCancel", in_mass_cancel},
	{'D', WS_OUCH_APP_ALWAYS, 9, N(in_firm), "DisableOrderEntry", in_firm},
	{'E', WS_OUCH_APP_ALWAYS, 9, N(in_firm), "EnableOrderEntry", in_firm},
};

/* -- outbound: exchange -> client ----------------------------------------------- */

static const ws_ouch_field_t out_event[] = {TS, CHR("event_code", event)};
static const ws_ouch_field_t out_accepted[] = {
	TS, URN, CHR("side", side), U32("quantity", quantity), ALPHA("symbol", symbol, 8), U64("price", price),
	CHR("time_in_force", tif), CHR("display", display), U64("order_ref", order_ref), CHR("capacity", capacity),
	CHR("intermarket_sweep", ims), CHR("cross_type", cross_type), CHR("order_state", order_state),
	ALPHA("clordid", clordid, 14),
};
static const ws_ouch_field_t out_replaced[] = {
	TS, U32("orig_user_ref_num", orig_user_ref_num), URN, CHR("side", side), U32("quantity", quantity),
	ALPHA("symbol", symbol, 8), U64("price", price), CHR("time_in_force", tif), CHR("display", display),
	U64("order_ref", order_ref), CHR("capacity", capacity), CHR("intermarket_sweep", ims),
	CHR("cross_type", cross_type), CHR("order_state", order_state), ALPHA("clordid", clordid, 14),
};
static const ws_ouch_field_t out_canceled[] = {TS, URN, U32("quantity", quantity), CHR("reason", reason)};
static const ws_ouch_field_t out_aiq[] = {
	TS, URN, U32("quantity", quantity), CHR("reason", reason), U32("quantity_prevented", quantity_prevented),
	U64("price", price), CHR("liquidity_flag", liquidity), CHR("aiq_strategy", aiq_strategy),
};
static const ws_ouch_field_t out_executed[] = {
	TS, URN, U32("quantity", quantity), U64("price", price), CHR("liquidity_flag", liquidity), U64("match", match),
};
static const ws_ouch_field_t out_broken[] = {
	TS, URN, U64("match", match), CHR("reason", reason), ALPHA("clordid", clordid, 14),
};
static const ws_ouch_field_t out_rejected[] = {
	TS, URN, U16("reason", reject_reason), ALPHA("clordid", clordid, 14),
};
static const ws_ouch_field_t out_urn[] = {TS, URN};
static const ws_ouch_field_t out_priority[] = {
	TS, URN, U64("price", price), CHR("display", display), U64("order_ref", order_ref),
};
static const ws_ouch_field_t out_modified[] = {TS, URN, CHR("side", side), U32("quantity", quantity)};
static const ws_ouch_field_t out_restated[] = {TS, URN, CHR("reason", reason)};
static const ws_ouch_field_t out_mass_cancel[] = {TS, URN, ALPHA("firm", firm, 4), ALPHA("symbol", symbol, 8)};
static const ws_ouch_field_t out_firm[] = {TS, URN, ALPHA("firm", firm, 4)};
static const ws_ouch_field_t out_query[] = {TS, U32("next_user_ref_num", next_user_ref_num)};

static const ws_ouch_spec_t out_specs[] = {
	{'S', WS_OUCH_APP_NONE, 10, N(out_event), "SystemEvent", out_event},
	{'A', WS_OUCH_APP_ALWAYS, 62, N(out_accepted), "OrderAccepted", out_accepted},
	{'U', WS_OUCH_APP_ALWAYS, 66, N(out_replaced), "OrderReplaced", out_replaced},
	{'C', WS_OUCH_APP_OPTIONAL, 18, N(out_canceled), "OrderCanceled", out_canceled},
	{'D', WS_OUCH_APP_OPTIONAL, 32, N(out_aiq), "AiqCanceled", out_aiq},
	{'E', WS_OUCH_APP_ALWAYS, 34, N(out_executed), "OrderExecuted", out_executed},
	{'B', WS_OUCH_APP_OPTIONAL, 36, N(out_broken), "BrokenTrade", out_broken},
	{'J', WS_OUCH_APP_OPTIONAL, 29, N(out_rejected), "Rejected", out_rejected},
	{'P', WS_OUCH_APP_OPTIONAL, 13, N(out_urn), "CancelPending", out_urn},
	{'I', WS_OUCH_APP_OPTIONAL, 13, N(out_urn), "CancelReject", out_urn},
	{'T', WS_OUCH_APP_OPTIONAL, 30, N(out_priority), "PriorityUpdate", out_priority},
	{'M', WS_OUCH_APP_OPTIONAL, 18, N(out_modified), "OrderModified", out_modified},
	{'R', WS_OUCH_APP_ALWAYS, 14, N(out_restated), "OrderRestated", out_restated},
	{'X', WS_OUCH_APP_ALWAYS, 25, N(out_mass_cancel), "MassCancelResponse", out_mass_cancel},
	{'G', WS_OUCH_APP_ALWAYS, 17, N(out_firm), "DisableOrderEntryResponse", out_firm},
	{'K', WS_OUCH_APP_ALWAYS, 17, N(out_firm), "EnableOrderEntryResponse", out_firm},
	{'Q', WS_OUCH_APP_OPTIONAL, 13, N(out_query), "AccountQueryResponse", out_query},
};

const ws_ouch_spec_t *ws_ouch_spec(int dir, uint8_t type)
{
	const ws_ouch_spec_t *s = dir == WS_OUCH_IN ? in_specs : out_specs;
	uint32_t n = dir == WS_OUCH_IN ? N(in_specs) : N(out_specs);
	for (uint32_t i = 0; i < n; i++)
		if (s[i].type == type)
			return &s[i];
	return NULL;
}

/* -- options ------------------------------------------------------------------- */

uint32_t ws_ouch_option_size(uint8_t tag)
{
	static const uint8_t size[29] = {
		[1] = 8, [2] = 4, [3] = 4, [4] = 1, [5] = 4, [6] = 1, [7] = 4, [9] = 8, [10] = 1, [11] = 4,
		[12] = 1, [13] = 4, [14] = 4, [15] = 4, [16] = 1, [17] = 1, [18] = 1, [22] = 4, [23] = 8,
		[24] = 2, [25] = 1, [26] = 4, [27] = 1, [28] = 1,
	};
	return tag < sizeof(size) ? size[tag] : 0;
}

int ws_ouch_option_next(const uint8_t *app, uint32_t app_len, uint32_t *off, uint8_t *tag, const uint8_t **value,
                        uint32_t *value_len)
{
	if (*off >= app_len)
		return 0;
	uint32_t n = app[*off]; /* the remaining length: the tag and the value */
	if (!n || *off + 1 + n > app_len)
		return WS_OUCH_BAD_OPTION;
	*tag = app[*off + 1];
	*value = app + *off + 2;
	*value_len = n - 1;
	uint32_t want = ws_ouch_option_size(*tag);
	if (want && want != *value_len)
		return WS_OUCH_BAD_OPTION;
	*off += 1 + n;
	return 1;
}

static int ws_check_options(const uint8_t *app, uint32_t app_len)
{
	uint32_t off = 0, vl;
	uint8_t tag;
	const uint8_t *v;
	int rc;
	while ((rc = ws_ouch_option_next(app, app_len, &off, &tag, &v, &vl)) == 1)
		;
	return rc;
}

/* -- decode and encode ----------------------------------------------------------- */

int ws_ouch_decode(int dir, const uint8_t *p, uint32_t len, ws_ouch_msg_t *m)
{
	if (!len)
		return WS_OUCH_EMPTY;
	const ws_ouch_spec_t *s = ws_ouch_spec(dir, p[0]);
	if (!s)
		return WS_OUCH_UNKNOWN_TYPE;
	if (len < s->fixed)
		return WS_OUCH_SHORT;
	memset(m, 0, sizeof(*m));
	m->type = p[0];
	uint32_t off = 1;
	for (uint32_t i = 0; i < s->n_fields; i++) {
		const ws_ouch_field_t *f = &s->fields[i];
		uint8_t *dst = (uint8_t *)m + f->offset;
		switch (f->kind) {
		case WS_F_CHAR: *(char *)dst = (char)p[off]; break;
		case WS_F_ALPHA: memcpy(dst, p + off, f->width); break;
		case WS_F_U16: *(uint16_t *)dst = ws_rd16(p + off); break;
		case WS_F_U32: *(uint32_t *)dst = ws_rd32(p + off); break;
		case WS_F_U64: *(uint64_t *)dst = ws_rd64(p + off); break;
		}
		off += f->width;
	}
	if (s->app == WS_OUCH_APP_NONE)
		return len == s->fixed ? WS_OUCH_OK : WS_OUCH_TRAILING;
	if (s->app == WS_OUCH_APP_OPTIONAL && len == s->fixed)
		return WS_OUCH_OK;
	if (len < s->fixed + 2u)
		return s->app == WS_OUCH_APP_ALWAYS ? WS_OUCH_SHORT : WS_OUCH_TRAILING;
	m->has_app = 1;
	m->app_len = ws_rd16(p + s->fixed);
	m->app = p + s->fixed + 2;
	if (s->fixed + 2u + m->app_len != len)
		return WS_OUCH_APP_LENGTH;
	return ws_check_options(m->app, m->app_len);
}

uint32_t ws_ouch_size(int dir, const ws_ouch_msg_t *m)
{
	const ws_ouch_spec_t *s = ws_ouch_spec(dir, m->type);
	if (!s)
		return 0;
	int app = s->app == WS_OUCH_APP_ALWAYS || (s->app == WS_OUCH_APP_OPTIONAL && m->has_app);
	return s->fixed + (app ? 2u + m->app_len : 0u);
}

uint32_t ws_ouch_encode(int dir, const ws_ouch_msg_t *m, uint8_t *out)
{
	const ws_ouch_spec_t *s = ws_ouch_spec(dir, m->type);
	if (!s)
		return 0;
	out[0] = m->type;
	uint32_t off = 1;
	for (uint32_t i = 0; i < s->n_fields; i++) {
		const ws_ouch_field_t *f = &s->fields[i];
		const uint8_t *src = (const uint8_t *)m + f->offset;
		switch (f->kind) {
		case WS_F_CHAR: out[off] = *src; break;
		case WS_F_ALPHA: memcpy(out + off, src, f->width); break;
		case WS_F_U16: ws_be16(out + off, *(const uint16_t *)src); break;
		case WS_F_U32: ws_be32(out + off, *(const uint32_t *)src); break;
		case WS_F_U64: ws_be64(out + off, *(const uint64_t *)src); break;
		}
		off += f->width;
	}
	if (s->app == WS_OUCH_APP_ALWAYS || (s->app == WS_OUCH_APP_OPTIONAL && m->has_app)) {
		ws_be16(out + off, m->app_len);
		if (m->app_len)
			memcpy(out + off + 2, m->app, m->app_len);
		off += 2u + m->app_len;
	}
	return off;
}

void ws_ouch_alpha(char *dst, const char *src, uint32_t w)
{
	uint32_t n = (uint32_t)strnlen(src, w);
	memcpy(dst, src, n);
	memset(dst + n, ' ', w - n);
}
