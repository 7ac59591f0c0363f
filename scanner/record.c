/*
 * record: host_result → JSON, field by field as documented in
 * datasets/schema/record.schema.json and README.md. Names never change without
 * a schema version bump. Optional objects are omitted rather than emitted
 * empty when the stage they describe was never reached.
 */
#include "mxscan/record.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mxscan/capture.h"
#include "mxscan/conn.h"
#include "mxscan/geo.h"
#include "mxscan/grade.h"
#include "mxscan/hello.h"
#include "mxscan/plan.h"
#include "mxscan/smtp.h"
#include "mxscan/suites.h"
#include "mxscan/verify.h"

static void iso_time(char *buf, size_t cap, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03uZ", (unsigned)(ms % 1000));
}

/* Emit a '\n'-joined text as an array of lines. */
static void lines_array(struct jbuf *jb, const char *key, const char *text)
{
	jb_arr_open(jb, key);
	const char *s = text;
	while (*s) {
		const char *e = strchr(s, '\n');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		jb_strn(jb, NULL, s, n);
		s += n + (e ? 1 : 0);
	}
	jb_arr_close(jb);
}

static const struct {
	unsigned flag;
	const char *name;
} cap_list[] = {
	{ SMTP_CAP_STARTTLS, "STARTTLS" }, { SMTP_CAP_PIPELINING, "PIPELINING" },
	{ SMTP_CAP_SIZE, "SIZE" },         { SMTP_CAP_8BITMIME, "8BITMIME" },
	{ SMTP_CAP_SMTPUTF8, "SMTPUTF8" }, { SMTP_CAP_CHUNKING, "CHUNKING" },
	{ SMTP_CAP_AUTH, "AUTH" },         { SMTP_CAP_ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES" },
	{ SMTP_CAP_DSN, "DSN" },           { SMTP_CAP_REQUIRETLS, "REQUIRETLS" },
};

/* 500-502 to a STARTTLS the server had advertised (RFC 3207 §4: it must accept it). */
static int starttls_rejected(const struct host_result *r)
{
	return r->starttls == STLS_OFFERED && r->starttls_code >= 500 && r->starttls_code <= 502;
}

int record_tampered(const struct host_result *r)
{
	return r->stripped_token || r->banner_masked || r->plaintext_after_starttls || r->echo_token ||
	       starttls_rejected(r);
}

static void evidence(struct jbuf *jb, const char *kind, const char *stage, const char *detail)
{
	jb_obj_open(jb, NULL);
	jb_str(jb, "kind", kind);
	jb_str(jb, "stage", stage);
	jb_str(jb, "detail", detail);
	jb_obj_close(jb);
}

static const char *first_line(const char *text, char *buf, size_t cap)
{
	const char *e = strchr(text, '\n');
	size_t n = e ? (size_t)(e - text) : strlen(text);
	snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), text);
	return buf;
}

/* The EHLO line that carries token (the masked STARTTLS), or the token. */
static const char *ehlo_line_with(const struct host_result *r, const char *token, char *buf, size_t cap)
{
	const char *s = r->ehlo ? r->ehlo : "";
	while (*s) {
		const char *e = strchr(s, '\n');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n > 4 && n - 4 >= strlen(token) && !strncmp(s + 4, token, strlen(token)))
			return first_line(s, buf, cap);
		s += n + (e ? 1 : 0);
	}
	return token;
}

static void smtp_object(struct jbuf *jb, const struct host_result *r)
{
	char line[RES_SHORT];
	jb_obj_open(jb, "smtp");
	if (r->banner && r->banner[0]) {
		jb_str(jb, "banner", r->banner);
		jb_int(jb, "banner_code", r->banner_code);
	}
	if (r->ehlo && r->ehlo[0]) {
		lines_array(jb, "ehlo", r->ehlo);
		jb_int(jb, "ehlo_code", r->ehlo_code);
		jb_arr_open(jb, "capabilities");
		for (size_t i = 0; i < sizeof(cap_list) / sizeof(cap_list[0]); i++)
			if (r->caps & cap_list[i].flag)
				jb_str(jb, NULL, cap_list[i].name);
		jb_arr_close(jb);
	}
	if (r->helo_fallback)
		jb_bool(jb, "helo_fallback", 1);
	if (r->mode == MODE_STARTTLS && r->starttls != STLS_UNKNOWN)
		jb_str(jb, "starttls", starttls_state_name(r->starttls));
	const char *stls = r->starttls_reply ? r->starttls_reply : "";
	if (stls[0]) {
		jb_str(jb, "starttls_reply", stls);
		jb_int(jb, "starttls_code", r->starttls_code);
	}
	if (record_tampered(r)) {
		jb_obj_open(jb, "tampering");
		/* the flat keys of schema 1, kept for readers of earlier records */
		if (r->stripped_token)
			jb_str(jb, "starttls_token", r->stripped_token);
		if (r->banner_masked)
			jb_bool(jb, "banner_masked", 1);
		if (starttls_rejected(r))
			jb_str(jb, "starttls_rejected", stls);
		if (r->plaintext_after_starttls)
			jb_str(jb, "plaintext_after_starttls", r->plaintext_sample ? r->plaintext_sample : "");
		if (r->echo_token)
			jb_str(jb, "command_echo", r->echo_token);
		/* one entry per sign: what was seen, at which step, the server's (or the device's) words */
		jb_arr_open(jb, "evidence");
		if (r->banner_masked)
			evidence(jb, "banner-masked", "banner",
				 first_line(r->banner ? r->banner : "", line, sizeof(line)));
		if (r->stripped_token)
			evidence(jb, "starttls-token-replaced", "ehlo",
				 ehlo_line_with(r, r->stripped_token, line, sizeof(line)));
		if (starttls_rejected(r))
			evidence(jb, "starttls-rejected-after-advertised", "starttls", stls);
		if (r->echo_token)
			evidence(jb, "command-echoed-corrupted", "starttls", stls);
		if (r->plaintext_after_starttls)
			evidence(jb, "plaintext-after-starttls", "tls-hello",
				 r->plaintext_sample ? r->plaintext_sample : "");
		jb_arr_close(jb);
		jb_obj_close(jb);
	}
	if (r->transcript) {
		jb_arr_open(jb, "transcript");
		for (unsigned i = 0; i < r->transcript->n; i++)
			jb_str(jb, NULL, r->transcript->line[i]);
		jb_arr_close(jb);
		if (r->transcript->dropped)
			jb_uint(jb, "transcript_dropped", r->transcript->dropped);
	}
	jb_obj_close(jb);
}

/* Milliseconds from t0 to t (both µs, 0 = never seen); omitted when either is missing. */
static void ms_since(struct jbuf *jb, const char *key, uint64_t t0, uint64_t t)
{
	if (t0 && t)
		jb_double(jb, key, ((double)t - (double)t0) / 1000.0);
}

/* --capture: the first connection's packets and the reset verdict. */
static void capture_object(struct jbuf *jb, const struct capture_result *c, const char *iface)
{
	const struct pkt_flow *f = &c->flow;
	jb_obj_open(jb, "capture");
	jb_str(jb, "interface", iface ? iface : "");
	if (!c->on) {
		jb_str(jb, "verdict", "not-tracked");
		jb_obj_close(jb);
		return;
	}
	jb_uint(jb, "local_port", c->local_port);
	jb_str(jb, "verdict", pkt_verdict_name(c->verdict.kind));
	jb_arr_open(jb, "reasons");
	for (unsigned b = 0; b < PKT_R__COUNT_BITS; b++)
		if (c->verdict.reasons & (1u << b))
			jb_str(jb, NULL, pkt_reason_name(b));
	jb_arr_close(jb);
	if (f->have_synack) {
		jb_obj_open(jb, "syn_ack");
		jb_uint(jb, "ttl", f->synack_ttl);
		if (f->synack_has_ipid)
			jb_uint(jb, "ip_id", f->synack_ipid);
		jb_uint(jb, "window", f->synack_win);
		ms_since(jb, "rtt_ms", f->syn_us, f->synack_us);
		jb_obj_close(jb);
	}
	if (f->max_ttl > 0) {
		jb_obj_open(jb, "server_ttl");
		jb_uint(jb, "min", f->min_ttl);
		jb_uint(jb, "max", f->max_ttl);
		jb_obj_close(jb);
	}
	ms_since(jb, "starttls_ms", f->synack_us, f->starttls_us);
	ms_since(jb, "client_hello_ms", f->synack_us, f->hello_us);
	jb_arr_open(jb, "events");
	for (unsigned i = 0; i < f->nev; i++) {
		const struct pkt_event *e = &f->ev[i];
		jb_obj_open(jb, NULL);
		jb_str(jb, "kind", e->kind == PKT_EV_RST ? "rst" : "fin");
		jb_uint(jb, "ttl", e->ttl);
		if (e->has_ipid)
			jb_uint(jb, "ip_id", e->ipid);
		jb_uint(jb, "seq", e->seq);
		jb_uint(jb, "expected_seq", e->expected_seq);
		if (e->in_window >= 0)
			jb_bool(jb, "in_window", e->in_window);
		if (e->ipid_in_sequence >= 0)
			jb_bool(jb, "ip_id_in_sequence", e->ipid_in_sequence);
		ms_since(jb, "ms_after_syn_ack", f->synack_us, e->ts_us);
		ms_since(jb, "ms_after_starttls", f->starttls_us, e->ts_us);
		ms_since(jb, "ms_after_client_hello", f->hello_us, e->ts_us);
		jb_obj_close(jb);
	}
	jb_arr_close(jb);
	if (f->ev_dropped)
		jb_uint(jb, "events_dropped", f->ev_dropped);
	if (c->verdict.rst_index >= 0) {
		jb_uint(jb, "server_data_after_rst", f->data_after_rst);
		jb_uint(jb, "packets_after_rst", f->pkts_after_rst);
	}
	if (c->dumped)
		jb_bool(jb, "pcap_out", 1);
	jb_obj_close(jb);
}

/* What nmap grades a suite with: the key exchange it measured (DH prime,
 * ECDHE curve of the server's preferred group) and the leaf certificate. */
static void grade_keys_for(const struct suite_info *s, const struct plan_summary *p, const struct plan_version *pv,
			   const struct cert_key *leaf, struct grade_keys *k)
{
	memset(k, 0, sizeof(*k));
	if (!strcmp(s->kx, "DHE") || !strcmp(s->kx, "DH")) {
		k->kx_bits = pv->dh_bits;
	} else if (!strcmp(s->kx, "ECDHE") || !strcmp(s->kx, "ECDH") || !strcmp(s->kx, "TLS13")) {
		uint16_t g = GROUP_X25519;
		if (!strcmp(s->kx, "TLS13") && p->ngroups13)
			g = p->groups13[0];
		else if (p->ngroups12)
			g = p->groups12[0];
		switch (g) {
		case GROUP_SECP384R1: k->kx_bits = 384; break;
		case GROUP_SECP521R1: k->kx_bits = 521; break;
		case GROUP_X448: k->kx_bits = 448; break;
		case GROUP_FFDHE2048: k->kx_bits = 2048; break;
		case GROUP_FFDHE3072: k->kx_bits = 3072; break;
		case GROUP_FFDHE4096: k->kx_bits = 4096; break;
		default: k->kx_bits = 256; break;
		}
		k->kx_type = g >= GROUP_FFDHE2048 && g <= GROUP_FFDHE8192 ? GRADE_KEY_DH : GRADE_KEY_EC;
		k->kx_group = tls_group_name(g);
	}
	switch (leaf->type) {
	case CK_RSA: k->cert_type = GRADE_KEY_RSA; break;
	case CK_DSA: k->cert_type = GRADE_KEY_DSA; break;
	case CK_EC: k->cert_type = GRADE_KEY_EC; break;
	default: k->cert_type = GRADE_KEY_NONE; break;
	}
	k->cert_bits = leaf->bits;
	k->cert_sig_alg = leaf->sig_alg[0] ? leaf->sig_alg : NULL;
	k->rsa_exponent_1 = leaf->rsa_exponent_1;
}

static void groups_array(struct jbuf *jb, const char *key, const uint16_t *g, size_t n)
{
	jb_arr_open(jb, key);
	for (size_t i = 0; i < n; i++) {
		const char *name = tls_group_name(g[i]);
		if (name)
			jb_str(jb, NULL, name);
		else
			jb_printf_str(jb, NULL, "0x%04x", g[i]);
	}
	jb_arr_close(jb);
}

/* tls.versions, groups, grades and warnings from the enumeration plan. */
static void enum_fields(struct jbuf *jb, const struct plan_summary *p, const struct cert_key *leaf, char *least)
{
	static const char *const vkeys[PV__COUNT] = { "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3" };
	char grades[PV__COUNT * PLAN_MAX_OFFER];
	size_t ng = 0;
	unsigned warn = 0;
	jb_str(jb, "enumeration", enum_mode_name(p->mode));
	jb_obj_open(jb, "versions");
	for (int v = PV__COUNT - 1; v >= 0; v--) {
		const struct plan_version *pv = &p->v[v];
		if (!pv->tested)
			continue;
		jb_obj_open(jb, vkeys[v]);
		jb_bool(jb, "supported", pv->supported);
		if (pv->supported && p->mode == ENUM_FULL) {
			jb_str(jb, "order", plan_order_name(pv->order));
			if (!pv->complete)
				jb_bool(jb, "incomplete", 1);
			if (pv->dh_bits)
				jb_int(jb, "dh_bits", pv->dh_bits);
			int pfs = 0;
			jb_arr_open(jb, "ciphers");
			for (size_t i = 0; i < pv->nsuites; i++) {
				const struct suite_info *s = suite_by_code(pv->suites[i]);
				jb_obj_open(jb, NULL);
				jb_str(jb, "name", s ? s->name : "unknown");
				jb_printf_str(jb, "code", "0x%04x", pv->suites[i]);
				if (s) {
					uint16_t wire = plan_ver_wire((enum plan_ver)v);
					struct grade_keys k;
					grade_keys_for(s, p, pv, leaf, &k);
					char g = grade_suite_keys(s, wire, &k);
					grades[ng++] = g;
					jb_printf_str(jb, "grade", "%c", g);
					warn |= grade_warnings_keys(s, wire, &k);
					pfs |= grade_suite_pfs(s);
				}
				jb_obj_close(jb);
			}
			jb_arr_close(jb);
			if (pv->nsuites && !pfs)
				warn |= 1u << GW_NO_PFS;
		}
		jb_obj_close(jb);
	}
	jb_obj_close(jb);
	if (p->mode != ENUM_FULL)
		return;
	if (p->ngroups13 || p->ngroups12) {
		/* all groups accepted, TLS 1.3 order first, then curves seen only in TLS 1.2 */
		uint16_t all[2 * PLAN_MAX_GROUPS];
		size_t n = 0;
		for (size_t i = 0; i < p->ngroups13; i++)
			all[n++] = p->groups13[i];
		for (size_t i = 0; i < p->ngroups12; i++) {
			size_t k = 0;
			while (k < n && all[k] != p->groups12[i])
				k++;
			if (k == n)
				all[n++] = p->groups12[i];
		}
		groups_array(jb, "groups", all, n);
		if (p->ngroups12)
			groups_array(jb, "groups_tls12", p->groups12, p->ngroups12);
		if (p->ngroups13)
			groups_array(jb, "groups_tls13", p->groups13, p->ngroups13);
	}
	if (ng) {
		*least = grade_least(grades, ng);
		jb_printf_str(jb, "least_grade", "%c", *least);
	}
	if (p->compression >= 0)
		jb_str(jb, "compression", p->compression ? "deflate" : "null");
	if (p->fallback_scsv >= 0)
		jb_bool(jb, "fallback_scsv", p->fallback_scsv);
	if (p->secure_reneg >= 0)
		jb_bool(jb, "secure_renegotiation", p->secure_reneg);
	jb_arr_open(jb, "warnings");
	for (int w = 0; w < GW__COUNT; w++)
		if (warn & (1u << w))
			jb_str(jb, NULL, grade_warning_name((enum grade_warning)w));
	jb_arr_close(jb);
}

static void caps_array(struct jbuf *jb, const char *key, unsigned caps)
{
	jb_arr_open(jb, key);
	for (size_t i = 0; i < sizeof(cap_list) / sizeof(cap_list[0]); i++)
		if (caps & cap_list[i].flag)
			jb_str(jb, NULL, cap_list[i].name);
	jb_arr_close(jb);
}

/* The full handshake: what a real client negotiated, the EHLO after TLS and
 * how its capabilities differ from the plaintext ones. */
static void handshake_object(struct jbuf *jb, const struct host_result *r)
{
	const struct hs_result *h = r->hs;
	jb_obj_open(jb, "handshake");
	jb_bool(jb, "ok", h->ok);
	if (h->ok) {
		const struct suite_info *s = suite_by_code(h->cipher);
		jb_str(jb, "version", tls_version_name(h->version));
		jb_str(jb, "cipher", s ? s->name : "unknown");
		jb_printf_str(jb, "cipher_code", "0x%04x", h->cipher);
		if (h->group[0])
			jb_str(jb, "group", h->group);
		jb_uint(jb, "certificates", (uint64_t)(h->chain ? h->chain->n : 0));
	}
	if (h->stage[0]) {
		jb_str(jb, "failed_at", h->stage);
		jb_str(jb, "error", h->error);
		if (h->alert >= 0) {
			jb_obj_open(jb, "alert");
			jb_int(jb, "code", h->alert);
			jb_str(jb, "name", tls_alert_name((uint8_t)h->alert));
			jb_obj_close(jb);
		}
	}
	if (h->ehlo && h->ehlo[0]) {
		lines_array(jb, "ehlo", h->ehlo);
		caps_array(jb, "capabilities", h->caps);
		if (r->mode == MODE_STARTTLS && r->ehlo_code == 250) {
			caps_array(jb, "capabilities_gained", h->caps & ~r->caps);
			caps_array(jb, "capabilities_lost", r->caps & ~h->caps & ~(unsigned)SMTP_CAP_STARTTLS);
		}
	}
	jb_obj_close(jb);
}

/* The chain as sent and its verification, as `openssl verify` would name it. */
static void certificate_object(struct jbuf *jb, const struct host_result *r)
{
	const struct verify_result *v = r->verify;
	jb_obj_open(jb, "certificate");
	jb_str(jb, "source", r->chain_source);
	jb_arr_open(jb, "chain");
	for (unsigned i = 0; i < v->n_certs && i < VERIFY_MAX_CERTS; i++) {
		const struct verify_cert *c = &v->cert[i];
		jb_obj_open(jb, NULL);
		if (!c->parsed) {
			jb_bool(jb, "parsed", 0);
			jb_obj_close(jb);
			continue;
		}
		jb_str(jb, "sha256", c->sha256);
		jb_str(jb, "subject", c->subject);
		jb_str(jb, "issuer", c->issuer);
		jb_arr_open(jb, "sans");
		for (unsigned k = 0; k < c->n_san; k++)
			jb_printf_str(jb, NULL, "%s%s", c->san[k].ip ? "IP:" : "", c->san[k].name);
		jb_arr_close(jb);
		jb_str(jb, "not_before", c->not_before);
		jb_str(jb, "not_after", c->not_after);
		jb_str(jb, "key_type", verify_key_type_name(c->key_type));
		jb_uint(jb, "key_bits", c->key_bits);
		if (c->curve[0])
			jb_str(jb, "curve", c->curve);
		jb_str(jb, "signature_algorithm", c->sig_alg);
		jb_str(jb, "serial", c->serial);
		jb_bool(jb, "ca", c->is_ca);
		jb_obj_close(jb);
	}
	jb_arr_close(jb);
	jb_obj_open(jb, "verify");
	jb_int(jb, "code", v->code);
	jb_str(jb, "text", v->text ? v->text : verify_code_text(v->code));
	if (v->code)
		jb_int(jb, "depth", v->depth);
	jb_obj_close(jb);
	jb_obj_open(jb, "name_match");
	if (r->sni && r->sni[0])
		jb_bool(jb, "mx", v->name_match_mx);
	jb_obj_close(jb);
	jb_bool(jb, "chain_complete", v->chain_complete);
	if (v->missing_intermediate)
		jb_bool(jb, "missing_intermediate", 1);
	if (v->unknown_ca)
		jb_bool(jb, "unknown_ca", 1);
	jb_arr_open(jb, "flags");
	if (v->rsa_under_2048)
		jb_str(jb, NULL, "rsa-under-2048");
	if (v->sha1_signature)
		jb_str(jb, NULL, "sha1-signature");
	if (v->long_validity)
		jb_str(jb, NULL, "validity-over-398-days");
	if (v->expires_within_30_days)
		jb_str(jb, NULL, "expires-within-30-days");
	jb_arr_close(jb);
	jb_obj_close(jb);
}

static void tls_object(struct jbuf *jb, struct host_result *r)
{
	const struct tls_probe_result *t = &r->tls;
	jb_obj_open(jb, "tls");
	if (r->plan && r->plan->mode != ENUM_QUICK)
		enum_fields(jb, r->plan, &r->tls.leaf, &r->least_grade);
	if (r->hs)
		handshake_object(jb, r);
	if (r->verify)
		certificate_object(jb, r);
	jb_obj_open(jb, "baseline");
	if (t->got_server_hello) {
		const struct suite_info *s = suite_by_code(t->cipher);
		jb_str(jb, "version", tls_version_name(t->version));
		jb_printf_str(jb, "cipher_code", "0x%04x", t->cipher);
		jb_str(jb, "cipher", s ? s->name : "unknown");
		if (t->group && tls_group_name(t->group))
			jb_str(jb, "group", tls_group_name(t->group));
		if (t->hrr)
			jb_bool(jb, "hello_retry_request", 1);
		if (t->ncerts)
			jb_int(jb, "certificates_seen", t->ncerts);
		if (t->dh_bits)
			jb_int(jb, "dh_bits", t->dh_bits);
	}
	if (t->got_alert) {
		jb_obj_open(jb, "alert");
		jb_int(jb, "code", t->alert_desc);
		jb_str(jb, "name", tls_alert_name(t->alert_desc));
		jb_obj_close(jb);
	}
	jb_obj_close(jb);
	jb_obj_close(jb);
}

int record_host(struct jbuf *jb, const char *scan_id, struct host_result *r)
{
	char ts[40];
	jb_obj_open(jb, NULL);
	jb_str(jb, "type", "host");
	jb_str(jb, "schema", RECORD_SCHEMA_VERSION);
	jb_str(jb, "scan_id", scan_id);
	jb_str(jb, "ip", r->ip);
	jb_int(jb, "port", r->port);
	jb_str(jb, "mode", conn_mode_name(r->mode));
	jb_arr_open(jb, "names");
	if (r->meta && r->meta->names.n) {
		for (unsigned i = 0; i < r->meta->names.n; i++)
			jb_str(jb, NULL, r->meta->names.v[i]);
	} else if (r->sni && r->sni[0]) {
		jb_str(jb, NULL, r->sni);
	}
	jb_arr_close(jb);
	if (r->meta && r->meta->names.total > r->meta->names.n)
		jb_uint(jb, "names_total", r->meta->names.total);
	if (r->meta && r->meta->domains.n) {
		jb_arr_open(jb, "domains");
		for (unsigned i = 0; i < r->meta->domains.n; i++)
			jb_str(jb, NULL, r->meta->domains.v[i]);
		jb_arr_close(jb);
		if (r->meta->domains.total > r->meta->domains.n)
			jb_uint(jb, "domains_total", r->meta->domains.total);
	}
	if (r->geo) {
		/* with --geoip/--asn-db; {} when no database knows the address */
		jb_obj_open(jb, "geo");
		if (r->geo->country[0])
			jb_str(jb, "country", r->geo->country);
		if (r->geo->asn) {
			jb_uint(jb, "asn", r->geo->asn);
			if (r->geo->as_org[0])
				jb_str(jb, "as_org", r->geo->as_org);
		}
		jb_obj_close(jb);
	}
	if (r->name && r->name[0])
		jb_str(jb, "input", r->name);
	if (r->tag && r->tag[0])
		jb_str(jb, "tag", r->tag);
	jb_str(jb, "status", scan_status_name(r->status));
	if (r->fail_reason[0]) {
		jb_obj_open(jb, "failure");
		jb_str(jb, "stage", r->fail_stage ? r->fail_stage : "");
		jb_str(jb, "reason", r->fail_reason);
		if (r->fail_detail && r->fail_detail[0])
			jb_str(jb, "detail", r->fail_detail);
		jb_obj_close(jb);
	}
	if ((r->mode == MODE_STARTTLS && ((r->banner && r->banner[0]) || (r->ehlo && r->ehlo[0]))) ||
	    (r->transcript && r->transcript->n))
		smtp_object(jb, r);
	if (r->tls.attempted)
		tls_object(jb, r);
	if (r->cap)
		capture_object(jb, r->cap, r->cap_iface);

	jb_obj_open(jb, "probes");
	jb_uint(jb, "connections", r->connections);
	jb_uint(jb, "retries", r->retries);
	jb_uint(jb, "duration_ms", r->duration_ms);
	if (r->host_timeout)
		jb_bool(jb, "host_timeout", 1);
	if (r->plan && r->plan->mode != ENUM_QUICK) {
		jb_obj_open(jb, "refusals");
		for (int o = 0; o < PO__COUNT; o++)
			if (r->plan->refusals[o])
				jb_uint(jb, probe_outcome_name((enum probe_outcome)o), r->plan->refusals[o]);
		jb_obj_close(jb);
		if (r->plan->aborted)
			jb_bool(jb, "aborted", 1);
	}
	if (r->trace) {
		static const char *const vkeys[PV__COUNT] = { "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3" };
		jb_arr_open(jb, "trace");
		for (unsigned i = 0; i < r->ntrace; i++) {
			const struct probe_trace *t = &r->trace[i];
			jb_obj_open(jb, NULL);
			jb_str(jb, "kind",
			       t->kind == PK__COUNT ? "handshake" : probe_kind_name((enum probe_kind)t->kind));
			jb_str(jb, "version_tested", t->ver < PV__COUNT ? vkeys[t->ver] : "?");
			jb_uint(jb, "offered", t->offered);
			jb_str(jb, "outcome", probe_outcome_name((enum probe_outcome)t->outcome));
			if (t->outcome == PO_ALERT) {
				jb_uint(jb, "alert", t->alert);
				jb_str(jb, "alert_name", tls_alert_name(t->alert));
			}
			if (t->outcome == PO_SERVER_HELLO || t->outcome == PO_HRR) {
				const struct suite_info *si = suite_by_code(t->cipher);
				jb_str(jb, "version", tls_version_name(t->version));
				jb_str(jb, "cipher", si ? si->name : "unknown");
				if (t->group && tls_group_name(t->group))
					jb_str(jb, "group", tls_group_name(t->group));
			}
			jb_uint(jb, "ms", t->ms);
			jb_obj_close(jb);
		}
		jb_arr_close(jb);
	}
	iso_time(ts, sizeof(ts), r->start_ms);
	jb_str(jb, "started", ts);
	jb_obj_close(jb);
	jb_obj_close(jb);
	return jb_ok(jb) ? 0 : -1;
}

int record_scan(struct jbuf *jb, const struct scan_meta *m)
{
	char ts[40];
	iso_time(ts, sizeof(ts), m->time_ms);
	jb_obj_open(jb, NULL);
	jb_str(jb, "type", "scan");
	jb_str(jb, "schema", RECORD_SCHEMA_VERSION);
	jb_str(jb, "scan_id", m->scan_id);
	jb_str(jb, "event", m->event);
	jb_str(jb, "time", ts);
	jb_str(jb, "mxscan_version", m->version);
	jb_str(jb, "argv", m->argv);
	jb_uint(jb, "threads", m->threads);
	jb_uint(jb, "targets", m->targets);
	jb_uint(jb, "bad_lines", m->bad_lines);
	jb_uint(jb, "blocked", m->blocked);
	jb_uint(jb, "duplicates", m->duplicates);
	jb_uint(jb, "unresolved", m->unresolved);
	if (m->resumed) {
		jb_obj_open(jb, "resume");
		jb_uint(jb, "records", m->resume_records);
		jb_uint(jb, "skipped", m->resume_skipped);
		jb_uint(jb, "domains_skipped", m->resume_domains);
		jb_obj_close(jb);
	}
	if (m->shards > 1) {
		jb_uint(jb, "shards", m->shards);
		jb_uint(jb, "shard", m->shard);
		jb_uint(jb, "seed", m->seed);
		jb_uint(jb, "other_shards", m->other_shards);
	}
	if (m->status_counts) {
		jb_uint(jb, "done", m->done);
		jb_uint(jb, "connections", m->connections);
		jb_uint(jb, "retries", m->retries);
		jb_uint(jb, "peak_active", m->peak_active);
		jb_obj_open(jb, "status_counts");
		for (int i = 0; i < ST__COUNT; i++)
			jb_uint(jb, scan_status_name((enum scan_status)i), m->status_counts[i]);
		jb_obj_close(jb);
	}
	if (m->capture_iface) {
		jb_obj_open(jb, "capture");
		jb_str(jb, "interface", m->capture_iface);
		if (m->capture) {
			jb_uint(jb, "packets", m->capture->packets);
			jb_uint(jb, "matched", m->capture->matched);
			jb_uint(jb, "flows", m->capture->flows);
			jb_uint(jb, "flows_not_tracked", m->capture->full);
			jb_uint(jb, "flows_written", m->capture->dumped);
			jb_uint(jb, "kernel_drops", m->capture->kernel_drops);
		}
		jb_obj_close(jb);
	}
	jb_obj_close(jb);
	return jb_ok(jb) ? 0 : -1;
}
