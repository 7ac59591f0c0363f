/*
 * test_verify: certificate chain verification (scanner/verify.c) against `openssl verify`.
 *
 * The certificates are made fresh by scripts/certs.sh in a temporary directory (plus a few
 * made here with the openssl CLI: a chain through a CA-less intermediate, a corrupted
 * signature, a leaf issued by a leaf, certificates for the CN fallback). For every chain and
 * host name the verdict (code, depth and text) must be what `openssl verify -CAfile ROOTS
 * -untrusted <the chain's other certificates> -verify_hostname HOST [-attime T] LEAF` prints
 * first: nothing about the expected codes is written here. Then the fields, the flags, the
 * missing-intermediate/unknown-CA split, the isolation of one verification from the next,
 * and the host name rules (RFC 6125) one by one.
 */
#include "tap.h"
#include "runcmd.h"

#include "mxscan/verify.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#define MAXC 12
#define MX   "mx1.example.test"

static char dir[64];
static char srcdir[4096];

struct chain {
	size_t n;
	uint8_t *der[MAXC];
	size_t len[MAXC];
	char *pem[MAXC]; /* the PEM block of each certificate, for openssl */
};

static void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->der[i]);
		free(c->pem[i]);
	}
	memset(c, 0, sizeof(*c));
}

static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	if (!f)
		return NULL;
	buf = malloc(1 << 20);
	if (buf)
		len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	if (buf)
		buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

/* Every CERTIFICATE block of a PEM file, in order. 0 or -1. */
static int chain_load(const char *path, struct chain *c)
{
	static const char b[] = "-----BEGIN CERTIFICATE-----", e[] = "-----END CERTIFICATE-----";
	char *text = slurp(path, NULL);
	memset(c, 0, sizeof(*c));
	if (!text)
		return -1;
	for (char *p = text; (p = strstr(p, b)) && c->n < MAXC;) {
		char *q = strstr(p, e);
		if (!q)
			break;
		size_t blen = (size_t)(q - p) + sizeof e - 1;
		c->pem[c->n] = strndup(p, blen);
		c->der[c->n] = malloc(blen);
		int dlen = wc_CertPemToDer((const unsigned char *)p, (int)blen, c->der[c->n], (int)blen, CERT_TYPE);
		c->len[c->n] = dlen > 0 ? (size_t)dlen : 0;
		c->n++;
		p = q + sizeof e - 1;
	}
	free(text);
	return c->n ? 0 : -1;
}

static int write_file(const char *path, const char *a, const char *b)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(a, f);
	fputs("\n", f);
	if (b)
		fputs(b, f);
	return fclose(f);
}

struct oracle {
	int code, depth;
	char text[128];
};

/* What `openssl verify` prints first for chain c: 0 (OK) or the first "error N at D depth
 * lookup: TEXT". -1 when its output cannot be read. */
static int openssl_verify(const char *ca, const struct chain *c, const char *host, time_t attime, struct oracle *o)
{
	char leaf[128], unt[128], cmd[1024], line[512], untarg[160] = "", hostarg[300] = "", atarg[64] = "";
	char *rest = NULL;
	size_t restlen = 0;
	FILE *p;
	int found = -1;
	memset(o, 0, sizeof(*o));
	snprintf(leaf, sizeof leaf, "%s/.leaf.pem", dir);
	snprintf(unt, sizeof unt, "%s/.untrusted.pem", dir);
	for (size_t i = 1; i < c->n; i++)
		restlen += strlen(c->pem[i]) + 1;
	rest = calloc(1, restlen + 1);
	for (size_t i = 1; i < c->n; i++) {
		strcat(rest, c->pem[i]);
		strcat(rest, "\n");
	}
	write_file(leaf, c->pem[0], NULL);
	if (c->n > 1) {
		write_file(unt, rest, NULL);
		snprintf(untarg, sizeof untarg, "-untrusted %s", unt);
	}
	free(rest);
	if (host)
		snprintf(hostarg, sizeof hostarg, "-verify_hostname %s", host);
	if (attime)
		snprintf(atarg, sizeof atarg, "-attime %lld", (long long)attime);
	snprintf(cmd, sizeof cmd, "openssl verify -CAfile %s %s %s %s %s 2>&1", ca, untarg, hostarg, atarg, leaf);
	if (!(p = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof line, p)) {
		int code, depth, off = 0;
		line[strcspn(line, "\n")] = 0;
		if (found < 0 && sscanf(line, "error %d at %d depth lookup: %n", &code, &depth, &off) == 2 && off) {
			o->code = code;
			o->depth = depth;
			snprintf(o->text, sizeof o->text, "%s", line + off);
			found = 0;
		}
		size_t l = strlen(line);
		if (found < 0 && l >= 4 && strcmp(line + l - 4, ": OK") == 0) {
			o->code = 0;
			o->depth = -1;
			snprintf(o->text, sizeof o->text, "ok");
			found = 0;
		}
	}
	pclose(p);
	return found < 0 ? -1 : o->code;
}

static void do_verify(const struct verify_roots *roots, const struct chain *c, const char *host, const char *domain,
		      time_t now, struct verify_result *r)
{
	int rc = verify_chain(roots, (const uint8_t *const *)c->der, c->len, c->n, host, domain, now, r);
	if (rc != 0)
		diag("verify_chain returned %d", rc);
}

/* Verify chain file `name` against roots and compare with openssl. Returns our code. */
static int compare(const struct verify_roots *roots, const char *ca, const char *name, const char *host, time_t at,
		   struct verify_result *r)
{
	char path[256];
	struct chain c;
	struct oracle o;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (chain_load(path, &c) < 0) {
		ok(0, "%s: chain file readable", name);
		return -1;
	}
	do_verify(roots, &c, host, NULL, at, r);
	int oc = openssl_verify(ca, &c, host, at, &o);
	if (oc < 0) {
		ok(0, "%s host %s: openssl verify output readable", name, host ? host : "-");
	} else {
		char label[200];
		snprintf(label, sizeof label, "%s, host %s%s: code %d depth %d \"%s\" (openssl: %d at %d, \"%s\")",
			 name, host ? host : "-", at ? ", -attime" : "", r->code, r->depth, r->text, o.code, o.depth,
			 o.text);
		ok(r->code == o.code && r->depth == o.depth && strcmp(r->text, o.text) == 0, "%s", label);
	}
	chain_free(&c);
	return r->code;
}

/* The first line of `cmd`'s output after `prefix`, into out. */
static int first_line(const char *cmd, const char *prefix, char *out, size_t outlen)
{
	char line[512];
	FILE *p = popen(cmd, "r");
	int rc = -1;
	if (!p)
		return -1;
	while (fgets(line, sizeof line, p)) {
		if (rc < 0 && strncmp(line, prefix, strlen(prefix)) == 0) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, outlen, "%s", line + strlen(prefix));
			rc = 0;
		}
	}
	pclose(p);
	return rc;
}

static void test_variants(const struct verify_roots *roots, const char *ca)
{
	char path[256], line[512];
	snprintf(path, sizeof path, "%s/variants.txt", dir);
	FILE *f = fopen(path, "r");
	int nvar = 0;
	if (!ok(f != NULL, "variants.txt written by certs.sh"))
		return;
	while (fgets(line, sizeof line, f)) {
		char name[64], file[96];
		int code;
		struct verify_result *r = malloc(sizeof(*r));
		if (line[0] == '#' || sscanf(line, "%63s %d", name, &code) != 2) {
			free(r);
			continue;
		}
		nvar++;
		snprintf(file, sizeof file, "%s.chain.pem", name);
		int got = compare(roots, ca, file, MX, 0, r);
		is_int(got, code, "%s: same code as certs.sh recorded in variants.txt", name);
		compare(roots, ca, file, "other.invalid", 0, r);
		compare(roots, ca, file, NULL, 0, r);
		free(r);
	}
	fclose(f);
	is_int(nvar, 9, "nine variants");
}

static void test_fields(const struct verify_roots *roots)
{
	char path[256], cmd[512], want[256];
	struct chain c;
	struct verify_result *r = malloc(sizeof(*r));

	snprintf(path, sizeof path, "%s/valid.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, "example.test", 0, r);
	is_int(r->code, 0, "valid: ok");
	is_int(r->n_certs, 2, "valid: two certificates described");
	is_int(r->path_len, 2, "valid: path is leaf + intermediate");
	const struct verify_cert *l = &r->cert[0], *i = &r->cert[1];
	ok(l->parsed && i->parsed, "valid: both parsed");
	is_str(l->subject, "/CN=mx1.example.test/O=mxscan test", "leaf subject one-line");
	is_str(l->issuer, "/CN=mxscan Test Intermediate CA/O=mxscan test", "leaf issuer one-line");
	is_str(r->anchor, "/O=mxscan test/CN=mxscan Test Root CA", "anchor is the test root");
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -sha256 -in %s/valid.crt", dir);
	if (first_line(cmd, "sha256 Fingerprint=", want, sizeof want) == 0) {
		char norm[80];
		size_t k = 0;
		for (const char *p = want; *p && k + 1 < sizeof norm; p++)
			if (*p != ':')
				norm[k++] = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
		norm[k] = 0;
		is_str(l->sha256, norm, "leaf sha256 as openssl's fingerprint");
	}
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -serial -in %s/valid.crt", dir);
	if (first_line(cmd, "serial=", want, sizeof want) == 0)
		is_str(l->serial, want, "leaf serial as openssl prints it");
	snprintf(cmd, sizeof cmd, "openssl x509 -noout -enddate -dateopt iso_8601 -in %s/valid.crt", dir);
	if (first_line(cmd, "notAfter=", want, sizeof want) == 0) {
		char *sp = strchr(want, ' ');
		if (sp)
			*sp = 'T';
		is_str(l->not_after, want, "leaf notAfter ISO 8601 as openssl's");
	}
	is_int(l->not_after_t - l->not_before_t, 3650 * 86400, "leaf valid 3650 days (-days 3650)");
	is_str(verify_key_type_name(l->key_type), "rsa", "leaf key rsa");
	is_int(l->key_bits, 2048, "leaf key 2048 bits");
	is_str(l->sig_alg, "sha256WithRSAEncryption", "leaf signature algorithm");
	ok(!l->is_ca && i->is_ca, "leaf is no CA, intermediate is");
	ok(!l->self_signed && !i->self_signed, "neither is self-signed");
	is_int(l->san_total, 7, "leaf has 7 SANs (certs.sh default names)");
	is_int(l->n_san, 7, "all 7 kept");
	is_str(l->san[0].name, "mx1.example.test", "first SAN");
	ok(!l->san[0].ip, "first SAN is DNS");
	is_str(l->san[6].name, "127.0.0.1", "last SAN is the IP");
	ok(l->san[6].ip, "last SAN is an IP SAN");
	ok(r->name_match_mx, "name_match_mx");
	ok(r->name_match_domain, "name_match_domain (example.test is a SAN)");
	ok(r->chain_complete && r->issuer_known, "chain complete, issuer known");
	ok(!r->missing_intermediate && !r->unknown_ca, "nothing missing, no unknown CA");
	ok(!r->rsa_under_2048 && !r->sha1_signature, "no weak key, no weak signature");
	is_int(r->validity_days, 3650, "validity_days");
	ok(r->long_validity, "3650 days > 398: long_validity");
	ok(!r->expires_within_30_days, "not expiring soon");

	/* Ten days before the leaf expires: ok for both, and flagged. */
	time_t at = l->not_after_t - 10 * 86400;
	struct oracle o;
	char ca[256];
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	do_verify(roots, &c, MX, NULL, at, r);
	is_int(r->code, 0, "ten days before expiry: ok");
	openssl_verify(ca, &c, MX, at, &o);
	is_int(o.code, 0, "openssl -attime agrees it is ok");
	ok(r->expires_within_30_days, "ten days before expiry: expires_within_30_days");
	is_int(r->checked_at, at, "checked_at is the explicit time");
	chain_free(&c);

	snprintf(path, sizeof path, "%s/ecdsa-p256.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, NULL, 0, r);
	is_str(verify_key_type_name(r->cert[0].key_type), "ec", "ecdsa-p256: key ec");
	is_int(r->cert[0].key_bits, 256, "ecdsa-p256: 256 bits");
	is_str(r->cert[0].curve, "prime256v1", "ecdsa-p256: curve prime256v1");
	ok(!r->rsa_under_2048, "ecdsa-p256: no RSA flag");
	chain_free(&c);

	snprintf(path, sizeof path, "%s/rsa1024-sha1.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, NULL, 0, r);
	is_int(r->code, 0, "rsa1024-sha1: ok (plain openssl verify has no security level)");
	is_int(r->cert[0].key_bits, 1024, "rsa1024-sha1: 1024 bits");
	is_str(r->cert[0].sig_alg, "sha1WithRSAEncryption", "rsa1024-sha1: sha1WithRSAEncryption");
	ok(r->rsa_under_2048, "rsa1024-sha1: rsa_under_2048");
	ok(r->sha1_signature, "rsa1024-sha1: sha1_signature");
	chain_free(&c);

	snprintf(path, sizeof path, "%s/expired.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, NULL, 0, r);
	is_int(r->validity_days, 366, "expired: 2020-01-01..2021-01-01 is 366 days");
	ok(!r->long_validity, "expired: not long_validity");
	ok(!r->expires_within_30_days, "expired: already expired is not 'expires within 30 days'");
	is_str(r->cert[0].not_before, "2020-01-01T00:00:00Z", "expired: not_before");
	chain_free(&c);

	snprintf(path, sizeof path, "%s/self-signed.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, NULL, 0, r);
	ok(r->cert[0].self_signed, "self-signed: flagged self_signed");
	ok(!r->missing_intermediate && !r->unknown_ca && !r->chain_complete,
	   "self-signed: neither missing nor unknown CA");
	chain_free(&c);

	snprintf(path, sizeof path, "%s/missing-intermediate.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, NULL, 0, r);
	ok(r->missing_intermediate, "missing-intermediate: missing_intermediate");
	ok(!r->unknown_ca && !r->issuer_known && !r->chain_complete,
	   "missing-intermediate: not unknown CA, issuer unknown");
	ok(r->name_match_mx, "missing-intermediate: the name still matches");
	chain_free(&c);

	snprintf(path, sizeof path, "%s/untrusted-ca.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, NULL, 0, r);
	ok(!r->missing_intermediate && r->unknown_ca, "untrusted-ca: unknown_ca, not missing_intermediate");
	is_int(r->path_len, 2, "untrusted-ca: path leaf + untrusted intermediate");
	chain_free(&c);

	snprintf(path, sizeof path, "%s/wrong-name.chain.pem", dir);
	chain_load(path, &c);
	do_verify(roots, &c, MX, "example.test", 0, r);
	ok(!r->name_match_mx && !r->name_match_domain, "wrong-name: neither name matches");
	ok(r->chain_complete, "wrong-name: chain complete all the same");
	chain_free(&c);
	free(r);
}

/* Extra chains and times, each compared with openssl. */
static void test_extra(const struct verify_roots *roots, const char *ca)
{
	struct verify_result *r = malloc(sizeof(*r));
	char path[256];
	struct chain c;

	run("cd %s && cat valid.chain.pem ca.pem > with-root.chain.pem && "
	    "cat untrusted-ca.chain.pem untrusted-root.pem > untrusted-root.chain.pem && "
	    "cat valid.crt ca.pem intermediate.pem > out-of-order.chain.pem && "
	    "cat valid.crt untrusted-root.pem > wrong-intermediate.chain.pem",
	    dir);
	compare(roots, ca, "out-of-order.chain.pem", MX, 0, r);
	is_int(r->path_len, 2, "out-of-order: the intermediate is found after the root");
	compare(roots, ca, "wrong-intermediate.chain.pem", MX, 0, r);
	ok(r->missing_intermediate && !r->unknown_ca, "wrong intermediate sent: missing_intermediate");
	compare(roots, ca, "with-root.chain.pem", MX, 0, r);
	is_int(r->path_len, 2, "with-root: the sent root is not needed (trusted first)");
	compare(roots, ca, "untrusted-root.chain.pem", MX, 0, r);
	ok(r->unknown_ca && !r->missing_intermediate, "untrusted root sent: unknown_ca");
	compare(roots, ca, "untrusted-root.chain.pem", "other.invalid", 0, r);

	/* A self-signed leaf that is itself a trust anchor. */
	{
		char sroot[256], err[256];
		snprintf(sroot, sizeof sroot, "%s/self-signed.crt", dir);
		struct verify_roots *sr = verify_roots_load(sroot, err, sizeof err);
		if (ok(sr != NULL, "self-signed leaf as the only root loads")) {
			compare(sr, sroot, "self-signed.chain.pem", MX, 0, r);
			ok(r->chain_complete && r->issuer_known, "trusted self-signed leaf: chain complete");
			compare(sr, sroot, "self-signed.chain.pem", "other.invalid", 0, r);
			compare(sr, sroot, "valid.chain.pem", MX, 0, r);
		}
		verify_roots_free(sr);
	}

	/* A corrupted signature on the leaf (last byte of the DER flipped). */
	snprintf(path, sizeof path, "%s/valid.chain.pem", dir);
	if (chain_load(path, &c) == 0) {
		char der[256];
		snprintf(der, sizeof der, "%s/badsig.der", dir);
		c.der[0][c.len[0] - 1] ^= 0x01;
		FILE *f = fopen(der, "wb");
		fwrite(c.der[0], 1, c.len[0], f);
		fclose(f);
		chain_free(&c);
		run("cd %s && openssl x509 -inform DER -in badsig.der -out badsig.pem && "
		    "cat badsig.pem intermediate.pem > badsig.chain.pem",
		    dir);
		compare(roots, ca, "badsig.chain.pem", MX, 0, r);
		ok(r->wolf_err != 0, "badsig: wolfSSL's error kept (%d)", r->wolf_err);
		compare(roots, ca, "badsig.chain.pem", "other.invalid", 0, r);
	}

	/* A leaf issued by a leaf (keyUsage without keyCertSign: not an issuer for OpenSSL). */
	run("cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout .sub.key "
	    "-subj /CN=mx1.example.test -out .sub.csr 2>/dev/null && "
	    "printf 'subjectAltName=DNS:mx1.example.test\\n' > .sub.ext && "
	    "openssl x509 -req -in .sub.csr -CA valid.crt -CAkey valid.key -set_serial 7 -days 30 "
	    "-extfile .sub.ext -out .sub.crt 2>/dev/null && cat .sub.crt valid.chain.pem > leaf-issued.chain.pem",
	    dir);
	compare(roots, ca, "leaf-issued.chain.pem", MX, 0, r);
	compare(roots, ca, "leaf-issued.chain.pem", "other.invalid", 0, r);

	/* A private PKI whose intermediate has keyCertSign but basicConstraints CA:FALSE. */
	run("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout .p-root.key "
	    "-subj '/CN=P Root' -days 3650 -addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign -out p-root.pem 2>/dev/null && "
	    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout .p-int.key "
	    "-subj '/CN=P Int' -out .p-int.csr 2>/dev/null && "
	    "printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,keyCertSign,digitalSignature\\n"
	    "subjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n' > .p-int.ext && "
	    "openssl x509 -req -in .p-int.csr -CA p-root.pem -CAkey .p-root.key -set_serial 2 -days 3000 "
	    "-extfile .p-int.ext -out .p-int.crt 2>/dev/null && "
	    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout .p-leaf.key "
	    "-subj /CN=mx1.example.test -out .p-leaf.csr 2>/dev/null && "
	    "printf 'subjectAltName=DNS:mx1.example.test\\nauthorityKeyIdentifier=keyid\\n' > .p-leaf.ext && "
	    "openssl x509 -req -in .p-leaf.csr -CA .p-int.crt -CAkey .p-int.key -set_serial 3 -days 300 "
	    "-extfile .p-leaf.ext -out .p-leaf.crt 2>/dev/null && cat .p-leaf.crt .p-int.crt > p-nonca.chain.pem",
	    dir);
	{
		char proot[256], err[256];
		snprintf(proot, sizeof proot, "%s/p-root.pem", dir);
		struct verify_roots *pr = verify_roots_load(proot, err, sizeof err);
		if (ok(pr != NULL, "private root loads (%s)", pr ? "ok" : err)) {
			compare(pr, proot, "p-nonca.chain.pem", MX, 0, r);
			compare(pr, proot, "p-nonca.chain.pem", "other.invalid", 0, r);
		}
		verify_roots_free(pr);
	}

	/* Explicit times (openssl -attime): before the intermediate existed; after the leaf, then
	 * also the intermediate, then also the root expired (the first error is the top one). */
	const time_t times[] = { 1590969600 /* 2020-06-01 */, time(NULL) + 11 * 365 * 86400LL,
				 time(NULL) + 16 * 365 * 86400LL, time(NULL) + 21 * 365 * 86400LL };
	for (size_t k = 0; k < sizeof times / sizeof times[0]; k++) {
		compare(roots, ca, "valid.chain.pem", MX, times[k], r);
		compare(roots, ca, "expired.chain.pem", MX, times[k], r);
		compare(roots, ca, "expired.chain.pem", "other.invalid", times[k], r);
		compare(roots, ca, "not-yet-valid.chain.pem", MX, times[k], r);
	}
	free(r);
}

/* Other key types, and the one-line names against `openssl x509 -nameopt compat`. */
static void test_key_types(const struct verify_roots *roots)
{
	static const struct {
		const char *file, *newkey, *subj;
		const char *type, *curve, *sig;
		unsigned bits;
	} certs[] = {
		{ "k-ed25519", "-newkey ed25519",
		  "/CN=ed.example.test/O=T\xc3\xa9st/OU=unit+UID=u1/emailAddress=x@y.test/DC=example", "ed25519", "",
		  "ED25519", 253 },
		{ "k-p384", "-newkey ec -pkeyopt ec_paramgen_curve:P-384", "/CN=p384.example.test", "ec", "secp384r1",
		  "ecdsa-with-SHA256", 384 },
		{ "k-rsa3072", "-newkey rsa:3072 -sha384", "/C=DE/ST=Berlin/L=Berlin/O=Ex/CN=rsa.example.test", "rsa",
		  "", "sha384WithRSAEncryption", 3072 },
	};
	struct verify_result *r = malloc(sizeof(*r));
	for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++) {
		char path[256], cmd[512], want[512];
		struct chain c;
		run("cd %s && openssl req -x509 -utf8 -multivalue-rdn %s -nodes -keyout .%s.key -subj '%s' -days 30 "
		    "-out %s.pem 2>/dev/null",
		    dir, certs[i].newkey, certs[i].file, certs[i].subj, certs[i].file);
		snprintf(path, sizeof path, "%s/%s.pem", dir, certs[i].file);
		if (chain_load(path, &c) < 0) {
			ok(0, "%s made", certs[i].file);
			continue;
		}
		do_verify(roots, &c, MX, NULL, 0, r);
		const struct verify_cert *v = &r->cert[0];
		is_str(verify_key_type_name(v->key_type), certs[i].type, "%s: key type", certs[i].file);
		is_int(v->key_bits, certs[i].bits, "%s: key bits", certs[i].file);
		is_str(v->curve, certs[i].curve, "%s: curve", certs[i].file);
		is_str(v->sig_alg, certs[i].sig, "%s: signature algorithm", certs[i].file);
		ok(v->self_signed && r->code == 18, "%s: self-signed, code 18", certs[i].file);
		snprintf(cmd, sizeof cmd, "openssl x509 -noout -subject -nameopt compat -in %s", path);
		if (first_line(cmd, "subject=", want, sizeof want) == 0)
			is_str(v->subject, want, "%s: subject as openssl -nameopt compat", certs[i].file);
		chain_free(&c);
	}
	free(r);
}

/* One verification must not leave an intermediate behind for the next (RECIPES §1.5 #1). */
static void test_isolation(const struct verify_roots *roots)
{
	struct chain v, m;
	char p1[256], p2[256];
	struct verify_result *r = malloc(sizeof(*r));
	snprintf(p1, sizeof p1, "%s/valid.chain.pem", dir);
	snprintf(p2, sizeof p2, "%s/missing-intermediate.chain.pem", dir);
	chain_load(p1, &v);
	chain_load(p2, &m);
	for (int round = 0; round < 3; round++) {
		do_verify(roots, &v, MX, NULL, 0, r);
		is_int(r->code, 0, "round %d: leaf + intermediate: ok", round);
		do_verify(roots, &m, MX, NULL, 0, r);
		is_int(r->code, 20, "round %d: then the leaf alone, same roots: still 20", round);
	}
	chain_free(&v);
	chain_free(&m);
	free(r);
}

static void test_names(void)
{
#define NM(p, n) verify_name_match((p), strlen(p), (n))
	ok(NM("mx1.example.test", "mx1.example.test"), "exact");
	ok(!NM("mx1.example.test", "mx2.example.test"), "exact: other name");
	ok(!NM("mx1.example.test", "example.test"), "exact: parent");
	ok(NM("*.example.test", "mx1.example.test"), "wildcard left-most label");
	ok(!NM("*.example.test", "a.mx1.example.test"), "wildcard does not cover two labels");
	ok(!NM("*.example.test", "example.test"), "wildcard does not match the bare domain");
	ok(!NM("*.example.test", ".example.test"), "wildcard does not match an empty label");
	ok(!NM("m*.example.test", "mx1.example.test"), "partial wildcard m* rejected");
	ok(!NM("*1.example.test", "mx1.example.test"), "partial wildcard *1 rejected");
	ok(!NM("mx*1.example.test", "mx1.example.test"), "partial wildcard mx*1 rejected");
	ok(!NM("mx1.*.test", "mx1.example.test"), "wildcard not left-most rejected");
	ok(!NM("*.*.example.test", "a.b.example.test"), "two wildcards rejected");
	ok(!NM("*.test", "example.test"), "wildcard needs two labels after it");
	ok(!NM("*", "test"), "bare * rejected");
	ok(NM("MX1.Example.TEST", "mx1.example.test"), "case-insensitive (pattern)");
	ok(NM("*.EXAMPLE.test", "Mx1.example.TEST"), "case-insensitive (wildcard)");
	ok(NM("mx1.example.test", "mx1.example.test."), "trailing dot of the reference ignored");
	ok(NM("mx1.example.test.", "mx1.example.test"), "trailing dot of the pattern ignored");
	ok(NM("*.example.test", "mx1.example.test."), "wildcard with a trailing-dot reference");
	ok(!NM("mx1.example.test", "mx1.example.test.."), "two trailing dots do not match");
	ok(verify_name_match("mx1.example.test\0.evil", 22, "mx1.example.test") == false, "embedded NUL rejected");
	ok(!NM("b\xc3\xbc"
	       "cher.example.test",
	       "b\xc3\xbc"
	       "cher.example.test"),
	   "U-labels (non-ASCII) match nothing");
	ok(NM("xn--bcher-kva.example.test", "XN--BCHER-KVA.example.test"), "A-labels compared case-insensitively");
	ok(NM("*.example.test", "xn--bcher-kva.example.test"), "whole-label wildcard covers an A-label");
	ok(!NM("", "mx1.example.test"), "empty pattern");
	ok(!NM("mx1.example.test", ""), "empty reference");
	ok(!NM("mx1..test", "mx1..test"), "empty label");
#undef NM
}

/* CN fallback: only when there is no DNS SAN (an IP SAN does not count). Compared with
 * `openssl x509 -checkhost` / -checkip too (no partial wildcards involved). */
static void test_cn_fallback(void)
{
	static const struct {
		const char *file, *san;
	} certs[] = {
		{ "cn-only", NULL },
		{ "cn-dns", "subjectAltName=DNS:other.example.test" },
		{ "cn-ip", "subjectAltName=IP:127.0.0.1" },
	};
	static const struct {
		const char *file, *name;
		int want;
	} cases[] = {
		{ "cn-only", "mx1.example.test", 1 },  { "cn-only", "MX1.example.test.", 1 },
		{ "cn-only", "mx2.example.test", 0 },  { "cn-dns", "mx1.example.test", 0 },
		{ "cn-dns", "other.example.test", 1 }, { "cn-ip", "mx1.example.test", 1 },
		{ "cn-ip", "127.0.0.1", 1 },           { "cn-ip", "127.0.0.2", 0 },
	};
	for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++) {
		char ext[160] = "";
		if (certs[i].san)
			snprintf(ext, sizeof ext, "-addext %s", certs[i].san);
		run("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout .%s.key "
		    "-subj '/O=mxscan test/CN=mx1.example.test' -days 30 %s -out %s.pem 2>/dev/null",
		    dir, certs[i].file, ext, certs[i].file);
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[256], cmd[512], out[256];
		struct chain c;
		snprintf(path, sizeof path, "%s/%s.pem", dir, cases[i].file);
		if (chain_load(path, &c) < 0) {
			ok(0, "%s made", cases[i].file);
			continue;
		}
		int got = verify_cert_host(c.der[0], c.len[0], cases[i].name);
		is_int(got, cases[i].want, "%s vs %s", cases[i].file, cases[i].name);
		size_t nl = strlen(cases[i].name);
		if (cases[i].name[nl - 1] != '.') {
			bool ip = cases[i].name[0] >= '0' && cases[i].name[0] <= '9';
			snprintf(cmd, sizeof cmd, "openssl x509 -noout -%s %s -in %s", ip ? "checkip" : "checkhost",
				 cases[i].name, path);
			if (first_line(cmd, ip ? "IP " : "Hostname ", out, sizeof out) == 0)
				is_int(strstr(out, "does match") != NULL, cases[i].want, "openssl agrees: %s", out);
		}
		chain_free(&c);
	}
	is_int(verify_cert_host((const uint8_t *)"junk", 4, "x.test"), -1, "verify_cert_host: junk does not parse");
}

static void test_bad_input(const struct verify_roots *roots)
{
	struct verify_result *r = malloc(sizeof(*r));
	const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	const uint8_t *der[1] = { junk };
	size_t len[1] = { sizeof junk };
	char err[256];
	is_int(verify_chain(roots, der, len, 1, MX, NULL, 0, r), 0, "junk leaf: returns 0");
	is_int(r->code, 1, "junk leaf: code 1");
	is_str(r->text, "unspecified certificate verification error", "junk leaf: text");
	ok(!r->cert[0].parsed && r->cert[0].sha256[0], "junk leaf: not parsed, but hashed");
	is_int(verify_chain(roots, der, len, 0, MX, NULL, 0, r), -1, "no certificates: -1");
	is_int(verify_chain(NULL, der, len, 1, MX, NULL, 0, r), -1, "no roots: -1");
	struct verify_roots *none = verify_roots_load("/nonexistent/roots.pem", err, sizeof err);
	ok(none == NULL && strstr(err, "/nonexistent/roots.pem"), "missing bundle: NULL and the path in the error (%s)",
	   err);
	is_str(verify_key_type_name(VERIFY_KEY_ED25519), "ed25519", "key type names");
	is_str(verify_code_text(62), "hostname mismatch", "code text 62");
	free(r);
}

static void test_system_bundle(void)
{
	char err[256], path[256];
	struct chain c;
	if (access(VERIFY_DEFAULT_ROOTS, R_OK) != 0) {
		ok(1, "# SKIP no %s", VERIFY_DEFAULT_ROOTS);
		return;
	}
	struct verify_roots *sys = verify_roots_load(NULL, err, sizeof err);
	if (!ok(sys != NULL, "system bundle loads (%s)", sys ? "ok" : err))
		return;
	diag("%zu roots in %s", verify_roots_count(sys), VERIFY_DEFAULT_ROOTS);
	ok(verify_roots_count(sys) > 50, "system bundle has many roots");
	struct verify_result *r = malloc(sizeof(*r));
	snprintf(path, sizeof path, "%s/valid.chain.pem", dir);
	chain_load(path, &c);
	do_verify(sys, &c, MX, NULL, 0, r);
	is_int(r->code, 20, "test chain vs system roots: 20");
	ok(r->unknown_ca && !r->missing_intermediate,
	   "test chain vs system roots: unknown CA, not a missing intermediate");
	chain_free(&c);
	free(r);
	verify_roots_free(sys);
}

int main(void)
{
	char ca[256], err[256];
	const char *datadir = MXSCAN_DATADIR; /* <repo>/datasets */
	snprintf(srcdir, sizeof srcdir, "%s", datadir);
	char *slash = strrchr(srcdir, '/');
	if (slash)
		*slash = 0;
	snprintf(dir, sizeof dir, "/tmp/mxscan-verify-XXXXXX");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (run("%s/scripts/certs.sh %s > /dev/null", srcdir, dir) != 0) {
		printf("Bail out! scripts/certs.sh failed (is openssl installed?)\n");
		return 1;
	}
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	struct verify_roots *roots = verify_roots_load(ca, err, sizeof err);
	if (!roots) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	is_int(verify_roots_count(roots), 1, "ca.pem: one root");

	test_variants(roots, ca);
	test_fields(roots);
	test_extra(roots, ca);
	test_isolation(roots);
	test_key_types(roots);
	test_names();
	test_cn_fallback();
	test_bad_input(roots);
	test_system_bundle();

	verify_roots_free(roots);
	if (!getenv("KEEP_VERIFY_DIR"))
		run("rm -rf %s", dir);
	else
		diag("kept %s", dir);
	return done_testing();
}
