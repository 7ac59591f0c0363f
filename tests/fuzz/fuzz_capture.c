// fuzz-sources: scanner/pkt.c
/*
 * fuzz_capture: arbitrary captured frames through pkt_parse(), and sequences
 * of them through a flow (pkt_flow_update, pkt_verdict).
 *
 * Input: byte 0 picks the link type, byte 1 the direction pattern; the rest is
 * cut into frames by 2-byte big-endian lengths. Each frame is copied into a
 * buffer of exactly its length, so ASan sees any read past the capture.
 * Checks, aborting on a violation: a parsed packet's payload lies inside the
 * frame and its captured part never exceeds the IP-declared length; the flow's
 * event count stays bounded; the verdict and its reason names are in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/pkt.h"

#define CHECK(c)                                                                                     \
	do {                                                                                         \
		if (!(c)) {                                                                          \
			fprintf(stderr, "fuzz_capture: check failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                                     \
		}                                                                                    \
	} while (0)

static const int dlts[] = { PKT_DLT_EN10MB, PKT_DLT_RAW, PKT_DLT_LINUX_SLL, PKT_DLT_LINUX_SLL2, 0 };

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 2)
		return 0;
	int dlt = dlts[d[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	uint8_t dirs = d[1];
	size_t pos = 2;
	struct pkt_flow f;
	pkt_flow_init(&f);
	for (unsigned k = 0; pos + 2 <= n && k < 64; k++) {
		size_t len = (size_t)(d[pos] << 8 | d[pos + 1]);
		pos += 2;
		if (len > n - pos)
			len = n - pos;
		uint8_t *frame = malloc(len ? len : 1);
		if (!frame)
			return 0;
		memcpy(frame, d + pos, len);
		pos += len;
		struct pkt p;
		int r = pkt_parse(frame, len, dlt, k * 1000u, &p);
		CHECK(r == PKT_OK || r == PKT_ERR_SHORT || r == PKT_ERR_NOT_TCP || r == PKT_ERR_MALFORMED);
		if (r == PKT_OK) {
			CHECK(p.family == 4 || p.family == 6);
			CHECK(p.payload >= frame && p.payload <= frame + len);
			CHECK(p.payload_caplen <= p.paylen);
			CHECK((size_t)(p.payload - frame) + p.payload_caplen <= len);
			CHECK(p.wscale >= -1 && p.wscale <= 14);
			pkt_flow_update(&f, &p, (dirs >> (k % 8)) & 1);
		}
		free(frame);
		CHECK(f.nev <= PKT_MAX_EVENTS);
	}
	struct pkt_verdict v;
	pkt_verdict(&f, &v);
	CHECK(v.kind >= PKT_V_NO_SYNACK && v.kind < PKT_V__COUNT);
	CHECK(v.reasons < (1u << PKT_R__COUNT_BITS));
	CHECK(v.rst_index >= -1 && v.rst_index < (int)f.nev);
	CHECK(strcmp(pkt_verdict_name(v.kind), "unknown") != 0);
	CHECK((v.kind == PKT_V_INJECTED) == (v.reasons != 0));
	return 0;
}
