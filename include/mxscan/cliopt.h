#ifndef MXSCAN_CLIOPT_H
#define MXSCAN_CLIOPT_H
/*
 * cliopt: option values shared by the command lines of `mxscan` and `mxscan diagnose`, checked
 * the same way in both. Each returns 0, or -1 after one message on stderr that starts with prog
 * ("mxscan", "mxscan diagnose") and names the option.
 */
#include <stddef.h>

/* Seconds (decimals allowed, 0 < s <= 86400) into milliseconds. */
int cli_secs(const char *prog, const char *s, unsigned *ms, const char *opt);
/* --mode auto|starttls|implicit into MODE_AUTO or an enum conn_mode. */
int cli_mode(const char *prog, const char *s, int *mode);
/* --ehlo: a non-empty name without spaces that fits cap bytes with its NUL; copied into ehlo. */
int cli_ehlo(const char *prog, const char *s, char *ehlo, size_t cap);
/* --resolver: IP, IP:PORT or [IPv6]:PORT, the form resolve_set_servers accepts. */
int cli_resolver(const char *prog, const char *s);
/* A decimal number from lo to hi, named opt in the message. */
int cli_uint(const char *prog, const char *s, unsigned long lo, unsigned long hi, unsigned long *out, const char *opt);
/* Append a repeated option's value to list (at most max); the message says "at most MAX what". */
int cli_list_add(const char *prog, const char **list, unsigned *n, unsigned max, const char *v, const char *what);
/* The default EHLO name: this host's name, or "localhost"; never fails (cap >= 1). */
void cli_default_ehlo(char *out, size_t cap);

#endif
