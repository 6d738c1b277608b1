/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* events.c - mptorture's event clients and checks.
 *
 * Client 0 of the kind conducts: clear, a pause, `info --json` (the
 * waiters in the event's table: each recorded what it had seen before it
 * went in, so any later set must wake it), set, sometimes an immediate
 * clear (a set followed by a clear still releases the waiters of the
 * set); then, before it sets again, every waiter it listed must return
 * 0 (or be SIGKILLed, or time out when its -t may have run out before
 * the set) within STUCK_NS of the set's exit 0; meanwhile the
 * killer spares the conductor and some of those waiters, so that a missed
 * wake cannot hide behind a kill.  The other clients wait, plainly or for
 * the next set, and record how each wait ended.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torture.h"

#define EV		"ev"
#define MAXW		256
/* A waiter that missed the futex wake of a set still looks again within
 * MP_EVENT_CHECK_NS (1 s): one still waiting after STUCK_NS slept through
 * the set.  Returns later than SLOW_NS are counted (missed wakes would
 * show there), not reported. */
#define STUCK_NS	1500000000LL
#define SLOW_NS		200000000LL
/* The waiters' -t, and the stat[K_EVENT] index of the waits that ran out. */
#define WAIT_T		"10"
#define WAIT_NS		10000000000LL
#define ST_TIMEOUTS	4

struct listed {
	pid_t pid;
	uint64_t start;
	char what[16];
};

/* The waiters of `info --json` output that wait for a set. */
static int parse_waiters(const char *json, struct listed *w, int max)
{
	const char *p = strstr(json, "\"waiting\":[");
	int n = 0;

	while (p && n < max && (p = strstr(p, "\"pid\":"))) {
		pid_t pid = (pid_t)atoi(p + 6);
		const char *f = strstr(p, "\"for\":\"");

		p += 6;
		if (!f)
			break;
		f += 7;
		if (strncmp(f, "set\"", 4) && strncmp(f, "next set\"", 9))
			continue;
		w[n].pid = pid;
		snprintf(w[n].what, sizeof w[n].what, "%.*s", (int)(strchr(f, '"') - f), f);
		n++;
	}
	return n;
}

static int run_capture(struct client *c, char *const argv[], struct tres *t, char *out, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/out.%d", workdir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0)
		return -1;
	run_tool(c, argv, fd, t);
	n = pread(fd, out, cap - 1, 0);
	close(fd);
	unlink(path);
	out[n > 0 ? n : 0] = 0;
	return 0;
}

static void conduct_round(struct client *c, int shield)
{
	static const int ok[] = { 0, -1 };
	static char json[65536];
	char *mpevent = (char *)tool_path("mpevent");
	char *clear[] = { mpevent, "clear", EV, NULL };
	char *set[] = { mpevent, "set", EV, NULL };
	char *isset[] = { mpevent, "is-set", EV, NULL };
	char *info[] = { mpevent, "info", EV, "--json", NULL };
	struct listed w[MAXW];
	struct tres t;
	int n, want = 1;
	int64_t t_set;

	run_tool(c, clear, -1, &t);
	if (!expect(c, &t, clear, ok))
		return;
	sleep_ns((int64_t)rnd_below(15) * 1000000LL);
	if (run_capture(c, info, &t, json, sizeof json) < 0 || t.killed || !expect(c, &t, info, ok))
		return;
	n = parse_waiters(json, w, MAXW);
	/* Their identity now, before their pids can be recycled. */
	for (int i = 0; i < n; i++) {
		char st;
		unsigned fl;
		if (proc_stat(w[i].pid, &st, &fl, &w[i].start) < 0 || st == 'Z')
			w[i].pid = 0;	/* gone already: it was leaving */
	}
	/* Sabotaged: a set that sets nothing. */
	run_tool(c, sabotage ? isset : set, -1, &t);
	if (t.killed || (!sabotage && !expect(c, &t, set, ok)))
		return;
	t_set = t.t1;
	__atomic_add_fetch(&S->stat[K_EVENT][0], 1, __ATOMIC_SEQ_CST);
	/* Watched waiters: at high kill rates few listed waiters would live
	 * STUCK_NS, and one that slept through the set would go unseen.  So
	 * the killer spares this client while it watches, and the first live
	 * listed waiter and about half of the others until STUCK_NS after the
	 * set; the rest stay fair game (a waiter killed as it is woken). */
	if (!shield)
		spare_slot(c->slot, t_set + STUCK_NS + 1000000000LL);
	for (int i = 0; i < n; i++)
		if (w[i].pid && (want || rnd_below(2)) &&
		    spare_tool(w[i].pid, t_set + STUCK_NS) == 0)
			want = 0;	/* one is watched for sure */
	if (rnd_below(2)) {
		run_tool(c, clear, -1, &t);
		if (!t.killed)
			expect(c, &t, clear, ok);
	}
	/* Every waiter listed before the set must now return, with 0. */
	for (int i = 0; i < n; i++) {
		const struct endrec *e;
		int l;

		if (!w[i].pid)
			continue;
		while ((l = proc_liveness(w[i].pid, w[i].start, ~0ULL)) == LIVE &&
		       now_ns() < t_set + STUCK_NS)
			sleep_ns(2000000);
		if (l == LIVE) {
			violation(K_EVENT, "waiter pid %d (for %s) was waiting before 'mpevent set' "
				  "exited 0 and still waits %.1f s later", (int)w[i].pid, w[i].what,
				  STUCK_NS / 1e9);
			continue;
		}
		if (l == DYING)
			continue;	/* killed meanwhile */
		/* its client records how it ended just after reaping it */
		for (int k = 0; k < 25 && !(e = end_find(w[i].pid, t_set)); k++)
			sleep_ns(2000000);
		/* Its deadline came at least WAIT_NS after e->t0; the set was
		 * published before t_set.  A deadline that may have come first
		 * is a timeout in its own right (a slow machine: each call of a
		 * sanitized build under load can take seconds); one that came
		 * after the set may not end the wait. */
		if (e && e->status == 124 && e->t0 + WAIT_NS <= t_set)
			note("event: waiter pid %d (for %s) listed before a set timed out: its "
			     "deadline may have come before the set", (int)w[i].pid, w[i].what);
		else if (e && e->status != 0 && e->status != 128 + 9)
			violation(K_EVENT, "waiter pid %d (for %s) was waiting before 'mpevent set' "
				  "exited 0, and then exited %d", (int)w[i].pid, w[i].what, e->status);
		else if (e && e->status == 0) {
			int64_t lat = e->t1 - t_set;
			uint64_t max;

			__atomic_add_fetch(&S->stat[K_EVENT][1], 1, __ATOMIC_SEQ_CST);
			if (lat > SLOW_NS)
				__atomic_add_fetch(&S->stat[K_EVENT][2], 1, __ATOMIC_SEQ_CST);
			max = __atomic_load_n(&S->stat[K_EVENT][3], __ATOMIC_SEQ_CST);
			while (lat > 0 && (uint64_t)lat > max &&
			       !__atomic_compare_exchange_n(&S->stat[K_EVENT][3], &max, (uint64_t)lat, 0,
							    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				;
		}
	}
}

/* Every other round, the killer spares the conductor from its first
 * call on: with one kind alone the kill rate is so high (and a sanitizer
 * build so slow) that a clear, an info and a set in a row would rarely
 * get through, and nothing would be checked.  The other rounds have
 * their clear, info and set killed at random moments.  Sabotaged, the
 * set is not what is under test but the checker: always spared. */
static void conduct(struct client *c)
{
	int shield = sabotage || rnd_below(2);

	if (shield)
		spare_slot(c->slot, INT64_MAX);
	conduct_round(c, shield);
	spare_slot(c->slot, 0);
}

static void wait_op(struct client *c)
{
	static const int ok[] = { 0, -1 }, isok[] = { 0, 1, -1 };
	char *mpevent = (char *)tool_path("mpevent");
	char *plain[] = { mpevent, "wait", EV, "-t", WAIT_T, NULL };
	char *next[] = { mpevent, "wait", EV, "--next", "-t", WAIT_T, NULL };
	char *isset[] = { mpevent, "is-set", EV, NULL };
	uint32_t r = rnd_below(100);
	struct tres t;

	if (r < 10) {
		run_tool(c, isset, -1, &t);
		expect(c, &t, isset, isok);
		return;
	}
	run_tool(c, r < 70 ? plain : next, -1, &t);
	end_add(t.pid, t.status, t.t0, t.t1);
	/* A wait that ran out is counted, not judged: when it went into the
	 * table is not known here, so no set can be shown to have come
	 * after that.  The conductor judges the waiters it listed before a
	 * set, which it knows were in (conduct_round()). */
	if (!t.killed && t.status == 124) {
		__atomic_add_fetch(&S->stat[K_EVENT][ST_TIMEOUTS], 1, __ATOMIC_SEQ_CST);
		note("event: 'mpevent wait%s' timed out after " WAIT_T " s", r < 70 ? "" : " --next");
	} else {
		expect(c, &t, plain, ok);
	}
}

static void event_op(struct client *c)
{
	if (c->rank == 0)
		conduct(c);
	else
		wait_op(c);
}

static void event_setup(void)
{
	char *create[] = { (char *)tool_path("mpevent"), "create", EV, NULL };

	if (run_check(create, NULL, 0) != 0)
		violation(K_EVENT, "mpevent create %s failed", EV);
}

/* Every client is dead: nobody waits, and the event still works. */
static void event_check(int final)
{
	static char json[65536];
	char *mpevent = (char *)tool_path("mpevent");
	char *info[] = { mpevent, "info", EV, "--json", NULL };
	char *set[] = { mpevent, "set", EV, NULL };
	char *clear[] = { mpevent, "clear", EV, NULL };
	char *wait[] = { mpevent, "wait", EV, "-t", "1", NULL };
	char *next[] = { mpevent, "wait", EV, "--next", "-t", "0.1", NULL };
	char *isset[] = { mpevent, "is-set", EV, NULL };
	int st;

	st = run_check(info, json, sizeof json);
	if (st != 0 || !strstr(json, "\"waiters\":0,"))
		violation(K_EVENT, "with every waiter killed, mpevent info exited %d: %.300s", st,
			  json);
	if ((st = run_check(set, NULL, 0)) != 0)
		violation(K_EVENT, "mpevent set exited %d with every client killed", st);
	if ((st = run_check(wait, NULL, 0)) != 0)
		violation(K_EVENT, "mpevent wait -t 1 on a set event exited %d", st);
	if ((st = run_check(next, NULL, 0)) != 124)
		violation(K_EVENT, "mpevent wait --next -t 0.1 with nobody setting exited %d", st);
	if ((st = run_check(clear, NULL, 0)) != 0)
		violation(K_EVENT, "mpevent clear exited %d with every client killed", st);
	if ((st = run_check(isset, NULL, 0)) != 1)
		violation(K_EVENT, "mpevent is-set after a clear exited %d", st);
}

static void event_report(void)
{
	printf("event: %llu sets that exited 0 checked; %llu waiters in the table before them "
	       "were seen to return 0 (%llu later than %lld ms; the slowest %.1f ms after the "
	       "set); %llu waits ran out (-t " WAIT_T ")\n", (unsigned long long)S->stat[K_EVENT][0],
	       (unsigned long long)S->stat[K_EVENT][1], (unsigned long long)S->stat[K_EVENT][2],
	       SLOW_NS / 1000000, (double)S->stat[K_EVENT][3] / 1e6,
	       (unsigned long long)S->stat[K_EVENT][ST_TIMEOUTS]);
}

const struct kind kind_event = {
	"event", { "mpevent" }, 6, event_setup, event_op, event_check, event_report,
};
