/*
 * fout: manifest (JSON lines) and DNS zone writers.
 *
 * The manifest states, per address:port, what the fleet will do and what a
 * scan must therefore report: the SMTP behaviour (banner, EHLO capabilities
 * as sent, STARTTLS offered/absent/stripped and the reply to it), the expected
 * zgrab2-style status with a failure stage and reason when the scan cannot
 * succeed, and the TLS ground truth (versions, accepted suites per version in
 * server order, preference, groups, certificate variant and the OpenSSL verify
 * code expected for it). Everything is derived from the parsed configuration,
 * never from a second hand-kept list.
 */
#include "fleet/fout.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mxscan/suites.h"

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *json_bool(int b)
{
	return b ? "true" : "false";
}

/* The host name as it appears in the banner and the EHLO reply. */
static void expand_banner(const struct fc_personality *p, const struct fc_addr *a, char *out, size_t cap)
{
	const char *name = fconf_host_name(a);
	size_t o = 0;
	for (const char *s = p->banner; *s && o + 1 < cap;) {
		if (!strncmp(s, "{name}", 6)) {
			int w = snprintf(out + o, cap - o, "%s", name);
			o += w > 0 ? (size_t)w : 0;
			if (o >= cap)
				o = cap - 1;
			s += 6;
		} else
			out[o++] = *s++;
	}
	out[o] = 0;
}

struct expect {
	const char *status, *stage, *reason;
	int tls_reachable;
};

static void reject_expect(const struct fc_personality *p, struct expect *e)
{
	e->stage = "tls-hello";
	/* tlsresp answers "no common version" with alert 70 even when on_reject is alert40 */
	switch (p->on_reject == TR_REJ_ALERT40 ? TR_REJ_ALERT70 : p->on_reject) {
	case TR_REJ_ALERT40: e->status = "application-error", e->reason = "tls-alert"; break;
	case TR_REJ_ALERT70: e->status = "application-error", e->reason = "tls-alert"; break;
	case TR_REJ_CLOSE: e->status = "connection-closed", e->reason = "closed"; break;
	case TR_REJ_RESET: e->status = "connection-closed", e->reason = "reset"; break;
	case TR_REJ_SILENCE: e->status = "io-timeout", e->reason = "timeout"; break;
	}
}

static void expectation(const struct fc_personality *p, int implicit, struct expect *e)
{
	*e = (struct expect){ .status = "success", .tls_reachable = 1 };
	if (!implicit) {
		static const char *const banner_reason[FC_BANNER__COUNT] = {
			NULL, "timeout", "too-many-lines", "line-too-long", "syntax", "smtp-421", "smtp-554", "reset"
		};
		static const char *const banner_status[FC_BANNER__COUNT] = { NULL,
									     "io-timeout",
									     "protocol-error",
									     "protocol-error",
									     "protocol-error",
									     "application-error",
									     "application-error",
									     "connection-closed" };
		if (p->banner_mode != FC_BANNER_NORMAL) {
			e->status = banner_status[p->banner_mode];
			e->stage = "banner";
			e->reason = banner_reason[p->banner_mode];
			e->tls_reachable = 0;
			return;
		}
		switch (p->starttls) {
		case FC_STARTTLS_OFFERED: break;
		case FC_STARTTLS_ABSENT:
			e->status = "application-error", e->stage = "ehlo", e->reason = "starttls-not-offered";
			e->tls_reachable = 0;
			return;
		case FC_STARTTLS_STRIP:
			e->status = "application-error", e->stage = "ehlo", e->reason = "starttls-stripped";
			e->tls_reachable = 0;
			return;
		case FC_STARTTLS_REFUSE454:
			e->status = "application-error", e->stage = "starttls", e->reason = "starttls-refused";
			e->tls_reachable = 0;
			return;
		case FC_STARTTLS_ERROR500:
			e->status = "application-error", e->stage = "starttls", e->reason = "starttls-rejected";
			e->tls_reachable = 0;
			return;
		case FC_STARTTLS__COUNT: break;
		}
		if (p->ehlo_refused) {
			/* HELO carries no extensions, so a client following RFC 3207
			 * never learns of STARTTLS and does not send it. */
			e->status = "application-error", e->stage = "helo", e->reason = "starttls-not-offered";
			e->tls_reachable = 0;
			return;
		}
		if (p->close_after_starttls) {
			e->status = "connection-closed", e->stage = "tls-hello", e->reason = "closed";
			e->tls_reachable = 0;
			return;
		}
	}
	if (p->lying_lengths) {
		/* A record header that promises more than ever arrives: the client
		 * waits for the rest until its deadline; other lies are malformed. */
		e->status = p->lying_lengths == 1 || p->lying_lengths > 3 ? "io-timeout" : "protocol-error";
		e->stage = "tls-hello";
		e->reason = p->lying_lengths == 1 || p->lying_lengths > 3 ? "timeout" : "tls-malformed";
		e->tls_reachable = 0;
		return;
	}
	if (!p->versions)
		reject_expect(p, e);
}

/* OpenSSL's X509_verify_cert_error_string() for the codes certs.sh produces. */
static const char *verify_text(int code)
{
	switch (code) {
	case 0: return "ok";
	case 2: return "unable to get issuer certificate";
	case 9: return "certificate is not yet valid";
	case 10: return "certificate has expired";
	case 18: return "self-signed certificate";
	case 19: return "self-signed certificate in certificate chain";
	case 20: return "unable to get local issuer certificate";
	case 21: return "unable to verify the first certificate";
	case 62: return "hostname mismatch";
	case 66: return "EE certificate key too weak";
	case 68: return "CA signature digest algorithm too weak";
	default: return NULL;
	}
}

static void write_tls(FILE *f, const struct fc_personality *p)
{
	const struct tls_personality *t = p->tls;
	fputs("\"tls\":{\"versions\":{", f);
	for (int vi = 0; vi < TR_NVERS; vi++) {
		fprintf(f, "%s\"%s\":", vi ? "," : "", fconf_version_name(vi));
		if (!t || !t->nsuites[vi]) {
			fputs("{\"supported\":false}", f);
			continue;
		}
		const char *order = t->nsuites[vi] < 2 ? "indeterminate" : p->server_pref ? "server" : "client";
		fprintf(f, "{\"supported\":true,\"order\":\"%s\",\"ciphers\":[", order);
		for (size_t i = 0; i < t->nsuites[vi]; i++) {
			const struct suite_info *si = suite_by_code(t->suites[vi][i]);
			fprintf(f, "%s{\"name\":", i ? "," : "");
			json_str(f, si && si->name ? si->name : "unknown");
			fprintf(f, ",\"code\":\"0x%04x\"}", t->suites[vi][i]);
		}
		fputs("]}", f);
	}
	fprintf(f, "},\"preference\":\"%s\",\"groups\":[", p->server_pref ? "server" : "client");
	for (size_t i = 0; i < p->ngroups; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", fconf_group_name(p->groups[i]));
	fprintf(f,
		"],\"dh_bits\":%u,\"on_reject\":\"%s\",\"fallback_scsv\":%s,\"lying_lengths\":%s,"
		"\"real_handshake\":%s,",
		p->dh_bits ? p->dh_bits : 2048, fconf_reject_name(p->on_reject), json_bool(p->fallback_scsv),
		json_bool(p->lying_lengths), json_bool(p->real_handshake && p->chain_ok));
	fputs("\"certificate\":{\"variant\":", f);
	json_str(f, p->cert);
	fprintf(f, ",\"chain_length\":%d,\"verify\":{\"code\":", t ? t->ncerts : 0);
	if (p->verify_code >= 0)
		fprintf(f, "%d", p->verify_code);
	else
		fputs("null", f);
	fputs(",\"text\":", f);
	if (verify_text(p->verify_code))
		json_str(f, verify_text(p->verify_code));
	else
		fputs("null", f);
	fputs("},\"description\":", f);
	json_str(f, p->cert_desc);
	fputs("}}", f);
}

/* Does domain d's MX set point at one of a's names (directly or through a CNAME)? */
static int domain_uses(const struct fconf *c, const struct fc_domain *d, const struct fc_addr *a)
{
	for (size_t m = 0; m < d->nmx; m++) {
		const char *h = d->mx[m].host;
		for (size_t r = 0; r < c->nrecords; r++)
			if (!strcmp(c->records[r].type, "CNAME") && !strcasecmp(c->records[r].name, h)) {
				h = c->records[r].data;
				break;
			}
		for (size_t n = 0; n < a->nnames; n++)
			if (!strcasecmp(a->names[n], h))
				return 1;
	}
	return 0;
}

int fout_manifest(const struct fconf *c, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f) {
		fprintf(stderr, "mxfleet: cannot write manifest %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < c->naddrs; i++) {
		const struct fc_addr *a = &c->addrs[i];
		const struct fc_personality *p = &c->pers[a->pers];
		for (size_t j = 0; j < a->nports; j++) {
			int implicit = fconf_is_implicit(a, a->ports[j]);
			struct expect e;
			expectation(p, implicit, &e);
			fputs("{\"ip\":", f);
			json_str(f, a->ip_str);
			fprintf(f, ",\"port\":%u,\"mode\":\"%s\",\"personality\":", a->ports[j],
				implicit ? "implicit" : "starttls");
			json_str(f, p->name);
			fputs(",\"names\":[", f);
			for (size_t n = 0; n < a->nnames; n++) {
				if (n)
					fputc(',', f);
				json_str(f, a->names[n]);
			}
			fputs("],\"domains\":[", f);
			int first = 1;
			for (size_t d = 0; d < c->ndomains; d++)
				if (domain_uses(c, &c->domains[d], a)) {
					if (!first)
						fputc(',', f);
					first = 0;
					json_str(f, c->domains[d].name);
				}
			fputs("],\"expect\":{\"status\":", f);
			json_str(f, e.status);
			fputs(",\"failure\":", f);
			if (e.stage) {
				fputs("{\"stage\":", f);
				json_str(f, e.stage);
				fputs(",\"reason\":", f);
				json_str(f, e.reason);
				fputc('}', f);
			} else
				fputs("null", f);
			fprintf(f, ",\"tls_reachable\":%s},", json_bool(e.tls_reachable));
			/* SMTP */
			char banner[512];
			expand_banner(p, a, banner, sizeof(banner));
			fputs("\"smtp\":{", f);
			char full[600];
			snprintf(full, sizeof(full), "220 %s", banner);
			if (implicit) {
				/* the greeting comes over TLS; hostile banner modes do not apply */
				fputs("\"banner\":", f);
				json_str(f, full);
				fputc(',', f);
			}
			fputs("\"banner_mode\":", f);
			json_str(f, fc_banner_name(p->banner_mode));
			if (!implicit) {
				fputs(",\"banner\":", f);
				if (p->banner_mode == FC_BANNER_NORMAL || p->banner_mode == FC_BANNER_TRICKLE)
					json_str(f, full);
				else
					fputs("null", f);
			}
			fprintf(f, ",\"banner_lines\":%u,\"banner_delay_ms\":%u,\"ehlo\":[", p->banner_lines,
				p->banner_delay_ms);
			for (size_t k = 0; k < p->nehlo; k++) {
				if (k)
					fputc(',', f);
				json_str(f, p->ehlo[k]);
			}
			const char *stls = "offered", *token = "STARTTLS", *reply = "220";
			switch (p->starttls) {
			case FC_STARTTLS_ABSENT: stls = "absent", token = NULL, reply = "502"; break;
			case FC_STARTTLS_STRIP: stls = "stripped", token = "XXXXXXXA", reply = "500"; break;
			case FC_STARTTLS_REFUSE454: reply = "454"; break;
			case FC_STARTTLS_ERROR500: reply = "500"; break;
			default: break;
			}
			if (token && !implicit) {
				if (p->nehlo)
					fputc(',', f);
				json_str(f, token);
			}
			fputs("]", f);
			if (!implicit) {
				/* with a hostile or refusing greeting the client never gets to EHLO */
				int reached = p->banner_mode == FC_BANNER_NORMAL || p->banner_mode == FC_BANNER_TRICKLE;
				fputs(",\"starttls\":", f);
				if (reached)
					fprintf(f, "\"%s\",\"starttls_reply\":\"%s\"", stls, reply);
				else
					fputs("null,\"starttls_reply\":null", f);
				fprintf(f, ",\"starttls_mode\":\"%s\"", fc_starttls_name(p->starttls));
				fprintf(f,
					",\"ehlo_refused\":%s,\"close_after_starttls\":%s,\"plaintext_after_220\":%s",
					json_bool(p->ehlo_refused), json_bool(p->close_after_starttls),
					json_bool(p->plaintext_after_220));
			}
			fprintf(f, ",\"never_close\":%s,\"max_concurrent\":%u,\"rate\":", json_bool(p->never_close),
				p->max_concurrent);
			if (p->rate_n)
				fprintf(f, "{\"connections\":%u,\"window_s\":%u}", p->rate_n, p->rate_window_s);
			else
				fputs("null", f);
			if (p->refuse_first)
				fprintf(f, ",\"refuse_first\":%u", p->refuse_first);
			fputs("},", f);
			write_tls(f, p);
			fputs("}\n", f);
		}
	}
	int bad = ferror(f);
	if (f != stdout)
		bad |= fclose(f) != 0;
	else
		bad |= fflush(f) != 0;
	if (bad) {
		fprintf(stderr, "mxfleet: error writing manifest %s\n", path);
		return -1;
	}
	return 0;
}

/* name relative to origin ("@" for the apex), or NULL when outside it. */
static const char *rel(const char *name, const char *origin, char *buf, size_t cap)
{
	size_t n = strlen(name), o = strlen(origin);
	if (n && name[n - 1] == '.')
		n--;
	if (n == o && !strncasecmp(name, origin, o))
		return "@";
	if (n > o + 1 && name[n - o - 1] == '.' && !strncasecmp(name + n - o, origin, o)) {
		snprintf(buf, cap, "%.*s", (int)(n - o - 1), name);
		return buf;
	}
	return NULL;
}

static void abs_name(FILE *f, const char *name)
{
	size_t n = strlen(name);
	fprintf(f, "%s%s", name, n && name[n - 1] == '.' ? "" : ".");
}

int fout_zone(const struct fconf *c, const char *path, const char *origin)
{
	char o[256], buf[300];
	snprintf(o, sizeof(o), "%s", origin);
	size_t ol = strlen(o);
	if (ol && o[ol - 1] == '.')
		o[--ol] = 0;
	FILE *f = fopen(path, "w");
	unsigned skipped = 0;
	if (!f) {
		fprintf(stderr, "mxfleet: cannot write zone %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "; generated by mxfleet from the fleet configuration: do not edit\n");
	fprintf(f, "$ORIGIN %s.\n$TTL 300\n", o);
	fprintf(f, "@\tIN\tSOA\tns1.%s. hostmaster.%s. 1 3600 600 86400 300\n", o, o);
	fprintf(f, "@\tIN\tNS\tns1.%s.\nns1\tIN\tA\t127.0.0.53\n", o);
	for (size_t i = 0; i < c->naddrs; i++) {
		const struct fc_addr *a = &c->addrs[i];
		for (size_t n = 0; n < a->nnames; n++) {
			const char *r = rel(a->names[n], o, buf, sizeof(buf));
			if (!r) {
				skipped++;
				continue;
			}
			fprintf(f, "%s\tIN\t%s\t%s\n", r, a->family == AF_INET6 ? "AAAA" : "A", a->ip_str);
		}
	}
	for (size_t i = 0; i < c->ndomains; i++) {
		const struct fc_domain *d = &c->domains[i];
		const char *r = rel(d->name, o, buf, sizeof(buf));
		if (!r) {
			skipped++;
			continue;
		}
		for (size_t m = 0; m < d->nmx; m++) {
			fprintf(f, "%s\tIN\tMX\t%u ", r, d->mx[m].pref);
			if (!strcmp(d->mx[m].host, "."))
				fputs(".\n", f);
			else {
				abs_name(f, d->mx[m].host);
				fputc('\n', f);
			}
		}
	}
	for (size_t i = 0; i < c->nrecords; i++) {
		const struct fc_record *rc = &c->records[i];
		const char *r = rel(rc->name, o, buf, sizeof(buf));
		if (!r) {
			skipped++;
			continue;
		}
		fprintf(f, "%s\tIN\t%s\t", r, rc->type);
		if (!strcmp(rc->type, "CNAME") || !strcmp(rc->type, "NS"))
			abs_name(f, rc->data);
		else
			fputs(rc->data, f);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "mxfleet: error writing zone %s\n", path);
		return -1;
	}
	if (skipped)
		fprintf(stderr, "mxfleet: warning: %u names outside %s left out of the zone\n", skipped, o);
	return 0;
}
