/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* waiter - a C waiter behind a shell holder (mptools(3), EXAMPLES).
 *
 *   waiter EVENT LOCK [TIMEOUT]
 *
 * Waits until EVENT is set (`mpevent set EVENT` in a shell), then takes
 * LOCK, which a shell may hold (`mplock acquire LOCK`), waiting at most
 * TIMEOUT seconds (default: for ever); prints "got LOCK token N" while it
 * holds it.  Exit: 0, 124 timed out, 1 another error.
 * Build: cc waiter.c $(pkg-config --cflags --libs mptools)
 */
#include <errno.h>
#include <mptools.h>
#include <stdio.h>
#include <stdlib.h>

struct job {
	mpt_lock *lock;
	const char *name;
};

static int locked(void *arg)
{
	struct job *j = arg;

	printf("got %s token %llu\n", j->name, (unsigned long long)mpt_lock_token(j->lock));
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	double timeout = argc > 3 ? strtod(argv[3], NULL) : -1;
	struct job j = { NULL, argc > 2 ? argv[2] : NULL };
	mpt_event *e = NULL;
	int rc, out = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: waiter EVENT LOCK [TIMEOUT]\n");
		return 64;
	}
	rc = mpt_event_open(&e, NULL, argv[1], 0);
	if (!rc)
		rc = mpt_event_wait(e, timeout);
	if (!rc)
		rc = mpt_lock_open(&j.lock, NULL, j.name, 0);
	if (!rc)
		rc = mpt_lock_run(j.lock, 0, timeout, locked, &j, &out);
	if (rc)
		fprintf(stderr, "waiter: %s\n", mpt_errmsg());
	mpt_lock_free(j.lock);
	mpt_event_free(e);
	if (rc == -ETIMEDOUT)
		return 124;
	return rc ? 1 : out;
}
