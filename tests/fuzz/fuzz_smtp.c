// fuzz-sources: scanner/smtp.c
/*
 * Fuzz the SMTP reply parser: arbitrary bytes in fuzzer-chosen splits. The
 * parser must stay within its caps, report consumed counts within the input,
 * and give the same result whether the input is fed whole or split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mxscan/smtp.h"

static int run(const uint8_t *d, size_t n, size_t step, int *code, int *lines)
{
	static struct smtp_parser p;
	struct smtp_caps caps;
	smtp_parser_release(&p); /* the previous run's storage (a zeroed static parser is an initialised one) */
	size_t pos = 0;
	while (pos < n) {
		size_t len = step ? (n - pos < step ? n - pos : step) : n - pos, used = 0;
		int st = smtp_parse(&p, d + pos, len, &used);
		if (used > len)
			abort();
		pos += used;
		if (st == SMTP_DONE) {
			if (p.reply.nlines < 1 || p.reply.nlines > SMTP_MAX_LINES || p.reply.used > SMTP_MAX_REPLY ||
			    p.reply.used > p.reply.text_cap || p.reply.nlines > p.reply.lines_cap)
				abort();
			for (int i = 0; i < p.reply.nlines; i++)
				if ((size_t)p.reply.off[i] + p.reply.len[i] >= p.reply.used ||
				    smtp_line(&p.reply, i)[p.reply.len[i]] != 0)
					abort();
			smtp_parse_caps(&p.reply, &caps);
			(void)smtp_banner_masked(&p.reply);
			*code = p.reply.code;
			*lines = p.reply.nlines;
			return (int)pos;
		}
		if (st < 0)
			return -(int)pos - 1;
		if (used < len)
			abort(); /* NEED_MORE must consume everything */
		if (p.line_cap > SMTP_MAX_LINE || p.linelen > p.line_cap || smtp_parser_heap(&p) > 20 * 1024)
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 7 + 1;
	int c1 = 0, l1 = 0, c2 = 0, l2 = 0;
	int a = run(data + 1, size - 1, 0, &c1, &l1);
	int b = run(data + 1, size - 1, step, &c2, &l2);
	if (a != b || c1 != c2 || l1 != l2)
		abort();
	return 0;
}
