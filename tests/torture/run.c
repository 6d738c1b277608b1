/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* run.c - how mptorture runs the tools: a client's call, which the killer
 * may SIGKILL, and the driver's checks, which nobody kills; with the
 * environment each gets. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torture.h"

static char self_exe[PATH_MAX];
static char bindir[PATH_MAX];
static char **tool_env, **check_env;

/* ---- running tools ---- */

const char *tool_path(const char *tool)
{
	static char paths[8][PATH_MAX + 32];
	static const char *names[8];

	for (int i = 0; i < 8; i++) {
		if (names[i] && !strcmp(names[i], tool))
			return paths[i];
		if (!names[i]) {
			names[i] = tool;
			snprintf(paths[i], sizeof paths[i], "%s/%s", bindir, tool);
			return paths[i];
		}
	}
	die("too many tools");
}

const char *self_path(void)
{
	return self_exe;
}

static void child_setup(int outfd, int errfd)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (outfd >= 0 && outfd != 1) {
		dup2(outfd, 1);
		close(outfd);
	} else if (outfd < 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
	}
	if (errfd >= 0 && errfd != 2)
		dup2(errfd, 2);
}

/* Runs argv as a client's tool: the killer may SIGKILL it while it runs.
 * outfd (or -1: /dev/null) becomes its stdout.  Fills r. */
void run_tool(struct client *c, char *const argv[], int outfd, struct tres *r)
{
	struct slot *sl = &S->slots[c->slot];
	char *wrapped[64];
	char *const *run = ns_wrap(argv, wrapped, sizeof wrapped / sizeof *wrapped);
	siginfo_t si;
	pid_t pid;
	int st;

	memset(r, 0, sizeof *r);
	r->t0 = now_ns();
	pid = fork();
	if (pid == 0) {
		child_setup(outfd, c->errfd);
		execve(run[0], run, tool_env);
		_exit(127);
	}
	if (pid < 0) {
		r->status = -1;
		r->t1 = now_ns();
		return;
	}
	r->pid = pid;
	__atomic_store_n(&sl->tool, pid, __ATOMIC_SEQ_CST);
	if (c->meddle)
		c->meddle(c, pid);
	/* Wait without reaping: the pid stays ours (a zombie) until the
	 * killer cannot be about to kill it, so it is never recycled under
	 * the killer's hand. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	__atomic_store_n(&sl->tool, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&S->killing, __ATOMIC_SEQ_CST) == c->slot)
		sched_yield();
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->t1 = now_ns();
	if (WIFEXITED(st)) {
		r->status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		r->sig = WTERMSIG(st);
		r->status = 128 + r->sig;
		if (r->sig == SIGKILL) {
			r->killed = 1;
			if (__atomic_load_n(&sl->last_killed, __ATOMIC_SEQ_CST) == pid)
				r->by_harness = 1;
			else
				__atomic_add_fetch(&S->k[c->kind].faults, 1, __ATOMIC_SEQ_CST);
		}
	}
	__atomic_add_fetch(&S->k[c->kind].ops, 1, __ATOMIC_SEQ_CST);
}

/* In the child of a check: runs argv as the first user, stdout to outfd,
 * stderr to checks.stderr. */
static void check_child(char *const argv[], int outfd) __attribute__((noreturn));
static void check_child(char *const argv[], int outfd)
{
	int efd = open("checks.stderr", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);

	users_become(0);
	child_setup(outfd, efd);
	execve(argv[0], argv, check_env);
	_exit(127);
}

/* The exit status of the check pid (128+N for signal N), or -1. */
static int check_status(pid_t pid)
{
	int st;

	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	__atomic_add_fetch(&S->checks_run, 1, __ATOMIC_SEQ_CST);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs a check command from the driver (no faults, nobody kills it) and
 * returns its exit status (128+N for signal N, -1 if it could not run);
 * its stdout goes to out[0..cap) when out is given. */
int run_check(char *const argv[], char *out, size_t cap)
{
	int pfd[2] = { -1, -1 };
	size_t len = 0;
	pid_t pid;

	if (out && pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		check_child(argv, out ? pfd[1] : -1);
	if (out) {
		close(pfd[1]);
		while (pid > 0) {
			ssize_t n = read(pfd[0], out + len, len + 1 < cap ? cap - len - 1 : 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(pfd[0]);
		out[len] = 0;
	}
	return check_status(pid);
}

/* run_check with stdout to outfd. */
int run_check_fd(char *const argv[], int outfd)
{
	pid_t pid = fork();

	if (pid == 0)
		check_child(argv, dup(outfd));
	return check_status(pid);
}

/* "mplock run L -- x" as one string, for messages. */
char *argv_str(char *const argv[], char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = 0;
	for (int i = 0; argv[i] && len + 2 < cap; i++) {
		const char *a = argv[i];
		if (i == 0 && strrchr(a, '/'))
			a = strrchr(a, '/') + 1;
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", a);
	}
	return buf;
}

/* Expected outcome of a tool call?  A SIGKILL (ours or a fault point's)
 * always is; otherwise status must be one of the allowed ones (a list
 * ending with -1).  Reports a violation and returns 0 when not. */
int expect(struct client *c, const struct tres *r, char *const argv[], const int *allowed)
{
	char buf[512];

	if (r->killed)
		return 1;
	for (int i = 0; allowed[i] >= 0; i++)
		if (r->status == allowed[i])
			return 1;
	violation(c->kind, "'%s' exited %d (see %s.stderr)", argv_str(argv, buf, sizeof buf),
		  r->status, kind_name(c->kind));
	return 0;
}

/* The environment of the tools: this one's, with MP_DIR the run's store
 * and, when fault is given, MP_FAULT=fault and its log. */
static char **make_env(const char *fault)
{
	extern char **environ;
	size_t n = 0, j = 0;
	char **env, buf[PATH_MAX + 64];

	while (environ[n])
		n++;
	env = calloc(n + 8, sizeof *env);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "MP_DIR=", 7) && strncmp(environ[i], "MP_FAULT", 8))
			env[j++] = environ[i];
	snprintf(buf, sizeof buf, "MP_DIR=%s/store", workdir);
	env[j++] = strdup(buf);
	if (fault) {
		snprintf(buf, sizeof buf, "MP_FAULT=%s", fault);
		env[j++] = strdup(buf);
		snprintf(buf, sizeof buf, "MP_FAULT_LOG=%s/faults.log", workdir);
		env[j++] = strdup(buf);
	}
	env[j] = NULL;
	return env;
}

void run_envs(const char *fault)
{
	tool_env = make_env(fault);
	check_env = make_env(NULL);
}

void run_paths(const char *bin)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);

	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	self_exe[n] = 0;
	if (bin) {
		snprintf(bindir, sizeof bindir, "%s", bin);
	} else if (getenv("MP_TOP_BUILDDIR")) {
		snprintf(bindir, sizeof bindir, "%s/src", getenv("MP_TOP_BUILDDIR"));
	} else {
		/* BUILD/tests/torture/mptorture -> BUILD/src */
		snprintf(bindir, sizeof bindir, "%s", self_exe);
		for (int i = 0; i < 3; i++)
			*strrchr(bindir, '/') = 0;
		strcat(bindir, "/src");
	}
}
