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

#include "mxscan/conn.h"
#include "mxscan/hello.h"
#include "mxscan/smtp.h"
#include "mxscan/suites.h"

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

static void smtp_object(struct jbuf *jb, const struct host_result *r)
{
	jb_obj_open(jb, "smtp");
	if (r->banner[0]) {
		jb_str(jb, "banner", r->banner);
		jb_int(jb, "banner_code", r->banner_code);
	}
	if (r->ehlo[0]) {
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
	if (r->starttls_reply[0]) {
		jb_str(jb, "starttls_reply", r->starttls_reply);
		jb_int(jb, "starttls_code", r->starttls_code);
	}
	if (r->stripped_token[0] || r->banner_masked || r->plaintext_after_starttls ||
	    (r->starttls_code >= 500 && r->starttls_code <= 502)) {
		jb_obj_open(jb, "tampering");
		if (r->stripped_token[0])
			jb_str(jb, "starttls_token", r->stripped_token);
		if (r->banner_masked)
			jb_bool(jb, "banner_masked", 1);
		if (r->starttls_code >= 500 && r->starttls_code <= 502)
			jb_str(jb, "starttls_rejected", r->starttls_reply);
		if (r->plaintext_after_starttls)
			jb_str(jb, "plaintext_after_starttls", r->plaintext_sample);
		jb_obj_close(jb);
	}
	jb_obj_close(jb);
}

static void tls_object(struct jbuf *jb, const struct host_result *r)
{
	const struct tls_probe_result *t = &r->tls;
	jb_obj_open(jb, "tls");
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

int record_host(struct jbuf *jb, const char *scan_id, const struct host_result *r)
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
	if (r->sni[0])
		jb_str(jb, NULL, r->sni);
	jb_arr_close(jb);
	if (r->name[0])
		jb_str(jb, "input", r->name);
	if (r->tag[0])
		jb_str(jb, "tag", r->tag);
	jb_str(jb, "status", scan_status_name(r->status));
	if (r->fail_reason[0]) {
		jb_obj_open(jb, "failure");
		jb_str(jb, "stage", r->fail_stage);
		jb_str(jb, "reason", r->fail_reason);
		if (r->fail_detail[0])
			jb_str(jb, "detail", r->fail_detail);
		jb_obj_close(jb);
	}
	if (r->mode == MODE_STARTTLS && (r->banner[0] || r->ehlo[0]))
		smtp_object(jb, r);
	if (r->tls.attempted)
		tls_object(jb, r);
	jb_obj_open(jb, "probes");
	jb_uint(jb, "connections", r->connections);
	jb_uint(jb, "duration_ms", r->duration_ms);
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
	if (m->status_counts) {
		jb_uint(jb, "done", m->done);
		jb_obj_open(jb, "status_counts");
		for (int i = 0; i < ST__COUNT; i++)
			jb_uint(jb, scan_status_name((enum scan_status)i), m->status_counts[i]);
		jb_obj_close(jb);
	}
	jb_obj_close(jb);
	return jb_ok(jb) ? 0 : -1;
}
