/*
 * engine: runs a scan. One epoll loop per worker thread, each with a fixed
 * pool of connection slots; workers pull targets from a shared index, check
 * the blocklist once more right before connect, drive each connection's state
 * machine (conn.c) from socket events and timers, and write one record per
 * target through the shared record writer.
 */
#ifndef MXSCAN_ENGINE_H
#define MXSCAN_ENGINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "mxscan/conn.h"
#include "mxscan/result.h"

struct blocklist;
struct capture;
struct verify_roots;
struct geo;
struct recq;
struct target_set;

enum mode_choice { MODE_AUTO = -1 }; /* else an enum conn_mode */

struct engine_config {
	unsigned threads;     /* worker threads (>= 1) */
	unsigned concurrency; /* connections in flight, all threads together */
	struct conn_config conn;
	uint16_t default_port;            /* for targets without a port */
	int mode;                         /* MODE_AUTO (port 465 implicit, else STARTTLS) or an enum conn_mode */
	int enum_mode;                    /* enum enum_mode: quick, versions, full */
	int trace_probes;                 /* keep every probe's outcome in the record */
	int transcript;                   /* keep the SMTP dialogue (S:/C: lines) in the record */
	int handshake;                    /* one full wolfSSL handshake per host (chain, post-TLS EHLO) */
	unsigned host_ms;                 /* --host-timeout: no new connection for a host after this long (0: none) */
	const struct verify_roots *roots; /* trust anchors for chain verification; NULL = no verification */
	const struct geo *geo;            /* --geoip/--asn-db databases, NULL = no geo object */
	const struct host_meta *meta;     /* per target index: MX names and domains (NULL: none) */
	struct host_summary *summaries;   /* per target index, filled as hosts finish (NULL: not kept) */
	const uint8_t *skip;              /* per target index: nonzero = already in the output (--resume) */
	const uint8_t (*seen_certs)[32];  /* SHA-256 of certificates already written (--resume) */
	size_t nseen_certs;
	const struct blocklist *bl;
	struct recq *out; /* the record writer thread: producer i is worker thread i */
	const char *scan_id;
	/* Politeness (0 = unlimited). A target holds its IP's share from its
	 * first connection to its record, so its probes count once. */
	unsigned per_ip;       /* targets in flight per IP address, all ports and names together */
	double per_ip_rate;    /* new connections per second to one IP address */
	double rate;           /* new connections per second, whole scan (split evenly across threads) */
	unsigned retries;      /* per host: connections turned away before TLS tried again (421, reset...) */
	unsigned backoff_ms;   /* wait before the first retry; doubles with each one */
	struct capture *cap;   /* --capture: register each host's first connection (NULL: off) */
	unsigned cap_grace_ms; /* wait this long after that connection ended before the verdict */
};

struct engine_stats {
	atomic_ulong started, done, active, blocked, write_errors;
	atomic_ulong skipped;     /* targets whose record was already in the output (--resume) */
	atomic_ulong connections; /* TCP connections opened (several per target when enumerating) */
	atomic_ulong retries;     /* of which repeated after a 421, reset, close or timeout before TLS */
	atomic_ulong deferred;    /* times a target waited because its IP had per_ip targets in flight */
	atomic_ulong peak_active; /* most targets in flight at once */
	atomic_ulong status[ST__COUNT];
};

struct engine;

/* Start the workers on targets (every target must have an address).
 * Returns NULL with a message in err on failure. */
struct engine *engine_start(const struct engine_config *cfg, const struct target_set *targets,
			    struct engine_stats *stats, char *err, size_t errlen);
/* 1 while workers are running. */
int engine_running(struct engine *e);
/* Ask workers to stop starting new connections (in-flight ones finish). */
void engine_drain(struct engine *e);
/* Wait for the workers and free the engine. */
void engine_join(struct engine *e);

/* Choose the mode for a port when cfg->mode is MODE_AUTO: 465 implicit TLS
 * (RFC 8314), everything else STARTTLS (25, 587). */
enum conn_mode engine_mode_for_port(uint16_t port, int choice);

#endif
