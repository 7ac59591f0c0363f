/*
 * diagnose: `mxscan diagnose DOMAIN | HOST[:PORT]`. Resolves the target the
 * way a sending MTA would (MX, else the name itself; NAME:PORT and addresses
 * are hosts), scans every address with the engine (full enumeration, the full
 * handshake, chain verification, the SMTP transcript), reads the host records
 * back and names, per MX, each problem: its cause, the evidence, who must fix
 * it and how; then whether common sending stacks would get through.
 */
#ifndef MXSCAN_DIAGNOSE_H
#define MXSCAN_DIAGNOSE_H

/* Exit status of `mxscan diagnose` (documented in its --help and README). */
enum {
	DIAG_EXIT_HEALTHY = 0,   /* every MX accepts TLS from a strict modern sender, no problem found */
	DIAG_EXIT_USAGE = 1,     /* bad option or configuration (as for a scan) */
	DIAG_EXIT_DEGRADED = 10, /* mail gets through with TLS, with problems (some MX, or strict senders) */
	DIAG_EXIT_BROKEN = 11,   /* no MX accepts TLS mail from an ordinary sender (or no MX at all) */
};

/* argv[0] is "diagnose". Returns the exit status. */
int diagnose_main(int argc, char **argv);

#endif
