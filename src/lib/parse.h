/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parse.h - the grammars of the command line: names, durations, sizes, counts.
 *
 * Every parser returns 0 on success or -EINVAL, and on failure writes a
 * one-line reason (no trailing newline) into why[0..whylen) when why is
 * not NULL.  None of them prints or exits.  All are async-signal-safe
 * (they call no allocator and touch no global state).
 */
#ifndef MP_PARSE_H
#define MP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define MP_NAME_MAX 200

/* NAME := 1..200 bytes of [A-Za-z0-9._-], not starting with '.'.
 * The reason names the first offending byte and its position. */
int mp_parse_name(const char *s, char *why, size_t whylen);

/* DURATION := NUMBER [SUFFIX]
 * NUMBER   := DIGITS [ '.' DIGITS ] | '.' DIGITS      (no sign, no exponent)
 * SUFFIX   := 'ms' | 's' | 'm' | 'h' | 'd'           (default 's')
 * Result in nanoseconds, at most 100 years; "0" is valid and means zero;
 * a duration that is not zero but below 1 ns (0.0000000001) is 1 ns. */
int mp_parse_duration(const char *s, int64_t *ns, char *why, size_t whylen);

/* SIZE := DIGITS [ 'K' | 'M' | 'G' ] [ 'B' | 'iB' ]   (powers of 1024;
 * lower-case k/m/g accepted).  Result in bytes, at most 1 TiB. */
int mp_parse_size(const char *s, uint64_t *bytes, char *why, size_t whylen);

/* COUNT := DIGITS, decimal, within [min, max]. */
int mp_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		   char *why, size_t whylen);

/* The name of signal sig without "SIG" (HUP, TERM, ...), or NULL. */
const char *mp_signal_name(int sig);
/* A signal by name (TERM, SIGTERM, term) or number (1..64); -1 if neither. */
int mp_parse_signal(const char *s);

/* a - b in ns, saturated at INT64_MIN / INT64_MAX: for times read from an
 * object, which may be corrupt (a plain subtraction could overflow). */
int64_t mp_ns_diff(int64_t a, int64_t b);

/* Formats ns as a short human duration ("250ms", "1.5s", "2m03s", "3h12m",
 * "2d04h") into buf; returns buf. */
char *mp_format_duration(int64_t ns, char *buf, size_t len);

#endif
