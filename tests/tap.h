/* tap.h: a tiny TAP producer for unit tests (run them under prove). */
#ifndef MXSCAN_TAP_H
#define MXSCAN_TAP_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int tap_n, tap_fail;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	if (!cond)
		tap_fail++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		printf("#   Failed at %s line %d\n", file, line);
	fflush(stdout);
	return cond;
}
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                           \
	do {                                                             \
		long long g_ = (long long)(got), w_ = (long long)(want); \
		if (!ok(g_ == w_, __VA_ARGS__))                          \
			printf("#   got %lld, want %lld\n", g_, w_);     \
	} while (0)
#define is_str(got, want, ...)                                                                           \
	do {                                                                                             \
		const char *g_ = (got), *w_ = (want);                                                    \
		if (!ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__))                                   \
			printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)
#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))
static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_fail ? 1 : 0;
}
#endif
