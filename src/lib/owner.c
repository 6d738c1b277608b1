/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* owner.c - process identity and liveness from /proc; see owner.h. */
#include "config.h"

#include "owner.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t self_pidns;
static int proc_ok = -1;	/* -1 unknown, 0 /proc is another namespace's or missing, 1 usable */
static pid_t self_pid;		/* the process whose start time is cached */
static uint64_t self_start;

/* Parses the state and start time out of the text of a /proc/PID/stat. */
static int parse_stat(char *buf, char *state, uint64_t *start)
{
	char *p = strrchr(buf, ')'), *save = NULL, *tok;
	int field;

	if (!p)
		return -EPROTO;
	/* fields after ')' start at field 3 (state); starttime is field 22 */
	field = 3;
	for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 3)
			*state = tok[0];
		else if (field == 22) {
			*start = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -EPROTO;
}

/* Reads a whole /proc stat file into buf (NUL-terminated). */
static int read_stat(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	buf[n] = 0;
	return 0;
}

/* Decides once whether /proc is ours, and keeps our own start time from
 * the same read: identifying this process then costs no second file. */
static void probe_proc(void)
{
	struct stat st;
	char buf[1024], state;
	uint64_t start;

	if (proc_ok != -1)
		return;
	proc_ok = 0;
	if (stat("/proc/self/ns/pid", &st) == 0)
		self_pidns = (uint64_t)st.st_ino;
	/* A /proc mounted from another pid namespace shows other pids: then
	 * no liveness judgement is possible (and no reaping is done). */
	if (read_stat("/proc/self/stat", buf, sizeof buf))
		return;
	if (strtol(buf, NULL, 10) != (long)getpid())
		return;
	proc_ok = 1;
	if (parse_stat(buf, &state, &start) == 0) {
		self_pid = getpid();
		self_start = start;
	}
}

int mp_proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[48], buf[1024];
	int rc;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	rc = read_stat(path, buf, sizeof buf);
	return rc ? rc : parse_stat(buf, state, start);
}

int mp_owner_of(pid_t pid, struct mp_owner *o)
{
	char st;
	uint64_t start;
	int rc;

	probe_proc();
	if (!proc_ok)
		return -ENOSYS;
	if (pid == 0)
		pid = getpid();
	if (pid == self_pid) {	/* not a fork's child: the cached time is ours */
		st = 'R';
		start = self_start;
	} else {
		rc = mp_proc_stat(pid, &st, &start);
		if (rc)
			return rc;
	}
	if (st == 'Z' || st == 'X')
		return -ESRCH;
	memset(o, 0, sizeof *o);
	o->pid = pid;
	o->start = start;
	o->pidns = self_pidns;
	return 0;
}

uint64_t mp_boot_ticks(void)
{
	static uint64_t tick_ns;

	if (!tick_ns) {
		long hz = sysconf(_SC_CLK_TCK);

		/* the kernel divides by NSEC_PER_SEC / USER_HZ only then */
		if (hz <= 0 || 1000000000L % hz)
			return 0;
		tick_ns = 1000000000ULL / (uint64_t)hz;
	}
	return (uint64_t)mp_clock_ns(CLOCK_BOOTTIME) / tick_ns;
}

int mp_owner_of_child(pid_t pid, uint64_t start, struct mp_owner *o)
{
	probe_proc();
	if (!proc_ok)
		return -ENOSYS;
	if (!start)
		return mp_owner_of(pid, o);
	memset(o, 0, sizeof *o);
	o->pid = pid;
	o->start = start;
	o->pidns = self_pidns;
	return 0;
}

int mp_owner_alive(const struct mp_owner *o)
{
	char st;
	uint64_t start;
	int rc;

	if (o->pid == 0)
		return 1;
	probe_proc();
	if (!proc_ok || o->pidns != self_pidns)
		return 1;
	rc = mp_proc_stat(o->pid, &st, &start);
	if (rc == -ESRCH)
		return 0;
	if (rc)
		return 1;	/* cannot tell (EACCES, hidepid): do not reap */
	if (start != o->start || st == 'Z' || st == 'X')
		return 0;
	return 1;
}

uid_t mp_euid(void)
{
	static uid_t euid;
	static int have;

	if (!have) {
		euid = geteuid();
		have = 1;
	}
	return euid;
}

int mp_owner_same(const struct mp_owner *a, const struct mp_owner *b)
{
	return a->pid == b->pid && a->start == b->start && a->pidns == b->pidns;
}

int64_t mp_owner_start_realtime_ns(uint64_t start_ticks)
{
	struct timespec rt, bt;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	int64_t boot_rt = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec -
			  ((int64_t)bt.tv_sec * 1000000000LL + bt.tv_nsec);
	uint64_t per_tick = 1000000000ULL / (uint64_t)hz;
	int64_t t;

	/* start_ticks comes from an object file: a corrupt one must not
	 * overflow (it shows as the farthest representable time). */
	if (start_ticks > (uint64_t)INT64_MAX / per_tick ||
	    __builtin_add_overflow(boot_rt, (int64_t)(start_ticks * per_tick), &t))
		return INT64_MAX;
	return t;
}

int mp_owner_waiting(const struct mp_owner *o)
{
	char st;
	uint64_t start;

	if (!mp_owner_alive(o))
		return 0;
	/* alive, and judged here: stopped? */
	if (o->pid == 0 || !proc_ok || o->pidns != self_pidns ||
	    mp_proc_stat(o->pid, &st, &start))
		return 1;
	return !(start == o->start && (st == 'T' || st == 't'));
}
