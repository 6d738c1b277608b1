/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli.c - shared command-line conventions; see cli.h. */
#include "config.h"

#include "cli.h"
#include "clock.h"
#include "err.h"
#include "fault.h"
#include "parse.h"
#include "signals.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mp_cli mp_cli = { .timeout_ns = -1, .conflict_code = -1,
			 .lease_ns = 10 * 1000000000LL };

enum { OPT_DIR = 0x1000, OPT_JSON, OPT_STORE, OPT_LEASE };

static const struct argp_option common_options[] = {
	{ "nonblock", 'n', 0, 0, "Do not wait: exit 75 if it would block", 10 },
	{ "timeout", 't', "DURATION", 0, "Wait at most DURATION (250ms, 1.5, 2m, 1h, 1d), "
	  "then exit 124; 0 is -n", 10 },
	{ "wait", 'w', "DURATION", 0, "Alias of --timeout (as in flock)", 10 },
	{ "conflict-exit-code", 'E', "N", 0, "Exit N instead of 75 (busy) or 124 (timed out)", 10 },
	{ "dir", OPT_DIR, "DIR", 0, "Use the store DIR (default $MP_STORE, else $MP_DIR, else "
	  "/dev/shm/mptools-UID; the last of --dir and --store wins)", 11 },
	{ "store", OPT_STORE, "STORE", 0, "Use the store STORE: a directory, or a Redis "
	  "server, redis://HOST[:PORT][/DB] or unix:///PATH (see mptools(7); default "
	  "$MP_STORE, else --dir)", 11 },
	{ "json", OPT_JSON, 0, 0, "Machine-readable output (info, ls)", 11 },
	{ "quiet", 'q', 0, 0, "Print no warnings (busy and timed out print nothing "
	  "unless -v anyway)", 11 },
	{ "existing", 'e', 0, 0, "Use only objects that exist: a missing one is 66 "
	  "instead of being created (also MP_EXISTING=1)", 11 },
	{ "verbose", 'v', 0, 0, "Say what happens, on stderr: why it is busy or timed "
	  "out, who holds what it waits for", 11 },
	{ 0, 'h', 0, 0, "Give this help list", -1 },
	{ 0 }
};

static int common_parse(int key, char *arg, struct argp_state *state)
{
	char why[160];
	uint64_t v;

	switch (key) {
	case 'n':
		mp_cli.nonblock = 1;
		mp_cli_deadline();	/* for the wait for an object's mutex */
		break;
	case 't':
	case 'w':
		if (mp_parse_duration(arg, &mp_cli.timeout_ns, why, sizeof why))
			argp_error(state, "%s", why);
		/* 0 must mean "do not wait", not "no timeout" */
		if (mp_cli.timeout_ns == 0)
			mp_cli.nonblock = 1;
		mp_cli_deadline();	/* for verbs that never ask for it */
		break;
	case 'E':
		if (mp_parse_count(arg, 0, 255, &v, why, sizeof why))
			argp_error(state, "--conflict-exit-code: %s", why);
		mp_cli.conflict_code = (int)v;
		break;
	case OPT_DIR:
	case OPT_STORE:
		if (!*arg)
			argp_error(state, "--%s: must not be empty", key == OPT_DIR ? "dir" : "store");
		mp_cli.dir = arg;	/* the last of --dir and --store wins */
		break;
	case OPT_JSON:
		mp_cli.json = 1;
		break;
	case 'q':
		mp_cli.quiet = 1;
		break;
	case 'v':
		mp_cli.verbose = 1;
		break;
	case 'e':
		mp_cli.existing = 1;
		break;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp mp_cli_argp = { common_options, common_parse, NULL, NULL, NULL, NULL, NULL };

static const struct argp_option lease_options[] = {
	{ "lease", OPT_LEASE, "DURATION", 0, "On a Redis store, and for holders in a pid "
	  "namespace of their own: a hold lasts DURATION unless its holder renews it "
	  "(default 10s); a holder that dies where others cannot see it, or is cut off, "
	  "loses it then", 12 },
	{ 0 }
};

static int lease_parse(int key, char *arg, struct argp_state *state)
{
	char why[160];

	if (key != OPT_LEASE)
		return ARGP_ERR_UNKNOWN;
	if (mp_parse_duration(arg, &mp_cli.lease_ns, why, sizeof why))
		argp_error(state, "--lease: %s", why);
	if (mp_cli.lease_ns < 100000000LL)
		argp_error(state, "--lease: at least 100ms");
	return 0;
}

const struct argp mp_cli_lease_argp = { lease_options, lease_parse, NULL, NULL, NULL, NULL, NULL };

/* The same option in mpspawn, where what is leased is a group's record */
static const struct argp_option group_lease_options[] = {
	{ "lease", OPT_LEASE, "DURATION", 0, "On a Redis store: the group's supervisor renews "
	  "the group's record every third of DURATION (default 10s); a group whose host "
	  "stopped renewing it is shown as lost once DURATION has run out", 12 },
	{ 0 }
};

const struct argp mp_cli_group_lease_argp = { group_lease_options, lease_parse, NULL, NULL, NULL,
					      NULL, NULL };

static char version_buf[64];

/* As GNU tools print it: name, copyright, licence, no warranty, where
 * bugs go (configure.ac's AC_INIT, also argp's line at the end of --help). */
static void print_version(FILE *f, struct argp_state *state)
{
	fprintf(f, "%s (mptools) %s\n"
		"Copyright (C) 2026 The mptools authors.\n"
		"License LGPL-2.1-or-later: GNU LGPL version 2.1 or later\n"
		"<https://gnu.org/licenses/old-licenses/lgpl-2.1.html>.\n"
		"This is free software: you are free to change and redistribute it.\n"
		"There is NO WARRANTY, to the extent permitted by law.\n"
		"\n"
		"Report bugs to %s.\n",
		program_invocation_short_name, version_buf, PACKAGE_BUGREPORT);
}

static void on_sigbus(int sig)
{
	/* A mapped object file was truncated under us (only the owner of the
	 * store can do that).  The state is gone anyway: say so, as "bad
	 * data", instead of dying by SIGBUS. */
	static const char msg[] = ": an object file was truncated or replaced while in use\n";
	const char *p = program_invocation_short_name;
	ssize_t r = write(2, p, strlen(p));

	if (r >= 0)
		r = write(2, msg, sizeof msg - 1);
	(void)r;	/* nothing better to do if stderr is gone */
	_exit(MP_EXIT_DATAERR);
}

void mp_cli_init(const char *version)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	/* not snprintf: stdio's frame would cost this call two stack pages */
	strncpy(version_buf, version, sizeof version_buf - 1);
	argp_program_version_hook = print_version;
	argp_program_bug_address = PACKAGE_BUGREPORT;
	argp_err_exit_status = MP_EXIT_USAGE;
	/* MP_EXISTING=1 is -e for a whole script (0 or empty: not) */
	const char *e = getenv("MP_EXISTING");
	mp_cli.existing = e && *e && strcmp(e, "0");
	mp_signals_install();
	atexit(mp_close_stdout);
}

int64_t mp_cli_deadline(void)
{
	int64_t dl = mp_cli.timeout_ns > 0 ? mp_deadline(mp_cli.timeout_ns) : 0;

	/* the wait for an object's internal mutex ends there too */
	mp_obj_patience(dl, mp_cli.nonblock);
	return dl;
}

int mp_exit_status(int rc)
{
	switch (rc) {
	case 0:
		return MP_EXIT_OK;
	case -EAGAIN:
		return mp_cli.conflict_code >= 0 ? mp_cli.conflict_code : MP_EXIT_BUSY;
	case -ETIMEDOUT:
		return mp_cli.conflict_code >= 0 ? mp_cli.conflict_code : MP_EXIT_TIMEOUT;
	case -EINTR:
		return 128 + (mp_signal_pending ? mp_signal_pending : SIGINT);
	case -ENOENT:
	case -EIDRM:
		return MP_EXIT_NOINPUT;
	case -ENOTCONN:
	case -EPROTONOSUPPORT:
		return MP_EXIT_UNAVAILABLE;
	case -EACCES:
	case -EPERM:
		return MP_EXIT_NOPERM;
	case -EBADMSG:
	case -EMEDIUMTYPE:
	case -EPROTO:
	case -EMSGSIZE:
		return MP_EXIT_DATAERR;
	case -ENOSPC:
	case -EDQUOT:
	case -EROFS:
	case -EFBIG:
		return MP_EXIT_CANTCREAT;
	case -EPIPE:
	case -EIO:
		return MP_EXIT_IOERR;
	case -EINVAL:
	case -EDEADLK:
	case -ENOTRECOVERABLE:
		return MP_EXIT_SOFTWARE;
	default:
		return MP_EXIT_OSERR;
	}
}

static void vwarn(const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, buf);
}

void mp_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void mp_info(const char *fmt, ...)
{
	va_list ap;
	if (!mp_cli.verbose)
		return;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void mp_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(status);
}

void mp_fail(int rc, const char *what_fmt, ...)
{
	int status = mp_exit_status(rc);
	char what[512];
	va_list ap;

	va_start(ap, what_fmt);
	vsnprintf(what, sizeof what, what_fmt, ap);
	va_end(ap);
	if (rc == -EINTR)
		exit(status);
	/* silent as flock -n and -w are: a cron job that skips a busy
	 * lock mails nothing; -v says why */
	if ((rc == -EAGAIN || rc == -ETIMEDOUT) && (mp_cli.quiet || !mp_cli.verbose))
		exit(status);
	if ((rc == -EAGAIN || rc == -ETIMEDOUT) && strstr(mp_errmsg(), "is stopped inside"))
		mp_warn("%s: %s: %s", what, rc == -EAGAIN ? "busy" : "timed out", mp_errmsg());
	else if (rc == -EAGAIN)
		mp_warn("%s: busy", what);
	else if (rc == -ETIMEDOUT)
		mp_warn("%s: timed out", what);
	else if (rc == -EIDRM)
		mp_warn("%s: it was removed while waiting", what);
	else if (mp_errmsg()[0])
		mp_warn("%s", mp_errmsg());
	else
		mp_warn("%s: %s", what, strerror(-rc));
	exit(status);
}

/* -v with the default store: a process in a mount namespace of its own
 * (systemd's PrivateDevices= or PrivateTmp=, a container) may have a
 * /dev/shm of its own, and with it a store no one else sees.  Said once;
 * nothing when it cannot tell (/proc/1 is not ours to read). */
static void warn_private_mounts(const char *dir)
{
	static int said;
	char self[64], init[64];
	ssize_t a, b;

	if (said || !mp_cli.verbose || (dir && *dir) || getenv("MP_STORE") || getenv("MP_DIR"))
		return;
	said = 1;
	a = readlink("/proc/self/ns/mnt", self, sizeof self);
	b = readlink("/proc/1/ns/mnt", init, sizeof init);
	if (a <= 0 || b <= 0 || (a == b && !memcmp(self, init, (size_t)a)))
		return;
	mp_warn("this process is in a mount namespace other than init's (systemd "
		"PrivateDevices= or PrivateTmp=, a container?): its /dev/shm, and so the "
		"default store, may not be the one other processes use; set MP_DIR to a "
		"directory they share (see mptools(7), SYSTEMD)");
}

void mp_store_open_dir_or_exit(struct mp_store *s, const char *dir)
{
	int rc = mp_store_open(s, dir);

	warn_private_mounts(dir);

	s->lease_ns = mp_cli.lease_ns;
	/* One status whatever the cause (not ours, wrong mode, a file, cannot
	 * be made): the script's one remedy is to fix the store it names.
	 * But a filesystem of many hosts is never fixed: 77, refused. */
	if (rc == -EREMOTE)
		mp_die(MP_EXIT_NOPERM, "%s", mp_errmsg());
	if (rc && mp_errmsg()[0])
		mp_die(MP_EXIT_UNAVAILABLE, "%s", mp_errmsg());
	if (rc)
		mp_die(MP_EXIT_UNAVAILABLE, "cannot use the store: %s", strerror(-rc));
}

void mp_store_open_or_exit(struct mp_store *s)
{
	mp_store_open_dir_or_exit(s, mp_cli.dir);
}

void mp_check_name_or_exit(const char *name)
{
	char why[160];

	if (mp_parse_name(name, why, sizeof why))
		mp_die(MP_EXIT_USAGE, "bad name '%s': %s", name, why);
}

void mp_parse_owner_or_exit(const char *arg, struct mp_owner *o)
{
	uint64_t pid;
	char why[160];
	int rc;

	memset(o, 0, sizeof *o);
	if (!strcmp(arg, "none"))
		return;
	if (mp_parse_count(arg, 1, 0x7fffffff, &pid, why, sizeof why))
		mp_die(MP_EXIT_USAGE, "bad --owner '%s': a pid or 'none' expected", arg);
	rc = mp_owner_of((pid_t)pid, o);
	if (rc == -ESRCH)
		mp_die(MP_EXIT_NOINPUT, "--owner %s: no such process", arg);
	if (rc)
		mp_die(MP_EXIT_OSERR, "--owner %s: cannot read /proc/%s/stat: %s", arg, arg,
		       strerror(-rc));
}

int mp_hold_opt_parse(int key, char *arg, struct argp_state *state, struct mp_hold_opts *h)
{
	char why[160];

	switch (key) {
	case MP_OPT_OWNER:
		mp_parse_owner_or_exit(arg, &h->owner);
		h->have_owner = 1;
		return 0;
	case MP_OPT_TTL:
		if (mp_parse_duration(arg, &h->ttl_ns, why, sizeof why))
			argp_error(state, "--ttl: %s", why);
		if (h->ttl_ns == 0)
			argp_error(state, "--ttl: must be more than 0");
		return 0;
	case MP_OPT_FORCE:
		h->force = 1;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

void mp_default_owner_or_exit(struct mp_owner *o)
{
	pid_t ppid = getppid(), pgid = getpgid(0);
	int rc;

	/* A caller killed before we got here has left us to init or to a
	 * subreaper (mpspawn's keeper, systemd --user), which would own the
	 * hold for as long as it lives: the lock would be wedged.  We
	 * inherited our process group from the caller, so unless we lead one
	 * (a job of an interactive shell, a service), a parent in another
	 * process group is not the caller but whoever adopted us. */
	if (pgid != getpid() && getpgid(ppid) != pgid)
		mp_die(MP_EXIT_NOINPUT, "the calling process has exited (pid %d adopted this "
		       "process): nothing done; name the owner with --owner", (int)ppid);
	rc = mp_owner_of(ppid, o);
	/* Not in /proc but still our parent: hidden (hidepid=2 hides other
	 * users' processes, and a process that changed its user without an
	 * exec from its own user too), not dead; its start time is unknown. */
	if (rc == -ESRCH && getppid() == ppid && (kill(ppid, 0) == 0 || errno == EPERM) &&
	    mp_proc_stat(ppid, &(char){ 0 }, &(uint64_t){ 0 }) == -ESRCH)
		mp_die(MP_EXIT_NOPERM, "cannot see the calling process (pid %d) in /proc "
		       "(hidepid): nothing done; name an owner this process can see with "
		       "--owner, or --owner none", (int)ppid);
	if (rc == -ESRCH)	/* it died (a zombie) just now */
		mp_die(MP_EXIT_NOINPUT, "the calling process (pid %d) has exited: nothing done",
		       (int)ppid);
	if (rc)
		mp_die(MP_EXIT_OSERR, "cannot identify the parent process (pid %d): %s",
		       (int)ppid, strerror(-rc));
}

void mp_json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

char *mp_format_time(int64_t realtime_ns, char *buf, size_t len)
{
	time_t t = (time_t)(realtime_ns / 1000000000LL);
	struct tm tm;

	size_t n;

	localtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
	/* RFC 3339 wants the offset as +hh:mm (strftime gives +hhmm) */
	if (n >= 5 && n + 2 <= len) {
		memmove(buf + n - 1, buf + n - 2, 3);
		buf[n - 2] = ':';
	}
	return buf;
}

/* ---- wrapped commands ---- */

/* Finds file in PATH as execvp(3) would.  Returns the path (in buf, of
 * PATH_MAX bytes), or NULL with *status 127 (not found) or 126 (found but
 * not executable, or a path too long to run). */
static char *search_path(const char *file, int *status, char *buf)
{
	const char *path = getenv("PATH");
	size_t flen = strlen(file);
	int found_noexec = 0;

	if (strchr(file, '/')) {
		struct stat st;
		if (stat(file, &st) < 0) {
			*status = errno == ENOENT || errno == ENOTDIR ? MP_EXIT_NOT_FOUND
								       : MP_EXIT_CANNOT_EXEC;
			return NULL;
		}
		if (S_ISDIR(st.st_mode) || access(file, X_OK) < 0 || flen >= PATH_MAX) {
			*status = MP_EXIT_CANNOT_EXEC;
			return NULL;
		}
		return memcpy(buf, file, flen + 1);
	}
	if (!path)
		path = "/bin:/usr/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		size_t dlen = (size_t)(end - path);
		struct stat st;

		if (dlen + flen + 2 <= PATH_MAX) {
			if (dlen)
				memcpy(buf, path, dlen), buf[dlen] = '/';
			memcpy(buf + (dlen ? dlen + 1 : 0), file, flen + 1);
			if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) {
				if (access(buf, X_OK) == 0)
					return buf;
				found_noexec = 1;
			}
		}
		path = *end ? end + 1 : end;
	}
	*status = found_noexec ? MP_EXIT_CANNOT_EXEC : MP_EXIT_NOT_FOUND;
	return NULL;
}

int mp_cmd_execve(const char *path, char **argv, char **envp)
{
	execve(path, argv, envp);
	if (errno == ENOEXEC) {
		/* a script without #!: run it with sh, as execvp does */
		char *shv[256] = { "sh", (char *)path };
		int j;
		for (j = 1; j < 254 && argv[j]; j++)
			shv[j + 1] = argv[j];
		shv[j + 1] = NULL;
		execve("/bin/sh", shv, envp);
		errno = ENOEXEC;
	}
	return errno;
}

void mp_cmd_prepare(struct mp_cmd *c, char **argv, const char *shell_string)
{
	memset(c, 0, sizeof *c);
	if (shell_string) {
		c->sh_argv[0] = "sh";
		c->sh_argv[1] = "-c";
		c->sh_argv[2] = (char *)shell_string;
		c->sh_argv[3] = NULL;
		c->argv = c->sh_argv;
		c->path = strcpy(c->path_buf, "/bin/sh");
	} else {
		c->argv = argv;
		c->path = search_path(argv[0], &c->status_if_fail, c->path_buf);
	}
}

static volatile pid_t forward_pid;

static void forward_signal(int sig, siginfo_t *si, void *uctx)
{
	mp_signal_pending = sig;
	/* The terminal sends its signals (si_code SI_KERNEL) to the whole
	 * foreground process group: the command has it already. */
	if (forward_pid > 0 && si->si_code <= 0)
		kill(forward_pid, sig);
}

int mp_cmd_start(struct mp_cmd *c)
{
	const int *sigs = mp_term_signals;
	volatile int child_errno = 0;
	volatile uint64_t t1 = 0;
	pid_t parent = getpid(), parent_tid = (pid_t)syscall(SYS_gettid);
	uint64_t t0;
	sigset_t all, old;
	struct sigaction sa;
	pid_t pid;

	mp_obj_patience(0, 0);	/* the wait is over: CMD runs holding it */
	if (!c->path) {
		mp_warn("cannot run '%s': %s", c->argv[0],
			c->status_if_fail == MP_EXIT_NOT_FOUND ? "command not found"
							       : "Permission denied");
		return c->status_if_fail;
	}
	fflush(NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO;	/* no SA_RESTART: waitpid sees EINTR */
	sigemptyset(&sa.sa_mask);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	/* The kernel stamps the child's start time between these two clock
	 * readings: when they fall in one tick, that tick is it. */
	t0 = mp_boot_ticks();
	/* vfork: the child shares our memory until it execs, which is what lets
	 * it report a failed exec in child_errno, and costs no page copies. */
	pid = vfork();
	if (pid == 0) {
		struct sigaction dfl;

		t1 = mp_boot_ticks();

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || mp_parent_thread_gone(parent, parent_tid))
			_exit(MP_EXIT_CANNOT_EXEC);	/* the tool died first */
		memset(&dfl, 0, sizeof dfl);
		/* Our handlers must not run in the child before it execs (the
		 * memory is the parent's); the command gets the dispositions
		 * we inherited. */
		for (size_t i = 0; i < 3; i++) {
			dfl.sa_handler = sigismember(&mp_signals_ignored, sigs[i]) ? SIG_IGN : SIG_DFL;
			sigaction(sigs[i], &dfl, NULL);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		child_errno = mp_cmd_execve(c->path, c->argv, environ);
		_exit(MP_EXIT_CANNOT_EXEC);
	}
	if (pid < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		mp_warn("cannot start '%s': %s", c->argv[0], strerror(e));
		return MP_EXIT_OSERR;
	}
	if (child_errno) {
		waitpid(pid, NULL, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		mp_warn("cannot run '%s': %s", c->argv[0], strerror(child_errno));
		return child_errno == ENOENT ? MP_EXIT_NOT_FOUND : MP_EXIT_CANNOT_EXEC;
	}
	c->pid = pid;
	c->start = t0 && t0 == t1 ? t0 : 0;
	forward_pid = pid;
	/* The command runs; the hold does not name it as a helper yet. */
	MP_FAULT_POINT("cli.cmd.started");
	for (size_t i = 0; i < 3; i++) {
		struct sigaction cur;
		if (sigaction(sigs[i], NULL, &cur) == 0 && cur.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* A signal that arrived before the handlers changed was recorded but
	 * not forwarded. */
	if (mp_signal_pending)
		kill(pid, mp_signal_pending);
	return 0;
}

int mp_cmd_wait(struct mp_cmd *c)
{
	int st;

	while (waitpid(c->pid, &st, 0) < 0) {
		if (errno != EINTR) {
			mp_warn("waitpid: %s", strerror(errno));
			return MP_EXIT_OSERR;
		}
	}
	forward_pid = 0;
	MP_FAULT_POINT("cli.cmd.reaped");
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return MP_EXIT_SOFTWARE;
}

void mp_close_stdout(void)
{
	/* Like gnulib's close_stdout: data written to a full disk or a closed
	 * pipe must not be reported as success. */
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (errno == EBADF && !ferror(stdout))
			return;	/* stdout was closed and nothing was written */
		fprintf(stderr, "%s: write error: %s\n", program_invocation_short_name,
			strerror(errno));
		_exit(MP_EXIT_IOERR);
	}
}
