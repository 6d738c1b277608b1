/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-parse - the command-line grammars of parse.h (names, durations,
 * sizes, counts) and the formatters of what they read (durations, times,
 * JSON strings).  Besides "no crash", each parser's promise is checked:
 * what it accepts is within its grammar's bounds, what it refuses comes
 * with a reason.  A broken promise aborts (a finding).  See fuzz.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/cli.h"
#include "lib/parse.h"

#define MAX_NS	((int64_t)100 * 365 * 86400 * 1000000000LL)

static void check(int ok, const char *what, const char *input)
{
	if (!ok) {
		fprintf(stderr, "fuzz-parse: %s (input '%s')\n", what, input);
		abort();
	}
}

static void check_why(int rc, const char *why, const char *s)
{
	if (rc) {
		check(rc == -22, "a parser failed with something else than -EINVAL", s);
		check(why[0] != 0 && strlen(why) < 160, "a refusal without a reason", s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160], buf[64], *s, *json = NULL;
	uint64_t u, lo, hi;
	int64_t ns, t;
	size_t jlen;
	FILE *f;
	int rc;

	if (size < 1)
		return 0;
	s = fz_strndup(data + 1, size - 1);

	why[0] = 0;
	rc = mp_parse_name(s, why, sizeof why);
	check_why(rc, why, s);
	if (!rc) {
		size_t n = strlen(s);
		check(n >= 1 && n <= MP_NAME_MAX && s[0] != '.' &&
		      strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n,
		      "a bad name was accepted", s);
	}

	why[0] = 0;
	rc = mp_parse_duration(s, &ns, why, sizeof why);
	check_why(rc, why, s);
	if (!rc) {
		check(ns >= 0 && ns <= MAX_NS, "a duration out of range was accepted", s);
		mp_format_duration(ns, buf, sizeof buf);
		check(buf[0] != 0, "a duration formatted as nothing", s);
	}

	why[0] = 0;
	rc = mp_parse_size(s, &u, why, sizeof why);
	check_why(rc, why, s);
	if (!rc)
		check(u <= (1ULL << 40), "a size over 1T was accepted", s);

	/* the bounds come from the first byte: the ranges the tools use */
	switch (data[0] % 4) {
	case 0: lo = 0, hi = 255; break;		/* -E */
	case 1: lo = 1, hi = 0x7fffffff; break;		/* --owner */
	case 2: lo = 1, hi = 65536; break;		/* -j */
	default: lo = 0, hi = UINT64_MAX; break;
	}
	why[0] = 0;
	rc = mp_parse_count(s, lo, hi, &u, why, sizeof why);
	check_why(rc, why, s);
	if (!rc)
		check(u >= lo && u <= hi, "a count out of range was accepted", s);

	/* formatters of values read from objects: any 64-bit value */
	if (size >= 9) {
		memcpy(&t, data + 1, sizeof t);
		mp_format_duration(t, buf, sizeof buf);
		mp_format_time(t, buf, sizeof buf);
	}
	f = open_memstream(&json, &jlen);
	if (f) {
		mp_json_str(f, s);
		fclose(f);
		for (size_t i = 0; i < jlen; i++)
			check((unsigned char)json[i] >= 0x20, "a control byte in a JSON string", s);
		free(json);
	}
	free(s);
	return 0;
}
