/* selftest: `mxscan --selftest`, built-in checks of the parsers, tables and
 * policy code on canned inputs (masscan's idea): proves a binary on a new
 * machine works before it touches the network. Returns 0 when all pass. */
#ifndef MXSCAN_SELFTEST_H
#define MXSCAN_SELFTEST_H
#include <stdio.h>
int selftest_run(FILE *out);
#endif
