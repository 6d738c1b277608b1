/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-event - drives src/lib/event.c where mpevent cannot.
 *   t-event die-locked NAME    a child takes event NAME's internal mutex and
 *                              is SIGKILLed holding it
 *   t-event die-mid-set NAME   a child is SIGKILLed inside a set: journal
 *                              written, flag stored, counts not yet
 *   t-event wedge NAME         leaves NAME's mutex unrecoverable, as a
 *                              buggy program that ignored EOWNERDEAD would
 *   t-event reboot NAME PID    makes event NAME look as if it came from
 *                              another boot: a stale mutex, the live
 *                              process PID recorded as a waiter, 3 more
 *                              counted
 *   t-event pulse NAME         sets and at once clears NAME (microseconds
 *                              apart: no waiter has looked in between)
 *   t-event wait-slices any|all MS NAME...
 *                              waits as mpevent wait does, but without
 *                              futex_waitv (the Linux < 5.16 path); MS 0:
 *                              no timeout.  Prints the name that fired.
 * Uses $MP_DIR as the store.  Exits 0, or the library's error as mpevent
 * would (124 timeout, 66 removed), 2 on a driver failure. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mutex-word.h"
#include "lib/cli.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/event.h"
#include "lib/obj.h"
#include "lib/signals.h"
#include "lib/store.h"

static struct mp_store s;

static void open_or_die(struct mp_obj *o, const char *name)
{
	int rc = mp_store_open(&s, NULL);

	if (!rc)
		rc = mp_event_open(&s, name, 1, o);
	if (rc) {
		fprintf(stderr, "t-event: %s (%s)\n", strerror(-rc), mp_errmsg());
		exit(2);
	}
}

/* Runs fn in a child that must die by SIGKILL. */
static int in_child_killed(void (*fn)(struct mp_obj *), struct mp_obj *o)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		fn(o);
		raise(SIGKILL);
		_exit(4);
	}
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 2;
}

static void lock_only(struct mp_obj *o)
{
	if (mp_obj_lock(o))
		_exit(3);
}

static void half_set(struct mp_obj *o)
{
	struct mp_event *e = o->body;

	if (mp_obj_lock(o))
		_exit(3);
	/* What mp_event_set does, stopped after its first store. */
	e->jr = e->st;
	e->jr.is_set = 1;
	e->jr.sets++;
	e->jr.set_ns = e->jr.since_ns = mp_realtime_ns();
	__atomic_store_n(&e->jr_valid, 1, __ATOMIC_RELEASE);
	e->st.is_set = 1;
}

int main(int argc, char **argv)
{
	struct mp_obj o;

	if (argc == 3 && !strcmp(argv[1], "die-locked")) {
		open_or_die(&o, argv[2]);
		return in_child_killed(lock_only, &o);
	}
	if (argc == 3 && !strcmp(argv[1], "die-mid-set")) {
		open_or_die(&o, argv[2]);
		return in_child_killed(half_set, &o);
	}
	if (argc == 3 && !strcmp(argv[1], "wedge")) {
		open_or_die(&o, argv[2]);
		if (in_child_killed(lock_only, &o))
			return 2;
		/* EOWNERDEAD, then unlock without pthread_mutex_consistent(). */
		if (pthread_mutex_lock(&o.hdr->mu) != EOWNERDEAD)
			return 2;
		pthread_mutex_unlock(&o.hdr->mu);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "pulse")) {
		open_or_die(&o, argv[2]);
		return mp_event_set(&o) || mp_event_clear(&o) ? 2 : 0;
	}
	if (argc == 4 && !strcmp(argv[1], "reboot")) {
		struct mp_event_waiter *w;
		struct mp_owner parent;

		open_or_die(&o, argv[2]);
		if (mp_owner_of(atoi(argv[3]), &parent))
			return 2;
		w = (struct mp_event_waiter *)((char *)o.body + sizeof(struct mp_event));
		w[0].start = parent.start;
		w[0].pidns = parent.pidns;
		w[0].pid = parent.pid;
		((struct mp_event *)o.body)->overflow = 3;
		o.hdr->nwait = 4;
		memset(o.hdr->boot_id, 0xab, sizeof o.hdr->boot_id);
		/* a TID of that boot: pid 1 is alive and never ours */
		*mutex_owner_word(&o.hdr->mu) = 1;
		mp_obj_close(&o);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "wait-slices")) {
		static struct mp_obj objs[MP_EVENT_WAIT_MAX];
		unsigned flags = strcmp(argv[2], "all") ? 0 : MP_EVENT_ALL;
		int64_t ms = atoll(argv[3]);
		int n = argc - 4, fired, rc;

		if (n > MP_EVENT_WAIT_MAX)
			return 2;
		for (int i = 0; i < n; i++)
			open_or_die(&objs[i], argv[4 + i]);
		mp_signals_install();
		mp_event_no_waitv = 1;
		rc = mp_event_wait(objs, n, flags, ms ? mp_deadline(ms * 1000000) : 0, 0, &fired);
		if (rc)
			return mp_exit_status(rc);
		if (fired >= 0)
			printf("%s\n", argv[4 + fired]);
		return 0;
	}
	fprintf(stderr, "usage: t-event die-locked|die-mid-set|wedge|pulse NAME | reboot NAME PID | "
		"wait-slices any|all MS NAME...\n");
	return 2;
}
