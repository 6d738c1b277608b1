/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-parse - drives the parsers of src/lib/parse.c from the command line.
 *   t-parse name|duration|size|count STRING
 * Prints the parsed value (ns, bytes, number; "ok" for names) and exits 0,
 * or prints the reason and exits 1. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/parse.h"

int main(int argc, char **argv)
{
	char why[200] = "";
	int64_t ns;
	uint64_t v;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: t-parse name|duration|size|count STRING\n");
		return 2;
	}
	if (!strcmp(argv[1], "name")) {
		rc = mp_parse_name(argv[2], why, sizeof why);
		if (!rc)
			puts("ok");
	} else if (!strcmp(argv[1], "duration")) {
		rc = mp_parse_duration(argv[2], &ns, why, sizeof why);
		if (!rc)
			printf("%" PRId64 "\n", ns);
	} else if (!strcmp(argv[1], "size")) {
		rc = mp_parse_size(argv[2], &v, why, sizeof why);
		if (!rc)
			printf("%" PRIu64 "\n", v);
	} else if (!strcmp(argv[1], "count")) {
		rc = mp_parse_count(argv[2], 1, 1000, &v, why, sizeof why);
		if (!rc)
			printf("%" PRIu64 "\n", v);
	} else {
		return 2;
	}
	if (rc)
		printf("%s\n", why);
	return rc ? 1 : 0;
}
