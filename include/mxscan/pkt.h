/*
 * pkt: captured-packet parsing and the per-flow middlebox verdict, pure (no
 * libpcap, no threads, no clock), so unit tests and the fuzzer feed it
 * hand-built packets.
 *
 * pkt_parse() reads one captured frame (Ethernet with up to two VLAN tags,
 * Linux cooked v1/v2, or raw IP) down to the TCP header, bounded by the
 * captured length. A flow's observation (struct pkt_flow) starts from the
 * SYN-ACK, the server's baseline: its TTL (hop limit), IP ID and window.
 * Every RST and FIN the server's side sends is kept with its TTL, IP ID,
 * sequence number and arrival time; payload that still arrives from the
 * server after a RST is counted. pkt_verdict() then tells a reset the server
 * sent from one injected on the path (reset.injected_suspected, with reasons).
 */
#ifndef MXSCAN_PKT_H
#define MXSCAN_PKT_H

#include <stddef.h>
#include <stdint.h>

/* Link types (DLT_ values of libpcap) pkt_parse understands. */
enum {
	PKT_DLT_EN10MB = 1,
	PKT_DLT_RAW = 12,
	PKT_DLT_RAW_LINKTYPE = 101,
	PKT_DLT_LINUX_SLL = 113,
	PKT_DLT_LINUX_SLL2 = 276,
};

enum pkt_tcp_flag {
	PKT_FIN = 0x01,
	PKT_SYN = 0x02,
	PKT_RST = 0x04,
	PKT_PSH = 0x08,
	PKT_ACK = 0x10,
};

struct pkt {
	uint64_t ts_us; /* capture time, microseconds */
	int family;     /* 4 or 6 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t ttl;  /* IPv4 TTL or IPv6 hop limit */
	int has_ipid; /* IPv4 only */
	uint16_t ipid;
	uint8_t flags; /* PKT_* */
	uint32_t seq;
	uint16_t win;
	int wscale;              /* window scale option (SYN/SYN-ACK only), -1 when absent */
	uint32_t paylen;         /* TCP payload length from the IP header (not the captured length) */
	const uint8_t *payload;  /* the captured part of the payload */
	uint32_t payload_caplen; /* <= paylen */
};

enum pkt_err {
	PKT_OK = 0,
	PKT_ERR_SHORT = -1,    /* truncated before the end of the TCP header */
	PKT_ERR_NOT_TCP = -2,  /* another protocol, a fragment, an unknown link type */
	PKT_ERR_MALFORMED = -3 /* inconsistent lengths */
};

/* Parse one captured frame of link type dlt. Returns PKT_OK with *p filled
 * (p->payload points into frame), or a negative pkt_err. */
int pkt_parse(const uint8_t *frame, size_t caplen, int dlt, uint64_t ts_us, struct pkt *p);

#define PKT_MAX_EVENTS 8

enum pkt_event_kind { PKT_EV_RST = 0, PKT_EV_FIN };

struct pkt_event {
	uint8_t kind; /* enum pkt_event_kind */
	uint8_t ttl;
	int has_ipid;
	uint16_t ipid;
	uint32_t seq;
	uint32_t expected_seq; /* the server's next sequence number when it arrived */
	int in_window;         /* seq within [expected, expected + client window] */
	int ipid_in_sequence;  /* -1 unknown, 0 no, 1 yes (follows the server's IP ID counter) */
	uint64_t ts_us;
};

/* What the capture saw of one connection. Updated packet by packet. */
struct pkt_flow {
	int have_syn, have_synack;
	uint64_t syn_us, synack_us;
	uint8_t synack_ttl;
	int synack_has_ipid;
	uint16_t synack_ipid;
	uint16_t synack_win;
	int client_wscale, server_wscale; /* -1 unknown */
	uint32_t srv_nxt;                 /* next sequence number expected from the server */
	uint32_t cli_win;                 /* client's last advertised receive window (scaled) */
	/* server's IP ID counter: the last nonzero IP ID of a non-SYN packet */
	unsigned ipid_seen; /* server packets after the SYN-ACK with IPv4 nonzero IP ID */
	unsigned ipid_seq;  /* ... that followed the previous one by 1..PKT_IPID_STEP */
	uint16_t last_ipid;
	uint8_t min_ttl, max_ttl; /* TTLs of the server's non-RST packets */
	uint64_t starttls_us;     /* client sent STARTTLS */
	uint64_t hello_us;        /* client sent a TLS handshake record (ClientHello) */
	unsigned nev;
	unsigned ev_dropped;
	struct pkt_event ev[PKT_MAX_EVENTS];
	uint32_t data_after_rst; /* server payload bytes that arrived after its first RST */
	unsigned pkts_after_rst;
};

#define PKT_IPID_STEP 1024 /* a server's own packets advance its IP ID by 1..this */

void pkt_flow_init(struct pkt_flow *f);
/* Fold one packet of the flow in; from_server says its direction. */
void pkt_flow_update(struct pkt_flow *f, const struct pkt *p, int from_server);

enum pkt_verdict_kind {
	PKT_V_NO_SYNACK = 0, /* the capture saw no SYN-ACK: nothing to compare with */
	PKT_V_CLEAN,         /* no reset from the server's side */
	PKT_V_BY_SERVER,     /* reset, nothing suggests a third party */
	PKT_V_INJECTED,      /* reset.injected_suspected */
	PKT_V__COUNT
};
const char *pkt_verdict_name(enum pkt_verdict_kind k);

enum pkt_reason {
	PKT_R_TTL = 1u << 0,        /* RST TTL differs from the SYN-ACK's */
	PKT_R_IPID = 1u << 1,       /* RST IP ID does not follow the server's counter */
	PKT_R_SEQ = 1u << 2,        /* RST sequence outside the client's window */
	PKT_R_DATA_AFTER = 1u << 3, /* server data kept arriving after the RST */
	PKT_R_TWO_RESETS = 1u << 4, /* RSTs with different TTLs: two senders */
	PKT_R__COUNT_BITS = 5,
};
/* Name of reason bit i (0 <= i < PKT_R__COUNT_BITS). */
const char *pkt_reason_name(unsigned bit);

struct pkt_verdict {
	enum pkt_verdict_kind kind;
	unsigned reasons; /* PKT_R_* */
	int rst_index;    /* the event the verdict is about (first RST), -1 none */
};

void pkt_verdict(const struct pkt_flow *f, struct pkt_verdict *v);

#endif
