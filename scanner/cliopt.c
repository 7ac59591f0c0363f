/*
 * cliopt: option values shared by mxscan's command lines (see cliopt.h).
 */
#include "mxscan/cliopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxscan/conn.h"
#include "mxscan/engine.h"
#include "mxscan/target.h"

int cli_secs(const char *prog, const char *s, unsigned *ms, const char *opt)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v <= 0 || v > 86400) {
		fprintf(stderr, "%s: %s expects seconds between 0 and 86400, got '%s'\n", prog, opt, s);
		return -1;
	}
	*ms = (unsigned)(v * 1000.0);
	return 0;
}

int cli_mode(const char *prog, const char *s, int *mode)
{
	if (!strcmp(s, "auto"))
		*mode = MODE_AUTO;
	else if (!strcmp(s, "starttls"))
		*mode = MODE_STARTTLS;
	else if (!strcmp(s, "implicit"))
		*mode = MODE_IMPLICIT;
	else {
		fprintf(stderr, "%s: --mode is auto, starttls or implicit, not '%s'\n", prog, s);
		return -1;
	}
	return 0;
}

int cli_ehlo(const char *prog, const char *s, char *ehlo, size_t cap)
{
	if (!*s || strlen(s) >= cap || strpbrk(s, " \r\n\t")) {
		fprintf(stderr, "%s: --ehlo needs a host name without spaces (at most %zu bytes)\n", prog, cap - 1);
		return -1;
	}
	snprintf(ehlo, cap, "%s", s);
	return 0;
}

int cli_resolver(const char *prog, const char *s)
{
	struct target rt;
	char err[256];

	if (target_parse_line(s, strlen(s), &rt, err, sizeof(err)) != 1 || !rt.has_addr || rt.sni[0] || rt.tag[0] ||
	    strpbrk(s, ",#")) {
		fprintf(stderr, "%s: --resolver '%s' is not IP, IP:PORT or [IPv6]:PORT\n", prog, s);
		return -1;
	}
	return 0;
}

int cli_uint(const char *prog, const char *s, unsigned long lo, unsigned long hi, unsigned long *out, const char *opt)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < lo || v > hi) {
		fprintf(stderr, "%s: %s expects a number from %lu to %lu, got '%s'\n", prog, opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_list_add(const char *prog, const char **list, unsigned *n, unsigned max, const char *v, const char *what)
{
	if (*n >= max) {
		fprintf(stderr, "%s: at most %u %s\n", prog, max, what);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

void cli_default_ehlo(char *out, size_t cap)
{
	if (gethostname(out, cap) != 0 || !out[0])
		snprintf(out, cap, "localhost");
	out[cap - 1] = 0;
}
