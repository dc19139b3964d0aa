/*
 * env.h — goc's configuration from the environment, through one parser.
 *
 * Two kinds of settings, both integers, both read at start-up by the
 * mechanism that owns them:
 *   - plain variables: GOCMAXPROCS (proc.c), GOCSTACKSIZE (stack.c),
 *     GOCMAXTHREADS (syscall.c);
 *   - GOCDEBUG=name=value,... (goc's GODEBUG): maxgoroutines (golimit.c),
 *     sigquit (signal_report.c), schedtrace, scheddetail, blockwarn
 *     (monitor.c). Names nobody asks for are ignored, so a setting for a
 *     newer version does no harm; when a name appears twice the last one
 *     counts, as in Go.
 * A value that is not an integer in [min, max] is reported on stderr
 * ("goc: ignoring NAME=value: want an integer from min to max") and the
 * default is used. Neither call changes errno.
 */
#ifndef GOC_PRIM_ENV_H
#define GOC_PRIM_ENV_H

/* The environment variable name as an integer; def when unset or empty. */
long long goc__env_long(const char *name, long long def, long long min, long long max);

/* The value of name in GOCDEBUG=name=value,...; def when absent. */
long long goc__gocdebug_long(const char *name, long long def, long long min, long long max);

#endif
