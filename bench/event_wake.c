/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* event_wake - how long a blocked mpevent waiter takes to wake, inside the
 * library (no process start), next to a pipe as the physical reference.
 *
 *   cc -O2 -I src -I BUILD bench/event_wake.c BUILD/src/lib/libmp.a -o event_wake
 *   cc -O2 -I src -I BUILD bench/event_wake.c BUILD/src/lib/libmp.a -lhiredis -o event_wake
 *   ./event_wake [-n ROUNDS] [-c same|cross] [-s STORE]
 *
 * Each round: a child blocks in mp_event_wait() on a clear event; once it
 * is asleep in the kernel (registered, and /proc/PID/stat says S), the
 * parent takes t0 and calls mp_event_set(); the child takes t1 as soon as
 * mp_event_wait() has returned (it has also left the waiter table) and
 * hands it back through shared memory.  The same with the child blocked in
 * read(2) on a pipe and the parent writing one byte.  Last, a pipe
 * ping-pong between the two processes, round trip per exchange.
 * Prints the median and the 99th percentile of each, in microseconds.
 * -c pins both processes to CPU 0 (same) or to CPUs 0 and 1 (cross);
 * default: wherever the scheduler puts them.
 * The event lives in a private store under /dev/shm, removed at the end.
 *
 * -s STORE (redis://HOST:PORT/DB or unix:///PATH) puts the event on that
 * Redis server instead (bench/run's redis section).  The child then opens
 * the store and the event on a connection of its own after the fork, and
 * the parent calls mp_event_set() only once mp_event_info() lists the
 * child as a waiter (it has subscribed and registered) and /proc says the
 * child sleeps.  What is timed is the same: from just before
 * mp_event_set() (one script on the server, which publishes) until
 * mp_event_wait() has returned in the child, which includes its reading
 * the published message and taking itself off the waiter list (one more
 * round trip).  The event (mpbench-wake-PID) is removed at the end.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/event.h"
#include "lib/obj.h"
#include "lib/owner.h"
#include "lib/store.h"

struct shared {
	volatile int round;	/* parent: the round to run */
	volatile int ready;	/* child: about to block in round */
	volatile int done;	/* child: woke in round */
	volatile int64_t t1;
};

static int rounds = 2000;
static int pin = -1;		/* -1 none, 0 same CPU, 1 cross */

static void pin_to(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof s, &s) < 0)
		perror("sched_setaffinity");
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "event_wake: %s: %s %s\n", what, strerror(rc < 0 ? -rc : rc),
		mp_errmsg());
	exit(1);
}

/* Waits until pid sleeps in the kernel. */
static void until_asleep(pid_t pid)
{
	for (;;) {
		char st;
		uint64_t start;

		if (mp_proc_stat(pid, &st, &start) == 0 && st == 'S')
			return;
		sched_yield();
	}
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *ns, int n)
{
	qsort(ns, (size_t)n, sizeof *ns, cmp64);
	printf("%-34s median %7.1f us   p99 %7.1f us   (%d rounds)\n", what,
	       ns[n / 2] / 1000.0, ns[(n * 99) / 100] / 1000.0, n);
}

static void wait_done(struct shared *sh, int r)
{
	while (sh->done != r)
		sched_yield();
}

/* Whether the waiter is registered: on the local store, the header's
 * count of sleepers; on Redis, the event's waiter list (one round trip). */
static int registered(struct mp_obj *ev, int redis)
{
	struct mp_event_info ei;

	if (!redis)
		return __atomic_load_n(&ev->hdr->nwait, __ATOMIC_ACQUIRE) != 0;
	return mp_event_info(ev, &ei, NULL, 0) > 0 && ei.nwaiting > 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/dev/shm/mptools-bench-XXXXXX", name[64] = "wake";
	const char *url = NULL;
	struct mp_store store;
	struct mp_obj ev;
	struct shared *sh;
	int64_t *lat;
	int p2c[2], c2p[2], opt, rc, fired;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:c:s:")) != -1) {
		if (opt == 'n')
			rounds = atoi(optarg);
		else if (opt == 'c')
			pin = !strcmp(optarg, "cross");
		else if (opt == 's')
			url = optarg;
		else {
			fprintf(stderr, "usage: event_wake [-n ROUNDS] [-c same|cross] [-s STORE]\n");
			return 2;
		}
	}
	if (rounds < 10)
		rounds = 10;
	if (url) {
		snprintf(name, sizeof name, "mpbench-wake-%d", (int)getpid());
		rc = mp_store_open(&store, url);
	} else {
		if (!mkdtemp(dir))
			die("mkdtemp", errno);
		rc = mp_store_open(&store, dir);
	}
	if (rc)
		die("store", rc);
	rc = mp_event_open(&store, name, 1, &ev);
	if (rc)
		die("event", rc);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	lat = calloc((size_t)rounds, sizeof *lat);
	if (sh == MAP_FAILED || !lat || pipe(p2c) || pipe(c2p))
		die("setup", errno);
	sh->round = sh->ready = sh->done = -1;

	pid = fork();
	if (pid == 0) {
		struct mp_store cstore;
		struct mp_obj cev;
		char b;

		if (pin >= 0)
			pin_to(pin);
		/* never share the parent's connection */
		if (url && ((rc = mp_store_open(&cstore, url)) ||
			    (rc = mp_event_open(&cstore, name, 0, &cev))))
			die("child's store", rc);
		/* event rounds, then pipe rounds, then ping-pong */
		for (int r = 0; r < rounds; r++) {
			while (sh->round != r)
				sched_yield();
			sh->ready = r;
			rc = mp_event_wait(url ? &cev : &ev, 1, 0, 0, 0, &fired);
			sh->t1 = mp_now_ns();
			if (rc)
				die("wait", rc);
			sh->done = r;
		}
		for (int r = rounds; r < 2 * rounds; r++) {
			while (sh->round != r)
				sched_yield();
			sh->ready = r;
			if (read(p2c[0], &b, 1) != 1)
				die("read", errno);
			sh->t1 = mp_now_ns();
			sh->done = r;
		}
		for (int r = 0; r < rounds; r++)
			if (read(p2c[0], &b, 1) != 1 || write(c2p[1], &b, 1) != 1)
				die("ping-pong", errno);
		_exit(0);
	}
	if (pin >= 0)
		pin_to(0);

	for (int r = 0; r < rounds; r++) {
		int64_t t0;

		if ((rc = mp_event_clear(&ev)))
			die("clear", rc);
		sh->round = r;
		while (sh->ready != r)
			sched_yield();
		while (!registered(&ev, url != NULL))
			sched_yield();
		until_asleep(pid);
		t0 = mp_now_ns();
		if ((rc = mp_event_set(&ev)))
			die("set", rc);
		wait_done(sh, r);
		lat[r] = sh->t1 - t0;
	}
	report(url ? "mp_event_set -> mp_event_wait (redis)" : "mp_event_set -> mp_event_wait",
	       lat, rounds);

	for (int r = rounds; r < 2 * rounds; r++) {
		int64_t t0;

		sh->round = r;
		while (sh->ready != r)
			sched_yield();
		until_asleep(pid);
		t0 = mp_now_ns();
		if (write(p2c[1], "x", 1) != 1)
			die("write", errno);
		wait_done(sh, r);
		lat[r - rounds] = sh->t1 - t0;
	}
	report("pipe write -> blocked read", lat, rounds);

	for (int r = 0; r < rounds; r++) {
		int64_t t0 = mp_now_ns();
		char b;

		if (write(p2c[1], "x", 1) != 1 || read(c2p[0], &b, 1) != 1)
			die("ping-pong", errno);
		lat[r] = mp_now_ns() - t0;
	}
	report("pipe ping-pong round trip", lat, rounds);

	waitpid(pid, NULL, 0);
	if (url) {
		int damaged;

		mp_obj_close(&ev);
		mp_store_remove(&store, &mp_event_kind, name, &damaged);
	} else {
		mp_obj_remove(&store, &ev);
		mp_obj_close(&ev);
		rmdir(dir);
	}
	return 0;
}
