/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-sweep.c - every process below this one: list the children,
 * signal them, SIGKILL them round by round until none is left.
 *
 * Used by the keeper (k != NULL) and by the front (k == NULL); both are
 * subreapers, so every orphan below them becomes their child.
 * Invariant: sup_sweep() returns only when this process has no child:
 * each round SIGKILLs the children it sees, and the orphans of the ones
 * killed are adopted and seen by the next round.  A child's pid is safe
 * to signal: only this process can reap it.
 */
#include "config.h"

#include "supervise-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int add_pid(pid_t **v, int *n, int *nv, pid_t pid)
{
	if (*n == *nv) {
		int nn = *nv ? *nv * 2 : 64;
		pid_t *nvv = realloc(*v, (size_t)nn * sizeof **v);
		if (!nvv)
			return -1;
		*v = nvv;
		*nv = nn;
	}
	(*v)[(*n)++] = pid;
	return 0;
}

/* list_children() without CONFIG_PROC_CHILDREN: every /proc/PID/stat
 * whose parent (the field after the state, after the last ')') is us. */
static int scan_children(pid_t **out)
{
	pid_t self = getpid(), *v = NULL;
	int n = 0, nv = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	*out = NULL;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[64], buf[512], *p;
		long pid = strtol(de->d_name, &p, 10);
		ssize_t r;
		int fd;

		if (*p || pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] && p[3] == ' ' && strtol(p + 4, NULL, 10) == self)
			add_pid(&v, &n, &nv, (pid_t)pid);
	}
	closedir(d);
	*out = v;
	return n;
}

/* The pids of this (single-threaded) process's children, malloc'd, in
 * *out; returns how many, or -1 (then nothing is allocated).  Reads
 * /proc/self/task/TID/children, or scans /proc when the kernel lacks it. */
static int list_children(pid_t **out)
{
	char path[64], *buf = NULL;
	size_t len = 0, cap = 0;
	pid_t *v = NULL;
	int fd, n = 0, nv = 0;

	*out = NULL;
	snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return scan_children(out);
	for (;;) {
		ssize_t r;
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				close(fd);
				return -1;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf)
		return 0;
	buf[len] = 0;
	for (char *p = buf; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p || add_pid(&v, &n, &nv, (pid_t)pid) < 0)
			break;
		p = end;
		while (*p == ' ' || *p == '\n')
			p++;
	}
	free(buf);
	*out = v;
	return n;
}

/* Sends sig to the process group of every worker that still has one: the
 * worker itself not yet reaped, or one of this process's children (the
 * worker's orphans, adopted by this subreaper) still in it.  A group whose
 * every member is gone is never signalled: its number is free for the
 * kernel to give to an unrelated process (pid_max is 32768 by default),
 * and kill(-pgid) would hit that one's group. */
void sup_kill_groups(struct keeper *k, int sig)
{
	pid_t *v;
	int n = list_children(&v);

	for (uint32_t i = 0; i < k->c->nworkers; i++) {
		pid_t g = k->w[i].pgid;
		int ours = g > 0 && k->w[i].pid == g;

		for (int j = 0; g > 0 && !ours && j < n; j++)
			ours = getpgid(v[j]) == g;
		if (ours)
			kill(-g, sig);
	}
	free(v);
}

/* Sends sig to every child.  The children's pids are safe to signal: only
 * this process can reap them. */
static void signal_children(int sig)
{
	pid_t *v;
	int n = list_children(&v);

	for (int i = 0; i < n; i++)
		kill(v[i], sig);
	free(v);
}

/* 1 when this process has no child left. */
int sup_no_children(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

/* SIGKILLs everything below this process: the workers' process groups
 * at once, then the children round by round (each round adopts the
 * orphans of the last) until none is left. */
void sup_sweep(struct keeper *k)
{
	if (k)
		k->stopping = 1;	/* no restarts from here */
	if (k)
		sup_kill_groups(k, SIGKILL);
	for (;;) {
		int wst;
		pid_t pid;

		signal_children(SIGKILL);
		pid = waitpid(-1, &wst, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid > 0) {
			if (k)
				sup_worker_reaped(k, pid, wst);
			continue;
		}
		/* children left but none has ended yet: they are dying */
		usleep(1000);
	}
}

/* The leftovers after the last worker ended: SIGTERM to each child (and
 * each worker's process group) once, SIGKILL after --kill-after. */
void sup_cleanup_signal(struct keeper *k)
{
	pid_t *v;
	int n = list_children(&v);

	for (int i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < k->nsig && k->signalled[j] != v[i]; j++)
			;
		if (j < k->nsig)
			continue;
		kill(v[i], SIGTERM);
		kill(v[i], SIGCONT);
		if (k->nsig == k->capsig) {
			size_t nc = k->capsig ? k->capsig * 2 : 16;
			pid_t *ns = realloc(k->signalled, nc * sizeof *ns);
			if (!ns)
				continue;
			k->signalled = ns;
			k->capsig = nc;
		}
		k->signalled[k->nsig++] = v[i];
	}
	free(v);
}
