/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-posix-sem - a plain sem_open(3) program, to show that `mpsem --posix`
 * works on the same named semaphores as C programs do.  It uses only libc
 * (not libmp), as a program written without mptools would.
 *   t-posix-sem create NAME VALUE  sem_open(O_CREAT|O_EXCL, 0600, VALUE)
 *   t-posix-sem post NAME          sem_post
 *   t-posix-sem wait NAME [MS]     sem_wait, or at most MS milliseconds
 *                                  (exit 3 when timed out)
 *   t-posix-sem trywait NAME       sem_trywait (exit 3 when busy)
 *   t-posix-sem value NAME         sem_getvalue, printed on stdout
 *   t-posix-sem unlink NAME        sem_unlink
 * NAME is given without the leading '/'.  Exit 2 on any other error. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what, const char *name)
{
	fprintf(stderr, "t-posix-sem: %s /%s: %s\n", what, name, strerror(errno));
	exit(2);
}

int main(int argc, char **argv)
{
	char path[256];
	sem_t *s;
	int v;

	if (argc < 3) {
		fprintf(stderr, "usage: t-posix-sem create|post|wait|trywait|value|unlink NAME [N]\n");
		return 2;
	}
	snprintf(path, sizeof path, "/%s", argv[2]);
	if (!strcmp(argv[1], "unlink")) {
		if (sem_unlink(path) < 0)
			die("sem_unlink", argv[2]);
		return 0;
	}
	if (!strcmp(argv[1], "create"))
		s = sem_open(path, O_CREAT | O_EXCL, 0600, argc > 3 ? atoi(argv[3]) : 1);
	else
		s = sem_open(path, 0);
	if (s == SEM_FAILED)
		die("sem_open", argv[2]);
	if (!strcmp(argv[1], "create")) {
		return 0;
	} else if (!strcmp(argv[1], "post")) {
		if (sem_post(s) < 0)
			die("sem_post", argv[2]);
	} else if (!strcmp(argv[1], "wait") && argc > 3) {
		struct timespec ts;
		long ms = atol(argv[3]);

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		while (sem_timedwait(s, &ts) < 0) {
			if (errno == ETIMEDOUT)
				return 3;
			if (errno != EINTR)
				die("sem_timedwait", argv[2]);
		}
	} else if (!strcmp(argv[1], "wait")) {
		while (sem_wait(s) < 0)
			if (errno != EINTR)
				die("sem_wait", argv[2]);
	} else if (!strcmp(argv[1], "trywait")) {
		if (sem_trywait(s) < 0) {
			if (errno == EAGAIN)
				return 3;
			die("sem_trywait", argv[2]);
		}
	} else if (!strcmp(argv[1], "value")) {
		if (sem_getvalue(s, &v) < 0)
			die("sem_getvalue", argv[2]);
		printf("%d\n", v);
	} else {
		fprintf(stderr, "t-posix-sem: unknown verb '%s'\n", argv[1]);
		return 2;
	}
	sem_close(s);
	return 0;
}
