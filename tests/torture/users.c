/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* users.c - mptorture --users U1,U2:GROUP and --hidepid (issue 22).
 *
 * --users UID1,UID2:GID: the clients run as two users, by turns (rank 0, 2, ... as U1;
 * 1, 3, ... as U2), both in GROUP, on a proper group store (setgid, mode
 * 2770, owned by U1 and GROUP): each uses objects the other created, and
 * each one's holders are the other's to judge.  The checks run as U1.
 * The harness stays root (it kills and stops both users' processes); the
 * work directory becomes GROUP's (2770, umask 007) so that both users'
 * clients, tools and critical sections share its files.
 *
 * --hidepid (with --users): the harness enters a mount namespace of its
 * own and mounts a /proc with hidepid=2 there, so a tool sees only its
 * own user's processes: the other user's live holders are invisible and
 * must never be judged dead (a violation of the lock's, semaphore's or
 * queue's invariants if they are).  The harness's own checks and the
 * critical sections read the /proc they had ($MPT_HOSTPROC, a bind mount),
 * which hides nothing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torture.h"

int users_mode, hidepid_mode;
static uid_t uids[2];
static gid_t ggid;

/* A uid or gid: a number more than 0 (names would need NSS, which a
 * static binary cannot load); -1 if not. */
static long id_of(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v > 0 && v < 0x7fffffffL ? v : -1;
}

int users_parse(const char *arg)
{
	char buf[256], *comma, *colon;
	long a, b, g;

	snprintf(buf, sizeof buf, "%s", arg);
	comma = strchr(buf, ',');
	colon = strchr(buf, ':');
	if (!comma || !colon || colon < comma)
		return -1;
	*comma = *colon = 0;
	a = id_of(buf);
	b = id_of(comma + 1);
	g = id_of(colon + 1);
	if (a <= 0 || b <= 0 || g <= 0 || a == b)
		return -1;
	uids[0] = (uid_t)a;
	uids[1] = (uid_t)b;
	ggid = (gid_t)g;
	users_mode = 1;
	return 0;
}

void users_become(int rank)
{
	if (!users_mode)
		return;
	if (setgroups(1, &ggid) < 0 || setgid(ggid) < 0 || setuid(uids[rank & 1]) < 0) {
		fprintf(stderr, "mptorture: cannot become uid %d: %s\n", (int)uids[rank & 1],
			strerror(errno));
		_exit(70);
	}
	/* A process that changed its user is not dumpable, and hidepid=2
	 * hides such a process from its own user too: its tools would take
	 * their caller for dead.  A real client exec'd as its user is
	 * dumpable. */
	prctl(PR_SET_DUMPABLE, 1);
}

/* Runs fn as user rank in a child; its exit status (0: fine). */
static int as_user(int rank, int (*fn)(const char *), const char *arg)
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		users_become(rank);
		_exit(fn(arg));
	}
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int can_use(const char *work)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/shm", work);
	if (access(path, R_OK | W_OK) < 0 || access(self_path(), X_OK) < 0 ||
	    access(tool_path("mplock"), X_OK) < 0)
		return 1;
	return 0;
}

/* 0 when pid 1 (root's) is out of sight: hidepid works. */
static int hides_init(const char *unused)
{
	struct stat st;

	(void)unused;
	return stat("/proc/1", &st) < 0 && errno == ENOENT ? 0 : 1;
}

static int mount_hidepid(const char *work)
{
	int rc = hostproc_setup(work);

	if (rc == 0 &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
		rc = -errno;
	return rc;
}

const char *users_setup(const char *work)
{
	static char why[PATH_MAX + 200];
	char path[PATH_MAX + 64];
	int rc;

	if (!users_mode)
		return NULL;
	umask(007);
	snprintf(path, sizeof path, "%s/store", work);
	if (chown(work, 0, ggid) < 0 || chmod(work, 02770) < 0 ||
	    chown(path, uids[0], ggid) < 0 || chmod(path, 02770) < 0) {
		snprintf(why, sizeof why, "--users: cannot give %s to the group: %s (root is needed)",
			 work, strerror(errno));
		return why;
	}
	/* the library's fault log is made 0600 by whoever comes first */
	snprintf(path, sizeof path, "%s/faults.log", work);
	rc = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0660);
	if (rc >= 0)
		close(rc);
	if (hidepid_mode && (rc = mount_hidepid(work)) < 0) {
		snprintf(why, sizeof why, "--hidepid: cannot mount a hidepid=2 /proc: %s",
			 strerror(-rc));
		return why;
	}
	return NULL;
}

const char *users_check(const char *work)
{
	static char why[PATH_MAX + 200];

	if (!users_mode)
		return NULL;
	for (int r = 0; r < 2; r++)
		if (as_user(r, can_use, work)) {
			snprintf(why, sizeof why, "--users: uid %d cannot use %s or run %s and the "
				 "tools (put them where every user can go, see --bin and --dir)",
				 (int)uids[r], work, self_path());
			return why;
		}
	if (hidepid_mode && as_user(0, hides_init, NULL)) {
		snprintf(why, sizeof why, "--hidepid: /proc does not hide other users' processes");
		return why;
	}
	return NULL;
}

void users_cleanup(const char *work)
{
	if (hidepid_mode)
		hostproc_cleanup(work);
}

const char *users_describe(void)
{
	static char buf[128];

	if (!users_mode)
		return "";
	snprintf(buf, sizeof buf, " (users %d and %d, group store of gid %d%s)", (int)uids[0],
		 (int)uids[1], (int)ggid, hidepid_mode ? ", /proc hidepid=2" : "");
	return buf;
}
