/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* producer - a C producer for a shell consumer (mptools(3), EXAMPLES).
 *
 *   producer QUEUE MSG...
 *
 * Puts each MSG on QUEUE, waiting while it is full, then closes it, so
 * that `mpqueue get QUEUE --follow` in a shell prints them all and ends
 * with status 2.  Build: cc producer.c $(pkg-config --cflags --libs mptools)
 */
#include <mptools.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	mpt_queue *q;
	int i, rc;

	if (argc < 2) {
		fprintf(stderr, "usage: producer QUEUE MSG...\n");
		return 64;
	}
	rc = mpt_queue_open(&q, NULL, argv[1], 0, 0, 0, 0);
	if (rc) {
		fprintf(stderr, "producer: %s\n", mpt_errmsg());
		return 1;
	}
	for (i = 2; i < argc && rc == 0; i++)
		rc = mpt_queue_put(q, argv[i], strlen(argv[i]), -1);
	if (rc == 0)
		rc = mpt_queue_close(q);
	if (rc)
		fprintf(stderr, "producer: %s\n", mpt_errmsg());
	mpt_queue_free(q);
	return rc ? 1 : 0;
}
