/*
 * Transcript tests of the connection state machine, without sockets.
 *
 * Each transcript is a list of steps: the server sends bytes ("S"), optionally
 * in 1-byte segments, the client must have sent bytes starting with a prefix
 * ("C"), or an event happens (EOF, RESET, TIMEOUT). After the last step the
 * test checks status, failure stage and reason and selected record fields.
 * Every state change must come with a deadline (timeout_ms > 0 unless DONE).
 */
#include <errno.h>

#include "mxscan/conn.h"
#include "tap.h"

enum step_kind { S, S1, C, EOF_, RESET, TIMEOUT, TLS_SH12, TLS_SH13, TLS_ALERT40 };

struct step {
	enum step_kind k;
	const char *text;
};

struct expect {
	enum scan_status status;
	const char *stage, *reason;
	enum starttls_state starttls;
	int tls_version;
};

/* A TLS 1.2 ServerHello + ServerHelloDone (suite 0xc02f), a TLS 1.3 ServerHello
 * (0x1301, x25519), and a fatal handshake_failure alert. */
static const uint8_t sh12[] = {
	0x16, 0x03, 0x03, 0x00, 0x2e,       /* record */
	0x02, 0x00, 0x00, 0x26, 0x03, 0x03, /* ServerHello, len 38, version */
	1,    2,    3,    4,    5,    6,    7,  8,  9,  10, 11, 12, 13, 14, 15, 16,   17,
	18,   19,   20,   21,   22,   23,   24, 25, 26, 27, 28, 29, 30, 31, 32, 0x00, /* session id len */
	0xc0, 0x2f, 0x00,                                                             /* suite, compression */
	0x0e, 0x00, 0x00, 0x00,                                                       /* ServerHelloDone */
};
static const uint8_t sh13[] = {
	0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03, 1,    2,    3,  4,  5,  6,
	7,    8,    9,    10,   11,   12,   13,   14,   15,   16,   17,   18,   19,   20, 21, 22, 23,
	24,   25,   26,   27,   28,   29,   30,   31,   32,   0x20, 1,    2,    3,    4,  5,  6,  7,
	8,    9,    10,   11,   12,   13,   14,   15,   16,   17,   18,   19,   20,   21, 22, 23, 24,
	25,   26,   27,   28,   29,   30,   31,   32,   0x13, 0x01, 0x00, 0x00, 0x2e, /* extensions length 46 */
	0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,                                           /* supported_versions */
	0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20,                               /* key_share x25519, 32 bytes */
	9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,  9,  9,  9,
	9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,    9,  9,
};
static const uint8_t alert40[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };

static struct conn_config cfg;
static struct transcript *run_tr; /* when set, run() records the dialogue there */

static int run(const char *name, const struct step *steps, size_t n, const struct expect *e, struct host_result *res)
{
	static struct conn c;
	host_result_free_text(res); /* the previous run's */
	memset(res, 0, sizeof(*res));
	res->transcript = run_tr;
	snprintf(res->ip, sizeof(res->ip), "192.0.2.7");
	res->mode = MODE_STARTTLS;
	res->sni = "mx1.example.test";
	if (conn_init(&c, &cfg, res) < 0)
		return 0;
	int deadlines_ok = 1, sent_ok = 1;
	conn_on_connected(&c);
	for (size_t i = 0; i < n; i++) {
		const struct step *s = &steps[i];
		if (c.rearm) {
			if (c.state != CONN_DONE && c.timeout_ms == 0)
				deadlines_ok = 0;
			c.rearm = 0;
		}
		switch (s->k) {
		case S: conn_on_data(&c, (const uint8_t *)s->text, strlen(s->text)); break;
		case S1:
			for (size_t k = 0; s->text[k]; k++)
				conn_on_data(&c, (const uint8_t *)s->text + k, 1);
			break;
		case C: {
			size_t want = strlen(s->text);
			if (c.txlen < want || memcmp(c.tx, s->text, want) != 0) {
				sent_ok = 0;
				diag("%s: step %zu: client sent \"%.*s\", want prefix \"%s\"", name, i, (int)c.txlen,
				     (const char *)c.tx, s->text);
			}
			c.txlen = 0;
			break;
		}
		case EOF_: conn_on_eof(&c); break;
		case RESET: conn_on_error(&c, ECONNRESET); break;
		case TIMEOUT: conn_on_timeout(&c); break;
		case TLS_SH12:
			/* the client's bytes must be a TLS handshake record (ClientHello) */
			if (c.txlen < 6 || c.tx[0] != 0x16 || c.tx[5] != 0x01) {
				sent_ok = 0;
				diag("%s: no ClientHello before the ServerHello", name);
			}
			c.txlen = 0;
			conn_on_data(&c, sh12, sizeof(sh12));
			break;
		case TLS_SH13:
			c.txlen = 0;
			for (size_t k = 0; k < sizeof(sh13); k++)
				conn_on_data(&c, sh13 + k, 1);
			break;
		case TLS_ALERT40:
			c.txlen = 0;
			conn_on_data(&c, alert40, sizeof(alert40));
			break;
		}
	}
	int good = 1;
	good &= ok(c.state == CONN_DONE, "%s: ends in DONE (state %s)", name, conn_state_name(c.state));
	good &= ok(deadlines_ok, "%s: every state entered with a deadline", name);
	good &= ok(sent_ok, "%s: client sent what was expected", name);
	is_str(scan_status_name(res->status), scan_status_name(e->status), "%s: status", name);
	is_str(res->fail_stage ? res->fail_stage : "", e->stage, "%s: failure stage", name);
	is_str(res->fail_reason, e->reason, "%s: failure reason", name);
	is_str(starttls_state_name(res->starttls), starttls_state_name(e->starttls), "%s: starttls", name);
	if (e->tls_version)
		is_int(res->tls.version, e->tls_version, "%s: TLS version", name);
	conn_release(&c);
	return good;
}

#define RUN(name, exp, res, ...)                                        \
	do {                                                            \
		const struct step st_[] = { __VA_ARGS__ };              \
		run(name, st_, sizeof(st_) / sizeof(st_[0]), exp, res); \
	} while (0)

static const char EHLO_TLS[] = "250-mx1.example.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";

/* An error while the connect is still pending: a reset means the connection had been
 * established (it is the next stage's reset); a refusal stays a connect failure. */
static void test_connect_errors(void)
{
	static struct conn c;
	static const struct {
		int mode, err;
		const char *stage, *reason;
		enum scan_status st;
	} cases[] = {
		{ MODE_STARTTLS, ECONNRESET, "banner", "reset", ST_CONNECTION_CLOSED },
		{ MODE_IMPLICIT, ECONNRESET, "tls-hello", "reset", ST_CONNECTION_CLOSED },
		{ MODE_STARTTLS, ECONNREFUSED, "connect", "refused", ST_CONNECTION_REFUSED },
		{ MODE_STARTTLS, EHOSTUNREACH, "connect", "connect-error", ST_UNKNOWN_ERROR },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct host_result r;
		memset(&r, 0, sizeof(r));
		r.mode = cases[i].mode;
		r.sni = "mx1.example.test";
		if (conn_init(&c, &cfg, &r) < 0) {
			ok(0, "conn_init");
			continue;
		}
		conn_on_error(&c, cases[i].err);
		ok(c.state == CONN_DONE && r.status == cases[i].st &&
			   !strcmp(r.fail_stage ? r.fail_stage : "", cases[i].stage) &&
			   !strcmp(r.fail_reason, cases[i].reason),
		   "%s before the connect completed (%s): %s, %s/%s (got %s/%s)", strerror(cases[i].err),
		   cases[i].mode == MODE_IMPLICIT ? "implicit" : "starttls", scan_status_name(cases[i].st),
		   cases[i].stage, cases[i].reason, r.fail_stage ? r.fail_stage : "", r.fail_reason);
		conn_release(&c);
		host_result_free_text(&r);
	}
}

int main(void)
{
	struct host_result r = { 0 };
	conn_config_defaults(&cfg);
	cfg.ehlo_name = "scanner.example.test";

	{
		struct expect e = { ST_SUCCESS, "", "", STLS_OFFERED, 0x0303 };
		RUN("multi-line banner, STARTTLS, TLS 1.2", &e, &r, { S, "220-mx1.example.test ESMTP\r\n220 hi\r\n" },
		    { C, "EHLO scanner.example.test\r\n" }, { S, EHLO_TLS }, { C, "STARTTLS\r\n" },
		    { S, "220 2.0.0 Ready\r\n" }, { TLS_SH12, NULL });
		is_int(r.tls.cipher, 0xc02f, "negotiated suite recorded");
		is_str(r.banner, "220-mx1.example.test ESMTP\n220 hi", "banner lines kept");
		is_str(r.starttls_reply, "220 2.0.0 Ready", "STARTTLS reply kept");
		ok(!r.plaintext_after_starttls, "no plaintext after 220");
	}
	{
		struct expect e = { ST_SUCCESS, "", "", STLS_OFFERED, 0x0304 };
		RUN("banner in 1-byte segments, TLS 1.3", &e, &r, { S1, "220 mx1.example.test ESMTP\r\n" },
		    { C, "EHLO " }, { S1, EHLO_TLS }, { C, "STARTTLS\r\n" }, { S1, "220 go\r\n" }, { TLS_SH13, NULL });
		is_int(r.tls.cipher, 0x1301, "TLS 1.3 suite");
		is_int(r.tls.group, 29, "TLS 1.3 group x25519");
	}
	{
		struct expect e = { ST_IO_TIMEOUT, "banner", "timeout", STLS_UNKNOWN, 0 };
		RUN("banner delay beyond deadline", &e, &r, { S, "220-slow" }, { TIMEOUT, NULL });
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "banner", "smtp-421", STLS_UNKNOWN, 0 };
		RUN("421 at banner", &e, &r, { S, "421 4.7.0 Too many connections\r\n" }, { EOF_, NULL });
		is_int(r.banner_code, 421, "banner code 421 recorded");
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "banner", "smtp-554", STLS_UNKNOWN, 0 };
		RUN("554 banner then QUIT", &e, &r, { S, "554 No SMTP service here\r\n" }, { C, "QUIT\r\n" },
		    { S, "221 bye\r\n" });
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "helo", "starttls-not-offered", STLS_ABSENT, 0 };
		RUN("EHLO refused, HELO fallback", &e, &r, { S, "220 old ESMTP\r\n" }, { C, "EHLO" },
		    { S, "502 5.5.2 Error: command not recognized\r\n" }, { C, "HELO scanner.example.test\r\n" },
		    { S, "250 old\r\n" }, { C, "QUIT\r\n" }, { S, "221 bye\r\n" });
		ok(r.helo_fallback, "helo_fallback flagged");
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "ehlo", "starttls-not-offered", STLS_ABSENT, 0 };
		RUN("no STARTTLS", &e, &r, { S, "220 plain\r\n" }, { C, "EHLO" },
		    { S, "250-plain\r\n250 PIPELINING\r\n" }, { C, "QUIT\r\n" }, { EOF_, NULL });
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "starttls", "starttls-refused", STLS_OFFERED, 0 };
		RUN("454 to STARTTLS", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS }, { C, "STARTTLS" },
		    { S, "454 4.7.0 TLS not available due to local problem\r\n" }, { C, "QUIT\r\n" },
		    { S, "221 bye\r\n" });
		is_int(r.starttls_code, 454, "454 recorded");
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "ehlo", "starttls-stripped", STLS_STRIPPED, 0 };
		RUN("stripped STARTTLS token", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" },
		    { S, "250-x\r\n250-PIPELINING\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n" }, { C, "QUIT\r\n" },
		    { S, "221 bye\r\n" });
		is_str(r.stripped_token ? r.stripped_token : "", "XXXXXXXA", "masked token as evidence");
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "starttls", "starttls-rejected", STLS_OFFERED, 0 };
		RUN("500 after advertised STARTTLS", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { S, "500 5.5.1 Command unrecognized: \"XXXXXXXX\"\r\n" }, { C, "QUIT" },
		    { EOF_, NULL });
		is_str(r.echo_token ? r.echo_token : "", "XXXXXXXX", "the corrupted echo of STARTTLS kept as evidence");
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "starttls", "starttls-rejected", STLS_OFFERED, 0 };
		RUN("502 without an echo", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { S, "502 5.5.2 Error: command not recognized\r\n" }, { C, "QUIT" },
		    { EOF_, NULL });
		is_str(r.echo_token ? r.echo_token : "", "", "no echo, no echo evidence");
	}
	{
		struct expect e = { ST_SUCCESS, "", "", STLS_OFFERED, 0x0303 };
		RUN("plaintext after 220 in the same segment", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" },
		    { S, EHLO_TLS }, { C, "STARTTLS" }, { S, "220 go ahead\r\n250 injected\r\n" }, { TLS_SH12, NULL });
		ok(r.plaintext_after_starttls, "plaintext after 220 flagged");
		is_str(r.plaintext_sample ? r.plaintext_sample : "", "250 injected..", "plaintext sample kept");
	}
	{
		struct expect e = { ST_PROTOCOL_ERROR, "tls-hello", "plaintext-after-starttls", STLS_OFFERED, 0 };
		RUN("plaintext instead of TLS", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { S, "220 go ahead\r\n" }, { C, "\x16\x03" },
		    { S, "250 2.1.0 injected reply\r\n" });
		ok(r.plaintext_after_starttls, "flagged");
	}
	{
		struct expect e = { ST_PROTOCOL_ERROR, "tls-hello", "plaintext-after-starttls", STLS_OFFERED, 0 };
		RUN("plaintext instead of TLS, one byte at a time", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" },
		    { S, EHLO_TLS }, { C, "STARTTLS" }, { S, "220 go ahead\r\n" }, { C, "\x16\x03" },
		    { S1, "454 4.7.0 TLS not available\r\n" });
	}
	{
		struct expect e = { ST_CONNECTION_CLOSED, "tls-hello", "closed", STLS_OFFERED, 0 };
		RUN("close after STARTTLS", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { S, "220 go\r\n" }, { EOF_, NULL });
	}
	{
		struct expect e = { ST_CONNECTION_CLOSED, "tls-hello", "reset", STLS_OFFERED, 0 };
		RUN("reset on ClientHello", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { S, "220 go\r\n" }, { RESET, NULL });
	}
	{
		struct expect e = { ST_CONNECTION_CLOSED, "starttls", "reset", STLS_OFFERED, 0 };
		RUN("reset on STARTTLS (middlebox symptom)", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { RESET, NULL });
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "tls-hello", "tls-alert", STLS_OFFERED, 0 };
		RUN("alert 40 to ClientHello", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { S, "220 go\r\n" }, { TLS_ALERT40, NULL });
		is_int(r.tls.alert_desc, 40, "alert description 40");
	}
	{
		struct expect e = { ST_PROTOCOL_ERROR, "banner", "syntax", STLS_UNKNOWN, 0 };
		RUN("garbage banner", &e, &r, { S, "\x8f\x01garbage\xff\r\n" });
	}
	{
		struct expect e = { ST_APPLICATION_ERROR, "ehlo", "smtp-421", STLS_UNKNOWN, 0 };
		RUN("421 after EHLO", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, "421 4.3.2 shutting down\r\n" });
	}
	{
		struct expect e = { ST_IO_TIMEOUT, "tls-hello", "timeout", STLS_OFFERED, 0 };
		RUN("silence after ClientHello", &e, &r, { S, "220 x\r\n" }, { C, "EHLO" }, { S, EHLO_TLS },
		    { C, "STARTTLS" }, { S, "220 go\r\n" }, { TIMEOUT, NULL });
	}
	{
		struct expect e = { ST_CONNECTION_CLOSED, "banner", "closed", STLS_UNKNOWN, 0 };
		RUN("close before banner", &e, &r, { EOF_, NULL });
	}
	{
		struct expect e = { ST_PROTOCOL_ERROR, "banner", "too-many-lines", STLS_UNKNOWN, 0 };
		char *endless = malloc(200 * 8 + 1);
		size_t n = 0;
		for (int i = 0; i < 200; i++)
			n += (size_t)sprintf(endless + n, "220-xx\r\n");
		RUN("endless continuation lines", &e, &r, { S, endless });
		free(endless);
	}
	/* implicit TLS: ClientHello right after connect */
	{
		static struct conn c;
		struct host_result res;
		memset(&res, 0, sizeof(res));
		res.mode = MODE_IMPLICIT;
		conn_init(&c, &cfg, &res);
		conn_on_connected(&c);
		ok(c.state == CONN_EXPECT_SERVER_HELLO && c.txlen > 5 && c.tx[0] == 0x16,
		   "implicit mode sends a ClientHello on connect");
		c.txlen = 0;
		conn_on_data(&c, sh12, sizeof(sh12));
		ok(c.state == CONN_DONE && res.status == ST_SUCCESS && res.tls.version == 0x0303,
		   "implicit mode records the ServerHello");
		conn_release(&c);
		host_result_free_text(&res);
	}
	/* the transcript (engine_config.transcript): S:/C: lines and notes, bounded */
	{
		static struct transcript tr;
		memset(&tr, 0, sizeof(tr));
		run_tr = &tr;
		struct expect e = { ST_SUCCESS, "", "", STLS_OFFERED, 0x0303 };
		RUN("transcript of a STARTTLS dialogue", &e, &r, { S1, "220-mx1.example.test ESMTP\r\n220 hi\r\n" },
		    { C, "EHLO scanner.example.test\r\n" }, { S, EHLO_TLS }, { C, "STARTTLS\r\n" },
		    { S, "220 2.0.0 Ready\r\n" }, { TLS_SH12, NULL });
		static const char *const want[] = {
			"* connected to 192.0.2.7 port 0 (SMTP, STARTTLS)",
			"S: 220-mx1.example.test ESMTP",
			"S: 220 hi",
			"C: EHLO scanner.example.test",
			"S: 250-mx1.example.test",
			"S: 250-PIPELINING",
			"S: 250-STARTTLS",
			"S: 250 8BITMIME",
			"C: STARTTLS",
			"S: 220 2.0.0 Ready",
		};
		size_t nw = sizeof(want) / sizeof(want[0]);
		ok(tr.n == nw + 2, "transcript: %zu lines (got %u)", nw + 2, tr.n);
		for (size_t i = 0; i < nw && i < tr.n; i++)
			is_str(tr.line[i], want[i], "transcript line %zu", i + 1);
		ok(tr.n > nw && !strncmp(tr.line[nw], "* TLS ClientHello sent (", 24), "transcript: ClientHello note");
		is_str(tr.n > nw + 1 ? tr.line[nw + 1] : "",
		       "* TLS answer: ServerHello TLSv1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0 certificate(s)",
		       "transcript: the TLS answer");

		memset(&tr, 0, sizeof(tr));
		struct expect e2 = { ST_CONNECTION_CLOSED, "tls-hello", "reset", STLS_OFFERED, 0 };
		RUN("transcript of a reset after STARTTLS", &e2, &r, { S, "220 mx\r\n" }, { C, "EHLO" },
		    { S, EHLO_TLS }, { C, "STARTTLS\r\n" }, { S, "220 go\r\n" }, { RESET, NULL });
		is_str(tr.n ? tr.line[tr.n - 1] : "", "* connection reset (TCP RST) (tls-hello)",
		       "transcript: the reset");

		/* 60 greeting lines, the first of 300 bytes: 40 lines kept, cut at 200 bytes */
		static char big[60 * 320];
		char longl[301];
		memset(longl, 'x', 300);
		longl[300] = 0;
		size_t k = (size_t)snprintf(big, sizeof(big), "220-%s\r\n", longl);
		for (int i = 1; i < 59; i++)
			k += (size_t)snprintf(big + k, sizeof(big) - k, "220-line %d\r\n", i);
		snprintf(big + k, sizeof(big) - k, "220 end\r\n");
		memset(&tr, 0, sizeof(tr));
		struct expect e3 = { ST_APPLICATION_ERROR, "ehlo", "starttls-not-offered", STLS_ABSENT, 0 };
		RUN("transcript bounds", &e3, &r, { S, big }, { C, "EHLO" }, { S, "250 mx\r\n" }, { C, "QUIT" },
		    { S, "221 bye\r\n" });
		ok(tr.n == TRANSCRIPT_LINES && tr.dropped == 1 + 60 + 1 + 1 + 1 + 1 - TRANSCRIPT_LINES,
		   "transcript: %d lines kept, the rest counted (n %u, dropped %u)", TRANSCRIPT_LINES, tr.n,
		   tr.dropped);
		size_t longest = 0;
		for (unsigned i = 0; i < tr.n; i++)
			longest = strlen(tr.line[i]) > longest ? strlen(tr.line[i]) : longest;
		ok(longest == TRANSCRIPT_LINE_MAX && !strncmp(tr.line[1], "S: 220-xxx", 10),
		   "transcript: a 304-byte line cut at %d bytes (longest %zu)", TRANSCRIPT_LINE_MAX, longest);
		run_tr = NULL;
	}
	/* connect errors */
	{
		static struct conn c;
		struct host_result res;
		memset(&res, 0, sizeof(res));
		conn_init(&c, &cfg, &res);
		conn_on_error(&c, ECONNREFUSED);
		is_str(scan_status_name(res.status), "connection-refused", "refused connect");
		is_str(res.fail_stage ? res.fail_stage : "", "connect", "refused at stage connect");
		conn_release(&c);
		host_result_free_text(&res);
		memset(&res, 0, sizeof(res));
		conn_init(&c, &cfg, &res);
		conn_on_timeout(&c);
		is_str(scan_status_name(res.status), "connection-timeout", "connect timeout");
		conn_release(&c);
		host_result_free_text(&res);
	}
	test_connect_errors();
	host_result_free_text(&r);
	return done_testing();
}
