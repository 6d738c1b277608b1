/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libcall - per-call cost of libmptools against flock(2), in one process.
 *
 *   libcall MODE N
 *
 * MODE: mpt-lock (mpt_lock_acquire + mpt_lock_release of lock "bench-L"),
 * flock (flock LOCK_EX + LOCK_UN on a file of $MP_DIR), mpt-queue
 * (mpt_queue_put + mpt_queue_get of a 16-byte message on queue "bench-Q").
 * Prints the mean nanoseconds of one pair over N pairs, after N/10 pairs
 * of warm-up.  bench/run's section "library" calls it.
 */
#include <fcntl.h>
#include <mptools.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "libcall: %s: %s\n", what, mpt_errmsg());
	exit(1);
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0, i, w;
	const char *mode = argc > 1 ? argv[1] : "";
	double t0 = 0;
	char buf[65536];
	size_t len;

	if (n <= 0) {
		fprintf(stderr, "usage: libcall mpt-lock|flock|mpt-queue N\n");
		return 64;
	}
	w = n / 10;
	if (!strcmp(mode, "mpt-lock")) {
		mpt_lock *l;

		if (mpt_lock_open(&l, NULL, "bench-L", 0))
			die("open");
		for (i = -w; i < n; i++) {
			if (i == 0)
				t0 = now();
			if (mpt_lock_acquire(l, 0, -1) || mpt_lock_release(l))
				die("lock");
		}
		mpt_lock_free(l);
	} else if (!strcmp(mode, "flock")) {
		const char *dir = getenv("MP_DIR");
		char path[4096];
		int fd;

		snprintf(path, sizeof path, "%s/bench-flock", dir ? dir : "/tmp");
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		for (i = -w; i < n; i++) {
			if (i == 0)
				t0 = now();
			if (flock(fd, LOCK_EX) || flock(fd, LOCK_UN)) {
				perror("flock");
				return 1;
			}
		}
		close(fd);
	} else if (!strcmp(mode, "mpt-queue")) {
		mpt_queue *q;

		if (mpt_queue_open(&q, NULL, "bench-Q", 0, 0, 0, 0))
			die("open");
		for (i = -w; i < n; i++) {
			if (i == 0)
				t0 = now();
			if (mpt_queue_put(q, "0123456789abcdef", 16, -1) ||
			    mpt_queue_get(q, buf, sizeof buf, &len, -1))
				die("queue");
		}
		mpt_queue_free(q);
	} else {
		fprintf(stderr, "libcall: unknown mode '%s'\n", mode);
		return 64;
	}
	printf("%.1f\n", (now() - t0) / n);
	return 0;
}
