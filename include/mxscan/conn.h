/*
 * conn: the per-socket SMTP/STARTTLS/TLS-hello state machine, sans I/O.
 *
 * The engine (or a transcript test) delivers events: connected, bytes
 * received, end of stream, socket error, timeout. The machine answers by
 * appending bytes to c->tx, by moving to a new state (with that state's
 * deadline in c->timeout_ms and c->rearm set), and by filling c->res.
 * CONN_DONE means "close the socket and emit the record".
 */
#ifndef MXSCAN_CONN_H
#define MXSCAN_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "mxscan/hello.h"
#include "mxscan/result.h"
#include "mxscan/smtp.h"

enum conn_state {
	CONN_EXPECT_CONNECT = 0,
	CONN_EXPECT_BANNER,
	CONN_EXPECT_EHLO,
	CONN_EXPECT_HELO,
	CONN_EXPECT_STARTTLS,
	CONN_EXPECT_SERVER_HELLO,
	CONN_EXPECT_QUIT,
	CONN_EXPECT_HANDSHAKE,  /* full wolfSSL handshake (c->hs_ctx set by the driver) */
	CONN_EXPECT_TLS_BANNER, /* implicit TLS: the greeting, encrypted */
	CONN_EXPECT_TLS_EHLO,   /* the EHLO reply over TLS */
	CONN_DONE,
	CONN__COUNT
};
const char *conn_state_name(enum conn_state s);

struct conn_config {
	unsigned connect_ms;   /* TCP connect */
	unsigned banner_ms;    /* first reply; slow banners are legal (RFC 5321 §4.5.3.2.1: 5 min) */
	unsigned command_ms;   /* EHLO/HELO/STARTTLS replies */
	unsigned tls_ms;       /* server's TLS flight */
	unsigned quit_ms;      /* 221 to QUIT */
	const char *ehlo_name; /* EHLO/HELO argument */
};
void conn_config_defaults(struct conn_config *cfg);

#define CONN_TX_MAX 17408 /* the largest ClientHello record (16 KiB payload) plus SMTP */

struct conn {
	enum conn_state state;
	unsigned timeout_ms; /* deadline of the current state, relative to entering it */
	int rearm;           /* set when a state was entered: the driver must (re)arm the timer */
	const struct conn_config *cfg;
	struct host_result *res;
	/* ClientHello to send, built when TLS starts (set by the driver after conn_init; must stay
	 * valid until DONE); NULL = the baseline hello */
	const struct hello_opts *hello_opts;
	struct hs_ctx *hs_ctx; /* set by the driver after conn_init: do a full handshake instead of a probe */
	struct hs *hs;
	const uint8_t *leaf; /* leaf certificate DER seen in the flight (TLS <= 1.2), valid until the next conn_init */
	size_t leaf_len;
	const struct server_flight *flight; /* the parsed flight (certificates), valid until the next conn_init */
	/* Allocated only while needed (memory per connection in flight): the SMTP
	 * reply parser while a reply is being read (freed on every state change),
	 * the transmit buffer while bytes wait to be sent (freed by
	 * conn_tx_consumed once drained; CONN_TX_MAX while a full handshake runs),
	 * the TLS parser from the first byte of the server's answer to the next
	 * conn_init (a connection waiting for its answer holds none), the copy of a
	 * flight with certificates from then until the next conn_init. */
	struct smtp_parser *sp;
	struct hello_parser *hp;
	struct server_flight *flight_copy;
	uint8_t *tx;
	size_t txlen, txcap;
};

/* Prepare c for a new connection. The result's mode, sni and ip must be set.
 * Enters CONN_EXPECT_CONNECT with c->hello_opts NULL (the baseline hello is
 * built when TLS starts); a driver that wants another hello sets
 * c->hello_opts after conn_init (the options and what they point to must stay
 * valid until DONE): the hello is built from them when TLS starts, straight
 * into the transmit buffer, so nothing is held for it before or after.
 * Returns 0, or -1 if allocation failed. */
int conn_init(struct conn *c, const struct conn_config *cfg, struct host_result *res);
/* Release what conn_init allocated (safe to call twice). */
void conn_release(struct conn *c);
/* The driver sent the first n bytes of c->tx: drop them; the buffer is freed when empty. */
void conn_tx_consumed(struct conn *c, size_t n);

void conn_on_connected(struct conn *c);
void conn_on_data(struct conn *c, const uint8_t *buf, size_t len);
void conn_on_eof(struct conn *c);
/* err is an errno value from connect/recv/send (ECONNREFUSED, ECONNRESET, ...). */
void conn_on_error(struct conn *c, int err);
void conn_on_timeout(struct conn *c);

/* The baseline offer's suites, in the order offered. */
size_t conn_baseline_suites(const uint16_t **out);
/* Append the baseline ClientHello for sni to out (see conn.c for the offer). */
long conn_build_baseline_hello(const char *sni, uint8_t *out, size_t cap);

#endif
