/* owner.c - process identity and liveness from /proc; see owner.h. */
#include "config.h"

#include "owner.h"

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

static void probe_proc(void)
{
	struct stat st;
	char buf[64];
	ssize_t n;
	int fd;

	if (proc_ok != -1)
		return;
	proc_ok = 0;
	if (stat("/proc/self/ns/pid", &st) == 0)
		self_pidns = (uint64_t)st.st_ino;
	/* A /proc mounted from another pid namespace shows other pids: then
	 * no liveness judgement is possible (and no reaping is done). */
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if (strtol(buf, NULL, 10) == (long)getpid())
		proc_ok = 1;
}

int mp_proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[48], buf[1024], *p, *save = NULL, *tok;
	ssize_t n;
	int fd, field;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	buf[n] = 0;
	p = strrchr(buf, ')');
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
	rc = mp_proc_stat(pid, &st, &start);
	if (rc)
		return rc;
	if (st == 'Z' || st == 'X')
		return -ESRCH;
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
