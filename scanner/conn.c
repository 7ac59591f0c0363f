/*
 * conn: the connection state machine, sans I/O.
 *
 *   EXPECT_CONNECT --connected--> EXPECT_BANNER            (mode starttls)
 *                  --connected--> EXPECT_SERVER_HELLO      (mode implicit: ClientHello sent)
 *   EXPECT_BANNER  --220--> EXPECT_EHLO                    (EHLO sent)
 *                  --421/554/other--> EXPECT_QUIT | DONE
 *   EXPECT_EHLO    --250 + STARTTLS--> EXPECT_STARTTLS     (STARTTLS sent)
 *                  --250, no STARTTLS--> EXPECT_QUIT       (QUIT sent; absent or stripped)
 *                  --5xx (not 421)--> EXPECT_HELO          (HELO sent: RFC 5321 §4.1.4)
 *                  --421/4xx--> DONE
 *   EXPECT_HELO    --250--> EXPECT_QUIT                    (no extensions: STARTTLS impossible)
 *   EXPECT_STARTTLS --220--> EXPECT_SERVER_HELLO           (ClientHello sent)
 *                  --454/5xx--> EXPECT_QUIT
 *   EXPECT_SERVER_HELLO --ServerHello/HRR/Alert/not TLS--> DONE
 *   EXPECT_QUIT    --any reply, close or timeout--> DONE
 *   any state      --timeout/close/reset/protocol error--> DONE
 *
 * enter() is the only function that changes c->state, and it sets the new
 * state's deadline in the same statement block, so no state can be entered
 * without one. A failure is recorded once (the first one wins): later events
 * such as the close that follows a 421 do not overwrite it.
 */
#include "mxscan/conn.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/handshake.h"
#include "mxscan/suites.h"

static const char *const state_names[] = {
	[CONN_EXPECT_CONNECT] = "connect",     [CONN_EXPECT_BANNER] = "banner",
	[CONN_EXPECT_EHLO] = "ehlo",           [CONN_EXPECT_HELO] = "helo",
	[CONN_EXPECT_STARTTLS] = "starttls",   [CONN_EXPECT_SERVER_HELLO] = "tls-hello",
	[CONN_EXPECT_QUIT] = "quit",           [CONN_DONE] = "done",
	[CONN_EXPECT_HANDSHAKE] = "handshake", [CONN_EXPECT_TLS_BANNER] = "tls-banner",
	[CONN_EXPECT_TLS_EHLO] = "tls-ehlo",
};
_Static_assert(sizeof(state_names) / sizeof(state_names[0]) == CONN__COUNT, "state_names out of sync");

const char *conn_state_name(enum conn_state s)
{
	return (unsigned)s < CONN__COUNT ? state_names[s] : "?";
}

static const char *const status_names[] = {
	[ST_SUCCESS] = "success",
	[ST_CONNECTION_REFUSED] = "connection-refused",
	[ST_CONNECTION_TIMEOUT] = "connection-timeout",
	[ST_CONNECTION_CLOSED] = "connection-closed",
	[ST_IO_TIMEOUT] = "io-timeout",
	[ST_PROTOCOL_ERROR] = "protocol-error",
	[ST_APPLICATION_ERROR] = "application-error",
	[ST_UNKNOWN_ERROR] = "unknown-error",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == ST__COUNT, "status_names out of sync");
const char *scan_status_name(enum scan_status s)
{
	return (unsigned)s < ST__COUNT ? status_names[s] : "?";
}

static const char *const mode_names[] = { [MODE_STARTTLS] = "starttls", [MODE_IMPLICIT] = "implicit" };
_Static_assert(sizeof(mode_names) / sizeof(mode_names[0]) == MODE__COUNT, "mode_names out of sync");
const char *conn_mode_name(enum conn_mode m)
{
	return (unsigned)m < MODE__COUNT ? mode_names[m] : "?";
}

static const char *const stls_names[] = {
	[STLS_UNKNOWN] = "unknown", [STLS_OFFERED] = "offered", [STLS_ABSENT] = "absent", [STLS_STRIPPED] = "stripped"
};
_Static_assert(sizeof(stls_names) / sizeof(stls_names[0]) == STLS__COUNT, "stls_names out of sync");
const char *starttls_state_name(enum starttls_state s)
{
	return (unsigned)s < STLS__COUNT ? stls_names[s] : "?";
}

void conn_config_defaults(struct conn_config *cfg)
{
	cfg->connect_ms = 10000;
	cfg->banner_ms = 30000;
	cfg->command_ms = 30000;
	cfg->tls_ms = 15000;
	cfg->quit_ms = 5000;
	cfg->ehlo_name = "localhost";
}

static unsigned state_timeout(const struct conn *c, enum conn_state s)
{
	switch (s) {
	case CONN_EXPECT_CONNECT: return c->cfg->connect_ms;
	case CONN_EXPECT_BANNER: return c->cfg->banner_ms;
	case CONN_EXPECT_EHLO:
	case CONN_EXPECT_HELO:
	case CONN_EXPECT_STARTTLS: return c->cfg->command_ms;
	case CONN_EXPECT_SERVER_HELLO: return c->cfg->tls_ms;
	case CONN_EXPECT_QUIT: return c->cfg->quit_ms;
	case CONN_EXPECT_HANDSHAKE: return c->cfg->tls_ms;
	case CONN_EXPECT_TLS_BANNER: return c->cfg->banner_ms;
	case CONN_EXPECT_TLS_EHLO: return c->cfg->command_ms;
	case CONN_DONE:
	case CONN__COUNT: break;
	}
	return 0;
}

/* The one place a state changes; the deadline is set with it. */
static void enter(struct conn *c, enum conn_state s)
{
	c->state = s;
	c->timeout_ms = state_timeout(c, s);
	c->rearm = 1;
	smtp_parser_free(c->sp); /* a new state reads a new reply: nothing is kept between replies */
	c->sp = NULL;
}

/* The reply parser, allocated when a reply starts arriving (NULL: out of memory). */
static struct smtp_parser *sp_get(struct conn *c)
{
	if (!c->sp)
		c->sp = smtp_parser_new();
	return c->sp;
}

/* *dst = a copy of s cut to RES_SHORT - 1 bytes (as a char[RES_SHORT] kept
 * it), allocated to its size; NULL when s is empty or memory is short.
 * Nothing when r keeps no text (a later probe: nobody reads it). */
static void set_text(const struct host_result *r, char **dst, const char *s)
{
	if (r->no_text)
		return;
	size_t n = strnlen(s, RES_SHORT - 1);
	free(*dst);
	*dst = NULL;
	if (n && (*dst = malloc(n + 1)) != NULL) {
		memcpy(*dst, s, n);
		(*dst)[n] = 0;
	}
}

/* Keep the first bytes of plaintext seen where TLS was due, printable. */
static void set_plain_sample(struct host_result *r, const uint8_t *buf, size_t len)
{
	char s[RES_PLAIN_SAMPLE];
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < sizeof(s); i++)
		s[k++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? (char)buf[i] : '.';
	s[k] = 0;
	set_text(r, &r->plaintext_sample, s);
}

/* Record a failure; the first one wins. */
static void failure(struct conn *c, enum scan_status st, const char *reason, const char *detail)
{
	struct host_result *r = c->res;
	if (r->fail_reason[0])
		return;
	r->status = st;
	r->fail_stage = conn_state_name(c->state);
	snprintf(r->fail_reason, sizeof(r->fail_reason), "%s", reason);
	set_text(r, &r->fail_detail, detail ? detail : "");
}

/* --- the transcript (engine_config.transcript) ------------------------- */

/* One line: prefix + up to TRANSCRIPT_LINE_MAX bytes of text (cut there),
 * control bytes shown as '.', the CRLF dropped. */
static void tr_line(struct conn *c, const char *prefix, const char *text, size_t len)
{
	struct transcript *t = c->res->transcript;
	if (!t)
		return;
	/* The handshake connection repeats the greeting, EHLO and STARTTLS the
	 * first connection already showed: keep only what differs (replies 400+). */
	if (t->skip_plain && prefix[0] != '*' &&
	    (c->state == CONN_EXPECT_BANNER || c->state == CONN_EXPECT_EHLO || c->state == CONN_EXPECT_HELO ||
	     c->state == CONN_EXPECT_STARTTLS) &&
	    (prefix[0] == 'C' || (len > 0 && text[0] >= '1' && text[0] <= '3')))
		return;
	if (t->n >= TRANSCRIPT_LINES) {
		t->dropped++;
		return;
	}
	char *dst = t->line[t->n++];
	size_t k = 0;
	for (const char *p = prefix; *p && k < TRANSCRIPT_LINE_MAX; p++)
		dst[k++] = *p;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len && k < TRANSCRIPT_LINE_MAX; i++) {
		unsigned char ch = (unsigned char)text[i];
		dst[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '.';
	}
	dst[k] = 0;
}

static void tr_note(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr_note(struct conn *c, const char *fmt, ...)
{
	char buf[TRANSCRIPT_LINE_MAX + 1];
	va_list ap;
	if (!c->res->transcript)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tr_line(c, "* ", buf, strlen(buf));
}

static void tr_reply(struct conn *c, const struct smtp_reply *r)
{
	for (int i = 0; i < r->nlines; i++) {
		const char *l = smtp_line(r, i);
		tr_line(c, "S: ", l, strlen(l));
	}
}

/* Room for n more bytes in c->tx (at most CONN_TX_MAX in all): 0, or -1. */
static int tx_reserve(struct conn *c, size_t n)
{
	if (c->txlen + n > CONN_TX_MAX)
		return -1;
	if (c->txlen + n <= c->txcap)
		return 0;
	uint8_t *nb = realloc(c->tx, c->txlen + n);
	if (!nb)
		return -1;
	c->tx = nb;
	c->txcap = c->txlen + n;
	return 0;
}

/* Drop the transmit buffer (exists only while bytes wait to be sent). */
static void tx_drop(struct conn *c)
{
	free(c->tx);
	c->tx = NULL;
	c->txlen = c->txcap = 0;
}

/* After a wolfSSL call given room up to CONN_TX_MAX: keep only what it wrote
 * (none at all when it wrote nothing, e.g. TLS 1.3 waiting for the server's
 * Finished), so a held handshake does not keep 17 KiB of room. */
static void tx_fit(struct conn *c)
{
	if (c->txlen == 0) {
		tx_drop(c);
		return;
	}
	if (c->txcap > c->txlen) {
		uint8_t *nb = realloc(c->tx, c->txlen);
		if (nb) {
			c->tx = nb;
			c->txcap = c->txlen;
		}
	}
}

void conn_tx_consumed(struct conn *c, size_t n)
{
	if (n > c->txlen)
		n = c->txlen;
	memmove(c->tx, c->tx + n, c->txlen - n);
	c->txlen -= n;
	if (c->txlen == 0)
		tx_drop(c);
}

static void send_text(struct conn *c, const char *s)
{
	size_t n = strlen(s);
	tr_line(c, "C: ", s, n);
	if (tx_reserve(c, n) == 0) {
		memcpy(c->tx + c->txlen, s, n);
		c->txlen += n;
	}
}

static void send_quit(struct conn *c)
{
	send_text(c, "QUIT\r\n");
	enter(c, CONN_EXPECT_QUIT);
}

void host_result_free_text(struct host_result *r)
{
	char **text[] = { &r->banner,           &r->ehlo,      &r->fail_detail, &r->starttls_reply, &r->stripped_token,
			  &r->plaintext_sample, &r->echo_token };
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		free(*text[i]);
		*text[i] = NULL;
	}
}

/* every chain the probes' parser or the handshake hands over fits, so NULL
 * for a non-empty chain means out of memory */
_Static_assert(HELLO_MAX_CERT_BYTES <= HS_RES_CHAIN && HS_MAX_CHAIN_BYTES <= HS_RES_CHAIN &&
		       HS_MAX_CERTS <= HS_RES_CERTS,
	       "a chain from hello.c or handshake.c fits a cert_chain");

struct cert_chain *cert_chain_new(const uint8_t *const *der, const uint32_t *len, int n)
{
	size_t used = 0;
	int k = 0;
	for (; k < n && k < HS_RES_CERTS && used + len[k] <= HS_RES_CHAIN; k++)
		used += len[k];
	if (k == 0)
		return NULL;
	struct cert_chain *ch = malloc(offsetof(struct cert_chain, buf) + used);
	if (!ch)
		return NULL;
	ch->n = k;
	used = 0;
	for (int i = 0; i < k; i++) {
		memcpy(ch->buf + used, der[i], len[i]);
		ch->off[i] = (uint32_t)used;
		ch->len[i] = len[i];
		used += len[i];
	}
	return ch;
}

void hs_result_free(struct hs_result *h)
{
	if (!h)
		return;
	free(h->chain);
	free(h->ehlo);
	free(h);
}

/* Join reply lines with '\n' into dst. */
static void keep_reply(const struct smtp_reply *r, char *dst, size_t cap)
{
	if (cap == 0)
		return;
	size_t n = 0;
	dst[0] = 0;
	for (int i = 0; i < r->nlines && n + 1 < cap; i++) {
		int w = snprintf(dst + n, cap - n, "%s%s", i ? "\n" : "", smtp_line(r, i));
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (n >= cap)
		dst[cap - 1] = 0;
}

/* Broad baseline offer: the TLS 1.3 suites, then every suite a real server
 * might still pick in TLS 1.2..1.0 (ECDHE, DHE and static RSA with AES, ChaCha20,
 * CAMELLIA, 3DES, RC4), strongest first, so a client-preference server picks
 * a modern suite. Export, NULL, anonymous, static-DH, PSK/SRP/KRB5 and exotic
 * ciphers are left to the enumeration: servers choke on big hellos (wolfSSL
 * refuses more than 150 suites with decode_error), so the offer is capped at
 * BASE_MAX suites. */
#define BASE_MAX 120
static uint16_t base_suites[BASE_MAX];
static size_t base_nsuites;
static pthread_once_t base_once = PTHREAD_ONCE_INIT;

static int suite_rank(const struct suite_info *s)
{
	if (s->versions & SV_TLS13) {
		if (s->flags & SF_NULL_CIPHER)
			return 90; /* integrity-only suites (RFC 9150): never a client's first wish */
		if (s->code >= 0x1301 && s->code <= 0x1303)
			return 0;
		return s->code <= 0x1305 ? 1 : 2; /* CCM, then AEGIS/SM4/GOST */
	}
	int r = 3;
	if (!(s->flags & SF_AEAD))
		r += 10;
	if (!(s->flags & SF_PFS))
		r += 20;
	if (s->flags & (SF_ANON | SF_NULL_CIPHER | SF_EXPORT))
		r += 40;
	if (strcmp(s->kx, "ECDHE") != 0)
		r += 1;
	if (strstr(s->enc, "RC4") || strstr(s->enc, "3DES"))
		r += 5; /* RFC 7465, SWEET32: last resorts */
	return r;
}

static int baseline_candidate(const struct suite_info *s)
{
	static const char *const skip_enc[] = { "ARIA",       "SEED",  "IDEA", "GOST",    "SM4",   "AEGIS",
						"KUZNYECHIK", "MAGMA", "RC2",  "DES_CBC", "DES40", "28147" };
	if (s->flags & (SF_SIGNALING | SF_PSK | SF_UNREGISTERED | SF_EXPORT | SF_NULL_CIPHER | SF_ANON))
		return 0;
	if (!(s->versions & (SV_TLS13 | SV_TLS12 | SV_TLS11 | SV_TLS10)))
		return 0;
	if (strcmp(s->kx, "RSA") && strcmp(s->kx, "DHE") && strcmp(s->kx, "ECDHE") && strcmp(s->kx, "TLS13"))
		return 0;
	for (size_t i = 0; i < sizeof(skip_enc) / sizeof(skip_enc[0]); i++)
		if (strstr(s->enc, skip_enc[i]) && !strstr(s->enc, "3DES"))
			return 0;
	return 1;
}

static void base_init(void)
{
	size_t n = 0;
	for (int rank = 0; rank < 100; rank++)
		for (size_t i = 0; i < suites_count() && n < BASE_MAX; i++) {
			const struct suite_info *s = suite_at(i);
			if (baseline_candidate(s) && suite_rank(s) == rank)
				base_suites[n++] = s->code;
		}
	base_nsuites = n;
}

size_t conn_baseline_suites(const uint16_t **out)
{
	pthread_once(&base_once, base_init);
	*out = base_suites;
	return base_nsuites;
}

long conn_build_baseline_hello(const char *sni, uint8_t *out, size_t cap)
{
	static const uint16_t versions[] = { TLS_TLS13, TLS_TLS12, TLS_TLS11, TLS_TLS10 };
	static const uint16_t shares[] = { GROUP_X25519, GROUP_SECP256R1 };
	pthread_once(&base_once, base_init);
	struct hello_opts o = {
		.record_version = TLS_TLS10,
		.hello_version = TLS_TLS12,
		.suites = base_suites,
		.nsuites = base_nsuites,
		.sni = sni,
		.groups = hello_default_groups,
		.ngroups = hello_default_ngroups,
		.ec_point_formats = 1,
		.sigalgs = hello_default_sigalgs,
		.nsigalgs = hello_default_nsigalgs,
		.versions = versions,
		.nversions = 4,
		.key_share = 1,
		.key_share_groups = shares,
		.nkey_share = 2,
		.renegotiation_info = 1,
		.extended_master_secret = 1,
		.pad_to = 512,
	};
	return hello_build(&o, out, cap);
}

static void send_client_hello(struct conn *c)
{
	uint8_t tmp[CONN_TX_MAX];
	long n = c->hello_opts ? hello_build(c->hello_opts, tmp, sizeof(tmp) - c->txlen)
			       : conn_build_baseline_hello(c->res->sni && c->res->sni[0] ? c->res->sni : NULL, tmp,
							   sizeof(tmp) - c->txlen);
	if (n >= 0 && tx_reserve(c, (size_t)n) == 0)
		memcpy(c->tx + c->txlen, tmp, (size_t)n);
	else
		n = -1;
	if (n < 0) {
		failure(c, ST_UNKNOWN_ERROR, "hello-build", "ClientHello does not fit");
		enter(c, CONN_DONE);
		return;
	}
	c->txlen += (size_t)n;
	tr_note(c, "TLS ClientHello sent (%ld bytes)", n);
	c->res->tls.attempted = 1;
	enter(c, CONN_EXPECT_SERVER_HELLO);
}

/* --- the full handshake (wolfSSL over memory buffers) --------------------- */

static void hs_failed(struct conn *c, const char *stage)
{
	struct hs_result *h = c->res->hs;
	if (h && !h->stage[0]) {
		snprintf(h->stage, sizeof(h->stage), "%s", stage);
		h->alert = c->hs ? hs_alert(c->hs) : -1;
		snprintf(h->error, sizeof(h->error), "%s", c->hs ? hs_error(c->hs) : "out of memory");
		if (h->alert >= 0)
			tr_note(c, "TLS handshake failed at %s: alert %d %s (%s)", stage, h->alert,
				tls_alert_name((uint8_t)h->alert), h->error);
		else
			tr_note(c, "TLS handshake failed at %s: %s", stage, h->error);
	}
	enter(c, CONN_DONE);
}

static void hs_send_text(struct conn *c, const char *text)
{
	tr_line(c, "C: ", text, strlen(text));
	int rc = tx_reserve(c, CONN_TX_MAX - c->txlen) < 0
			 ? -1
			 : hs_write(c->hs, text, strlen(text), c->tx, &c->txlen, CONN_TX_MAX);
	tx_fit(c);
	if (rc < 0)
		hs_failed(c, "tls-write");
}

/* EHLO over TLS (RFC 3207 §4.2: the client must forget what it knew). */
static void hs_send_ehlo(struct conn *c)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", c->cfg->ehlo_name);
	hs_send_text(c, cmd);
	if (c->state != CONN_DONE)
		enter(c, CONN_EXPECT_TLS_EHLO);
}

static void start_handshake(struct conn *c)
{
	c->hs = hs_new(c->hs_ctx, c->res->sni && c->res->sni[0] ? c->res->sni : NULL);
	if (!c->hs || !c->res->hs) {
		hs_failed(c, "handshake");
		return;
	}
	c->res->hs->alert = -1;
	tr_note(c, "TLS handshake as a sending MTA (wolfSSL, TLS 1.1-1.3, SNI %s)",
		c->res->sni && c->res->sni[0] ? c->res->sni : "none");
	int st = tx_reserve(c, CONN_TX_MAX - c->txlen) < 0 ? HS_FAIL
							   : hs_step(c->hs, NULL, 0, c->tx, &c->txlen, CONN_TX_MAX);
	tx_fit(c);
	if (st == HS_FAIL) {
		hs_failed(c, "handshake");
		return;
	}
	enter(c, CONN_EXPECT_HANDSHAKE);
}

/* Handshake complete: keep what a sending MTA negotiated and the chain. */
static void handshake_done(struct conn *c)
{
	struct hs_result *h = c->res->hs;
	struct hs_info i;
	hs_get_info(c->hs, &i);
	/* the chain, copied to an allocation of its size (wolfSSL's copy goes with c->hs) */
	free(h->chain);
	h->chain = cert_chain_new(i.cert, i.cert_len, i.ncerts);
	if (i.ncerts > 0 && !h->chain) {
		snprintf(h->stage, sizeof(h->stage), "handshake");
		snprintf(h->error, sizeof(h->error), "out of memory (a %d-certificate chain)", i.ncerts);
		tr_note(c, "TLS handshake failed at handshake: %s", h->error);
		enter(c, CONN_DONE);
		return;
	}
	h->ok = 1;
	h->version = i.version;
	h->cipher = i.cipher;
	snprintf(h->group, sizeof(h->group), "%s", i.group);
	{
		const struct suite_info *s = suite_by_code(i.cipher);
		tr_note(c, "TLS established: %s, %s%s%s, %d certificate(s); the dialogue below is encrypted",
			tls_version_name(i.version), s ? s->name : "unknown suite", i.group[0] ? ", " : "", i.group,
			i.ncerts);
	}
	if (c->res->mode == MODE_IMPLICIT) {
		enter(c, CONN_EXPECT_TLS_BANNER);
	} else {
		hs_send_ehlo(c);
	}
}

/* Decrypted SMTP after the handshake: the greeting (implicit TLS), then the
 * EHLO reply, whose capabilities are compared with the plaintext ones. */
static void on_tls_plain(struct conn *c, const uint8_t *buf, size_t len)
{
	while (len > 0 && (c->state == CONN_EXPECT_TLS_BANNER || c->state == CONN_EXPECT_TLS_EHLO)) {
		size_t used = 0;
		int st = sp_get(c) ? smtp_parse(c->sp, buf, len, &used) : SMTP_ERR_NOMEM;
		buf += used;
		len -= used;
		if (st == SMTP_NEED_MORE)
			return;
		if (st < 0) {
			snprintf(c->res->hs->error, sizeof(c->res->hs->error), "SMTP over TLS: %s",
				 smtp_status_name(st));
			hs_failed(c, conn_state_name(c->state));
			return;
		}
		struct smtp_reply *r = &c->sp->reply;
		tr_reply(c, r);
		if (c->state == CONN_EXPECT_TLS_BANNER) {
			hs_send_ehlo(c);
			continue;
		}
		struct hs_result *h = c->res->hs;
		struct smtp_caps caps;
		char text[RES_TEXT];
		keep_reply(r, text, sizeof(text));
		free(h->ehlo);
		h->ehlo = strdup(text); /* NULL (out of memory) = not kept */
		h->ehlo_code = r->code;
		smtp_parse_caps(r, &caps);
		h->caps = caps.flags;
		hs_send_text(c, "QUIT\r\n");
		enter(c, CONN_DONE);
		return;
	}
}

static void on_handshake_bytes(struct conn *c, const uint8_t *buf, size_t len)
{
	uint8_t plain[8192];
	if (c->state == CONN_EXPECT_HANDSHAKE) {
		int st = tx_reserve(c, CONN_TX_MAX - c->txlen) < 0
				 ? HS_FAIL
				 : hs_step(c->hs, buf, len, c->tx, &c->txlen, CONN_TX_MAX);
		tx_fit(c);
		if (st == HS_FAIL) {
			hs_failed(c, "handshake");
			return;
		}
		if (st == HS_WANT)
			return;
		handshake_done(c);
		buf = NULL; /* queued leftovers are read below */
		len = 0;
	}
	while (c->state == CONN_EXPECT_TLS_BANNER || c->state == CONN_EXPECT_TLS_EHLO) {
		long n = hs_read(c->hs, buf, len, plain, sizeof(plain));
		buf = NULL;
		len = 0;
		if (n < 0) {
			hs_failed(c, conn_state_name(c->state));
			return;
		}
		if (n == 0)
			return;
		on_tls_plain(c, plain, (size_t)n);
	}
}

int conn_init(struct conn *c, const struct conn_config *cfg, struct host_result *res)
{
	hs_free(c->hs); /* the previous connection's handshake, if any */
	memset(c, 0, offsetof(struct conn, sp));
	/* the previous connection's parser and flight: a connection holds them only
	 * from the first byte of its server's answer on */
	hello_parser_free(c->hp);
	c->hp = NULL;
	free(c->flight_copy);
	c->flight_copy = NULL;
	c->cfg = cfg;
	c->res = res;
	c->leaf = NULL;
	c->leaf_len = 0;
	tx_drop(c); /* unsent bytes of the previous connection */
	res->connections++;
	enter(c, CONN_EXPECT_CONNECT);
	return 0;
}

void conn_release(struct conn *c)
{
	hs_free(c->hs);
	c->hs = NULL;
	hello_parser_free(c->hp);
	c->hp = NULL;
	free(c->flight_copy);
	c->flight_copy = NULL;
	c->flight = NULL;
	smtp_parser_free(c->sp);
	c->sp = NULL;
	tx_drop(c);
}

void conn_on_connected(struct conn *c)
{
	if (c->state != CONN_EXPECT_CONNECT)
		return;
	tr_note(c, "connected to %s port %u (%s%s)", c->res->ip, c->res->port,
		c->res->mode == MODE_IMPLICIT ? "implicit TLS" : "SMTP, STARTTLS",
		!c->hs_ctx                      ? ""
		: c->res->mode == MODE_IMPLICIT ? "; new connection for the full handshake"
						: "; new connection for the full handshake; greeting, EHLO and "
						  "STARTTLS as above");
	if (c->res->mode != MODE_IMPLICIT)
		enter(c, CONN_EXPECT_BANNER);
	else if (c->hs_ctx)
		start_handshake(c);
	else
		send_client_hello(c);
}

/* --- SMTP replies, one per state ---------------------------------------- */

/* A reply that ends the dialogue: recorded as "smtp-NNN"; after 421 the
 * server is closing (RFC 5321 §3.8), otherwise we say QUIT politely. */
static void smtp_refused(struct conn *c, const struct smtp_reply *r)
{
	char reason[32];
	snprintf(reason, sizeof(reason), "smtp-%d", r->code);
	failure(c, ST_APPLICATION_ERROR, reason, smtp_line(r, 0));
	if (r->code == 421)
		enter(c, CONN_DONE);
	else
		send_quit(c);
}

/* "EHLO name" or "HELO name" with the configured name. */
static void send_greeting(struct conn *c, const char *verb)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "%s %s\r\n", verb, c->cfg->ehlo_name);
	send_text(c, cmd);
}

/* The same into a string allocated to its size (*dst is replaced); nothing when
 * the result keeps no text. */
static void keep_text(const struct smtp_reply *r, const struct host_result *res, char **dst)
{
	char tmp[RES_TEXT];
	if (res->no_text)
		return;
	keep_reply(r, tmp, sizeof(tmp));
	free(*dst);
	*dst = strdup(tmp); /* NULL (out of memory) = not kept */
}

static void on_banner(struct conn *c, const struct smtp_reply *r)
{
	struct host_result *res = c->res;
	keep_text(r, res, &res->banner);
	res->banner_code = r->code;
	res->banner_masked = smtp_banner_masked(r);
	if (r->code == 220) {
		send_greeting(c, "EHLO");
		enter(c, CONN_EXPECT_EHLO);
		return;
	}
	/* 421: closing; 554: it will not serve us but expects QUIT (§3.1). */
	smtp_refused(c, r);
}

static void on_ehlo(struct conn *c, const struct smtp_reply *r)
{
	struct host_result *res = c->res;
	keep_text(r, res, &res->ehlo);
	res->ehlo_code = r->code;
	if (r->code == 250) {
		struct smtp_caps caps;
		smtp_parse_caps(r, &caps);
		res->caps = caps.flags;
		if (caps.flags & SMTP_CAP_STARTTLS) {
			res->starttls = STLS_OFFERED;
			send_text(c, "STARTTLS\r\n");
			enter(c, CONN_EXPECT_STARTTLS);
			return;
		}
		if (caps.stripped) {
			res->starttls = STLS_STRIPPED;
			set_text(res, &res->stripped_token, caps.stripped_token);
			failure(c, ST_APPLICATION_ERROR, "starttls-stripped", caps.stripped_token);
		} else {
			res->starttls = STLS_ABSENT;
			failure(c, ST_APPLICATION_ERROR, "starttls-not-offered", NULL);
		}
		send_quit(c);
		return;
	}
	if (r->code >= 500) {
		/* EHLO not understood: fall back to HELO (RFC 5321 §4.1.4). */
		res->helo_fallback = 1;
		send_greeting(c, "HELO");
		enter(c, CONN_EXPECT_HELO);
		return;
	}
	smtp_refused(c, r);
}

static void on_helo(struct conn *c, const struct smtp_reply *r)
{
	struct host_result *res = c->res;
	keep_text(r, res, &res->ehlo);
	res->ehlo_code = r->code;
	if (r->code == 250) {
		/* HELO has no extensions, so no STARTTLS (RFC 3207 §4). */
		res->starttls = STLS_ABSENT;
		failure(c, ST_APPLICATION_ERROR, "starttls-not-offered", "EHLO refused, HELO accepted");
	}
	smtp_refused(c, r); /* the first failure recorded wins */
}

static void on_starttls(struct conn *c, const struct smtp_reply *r)
{
	struct host_result *res = c->res;
	set_text(res, &res->starttls_reply, smtp_line(r, 0));
	res->starttls_code = r->code;
	if (r->code == 220) {
		if (c->hs_ctx)
			start_handshake(c);
		else
			send_client_hello(c);
		return;
	}
	if (r->code == 454) {
		failure(c, ST_APPLICATION_ERROR, "starttls-refused", smtp_line(r, 0));
	} else if (r->code >= 500 && r->code <= 502) {
		/* Advertised, then "command not recognized": the command was mangled
		 * on the way (a middlebox) or the server is broken. */
		failure(c, ST_APPLICATION_ERROR, "starttls-rejected", smtp_line(r, 0));
	}
	/* a server that quotes what it got shows what the path did to our command */
	char echo[16];
	if (r->code >= 500 && smtp_echo_corrupted(r, echo, sizeof(echo)))
		set_text(res, &res->echo_token, echo);
	smtp_refused(c, r); /* the first failure recorded wins */
}

static void smtp_error(struct conn *c, int st)
{
	char detail[RES_SHORT];
	snprintf(detail, sizeof(detail), "%s%s%s", smtp_status_name(st), c->sp && c->sp->bad[0] ? ": " : "",
		 c->sp ? c->sp->bad : "");
	tr_note(c, "unparseable reply: %s", detail);
	failure(c, ST_PROTOCOL_ERROR, smtp_status_name(st), detail);
	enter(c, CONN_DONE);
}

/* --- TLS server flight ------------------------------------------------- */

static int looks_like_smtp(const char *s)
{
	return s[0] >= '1' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
	       (s[3] == ' ' || s[3] == '-' || s[3] == '.' /* CRLF shown as '.' */);
}

static void on_tls_bytes(struct conn *c, const uint8_t *buf, size_t len)
{
	struct server_flight f;
	struct host_result *res = c->res;
	if (!c->hp && !(c->hp = hello_parser_new(0))) {
		failure(c, ST_UNKNOWN_ERROR, "out-of-memory", "TLS parser");
		enter(c, CONN_DONE);
		return;
	}
	int st = hello_parse(c->hp, buf, len, &f);
	if (st == HELLO_NEED_MORE)
		return;
	if (st == HELLO_DONE) {
		struct tls_probe_result *t = &res->tls;
		if (f.got_alert && !f.got_server_hello) {
			char d[64];
			t->got_alert = 1;
			t->alert_desc = f.alert_desc;
			snprintf(d, sizeof(d), "alert %u %s", f.alert_desc, tls_alert_name(f.alert_desc));
			tr_note(c, "TLS answer: %s", d);
			failure(c, ST_APPLICATION_ERROR, "tls-alert", d);
		} else {
			t->got_server_hello = f.got_server_hello;
			t->hrr = f.is_hrr;
			t->version = f.version;
			t->cipher = f.cipher;
			t->group = f.key_share_group ? f.key_share_group : f.ske_group;
			t->ncerts = f.ncerts;
			t->dh_bits = f.dh_bits;
			t->compression = f.compression;
			if (f.ncerts > 0) {
				/* parsed by the driver, once per host: X.509 parsing costs more than the probe */
				if (!c->flight_copy)
					c->flight_copy = malloc(sizeof(*c->flight_copy));
				if (c->flight_copy) {
					c->leaf = f.cert[0];
					c->leaf_len = f.cert_len[0];
					*c->flight_copy = f;
					c->flight = c->flight_copy;
				}
			}
			t->reneg_info = f.has_reneg_info;
			if (f.got_alert) {
				t->got_alert = 1;
				t->alert_desc = f.alert_desc;
			}
			if (!res->fail_reason[0])
				res->status = ST_SUCCESS;
			if (f.got_server_hello) {
				const struct suite_info *s = suite_by_code(f.cipher);
				if (f.version >= TLS_TLS13)
					tr_note(c, "TLS answer: %s %s, %s (certificates are encrypted in TLS 1.3)",
						f.is_hrr ? "HelloRetryRequest" : "ServerHello",
						tls_version_name(f.version), s ? s->name : "unknown suite");
				else
					tr_note(c, "TLS answer: ServerHello %s, %s, %d certificate(s)",
						tls_version_name(f.version), s ? s->name : "unknown suite", f.ncerts);
			}
		}
		enter(c, CONN_DONE);
		return;
	}
	if (st == HELLO_ERR_NOT_TLS && strlen(f.not_tls) < 4)
		return; /* too few bytes to tell an SMTP reply from other junk: wait (the deadline still runs) */
	tr_note(c, "TLS answer: %s: %s", st == HELLO_ERR_NOT_TLS ? "not TLS" : "malformed TLS",
		st == HELLO_ERR_NOT_TLS ? f.not_tls : hello_status_name(st));
	if (st == HELLO_ERR_NOT_TLS && looks_like_smtp(f.not_tls)) {
		res->plaintext_after_starttls = 1;
		set_plain_sample(res, (const uint8_t *)f.not_tls, strlen(f.not_tls));
		failure(c, ST_PROTOCOL_ERROR, "plaintext-after-starttls", f.not_tls);
	} else {
		failure(c, ST_PROTOCOL_ERROR, st == HELLO_ERR_NOT_TLS ? "not-tls" : "tls-malformed",
			st == HELLO_ERR_NOT_TLS ? f.not_tls : hello_status_name(st));
	}
	enter(c, CONN_DONE);
}

void conn_on_data(struct conn *c, const uint8_t *buf, size_t len)
{
	while (len > 0 && c->state != CONN_DONE) {
		if (c->state == CONN_EXPECT_SERVER_HELLO) {
			on_tls_bytes(c, buf, len);
			return;
		}
		if (c->state == CONN_EXPECT_HANDSHAKE || c->state == CONN_EXPECT_TLS_BANNER ||
		    c->state == CONN_EXPECT_TLS_EHLO) {
			on_handshake_bytes(c, buf, len);
			return;
		}
		if (c->state == CONN_EXPECT_CONNECT)
			return; /* cannot happen: data before connect */
		size_t used = 0;
		int st = sp_get(c) ? smtp_parse(c->sp, buf, len, &used) : SMTP_ERR_NOMEM;
		buf += used;
		len -= used;
		if (st == SMTP_NEED_MORE)
			return;
		if (st < 0) {
			if (c->state == CONN_EXPECT_QUIT)
				enter(c, CONN_DONE); /* garbage instead of 221: we are leaving anyway */
			else
				smtp_error(c, st);
			return;
		}
		struct smtp_reply *r = &c->sp->reply;
		tr_reply(c, r);
		switch (c->state) {
		case CONN_EXPECT_BANNER: on_banner(c, r); break;
		case CONN_EXPECT_EHLO: on_ehlo(c, r); break;
		case CONN_EXPECT_HELO: on_helo(c, r); break;
		case CONN_EXPECT_STARTTLS:
			on_starttls(c, r);
			if (c->state == CONN_EXPECT_SERVER_HELLO && len > 0) {
				/* Bytes after the 220 and before our ClientHello could be
				 * answered: plaintext injected into the TLS stream (the
				 * STARTTLS command-injection symptom, CVE-2011-0411 class).
				 * Discard them and flag it. */
				c->res->plaintext_after_starttls = 1;
				set_plain_sample(c->res, buf, len);
				return;
			}
			break;
		case CONN_EXPECT_QUIT: enter(c, CONN_DONE); return;
		default: return;
		}
	}
}

static int in_handshake(const struct conn *c)
{
	return c->state == CONN_EXPECT_HANDSHAKE || c->state == CONN_EXPECT_TLS_BANNER ||
	       c->state == CONN_EXPECT_TLS_EHLO;
}

/* A close, reset or timeout during the full handshake ends it, with that as
 * the reason (the host's own status is the baseline probe's). */
static int handshake_ended(struct conn *c, const char *why)
{
	if (!in_handshake(c))
		return 0;
	struct hs_result *h = c->res->hs;
	if (h && !h->stage[0]) {
		snprintf(h->stage, sizeof(h->stage), "%s", conn_state_name(c->state));
		h->alert = c->hs ? hs_alert(c->hs) : -1;
		snprintf(h->error, sizeof(h->error), "%s", why);
	}
	enter(c, CONN_DONE);
	return 1;
}

void conn_on_eof(struct conn *c)
{
	if (c->state != CONN_DONE)
		tr_note(c, "connection closed by the server (%s)", conn_state_name(c->state));
	if (c->state == CONN_DONE || handshake_ended(c, "closed"))
		return;
	if (c->state != CONN_EXPECT_QUIT)
		failure(c, ST_CONNECTION_CLOSED, "closed", "server closed the connection");
	enter(c, CONN_DONE);
}

void conn_on_error(struct conn *c, int err)
{
	if (c->state != CONN_DONE)
		tr_note(c, "%s (%s)", err == ECONNRESET ? "connection reset (TCP RST)" : strerror(err),
			conn_state_name(c->state));
	if (c->state == CONN_DONE || handshake_ended(c, err == ECONNRESET ? "reset" : strerror(err)))
		return;
	if (c->state == CONN_EXPECT_CONNECT && err == ECONNRESET) {
		/* An RST before the completed connect was seen: only an established
		 * connection is reset (a refusal is ECONNREFUSED), so this is the reset of
		 * the next stage that came a moment earlier than the event loop looked. */
		conn_on_connected(c);
		if (c->state == CONN_DONE)
			return;
	}
	if (c->state == CONN_EXPECT_CONNECT) {
		if (err == ECONNREFUSED)
			failure(c, ST_CONNECTION_REFUSED, "refused", strerror(err));
		else if (err == ETIMEDOUT)
			failure(c, ST_CONNECTION_TIMEOUT, "timeout", strerror(err));
		else
			failure(c, ST_UNKNOWN_ERROR, "connect-error", strerror(err));
	} else if (c->state != CONN_EXPECT_QUIT) {
		if (err == ECONNRESET || err == EPIPE)
			failure(c, ST_CONNECTION_CLOSED, "reset", strerror(err));
		else
			failure(c, ST_UNKNOWN_ERROR, "io-error", strerror(err));
	}
	enter(c, CONN_DONE);
}

void conn_on_timeout(struct conn *c)
{
	char d[64];
	if (c->state == CONN_DONE || handshake_ended(c, "timeout"))
		return;
	snprintf(d, sizeof(d), "no answer within %u ms", c->timeout_ms);
	tr_note(c, "%s (%s)", d, conn_state_name(c->state));
	if (c->state == CONN_EXPECT_CONNECT)
		failure(c, ST_CONNECTION_TIMEOUT, "timeout", d);
	else if (c->state != CONN_EXPECT_QUIT)
		failure(c, ST_IO_TIMEOUT, "timeout", d);
	enter(c, CONN_DONE);
}
