/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* util.c - what every part of mptorture uses: the clock, the random
 * numbers, the reports of violations and notes, and the liveness of a
 * process read from /proc. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "torture.h"


struct shm *S;
const char *workdir;
int sabotage;
int verbose;
int64_t t_start;
static uint64_t rng_state;

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void rnd_seed(uint64_t s)
{
	rng_state = s ? s : 0x9e3779b97f4a7c15ULL;
}

uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 2685821657736338717ULL;
}

/* Uniform in [0, n). */
uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)((rnd() >> 32) % n) : 0;
}

void sleep_ns(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
	while (ns > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

double elapsed_s(void)
{
	return (double)(now_ns() - t_start) / 1e9;
}

static void append_file(const char *name, const char *text, size_t n)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", workdir, name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
	if (fd >= 0) {
		ssize_t w = write(fd, text, n);
		(void)w;
		close(fd);
	}
}

/* "[T s] PREFIX" and fmt's text as one line in buf (cap bytes, ending in a
 * newline); returns its length. */
static size_t format_line(char *buf, size_t cap, const char *prefix, const char *fmt, va_list ap)
{
	int n = snprintf(buf, cap, "[%7.3fs] %s", elapsed_s(), prefix);

	n += vsnprintf(buf + n, cap - (size_t)n, fmt, ap);
	if (n > (int)cap - 2)
		n = (int)cap - 2;
	buf[n++] = '\n';
	return (size_t)n;
}

void violation(int kind, const char *fmt, ...)
{
	char buf[1536], prefix[64];
	va_list ap;
	size_t n;

	snprintf(prefix, sizeof prefix, "%s: VIOLATION: ", kind_name(kind));
	va_start(ap, fmt);
	n = format_line(buf, sizeof buf, prefix, fmt, ap);
	va_end(ap);
	__atomic_add_fetch(&S->k[kind].violations, 1, __ATOMIC_SEQ_CST);
	append_file("violations.log", buf, n);
	if (__atomic_add_fetch(&S->printed, 1, __ATOMIC_SEQ_CST) <= 20) {
		ssize_t w = write(2, buf, n);
		(void)w;
	}
}

void note(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = format_line(buf, sizeof buf, "", fmt, ap);
	va_end(ap);
	append_file("notes.log", buf, n);
	if (verbose) {
		ssize_t w = write(2, buf, n);
		(void)w;
	}
}

void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mptorture: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (S)
		S->stop = 1;
	exit(70);
}

/* ---- /proc ---- */

#define PF_EXITING_FLAG 0x4u

/* Reads state, flags and start time of pid.  0 or -1 (no such process). */
int proc_stat(pid_t pid, char *state, unsigned *flags, uint64_t *start)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof path, "%s/%d/stat", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	for (field = 3; *p && field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (field == 3)
			*state = *p;
		else if (field == 9)
			*flags = (unsigned)strtoul(p, NULL, 10);
		else if (field == 22) {
			*start = strtoull(p, NULL, 10);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

/* Has pid a SIGKILL pending (it is being killed)? */
static int sigkill_pending(pid_t pid)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%d/status", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "SigPnd:", 7) || !strncmp(p, "ShdPnd:", 7)) {
			unsigned long long m = strtoull(p + 7, NULL, 16);
			if (m & (1ULL << (SIGKILL - 1)))
				return 1;
		}
	}
	return 0;
}

/* Liveness of a process known by pid and the low bits of its start time:
 * LIVE, DYING (SIGKILL pending or exiting: it will not run user code
 * again), or DEAD (gone, zombie, or the pid is another process now). */
int proc_liveness(pid_t pid, uint64_t start_low, uint64_t start_mask)
{
	char state = 0;
	unsigned flags = 0;
	uint64_t start = 0;

	if (pid <= 0 || proc_stat(pid, &state, &flags, &start) < 0)
		return DEAD;
	if ((start & start_mask) != start_low || state == 'Z' || state == 'X')
		return DEAD;
	if (flags & PF_EXITING_FLAG)
		return DYING;
	if (sigkill_pending(pid))
		return DYING;
	return LIVE;
}

uint64_t self_start(void)
{
	char state;
	unsigned flags;
	uint64_t start = 0;

	proc_stat(self_pid(), &state, &flags, &start);
	return start;
}
