/*
 * fconf: the simulated fleet's configuration (personality files under
 * datasets/fleet/, format documented in datasets/fleet/README.md).
 *
 * A configuration is a set of personalities (how a server behaves: SMTP
 * dialogue, hostile quirks, TLS versions, suites, groups, certificate) plus
 * address assignments (which loopback address answers with which
 * personality on which ports, under which MX names) and DNS data (demo
 * domains, CNAMEs, raw records) used for the zone file and the manifest.
 *
 * Loading is two-step: fconf_load() parses one or more files (later files
 * see the personalities of earlier ones), fconf_finish() resolves suite
 * presets against the suite table, loads certificate chains from the certs
 * directory, builds each personality's tlsresp personality and checks that
 * no address:port is assigned twice. Every error names the file and line.
 */
#ifndef MXFLEET_FCONF_H
#define MXFLEET_FCONF_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/tlsresp.h"

#define FC_NAME_MAX  64
#define FC_TEXT_MAX  256
#define FC_MAX_PORTS 8
#define FC_MAX_EHLO  16
#define FC_MAX_MX    8

/* What the server does with STARTTLS (the EHLO token and the reply to the command). */
enum fc_starttls {
	FC_STARTTLS_OFFERED = 0, /* advertised, 220 then TLS */
	FC_STARTTLS_ABSENT,      /* not advertised, 502 to the command */
	FC_STARTTLS_REFUSE454,   /* advertised, 454 to the command */
	FC_STARTTLS_STRIP,       /* a middlebox: token shown as XXXXXXXA, 500 to the command */
	FC_STARTTLS_ERROR500,    /* advertised, 500 to the command */
	FC_STARTTLS__COUNT
};
const char *fc_starttls_name(enum fc_starttls s);

/* How the greeting is delivered. */
enum fc_banner {
	FC_BANNER_NORMAL = 0, /* banner_lines lines of 220 after banner_delay_ms */
	FC_BANNER_TRICKLE,    /* the normal banner, one byte every trickle_ms */
	FC_BANNER_ENDLESS,    /* "220-" continuation lines forever, one per 10 ms */
	FC_BANNER_HUGE,       /* "220 " then 1 MiB without CRLF */
	FC_BANNER_GARBAGE,    /* random bytes instead of a greeting */
	FC_BANNER_421,        /* 421 at the greeting, then close */
	FC_BANNER_554,        /* 554 at the greeting, 503 to everything but QUIT */
	FC_BANNER_RESET,      /* every connection reset (RST) at once: an RST storm */
	FC_BANNER__COUNT
};
const char *fc_banner_name(enum fc_banner b);

struct fc_personality {
	char name[FC_NAME_MAX];
	/* SMTP */
	char banner[FC_TEXT_MAX]; /* text after "220 "; {name} expands to the host name */
	unsigned banner_delay_ms, banner_lines, trickle_ms;
	unsigned banner_pause_ms;    /* multi-line greeting: pause after its first line */
	unsigned handshake_stall_ms; /* real handshake: hold the server's first flight's end (fleet.c) */
	enum fc_banner banner_mode;
	char ehlo[FC_MAX_EHLO][FC_NAME_MAX]; /* capabilities, without STARTTLS */
	size_t nehlo;
	enum fc_starttls starttls;
	int ehlo_refused, close_after_starttls, plaintext_after_220, never_close;
	unsigned max_concurrent;        /* 0: unlimited */
	unsigned refuse_first;          /* the first K connections to the address get 421 (try later) */
	unsigned rate_n, rate_window_s; /* 0: unlimited */
	unsigned idle_ms, linger_ms, never_close_ms, max_errors;
	/* ports (defaults for assignments) */
	uint16_t ports[FC_MAX_PORTS];
	size_t nports;
	uint16_t implicit_ports[FC_MAX_PORTS];
	size_t nimplicit;
	/* TLS */
	unsigned versions;              /* bit i = tlsresp version index i */
	char *suite_spec[TR_NVERS + 1]; /* per version; [TR_NVERS] = "suites" for all */
	int server_pref;
	uint16_t groups[TR_MAX_GROUPS];
	size_t ngroups;
	enum tr_reject on_reject;
	int fallback_scsv, lying_lengths, real_handshake;
	unsigned dh_bits;       /* DHE prime in hand-built answers: 0/2048 or 1024 */
	char cert[FC_NAME_MAX]; /* certificate variant, "" for none */
	int cert_ecdsa;         /* -1: derive from the variant name */
	/* resolved by fconf_finish() */
	struct tls_personality *tls;
	uint8_t *chain_der;          /* owns the DER bytes tls->cert_der point into */
	int verify_code;             /* expected OpenSSL verify code, -1 unknown */
	char cert_desc[FC_TEXT_MAX]; /* variants.txt description */
	int chain_ok;                /* key + chain files exist for real handshakes */
	const char *file;            /* where it was defined (for messages) */
	int line;
};

struct fc_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t ip[16];
	char ip_str[48];
	size_t pers; /* index into fconf.pers */
	uint16_t ports[FC_MAX_PORTS];
	size_t nports;
	uint16_t implicit_ports[FC_MAX_PORTS];
	size_t nimplicit;
	char **names; /* MX host names of this address */
	size_t nnames;
};

struct fc_mx {
	uint16_t pref;
	char *host; /* "." for a null MX (RFC 7505) */
};

struct fc_domain {
	char *name;
	struct fc_mx mx[FC_MAX_MX];
	size_t nmx;
};

struct fc_record { /* cname and raw "record" lines */
	char *name, *type, *data;
};

struct fconf {
	struct fc_personality *pers;
	size_t npers, cpers;
	struct fc_addr *addrs;
	size_t naddrs, caddrs;
	struct fc_domain *domains;
	size_t ndomains, cdomains;
	struct fc_record *records;
	size_t nrecords, crecords;
	char **files; /* names of the files read */
	size_t nfiles, cfiles;
	int depth; /* include nesting */
};

/* Parse a configuration file into c (zero-initialise c before the first call).
 * Returns 0, or -1 after printing "FILE:LINE: problem" to stderr. */
int fconf_load(struct fconf *c, const char *path);

/* Resolve suites, load certificates from certs_dir (may be NULL: no
 * certificates, no real handshakes) and validate. 0 or -1 (message printed). */
int fconf_finish(struct fconf *c, const char *certs_dir);

void fconf_free(struct fconf *c);

/* 1 when port is an implicit-TLS port of address a. */
int fconf_is_implicit(const struct fc_addr *a, uint16_t port);

/* The first MX name of a (or its IP when it has none). */
const char *fconf_host_name(const struct fc_addr *a);

/* Map names used in configs and manifests. */
const char *fconf_version_name(int vi); /* "SSLv3".."TLSv1.3" */
uint16_t fconf_version_wire(int vi);    /* 0x0300..0x0304 */
const char *fconf_group_name(uint16_t group);
const char *fconf_reject_name(enum tr_reject r);

#endif
