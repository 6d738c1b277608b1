/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-sem - drives the semaphore kind where mpsem cannot.
 *   t-sem reboot NAME       makes semaphore NAME look as if it came from
 *                           another boot, its mutex held by a thread of
 *                           that boot (a stale TID) and its slots taken
 *   t-sem stop-locked NAME  takes NAME's internal mutex and stops itself
 *                           (SIGSTOP) holding it; prints "stopped" first
 * Uses $MP_DIR as the store. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mutex-word.h"
#include "lib/err.h"
#include "lib/obj.h"
#include "lib/sem.h"
#include "lib/store.h"

int main(int argc, char **argv)
{
	struct mp_store s;
	struct mp_obj o;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: t-sem reboot|stop-locked NAME\n");
		return 2;
	}
	rc = mp_store_open(&s, NULL);
	if (!rc)
		rc = mp_sem_open(&s, argv[2], 0, NULL, &o);
	if (rc) {
		fprintf(stderr, "t-sem: %s (%s)\n", strerror(-rc), mp_errmsg());
		return 2;
	}
	if (!strcmp(argv[1], "reboot")) {
		memset(o.hdr->boot_id, 0xab, sizeof o.hdr->boot_id);
		/* the mutex's owner word holds a TID: pid 1 is alive and
		 * never ours, so without re-initialisation we would block. */
		*mutex_owner_word(&o.hdr->mu) = 1;
		mp_obj_close(&o);
		return 0;
	}
	if (!strcmp(argv[1], "stop-locked")) {
		if (mp_obj_lock(&o))
			return 3;
		printf("stopped\n");
		fflush(stdout);
		raise(SIGSTOP);
		mp_obj_unlock(&o);
		return 0;
	}
	fprintf(stderr, "t-sem: unknown verb '%s'\n", argv[1]);
	return 2;
}
