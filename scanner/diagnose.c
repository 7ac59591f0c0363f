/*
 * diagnose: `mxscan diagnose DOMAIN | HOST[:PORT]` for the operator whose
 * queue says "TLS handshake failed": what failed, why, whose side must fix it
 * and how.
 *
 * It is a client of the scanner, not a second one. The target is resolved as
 * a sending MTA resolves it (MX by preference; no MX but an address: the name
 * itself, RFC 5321 §5.1; NAME:PORT and addresses are hosts), every address is
 * scanned by the engine with full enumeration, the full handshake, chain
 * verification and the SMTP transcript, and the host records come back
 * through a memory file and the bounded JSON reader. Every cause below is
 * read from record fields, so a cause is exactly as good as the evidence the
 * record carries, and the evidence printed is those fields.
 *
 * Port/mode mismatch needs one more look: when the chosen mode fails in the
 * characteristic way (no greeting at all on a STARTTLS port: the server waits
 * for a ClientHello; a plaintext "220" in answer to a ClientHello on an
 * implicit-TLS port), the host is scanned again in the other mode, and only a
 * working other mode proves the mismatch.
 *
 * Sender profiles are computed from the enumerated versions and suites (in
 * the server's order) and the verified certificate, not by connecting again.
 */
#include "mxscan/diagnose.h"
#include "mxscan/capture.h"
#include "mxscan/cliopt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mxscan/jsonr.h"
#include "mxscan/blocklist.h"
#include "mxscan/domains.h"
#include "mxscan/engine.h"
#include "mxscan/json.h"
#include "mxscan/mx.h"
#include "mxscan/plan.h"
#include "mxscan/recq.h"
#include "mxscan/recw.h"
#include "mxscan/resolve.h"
#include "mxscan/suites.h"
#include "mxscan/target.h"
#include "mxscan/verify.h"

/* --- causes ------------------------------------------------------------- */

enum diag_cause {
	DC_DNS = 0,
	DC_MX_UNREACHABLE,
	DC_THROTTLED_421,
	DC_SMTP_FAILED,
	DC_PORT_MODE_MISMATCH,
	DC_STARTTLS_STRIPPED,
	DC_STARTTLS_NOT_OFFERED,
	DC_STARTTLS_REFUSED,
	DC_RESET_INJECTED,
	DC_HANDSHAKE_FAILED,
	DC_NO_SHARED_VERSION,
	DC_NO_SHARED_SUITE,
	DC_WEAK_SUITES_ONLY,
	DC_CERT_EXPIRED,
	DC_CERT_NOT_YET_VALID,
	DC_CERT_SELF_SIGNED,
	DC_CERT_MISSING_INTERMEDIATE,
	DC_CERT_UNTRUSTED,
	DC_CERT_WEAK,
	DC_CERT_NAME_MISMATCH,
	DC__COUNT
};

enum diag_verdict { DV_HEALTHY = 0, DV_DEGRADED, DV_BROKEN, DV_UNKNOWN };
static const char *const verdict_names[] = { "healthy", "degraded", "broken", "unknown" };

struct cause_info {
	const char *id, *title;
	enum diag_verdict severity; /* what the cause does to its host */
	const char *who, *fix;
};

static const struct cause_info causes[] = {
	[DC_DNS] = { "dns", "the domain's mail DNS leads to no server", DV_BROKEN, "the domain's DNS operator",
		     "Publish MX records naming hosts that have A/AAAA records (or no MX and an address for the "
		     "domain itself); a null MX (\"0 .\", RFC 7505) says the domain takes no mail at all." },
	[DC_MX_UNREACHABLE] = { "mx-unreachable", "the MX does not answer", DV_BROKEN,
				"the recipient (operator of this MX) or a firewall in front of it",
				"Start the SMTP service or open the port to the Internet, or remove the MX record while "
				"the host serves no mail. Senders try the next MX and queue: mail is delayed, not lost, "
				"while another MX answers." },
	[DC_THROTTLED_421] = { "throttled-421", "the server turns this client away with 421", DV_BROKEN,
			       "the recipient (its connection or rate limits), or the sender's reputation",
			       "421 is temporary (RFC 5321 §3.8): senders retry. If it persists, check the MX's "
			       "limits (postfix anvil: smtpd_client_connection_count_limit / "
			       "smtpd_client_connection_rate_limit; exim smtp_accept_max_per_host), greylisting, "
			       "and whether the sending IP is on a blocklist the MX uses." },
	[DC_SMTP_FAILED] = { "smtp-failed", "the SMTP dialogue fails before STARTTLS", DV_BROKEN,
			     "the recipient (operator of this MX)",
			     "The server refused the session or did not speak valid SMTP (see the transcript): check "
			     "the MTA's log and that no other service listens on the port." },
	[DC_PORT_MODE_MISMATCH] = { "port-mode-mismatch", "the port speaks the other TLS mode", DV_BROKEN,
				    "the sender (client settings), or the recipient if the port is meant to follow "
				    "the standard",
				    "Port 465 is implicit TLS (RFC 8314), 25 and 587 are plaintext SMTP with "
				    "STARTTLS (RFC 3207): configure the client with the mode the server speaks, or "
				    "the server to speak the standard mode on that port." },
	[DC_STARTTLS_STRIPPED] = { "starttls-stripped", "STARTTLS is stripped by a middlebox", DV_BROKEN,
				   "the network path: a firewall or SMTP inspection device in front of the MX",
				   "Turn off SMTP/ESMTP inspection for this MX (Cisco ASA/PIX: 'no inspect esmtp'; "
				   "other \"SMTP fixup\" features), so EHLO keeps its STARTTLS line. Senders that "
				   "require TLS (MTA-STS, DANE) cannot deliver; others send in plaintext." },
	[DC_STARTTLS_NOT_OFFERED] = { "starttls-not-offered", "STARTTLS is not offered", DV_BROKEN,
				      "the recipient (operator of this MX)",
				      "Enable STARTTLS with a certificate for the MX name (postfix: "
				      "smtpd_tls_security_level = may and smtpd_tls_chain_files; exim: "
				      "tls_advertise_hosts = * with tls_certificate/tls_privatekey)." },
	[DC_STARTTLS_REFUSED] = { "starttls-refused", "STARTTLS is advertised but refused", DV_BROKEN,
				  "the recipient (operator of this MX)",
				  "454 \"TLS not available\" usually means the MTA cannot load its key or certificate: "
				  "check the files named in its TLS settings, their permissions and the MTA's log. A "
				  "500-502 to an advertised STARTTLS points at a device rewriting the command." },
	[DC_RESET_INJECTED] = { "reset-injected", "a TCP reset was injected on the path", DV_BROKEN,
				"the network path between the sender and the MX (not the MX)",
				"The reset did not come from the server (see the capture evidence). Find the device "
				"that injects it (IPS, national filter, ISP middlebox) by testing from another network; "
				"the MX operator cannot fix it alone." },
	[DC_HANDSHAKE_FAILED] = { "starttls-handshake-failed", "the TLS handshake fails after STARTTLS", DV_BROKEN,
				  "the recipient (operator of this MX)",
				  "The server accepts STARTTLS (or the connection on an implicit-TLS port) and then "
				  "breaks the handshake at the step shown: check its TLS library, key and certificate "
				  "and the MTA's log at that time; `openssl s_client -starttls smtp` shows the same "
				  "failure." },
	[DC_NO_SHARED_VERSION] = { "no-shared-version", "no protocol version modern senders speak", DV_BROKEN,
				   "the recipient (operator of this MX)",
				   "Enable TLS 1.2 and TLS 1.3 (postfix: smtpd_tls_protocols = >=TLSv1.2 with a current "
				   "OpenSSL; exim: tls_require_ciphers). OpenSSL 3 and every current MTA refuse TLS 1.0 "
				   "and 1.1 (RFC 8996)." },
	[DC_NO_SHARED_SUITE] = { "no-shared-suite", "no cipher suite in common with ordinary senders", DV_BROKEN,
				 "the recipient (operator of this MX)",
				 "The server accepts only suites no sending stack offers (export, anonymous, NULL...): "
				 "enable ECDHE with AES-GCM or ChaCha20-Poly1305 (postfix: smtpd_tls_ciphers = medium "
				 "and the default cipher list)." },
	[DC_WEAK_SUITES_ONLY] = { "weak-suites-only", "only weak suites that modern senders refuse", DV_BROKEN,
				  "the recipient (operator of this MX)",
				  "Every suite the server accepts at TLS 1.2+ is one that OpenSSL 3 and current MTAs no "
				  "longer offer (RC4: RFC 7465; 3DES: SWEET32; export, NULL, anonymous): enable ECDHE "
				  "with AES-GCM or ChaCha20-Poly1305." },
	[DC_CERT_EXPIRED] = { "cert-expired", "the certificate has expired", DV_DEGRADED,
			      "the recipient (operator of this MX)",
			      "Renew the certificate and reload the MTA; check why automatic renewal did not run "
			      "(certbot renew, a deploy hook that reloads postfix/exim)." },
	[DC_CERT_NOT_YET_VALID] = { "cert-not-yet-valid", "the certificate is not valid yet", DV_DEGRADED,
				    "the recipient (operator of this MX)",
				    "The certificate starts in the future: check the server's clock (NTP) and the "
				    "certificate's notBefore; install the certificate that is valid today." },
	[DC_CERT_SELF_SIGNED] = { "cert-self-signed", "the certificate is self-signed", DV_DEGRADED,
				  "the recipient (operator of this MX)",
				  "Use a certificate from a public CA (e.g. Let's Encrypt) for the MX name; a "
				  "self-signed one only passes DANE-EE (TLSA 3 1 1) senders." },
	[DC_CERT_MISSING_INTERMEDIATE] = { "cert-intermediate-missing", "an intermediate certificate is missing",
					   DV_DEGRADED, "the recipient (operator of this MX)",
					   "Serve the full chain, leaf then intermediates (postfix: "
					   "smtpd_tls_chain_files = key.pem, fullchain.pem; exim: tls_certificate "
					   "= fullchain.pem). MTAs do not fetch missing intermediates." },
	[DC_CERT_UNTRUSTED] = { "cert-untrusted", "the certificate chain ends at an untrusted CA", DV_DEGRADED,
				"the recipient (operator of this MX)",
				"Use a certificate from a CA in the public trust stores, or publish DANE TLSA records "
				"for the one in use." },
	[DC_CERT_WEAK] = { "cert-weak", "the certificate's key or signature is too weak for strict senders",
			   DV_DEGRADED, "the recipient (operator of this MX)",
			   "Reissue the certificate with an RSA key of 2048 bits or more (or ECDSA P-256) signed with "
			   "SHA-256: OpenSSL 3 at security level 2 (Debian's default) fails verification of RSA keys "
			   "under 2048 bits and SHA-1 signatures, so verifying senders refuse it." },
	[DC_CERT_NAME_MISMATCH] = { "cert-name-mismatch", "the certificate does not match the MX name", DV_DEGRADED,
				    "the recipient (operator of this MX)",
				    "Get a certificate whose subjectAltName covers the MX host name, or point the MX "
				    "record at a name the certificate covers (MTA-STS checks the MX name, RFC 8461)." },
};
_Static_assert(sizeof(causes) / sizeof(causes[0]) == DC__COUNT, "causes out of sync");

/* --- sender profiles ----------------------------------------------------- */

enum profile_id { PF_MODERN_STRICT = 0, PF_OPENSSL3, PF_LEGACY10, PF__COUNT };

struct profile {
	const char *id, *label;
	uint8_t versions; /* SV_* */
	int strict;       /* verify the chain and the MX name */
	int (*suite_ok)(const struct suite_info *s);
};

static int bad_cipher(const struct suite_info *s)
{
	return (s->flags & (SF_EXPORT | SF_NULL_CIPHER | SF_ANON | SF_PSK | SF_SIGNALING)) || strstr(s->enc, "RC4") ||
	       strstr(s->enc, "DES") || strstr(s->enc, "IDEA") || strstr(s->enc, "SEED") || strstr(s->enc, "RC2") ||
	       strstr(s->enc, "GOST") || strstr(s->enc, "28147") || strstr(s->enc, "SM4");
}

/* Postfix/exim with a strict policy and Mozilla-"intermediate"-like suites:
 * TLS 1.3, or TLS 1.2 ECDHE/DHE with an AEAD. */
static int suite_modern(const struct suite_info *s)
{
	if (!strcmp(s->kx, "TLS13"))
		return s->code >= 0x1301 && s->code <= 0x1303;
	return !bad_cipher(s) && (s->flags & SF_AEAD) && (!strcmp(s->kx, "ECDHE") || !strcmp(s->kx, "DHE"));
}

/* OpenSSL 3.0 "DEFAULT": no RC4/3DES/DES/IDEA/SEED/export/NULL/anon/PSK/SRP. */
static int suite_openssl3(const struct suite_info *s)
{
	if (!strcmp(s->kx, "TLS13"))
		return s->code >= 0x1301 && s->code <= 0x1303;
	return !bad_cipher(s) && (!strcmp(s->kx, "ECDHE") || !strcmp(s->kx, "DHE") || !strcmp(s->kx, "RSA"));
}

/* An old TLS 1.0-only client (OpenSSL 0.9.8/1.0.0, Windows 2008-era MTAs). */
static int suite_legacy(const struct suite_info *s)
{
	if (s->flags & (SF_EXPORT | SF_NULL_CIPHER | SF_ANON | SF_PSK | SF_SIGNALING))
		return 0;
	if (strcmp(s->kx, "ECDHE") && strcmp(s->kx, "DHE") && strcmp(s->kx, "RSA"))
		return 0;
	return strstr(s->enc, "AES_128_CBC") || strstr(s->enc, "AES_256_CBC") || strstr(s->enc, "3DES") ||
	       strstr(s->enc, "RC4_128");
}

static const struct profile profiles[] = {
	[PF_MODERN_STRICT] = { "modern-strict", "modern, strict (TLS 1.2+, MTA-STS/DANE-style verification)",
			       SV_TLS12 | SV_TLS13, 1, suite_modern },
	[PF_OPENSSL3] = { "openssl3-default", "OpenSSL 3 default client (opportunistic, no verification)",
			  SV_TLS12 | SV_TLS13, 0, suite_openssl3 },
	[PF_LEGACY10] = { "legacy-tls10", "legacy TLS 1.0-only client (opportunistic)", SV_TLS10, 0, suite_legacy },
};
_Static_assert(sizeof(profiles) / sizeof(profiles[0]) == PF__COUNT, "profiles out of sync");

/* --- per host ------------------------------------------------------------ */

#define HOST_MAX_CAUSES 12
#define EVIDENCE_MAX    640

struct dcause {
	enum diag_cause id;
	enum diag_verdict severity; /* the table's, unless this instance is milder */
	char evidence[EVIDENCE_MAX];
};

struct pres {
	int ok;
	char detail[200];
};

struct rec {
	char *line; /* owned; parsed in place */
	struct jr_doc doc;
	const struct jr_val *v; /* NULL: no record */
};

struct dhost {
	char ip[64];
	uint16_t port;
	char name[256]; /* MX name (SNI), "" for an address target */
	int mode;       /* enum conn_mode scanned first */
	struct rec r;   /* the record in that mode */
	int rescan;     /* the other mode was tried */
	struct rec r2;  /* its record */
	int blocked;    /* never scanned: blocklist */
	struct dcause cause[HOST_MAX_CAUSES];
	int ncause;
	enum diag_verdict verdict;
	struct pres prof[PF__COUNT];
};

struct dmx {
	char name[256];
	int pref;
	const char *addr_status;
	size_t first, n;  /* its hosts: d->h[d->mx_hosts[first .. first + n)] */
	unsigned blocked; /* addresses not scanned: blocklist */
};

struct diag {
	/* options */
	int json;
	const char *resolvers[17];
	unsigned nres;
	struct engine_config ec;
	uint16_t port; /* for domains (default 25) */
	/* target */
	const char *input;
	char kind[48];         /* "mail domain", "host (implicit MX)", "host", "address" */
	const char *mx_status; /* domain: the MX query's outcome */
	int implicit_mx;
	char dns_problem[600];
	struct dmx mx[MX_MAX_HOSTS];
	int nmx;
	size_t *mx_hosts; /* per MX, the host indices */
	size_t nmx_hosts;
	/* hosts */
	struct dhost *h;
	size_t nh;
	enum diag_verdict verdict;
};

/* Name a cause once per host; NULL when it was already named (or no room). */
static struct dcause *add_cause(struct dhost *h, enum diag_cause id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct dcause *add_cause(struct dhost *h, enum diag_cause id, const char *fmt, ...)
{
	for (int i = 0; i < h->ncause; i++)
		if (h->cause[i].id == id)
			return NULL;
	if (h->ncause >= HOST_MAX_CAUSES)
		return NULL;
	struct dcause *c = &h->cause[h->ncause++];
	c->id = id;
	c->severity = causes[id].severity;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->evidence, sizeof(c->evidence), fmt, ap);
	va_end(ap);
	return c;
}

static int has_cause(const struct dhost *h, enum diag_cause id)
{
	for (int i = 0; i < h->ncause; i++)
		if (h->cause[i].id == id)
			return 1;
	return 0;
}

static const char *sget(const struct jr_val *v, const char *path)
{
	const char *s = jr_str(jr_path(v, path));
	return s ? s : "";
}

static int starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The versions the enumeration found, as SV_* bits, and a list for people. */
static const struct {
	const char *name;
	uint8_t bit;
} vers[] = { { "TLSv1.3", SV_TLS13 },
	     { "TLSv1.2", SV_TLS12 },
	     { "TLSv1.1", SV_TLS11 },
	     { "TLSv1.0", SV_TLS10 },
	     { "SSLv3", SV_SSL3 } };
#define NVERS (sizeof(vers) / sizeof(vers[0]))

static const struct jr_val *version_obj(const struct jr_val *rec, const char *vname)
{
	return jr_get(jr_path(rec, "tls.versions"), vname);
}

static uint8_t versions_supported(const struct jr_val *rec, char *list, size_t cap)
{
	uint8_t m = 0;
	size_t n = 0;
	if (cap)
		list[0] = 0;
	for (size_t i = 0; i < NVERS; i++) {
		if (jr_bool(jr_get(version_obj(rec, vers[i].name), "supported"), 0) == 1) {
			m |= vers[i].bit;
			if (n < cap) {
				int w = snprintf(list + n, cap - n, "%s%s", n ? ", " : "", vers[i].name);
				if (w > 0)
					n += (size_t)w;
			}
		}
	}
	return m;
}

static const struct suite_info *cipher_of(const struct jr_val *c)
{
	const char *code = jr_str(jr_get(c, "code"));
	if (code)
		return suite_by_code((uint16_t)strtoul(code, NULL, 16));
	const char *name = jr_str(jr_get(c, "name"));
	return name ? suite_by_name(name) : NULL;
}

/* First suite (server order) of version vname a filter accepts, or NULL. */
static const struct suite_info *first_suite(const struct jr_val *rec, const char *vname,
					    int (*ok)(const struct suite_info *))
{
	const struct jr_val *cs = jr_get(version_obj(rec, vname), "ciphers");
	if (!cs || cs->type != JR_ARRAY)
		return NULL;
	for (const struct jr_val *c = cs->child; c; c = c->next) {
		const struct suite_info *s = cipher_of(c);
		if (s && ok(s))
			return s;
	}
	return NULL;
}

/* Suites of the TLS 1.2+ versions, comma-separated, for evidence. */
static void suite_list(const struct jr_val *rec, uint8_t which, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = 0;
	for (size_t i = 0; i < NVERS; i++) {
		if (!(vers[i].bit & which))
			continue;
		const struct jr_val *cs = jr_get(version_obj(rec, vers[i].name), "ciphers");
		if (!cs || cs->type != JR_ARRAY || !cs->child)
			continue;
		int w = snprintf(out + n, cap - n, "%s%s:", n ? "; " : "", vers[i].name);
		if (w < 0 || (size_t)w >= cap - n)
			return;
		n += (size_t)w;
		for (const struct jr_val *c = cs->child; c; c = c->next) {
			w = snprintf(out + n, cap - n, " %s", sget(c, "name"));
			if (w < 0 || (size_t)w >= cap - n)
				return;
			n += (size_t)w;
		}
	}
}

/* The certificate: the chain verified as a sending MTA verifies it. */
static void certificate_causes(struct dhost *h, const struct jr_val *rec)
{
	const struct jr_val *cert = jr_path(rec, "tls.certificate");
	if (!cert)
		return;
	int code = (int)jr_int(jr_path(cert, "verify.code"), 0);
	int depth = (int)jr_int(jr_path(cert, "verify.depth"), 0);
	const char *text = sget(cert, "verify.text");
	const char *src = sget(cert, "source");
	const struct jr_val *chain = jr_get(cert, "chain");
	const struct jr_val *at = chain ? chain->child : NULL;
	for (int i = 0; at && i < depth; i++)
		at = at->next;
	const struct jr_val *leaf = chain ? chain->child : NULL;
	char who[400];
	snprintf(who, sizeof(who), "certificate %d of %u (%s, issued by %s)", depth, chain ? chain->len : 0,
		 at ? sget(at, "subject") : "?", at ? sget(at, "issuer") : "?");
	switch (code) {
	case 0:
	case 62: break;
	case 10:
		add_cause(h, DC_CERT_EXPIRED, "verify code 10 \"%s\": %s, notAfter %s (chain from the %s)", text, who,
			  at ? sget(at, "not_after") : "?", src);
		break;
	case 9:
		add_cause(h, DC_CERT_NOT_YET_VALID, "verify code 9 \"%s\": %s, notBefore %s (chain from the %s)", text,
			  who, at ? sget(at, "not_before") : "?", src);
		break;
	case 18:
		add_cause(h, DC_CERT_SELF_SIGNED,
			  "verify code 18 \"%s\": %s; subject and issuer are the same (chain from the %s)", text, who,
			  src);
		break;
	default:
		if (jr_bool(jr_get(cert, "missing_intermediate"), 0) == 1)
			add_cause(
				h, DC_CERT_MISSING_INTERMEDIATE,
				"verify code %d \"%s\": the server sent %u certificate(s); the issuer of %s is not among "
				"them but is a known intermediate's subject (chain_complete false)",
				code, text, chain ? chain->len : 0, leaf ? sget(leaf, "subject") : "the leaf");
		else
			add_cause(h, DC_CERT_UNTRUSTED, "verify code %d \"%s\": %s (chain from the %s)", code, text,
				  who, src);
		break;
	}
	/* OpenSSL security level 2 (auth level 2 in verification): RSA >= 2048
	 * bits, no SHA-1 signatures, for every certificate but the root */
	for (const struct jr_val *c = chain ? chain->child : NULL; c; c = c->next) {
		int bits = (int)jr_int(jr_get(c, "key_bits"), 4096);
		const char *sig = sget(c, "signature_algorithm");
		int self = !strcmp(sget(c, "subject"), sget(c, "issuer"));
		if ((!strcmp(sget(c, "key_type"), "rsa") && bits < 2048) || (!self && strstr(sig, "sha1"))) {
			add_cause(h, DC_CERT_WEAK, "%s: %s key of %d bits, signed with %s", sget(c, "subject"),
				  sget(c, "key_type"), bits, sig);
			break;
		}
	}
	if (h->name[0] && jr_bool(jr_path(cert, "name_match.mx"), 1) == 0) {
		char sans[300];
		size_t n = 0;
		sans[0] = 0;
		const struct jr_val *sv = leaf ? jr_get(leaf, "sans") : NULL;
		for (const struct jr_val *s = sv ? sv->child : NULL; s && n + 2 < sizeof(sans); s = s->next) {
			int w = snprintf(sans + n, sizeof(sans) - n, "%s%s", n ? ", " : "", jr_str(s) ? jr_str(s) : "");
			if (w < 0)
				break;
			n += (size_t)w;
		}
		add_cause(h, DC_CERT_NAME_MISMATCH, "MX name %s is not in the leaf certificate (subject %s, SANs: %s)",
			  h->name, leaf ? sget(leaf, "subject") : "?", sans[0] ? sans : "none");
	}
}

/* The first transcript line starting with prefix (e.g. a 4xx reply), or "". */
static void transcript_find(const struct jr_val *rec, const char *prefix, char *out, size_t cap)
{
	const struct jr_val *t = jr_path(rec, "smtp.transcript");
	out[0] = 0;
	for (const struct jr_val *l = t && t->type == JR_ARRAY ? t->child : NULL; l; l = l->next)
		if (jr_str(l) && starts(jr_str(l), prefix)) {
			snprintf(out, cap, "%s", jr_str(l));
			return;
		}
}

/* capture.reasons (the --capture reset verdict's reasons), joined for people. */
static void reset_reasons(const struct jr_val *rec, char *out, size_t cap)
{
	const struct jr_val *r = jr_path(rec, "capture.reasons");
	size_t n = 0;
	snprintf(out, cap, "no reasons recorded");
	for (const struct jr_val *x = r && r->type == JR_ARRAY ? r->child : NULL; x && n + 1 < cap; x = x->next) {
		int w = snprintf(out + n, cap - n, "%s%s", n ? "; " : "", jr_str(x) ? jr_str(x) : "(not a string)");
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* The capture's reset verdict of a host record: "injected_suspected", "by_server" or "" (no
 * capture, or no reset). --capture writes capture.verdict ("reset.injected_suspected", ...). */
static const char *reset_verdict(const struct jr_val *rec)
{
	const char *v = sget(rec, "capture.verdict");
	return strncmp(v, "reset.", 6) ? "" : v + 6;
}

/* How the TLS step ended, for people: alert, close, reset, timeout. */
static void tls_step(const struct jr_val *rec, char *out, size_t cap)
{
	const char *reason = sget(rec, "failure.reason"), *detail = sget(rec, "failure.detail");
	if (!strcmp(reason, "tls-alert"))
		snprintf(out, cap, "the server answered the ClientHello with %s", detail);
	else if (!strcmp(reason, "closed"))
		snprintf(out, cap, "the server closed the connection instead of answering the ClientHello");
	else if (!strcmp(reason, "reset"))
		snprintf(out, cap, "the connection was reset (TCP RST) instead of a ServerHello%s",
			 !strcmp(reset_verdict(rec), "by_server") ? "; the capture shows the server sent it" : "");
	else if (!strcmp(reason, "timeout"))
		snprintf(out, cap, "no answer to the ClientHello (%s)", detail);
	else
		snprintf(out, cap, "%s: %s", reason, detail);
}

/* Everything from the TLS answer on: versions, suites, the handshake, the
 * certificate. */
static void tls_causes(struct dhost *h, const struct jr_val *rec)
{
	char vlist[80], slist[EVIDENCE_MAX - 120], step[300];
	const char *rv = reset_verdict(rec);
	uint8_t sup = versions_supported(rec, vlist, sizeof(vlist));
	const char *base_version = jr_str(jr_path(rec, "tls.baseline.version"));
	int base_alert = (int)jr_int(jr_path(rec, "tls.baseline.alert.code"), -1);
	const char *fstage = sget(rec, "failure.stage");
	if (!strcmp(rv, "injected_suspected")) {
		char why[400];
		reset_reasons(rec, why, sizeof(why));
		add_cause(h, DC_RESET_INJECTED, "TCP reset at the %s; the capture says it was injected: %s",
			  fstage[0] ? fstage : "TLS step", why);
		return;
	}
	if (!sup) {
		tls_step(rec, step, sizeof(step));
		if (base_alert == 70)
			add_cause(h, DC_NO_SHARED_VERSION,
				  "%s; the enumeration found no version from SSLv3 to TLS 1.3 the server accepts",
				  step);
		else if (base_alert == 40)
			add_cause(h, DC_NO_SHARED_SUITE,
				  "%s to an offer of %s; no suite of the IANA table was accepted in any version", step,
				  "every common suite of TLS 1.0-1.3");
		else
			add_cause(h, DC_HANDSHAKE_FAILED,
				  "%s (stage %s); none of the %d probe connections got a "
				  "ServerHello",
				  step, fstage[0] ? fstage : "tls-hello",
				  (int)jr_int(jr_path(rec, "probes.connections"), 0));
		return;
	}
	uint8_t modern = sup & (SV_TLS12 | SV_TLS13);
	/* later connections turned away before TLS (connection or rate limits):
	 * the enumeration stopped, or the handshake connection never got to TLS */
	int turned_away = jr_bool(jr_path(rec, "probes.aborted"), 0) == 1 ||
			  (jr_path(rec, "tls.handshake") && jr_bool(jr_path(rec, "tls.handshake.ok"), 1) == 0 &&
			   !jr_path(rec, "tls.handshake.failed_at"));
	int any_ok = 0, o3_ok = 0;
	for (size_t i = 0; i < NVERS; i++) {
		if (!(sup & vers[i].bit))
			continue;
		if (first_suite(rec, vers[i].name, suite_openssl3) || first_suite(rec, vers[i].name, suite_legacy))
			any_ok = 1;
		if ((vers[i].bit & modern) && first_suite(rec, vers[i].name, suite_openssl3))
			o3_ok = 1;
	}
	if (turned_away) {
		/* the first connection got through: single-connection senders
		 * do too, those that open many at once meet the limit */
		char line[TRANSCRIPT_LINE_MAX + 1];
		transcript_find(rec, "S: 4", line, sizeof(line));
		struct dcause *c = add_cause(
			h, DC_THROTTLED_421,
			"the first connection negotiated %s; after %d connections the server turned further ones away%s%s%s",
			base_version ? base_version : vlist, (int)jr_int(jr_path(rec, "probes.connections"), 0),
			line[0] ? " (\"" : " (a close or reset at the greeting)", line[0] ? line + 3 : "",
			line[0] ? "\")" : "");
		if (c)
			c->severity = DV_DEGRADED;
	} else if (!modern) {
		add_cause(
			h, DC_NO_SHARED_VERSION,
			"the server accepts only %s%s%s; senders with OpenSSL 3 or a TLS 1.2 minimum have no version in "
			"common",
			vlist, base_version ? "; the baseline hello got " : "", base_version ? base_version : "");
	} else if (!base_version && !any_ok) {
		suite_list(rec, sup, slist, sizeof(slist));
		tls_step(rec, step, sizeof(step));
		add_cause(h, DC_NO_SHARED_SUITE, "%s; it accepts only %s", step, slist);
	} else if (!o3_ok) {
		suite_list(rec, modern, slist, sizeof(slist));
		add_cause(h, DC_WEAK_SUITES_ONLY,
			  "accepted at TLS 1.2+: %s; none is offered by OpenSSL 3 or a modern MTA", slist);
	} else if (jr_path(rec, "tls.handshake") && jr_bool(jr_path(rec, "tls.handshake.ok"), 1) == 0) {
		int a = (int)jr_int(jr_path(rec, "tls.handshake.alert.code"), -1);
		add_cause(h, DC_HANDSHAKE_FAILED,
			  "the probes negotiated (%s), but the full handshake as a sending MTA failed at %s: %s%s%s%s",
			  base_version ? base_version : vlist, sget(rec, "tls.handshake.failed_at"),
			  sget(rec, "tls.handshake.error"), a >= 0 ? " (alert " : "",
			  a >= 0 ? sget(rec, "tls.handshake.alert.name") : "", a >= 0 ? ")" : "");
	} else if (!base_version && !strcmp(fstage, "tls-hello")) {
		tls_step(rec, step, sizeof(step));
		add_cause(h, DC_HANDSHAKE_FAILED, "%s to the broad baseline hello, while smaller probes found %s", step,
			  vlist);
	}
	certificate_causes(h, rec);
}

/* The record answered the way of the other mode: silent until the banner timeout
 * under STARTTLS (maybe it waits for a ClientHello), or a 220 greeting instead of
 * TLS under implicit TLS. */
static int wants_other_mode(const struct jr_val *rec, int mode)
{
	const char *stage = sget(rec, "failure.stage"), *reason = sget(rec, "failure.reason");
	if (mode == MODE_STARTTLS)
		return !strcmp(stage, "banner") && !strcmp(reason, "timeout") && !jr_path(rec, "smtp.banner");
	return mode == MODE_IMPLICIT && !strcmp(stage, "tls-hello") &&
	       (!strcmp(reason, "plaintext-after-starttls") || !strcmp(reason, "not-tls")) &&
	       starts(sget(rec, "failure.detail"), "220");
}

/* Before TLS: connect, greeting, EHLO, STARTTLS. Returns 1 when TLS was
 * reached (the TLS causes apply), 0 when a cause was named, 2 when the
 * host wants a scan in the other mode. */
static int smtp_causes(struct dhost *h, const struct jr_val *rec, int mode)
{
	const char *stage = sget(rec, "failure.stage"), *reason = sget(rec, "failure.reason");
	const char *detail = sget(rec, "failure.detail");
	if (!strcmp(stage, "connect")) {
		add_cause(h, DC_MX_UNREACHABLE, "connect to %s port %u: %s (%s)", h->ip, h->port, reason, detail);
		return 0;
	}
	if (starts(reason, "smtp-421")) {
		add_cause(h, DC_THROTTLED_421, "at the %s the server said \"%s\"", stage, detail);
		return 0;
	}
	if (wants_other_mode(rec, mode))
		return 2;
	if (!strcmp(reason, "starttls-stripped")) {
		add_cause(h, DC_STARTTLS_STRIPPED, "EHLO listed \"%s\" where STARTTLS belongs%s", detail,
			  jr_bool(jr_path(rec, "smtp.tampering.banner_masked"), 0) == 1
				  ? "; the banner is masked with '*' as SMTP inspection devices do"
				  : "");
		return 0;
	}
	if (!strcmp(reason, "starttls-not-offered")) {
		add_cause(h, DC_STARTTLS_NOT_OFFERED, "the EHLO reply (%u lines) has no STARTTLS line%s",
			  jr_path(rec, "smtp.ehlo") ? jr_path(rec, "smtp.ehlo")->len : 0,
			  jr_bool(jr_path(rec, "smtp.helo_fallback"), 0) == 1 ? " (EHLO refused, HELO used)" : "");
		return 0;
	}
	if (!strcmp(reason, "starttls-refused") || !strcmp(reason, "starttls-rejected")) {
		add_cause(h, DC_STARTTLS_REFUSED, "STARTTLS was advertised; the reply to it was \"%s\"", detail);
		return 0;
	}
	if (!strcmp(stage, "banner") || !strcmp(stage, "ehlo") || !strcmp(stage, "helo") ||
	    (!strcmp(stage, "starttls") && !jr_path(rec, "tls"))) {
		if (!strcmp(reason, "reset") && !strcmp(reset_verdict(rec), "injected_suspected")) {
			char why[400];
			reset_reasons(rec, why, sizeof(why));
			add_cause(h, DC_RESET_INJECTED, "TCP reset at the %s; the capture says it was injected: %s",
				  stage, why);
			return 0;
		}
		if (!strcmp(stage, "starttls") && !strcmp(sget(rec, "smtp.starttls"), "offered") &&
		    (!strcmp(reason, "reset") || !strcmp(reason, "closed"))) {
			/* STARTTLS was offered and sent; the connection died instead of the 220 */
			add_cause(h, DC_HANDSHAKE_FAILED, "the connection was %s in answer to the STARTTLS command%s",
				  !strcmp(reason, "reset") ? "reset (TCP RST)" : "closed",
				  !strcmp(reset_verdict(rec), "by_server") ? "; the capture shows the server sent it"
									   : "");
			return 0;
		}
		add_cause(h, DC_SMTP_FAILED, "at the %s: %s%s%s", stage, reason, detail[0] ? ": " : "", detail);
		return 0;
	}
	return 1;
}

/* --- sender profiles, per host ------------------------------------------- */

static void host_profiles(struct dhost *h, const struct jr_val *rec, int reached_tls)
{
	for (int p = 0; p < PF__COUNT; p++) {
		const struct profile *pf = &profiles[p];
		struct pres *o = &h->prof[p];
		o->ok = 0;
		if (!rec) {
			snprintf(o->detail, sizeof(o->detail), "not scanned");
			continue;
		}
		if (!reached_tls) {
			snprintf(o->detail, sizeof(o->detail), "no: %s",
				 h->ncause ? causes[h->cause[0].id].title : "no TLS");
			continue;
		}
		if (has_cause(h, DC_RESET_INJECTED) || has_cause(h, DC_HANDSHAKE_FAILED)) {
			snprintf(o->detail, sizeof(o->detail), "no: %s",
				 causes[has_cause(h, DC_RESET_INJECTED) ? DC_RESET_INJECTED : DC_HANDSHAKE_FAILED]
					 .title);
			continue;
		}
		char vl[80];
		uint8_t sup = versions_supported(rec, vl, sizeof(vl));
		const struct suite_info *pick = NULL;
		const char *pickv = NULL;
		int common_version = 0;
		for (size_t i = 0; i < NVERS && !pick; i++) {
			if (!(sup & vers[i].bit & pf->versions))
				continue;
			common_version = 1;
			pick = first_suite(rec, vers[i].name, pf->suite_ok);
			pickv = vers[i].name;
		}
		if (!common_version) {
			snprintf(o->detail, sizeof(o->detail), "no: no version in common (server: %s)",
				 sup ? vl : "none");
			continue;
		}
		if (!pick) {
			snprintf(o->detail, sizeof(o->detail), "no: no cipher suite in common");
			continue;
		}
		if (pf->strict) {
			int bad = 0;
			for (int i = 0; i < h->ncause; i++)
				if (h->cause[i].id >= DC_CERT_EXPIRED && h->cause[i].id <= DC_CERT_NAME_MISMATCH) {
					snprintf(o->detail, sizeof(o->detail), "no: %s", causes[h->cause[i].id].title);
					bad = 1;
					break;
				}
			if (!bad && !jr_path(rec, "tls.certificate")) {
				snprintf(o->detail, sizeof(o->detail), "no: no certificate could be verified");
				bad = 1;
			}
			if (bad)
				continue;
		}
		o->ok = 1;
		snprintf(o->detail, sizeof(o->detail), "yes: %s %s", pickv, pick->name);
	}
	/* a cut-short enumeration may have missed what a "no" needed */
	for (int p = 0; rec && reached_tls && p < PF__COUNT; p++) {
		struct pres *o = &h->prof[p];
		if (!o->ok && jr_bool(jr_path(rec, "probes.aborted"), 0) == 1 &&
		    strlen(o->detail) + 40 < sizeof(o->detail))
			strcat(o->detail, " (enumeration cut short)");
	}
}

static void analyse_host(struct dhost *h)
{
	const struct jr_val *rec = h->r.v;
	if (h->blocked || !rec) {
		h->verdict = DV_UNKNOWN;
		host_profiles(h, NULL, 0);
		return;
	}
	int st = smtp_causes(h, rec, h->mode);
	const struct jr_val *tlsrec = rec;
	if (st == 2) {
		const struct jr_val *r2 = h->r2.v;
		int other_ok = r2 && (!strcmp(sget(r2, "status"), "success") || jr_path(r2, "tls.baseline.version") ||
				      jr_int(jr_path(r2, "smtp.banner_code"), 0) == 220);
		if (other_ok && h->mode == MODE_STARTTLS) {
			add_cause(h, DC_PORT_MODE_MISMATCH,
				  "port %u: no SMTP greeting within the banner deadline (the server waits for a "
				  "ClientHello); the same port in implicit TLS mode: %s%s%s",
				  h->port, jr_path(r2, "tls.baseline.version") ? "TLS " : "",
				  jr_path(r2, "tls.baseline.version") ? sget(r2, "tls.baseline.version")
								      : sget(r2, "status"),
				  jr_path(r2, "tls.handshake.ehlo") ? ", then SMTP over TLS (EHLO 250)" : "");
		} else if (other_ok) {
			add_cause(h, DC_PORT_MODE_MISMATCH,
				  "port %u: the answer to our ClientHello was plaintext \"%s\"; the same port in "
				  "STARTTLS mode: greeting %d, STARTTLS %s, %s%s",
				  h->port, sget(rec, "failure.detail"), (int)jr_int(jr_path(r2, "smtp.banner_code"), 0),
				  sget(r2, "smtp.starttls"), jr_path(r2, "tls.baseline.version") ? "TLS " : "status ",
				  jr_path(r2, "tls.baseline.version") ? sget(r2, "tls.baseline.version")
								      : sget(r2, "status"));
		} else if (h->mode == MODE_STARTTLS) {
			add_cause(
				h, DC_MX_UNREACHABLE,
				"connected to %s port %u, but no greeting came (%s), and implicit TLS on the port got "
				"no answer either",
				h->ip, h->port, sget(rec, "failure.detail"));
		} else {
			add_cause(h, DC_HANDSHAKE_FAILED,
				  "plaintext \"%s\" instead of a ServerHello; STARTTLS mode on "
				  "the port did not work either",
				  sget(rec, "failure.detail"));
		}
		if (other_ok && r2 && smtp_causes(h, r2, h->mode == MODE_STARTTLS ? MODE_IMPLICIT : MODE_STARTTLS) == 1)
			tls_causes(h, r2);
		tlsrec = NULL;
	} else if (st == 1) {
		tls_causes(h, rec);
	}
	host_profiles(h, tlsrec, st == 1);
	h->verdict = DV_HEALTHY;
	for (int i = 0; i < h->ncause; i++)
		if (h->cause[i].severity > h->verdict)
			h->verdict = h->cause[i].severity;
}

/* --- scanning through the engine ----------------------------------------- */

/* Scan targets with cfg; each line of the records (plain NDJSON, kept in a memfd) goes to
 * cb(arg, line, len) once the scan is over. */
static int scan_records(const struct engine_config *cfg, const struct target_set *targets,
			int (*cb)(void *arg, const char *line, size_t len), void *arg, char *err, size_t errlen)
{
	int fd = memfd_create("mxscan-diagnose", MFD_CLOEXEC), rc = -1;
	char path[64];
	struct recw *w = NULL;
	struct engine_stats *st = calloc(1, sizeof(*st));
	if (fd < 0 || !st) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct recw_opts ro = { .format = RECW_PLAIN };
	w = recw_open(path, &ro, err, errlen);
	if (!w)
		goto out;
	struct engine_config ec = *cfg;
	unsigned nthreads = cfg->threads ? cfg->threads : 1;
	struct recq *q = recq_start(w, nthreads, NULL, err, errlen);
	if (!q)
		goto out;
	ec.out = q;
	struct engine *e = engine_start(&ec, targets, st, err, errlen);
	if (!e) {
		recq_stop(q, NULL);
		goto out;
	}
	while (engine_running(e)) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	engine_join(e);
	int qr = recq_stop(q, NULL);
	int cr = recw_close(w);
	w = NULL;
	if (cr < 0 || qr < 0) {
		snprintf(err, errlen, "records could not be kept in memory");
		goto out;
	}
	if (recw_read(path, cb, arg, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	if (w)
		recw_close(w);
	if (fd >= 0)
		close(fd);
	free(st);
	return rc;
}

/* Where host records go: to the host with their ip and port (the first record per host
 * wins); with keys (--records), a host is added for each new ip:port, keyed in keys. */
struct attach {
	struct diag *d;
	int second; /* the other-mode rescan: into r2 */
	struct target_set *keys;
	size_t hcap;
};

static int attach_line(void *arg, const char *text, size_t n)
{
	struct attach *a = arg;
	struct diag *d = a->d;
	if (!n || !memmem(text, n, "\"host\"", 6))
		return 0;
	char *line = malloc(n + 1);
	if (!line)
		return -1;
	memcpy(line, text, n);
	line[n] = 0;
	struct jr_doc doc;
	jr_init(&doc);
	const char *ip = NULL;
	if (jr_parse(&doc, line, n) == 0 && jr_streq(jr_get(doc.root, "type"), "host"))
		ip = jr_str(jr_get(doc.root, "ip"));
	int port = ip ? (int)jr_int(jr_get(doc.root, "port"), 0) : 0;
	struct dhost *h = NULL;
	if (ip && a->keys) {
		struct target key;
		size_t idx;
		memset(&key, 0, sizeof(key));
		snprintf(key.host, sizeof(key.host), "%s", ip);
		key.port = (uint16_t)port;
		int added = ts_add_idx(a->keys, &key, &idx);
		if (added > 0 && d->nh == a->hcap) {
			a->hcap = a->hcap ? a->hcap * 2 : 16;
			struct dhost *nhp = realloc(d->h, a->hcap * sizeof(*nhp));
			if (!nhp)
				added = -1;
			else
				d->h = nhp;
		}
		if (added < 0) {
			jr_free(&doc);
			free(line);
			return -1;
		}
		if (added) {
			h = &d->h[d->nh++];
			memset(h, 0, sizeof(*h));
			snprintf(h->ip, sizeof(h->ip), "%.63s", ip);
			h->port = (uint16_t)port;
			const struct jr_val *names = jr_get(doc.root, "names");
			if (names && names->child && jr_str(names->child))
				snprintf(h->name, sizeof(h->name), "%.255s", jr_str(names->child));
			h->mode = jr_streq(jr_get(doc.root, "mode"), "implicit") ? MODE_IMPLICIT : MODE_STARTTLS;
			jr_init(&h->r.doc);
			jr_init(&h->r2.doc);
		}
	} else if (ip) {
		for (size_t i = 0; i < d->nh && !h; i++)
			if (!strcmp(d->h[i].ip, ip) && d->h[i].port == port)
				h = &d->h[i];
	}
	struct rec *r = h ? (a->second ? &h->r2 : &h->r) : NULL;
	if (r && !r->v) {
		r->line = line;
		r->doc = doc;
		r->v = doc.root;
		return 0;
	}
	jr_free(&doc);
	free(line);
	return 0;
}

/* --records FILE: hosts from the host records of an earlier scan (plain or gzip NDJSON, read
 * as --resume reads records: complete gzip members, lines up to the last '\n'), first record
 * per ip:port. */
static int records_file(struct diag *d, const char *path, char *err, size_t errlen)
{
	/* recw_read takes a missing file for an empty one: here it is an error */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	struct attach a = { .d = d, .keys = ts_new() };
	if (!a.keys) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	long long n = recw_read(path, attach_line, &a, err, errlen);
	ts_free(a.keys);
	if (n < 0 && !strcmp(err, "ok"))
		snprintf(err, errlen, "%s: out of memory", path);
	return n < 0 ? -1 : 0;
}

/* --- output -------------------------------------------------------------- */

static const char *const mode_text[] = { "SMTP + STARTTLS", "implicit TLS" };

static void print_transcript(FILE *f, const struct jr_val *rec, const char *title)
{
	const struct jr_val *t = jr_path(rec, "smtp.transcript");
	if (!t || t->type != JR_ARRAY)
		return;
	fprintf(f, "  %s:\n", title);
	for (const struct jr_val *l = t->child; l; l = l->next)
		fprintf(f, "    %s\n", jr_str(l) ? jr_str(l) : "");
	if (jr_int(jr_path(rec, "smtp.transcript_dropped"), 0) > 0)
		fprintf(f, "    (%lld more lines not kept)\n",
			(long long)jr_int(jr_path(rec, "smtp.transcript_dropped"), 0));
}

/* The first host (in scan order) a sender profile gets through, or NULL. */
static const struct dhost *profile_via(const struct diag *d, int p)
{
	for (size_t i = 0; i < d->nh; i++)
		if (d->h[i].prof[p].ok)
			return &d->h[i];
	return NULL;
}

/* One cause for people: "HEAD: title [id]", then evidence, who, fix indented by ind. */
static void print_cause(FILE *f, const char *head, const char *ind, const struct cause_info *c, const char *evidence)
{
	fprintf(f, "%s: %s [%s]\n%sevidence: %s\n%swho must fix it: %s\n%sfix: %s\n", head, c->title, c->id, ind,
		evidence, ind, c->who, ind, c->fix);
}

/* One cause as a JSON object (key NULL inside an array); severity NULL: left out. */
static void json_cause(struct jbuf *jb, const char *key, const struct cause_info *c, const char *severity,
		       const char *evidence)
{
	jb_obj_open(jb, key);
	jb_str(jb, "id", c->id);
	jb_str(jb, "title", c->title);
	if (severity)
		jb_str(jb, "severity", severity);
	jb_str(jb, "evidence", evidence);
	jb_str(jb, "who", c->who);
	jb_str(jb, "fix", c->fix);
	jb_obj_close(jb);
}

static void print_text(const struct diag *d, FILE *f)
{
	fprintf(f, "Destination: %s (%s)\n", d->input, d->kind);
	if (d->mx_status) {
		if (d->implicit_mx)
			fprintf(f, "  no MX records (%s): the name's own address is used (RFC 5321 §5.1 implicit MX)\n",
				d->mx_status);
		for (int m = 0; m < d->nmx; m++) {
			fprintf(f, "  MX %d %s ->", d->mx[m].pref, d->mx[m].name);
			if (!d->mx[m].n && !d->mx[m].blocked)
				fprintf(f, " no address (%s)", d->mx[m].addr_status);
			if (d->mx[m].blocked)
				fprintf(f, " [%u address(es) not scanned: blocklist, see --allowlist]",
					d->mx[m].blocked);
			for (size_t k = 0; k < d->mx[m].n; k++) {
				const struct dhost *h = &d->h[d->mx_hosts[d->mx[m].first + k]];
				fprintf(f, " %s", h->ip);
			}
			fputc('\n', f);
		}
	}
	if (d->dns_problem[0])
		print_cause(f, "\nProblem", "  ", &causes[DC_DNS], d->dns_problem);
	for (size_t i = 0; i < d->nh; i++) {
		const struct dhost *h = &d->h[i];
		fprintf(f, "\n== %s%s%s port %u (%s): %s\n", h->name[0] ? h->name : "", h->name[0] ? " " : "", h->ip,
			h->port, mode_text[h->mode], verdict_names[h->verdict]);
		if (h->blocked) {
			fprintf(f, "  not scanned: the address is in the blocklist (see --allowlist)\n");
			continue;
		}
		if (h->r.v)
			print_transcript(f, h->r.v, "transcript");
		if (h->rescan && h->r2.v)
			print_transcript(f, h->r2.v,
					 h->mode == MODE_STARTTLS ? "transcript, same port in implicit TLS mode"
								  : "transcript, same port in STARTTLS mode");
		if (!h->ncause)
			fprintf(f, "  problems: none\n");
		for (int k = 0; k < h->ncause; k++) {
			char head[32];
			snprintf(head, sizeof(head), "  problem %d", k + 1);
			print_cause(f, head, "    ", &causes[h->cause[k].id], h->cause[k].evidence);
			if (h->cause[k].id == DC_HANDSHAKE_FAILED && strstr(h->cause[k].evidence, "reset") && h->r.v &&
			    !reset_verdict(h->r.v)[0])
				fprintf(f,
					"    note: whether this reset came from the server or was injected on the path "
					"takes a packet capture (run again as root with --capture IFACE)\n");
		}
		fprintf(f, "  would a sender get through?\n");
		for (int p = 0; p < PF__COUNT; p++)
			fprintf(f, "    %-62s %s\n", profiles[p].label, h->prof[p].detail);
	}
	if (d->nh > 1) {
		fprintf(f, "\nSenders, over all MX (a sender tries the next MX when one fails):\n");
		for (int p = 0; p < PF__COUNT; p++) {
			const struct dhost *via = profile_via(d, p);
			fprintf(f, "    %-62s %s%s%s\n", profiles[p].label, via ? "yes, via " : "no",
				via ? (via->name[0] ? via->name : via->ip) : "", "");
		}
	}
	static const char *const meaning[] = {
		"every MX takes TLS mail from a strict modern sender",
		"mail gets through with TLS, but with problems (some MX, or strict senders fail)",
		"no MX takes TLS mail from an ordinary sender",
		"nothing could be scanned (every address is in the blocklist)",
	};
	fprintf(f, "\nVerdict: %s: %s\n", verdict_names[d->verdict], meaning[d->verdict]);
}

static void json_transcript(struct jbuf *jb, const char *key, const struct jr_val *rec)
{
	const struct jr_val *t = rec ? jr_path(rec, "smtp.transcript") : NULL;
	jb_arr_open(jb, key);
	for (const struct jr_val *l = t ? t->child : NULL; l; l = l->next)
		jb_str(jb, NULL, jr_str(l) ? jr_str(l) : "");
	jb_arr_close(jb);
}

static int exit_of(enum diag_verdict v)
{
	return v == DV_HEALTHY    ? DIAG_EXIT_HEALTHY
	       : v == DV_DEGRADED ? DIAG_EXIT_DEGRADED
	       : v == DV_BROKEN   ? DIAG_EXIT_BROKEN
				  : DIAG_EXIT_USAGE; /* nothing scanned: the blocklist refused every address */
}

static void print_json(const struct diag *d, FILE *f)
{
	struct jbuf jb;
	jb_init(&jb);
	jb_obj_open(&jb, NULL);
	jb_str(&jb, "type", "diagnosis");
	jb_str(&jb, "target", d->input);
	jb_str(&jb, "kind", d->kind);
	jb_str(&jb, "verdict", verdict_names[d->verdict]);
	jb_int(&jb, "exit_status", exit_of(d->verdict));
	if (d->mx_status) {
		jb_obj_open(&jb, "dns");
		jb_str(&jb, "mx_status", d->mx_status);
		jb_bool(&jb, "implicit_mx", d->implicit_mx);
		jb_arr_open(&jb, "mx");
		for (int m = 0; m < d->nmx; m++) {
			jb_obj_open(&jb, NULL);
			jb_str(&jb, "name", d->mx[m].name);
			jb_int(&jb, "preference", d->mx[m].pref);
			jb_str(&jb, "address_status", d->mx[m].addr_status);
			jb_arr_open(&jb, "hosts");
			for (size_t k = 0; k < d->mx[m].n; k++) {
				const struct dhost *h = &d->h[d->mx_hosts[d->mx[m].first + k]];
				jb_printf_str(&jb, NULL, "%s:%u", h->ip, h->port);
			}
			jb_arr_close(&jb);
			jb_obj_close(&jb);
		}
		jb_arr_close(&jb);
		jb_obj_close(&jb);
	}
	/* every cause named, destination-wide, in the order found */
	jb_arr_open(&jb, "causes");
	int seen[DC__COUNT] = { 0 };
	if (d->dns_problem[0]) {
		jb_str(&jb, NULL, causes[DC_DNS].id);
		seen[DC_DNS] = 1;
	}
	for (size_t i = 0; i < d->nh; i++)
		for (int k = 0; k < d->h[i].ncause; k++)
			if (!seen[d->h[i].cause[k].id]++)
				jb_str(&jb, NULL, causes[d->h[i].cause[k].id].id);
	jb_arr_close(&jb);
	if (d->dns_problem[0])
		json_cause(&jb, "dns_problem", &causes[DC_DNS], NULL, d->dns_problem);
	jb_obj_open(&jb, "profiles");
	for (int p = 0; p < PF__COUNT; p++) {
		const struct dhost *via = profile_via(d, p);
		jb_obj_open(&jb, profiles[p].id);
		jb_str(&jb, "label", profiles[p].label);
		jb_bool(&jb, "ok", via != NULL);
		if (via)
			jb_printf_str(&jb, "via", "%s:%u", via->ip, via->port);
		jb_obj_close(&jb);
	}
	jb_obj_close(&jb);
	jb_arr_open(&jb, "hosts");
	for (size_t i = 0; i < d->nh; i++) {
		const struct dhost *h = &d->h[i];
		jb_obj_open(&jb, NULL);
		jb_str(&jb, "ip", h->ip);
		jb_int(&jb, "port", h->port);
		jb_str(&jb, "mode", conn_mode_name((enum conn_mode)h->mode));
		if (h->name[0])
			jb_str(&jb, "name", h->name);
		jb_str(&jb, "verdict", verdict_names[h->verdict]);
		if (h->blocked)
			jb_bool(&jb, "blocked", 1);
		if (h->r.v) {
			jb_str(&jb, "status", sget(h->r.v, "status"));
			json_transcript(&jb, "transcript", h->r.v);
		}
		if (h->rescan && h->r2.v) {
			jb_obj_open(&jb, "other_mode");
			jb_str(&jb, "mode", h->mode == MODE_STARTTLS ? "implicit" : "starttls");
			jb_str(&jb, "status", sget(h->r2.v, "status"));
			json_transcript(&jb, "transcript", h->r2.v);
			jb_obj_close(&jb);
		}
		jb_arr_open(&jb, "causes");
		for (int k = 0; k < h->ncause; k++)
			json_cause(&jb, NULL, &causes[h->cause[k].id], verdict_names[h->cause[k].severity],
				   h->cause[k].evidence);
		jb_arr_close(&jb);
		jb_obj_open(&jb, "profiles");
		for (int p = 0; p < PF__COUNT; p++) {
			jb_obj_open(&jb, profiles[p].id);
			jb_bool(&jb, "ok", h->prof[p].ok);
			jb_str(&jb, "detail", h->prof[p].detail);
			jb_obj_close(&jb);
		}
		jb_obj_close(&jb);
		jb_obj_close(&jb);
	}
	jb_arr_close(&jb);
	jb_obj_close(&jb);
	if (jb_ok(&jb))
		fprintf(f, "%.*s\n", (int)jb.len, jb.buf);
	jb_free(&jb);
}

/* --- command line -------------------------------------------------------- */

static const char diag_usage[] =
	"Usage: mxscan diagnose DOMAIN | HOST[:PORT] | IP[:PORT] [OPTIONS]\n"
	"\n"
	"Why does mail to this destination fail over TLS? Resolves the target as a sending MTA does\n"
	"(MX records; no MX but an address: the name itself; NAME:PORT and addresses are one host),\n"
	"scans every address (full enumeration, a full handshake as a sending MTA, certificate\n"
	"verification), and prints for each MX: the SMTP transcript (S:/C: lines), its verdict, each\n"
	"problem with its cause, the evidence, who must fix it and how, and whether common sending\n"
	"stacks get through. Port 465 is implicit TLS, others STARTTLS; when a port answers in the\n"
	"other mode's way, it is scanned again in that mode to prove a port/mode mismatch.\n"
	"\n"
	"Options:\n"
	"      --json              one JSON object (type \"diagnosis\") instead of text\n"
	"      --records FILE      diagnose the host records of an earlier scan (plain or gzip NDJSON,\n"
	"                          best with --transcript) instead of scanning; no target then\n"
	"  -p, --port N            port for a domain's MX hosts and for names without one (default 25)\n"
	"      --mode MODE         auto (default), starttls, implicit\n"
	"      --ca-file FILE      trust anchors (PEM) for chain verification (default: system bundle)\n"
	"      --resolver IP[:PORT] DNS server (repeatable; default resolv.conf)\n"
	"      --blocklist FILE    ranges never scanned (default datasets/blocklist.conf)\n"
	"      --allowlist CIDR|FILE  scan only these ranges, e.g. 127.0.0.0/8 for tests\n"
	"      --ehlo NAME         EHLO argument (default: this machine's host name)\n"
	"      --connect-timeout S, --banner-timeout S (default 10), --timeout S, --tls-timeout S\n"
	"      --capture IFACE     root or CAP_NET_RAW: capture the packets on IFACE (libpcap) to tell a\n"
	"                          reset injected on the path from the server's own (cause reset-injected)\n"
	"  -h, --help              this text\n"
	"\n"
	"Causes named: dns, mx-unreachable, throttled-421, smtp-failed, port-mode-mismatch,\n"
	"starttls-stripped, starttls-not-offered, starttls-refused, starttls-handshake-failed,\n"
	"no-shared-version, no-shared-suite, weak-suites-only, cert-expired, cert-not-yet-valid,\n"
	"cert-self-signed, cert-intermediate-missing, cert-untrusted, cert-weak, cert-name-mismatch;\n"
	"reset-injected (with --capture IFACE: the packets show the reset was not the server's).\n"
	"\n"
	"Exit status: 0 healthy (every MX takes TLS mail from a strict modern sender); 10 degraded (TLS\n"
	"mail gets through, with problems: some MX fail, or strict senders fail on the certificate);\n"
	"11 broken (no MX takes TLS mail from an ordinary sender, or the DNS leads to none); 1 bad\n"
	"option or configuration, or nothing scanned (every address in the blocklist).\n";

enum {
	DO_JSON = 300,
	DO_MODE,
	DO_CA_FILE,
	DO_RESOLVER,
	DO_BLOCKLIST,
	DO_ALLOWLIST,
	DO_EHLO,
	DO_CONNECT_TIMEOUT,
	DO_BANNER_TIMEOUT,
	DO_TIMEOUT,
	DO_TLS_TIMEOUT,
	DO_CAPTURE,
	DO_RECORDS,
};

static const struct option diag_opts[] = {
	{ "json", no_argument, 0, DO_JSON },
	{ "records", required_argument, 0, DO_RECORDS },
	{ "port", required_argument, 0, 'p' },
	{ "mode", required_argument, 0, DO_MODE },
	{ "ca-file", required_argument, 0, DO_CA_FILE },
	{ "resolver", required_argument, 0, DO_RESOLVER },
	{ "blocklist", required_argument, 0, DO_BLOCKLIST },
	{ "allowlist", required_argument, 0, DO_ALLOWLIST },
	{ "ehlo", required_argument, 0, DO_EHLO },
	{ "connect-timeout", required_argument, 0, DO_CONNECT_TIMEOUT },
	{ "banner-timeout", required_argument, 0, DO_BANNER_TIMEOUT },
	{ "timeout", required_argument, 0, DO_TIMEOUT },
	{ "tls-timeout", required_argument, 0, DO_TLS_TIMEOUT },
	{ "capture", required_argument, 0, DO_CAPTURE },
	{ "help", no_argument, 0, 'h' },
	{ 0, 0, 0, 0 },
};

/* Hosts from the target set, in its order. */
static int hosts_from(struct diag *d, const struct target_set *ts)
{
	d->nh = ts_count(ts);
	d->h = calloc(d->nh ? d->nh : 1, sizeof(*d->h));
	if (!d->h)
		return -1;
	for (size_t i = 0; i < d->nh; i++) {
		const struct target *t = ts_get(ts, i);
		struct dhost *h = &d->h[i];
		snprintf(h->ip, sizeof(h->ip), "%.63s", t->host);
		h->port = t->port ? t->port : d->port;
		snprintf(h->name, sizeof(h->name), "%s", t->sni);
		h->mode = engine_mode_for_port(h->port, d->ec.mode);
		jr_init(&h->r.doc);
		jr_init(&h->r2.doc);
	}
	return 0;
}

static void rec_free(struct rec *r)
{
	jr_free(&r->doc);
	free(r->line);
}

int diagnose_main(int argc, char **argv)
{
	struct diag d;
	const char *allow[64], *blockfile = NULL, *ca_file = NULL, *records = NULL;
	unsigned nallow = 0;
	char err[512], ehlo[256];
	int rc = DIAG_EXIT_USAGE, opt;
	struct blocklist *bl = NULL;
	struct verify_roots *roots = NULL;
	struct target_set *targets = NULL, *named = NULL;
	struct mx_domain *dom = NULL;
	struct mx_store *store = NULL;
	struct capture *cap = NULL;
	const char *cap_iface = NULL;
	struct domain_map dmap;
	int dmap_used = 0;
	memset(&d, 0, sizeof(d));
	memset(&dmap, 0, sizeof(dmap));
	conn_config_defaults(&d.ec.conn);
	d.ec.conn.banner_ms = 10000;
	d.ec.mode = MODE_AUTO;
	d.ec.enum_mode = ENUM_FULL;
	d.ec.handshake = 1;
	d.ec.transcript = 1;
	d.ec.threads = 1;
	d.ec.concurrency = 32;
	d.ec.scan_id = "diagnose";
	d.port = 25;
	cli_default_ehlo(ehlo, sizeof(ehlo));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:h", diag_opts, NULL)) != -1) {
		switch (opt) {
		case DO_JSON: d.json = 1; break;
		case DO_RECORDS: records = optarg; break;
		case 'p': {
			unsigned long v;
			if (cli_uint("mxscan diagnose", optarg, 1, 65535, &v, "--port") < 0)
				return DIAG_EXIT_USAGE;
			d.port = (uint16_t)v;
			break;
		}
		case DO_MODE:
			if (cli_mode("mxscan diagnose", optarg, &d.ec.mode) < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_CA_FILE: ca_file = optarg; break;
		case DO_RESOLVER:
			/* the limit is checked first, as before; a bad value exits anyway */
			if (cli_list_add("mxscan diagnose", d.resolvers, &d.nres, 16, optarg, "--resolver options") <
				    0 ||
			    cli_resolver("mxscan diagnose", optarg) < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_BLOCKLIST: blockfile = optarg; break;
		case DO_ALLOWLIST:
			if (cli_list_add("mxscan diagnose", allow, &nallow, 64, optarg,
					 "--allowlist options (use a file)") < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_EHLO:
			if (cli_ehlo("mxscan diagnose", optarg, ehlo, sizeof(ehlo)) < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_CONNECT_TIMEOUT:
			if (cli_secs("mxscan diagnose", optarg, &d.ec.conn.connect_ms, "--connect-timeout") < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_BANNER_TIMEOUT:
			if (cli_secs("mxscan diagnose", optarg, &d.ec.conn.banner_ms, "--banner-timeout") < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_TIMEOUT:
			if (cli_secs("mxscan diagnose", optarg, &d.ec.conn.command_ms, "--timeout") < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_TLS_TIMEOUT:
			if (cli_secs("mxscan diagnose", optarg, &d.ec.conn.tls_ms, "--tls-timeout") < 0)
				return DIAG_EXIT_USAGE;
			break;
		case DO_CAPTURE: cap_iface = optarg; break;
		case 'h': fputs(diag_usage, stdout); return DIAG_EXIT_HEALTHY;
		default: fprintf(stderr, "Try 'mxscan diagnose --help'.\n"); return DIAG_EXIT_USAGE;
		}
	}
	if (records) {
		if (optind != argc) {
			fprintf(stderr, "mxscan diagnose: --records takes no target\n");
			return DIAG_EXIT_USAGE;
		}
		d.input = records;
		snprintf(d.kind, sizeof(d.kind), "host records of an earlier scan");
		if (records_file(&d, records, err, sizeof(err)) < 0) {
			fprintf(stderr, "mxscan diagnose: --records %s\n", err);
			goto out;
		}
		goto verdicts;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "mxscan diagnose: give exactly one domain or host (see mxscan diagnose --help)\n");
		return DIAG_EXIT_USAGE;
	}
	d.input = argv[optind];
	d.ec.conn.ehlo_name = ehlo;

	roots = verify_roots_load(ca_file, err, sizeof(err));
	if (!roots && ca_file) {
		fprintf(stderr, "mxscan diagnose: --ca-file %s: %s\n", ca_file, err);
		goto out;
	}
	if (!roots)
		fprintf(stderr, "mxscan diagnose: certificate verification disabled: %s\n", err);
	d.ec.roots = roots;
	bl = bl_build(blockfile, allow, nallow, NULL, 0, err, sizeof(err));
	if (!bl) {
		fprintf(stderr, "mxscan diagnose: %s\n", err);
		goto out;
	}
	d.ec.bl = bl;
	d.resolvers[d.nres] = NULL;
	const char *const *servers = d.nres ? d.resolvers : NULL;

	struct target t;
	if (target_parse_line(d.input, strlen(d.input), &t, err, sizeof(err)) != 1) {
		fprintf(stderr, "mxscan diagnose: '%s': %s\n", d.input, err);
		goto out;
	}
	if (cap_iface) {
		/* --capture: the packets of each host's first connection, to tell a reset
		 * injected on the path from the server's own (the verdict lands in the
		 * records' capture object, read by the cause table). */
		uint16_t cport = t.port ? t.port : d.port;
		struct capture_opts co = {
			.iface = cap_iface,
			.ports = &cport,
			.nports = 1,
			.max_flows = d.ec.concurrency + d.ec.threads,
		};
		int perm = 0;
		cap = capture_open(&co, &perm, err, sizeof(err));
		if (!cap || capture_start(cap, err, sizeof(err)) < 0) {
			fprintf(stderr, "mxscan diagnose: %s\n", err);
			goto out;
		}
		d.ec.cap = cap;
		d.ec.cap_grace_ms = CAPTURE_GRACE_MS;
	}
	targets = ts_new();
	if (!targets)
		goto out;
	if (t.has_addr) {
		snprintf(d.kind, sizeof(d.kind), "address");
		const char *why;
		if (!bl_check(bl, (const struct sockaddr *)&t.addr, &why)) {
			fprintf(stderr, "mxscan diagnose: %s is not scanned: %s (see --allowlist)\n", t.host, why);
			goto out;
		}
		ts_add(targets, &t);
	} else if (t.port) {
		/* NAME:PORT is one host: its A/AAAA, the name as SNI */
		snprintf(d.kind, sizeof(d.kind), "host");
		named = ts_new();
		struct resolve_stats rst;
		if (!named || ts_add(named, &t) < 0 ||
		    resolve_targets(named, servers, 5000, 2, AF_UNSPEC, targets, stderr, &rst, NULL, NULL) < 0) {
			fprintf(stderr, "mxscan diagnose: name resolution could not start (check --resolver)\n");
			goto out;
		}
		if (ts_count(targets) == 0)
			snprintf(d.dns_problem, sizeof(d.dns_problem), "%s has no A/AAAA record", t.host);
	} else {
		/* a mail domain: MX, or the name itself (implicit MX) */
		dom = calloc(1, sizeof(*dom));
		store = mx_store_new();
		uint16_t p = d.port;
		if (!dom || !store)
			goto out;
		dom->domain = mx_store_str(store, t.host, strlen(t.host));
		if (!dom->domain)
			goto out;
		struct mx_stats mst;
		if (mx_resolve(store, dom, 1, servers, 0, 0, 0, AF_UNSPEC, &mst, stderr) < 0) {
			fprintf(stderr, "mxscan diagnose: MX resolution could not start (check --resolver)\n");
			goto out;
		}
		d.mx_status = mx_status_name(dom->status);
		d.implicit_mx = dom->implicit_mx;
		snprintf(d.kind, sizeof(d.kind), "%s",
			 dom->implicit_mx ? "host without MX (implicit MX)" : "mail domain");
		unsigned long blocked = 0;
		dmap_used = 1;
		/* domains_build reserves meta for every target it adds; no summaries:
		 * diagnose writes no domain records */
		if (domains_build(&dmap, dom, &p, 1, targets, bl, &blocked, stderr) < 0)
			goto out;
		d.ec.meta = dmap.meta;
		if (dom->status == MXS_NULL_MX)
			snprintf(d.dns_problem, sizeof(d.dns_problem),
				 "%s has a null MX (\"0 .\", RFC 7505): it accepts no mail", t.host);
		else if (dom->status != MXS_OK && !dom->implicit_mx)
			snprintf(d.dns_problem, sizeof(d.dns_problem), "the MX query for %s: %s%s", t.host,
				 mx_status_name(dom->status),
				 dom->status == MXS_NODATA ? ", and the name has no address either" : "");
		else if (ts_count(targets) == 0 && !blocked)
			snprintf(d.dns_problem, sizeof(d.dns_problem), "no MX host of %s has an address", t.host);
	}
	if (hosts_from(&d, targets) < 0)
		goto out;
	/* MX -> hosts, for the output */
	if (dom) {
		size_t tot = 0;
		for (int m = 0; m < dom->nmx; m++)
			tot += dom->mx[m].host ? (size_t)dom->mx[m].host->naddr : 0;
		d.mx_hosts = calloc(tot ? tot : 1, sizeof(size_t));
		if (!d.mx_hosts)
			goto out;
		size_t k = 0, hk = 0;
		d.nmx = dom->nmx;
		for (int m = 0; m < dom->nmx; m++) {
			struct dmx *x = &d.mx[m];
			const struct mx_host *mh = dom->mx[m].host;
			snprintf(x->name, sizeof(x->name), "%s", mx_ref_name(&dom->mx[m]));
			x->pref = dom->mx[m].pref;
			x->addr_status = mx_status_name(mh ? mh->addr_status : MXS_NODATA);
			x->first = k;
			for (uint32_t a = 0; mh && a < mh->naddr && hk < dmap.hoff[1] - dmap.hoff[0]; a++, hk++) {
				uint32_t idx = dmap.hosts[dmap.hoff[0] + hk];
				if (idx != UINT32_MAX)
					d.mx_hosts[k++] = idx;
				else
					x->blocked++;
			}
			x->n = k - x->first;
		}
	}
	if (d.nh) {
		struct attach a = { .d = &d };
		if (scan_records(&d.ec, targets, attach_line, &a, err, sizeof(err)) < 0) {
			fprintf(stderr, "mxscan diagnose: %s\n", err);
			goto out;
		}
		/* port/mode mismatch: the other mode, for the hosts that answered
		 * the characteristic way */
		size_t again = 0;
		for (size_t i = 0; i < d.nh; i++) {
			struct dhost *h = &d.h[i];
			if (h->r.v && wants_other_mode(h->r.v, h->mode)) {
				h->rescan = 1;
				again++;
			}
		}
		if (again) {
			struct engine_config ec2 = d.ec;
			/* one mode per run: the hosts that want STARTTLS, then implicit */
			for (int want = MODE_STARTTLS; want <= MODE_IMPLICIT; want++) {
				struct target_set *sub = ts_new();
				for (size_t i = 0; sub && i < d.nh; i++)
					if (d.h[i].rescan && d.h[i].mode != want)
						ts_add(sub, ts_get(targets, i));
				if (sub && ts_count(sub)) {
					ec2.mode = want;
					ec2.meta = NULL;
					struct attach a2 = { .d = &d, .second = 1 };
					scan_records(&ec2, sub, attach_line, &a2, err, sizeof(err));
				}
				ts_free(sub);
			}
		}
	}
verdicts:;
	int healthy = 0, scanned = 0;
	for (size_t i = 0; i < d.nh; i++) {
		analyse_host(&d.h[i]);
		if (d.h[i].verdict == DV_UNKNOWN)
			continue;
		scanned++;
		healthy += d.h[i].verdict == DV_HEALTHY;
	}
	int usable = 0;
	for (size_t i = 0; i < d.nh; i++)
		usable += d.h[i].verdict != DV_UNKNOWN && d.h[i].prof[PF_OPENSSL3].ok;
	unsigned blocked = 0;
	for (int m = 0; m < d.nmx; m++)
		blocked += d.mx[m].blocked;
	if (!d.dns_problem[0] && !scanned && blocked)
		d.verdict = DV_UNKNOWN;
	else if (d.dns_problem[0] || !scanned)
		d.verdict = DV_BROKEN;
	else if (healthy == scanned)
		d.verdict = DV_HEALTHY;
	else if (usable)
		d.verdict = DV_DEGRADED;
	else
		d.verdict = DV_BROKEN;
	if (d.json)
		print_json(&d, stdout);
	else
		print_text(&d, stdout);
	rc = exit_of(d.verdict);
out:
	for (size_t i = 0; i < d.nh; i++) {
		rec_free(&d.h[i].r);
		rec_free(&d.h[i].r2);
	}
	free(d.h);
	free(d.mx_hosts);
	ts_free(targets);
	ts_free(named);
	if (dmap_used)
		domains_free(&dmap);
	free(dom);
	mx_store_free(store);
	if (bl)
		bl_free(bl);
	if (cap) {
		capture_stop(cap);
		capture_free(cap);
	}
	verify_roots_free(roots);
	return rc;
}
