// fuzz-sources: scanner/conn.c scanner/smtp.c scanner/hello.c scanner/suites.c scanner/suites_table.c
// fuzz-sources: scanner/certkey.c scanner/handshake.c
/*
 * Fuzz the whole per-connection state machine: the input is a script of
 * server events (bytes in chunks of fuzzer-chosen sizes, EOF, reset, timeout)
 * played against a STARTTLS or implicit-TLS connection. Invariants checked
 * after every event: the machine never writes beyond its transmit buffer,
 * every state but DONE has a deadline, and once DONE it stays DONE with a
 * status and (unless success) a failure reason recorded. Half the runs keep
 * the transcript (bit 1 of the first byte), whose lines must stay bounded.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/conn.h"

static void check(const struct conn *c, const struct host_result *r)
{
	if (c->txlen > CONN_TX_MAX || c->txlen > c->txcap)
		abort();
	if (c->state != CONN_DONE && c->timeout_ms == 0)
		abort();
	if (c->state == CONN_DONE && r->status != ST_SUCCESS && !r->fail_reason[0])
		abort();
	if ((r->banner && strlen(r->banner) >= RES_TEXT) || (r->ehlo && strlen(r->ehlo) >= RES_TEXT))
		abort();
	if (r->transcript) {
		if (r->transcript->n > TRANSCRIPT_LINES)
			abort();
		for (unsigned i = 0; i < r->transcript->n; i++)
			if (strlen(r->transcript->line[i]) > TRANSCRIPT_LINE_MAX)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conn c;
	static struct conn_config cfg;
	static struct transcript tr;
	struct host_result r;
	if (size < 1)
		return 0;
	conn_config_defaults(&cfg);
	memset(&r, 0, sizeof(r));
	r.mode = (data[0] & 1) ? MODE_IMPLICIT : MODE_STARTTLS;
	memset(&tr, 0, sizeof(tr));
	r.transcript = (data[0] & 2) ? &tr : NULL;
	r.sni = "mx.example.test";
	if (conn_init(&c, &cfg, &r) < 0)
		return 0;
	conn_on_connected(&c);
	size_t i = 1;
	while (i < size && c.state != CONN_DONE) {
		uint8_t op = data[i++];
		c.txlen = 0; /* the engine would have sent it */
		switch (op % 16) {
		case 0: conn_on_eof(&c); break;
		case 1: conn_on_error(&c, ECONNRESET); break;
		case 2: conn_on_timeout(&c); break;
		default: {
			size_t n = (size_t)(op >> 2) + 1;
			if (n > size - i)
				n = size - i;
			conn_on_data(&c, data + i, n);
			i += n;
		}
		}
		check(&c, &r);
	}
	if (c.state != CONN_DONE) {
		conn_on_timeout(&c);
		check(&c, &r);
		if (c.state != CONN_DONE)
			abort();
	}
	host_result_free_text(&r);
	return 0;
}
