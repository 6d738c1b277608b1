/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpsem - named counting semaphores for shell scripts.
 *
 *   mpsem [OPTION...] run NAME [-j N] [--bg] [-n|-t D] [--ttl D] (-c STRING | [--] CMD...)
 *   mpsem [OPTION...] acquire NAME [-j N] [--owner PID|none] [--ttl D]
 *   mpsem [OPTION...] release NAME [--owner PID|none] [--force]
 *   mpsem [OPTION...] value|drain|info|rm NAME    mpsem create NAME [-j N] [--value V]
 *   mpsem [OPTION...] ls
 *   mpsem --posix acquire|release|value|create|rm NAME [-j N]
 *
 * Guarantee: at most N slots are held at any instant, and every held slot
 * has a live owner (pid + start time), a TTL, or was asked for with
 * --owner none.  In run mode this process is the owner and the command a
 * helper; the command is SIGKILLed if this process dies, so it never runs
 * without its slot, and the slot is not handed out again before both are
 * dead.  run --bg leaves a small supervisor (a fork of this process) as
 * the owner: it waits for the command and releases at once when it ends.
 *
 * --posix works on sem_open(3)'s "/NAME" instead: no owners, no waiter
 * order, no reaping.  It exists to interoperate with programs using it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/fault.h"
#include "lib/gate.h"
#include "lib/obj.h"
#include "lib/sem.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/store.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/obj.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/verbs.h"

enum { V_RUN = MP_VERB_TOOL, V_ACQUIRE, V_RELEASE, V_VALUE, V_DRAIN };

static const struct mp_verb verbs[] = {
	{ "run", V_RUN, MP_VERB_NAME_REST }, { "acquire", V_ACQUIRE, MP_VERB_ONE_NAME },
	{ "release", V_RELEASE, MP_VERB_ONE_NAME }, { "value", V_VALUE, MP_VERB_ONE_NAME },
	{ "drain", V_DRAIN, MP_VERB_ONE_NAME },
	MP_VERB_CREATE_ENTRY, MP_VERB_INFO_ENTRY, MP_VERB_LS_ENTRY, MP_VERB_RM_ENTRY,
};

static struct {
	struct mp_verb_line line;
	int verb;
	const char *name;
	char **cmd;
	const char *shell;
	uint64_t slots;		/* -j; 0: not given */
	uint64_t value;		/* --value: free slots at creation */
	int have_value;
	int bg, posix;
	struct mp_hold_opts hold;
} opt;

enum { OPT_BG = MP_OPT_TOOL, OPT_POSIX, OPT_VALUE };

static const struct argp_option options[] = {
	{ "jobs", 'j', "N", 0, "Number of slots, fixed when the semaphore is created "
	  "(default 1); an existing one must have N slots", 1 },
	{ "value", OPT_VALUE, "V", 0, "create: only V slots free at first (0 allowed); the "
	  "others are held with no owner until released", 1 },
	{ "command", 'c', "STRING", 0, "run: run STRING with /bin/sh -c", 1 },
	{ "bg", OPT_BG, 0, 0, "run: start the command in the background holding a slot "
	  "and return (-v: print its pid)", 1 },
	{ "owner", MP_OPT_OWNER, "PID|none", 0, "acquire/release: the holder (default: the "
	  "caller's parent; none: until released or TTL)", 2 },
	{ "ttl", MP_OPT_TTL, "DURATION", 0, "acquire: release by itself after DURATION; run: "
	  "end the command then (TERM, KILL 5 s later; exit 124)", 2 },
	{ "force", MP_OPT_FORCE, 0, 0, "release: a slot of another owner if the caller has none", 2 },
	{ "posix", OPT_POSIX, 0, 0, "Use the system's named POSIX semaphore /NAME (acquire, "
	  "release, value, create, rm; no owners)", 3 },
	{ 0 }
};

static void check_options(struct argp_state *state)
{
	int v;

	mp_verb_parse_end(&opt.line, state, "semaphore");
	v = opt.verb = opt.line.verb->id;
	opt.name = opt.line.names[0];
	if (v == V_RUN && !opt.cmd && !opt.shell)
		argp_error(state, "run needs a command (or -c STRING)");
	if (v == V_RUN && opt.cmd && opt.shell)
		argp_error(state, "give a command or -c STRING, not both");
	if (v != V_RUN && opt.shell)
		argp_error(state, "-c is for run");
	if (v != V_RUN && opt.bg)
		argp_error(state, "--bg is for run");
	if (opt.slots && v != V_RUN && v != V_ACQUIRE && v != MP_VERB_CREATE)
		argp_error(state, "-j is for run, acquire and create");
	if (opt.have_value && v != MP_VERB_CREATE)
		argp_error(state, "--value is for create");
	if (opt.have_value && opt.value > (opt.slots ? opt.slots : MP_SEM_DEFAULT_SLOTS))
		argp_error(state, "--value: at most the number of slots (-j)");
	if (v != V_ACQUIRE && v != V_RUN && opt.hold.ttl_ns)
		argp_error(state, "--ttl is for acquire and run");
	if (v != V_ACQUIRE && v != V_RELEASE && opt.hold.have_owner)
		argp_error(state, "--owner is for acquire and release");
	if (v != V_RELEASE && opt.hold.force)
		argp_error(state, "--force is for release");
	if (opt.posix) {
		if (v != V_ACQUIRE && v != V_RELEASE && v != V_VALUE && v != MP_VERB_CREATE && v != MP_VERB_RM)
			argp_error(state, "--posix works with acquire, release, value, create "
				   "and rm only");
		if (opt.hold.have_owner || opt.hold.ttl_ns || opt.hold.force)
			argp_error(state, "a POSIX semaphore has no owners: --owner, --ttl and "
				   "--force do not apply to --posix");
	} else if (opt.slots > MP_SEM_MAX_SLOTS) {
		argp_error(state, "-j: at most %u slots", MP_SEM_MAX_SLOTS);
	}
}

static int parse_opt(int key, char *arg, struct argp_state *state)
{
	char why[160];

	switch (key) {
	case 'j':
		/* the POSIX limit here; the bound of our own kind is checked
		 * at the end, once it is known whether --posix was given */
		if (mp_parse_count(arg, 1, SEM_VALUE_MAX, &opt.slots, why, sizeof why))
			argp_error(state, "-j: %s", why);
		break;
	case 'c':
		opt.shell = arg;
		break;
	case OPT_VALUE:
		if (mp_parse_count(arg, 0, SEM_VALUE_MAX, &opt.value, why, sizeof why))
			argp_error(state, "--value: %s", why);
		opt.have_value = 1;
		break;
	case OPT_BG:
		opt.bg = 1;
		break;
	case OPT_POSIX:
		opt.posix = 1;
		break;
	case ARGP_KEY_ARG:
		if (!mp_verb_parse_arg(&opt.line, verbs, sizeof verbs / sizeof *verbs, state, arg))
			break;
		if (!opt.line.verb)
			argp_error(state, "unknown verb '%s'", arg);
		/* The command's first word: everything from here on is the
		 * command's, options included. */
		opt.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		check_options(state);
		break;
	default:
		return mp_hold_opt_parse(key, arg, state, &opt.hold);
	}
	return 0;
}

static const struct argp_child children[] = {
	{ &mp_cli_argp, 0, "Common options:", 9 },
	{ &mp_cli_lease_argp, 0, "Many hosts:", 10 },
	{ 0 }
};

static const char doc[] =
	"Named counting semaphores for shell scripts, whose slots come back when "
	"their holder dies.\n\n"
	"Verbs:\n"
	"  run NAME -j N CMD... hold a slot while CMD runs (--bg: in the background)\n"
	"  acquire NAME         take a slot for the caller's parent (or --owner)\n"
	"  release NAME         give it back\n"
	"  value NAME           print the number of free slots\n"
	"  drain NAME           wait until every slot is free\n"
	"  create NAME -j N     create it now with N slots (--value V: V of them free)\n"
	"  info NAME            show holders and waiters (--json)\n"
	"  ls                   list the semaphores of the store (--json)\n"
	"  rm NAME              remove it; waiters exit 66\n"
	"\vThe command gets MP_SEM_NAME, MP_SEM_SLOT (0..N-1, unique among the holders)\n"
	"and MP_SEM_TOKEN.  Exit: 0 ok, 1 release by a non-owner or of a free slot,\n"
	"64 usage, 65 corrupt object or -j differs from the semaphore's, 66 no such\n"
	"semaphore, 69 store unavailable, 75 busy, 77 permission, 124 timed out,\n"
	"126/127 command cannot run / "
	"not found, else the command's status (128+N for signal N).  See mpsem(1).";

static const struct argp argp = {
	options, parse_opt,
	"run NAME [-j N] [--bg] [-n|-t D] [--ttl D] (-c STRING | [--] CMD [ARG...])\n"
	"acquire NAME [-j N] [-n|-t D] [--owner PID|none] [--ttl D]\n"
	"release NAME [--owner PID|none] [--force]\n"
	"value|drain|info|rm NAME\n"
	"create NAME [-j N] [--value V]\n"
	"ls\n"
	"--posix acquire|release|value|create|rm NAME [-j N] [-n|-t D]",
	doc, children, NULL, NULL
};

/* Opens the semaphore (creating it with -j slots, default 1, when create
 * is set) and refuses one whose size differs from an explicit -j. */
static int open_sem_in(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	uint32_t n = create ? (opt.slots ? (uint32_t)opt.slots : MP_SEM_DEFAULT_SLOTS) : 0;
	int rc, created;

	rc = mp_sem_open_value(s, name, n, opt.have_value ? (uint32_t)opt.value : n, &created, o);
	if (rc)
		return rc;
	if (created)
		mp_info("created semaphore '%s' with %u slot%s", name, mp_sem_slots(o),
			mp_sem_slots(o) == 1 ? "" : "s");
	else if (opt.have_value)
		mp_info("semaphore '%s' exists already: --value applies at creation only", name);
	if (opt.slots && mp_sem_slots(o) != opt.slots)
		mp_die(MP_EXIT_DATAERR, "semaphore '%s' has %u slot%s, not %llu (the number is "
		       "fixed at creation; rm it to change it)", name, mp_sem_slots(o),
		       mp_sem_slots(o) == 1 ? "" : "s", (unsigned long long)opt.slots);
	return 0;
}

static int create_sem(struct mp_store *s, const char *name, struct mp_obj *o)
{
	return open_sem_in(s, name, 1, o);
}

static const struct mp_kind_cli sem_cli = {
	&mp_sem_kind, "semaphore", create_sem, mp_show_sem_info, mp_show_sem_row,
};

static void open_sem_or_exit(struct mp_obj *o, int create)
{
	int rc;

	mp_store_open_or_exit(&mp_verb_store);
	rc = open_sem_in(&mp_verb_store, opt.name, create, o);
	if (rc == -ENOENT)
		mp_die(MP_EXIT_NOINPUT, "no semaphore named '%s' (in %s)", opt.name,
		       mp_verb_store.dir);

	if (rc)
		mp_fail(rc, "cannot open semaphore '%s'", opt.name);
}

static int acquire(struct mp_obj *o, const struct mp_owner *owner, uint64_t *token, int *idx)
{
	struct mp_gate_req r = {
		.weight = 1,
		.owner = *owner,
		.ttl_ns = opt.hold.ttl_ns && opt.verb == V_RUN ?
			  opt.hold.ttl_ns + MP_RUN_TTL_GRACE_NS : opt.hold.ttl_ns,
		.deadline_ns = mp_cli_deadline(),
		.nonblock = mp_cli.nonblock,
	};
	int64_t t0 = mp_now_ns();
	char d[32];
	int rc;

	mp_errmsg_clear();
	rc = mp_gate_acquire(o, &r, token, idx);
	if (rc == 0)
		mp_info("acquired a slot of '%s' (slot %d of %u, token %llu) after %s", opt.name,
			*idx, mp_sem_slots(o), (unsigned long long)*token,
			mp_format_duration(mp_now_ns() - t0, d, sizeof d));
	if (rc == -EDEADLK && !mp_errmsg()[0]) {
		/* The waiting process owns a slot itself (a shell that exec'd
		 * mpsem): waiting could mean waiting for itself. */
		if (!mp_cli.quiet)
			mp_warn("semaphore '%s': this process (pid %d) holds a slot already; "
				"release it first", opt.name, (int)getpid());
		exit(mp_exit_status(-EAGAIN));
	}
	return rc;
}

static void set_env(int idx, uint64_t token)
{
	char buf[32];

	setenv("MP_SEM_NAME", opt.name, 1);
	snprintf(buf, sizeof buf, "%d", idx);
	setenv("MP_SEM_SLOT", buf, 1);
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)token);
	setenv("MP_SEM_TOKEN", buf, 1);
}

static void release_token(struct mp_obj *o, int idx, uint64_t token)
{
	if (mp_gate_release_token(o, idx, token) == -ENOENT && !mp_cli.quiet)
		mp_warn("the slot of '%s' was taken back before the command ended "
			"(removed or released with --force)", opt.name);
}

/* Runs the command holding a slot for `self`; returns its status.  For
 * run --bg (launcher > 0), reports the command's pid on report_fd once it
 * runs. */
static int hold_and_run(struct mp_obj *o, struct mp_cmd *cmd, const struct mp_owner *self,
			pid_t launcher, int report_fd)
{
	struct mp_owner child;
	uint64_t token;
	int idx, rc, status, expired;

	rc = acquire(o, self, &token, &idx);
	if (rc)
		mp_fail(rc, "semaphore '%s'", opt.name);
	if (mp_signal_pending) {
		mp_gate_release_token(o, idx, token);
		exit(128 + mp_signal_pending);
	}
	set_env(idx, token);
	if (launcher > 0) {
		/* From here the launcher's death no longer cancels the command;
		 * but if it was killed before this line, start nothing. */
		prctl(PR_SET_PDEATHSIG, 0);
		if (getppid() != launcher) {
			mp_gate_release_token(o, idx, token);
			_exit(MP_EXIT_SOFTWARE);
		}
	}
	status = mp_cmd_start(cmd);
	if (status) {
		mp_gate_release_token(o, idx, token);
		return status;
	}
	/* The slot now lasts while this process or the command lives. */
	if (mp_owner_of_child(cmd->pid, cmd->start, &child) == 0)
		mp_gate_set_helper(o, idx, token, &child);
	if (launcher > 0) {
		int32_t pid = cmd->pid;
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (write(report_fd, &pid, sizeof pid) != (ssize_t)sizeof pid)
			mp_warn("cannot report the command's pid: %s", strerror(errno));
		close(report_fd);
		/* Only the command keeps the caller's output open: $(...) and
		 * pipes see their end when it ends, not when we do. */
		if (nul >= 0) {
			dup2(nul, STDOUT_FILENO);
			dup2(nul, STDERR_FILENO);
			close(nul);
		}
	}
	status = mp_cmd_wait_ttl(cmd, opt.hold.ttl_ns, &expired);
	release_token(o, idx, token);
	if (expired) {
		if (!mp_cli.quiet && launcher <= 0)
			mp_warn("semaphore '%s': the --ttl ran out: the command was ended", opt.name);
		return mp_exit_status(-ETIMEDOUT);
	}
	return status;
}

static int do_run(void)
{
	struct mp_owner self;
	struct mp_obj o;
	struct mp_cmd cmd;
	int rc, status;

	/* A command that cannot run is reported before anyone waits. */
	mp_cmd_prepare(&cmd, opt.cmd, opt.shell);
	if (!cmd.path)
		return mp_cmd_start(&cmd);
	open_sem_or_exit(&o, 1);
	rc = mp_owner_of(0, &self);
	if (rc)
		mp_fail(rc, "cannot read /proc/self/stat");
	status = hold_and_run(&o, &cmd, &self, 0, -1);
	mp_obj_close(&o);
	return status;
}

/* The supervisor of run --bg: a fork of mpsem that waits in line for a
 * slot as its owner, starts the command, reports the command's pid (or
 * exits with the reason it could not) and stays to release the slot the
 * moment the command ends.  While it waits it dies with the launcher. */
static void supervise(struct mp_obj *o, struct mp_cmd *cmd, int report_fd, pid_t launcher)
{
	struct mp_owner self;
	int nul, rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != launcher)
		_exit(MP_EXIT_SOFTWARE);	/* the launcher was killed already */
	rc = mp_owner_of(0, &self);
	if (rc)
		mp_fail(rc, "cannot read /proc/self/stat");
	/* The command's standard input is /dev/null, as sh does for "cmd &":
	 * background jobs must not compete for the terminal or a pipe. */
	nul = open("/dev/null", O_RDONLY);
	if (nul >= 0 && nul != STDIN_FILENO) {
		dup2(nul, STDIN_FILENO);
		close(nul);
	}
	exit(hold_and_run(o, cmd, &self, launcher, report_fd));
}

/* The launcher of run --bg: waits for the supervisor's report, passing on
 * termination signals (which make a waiting supervisor give up). */
static int launch_wait(pid_t sup, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	sigset_t old;
	int32_t pid = 0;
	size_t got = 0;
	int st, sent = 0;

	/* Unblocked only inside ppoll: a signal cannot slip in between the
	 * check of mp_signal_pending and the wait. */
	mp_signals_block(&old);
	for (;;) {
		if (mp_signal_pending && mp_signal_pending != sent) {
			sent = mp_signal_pending;
			kill(sup, sent);
		}
		if (ppoll(&pfd, 1, NULL, &old) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		ssize_t n = read(fd, (char *)&pid + got, sizeof pid - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof pid)
			break;
	}
	close(fd);
	if (got == sizeof pid) {
		if (mp_cli.verbose)
			printf("%d\n", (int)pid);
		return 0;
	}
	/* No report: the supervisor exited with the reason (it said why). */
	while (waitpid(sup, &st, 0) < 0) {
		if (errno != EINTR)
			mp_fail(-errno, "waitpid");
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return MP_EXIT_SOFTWARE;
}

static int do_run_bg(void)
{
	pid_t launcher = getpid(), sup;
	struct mp_obj o;
	struct mp_cmd cmd;
	int rep[2];

	mp_cmd_prepare(&cmd, opt.cmd, opt.shell);
	if (!cmd.path)
		return mp_cmd_start(&cmd);
	open_sem_or_exit(&o, 1);
	if (pipe2(rep, O_CLOEXEC) < 0)
		mp_fail(-errno, "pipe");
	fflush(NULL);
	sup = fork();
	if (sup < 0)
		mp_fail(-errno, "fork");
	if (sup == 0) {
		close(rep[0]);
		supervise(&o, &cmd, rep[1], launcher);
	}
	close(rep[1]);
	return launch_wait(sup, rep[0]);
}

static int do_acquire(void)
{
	struct mp_obj o;
	uint64_t token;
	int idx, rc;

	if (!opt.hold.have_owner)
		mp_default_owner_or_exit(&opt.hold.owner);
	open_sem_or_exit(&o, 1);
	rc = acquire(&o, &opt.hold.owner, &token, &idx);
	if (rc)
		mp_fail(rc, "semaphore '%s'", opt.name);
	MP_FAULT_POINT("mpsem.acquired");
	return 0;
}

static int do_release(void)
{
	struct mp_obj o;
	struct mp_hold h;
	int rc;

	if (!opt.hold.have_owner)
		mp_default_owner_or_exit(&opt.hold.owner);
	open_sem_or_exit(&o, 0);
	rc = mp_gate_release(&o, &opt.hold.owner, opt.hold.force, &h);
	MP_FAULT_POINT("mpsem.released");
	if (rc == -EPERM) {
		if (opt.hold.owner.pid)
			mp_warn("semaphore '%s': pid %d holds no slot (use --force to release "
				"another holder's)", opt.name, opt.hold.owner.pid);
		else
			mp_warn("semaphore '%s': no slot is held without an owner (use --force "
				"to release another holder's)", opt.name);
		return MP_EXIT_NO;
	}
	if (rc == -ENOLCK) {
		if (!mp_cli.quiet)
			mp_warn("semaphore '%s': no slot is held", opt.name);
		return MP_EXIT_NO;
	}
	if (rc)
		mp_fail(rc, "semaphore '%s'", opt.name);
	mp_info("released a slot of '%s' (token %llu)", opt.name, (unsigned long long)h.token);
	return 0;
}

static int do_value(void)
{
	struct mp_gate_info gi;
	struct mp_hold h;
	struct mp_obj o;
	int rc;

	open_sem_or_exit(&o, 0);
	rc = mp_gate_info(&o, &gi, &h, 1);
	if (rc < 0)
		mp_fail(rc, "semaphore '%s'", opt.name);
	printf("%u\n", gi.capacity - gi.used);
	return 0;
}

static int do_drain(void)
{
	struct mp_obj o;
	int rc;

	mp_store_open_or_exit(&mp_verb_store);
	rc = open_sem_in(&mp_verb_store, opt.name, 0, &o);
	if (rc == -ENOENT) {
		/* Nothing was ever started under this name (a loop that ran
		 * zero times): every slot is free. */
		mp_info("no semaphore '%s': nothing to wait for", opt.name);
		return 0;
	}
	if (rc)
		mp_fail(rc, "cannot open semaphore '%s'", opt.name);
	rc = mp_gate_drain(&o, mp_cli_deadline(), mp_cli.nonblock);
	if (rc)
		mp_fail(rc, "semaphore '%s'", opt.name);
	return 0;
}

static int do_posix(void)
{
	sem_t *sem;
	int rc, value;

	if (opt.verb == MP_VERB_RM) {
		rc = mp_psem_unlink(opt.name);
		if (rc)
			mp_fail(rc, "cannot remove POSIX semaphore '/%s'", opt.name);
		return 0;
	}
	rc = mp_psem_open(opt.name, opt.verb == V_ACQUIRE || opt.verb == MP_VERB_CREATE,
			  opt.have_value ? (unsigned)opt.value
			  : opt.slots ? (unsigned)opt.slots : MP_SEM_DEFAULT_SLOTS, &sem);
	if (rc)
		mp_fail(rc, "POSIX semaphore '/%s'", opt.name);
	mp_errmsg_clear();
	switch (opt.verb) {
	case V_ACQUIRE:
		rc = mp_psem_wait(sem, mp_cli_deadline(), mp_cli.nonblock);
		break;
	case V_RELEASE:
		rc = mp_psem_post(sem);
		break;
	case V_VALUE:
		rc = mp_psem_value(sem, &value);
		if (!rc)
			printf("%d\n", value);
		break;
	default:		/* create: sem_open did it */
		rc = 0;
		break;
	}
	if (rc)
		mp_fail(rc, "POSIX semaphore '/%s'", opt.name);
	return 0;
}

int main(int argc, char **argv)
{
	mp_cli_init(PACKAGE_VERSION);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (opt.name)
		mp_check_name_or_exit(opt.name);
	if (opt.posix)
		return do_posix();

	switch (opt.verb) {
	case V_RUN:
		return opt.bg ? do_run_bg() : do_run();
	case V_ACQUIRE:
		return do_acquire();
	case V_RELEASE:
		return do_release();
	case V_VALUE:
		return do_value();
	case V_DRAIN:
		return do_drain();
	default:
		return mp_verb_common(&sem_cli, opt.verb, opt.name);
	}
}
