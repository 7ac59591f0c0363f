/*
 * pkt: captured-packet parser and per-flow reset verdict (see pkt.h).
 *
 * Every read is checked against the captured length before it happens; the
 * IP header's own lengths are checked against each other, and a fragment is
 * refused (its TCP header may not be there). The verdict compares each RST
 * from the server's side with the SYN-ACK (the server's baseline): a device
 * on the path that forges a RST sits at another hop count (TTL), does not
 * share the server's IP ID counter, may guess the sequence number, and does
 * not stop the real server from sending (Weaver, Sommer and Paxson, "Detecting
 * Forged TCP Reset Packets", NDSS 2009, use the same signs).
 */
#include "mxscan/pkt.h"

#include <string.h>
#include <strings.h>

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* TCP header at t (len bytes captured of it and beyond), l4len bytes of TCP
 * segment per the IP header. The parse_* helpers fill a *p that pkt_parse
 * cleared (wscale -1), and set only what their header carries. */
static int parse_tcp(const uint8_t *t, size_t len, uint32_t l4len, struct pkt *p)
{
	if (len < 20)
		return PKT_ERR_SHORT;
	size_t doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff > l4len)
		return PKT_ERR_MALFORMED;
	if (len < doff)
		return PKT_ERR_SHORT;
	p->sport = rd16(t);
	p->dport = rd16(t + 2);
	p->seq = rd32(t + 4);
	p->flags = t[13] & 0x1f;
	p->win = rd16(t + 14);
	/* options (RFC 9293 §3.2): kind 0 ends, 1 pads, others carry a length */
	for (size_t i = 20; i < doff;) {
		uint8_t kind = t[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			break;
		uint8_t olen = t[i + 1];
		if (olen < 2 || i + olen > doff)
			break;
		if (kind == 3 && olen == 3)
			p->wscale = t[i + 2] > 14 ? 14 : t[i + 2]; /* RFC 7323 §2.3: at most 14 */
		i += olen;
	}
	p->paylen = l4len - (uint32_t)doff;
	p->payload = t + doff;
	size_t avail = len - doff;
	p->payload_caplen = avail < p->paylen ? (uint32_t)avail : p->paylen;
	return PKT_OK;
}

static int parse_ip4(const uint8_t *ip, size_t len, struct pkt *p)
{
	if (len < 20)
		return PKT_ERR_SHORT;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	uint16_t total = rd16(ip + 2);
	if (ihl < 20 || total < ihl)
		return PKT_ERR_MALFORMED;
	if (len < ihl)
		return PKT_ERR_SHORT;
	if (rd16(ip + 6) & 0x3fff) /* MF or a fragment offset */
		return PKT_ERR_NOT_TCP;
	if (ip[9] != 6)
		return PKT_ERR_NOT_TCP;
	p->family = 4;
	p->ttl = ip[8];
	p->has_ipid = 1;
	p->ipid = rd16(ip + 4);
	memcpy(p->src, ip + 12, 4); /* the rest stays zero (pkt_parse cleared *p) */
	memcpy(p->dst, ip + 16, 4);
	return parse_tcp(ip + ihl, len - ihl, (uint32_t)(total - ihl), p);
}

static int parse_ip6(const uint8_t *ip, size_t len, struct pkt *p)
{
	if (len < 40)
		return PKT_ERR_SHORT;
	uint32_t plen = rd16(ip + 4);
	uint8_t nh = ip[6];
	size_t off = 40;
	p->family = 6;
	p->ttl = ip[7]; /* no IP ID: has_ipid stays 0 */
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	/* extension headers before TCP (RFC 8200 §4), a bounded walk */
	for (int k = 0; k < 8 && nh != 6; k++) {
		if (nh == 44)
			return PKT_ERR_NOT_TCP; /* fragment */
		if (nh != 0 && nh != 43 && nh != 60)
			return PKT_ERR_NOT_TCP;
		if (len < off + 8)
			return PKT_ERR_SHORT;
		size_t hl = ((size_t)ip[off + 1] + 1) * 8;
		nh = ip[off];
		off += hl;
		if (off - 40 > plen)
			return PKT_ERR_MALFORMED;
	}
	if (nh != 6)
		return PKT_ERR_NOT_TCP;
	if (len < off)
		return PKT_ERR_SHORT;
	return parse_tcp(ip + off, len - off, plen - (uint32_t)(off - 40), p);
}

static int parse_l3(uint16_t ethertype, const uint8_t *d, size_t len, struct pkt *p)
{
	if (ethertype == 0x0800)
		return parse_ip4(d, len, p);
	if (ethertype == 0x86dd)
		return parse_ip6(d, len, p);
	return PKT_ERR_NOT_TCP;
}

int pkt_parse(const uint8_t *frame, size_t caplen, int dlt, uint64_t ts_us, struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->ts_us = ts_us;
	p->wscale = -1;
	switch (dlt) {
	case PKT_DLT_EN10MB: {
		size_t off = 12;
		if (caplen < 14)
			return PKT_ERR_SHORT;
		uint16_t et = rd16(frame + off);
		for (int k = 0; k < 2 && (et == 0x8100 || et == 0x88a8); k++) {
			off += 4;
			if (caplen < off + 2)
				return PKT_ERR_SHORT;
			et = rd16(frame + off);
		}
		off += 2;
		return parse_l3(et, frame + off, caplen - off, p);
	}
	case PKT_DLT_LINUX_SLL:
		if (caplen < 16)
			return PKT_ERR_SHORT;
		return parse_l3(rd16(frame + 14), frame + 16, caplen - 16, p);
	case PKT_DLT_LINUX_SLL2:
		if (caplen < 20)
			return PKT_ERR_SHORT;
		return parse_l3(rd16(frame), frame + 20, caplen - 20, p);
	case PKT_DLT_RAW:
	case PKT_DLT_RAW_LINKTYPE:
		if (caplen < 1)
			return PKT_ERR_SHORT;
		if (frame[0] >> 4 == 4)
			return parse_ip4(frame, caplen, p);
		if (frame[0] >> 4 == 6)
			return parse_ip6(frame, caplen, p);
		return PKT_ERR_NOT_TCP;
	}
	return PKT_ERR_NOT_TCP;
}

void pkt_flow_init(struct pkt_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->client_wscale = f->server_wscale = -1;
	f->min_ttl = 255;
}

/* a is after b in sequence space (RFC 1982 serial arithmetic) */
static int seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static int first_rst(const struct pkt_flow *f)
{
	for (unsigned i = 0; i < f->nev; i++)
		if (f->ev[i].kind == PKT_EV_RST)
			return (int)i;
	return -1;
}

/* Does the server's IP ID counter look sequential enough to judge a RST by? */
static int ipid_counter_usable(const struct pkt_flow *f)
{
	return f->ipid_seq >= 2 && 2 * f->ipid_seq + 1 >= f->ipid_seen;
}

static void add_event(struct pkt_flow *f, const struct pkt *p, enum pkt_event_kind kind)
{
	if (f->nev >= PKT_MAX_EVENTS) {
		f->ev_dropped++;
		return;
	}
	struct pkt_event *e = &f->ev[f->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = (uint8_t)kind;
	e->ttl = p->ttl;
	e->has_ipid = p->has_ipid;
	e->ipid = p->ipid;
	e->seq = p->seq;
	e->ts_us = p->ts_us;
	e->expected_seq = f->srv_nxt;
	if (!f->have_synack) {
		e->in_window = -1;
	} else {
		uint32_t win = f->cli_win ? f->cli_win : 65535;
		int32_t d = (int32_t)(p->seq - f->srv_nxt);
		e->in_window = d >= 0 && (uint32_t)d <= win;
	}
	if (!p->has_ipid || !ipid_counter_usable(f)) {
		e->ipid_in_sequence = -1;
	} else {
		uint16_t step = (uint16_t)(p->ipid - f->last_ipid);
		e->ipid_in_sequence = step >= 1 && step <= PKT_IPID_STEP;
	}
}

void pkt_flow_update(struct pkt_flow *f, const struct pkt *p, int from_server)
{
	if (!from_server) {
		if ((p->flags & PKT_SYN) && !(p->flags & PKT_ACK)) {
			if (!f->have_syn) {
				f->have_syn = 1;
				f->syn_us = p->ts_us;
				f->client_wscale = p->wscale;
			}
			return;
		}
		if (p->flags & PKT_RST)
			return;
		int scale = f->client_wscale >= 0 && f->server_wscale >= 0 ? f->client_wscale : 0;
		f->cli_win = (uint32_t)p->win << scale;
		if (p->payload_caplen >= 8 && !f->starttls_us && !strncasecmp((const char *)p->payload, "STARTTLS", 8))
			f->starttls_us = p->ts_us;
		/* a TLS handshake record (RFC 8446 §5.1: type 22, legacy version 3.x) */
		if (p->payload_caplen >= 2 && !f->hello_us && p->payload[0] == 0x16 && p->payload[1] == 3)
			f->hello_us = p->ts_us;
		return;
	}
	if ((p->flags & (PKT_SYN | PKT_ACK)) == (PKT_SYN | PKT_ACK)) {
		if (!f->have_synack) {
			f->have_synack = 1;
			f->synack_us = p->ts_us;
			f->synack_ttl = p->ttl;
			f->synack_has_ipid = p->has_ipid;
			f->synack_ipid = p->ipid;
			f->synack_win = p->win;
			f->server_wscale = p->wscale;
			f->srv_nxt = p->seq + 1;
		}
		return;
	}
	int rst_before = first_rst(f) >= 0;
	if (p->flags & PKT_RST) {
		add_event(f, p, PKT_EV_RST);
		return; /* a RST carries no data the server meant, and must not move the baseline */
	}
	if (rst_before && p->paylen > 0) {
		f->data_after_rst += p->paylen;
		f->pkts_after_rst++;
	}
	if (p->flags & PKT_FIN)
		add_event(f, p, PKT_EV_FIN);
	if (p->ttl < f->min_ttl)
		f->min_ttl = p->ttl;
	if (p->ttl > f->max_ttl)
		f->max_ttl = p->ttl;
	if (p->has_ipid && p->ipid != 0) {
		if (f->ipid_seen > 0) {
			uint16_t step = (uint16_t)(p->ipid - f->last_ipid);
			if (step >= 1 && step <= PKT_IPID_STEP)
				f->ipid_seq++;
		}
		f->ipid_seen++;
		f->last_ipid = p->ipid;
	}
	if (f->have_synack) {
		uint32_t end = p->seq + p->paylen + ((p->flags & PKT_FIN) ? 1 : 0);
		if (seq_after(end, f->srv_nxt))
			f->srv_nxt = end;
	}
}

static const char *const verdict_names[PKT_V__COUNT] = {
	[PKT_V_NO_SYNACK] = "no-syn-ack-seen",
	[PKT_V_CLEAN] = "no-reset",
	[PKT_V_BY_SERVER] = "reset.by_server",
	[PKT_V_INJECTED] = "reset.injected_suspected",
};
_Static_assert(sizeof(verdict_names) / sizeof(verdict_names[0]) == PKT_V__COUNT, "verdict names");

const char *pkt_verdict_name(enum pkt_verdict_kind k)
{
	return (unsigned)k < PKT_V__COUNT ? verdict_names[k] : "unknown";
}

static const char *const reason_names[PKT_R__COUNT_BITS] = {
	"ttl-differs-from-syn-ack", "ip-id-out-of-sequence",      "seq-outside-window",
	"server-data-after-rst",    "resets-with-different-ttls",
};

const char *pkt_reason_name(unsigned bit)
{
	return bit < PKT_R__COUNT_BITS ? reason_names[bit] : "unknown";
}

void pkt_verdict(const struct pkt_flow *f, struct pkt_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->rst_index = first_rst(f);
	if (!f->have_synack) {
		v->kind = PKT_V_NO_SYNACK;
		return;
	}
	if (v->rst_index < 0) {
		v->kind = PKT_V_CLEAN;
		return;
	}
	int fin_seen = 0;
	int rst_ttl = -1;
	for (unsigned i = 0; i < f->nev; i++) {
		const struct pkt_event *e = &f->ev[i];
		if (e->kind == PKT_EV_FIN) {
			fin_seen = 1;
			continue;
		}
		if (e->ttl != f->synack_ttl)
			v->reasons |= PKT_R_TTL;
		/* After the server's own FIN its kernel answers with RSTs from no
		 * socket (IP ID 0 on Linux): only judge the counter before that. */
		if (e->ipid_in_sequence == 0 && !fin_seen)
			v->reasons |= PKT_R_IPID;
		if (e->in_window == 0)
			v->reasons |= PKT_R_SEQ;
		if (rst_ttl >= 0 && rst_ttl != e->ttl)
			v->reasons |= PKT_R_TWO_RESETS;
		rst_ttl = e->ttl;
	}
	if (f->data_after_rst > 0)
		v->reasons |= PKT_R_DATA_AFTER;
	v->kind = v->reasons ? PKT_V_INJECTED : PKT_V_BY_SERVER;
}
