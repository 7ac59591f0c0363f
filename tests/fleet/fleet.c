/*
 * fleet: bin/mxfleet, the simulated fleet of mail servers the project scans.
 *
 * One process, one thread, one epoll loop (mxscan/loop.h) answers on every
 * configured loopback address:port at once, each address with a personality
 * (fconf.h). Plain SMTP is spoken by this file; TLS is answered either by
 * hand (tlsresp.h: any version and suite, ServerHello/HRR/alert bytes built
 * from the ClientHello) or, where wolfSSL can do it, by a real wolfSSL
 * handshake pinned to the decided version and suite (fssl.h), after which
 * EHLO/QUIT work over TLS.
 *
 * Connection states (exactly one function, set_state(), changes the state and
 * re-arms the state's deadline, so no state lacks a timeout; any I/O progress
 * re-arms it again):
 *
 *   accept ──over max_concurrent/rate──► CLOSING (421, then close)
 *     │ STARTTLS port                                │ implicit-TLS port
 *     ▼                                              │
 *   BANNER_DELAY ──tick──► BANNER_SEND ──────┐       │
 *     │ (normal banner)     (trickle, endless,│       │
 *     ▼                      huge line)       ▼       │
 *   EXPECT_CMD ◄──────────────────────────────┘       │
 *     │ STARTTLS → 220                               ▼
 *     └─────────────────────────────► EXPECT_CLIENT_HELLO ◄─┐ HRR by hand
 *                    accept, real handshake │        │ ─────┘
 *                                           ▼        │ hand-built answer / reject
 *                                   TLS_HANDSHAKE    ▼
 *                                           │      LINGER (discard until close, linger_ms)
 *                                           ▼
 *                                   TLS_EXPECT_CMD (EHLO/QUIT over TLS)
 *   QUIT ──► CLOSING (221, flush, close)  or  DRAIN (never_close: discard, never_close_ms)
 *
 * Memory per connection is bounded: a 1 KiB line buffer, a ClientHello
 * buffer (TR_CH_MAX + slack) only while one is expected, an output buffer
 * capped at FLEET_OUT_CAP, and a wolfSSL session only during real handshakes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fleet/fconf.h"
#include "fleet/fout.h"
#include "fleet/fssl.h"
#include "fleet/tlsresp.h"
#include "mxscan/hello.h"
#include "mxscan/loop.h"
#include "mxscan/suites.h"

#define FLEET_LINE_MAX    1000 /* RFC 5321 §4.5.3.1.6: text line incl. CRLF */
#define FLEET_LINE_BUF    1024
#define FLEET_CH_CAP      (TR_CH_MAX + 4096)
#define FLEET_OUT_CAP     (256 * 1024) /* pending output per connection */
#define FLEET_HUGE_LEN    (1u << 20)   /* huge_line: 1 MiB without CRLF */
#define FLEET_GEN_CHUNK   16384
#define FLEET_ENDLESS_MS  10
#define FLEET_CLOSING_MS  5000
#define FLEET_GARBAGE_LEN 512
#define FLEET_RATE_SLOTS  16
#define FLEET_BUILD_CAP   65536
#define FLEET_FD_RESERVE  32 /* fds kept for the loop, signalfd, files */
#define FLEET_BACKLOG     128

enum fleet_state {
	FLEET_BANNER_DELAY = 0,
	FLEET_BANNER_SEND,
	FLEET_EXPECT_CMD,
	FLEET_EXPECT_CLIENT_HELLO,
	FLEET_TLS_HANDSHAKE,
	FLEET_TLS_EXPECT_CMD,
	FLEET_LINGER,
	FLEET_DRAIN,
	FLEET_CLOSING,
	FLEET__COUNT
};
static const char *const state_names[] = { "BANNER_DELAY",  "BANNER_SEND",    "EXPECT_CMD", "EXPECT_CLIENT_HELLO",
					   "TLS_HANDSHAKE", "TLS_EXPECT_CMD", "LINGER",     "DRAIN",
					   "CLOSING" };
_Static_assert(sizeof(state_names) / sizeof(state_names[0]) == FLEET__COUNT, "state_names");
static const char *fleet_state_name(enum fleet_state s)
{
	return (unsigned)s < FLEET__COUNT ? state_names[s] : "unknown";
}

enum fleet_close { FLEET_CLOSE_NONE = 0, FLEET_CLOSE_FIN, FLEET_CLOSE_RST, FLEET_CLOSE__COUNT };
static const char *const close_names[] = { "none", "fin", "reset" };
_Static_assert(sizeof(close_names) / sizeof(close_names[0]) == FLEET_CLOSE__COUNT, "close_names");
static const char *fleet_close_name(enum fleet_close h)
{
	return (unsigned)h < FLEET_CLOSE__COUNT ? close_names[h] : "unknown";
}

struct rate_slot {
	uint8_t ip[16];
	uint64_t window_start_ms;
	unsigned count;
	int used;
};

struct addr_rt { /* runtime state of one fleet address */
	unsigned active;
	unsigned seen;          /* connections accepted so far (refuse_first) */
	struct rate_slot *rate; /* FLEET_RATE_SLOTS, only with a rate limit */
};

struct listener {
	int fd;
	size_t addr;
	uint16_t port;
	int implicit;
	struct timer pause; /* accept paused after EMFILE */
};

struct conn {
	int fd;
	enum fleet_state state;
	const struct fc_addr *addr;
	const struct fc_personality *p;
	struct addr_rt *rt;
	int implicit, counted;
	uint16_t port;
	struct timer deadline, tick;
	uint8_t line[FLEET_LINE_BUF];
	size_t line_len;
	int discarding; /* dropping the rest of an overlong line */
	uint8_t *ch;    /* ClientHello bytes while EXPECT_CLIENT_HELLO */
	size_t ch_len;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	size_t gen_left; /* huge_line bytes still to generate */
	size_t trickle_pos;
	unsigned endless_n;
	unsigned errors;
	int greeted, mail, refused, hrr_sent;
	int stall_pending;            /* handshake_stall_ms: the first flight is being held */
	int stalling;                 /* handshake_stall_ms: the stall runs (c->tick), nothing is read */
	enum fleet_close close_after; /* once the output is flushed */
	int drain_after;              /* never_close: DRAIN once the output is flushed */
	struct fssl_sess *tls;
	int tls_up;         /* handshake done: output goes through fssl_write */
	int tls_want_write; /* wolfSSL wants EPOLLOUT */
	uint32_t rng;
	char peer[64];
	struct conn *next_free;
};

struct fleet {
	struct loop *loop;
	struct fconf conf;
	struct listener *ls;
	size_t nls;
	struct addr_rt *rt;
	struct conn **by_fd;
	struct conn *free_list;
	struct conn **chunks; /* the pool's allocations, freed at exit */
	size_t nchunks;
	int max_fd;
	int sigfd;
	struct fssl *ssl;
	int verbose;
	unsigned long accepted, active;
};

static struct fleet F;
/* Scratch for the single-threaded loop: too big for every stack frame. */
static struct client_hello scratch_ch;
static uint8_t scratch_build[FLEET_BUILD_CAP];

static void vlog(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog(struct conn *c, const char *fmt, ...)
{
	if (!F.verbose)
		return;
	/* one write(2) per line: stderr is unbuffered, and three stdio calls per
	 * line were three syscalls on every state of every connection */
	char line[1024];
	int n = c ? snprintf(line, sizeof(line), "mxfleet: [%s:%u <- %s fd %d] ", c->addr->ip_str, c->port, c->peer,
			     c->fd)
		  : snprintf(line, sizeof(line), "mxfleet: ");
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	if ((size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1) {
		memcpy(line + sizeof(line) - 5, "...", 3); /* cut: said so */
		n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

/* ---- connection lifetime ---- */

static unsigned state_deadline_ms(const struct conn *c)
{
	const struct fc_personality *p = c->p;
	switch (c->state) {
	case FLEET_BANNER_DELAY: return p->banner_delay_ms + p->idle_ms;
	case FLEET_BANNER_SEND: return (p->banner_mode == FC_BANNER_NORMAL ? p->banner_pause_ms : 0) + p->idle_ms;
	case FLEET_LINGER: return p->linger_ms;
	case FLEET_DRAIN: return p->never_close_ms;
	case FLEET_CLOSING: return FLEET_CLOSING_MS;
	case FLEET_TLS_HANDSHAKE: return p->handshake_stall_ms + p->idle_ms;
	default: return p->idle_ms;
	}
}

static void set_state(struct conn *c, enum fleet_state st)
{
	if (c->state != st)
		vlog(c, "%s -> %s", fleet_state_name(c->state), fleet_state_name(st));
	c->state = st;
	loop_timer_arm(F.loop, &c->deadline, state_deadline_ms(c));
}

/* I/O progress: the state's idle deadline starts again. */
static void touch(struct conn *c)
{
	loop_timer_arm(F.loop, &c->deadline, state_deadline_ms(c));
}

static void conn_close(struct conn *c, enum fleet_close how)
{
	vlog(c, "close (%s) in %s", fleet_close_name(how), fleet_state_name(c->state));
	loop_timer_cancel(F.loop, &c->deadline);
	loop_timer_cancel(F.loop, &c->tick);
	loop_del_fd(F.loop, c->fd);
	if (how == FLEET_CLOSE_RST) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	fssl_end(c->tls);
	close(c->fd);
	F.by_fd[c->fd] = NULL;
	if (c->counted)
		c->rt->active--;
	F.active--;
	free(c->ch);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->next_free = F.free_list;
	F.free_list = c;
}

static void conn_interest(struct conn *c)
{
	uint32_t ev = c->stalling ? 0 : LOOP_READ;
	if (c->out_off < c->out_len || c->gen_left || c->tls_want_write)
		ev |= LOOP_WRITE;
	loop_mod_fd(F.loop, c->fd, ev);
}

static int out_append(struct conn *c, const void *p, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len - c->out_off + n > FLEET_OUT_CAP)
		return -1;
	if (c->out_len + n > c->out_cap) {
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		size_t cap = c->out_cap ? c->out_cap : 1024;
		while (cap < c->out_len + n)
			cap *= 2;
		if (cap != c->out_cap) {
			uint8_t *q = realloc(c->out, cap);
			if (!q)
				return -1;
			c->out = q;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

static int out_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int out_printf(struct conn *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return out_append(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Send what can be sent. Returns -1 when the connection was closed (c is gone). */
static int conn_flush(struct conn *c)
{
	for (;;) {
		if (c->out_off == c->out_len) {
			c->out_off = c->out_len = 0;
			if (c->out_cap > 4 * FLEET_GEN_CHUNK) { /* give back what a huge reply took */
				free(c->out);
				c->out = NULL;
				c->out_cap = 0;
			}
			if (!c->gen_left)
				break;
			uint8_t chunk[FLEET_GEN_CHUNK];
			size_t n = c->gen_left < sizeof(chunk) ? c->gen_left : sizeof(chunk);
			memset(chunk, 'A', n);
			if (out_append(c, chunk, n) < 0)
				break;
			c->gen_left -= n;
		}
		long n;
		if (c->tls_up) {
			enum fssl_status st;
			n = fssl_write(c->tls, c->out + c->out_off, c->out_len - c->out_off, &st);
			c->tls_want_write = 0;
			if (n < 0) {
				if (st == FSSL_WANT_WRITE || st == FSSL_WANT_READ) {
					c->tls_want_write = st == FSSL_WANT_WRITE;
					break;
				}
				conn_close(c, FLEET_CLOSE_FIN);
				return -1;
			}
		} else {
			n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					break;
				conn_close(c, FLEET_CLOSE_FIN);
				return -1;
			}
		}
		c->out_off += (size_t)n;
		touch(c);
	}
	if (c->out_off == c->out_len && !c->gen_left) {
		if (c->close_after) {
			if (c->tls_up)
				fssl_shutdown(c->tls);
			conn_close(c, c->close_after);
			return -1;
		}
		if (c->drain_after) {
			c->drain_after = 0;
			set_state(c, FLEET_DRAIN);
		}
	}
	conn_interest(c);
	return 0;
}

/* Queue a final reply and close once it is out. */
static int reply_and_close(struct conn *c, enum fleet_close how, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int reply_and_close(struct conn *c, enum fleet_close how, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_append(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	c->close_after = how;
	set_state(c, FLEET_CLOSING);
	return conn_flush(c);
}

/* ---- SMTP ---- */

static const char *host_name(const struct conn *c)
{
	return fconf_host_name(c->addr);
}

static size_t banner_text(const struct conn *c, char *out, size_t cap)
{
	const char *s = c->p->banner, *name = host_name(c);
	size_t o = 0;
	while (*s && o + 1 < cap) {
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
	return o;
}

/* The whole greeting: banner_lines lines of 220, last one "220 ". */
static size_t banner_full(const struct conn *c, char *out, size_t cap)
{
	char text[FC_TEXT_MAX + 256];
	banner_text(c, text, sizeof(text));
	size_t o = 0;
	for (unsigned i = 1; i <= c->p->banner_lines && o < cap; i++) {
		int w = snprintf(out + o, cap - o, "220%c%s\r\n", i == c->p->banner_lines ? ' ' : '-', text);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
	return o;
}

static int process_lines(struct conn *c);

static int enter_expect_cmd(struct conn *c)
{
	set_state(c, FLEET_EXPECT_CMD);
	if (conn_flush(c) < 0)
		return -1;
	return process_lines(c);
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static int banner_begin(struct conn *c)
{
	char buf[FLEET_LINE_BUF * 4];
	size_t n;
	switch (c->p->banner_mode) {
	case FC_BANNER_NORMAL:
		n = banner_full(c, buf, sizeof(buf));
		if (c->p->banner_pause_ms && c->p->banner_lines > 1) {
			/* postscreen-like: the first "220-" line, the rest after the pause */
			const char *eol = memchr(buf, '\n', n);
			c->trickle_pos = eol ? (size_t)(eol - buf) + 1 : n;
			out_append(c, buf, c->trickle_pos);
			set_state(c, FLEET_BANNER_SEND);
			loop_timer_arm(F.loop, &c->tick, c->p->banner_pause_ms);
			return conn_flush(c);
		}
		out_append(c, buf, n);
		return enter_expect_cmd(c);
	case FC_BANNER_554:
		c->refused = 1;
		out_printf(c, "554 5.7.1 %s No SMTP service here\r\n", host_name(c));
		return enter_expect_cmd(c);
	case FC_BANNER_421:
		return reply_and_close(c, FLEET_CLOSE_FIN, "421 4.3.2 %s Service not available, closing channel\r\n",
				       host_name(c));
	case FC_BANNER_GARBAGE:
		for (size_t i = 0; i < FLEET_GARBAGE_LEN; i++)
			buf[i] = (char)(xorshift(&c->rng) >> 24);
		out_append(c, buf, FLEET_GARBAGE_LEN);
		return enter_expect_cmd(c);
	case FC_BANNER_HUGE:
		out_append(c, "220 ", 4);
		c->gen_left = FLEET_HUGE_LEN;
		return enter_expect_cmd(c);
	case FC_BANNER_RESET:
		/* Nothing sent: the connection is reset as soon as it is accepted. */
		c->close_after = FLEET_CLOSE_RST;
		set_state(c, FLEET_CLOSING);
		return conn_flush(c);
	case FC_BANNER_TRICKLE:
	case FC_BANNER_ENDLESS:
		set_state(c, FLEET_BANNER_SEND);
		loop_timer_arm(F.loop, &c->tick, 0);
		return 0;
	case FC_BANNER__COUNT: break;
	}
	return 0;
}

static int tls_handshake_step(struct conn *c);

/* Pacing for trickle/endless banners and the banner delay; the end of a handshake stall. */
static void on_tick(struct loop *l, struct timer *t, void *ud)
{
	(void)l;
	(void)t;
	struct conn *c = ud;
	char buf[FLEET_LINE_BUF * 4];
	if (c->state == FLEET_BANNER_DELAY) {
		banner_begin(c);
		return;
	}
	if (c->stalling) { /* handshake_stall_ms is over: the rest of the flight, then go on */
		c->stalling = 0;
		size_t n;
		const uint8_t *h = fssl_held(c->tls, &n);
		vlog(c, "handshake stall over: %zu held bytes", n);
		if (n && out_append(c, h, n) < 0) {
			conn_close(c, FLEET_CLOSE_FIN);
			return;
		}
		fssl_held_consume(c->tls, n);
		fssl_hold(c->tls, 0);
		if (conn_flush(c) < 0)
			return;
		tls_handshake_step(c);
		return;
	}
	if (c->state != FLEET_BANNER_SEND)
		return;
	if (c->p->banner_mode == FC_BANNER_NORMAL) { /* the rest after banner_pause_ms */
		size_t n = banner_full(c, buf, sizeof(buf));
		if (c->trickle_pos < n)
			out_append(c, buf + c->trickle_pos, n - c->trickle_pos);
		enter_expect_cmd(c);
		return;
	}
	if (c->p->banner_mode == FC_BANNER_TRICKLE) {
		size_t n = banner_full(c, buf, sizeof(buf));
		if (c->trickle_pos < n)
			out_append(c, buf + c->trickle_pos++, 1);
		if (c->trickle_pos >= n) {
			enter_expect_cmd(c);
			return;
		}
		loop_timer_arm(F.loop, &c->tick, c->p->trickle_ms);
		conn_flush(c);
		return;
	}
	/* endless: queue a line only while the client keeps up */
	if (c->out_len - c->out_off < 8192)
		out_printf(c, "220-%s greeting continues, line %u\r\n", host_name(c), ++c->endless_n);
	loop_timer_arm(F.loop, &c->tick, FLEET_ENDLESS_MS);
	conn_flush(c);
}

static void ehlo_reply(struct conn *c, const char *arg)
{
	const struct fc_personality *p = c->p;
	const char *token = NULL;
	if (!c->tls_up) {
		switch (p->starttls) {
		case FC_STARTTLS_OFFERED:
		case FC_STARTTLS_REFUSE454:
		case FC_STARTTLS_ERROR500: token = "STARTTLS"; break;
		case FC_STARTTLS_STRIP:
			token = "XXXXXXXA"; /* what a Cisco-style SMTP fixup leaves */
			break;
		default: break;
		}
	}
	size_t nlines = p->nehlo + (token != NULL);
	out_printf(c, "250%c%s greets %s\r\n", nlines ? '-' : ' ', host_name(c), *arg ? arg : "you");
	for (size_t i = 0; i < p->nehlo; i++)
		out_printf(c, "250%c%s\r\n", i + 1 == nlines ? ' ' : '-', p->ehlo[i]);
	if (token)
		out_printf(c, "250 %s\r\n", token);
}

static int start_tls_mode(struct conn *c)
{
	c->line_len = 0; /* RFC 3207 §4.2: discard plaintext pipelined after STARTTLS */
	c->discarding = 0;
	c->ch = malloc(FLEET_CH_CAP);
	if (!c->ch) {
		conn_close(c, FLEET_CLOSE_FIN);
		return -1;
	}
	c->ch_len = 0;
	set_state(c, FLEET_EXPECT_CLIENT_HELLO);
	return conn_flush(c);
}

/* One command line (CRLF stripped). Returns -1 when c was closed. */
static int handle_cmd(struct conn *c, char *line)
{
	const struct fc_personality *p = c->p;
	char *arg = line + strcspn(line, " ");
	if (*arg)
		*arg++ = 0;
	while (*arg == ' ')
		arg++;
	vlog(c, "cmd %s %s", line, arg);
	if (!strcasecmp(line, "QUIT")) {
		out_printf(c, "221 2.0.0 Bye\r\n");
		if (p->never_close) {
			c->drain_after = 1;
			set_state(c, FLEET_CLOSING);
			return conn_flush(c);
		}
		c->close_after = FLEET_CLOSE_FIN;
		set_state(c, FLEET_CLOSING);
		return conn_flush(c);
	}
	if (c->refused) {
		out_printf(c, "503 5.5.1 Error: no SMTP service here\r\n");
		return 0;
	}
	if (!strcasecmp(line, "EHLO")) {
		if (p->ehlo_refused) {
			out_printf(c, "502 5.5.2 Error: command not recognized\r\n");
			return 0;
		}
		c->greeted = 1;
		c->mail = 0;
		ehlo_reply(c, arg);
		return 0;
	}
	if (!strcasecmp(line, "HELO")) {
		c->greeted = 1;
		c->mail = 0;
		out_printf(c, "250 %s\r\n", host_name(c));
		return 0;
	}
	if (!strcasecmp(line, "STARTTLS")) {
		if (c->tls_up) {
			out_printf(c, "554 5.5.1 Error: TLS already active\r\n");
			return 0;
		}
		switch (p->starttls) {
		case FC_STARTTLS_ABSENT: out_printf(c, "502 5.5.2 Error: command not recognized\r\n"); return 0;
		case FC_STARTTLS_STRIP: /* the server saw "XXXXXXXA" */
			out_printf(c, "500 5.5.1 Command unrecognized: \"XXXXXXXA\"\r\n");
			return 0;
		case FC_STARTTLS_REFUSE454:
			out_printf(c, "454 4.7.0 TLS not available due to local problem\r\n");
			return 0;
		case FC_STARTTLS_ERROR500: out_printf(c, "500 5.5.1 Command unrecognized\r\n"); return 0;
		default: break;
		}
		if (!c->greeted) {
			out_printf(c, "503 5.5.1 Error: send HELO/EHLO first\r\n");
			return 0;
		}
		if (p->close_after_starttls)
			return reply_and_close(c, FLEET_CLOSE_FIN, "220 2.0.0 Ready to start TLS\r\n");
		out_printf(c, "220 2.0.0 Ready to start TLS\r\n");
		if (p->plaintext_after_220)
			out_printf(c, "250 injected\r\n");
		return start_tls_mode(c);
	}
	if (!strcasecmp(line, "NOOP")) {
		out_printf(c, "250 2.0.0 Ok\r\n");
		return 0;
	}
	if (!strcasecmp(line, "RSET")) {
		c->mail = 0;
		out_printf(c, "250 2.0.0 Ok\r\n");
		return 0;
	}
	if (!strcasecmp(line, "MAIL")) {
		if (!c->greeted)
			out_printf(c, "503 5.5.1 Error: send HELO/EHLO first\r\n");
		else {
			c->mail = 1;
			out_printf(c, "250 2.1.0 Ok\r\n");
		}
		return 0;
	}
	if (!strcasecmp(line, "RCPT")) {
		out_printf(c, c->mail ? "250 2.1.5 Ok\r\n" : "503 5.5.1 Error: need MAIL command\r\n");
		return 0;
	}
	if (!strcasecmp(line, "DATA")) {
		out_printf(c, "554 5.7.1 Error: this simulated server accepts no mail\r\n");
		return 0;
	}
	if (!strcasecmp(line, "VRFY")) {
		out_printf(c, "252 2.0.0 Send some mail, I'll try my best\r\n");
		return 0;
	}
	if (!strcasecmp(line, "HELP")) {
		out_printf(c, "214 2.0.0 Commands: EHLO HELO STARTTLS MAIL RCPT DATA RSET NOOP VRFY QUIT\r\n");
		return 0;
	}
	c->errors++;
	if (c->errors >= p->max_errors)
		return reply_and_close(c, FLEET_CLOSE_FIN, "421 4.7.0 %s Error: too many errors\r\n", host_name(c));
	out_printf(c, "500 5.5.2 Error: command not recognized\r\n");
	return 0;
}

/* Answer every complete line in the buffer. -1 when c was closed. */
static int process_lines(struct conn *c)
{
	while (c->state == FLEET_EXPECT_CMD || c->state == FLEET_TLS_EXPECT_CMD) {
		uint8_t *lf = memchr(c->line, '\n', c->line_len);
		if (!lf) {
			if (c->line_len >= FLEET_LINE_MAX) {
				c->line_len = 0;
				c->discarding = 1;
				c->errors++;
				if (c->errors >= c->p->max_errors)
					return reply_and_close(c, FLEET_CLOSE_FIN,
							       "421 4.7.0 %s Error: too many errors\r\n", host_name(c));
				out_printf(c, "500 5.5.2 Error: line too long\r\n");
			}
			break;
		}
		size_t n = (size_t)(lf - c->line), len;
		char cmd[FLEET_LINE_BUF];
		memcpy(cmd, c->line, n);
		cmd[n] = 0;
		len = n;
		if (len && cmd[len - 1] == '\r')
			cmd[--len] = 0;
		memmove(c->line, lf + 1, c->line_len - n - 1);
		c->line_len -= n + 1;
		if (c->discarding) { /* tail of an overlong line */
			c->discarding = 0;
			continue;
		}
		if (!len || strlen(cmd) != len) { /* empty, or a NUL inside */
			c->errors++;
			out_printf(c, "500 5.5.2 Error: bad syntax\r\n");
			continue;
		}
		if (handle_cmd(c, cmd) < 0)
			return -1;
	}
	if (c->state == FLEET_EXPECT_CMD || c->state == FLEET_TLS_EXPECT_CMD || c->state == FLEET_CLOSING)
		return conn_flush(c);
	return 0;
}

/* Append received plaintext to the line buffer (dropping overlong lines).
 * -1 when c was closed while answering. */
static int line_feed(struct conn *c, const uint8_t *p, size_t n)
{
	while (n) {
		if (c->discarding) {
			const uint8_t *lf = memchr(p, '\n', n);
			if (!lf)
				return 0;
			c->discarding = 0;
			n -= (size_t)(lf + 1 - p);
			p = lf + 1;
			continue;
		}
		size_t room = sizeof(c->line) - c->line_len;
		size_t k = n < room ? n : room;
		memcpy(c->line + c->line_len, p, k);
		c->line_len += k;
		p += k;
		n -= k;
		if (n && c->state != FLEET_EXPECT_CMD && c->state != FLEET_TLS_EXPECT_CMD)
			return 0; /* early talker: keep what fits, drop the rest */
		if (n) {
			/* full: let process_lines answer what is complete first */
			if (process_lines(c) < 0)
				return -1;
			if (c->line_len == sizeof(c->line)) {
				c->line_len = 0;
				c->discarding = 1;
			}
		}
	}
	return 0;
}

/* ---- TLS ---- */

static int tls_read(struct conn *c);

static int tls_handshake_step(struct conn *c)
{
	enum fssl_status st = fssl_handshake(c->tls);
	c->tls_want_write = 0;
	switch (st) {
	case FSSL_OK: {
		char d[128];
		vlog(c, "handshake done: %s", fssl_describe(c->tls, d, sizeof(d)));
		c->tls_up = 1;
		c->greeted = 0;
		c->mail = 0;
		c->line_len = 0;
		set_state(c, FLEET_TLS_EXPECT_CMD);
		if (c->implicit) {
			char buf[FLEET_LINE_BUF * 4];
			out_append(c, buf, banner_full(c, buf, sizeof(buf)));
		}
		if (conn_flush(c) < 0)
			return -1;
		/* records that came with the client's Finished sit in wolfSSL's buffer,
		 * where epoll cannot see them */
		return tls_read(c);
	}
	case FSSL_WANT_READ:
		if (c->stall_pending) { /* the first flight is complete: send it but its end, then stall */
			c->stall_pending = 0;
			size_t n;
			const uint8_t *h = fssl_held(c->tls, &n);
			/* TLS 1.2: all of it (ServerHello..ServerHelloDone), the stall comes before the
			 * server's ChangeCipherSpec/Finished; TLS 1.3: all but the last record (the
			 * encrypted server Finished) */
			size_t keep = fssl_is_tls13(c->tls) ? fssl_last_record(h, n) : n;
			vlog(c, "handshake stall: %zu of %zu flight bytes sent, the rest in %u ms", keep, n,
			     c->p->handshake_stall_ms);
			if (keep && out_append(c, h, keep) < 0) {
				conn_close(c, FLEET_CLOSE_FIN);
				return -1;
			}
			fssl_held_consume(c->tls, keep);
			c->stalling = 1;
			touch(c);
			loop_timer_arm(F.loop, &c->tick, c->p->handshake_stall_ms);
			return conn_flush(c);
		}
		conn_interest(c);
		return 0;
	case FSSL_WANT_WRITE:
		c->tls_want_write = 1;
		conn_interest(c);
		return 0;
	default:
		vlog(c, "handshake failed (%s, wolfSSL error %d)", fssl_status_name(st), fssl_error(c->tls));
		conn_close(c, FLEET_CLOSE_FIN);
		return -1;
	}
}

static int tls_read(struct conn *c)
{
	uint8_t buf[4096];
	for (;;) {
		enum fssl_status st;
		long n = fssl_read(c->tls, buf, sizeof(buf), &st);
		if (n > 0) {
			touch(c);
			if (c->state == FLEET_TLS_EXPECT_CMD) {
				if (line_feed(c, buf, (size_t)n) < 0 || process_lines(c) < 0)
					return -1;
			}
			continue;
		}
		if (st == FSSL_WANT_READ)
			return 0;
		if (st == FSSL_WANT_WRITE) {
			c->tls_want_write = 1;
			conn_interest(c);
			return 0;
		}
		conn_close(c, FLEET_CLOSE_FIN);
		return -1;
	}
}

/* A whole ClientHello is in c->ch: decide and answer. */
static int answer_hello(struct conn *c, size_t consumed)
{
	const struct fc_personality *p = c->p;
	struct tls_decision d;
	tlsresp_decide(p->tls, &scratch_ch, &d);
	vlog(c, "ClientHello: %s version 0x%04x suite 0x%04x group %u%s%s", tlsresp_kind_name(d.kind), d.version,
	     d.suite, d.group, d.kind == TR_REJECT ? " " : "",
	     d.kind == TR_REJECT ? tlsresp_reject_name(d.reject) : "");
	uint16_t v = d.kind == TR_HRR ? TLS_TLS13 : d.version;
	const struct suite_info *si = suite_by_code(d.suite);
	/* wolfSSL is given ffdhe2048; a weak-DH (1024-bit) personality answers DHE by hand */
	int weak_dh = p->dh_bits == 1024 && si && si->kx && !strcmp(si->kx, "DHE");
	if (d.kind != TR_REJECT && p->real_handshake && p->chain_ok && F.ssl && !weak_dh &&
	    tlsresp_wolfssl_capable(v, d.suite)) {
		c->tls = fssl_start(F.ssl, p->cert, v, d.suite, p->groups, p->ngroups, c->fd, c->ch, c->ch_len);
		if (c->tls) {
			if (p->handshake_stall_ms) {
				fssl_hold(c->tls, 1);
				c->stall_pending = 1;
			}
			free(c->ch);
			c->ch = NULL;
			c->ch_len = 0;
			set_state(c, FLEET_TLS_HANDSHAKE);
			return tls_handshake_step(c);
		}
	}
	long n = tlsresp_build(p->tls, &scratch_ch, &d, scratch_build, sizeof(scratch_build));
	if (n < 0) {
		fprintf(stderr, "mxfleet: tlsresp_build: answer larger than %d bytes\n", FLEET_BUILD_CAP);
		conn_close(c, FLEET_CLOSE_FIN);
		return -1;
	}
	if (n > 0)
		out_append(c, scratch_build, (size_t)n);
	memmove(c->ch, c->ch + consumed, c->ch_len - consumed);
	c->ch_len -= consumed;
	if (d.kind == TR_HRR) {
		if (c->hrr_sent) { /* RFC 8446 §4.1.4: a second HRR is an error */
			c->close_after = FLEET_CLOSE_FIN;
			set_state(c, FLEET_CLOSING);
			return conn_flush(c);
		}
		c->hrr_sent = 1;
		set_state(c, FLEET_EXPECT_CLIENT_HELLO);
		return conn_flush(c);
	}
	free(c->ch);
	c->ch = NULL;
	c->ch_len = 0;
	if (d.kind == TR_REJECT && (d.reject == TR_REJ_CLOSE || d.reject == TR_REJ_RESET)) {
		c->close_after = d.reject == TR_REJ_RESET ? FLEET_CLOSE_RST : FLEET_CLOSE_FIN;
		set_state(c, FLEET_CLOSING);
		return conn_flush(c);
	}
	set_state(c, FLEET_LINGER);
	return conn_flush(c);
}

static int hello_feed(struct conn *c)
{
	for (;;) {
		/* After a hand-built HRR the client may send a dummy ChangeCipherSpec
		 * (RFC 8446 §D.4) before its second ClientHello: skip it. */
		while (c->hrr_sent && c->ch_len >= 5 && c->ch[0] == 20) {
			size_t rl = 5 + ((size_t)c->ch[3] << 8 | c->ch[4]);
			if (c->ch_len < rl)
				return 0;
			memmove(c->ch, c->ch + rl, c->ch_len - rl);
			c->ch_len -= rl;
		}
		if (!c->ch_len)
			return 0;
		size_t consumed = 0;
		int r = tlsresp_parse_ch(c->ch, c->ch_len, &scratch_ch, &consumed);
		if (r == 0) {
			if (c->ch_len == FLEET_CH_CAP) {
				vlog(c, "ClientHello larger than the buffer");
				conn_close(c, FLEET_CLOSE_FIN);
				return -1;
			}
			return 0;
		}
		if (r < 0) {
			vlog(c, "not a ClientHello (%d)", r);
			conn_close(c, FLEET_CLOSE_FIN);
			return -1;
		}
		if (answer_hello(c, consumed) < 0)
			return -1;
		if (c->state != FLEET_EXPECT_CLIENT_HELLO)
			return 0;
	}
}

/* ---- socket events ---- */

static int on_readable(struct conn *c)
{
	uint8_t buf[8192];
	if (c->stalling)
		return 0;
	if (c->state == FLEET_TLS_HANDSHAKE)
		return tls_handshake_step(c);
	if (c->state == FLEET_TLS_EXPECT_CMD || (c->tls_up && c->state == FLEET_CLOSING))
		return tls_read(c);
	for (;;) {
		uint8_t *dst = buf;
		size_t cap = sizeof(buf);
		if (c->state == FLEET_EXPECT_CLIENT_HELLO) {
			dst = c->ch + c->ch_len;
			cap = FLEET_CH_CAP - c->ch_len;
			if (!cap)
				return hello_feed(c);
		}
		ssize_t n = recv(c->fd, dst, cap, 0);
		if (n == 0) {
			conn_close(c, FLEET_CLOSE_FIN);
			return -1;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			conn_close(c, FLEET_CLOSE_FIN);
			return -1;
		}
		touch(c);
		switch (c->state) {
		case FLEET_EXPECT_CLIENT_HELLO:
			c->ch_len += (size_t)n;
			if (hello_feed(c) < 0)
				return -1;
			break;
		case FLEET_BANNER_DELAY:
		case FLEET_BANNER_SEND:
		case FLEET_EXPECT_CMD:
			if (line_feed(c, buf, (size_t)n) < 0)
				return -1;
			if (c->state == FLEET_EXPECT_CMD && process_lines(c) < 0)
				return -1;
			break;
		default: /* LINGER, DRAIN, CLOSING: read and discard */ break;
		}
		if ((size_t)n < cap)
			return 0;
	}
}

static void on_conn(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	(void)fd;
	struct conn *c = ud;
	if ((ev & LOOP_ERROR) && !(ev & LOOP_READ)) {
		conn_close(c, FLEET_CLOSE_FIN);
		return;
	}
	if (ev & LOOP_WRITE) {
		if (c->state == FLEET_TLS_HANDSHAKE && (c->stalling || c->out_off < c->out_len)) {
			if (conn_flush(c) < 0) /* the held flight, sent by hand */
				return;
		} else if (c->state == FLEET_TLS_HANDSHAKE) {
			if (tls_handshake_step(c) < 0)
				return;
		} else if (c->tls_up && c->tls_want_write && !(c->out_off < c->out_len)) {
			if (tls_read(c) < 0) /* a read that wanted to write */
				return;
		} else if (conn_flush(c) < 0)
			return;
	}
	if (ev & (LOOP_READ | LOOP_ERROR))
		on_readable(c);
}

static void on_deadline(struct loop *l, struct timer *t, void *ud)
{
	(void)l;
	(void)t;
	struct conn *c = ud;
	vlog(c, "deadline in %s", fleet_state_name(c->state));
	if (c->state == FLEET_EXPECT_CMD && !c->close_after) {
		reply_and_close(c, FLEET_CLOSE_FIN, "421 4.4.2 %s Error: timeout exceeded\r\n", host_name(c));
		return;
	}
	conn_close(c, FLEET_CLOSE_FIN);
}

/* Per-client-IP rate limit: 1 when this connection is over the limit. */
static int rate_exceeded(struct addr_rt *rt, const struct fc_personality *p, const struct sockaddr_storage *ss)
{
	uint8_t ip[16] = { 0 };
	if (ss->ss_family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else
		memcpy(ip, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	uint64_t now = loop_now_ms(F.loop), win = (uint64_t)p->rate_window_s * 1000u;
	if (!rt->rate && !(rt->rate = calloc(FLEET_RATE_SLOTS, sizeof(*rt->rate))))
		return 0;
	struct rate_slot *s = NULL, *victim = NULL;
	for (int i = 0; i < FLEET_RATE_SLOTS && !s; i++) {
		struct rate_slot *r = &rt->rate[i];
		if (r->used && !memcmp(r->ip, ip, 16))
			s = r;
		else if (!victim || (victim->used && (!r->used || r->window_start_ms < victim->window_start_ms)))
			victim = r;
	}
	if (!s) {
		s = victim;
		memcpy(s->ip, ip, 16);
		s->used = 1;
		s->window_start_ms = now;
		s->count = 0;
	}
	if (now - s->window_start_ms >= win) {
		s->window_start_ms = now;
		s->count = 0;
	}
	return ++s->count > p->rate_n;
}

static struct conn *conn_alloc(void)
{
	if (!F.free_list) {
		/* grow the pool by a chunk; chunks live until exit */
		enum { CHUNK = 64 };
		struct conn *chunk = calloc(CHUNK, sizeof(*chunk));
		if (!chunk)
			return NULL;
		struct conn **nc = realloc(F.chunks, (F.nchunks + 1) * sizeof(*nc));
		if (!nc) {
			free(chunk);
			return NULL;
		}
		F.chunks = nc;
		F.chunks[F.nchunks++] = chunk;
		for (int i = 0; i < CHUNK; i++) {
			chunk[i].next_free = F.free_list;
			F.free_list = &chunk[i];
		}
	}
	struct conn *c = F.free_list;
	F.free_list = c->next_free;
	memset(c, 0, sizeof(*c));
	return c;
}

static void conn_open(struct listener *ls, int fd, const struct sockaddr_storage *ss)
{
	struct conn *c;
	if (fd >= F.max_fd || !(c = conn_alloc())) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->addr = &F.conf.addrs[ls->addr];
	c->p = &F.conf.pers[c->addr->pers];
	c->rt = &F.rt[ls->addr];
	c->implicit = ls->implicit;
	c->port = ls->port;
	c->rng = (uint32_t)fd * 2654435761u ^ (uint32_t)loop_now_ms(F.loop) ^ (uint32_t)F.accepted;
	char ipbuf[48] = "?";
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ipbuf, sizeof(ipbuf));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ipbuf, sizeof(ipbuf));
	snprintf(c->peer, sizeof(c->peer), "%s:%u", ipbuf,
		 ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
						: ((const struct sockaddr_in6 *)ss)->sin6_port));
	timer_init(&c->deadline, on_deadline, c);
	timer_init(&c->tick, on_tick, c);
	if (loop_add_fd(F.loop, fd, LOOP_READ, on_conn, c) < 0) {
		close(fd);
		c->next_free = F.free_list;
		F.free_list = c;
		return;
	}
	F.by_fd[fd] = c;
	F.accepted++;
	F.active++;
	const struct fc_personality *p = c->p;
	c->state = FLEET_CLOSING;
	int early = c->rt->seen++ < p->refuse_first;
	int over = !early && (p->max_concurrent && c->rt->active >= p->max_concurrent);
	int rated = !early && !over && p->rate_n && rate_exceeded(c->rt, p, ss);
	if (early) {
		/* greylisting-style: the first K connections are told to come back later */
		vlog(c, "refused: refuse_first %u of %u", c->rt->seen, p->refuse_first);
		if (c->implicit) {
			c->close_after = FLEET_CLOSE_FIN;
			set_state(c, FLEET_CLOSING);
			conn_flush(c);
			return;
		}
		reply_and_close(c, FLEET_CLOSE_FIN, "421 4.7.0 %s Try again later\r\n", host_name(c));
		return;
	}
	if (over || rated) {
		vlog(c, "refused: %s", over ? "max_concurrent" : "rate");
		if (c->implicit) {
			c->close_after = FLEET_CLOSE_FIN;
			set_state(c, FLEET_CLOSING);
			conn_flush(c);
			return;
		}
		reply_and_close(c, FLEET_CLOSE_FIN,
				over ? "421 4.7.0 %s Error: too many connections\r\n"
				     : "421 4.7.0 %s Error: too many connections from your address\r\n",
				host_name(c));
		return;
	}
	c->counted = 1;
	c->rt->active++;
	vlog(c, "accepted (%s)", p->name);
	if (c->implicit) {
		c->state = FLEET_EXPECT_CLIENT_HELLO;
		c->ch = malloc(FLEET_CH_CAP);
		if (!c->ch) {
			conn_close(c, FLEET_CLOSE_FIN);
			return;
		}
		set_state(c, FLEET_EXPECT_CLIENT_HELLO);
		return;
	}
	if (p->banner_delay_ms && p->banner_mode != FC_BANNER_421) {
		set_state(c, FLEET_BANNER_DELAY);
		loop_timer_arm(F.loop, &c->tick, p->banner_delay_ms);
		return;
	}
	c->state = FLEET_BANNER_DELAY;
	banner_begin(c);
}

static void on_unpause(struct loop *l, struct timer *t, void *ud)
{
	(void)t;
	struct listener *ls = ud;
	loop_mod_fd(l, ls->fd, LOOP_READ);
}

static void on_listen(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)ev;
	struct listener *ls = ud;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: stop accepting on this listener for a
				 * moment instead of spinning on a level-triggered event */
				loop_mod_fd(l, fd, 0);
				loop_timer_arm(l, &ls->pause, 100);
			}
			return;
		}
		conn_open(ls, cfd, &ss);
	}
}

static void on_signal(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)ev;
	(void)ud;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			loop_stop(l);
}

/* ---- start-up ---- */

static int open_listeners(void)
{
	size_t n = 0;
	for (size_t i = 0; i < F.conf.naddrs; i++)
		n += F.conf.addrs[i].nports;
	if (n + FLEET_FD_RESERVE >= (size_t)F.max_fd) {
		fprintf(stderr,
			"mxfleet: the configuration needs %zu listening sockets but the descriptor limit is %d; "
			"assign fewer addresses or ports\n",
			n, F.max_fd);
		return -1;
	}
	F.ls = calloc(n ? n : 1, sizeof(*F.ls));
	if (!F.ls)
		return -1;
	for (size_t i = 0; i < F.conf.naddrs; i++) {
		const struct fc_addr *a = &F.conf.addrs[i];
		for (size_t j = 0; j < a->nports; j++) {
			struct listener *ls = &F.ls[F.nls];
			struct sockaddr_storage ss = { 0 };
			socklen_t sl;
			if (a->family == AF_INET) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
				s4->sin_family = AF_INET;
				s4->sin_port = htons(a->ports[j]);
				memcpy(&s4->sin_addr, a->ip, 4);
				sl = sizeof(*s4);
			} else {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons(a->ports[j]);
				memcpy(&s6->sin6_addr, a->ip, 16);
				sl = sizeof(*s6);
			}
			int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			int one = 1;
			if (fd < 0) {
				fprintf(stderr, "mxfleet: socket for %s port %u: %s\n", a->ip_str, a->ports[j],
					strerror(errno));
				return -1;
			}
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (a->family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
				int e = errno;
				fprintf(stderr, "mxfleet: cannot bind %s port %u: %s%s\n", a->ip_str, a->ports[j],
					strerror(e),
					e == EACCES       ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
					: e == EADDRINUSE ? " (another fleet or server is running there?)"
							  : "");
				close(fd);
				return -1;
			}
			if (listen(fd, FLEET_BACKLOG) < 0 || fd >= F.max_fd) {
				fprintf(stderr, "mxfleet: cannot listen on %s port %u: %s\n", a->ip_str, a->ports[j],
					strerror(errno));
				close(fd);
				return -1;
			}
			ls->fd = fd;
			ls->addr = i;
			ls->port = a->ports[j];
			ls->implicit = fconf_is_implicit(a, a->ports[j]);
			timer_init(&ls->pause, on_unpause, ls);
			F.nls++;
			if (loop_add_fd(F.loop, fd, LOOP_READ, on_listen, ls) < 0) {
				fprintf(stderr, "mxfleet: loop_add_fd: %s\n", strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

/* "*.PARENT" for every distinct parent of the configured MX names: the SANs a
 * valid certificate needs so that every MX name matches (scripts/fleet.sh). */
static void print_cert_names(void)
{
	const char **seen = calloc(F.conf.naddrs + 1, sizeof(*seen));
	size_t nseen = 0;
	for (size_t i = 0; seen && i < F.conf.naddrs; i++)
		for (size_t j = 0; j < F.conf.addrs[i].nnames; j++) {
			const char *dot = strchr(F.conf.addrs[i].names[j], '.');
			if (!dot || !strchr(dot + 1, '.'))
				continue;
			size_t k;
			for (k = 0; k < nseen && strcasecmp(seen[k], dot + 1); k++)
				;
			if (k < nseen)
				continue;
			if (nseen < F.conf.naddrs)
				seen[nseen++] = dot + 1;
			printf("*.%s\n", dot + 1);
		}
	free(seen);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mxfleet -c CONF [-c CONF...] [--certs DIR] [--ready-fd N]\n"
		   "               [--manifest OUT.jsonl] [--zone OUT.zone [--zone-origin fleet.test]]\n"
		   "               [--check] [--cert-names] [-v]\n"
		   "Simulated fleet of mail servers on loopback addresses (datasets/fleet/README.md).\n"
		   "  -c, --config FILE   personality file (repeatable; later files see earlier personalities)\n"
		   "  --certs DIR         certificate variants from scripts/certs.sh DIR\n"
		   "  --ready-fd N        write \"ready\\n\" to fd N once every address listens\n"
		   "  --manifest FILE     ground truth, one JSON line per address:port\n"
		   "  --zone FILE         DNS zone of the configured names and domains\n"
		   "  --zone-origin NAME  zone origin (default fleet.test)\n"
		   "  --check             parse, write manifest/zone, exit without listening\n"
		   "  --cert-names        print the wildcard SANs the configured MX names need, exit\n"
		   "  -v, --verbose       log every connection's states to stderr\n");
}

int main(int argc, char **argv)
{
	enum { O_CERTS = 256, O_READY, O_MANIFEST, O_ZONE, O_ORIGIN, O_CHECK, O_CERT_NAMES };
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "certs", required_argument, NULL, O_CERTS },
					      { "ready-fd", required_argument, NULL, O_READY },
					      { "manifest", required_argument, NULL, O_MANIFEST },
					      { "zone", required_argument, NULL, O_ZONE },
					      { "zone-origin", required_argument, NULL, O_ORIGIN },
					      { "check", no_argument, NULL, O_CHECK },
					      { "verbose", no_argument, NULL, 'v' },
					      { "cert-names", no_argument, NULL, O_CERT_NAMES },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *certs = NULL, *manifest = NULL, *zone = NULL, *origin = "fleet.test";
	int ready_fd = -1, check = 0, cert_names = 0, rc = 1, nconf = 0;
	sigset_t mask;

	for (int o; (o = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1;) {
		switch (o) {
		case 'c':
			if (fconf_load(&F.conf, optarg) < 0)
				goto out;
			nconf++;
			break;
		case O_CERTS: certs = optarg; break;
		case O_READY: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 65535 || fcntl((int)v, F_GETFD) < 0) {
				fprintf(stderr, "mxfleet: --ready-fd %s is not an open file descriptor\n", optarg);
				goto out;
			}
			ready_fd = (int)v;
			break;
		}
		case O_MANIFEST: manifest = optarg; break;
		case O_ZONE: zone = optarg; break;
		case O_ORIGIN: origin = optarg; break;
		case O_CHECK: check = 1; break;
		case O_CERT_NAMES: cert_names = 1; break;
		case 'v': F.verbose = 1; break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if (!nconf || optind != argc) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (cert_names) {
		print_cert_names();
		rc = 0;
		goto out;
	}
	if (fconf_finish(&F.conf, certs) < 0)
		goto out;
	if (manifest && fout_manifest(&F.conf, manifest) < 0)
		goto out;
	if (zone && fout_zone(&F.conf, zone, origin) < 0)
		goto out;
	if (check) {
		rc = 0;
		goto out;
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	F.max_fd = rl.rlim_cur > 1000000 ? 1000000 : (int)rl.rlim_cur;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	F.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	F.loop = loop_new(F.max_fd);
	F.by_fd = calloc((size_t)F.max_fd, sizeof(*F.by_fd));
	F.rt = calloc(F.conf.naddrs ? F.conf.naddrs : 1, sizeof(*F.rt));
	if (F.sigfd < 0 || !F.loop || !F.by_fd || !F.rt) {
		fprintf(stderr, "mxfleet: start-up failed: %s\n", strerror(errno));
		goto out;
	}
	loop_add_fd(F.loop, F.sigfd, LOOP_READ, on_signal, NULL);
	if (certs && !(F.ssl = fssl_new(certs))) {
		fprintf(stderr, "mxfleet: wolfSSL initialisation failed\n");
		goto out;
	}
	if (open_listeners() < 0)
		goto out;
	if (F.verbose)
		vlog(NULL, "%zu addresses, %zu listening sockets, fd limit %d", F.conf.naddrs, F.nls, F.max_fd);
	if (ready_fd >= 0) {
		static const char msg[] = "ready\n";
		if (write(ready_fd, msg, sizeof(msg) - 1) != (ssize_t)sizeof(msg) - 1)
			fprintf(stderr, "mxfleet: cannot signal readiness on fd %d: %s\n", ready_fd, strerror(errno));
		close(ready_fd);
		ready_fd = -1;
	}
	loop_run(F.loop);
	rc = 0;
out:
	if (F.by_fd)
		for (int fd = 0; fd < F.max_fd; fd++)
			if (F.by_fd[fd])
				conn_close(F.by_fd[fd], FLEET_CLOSE_FIN);
	for (size_t i = 0; i < F.nls; i++) {
		loop_timer_cancel(F.loop, &F.ls[i].pause);
		loop_del_fd(F.loop, F.ls[i].fd);
		close(F.ls[i].fd);
	}
	free(F.ls);
	for (size_t i = 0; i < F.nchunks; i++)
		free(F.chunks[i]);
	free(F.chunks);
	if (F.rt)
		for (size_t i = 0; i < F.conf.naddrs; i++)
			free(F.rt[i].rate);
	free(F.rt);
	free(F.by_fd);
	fssl_free(F.ssl);
	if (F.sigfd > 0)
		close(F.sigfd);
	loop_free(F.loop);
	fconf_free(&F.conf);
	if (F.verbose)
		fprintf(stderr, "mxfleet: exit, %lu connections served\n", F.accepted);
	return rc;
}
