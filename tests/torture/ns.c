/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ns.c - mptorture --ns: every `mplock run` and `mpsem run` of a client
 * runs as the init of a pid namespace of its own (unshare -pf
 * --mount-proc --kill-child), so holders and waiters are sibling
 * containers that cannot see each other: a holder is kept by its lease,
 * and the harness's SIGKILL of a call (unshare) ends its namespace.  The
 * critical sections, inside those namespaces, name themselves by their
 * pid in the harness's namespace, read through a bind mount of the
 * harness's /proc ($MPT_HOSTPROC), which the namespaces' own /proc does
 * not hide. */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "torture.h"

int ns_mode;

const char *proc_root(void)
{
	static const char *root;

	if (!root) {
		const char *h = getenv("MPT_HOSTPROC");

		root = h && *h ? h : "/proc";
	}
	return root;
}

pid_t self_pid(void)
{
	char path[PATH_MAX + 16], buf[32];
	ssize_t n;

	if (!strcmp(proc_root(), "/proc"))
		return getpid();
	snprintf(path, sizeof path, "%s/self", proc_root());
	n = readlink(path, buf, sizeof buf - 1);
	if (n <= 0)
		return getpid();
	buf[n] = 0;
	return (pid_t)atoi(buf);
}

int hostproc_setup(const char *work)
{
	static char path[PATH_MAX + 16];

	/* a mount namespace of the harness's own: the bind mount of /proc
	 * goes away with it */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	snprintf(path, sizeof path, "%s/hostproc", work);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount("/proc", path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	setenv("MPT_HOSTPROC", path, 1);
	return 0;
}

void hostproc_cleanup(const char *work)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/hostproc", work);
	umount2(path, MNT_DETACH);
	rmdir(path);
}

int ns_setup(const char *work)
{
	int rc = hostproc_setup(work);

	if (rc == 0)
		ns_mode = 1;
	return rc;
}

void ns_cleanup(const char *work)
{
	if (ns_mode)
		hostproc_cleanup(work);
}

char *const *ns_wrap(char *const argv[], char *buf[], size_t cap)
{
	static const char *pre[] = { "/usr/bin/unshare", "-pf", "--mount-proc", "--kill-child" };
	const char *base = strrchr(argv[0], '/');
	size_t n = 0, i;

	base = base ? base + 1 : argv[0];
	if (!ns_mode || !argv[1] || strcmp(argv[1], "run") ||
	    (strcmp(base, "mplock") && strcmp(base, "mpsem")))
		return argv;
	for (i = 0; i < sizeof pre / sizeof *pre; i++)
		buf[n++] = (char *)pre[i];
	for (i = 0; argv[i] && n + 1 < cap; i++)
		buf[n++] = argv[i];
	buf[n] = NULL;
	return buf;
}
