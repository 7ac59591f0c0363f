/*
 * Packet parser and reset verdict (scanner/pkt.c), fed with hand-built
 * frames: Ethernet (plain and VLAN), Linux cooked v1/v2 and raw IP, IPv4 and
 * IPv6 (with an extension header); every truncation of a frame is refused
 * without reading past it; fragments are refused. Then whole flows, packet by
 * packet, as the capture thread folds them: a clean dialogue, a RST the
 * server sent, RSTs forged on the path (TTL, IP ID, sequence outside the
 * window, server data after the RST, two resets), a RST after the server's
 * FIN, random IP IDs, no SYN-ACK.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "mxscan/pkt.h"
#include "tap.h"

struct spec {
	int v6;
	const char *src, *dst;
	uint16_t sport, dport;
	uint8_t ttl;
	uint16_t ipid;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	int wscale; /* -1: no option */
	const char *payload;
};

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, (uint16_t)(v >> 16));
	w16(p + 2, (uint16_t)v);
}

/* IP + TCP at out; returns its length. */
static size_t build_ip(const struct spec *s, uint8_t *out)
{
	size_t plen = s->payload ? strlen(s->payload) : 0;
	size_t optlen = s->wscale >= 0 ? 4 : 0;
	size_t tcplen = 20 + optlen + plen;
	uint8_t *t;
	size_t iplen;
	if (!s->v6) {
		iplen = 20;
		memset(out, 0, 20);
		out[0] = 0x45;
		w16(out + 2, (uint16_t)(20 + tcplen));
		w16(out + 4, s->ipid);
		out[6] = 0x40; /* DF */
		out[8] = s->ttl;
		out[9] = 6;
		inet_pton(AF_INET, s->src, out + 12);
		inet_pton(AF_INET, s->dst, out + 16);
	} else {
		iplen = 40;
		memset(out, 0, 40);
		out[0] = 0x60;
		w16(out + 4, (uint16_t)tcplen);
		out[6] = 6;
		out[7] = s->ttl;
		inet_pton(AF_INET6, s->src, out + 8);
		inet_pton(AF_INET6, s->dst, out + 24);
	}
	t = out + iplen;
	memset(t, 0, 20 + optlen);
	w16(t, s->sport);
	w16(t + 2, s->dport);
	w32(t + 4, s->seq);
	w32(t + 8, s->ack);
	t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	t[13] = s->flags;
	w16(t + 14, s->win);
	if (optlen) {
		t[20] = 1; /* NOP */
		t[21] = 3;
		t[22] = 3;
		t[23] = (uint8_t)s->wscale;
	}
	if (plen)
		memcpy(t + 20 + optlen, s->payload, plen);
	return iplen + tcplen;
}

static size_t build_eth(const struct spec *s, uint8_t *out)
{
	memset(out, 0xaa, 12);
	w16(out + 12, s->v6 ? 0x86dd : 0x0800);
	return 14 + build_ip(s, out + 14);
}

#define CLI   "192.0.2.10"
#define SRV   "198.51.100.25"
#define ISN_C 1000u
#define ISN_S 5000u

/* A flow under construction: each call builds, parses and folds one packet. */
struct flowt {
	struct pkt_flow f;
	uint64_t t;
	int bad;
};

static void feed(struct flowt *ft, int from_server, uint8_t ttl, uint16_t ipid, uint8_t flags, uint32_t seq,
		 const char *payload)
{
	struct spec s = { 0,
			  from_server ? SRV : CLI,
			  from_server ? CLI : SRV,
			  from_server ? 25 : 40000,
			  from_server ? 40000 : 25,
			  ttl,
			  ipid,
			  flags,
			  seq,
			  0,
			  502,
			  -1,
			  payload };
	if (flags & PKT_SYN)
		s.wscale = 7;
	uint8_t frame[2048];
	size_t n = build_eth(&s, frame);
	struct pkt p;
	ft->t += 1000;
	if (pkt_parse(frame, n, PKT_DLT_EN10MB, ft->t, &p) != PKT_OK) {
		ft->bad++;
		return;
	}
	pkt_flow_update(&ft->f, &p, from_server);
}

/* handshake and dialogue up to STARTTLS: server IP IDs from ipid0 upwards */
static void dialogue(struct flowt *ft, uint16_t ipid0)
{
	memset(ft, 0, sizeof(*ft));
	pkt_flow_init(&ft->f);
	feed(ft, 0, 64, 1, PKT_SYN, ISN_C, NULL);
	feed(ft, 1, 63, 0, PKT_SYN | PKT_ACK, ISN_S, NULL);
	feed(ft, 0, 64, 2, PKT_ACK, ISN_C + 1, NULL);
	feed(ft, 1, 63, ipid0, PKT_ACK | PKT_PSH, ISN_S + 1, "220 mx ESMTP\r\n"); /* 14 bytes */
	feed(ft, 0, 64, 3, PKT_ACK | PKT_PSH, ISN_C + 1, "EHLO scanner\r\n");
	feed(ft, 1, 63, (uint16_t)(ipid0 + 1), PKT_ACK, ISN_S + 15, NULL);
	feed(ft, 1, 63, (uint16_t)(ipid0 + 2), PKT_ACK | PKT_PSH, ISN_S + 15, "250-mx\r\n250 STARTTLS\r\n"); /* 22 */
	feed(ft, 0, 64, 4, PKT_ACK | PKT_PSH, ISN_C + 15, "STARTTLS\r\n");
}
#define NXT (ISN_S + 37) /* the server's next sequence number after dialogue() */

static const char *reasons(unsigned r, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = 0;
	for (unsigned b = 0; b < PKT_R__COUNT_BITS; b++)
		if (r & (1u << b))
			n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", pkt_reason_name(b));
	return buf;
}

static void expect(struct flowt *ft, enum pkt_verdict_kind kind, unsigned want_reasons, const char *what)
{
	struct pkt_verdict v;
	char a[256], b[256];
	pkt_verdict(&ft->f, &v);
	is_int(ft->bad, 0, "%s: every packet parsed", what);
	is_str(pkt_verdict_name(v.kind), pkt_verdict_name(kind), "%s: verdict", what);
	is_str(reasons(v.reasons, a, sizeof(a)), reasons(want_reasons, b, sizeof(b)), "%s: reasons", what);
}

static void test_parse(void)
{
	uint8_t frame[2048], alt[2048];
	struct pkt p;
	struct spec s = { 0, CLI, SRV, 40000, 25, 64, 4242, PKT_SYN, 123456789u, 0, 64240, 10, NULL };
	size_t n = build_eth(&s, frame);
	is_int(pkt_parse(frame, n, PKT_DLT_EN10MB, 7, &p), PKT_OK, "IPv4 SYN over Ethernet parses");
	ok(p.family == 4 && p.ttl == 64 && p.has_ipid && p.ipid == 4242, "TTL and IP ID");
	ok(p.sport == 40000 && p.dport == 25 && p.seq == 123456789u && p.flags == PKT_SYN, "ports, seq, flags");
	ok(p.win == 64240 && p.wscale == 10 && p.paylen == 0 && p.ts_us == 7, "window, wscale option, no payload");
	uint8_t a4[4];
	inet_pton(AF_INET, SRV, a4);
	ok(!memcmp(p.dst, a4, 4), "destination address");

	/* every truncation is refused, never read beyond */
	int all_refused = 1;
	for (size_t k = 0; k < n; k++) {
		memcpy(alt, frame, k); /* a copy exactly k bytes long (ASan would see an overread) */
		if (pkt_parse(alt, k, PKT_DLT_EN10MB, 0, &p) == PKT_OK)
			all_refused = 0;
	}
	ok(all_refused, "each of the %zu truncations of a SYN is refused", n);

	struct spec d = { 0, SRV, CLI, 25, 40000, 63, 7, PKT_ACK | PKT_PSH, 1, 2, 500, -1, "220 hello there\r\n" };
	n = build_eth(&d, frame);
	is_int(pkt_parse(frame, n - 5, PKT_DLT_EN10MB, 0, &p), PKT_OK, "payload cut by the snaplen still parses");
	ok(p.paylen == 17 && p.payload_caplen == 12 && !memcmp(p.payload, "220 hello th", 12),
	   "payload length from the IP header, captured part bounded");
	frame[14 + 6] = 0x20; /* MF */
	is_int(pkt_parse(frame, n, PKT_DLT_EN10MB, 0, &p), PKT_ERR_NOT_TCP, "a fragment is refused");
	frame[14 + 6] = 0x40;
	frame[14 + 9] = 17;
	is_int(pkt_parse(frame, n, PKT_DLT_EN10MB, 0, &p), PKT_ERR_NOT_TCP, "UDP is not TCP");
	frame[14 + 9] = 6;
	w16(frame + 14 + 2, 30); /* total length shorter than IP + TCP headers */
	is_int(pkt_parse(frame, n, PKT_DLT_EN10MB, 0, &p), PKT_ERR_MALFORMED, "inconsistent IP length refused");
	frame[14 + 32] = 0x10; /* TCP data offset 4 bytes < 20 */
	w16(frame + 14 + 2, (uint16_t)(n - 14));
	is_int(pkt_parse(frame, n, PKT_DLT_EN10MB, 0, &p), PKT_ERR_MALFORMED, "TCP data offset below 20 refused");

	/* VLAN tag */
	n = build_eth(&d, frame);
	memmove(frame + 16, frame + 12, n - 12);
	w16(frame + 12, 0x8100);
	w16(frame + 14, 42);
	is_int(pkt_parse(frame, n + 4, PKT_DLT_EN10MB, 0, &p), PKT_OK, "802.1Q-tagged frame parses");
	ok(p.sport == 25 && p.paylen == 17, "... to the same TCP segment");

	/* raw IP and Linux cooked captures */
	size_t ipn = build_ip(&d, frame);
	is_int(pkt_parse(frame, ipn, PKT_DLT_RAW, 0, &p), PKT_OK, "raw IPv4 (DLT_RAW)");
	memset(alt, 0, 16);
	w16(alt + 14, 0x0800);
	memcpy(alt + 16, frame, ipn);
	is_int(pkt_parse(alt, ipn + 16, PKT_DLT_LINUX_SLL, 0, &p), PKT_OK, "Linux cooked v1");
	memset(alt, 0, 20);
	w16(alt, 0x0800);
	memcpy(alt + 20, frame, ipn);
	is_int(pkt_parse(alt, ipn + 20, PKT_DLT_LINUX_SLL2, 0, &p), PKT_OK, "Linux cooked v2");
	is_int(pkt_parse(frame, ipn, 9999, 0, &p), PKT_ERR_NOT_TCP, "unknown link type refused");

	/* IPv6, then with a destination-options header in front of TCP */
	struct spec s6 = {
		1, "2001:db8::10", "2001:db8:1::25", 25, 40000, 58, 0, PKT_RST | PKT_ACK, 9, 9, 0, -1, NULL
	};
	n = build_eth(&s6, frame);
	is_int(pkt_parse(frame, n, PKT_DLT_EN10MB, 0, &p), PKT_OK, "IPv6 RST parses");
	ok(p.family == 6 && p.ttl == 58 && !p.has_ipid && (p.flags & PKT_RST), "hop limit, no IP ID");
	memmove(frame + 14 + 48, frame + 14 + 40, n - 54);
	frame[14 + 6] = 60; /* next header: destination options */
	w16(frame + 14 + 4, (uint16_t)((frame[14 + 4] << 8 | frame[14 + 5]) + 8));
	memset(frame + 14 + 40, 0, 8);
	frame[14 + 40] = 6; /* then TCP; length (0 + 1) * 8 */
	is_int(pkt_parse(frame, n + 8, PKT_DLT_EN10MB, 0, &p), PKT_OK, "IPv6 with an extension header parses");
	ok(p.sport == 25 && (p.flags & PKT_RST), "... to the TCP header behind it");
	frame[14 + 40] = 44; /* then a fragment header */
	is_int(pkt_parse(frame, n + 8, PKT_DLT_EN10MB, 0, &p), PKT_ERR_NOT_TCP, "IPv6 fragment refused");
}

static void test_flows(void)
{
	struct flowt ft;

	dialogue(&ft, 300);
	ok(ft.f.have_syn && ft.f.have_synack && ft.f.synack_ttl == 63 && ft.f.synack_ipid == 0, "SYN-ACK baseline");
	is_int(ft.f.srv_nxt, NXT, "server's next sequence number follows its data");
	is_int(ft.f.cli_win, 502u << 7, "client window scaled by its wscale (both sides sent one)");
	ok(ft.f.starttls_us > 0 && ft.f.hello_us == 0, "STARTTLS sent is timed, no ClientHello yet");
	feed(&ft, 1, 63, 303, PKT_ACK | PKT_PSH, NXT, "220 go ahead\r\n");
	feed(&ft, 0, 64, 5, PKT_ACK | PKT_PSH, ISN_C + 25, "\x16\x03\x01\x00\x05hello");
	ok(ft.f.hello_us > ft.f.starttls_us, "ClientHello timed after STARTTLS");
	feed(&ft, 1, 63, 304, PKT_ACK | PKT_FIN, NXT + 14, NULL);
	expect(&ft, PKT_V_CLEAN, 0, "clean dialogue ending with the server's FIN");
	is_int(ft.f.nev, 1, "the FIN is an event");

	dialogue(&ft, 300);
	feed(&ft, 1, 63, 303, PKT_RST | PKT_ACK, NXT, NULL);
	expect(&ft, PKT_V_BY_SERVER, 0, "RST from the server (its TTL, next IP ID, exact seq)");
	ok(ft.f.ev[0].in_window == 1 && ft.f.ev[0].ipid_in_sequence == 1, "in window, IP ID in sequence");

	dialogue(&ft, 300);
	feed(&ft, 1, 64, 0, PKT_RST, NXT, NULL);
	expect(&ft, PKT_V_INJECTED, PKT_R_TTL | PKT_R_IPID, "RST one hop closer with IP ID 0 (a middlebox REJECT)");
	ok(ft.f.ev[0].ts_us > ft.f.starttls_us, "the RST is timed after STARTTLS");

	dialogue(&ft, 300);
	feed(&ft, 1, 63, 303, PKT_RST, NXT + 5000000u, NULL);
	expect(&ft, PKT_V_INJECTED, PKT_R_SEQ, "RST with a guessed sequence number outside the window");

	dialogue(&ft, 300);
	feed(&ft, 1, 63, 303, PKT_RST, NXT - 1, NULL);
	expect(&ft, PKT_V_INJECTED, PKT_R_SEQ, "RST one byte before the window");

	dialogue(&ft, 300);
	feed(&ft, 1, 63, 303, PKT_RST, NXT, NULL);
	feed(&ft, 1, 63, 304, PKT_ACK | PKT_PSH, NXT, "220 ready\r\n");
	expect(&ft, PKT_V_INJECTED, PKT_R_DATA_AFTER, "the server's 220 still arrives after the RST");
	is_int(ft.f.data_after_rst, 11, "bytes after the RST counted");

	dialogue(&ft, 300);
	feed(&ft, 1, 64, 0, PKT_RST, NXT, NULL);
	feed(&ft, 1, 63, 304, PKT_RST, NXT, NULL);
	expect(&ft, PKT_V_INJECTED, PKT_R_TTL | PKT_R_IPID | PKT_R_TWO_RESETS, "a forged RST, then the server's own");

	dialogue(&ft, 300);
	feed(&ft, 1, 63, 303, PKT_ACK | PKT_FIN, NXT, NULL);
	feed(&ft, 1, 63, 0, PKT_RST, NXT + 1, NULL);
	expect(&ft, PKT_V_BY_SERVER, 0,
	       "RST from the closed socket after the server's FIN (IP ID 0 not held against it)");

	dialogue(&ft, 65533);
	feed(&ft, 1, 63, 0, PKT_RST | PKT_ACK, NXT, NULL);
	is_int(ft.f.ev[0].ipid_in_sequence, 1, "IP ID 65535 then 0 is in sequence");
	expect(&ft, PKT_V_BY_SERVER, 0, "IP ID counter wrapping past 65535");

	/* a server with random IP IDs: the counter cannot be judged */
	memset(&ft, 0, sizeof(ft));
	pkt_flow_init(&ft.f);
	feed(&ft, 0, 64, 1, PKT_SYN, ISN_C, NULL);
	feed(&ft, 1, 63, 0, PKT_SYN | PKT_ACK, ISN_S, NULL);
	feed(&ft, 1, 63, 40000, PKT_ACK | PKT_PSH, ISN_S + 1, "220 a\r\n");
	feed(&ft, 1, 63, 9, PKT_ACK | PKT_PSH, ISN_S + 8, "250 b\r\n");
	feed(&ft, 1, 63, 23000, PKT_ACK | PKT_PSH, ISN_S + 15, "250 c\r\n");
	feed(&ft, 1, 63, 51000, PKT_RST, ISN_S + 22, NULL);
	expect(&ft, PKT_V_BY_SERVER, 0, "random IP IDs: no IP ID reason");
	is_int(ft.f.ev[0].ipid_in_sequence, -1, "IP ID sequence unknown");

	memset(&ft, 0, sizeof(ft));
	pkt_flow_init(&ft.f);
	feed(&ft, 0, 64, 1, PKT_SYN, ISN_C, NULL);
	feed(&ft, 1, 64, 0, PKT_RST | PKT_ACK, 0, NULL);
	expect(&ft, PKT_V_NO_SYNACK, 0, "refused (RST to the SYN): no baseline");

	memset(&ft, 0, sizeof(ft));
	pkt_flow_init(&ft.f);
	for (int i = 0; i < PKT_MAX_EVENTS + 3; i++)
		feed(&ft, 1, 63, 0, PKT_RST, 1, NULL);
	ok(ft.f.nev == PKT_MAX_EVENTS && ft.f.ev_dropped == 3, "events bounded, the rest counted");
}

int main(void)
{
	test_parse();
	test_flows();
	return done_testing();
}
