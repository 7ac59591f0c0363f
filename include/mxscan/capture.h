/*
 * capture: libpcap on one interface, for telling resets injected by a device
 * on the path from resets the server sent (--capture IFACE).
 *
 * One capture thread runs its own event loop (loop.c) around pcap's
 * selectable fd (small snaplen, immediate mode, a BPF filter on the scanned
 * ports) and folds each packet into the observation of its flow (pkt.c),
 * found by its 4-tuple in a flow table. Workers register a flow right after
 * connect() (the local port is known then) and take its observation out when
 * the host's record is written. The table is guarded by one mutex that only
 * the capture thread (once per captured packet) and the workers (once at
 * connect, once at finish) take: no lock on the workers' per-event hot path.
 * Packets that arrive before their flow is registered (the SYN can beat the
 * worker back from connect()) wait in a small ring and are replayed at
 * registration.
 *
 * --pcap-out FILE keeps the first CAPTURE_KEEP_PKTS packets of every flow and
 * writes those of the flagged flows (an injected reset suspected, or
 * tampering seen in the dialogue) to a pcap file Wireshark opens.
 */
#ifndef MXSCAN_CAPTURE_H
#define MXSCAN_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mxscan/pkt.h"

#define CAPTURE_SNAPLEN   256 /* Ethernet + IPv6 + TCP with options + the first payload bytes */
#define CAPTURE_KEEP_PKTS 32  /* per flow, for --pcap-out */
#define CAPTURE_GRACE_MS  200 /* packets still counted after a connection ends */

struct capture;

struct capture_opts {
	const char *iface;
	const uint16_t *ports; /* server ports scanned: the BPF filter */
	size_t nports;
	const char *pcap_out; /* NULL: keep no packets */
	unsigned max_flows;   /* flows registered at once (connections in flight) */
};

/* What a host record says about its first connection. */
struct capture_result {
	int on;              /* the connection was registered with the capture */
	uint16_t local_port; /* the scanner's source port */
	struct pkt_flow flow;
	struct pkt_verdict verdict;
	int dumped; /* its packets were written to --pcap-out */
};

/* Open the interface and the --pcap-out file. NULL on failure with a message
 * in err; *perm is set when the cause is missing privileges. */
struct capture *capture_open(const struct capture_opts *o, int *perm, char *err, size_t errlen);
/* Start the capture thread. 0, or -1 with a message. */
int capture_start(struct capture *c, char *err, size_t errlen);
/* Stop the thread (after a last dispatch), flush --pcap-out. */
void capture_stop(struct capture *c);
void capture_free(struct capture *c);
const char *capture_iface(const struct capture *c);

/* Register a connection (local = the scanner's socket, remote = the server)
 * whose connect() was called at wall-clock time since_us. Returns a flow id,
 * or -1 when the table is full or the family is unknown. */
int capture_register(struct capture *c, const struct sockaddr *local, const struct sockaddr *remote, uint64_t since_us);
/* Take flow id's observation out and compute its verdict; write its packets
 * to --pcap-out when the verdict is an injected reset or flag_extra is set
 * (tampering seen in the dialogue). Frees the flow id. */
void capture_finish(struct capture *c, int id, int flag_extra, struct capture_result *out);

struct capture_stats {
	uint64_t packets;      /* parsed TCP packets */
	uint64_t matched;      /* ... that belonged to a registered flow */
	uint64_t flows;        /* flows registered */
	uint64_t dumped;       /* flows written to --pcap-out */
	uint64_t full;         /* registrations refused: table full */
	uint64_t kernel_drops; /* pcap_stats ps_drop */
};
void capture_get_stats(struct capture *c, struct capture_stats *st);

/* Give up root: switch to user's uid/gid (and its groups). 0, or -1 with a message. */
int capture_drop_privileges(const char *user, char *err, size_t errlen);

#endif
