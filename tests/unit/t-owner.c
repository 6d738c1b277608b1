/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-owner - drives src/lib/owner.c.
 *   t-owner alive PID [START]     prints 1 or 0 (START: override start time)
 *   t-owner zombie                forks a child that exits unreaped; prints
 *                                 "alive-before dead-after" as 1/0 pairs
 *   t-owner start PID             prints the start time of PID
 *   t-owner judge PID START PIDNS [LEASE_MS]
 *                                 prints 1 or 0: is the owner recorded as
 *                                 (PID, START, PIDNS) alive, with a lease
 *                                 ending LEASE_MS from now (none if absent)
 *   t-owner self                  prints "pid start pidns" of this process
 *   t-owner self-fork             prints the pid and start time this process
 *                                 and its forked child give themselves, and
 *                                 what /proc says of the child
 *   t-owner thread-fork           a second thread forks a child and exits,
 *                                 the process living on; the child prints
 *                                 "SAME GONE": 1 if getppid() still names
 *                                 this process (it cannot tell), 1 if
 *                                 mp_parent_thread_gone() sees the forking
 *                                 thread gone
 *   t-owner spawn N               starts `true` N times as mplock run does;
 *                                 prints "pinned wrong": how many start times
 *                                 the clock pinned, and how many of those
 *                                 /proc contradicts
 */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/clock.h"
#include "lib/owner.h"

static pid_t forked_child;

/* The forking thread of thread-fork: its child waits until it is gone. */
static void *fork_and_exit(void *arg)
{
	pid_t parent = getpid(), tid = (pid_t)syscall(SYS_gettid);
	char path[64];

	(void)arg;
	forked_child = fork();
	if (forked_child == 0) {
		snprintf(path, sizeof path, "/proc/%d/task/%d", (int)parent, (int)tid);
		for (int i = 0; i < 5000 && access(path, F_OK) == 0; i++)
			usleep(1000);
		printf("%d %d\n", getppid() == parent, mp_parent_thread_gone(parent, tid));
		fflush(stdout);
		_exit(0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct mp_owner o;

	if (argc >= 3 && !strcmp(argv[1], "alive")) {
		int rc = mp_owner_of(atoi(argv[2]), &o);
		if (rc) {
			puts("0");
			return 0;
		}
		if (argc == 4)
			o.start = strtoull(argv[3], NULL, 10);
		printf("%d\n", mp_owner_alive(&o));
		return 0;
	}
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "judge")) {
		memset(&o, 0, sizeof o);
		o.pid = atoi(argv[2]);
		o.start = strtoull(argv[3], NULL, 10);
		o.pidns = strtoull(argv[4], NULL, 10);
		if (argc == 6)
			o.lease_ns = mp_shared_ns() + strtoll(argv[5], NULL, 10) * 1000000LL;
		printf("%d\n", mp_owner_alive(&o));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "thread-fork")) {
		pthread_t t;
		int st;

		if (mp_owner_of(0, &o) || pthread_create(&t, NULL, fork_and_exit, NULL) ||
		    pthread_join(t, NULL) || forked_child <= 0)
			return 1;
		while (waitpid(forked_child, &st, 0) < 0)
			;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (argc == 2 && !strcmp(argv[1], "self")) {
		if (mp_owner_of(0, &o))
			return 1;
		printf("%d %" PRIu64 " %" PRIu64 "\n", o.pid, o.start, o.pidns);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "start")) {
		if (mp_owner_of(atoi(argv[2]), &o))
			return 1;
		printf("%" PRIu64 "\n", o.start);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "zombie")) {
		int pipefd[2];
		char c, st;
		uint64_t start;
		pid_t pid;

		if (pipe(pipefd))
			return 2;
		pid = fork();
		if (pid == 0) {
			read(pipefd[0], &c, 1);	/* wait until our identity was taken */
			_exit(0);
		}
		if (mp_owner_of(pid, &o))
			return 2;
		printf("%d ", mp_owner_alive(&o));
		write(pipefd[1], "x", 1);
		/* wait until the child is a zombie, without reaping it */
		for (int i = 0; i < 500; i++) {
			if (mp_proc_stat(pid, &st, &start) == 0 && st == 'Z')
				break;
			usleep(10000);
		}
		printf("%d\n", mp_owner_alive(&o));
		waitpid(pid, NULL, 0);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "self-fork")) {
		struct mp_owner me, child;
		char st;
		uint64_t start;
		int pipefd[2];
		pid_t pid;

		if (mp_owner_of(0, &me) || pipe(pipefd))
			return 2;
		pid = fork();
		if (pid == 0) {
			/* the parent's identity is cached: it must not be ours */
			if (mp_owner_of(0, &child) || write(pipefd[1], &child, sizeof child) < 0)
				_exit(2);
			_exit(0);
		}
		if (read(pipefd[0], &child, sizeof child) != sizeof child ||
		    mp_proc_stat(pid, &st, &start))
			return 2;
		printf("%d %" PRIu64 " %d %" PRIu64 " %d %" PRIu64 "\n", (int)me.pid, me.start,
		       (int)child.pid, child.start, (int)pid, start);
		waitpid(pid, NULL, 0);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "spawn")) {
		char *args[] = { "true", NULL }, st;
		int n = atoi(argv[2]), pinned = 0, wrong = 0;
		struct mp_owner child;
		struct mp_cmd cmd;
		uint64_t start;

		mp_cmd_prepare(&cmd, args, NULL);
		for (int i = 0; i < n; i++) {
			if (mp_cmd_start(&cmd))
				return 2;
			/* a zombie's stat still holds its start time */
			if (cmd.start) {
				if (mp_owner_of_child(cmd.pid, cmd.start, &child) ||
				    mp_proc_stat(cmd.pid, &st, &start))
					return 2;
				pinned++;
				if (child.start != start) {
					wrong++;
					fprintf(stderr, "pid %d: clock %" PRIu64 ", /proc %" PRIu64 "\n",
						(int)cmd.pid, child.start, start);
				}
			}
			mp_cmd_wait(&cmd);
		}
		printf("%d %d\n", pinned, wrong);
		return 0;
	}
	fprintf(stderr, "usage: t-owner alive PID [START] | start PID | zombie | self-fork | spawn N\n");
	return 2;
}
