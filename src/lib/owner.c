/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* owner.c - process identity and liveness from /proc; see owner.h. */
#include "config.h"

#include "owner.h"
#include "clock.h"
#include "str.h"

#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* This time namespace's boottime offset in clock ticks: start times in
 * /proc are shifted by it (the kernel adds it for the reader). */
static uint64_t boot_offset_ticks(void)
{
	static uint64_t ticks;
	static int have;

	if (!have) {
		int64_t off = mp_timens_offset_ns(CLOCK_BOOTTIME);
		long hz = sysconf(_SC_CLK_TCK);

		ticks = off && hz > 0 ? (uint64_t)(off / (1000000000LL / hz)) : 0;
		have = 1;
	}
	return ticks;
}

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
			*start = strtoull(tok, NULL, 10) - boot_offset_ticks();
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

/* /proc cannot identify processes: says why, and what to mount. */
static int no_proc(void)
{
	char buf[1024];
	int rc = read_stat("/proc/self/stat", buf, sizeof buf);

	if (rc)
		mp_errmsg_set("cannot read /proc/self/stat: %s (mount /proc: "
			      "mount -t proc proc /proc)", strerror(-rc));
	else
		mp_errmsg_set("cannot read /proc/self/stat: the /proc mounted here belongs to "
			      "another pid namespace (it calls this process %ld, not %d); mount "
			      "this namespace's own: unshare --mount-proc, or mount -t proc proc "
			      "/proc in a mount namespace", strtol(buf, NULL, 10), (int)getpid());
	return -ENOSYS;
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

int mp_parent_thread_gone(pid_t pid, pid_t tid)
{
	char path[64], buf[1024], *p;
	int field = 3, rc;

	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	rc = read_stat(path, buf, sizeof buf);
	if (rc)
		return rc == -ESRCH && proc_ok == 1;
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (p++; *p && field <= 9; field++) {
		while (*p == ' ')
			p++;
		if (field == 3 && (*p == 'Z' || *p == 'X'))
			return 1;
		if (field == 9)
			return (strtoul(p, NULL, 10) & 0x4) != 0;	/* PF_EXITING */
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

int mp_owner_of(pid_t pid, struct mp_owner *o)
{
	char st;
	uint64_t start;
	int rc;

	probe_proc();
	if (!proc_ok)
		return no_proc();
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
	return (uint64_t)mp_clock_ns(CLOCK_BOOTTIME) / tick_ns - boot_offset_ticks();
}

int mp_owner_of_child(pid_t pid, uint64_t start, struct mp_owner *o)
{
	probe_proc();
	if (!proc_ok)
		return no_proc();
	if (!start)
		return mp_owner_of(pid, o);
	memset(o, 0, sizeof *o);
	o->pid = pid;
	o->start = start;
	o->pidns = self_pidns;
	return 0;
}

/* Cannot see the owner: its lease (if any) speaks for it. */
static int alive_by_lease(const struct mp_owner *o)
{
	return !o->lease_ns || mp_shared_ns() < o->lease_ns;
}

/* The inode of the pid namespace of /proc/DIR (a pid or "self"), 0 when
 * it cannot be read (-errno in *err). */
static uint64_t pidns_of(const char *dir, int *err)
{
	char path[64], link[64];
	ssize_t n;

	mp_str_join(path, sizeof path, "/proc", '/', dir);
	memcpy(path + strlen(path), "/ns/pid", 8);
	n = readlink(path, link, sizeof link - 1);
	if (n < 0) {
		*err = -errno;
		return 0;
	}
	link[n] = 0;
	return strncmp(link, "pid:[", 5) ? 0 : strtoull(link + 5, NULL, 10);
}

/* The pid that process /proc/DIR has in the pid namespace at depth `at`
 * below ours (1: ours; 0: its own, the innermost): that number of its
 * NSpid line; 0 when unknown.  *depth: how many numbers there are. */
static long nspid(const char *dir, int at, int *depth)
{
	char path[64], buf[2048], *p, *end;
	long pid = 0;
	ssize_t n;
	int fd;

	mp_str_join(path, sizeof path, "/proc", '/', dir);
	memcpy(path + strlen(path), "/status", 8);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strstr(buf, "\nNSpid:");
	if (!p)
		return 0;
	for (p += 7; *p && *p != '\n'; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (++*depth == at || !at)
			pid = v;
	}
	return pid;
}

/* Finds, in our /proc, the process that o names in its own pid namespace.
 * Returns 1 (*pid set: its pid here), 0 (certainly gone: its namespace is
 * visible from here, or empty, and holds no such process), -1 (cannot
 * tell: a sibling namespace, or processes we may not look at). */
static int translate(const struct mp_owner *o, pid_t *pid)
{
	static uint64_t c_ns;	/* the last translation, tried first */
	static pid_t c_pid, c_here;
	char num[16];
	struct dirent *de;
	int seen = 0, blind = 0, err, depth, depth_x = 0;
	DIR *d;

	if (c_ns == o->pidns && c_pid == o->pid && c_here) {
		mp_str_utoa(num, (unsigned long)c_here);
		depth = 0;
		if (pidns_of(num, &err) == o->pidns && nspid(num, 0, &depth) == o->pid) {
			*pid = c_here;
			return 1;
		}
	}
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		err = depth = 0;
		if (pidns_of(de->d_name, &err) != o->pidns) {
			/* a namespace link we may not read (even root, for a
			 * process that is not dumpable): a process of our own
			 * namespace (one NSpid) is not in o's anyway */
			if ((err == -EACCES || err == -EPERM) &&
			    (nspid(de->d_name, 0, &depth), depth != 1))
				blind = 1;
			continue;
		}
		seen = 1;
		if (nspid(de->d_name, 0, &depth) == o->pid)
			goto found;
		depth_x = depth;
	}
	/* Not in o's namespace itself: it may be in one nested below it
	 * (--owner of a process there), where its NSpid at o's depth is
	 * o's pid.  Rare (a dead owner's last look), so a second pass. */
	if (seen && depth_x) {
		rewinddir(d);
		while ((de = readdir(d))) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			depth = 0;
			if (nspid(de->d_name, depth_x, &depth) == o->pid && depth > depth_x)
				goto found;
		}
	}
	closedir(d);
	/* Only root sees every process (no hidepid, every ns link readable);
	 * from the initial namespace every namespace is a descendant, so one
	 * with no process left is empty: its processes are all dead. */
	if (blind || mp_euid() != 0)
		return -1;
	if (seen || self_pidns == MP_PIDNS_INIT)
		return 0;
	return -1;
found:
	*pid = (pid_t)strtol(de->d_name, NULL, 10);
	c_ns = o->pidns, c_pid = o->pid, c_here = *pid;
	closedir(d);
	return 1;
}

int mp_owner_alive(const struct mp_owner *o)
{
	pid_t pid = o->pid;
	char st;
	uint64_t start;
	int rc;

	if (o->pid == 0)
		return 1;
	probe_proc();
	if (!proc_ok)
		return alive_by_lease(o);
	if (o->pidns && o->pidns != self_pidns) {
		rc = translate(o, &pid);
		if (rc < 0)
			return alive_by_lease(o);
		if (rc == 0)
			return 0;
	}
	rc = mp_proc_stat(pid, &st, &start);
	if (rc == -ESRCH) {
		/* No /proc/PID: gone, or hidden from us (hidepid=2, systemd's
		 * ProtectProc=invisible).  kill(2) sees through that. */
		if (kill(pid, 0) == 0 || errno == EPERM)
			return 1;
		return 0;
	}
	if (rc)
		return 1;	/* cannot tell (EACCES, hidepid=1): do not reap */
	if (start != o->start || st == 'Z' || st == 'X')
		return 0;
	return 1;
}

int mp_owner_needs_lease(const struct mp_owner *o)
{
	return o->pid && o->pidns && o->pidns != MP_PIDNS_INIT;
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
	/* start_ticks count from the boot of the initial time namespace */
	int64_t boot_rt = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec -
			  ((int64_t)bt.tv_sec * 1000000000LL + bt.tv_nsec -
			   mp_timens_offset_ns(CLOCK_BOOTTIME));
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
