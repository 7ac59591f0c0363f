/*
 * refclient: the floor for mxscan's CPU per probe. It makes, for every
 * target, exactly the syscalls of one STARTTLS probe and nothing else:
 * socket, connect (non-blocking, TCP_NODELAY like mxscan), read the banner,
 * EHLO, read the reply, STARTTLS, read the 220, send one ClientHello, read the
 * server's first flight (up to ServerHelloDone, an alert, or the ServerHello
 * of TLS 1.3), close. One epoll loop, one thread, a fixed array of
 * connections; no records, no parsing beyond finding where replies end.
 * scripts/bench.sh runs it and mxscan on the same fleet and compares CPU
 * seconds per 1,000 probe connections.
 *
 *   refclient [-c CONCURRENCY] [-S SUITES_FILE] [-e EHLO_NAME] < targets
 *
 * targets: "a.b.c.d:port" per line (IPv4). SUITES_FILE: lines starting with
 * a hex suite code ("0x1301 ..."), e.g. `mxscan --list-baseline`, so the
 * ClientHello offers what mxscan's baseline offers. Prints one line: probes,
 * completed to a TLS answer, failed, wall ms. Plain C17, no dependencies.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum st { S_FREE, S_CONNECT, S_BANNER, S_EHLO, S_STARTTLS, S_TLS };

struct rc {
	int fd;
	enum st st;
	uint64_t deadline;
	char line[1024]; /* the SMTP line being read (bounded; longer lines are cut) */
	size_t llen;
	/* TLS record / handshake stream parser */
	uint8_t rh[5];
	size_t rhn, rleft; /* record header bytes seen, record body bytes left */
	uint8_t rtype;
	uint8_t hh[4];
	size_t hhn, hleft; /* handshake header bytes seen, message body left */
	uint8_t sh[512];   /* the ServerHello body (to find supported_versions) */
	size_t shn;
};

static struct sockaddr_in *targets;
static size_t ntargets, next_target, done, ok, failed;
static uint8_t hello[4096];
static size_t hello_len;
static char ehlo_cmd[300];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A TLS 1.0-1.3 ClientHello offering codes[], x25519 key share. */
static void build_hello(const uint16_t *codes, size_t n)
{
	uint8_t *p = hello + 9; /* record header 5 + handshake header 4 */
	*p++ = 3, *p++ = 3;
	for (int i = 0; i < 32; i++)
		*p++ = (uint8_t)(i * 7 + 1);
	*p++ = 32;
	for (int i = 0; i < 32; i++)
		*p++ = (uint8_t)(i * 13 + 5);
	put16(p, 2 * n), p += 2;
	for (size_t i = 0; i < n; i++)
		put16(p, codes[i]), p += 2;
	*p++ = 1, *p++ = 0;
	uint8_t *ext = p;
	p += 2;
	static const uint8_t fixed[] = {
		0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,       /* groups */
		0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,                                           /* point formats */
		0x00, 0x0d, 0x00, 0x12, 0x00, 0x10, 0x04, 0x03, 0x05, 0x03, 0x08, 0x04,       /* signature algs */
		0x08, 0x05, 0x04, 0x01, 0x05, 0x01, 0x02, 0x01, 0x02, 0x03,                   /* ... */
		0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, /* versions */
		0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,                                           /* psk modes */
		0xff, 0x01, 0x00, 0x01, 0x00,                                                 /* reneg info */
		0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20,                   /* key share */
	};
	memcpy(p, fixed, sizeof(fixed));
	p += sizeof(fixed);
	for (int i = 0; i < 32; i++) /* any 32 bytes are an X25519 public value */
		*p++ = (uint8_t)(i * 29 + 9);
	put16(ext, (size_t)(p - ext - 2));
	size_t body = (size_t)(p - hello - 9);
	hello[0] = 22, hello[1] = 3, hello[2] = 1;
	put16(hello + 3, body + 4);
	hello[5] = 1, hello[6] = (uint8_t)(body >> 16), hello[7] = (uint8_t)(body >> 8), hello[8] = (uint8_t)body;
	hello_len = body + 9;
}

/* supported_versions in the ServerHello body says TLS 1.3 */
static int sh_is_tls13(const struct rc *c)
{
	const uint8_t *b = c->sh;
	size_t n = c->shn, i = 2 + 32;
	if (n < i + 1)
		return 0;
	i += 1 + b[i] + 2 + 1; /* session id, suite, compression */
	if (n < i + 2)
		return 0;
	size_t end = i + 2 + ((size_t)b[i] << 8 | b[i + 1]);
	for (i += 2; i + 4 <= end && i + 4 <= n;) {
		size_t type = (size_t)b[i] << 8 | b[i + 1], len = (size_t)b[i + 2] << 8 | b[i + 3];
		if (type == 0x2b && len == 2 && i + 6 <= n)
			return b[i + 4] == 3 && b[i + 5] == 4;
		i += 4 + len;
	}
	return 0;
}

static void finish(int ep, struct rc *c, int success);

/* Feed TLS bytes; 1 when the first flight is complete. */
static int tls_feed(struct rc *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (c->rleft == 0) {
			c->rh[c->rhn++] = *p++, n--;
			if (c->rhn == 5) {
				c->rtype = c->rh[0];
				c->rleft = (size_t)c->rh[3] << 8 | c->rh[4];
				c->rhn = 0;
				if (c->rtype != 22) /* alert, CCS or encrypted data: the flight is over */
					return 1;
			}
			continue;
		}
		size_t take = n < c->rleft ? n : c->rleft;
		c->rleft -= take;
		for (size_t i = 0; i < take; i++) {
			if (c->hleft == 0) {
				c->hh[c->hhn++] = p[i];
				if (c->hhn == 4) {
					c->hleft = (size_t)c->hh[1] << 16 | (size_t)c->hh[2] << 8 | c->hh[3];
					c->hhn = 0;
					if (c->hh[0] == 14) /* ServerHelloDone */
						return 1;
					if (c->hh[0] == 2)
						c->shn = 0;
				}
			} else {
				if (c->hh[0] == 2 && c->shn < sizeof(c->sh))
					c->sh[c->shn++] = p[i];
				if (--c->hleft == 0 && c->hh[0] == 2 && sh_is_tls13(c))
					return 1;
			}
		}
		p += take, n -= take;
	}
	return 0;
}

static int send_all(int fd, const void *b, size_t n)
{
	return send(fd, b, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1; /* a few hundred bytes: one send */
}

static void on_readable(int ep, struct rc *c)
{
	uint8_t buf[16384];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		finish(ep, c, 0);
		return;
	}
	if (c->st == S_TLS) {
		if (tls_feed(c, buf, (size_t)n))
			finish(ep, c, 1);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (c->llen < sizeof(c->line))
			c->line[c->llen++] = (char)buf[i];
		if (buf[i] != '\n')
			continue;
		int last = c->llen >= 4 && c->line[3] == ' ';
		int code = c->llen >= 3 ? (c->line[0] - '0') * 100 + (c->line[1] - '0') * 10 + (c->line[2] - '0') : 0;
		c->llen = 0;
		if (!last)
			continue;
		if (c->st == S_BANNER && code == 220) {
			c->st = S_EHLO;
			if (send_all(c->fd, ehlo_cmd, strlen(ehlo_cmd)) < 0) {
				finish(ep, c, 0);
				return;
			}
		} else if (c->st == S_EHLO && code == 250) {
			c->st = S_STARTTLS;
			if (send_all(c->fd, "STARTTLS\r\n", 10) < 0) {
				finish(ep, c, 0);
				return;
			}
		} else if (c->st == S_STARTTLS && code == 220) {
			c->st = S_TLS;
			if (send_all(c->fd, hello, hello_len) < 0) {
				finish(ep, c, 0);
				return;
			}
			if (i + 1 < n && tls_feed(c, buf + i + 1, (size_t)(n - i - 1)))
				finish(ep, c, 1);
			return;
		} else {
			finish(ep, c, 0);
			return;
		}
	}
}

static void start(int ep, struct rc *c)
{
	while (next_target < ntargets) {
		const struct sockaddr_in *sa = &targets[next_target++];
		memset(c, 0, sizeof(*c));
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			failed++, done++;
			continue;
		}
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS) {
			close(c->fd);
			failed++, done++;
			continue;
		}
		struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
		c->st = S_CONNECT;
		c->deadline = now_ms() + 15000;
		return;
	}
	c->st = S_FREE;
	c->fd = -1;
}

static void finish(int ep, struct rc *c, int success)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	done++;
	if (success)
		ok++;
	else
		failed++;
	start(ep, c);
}

int main(int argc, char **argv)
{
	size_t conc = 200;
	const char *suites = NULL, *ehlo = "refclient.invalid";
	int o;
	while ((o = getopt(argc, argv, "c:S:e:")) != -1) {
		if (o == 'c')
			conc = strtoul(optarg, NULL, 10);
		else if (o == 'S')
			suites = optarg;
		else if (o == 'e')
			ehlo = optarg;
		else {
			fprintf(stderr, "usage: refclient [-c CONCURRENCY] [-S SUITES_FILE] [-e EHLO] < targets\n");
			return 1;
		}
	}
	snprintf(ehlo_cmd, sizeof(ehlo_cmd), "EHLO %s\r\n", ehlo);
	uint16_t codes[600];
	size_t ncodes = 0;
	char line[256];
	if (suites) {
		FILE *f = fopen(suites, "r");
		if (!f) {
			perror(suites);
			return 1;
		}
		while (ncodes < 600 && fgets(line, sizeof(line), f))
			if (!strncmp(line, "0x", 2))
				codes[ncodes++] = (uint16_t)strtoul(line, NULL, 16);
		fclose(f);
	}
	if (!ncodes) {
		static const uint16_t dflt[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
						 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a };
		memcpy(codes, dflt, sizeof(dflt));
		ncodes = sizeof(dflt) / sizeof(dflt[0]);
	}
	build_hello(codes, ncodes);
	size_t cap = 1024;
	targets = malloc(cap * sizeof(*targets));
	while (targets && fgets(line, sizeof(line), stdin)) {
		char *colon = strrchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		if (ntargets == cap)
			targets = realloc(targets, (cap *= 2) * sizeof(*targets));
		if (!targets)
			break;
		struct sockaddr_in *sa = &targets[ntargets];
		memset(sa, 0, sizeof(*sa));
		sa->sin_family = AF_INET;
		sa->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, line, &sa->sin_addr) == 1)
			ntargets++;
	}
	if (!targets)
		return 1;
	if (conc > ntargets)
		conc = ntargets ? ntargets : 1;
	struct rc *conns = calloc(conc, sizeof(*conns));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0)
		return 1;
	uint64_t t0 = now_ms(), last_sweep = t0;
	for (size_t i = 0; i < conc; i++)
		start(ep, &conns[i]);
	struct epoll_event evs[256];
	while (done < ntargets) {
		int n = epoll_wait(ep, evs, 256, 1000);
		for (int i = 0; i < n; i++) {
			struct rc *c = evs[i].data.ptr;
			if (c->st == S_CONNECT) {
				int err = 0;
				socklen_t len = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err || (evs[i].events & (EPOLLERR | EPOLLHUP))) {
					finish(ep, c, 0);
					continue;
				}
				c->st = S_BANNER;
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			} else if (c->st != S_FREE) {
				on_readable(ep, c);
			}
		}
		uint64_t now = now_ms();
		if (now - last_sweep >= 1000) { /* deadlines: a sweep a second is enough for a floor */
			last_sweep = now;
			for (size_t i = 0; i < conc; i++)
				if (conns[i].st != S_FREE && now > conns[i].deadline)
					finish(ep, &conns[i], 0);
		}
	}
	printf("refclient: %zu probes, %zu to a TLS answer, %zu failed, %llu ms\n", ntargets, ok, failed,
	       (unsigned long long)(now_ms() - t0));
	free(conns);
	free(targets);
	close(ep);
	return 0;
}
