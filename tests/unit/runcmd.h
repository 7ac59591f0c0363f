/* run(): a shell command built printf-style, for unit tests that make their
 * own fixtures (certificates with scripts/certs.sh and openssl). Says the
 * command in a TAP diagnostic when it fails. Include after tap.h. */
#ifndef MXSCAN_TEST_RUNCMD_H
#define MXSCAN_TEST_RUNCMD_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0)
		diag("command failed (%d): %s", rc, cmd);
	return rc;
}

#endif
