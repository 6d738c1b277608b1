/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mplock - a named mutex / reader-writer lock for shell scripts.
 *
 *   mplock [OPTION...] run NAME [-s|-x] [-n|-t D] [--ttl D] (-c STRING | [--] CMD...)
 *   mplock [OPTION...] NAME CMD...
 *   mplock [OPTION...] acquire NAME [-s] [--owner PID|none] [--ttl D]
 *   mplock [OPTION...] release NAME [--owner PID|none] [--force]
 *   mplock [OPTION...] is-locked|create|info|rm NAME    mplock ls
 *
 * Guarantee: a hold always has a live owner (pid + start time) or a TTL or
 * was asked for with --owner none.  In run mode the owner is this process
 * and the command is recorded as a helper: the lock stays held while
 * either lives, and the command is SIGKILLed if this process dies, so the
 * command never runs without the lock.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/fault.h"
#include "lib/gate.h"
#include "lib/lock.h"
#include "lib/obj.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/store.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/obj.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/verbs.h"

enum { V_RUN = MP_VERB_TOOL, V_ACQUIRE, V_RELEASE, V_IS_LOCKED };

static const struct mp_verb verbs[] = {
	{ "run", V_RUN, MP_VERB_NAME_REST }, { "acquire", V_ACQUIRE, MP_VERB_ONE_NAME },
	{ "release", V_RELEASE, MP_VERB_ONE_NAME }, { "is-locked", V_IS_LOCKED, MP_VERB_ONE_NAME },
	MP_VERB_CREATE_ENTRY, MP_VERB_INFO_ENTRY, MP_VERB_LS_ENTRY, MP_VERB_RM_ENTRY,
};
/* flock style, mplock NAME CMD...: a run whose name came first */
static const struct mp_verb flock_style = { "run", V_RUN, MP_VERB_NAME_REST };

static struct {
	struct mp_verb_line line;
	int verb;
	const char *name;
	char **cmd;
	const char *shell;
	int shared;
	struct mp_hold_opts hold;
} opt;

static const struct argp_option options[] = {
	{ "shared", 's', 0, 0, "Shared (read) lock: coexists with other shared holders", 1 },
	{ "exclusive", 'x', 0, 0, "Exclusive lock (the default)", 1 },
	{ "command", 'c', "STRING", 0, "run: run STRING with /bin/sh -c", 1 },
	{ "owner", MP_OPT_OWNER, "PID|none", 0, "acquire/release: the holder (default: the "
	  "caller's parent; none: until released or TTL)", 2 },
	{ "ttl", MP_OPT_TTL, "DURATION", 0, "acquire: release by itself after DURATION; run: "
	  "end the command then (TERM, KILL 5 s later; exit 124)", 2 },
	{ "force", MP_OPT_FORCE, 0, 0, "release: even if the caller is not the owner", 2 },
	{ 0 }
};

static int parse_opt(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 's':
		opt.shared = 1;
		break;
	case 'x':
		opt.shared = 0;
		break;
	case 'c':
		opt.shell = arg;
		break;
	case ARGP_KEY_ARG:
		if (!mp_verb_parse_arg(&opt.line, verbs, sizeof verbs / sizeof *verbs, state, arg))
			break;
		if (!opt.line.verb) {
			opt.line.verb = &flock_style;
			opt.line.names[opt.line.n++] = arg;
			break;
		}
		/* The command's first word: everything from here on is the
		 * command's, options included. */
		opt.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		mp_verb_parse_end(&opt.line, state, "lock");
		opt.verb = opt.line.verb->id;
		opt.name = opt.line.names[0];
		if (opt.verb == V_RUN && !opt.cmd && !opt.shell)
			argp_error(state, "run needs a command (or -c STRING)");
		if (opt.verb == V_RUN && opt.cmd && opt.shell)
			argp_error(state, "give a command or -c STRING, not both");
		if (opt.verb != V_RUN && opt.shell)
			argp_error(state, "-c is for run");
		if (opt.verb != V_ACQUIRE && opt.verb != V_RUN && opt.hold.ttl_ns)
			argp_error(state, "--ttl is for acquire and run");
		if (opt.verb != V_ACQUIRE && opt.verb != V_RELEASE && opt.hold.have_owner)
			argp_error(state, "--owner is for acquire and release");
		if (opt.verb != V_RELEASE && opt.hold.force)
			argp_error(state, "--force is for release");
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
	"Named locks for shell scripts, released when their owner dies.\n\n"
	"Verbs:\n"
	"  run NAME CMD...      hold the lock while CMD runs (also: mplock NAME CMD...)\n"
	"  acquire NAME         take the lock for the caller's parent (or --owner)\n"
	"  release NAME         give it back\n"
	"  is-locked NAME       exit 0 if locked, 1 if not\n"
	"  create NAME          create it now\n"
	"  info NAME            show holders and waiters (--json)\n"
	"  ls                   list the locks of the store (--json)\n"
	"  rm NAME              remove it; waiters exit 66\n"
	"\vThe command gets MP_LOCK_TOKEN, a number that grows with every acquisition.\n"
	"Exit: 0 ok, 1 no (is-locked, release by non-owner), 64 usage, 65 corrupt\n"
	"object, 66 no such lock, 69 store unavailable, 75 busy, 77 permission,\n"
	"124 timed out, 126/127 "
	"command cannot run / not found, else the command's status (128+N for signal\n"
	"N).  See mplock(1).";

static const struct argp argp = {
	options, parse_opt,
	"run NAME [-s|-x] [-n|-t D] [--ttl D] (-c STRING | [--] CMD [ARG...])\n"
	"NAME CMD [ARG...]\n"
	"acquire NAME [-s] [-n|-t D] [--owner PID|none] [--ttl D]\n"
	"release NAME [--owner PID|none] [--force]\n"
	"is-locked|create|info|rm NAME\n"
	"ls",
	doc, children, NULL, NULL
};

static int create_lock(struct mp_store *s, const char *name, struct mp_obj *o)
{
	return mp_lock_open(s, name, 1, o);
}

static const struct mp_kind_cli lock_cli = {
	&mp_lock_kind, "lock", create_lock, mp_show_lock_info, mp_show_lock_row,
};

static void open_lock(struct mp_obj *o, int create)
{
	int rc;

	if (!create) {
		mp_verb_open_or_exit(&lock_cli, opt.name, o);
		return;
	}
	mp_store_open_or_exit(&mp_verb_store);
	rc = mp_lock_open(&mp_verb_store, opt.name, 1, o);
	if (rc)
		mp_fail(rc, "cannot open lock '%s'", opt.name);
}

static int acquire(struct mp_obj *o, const struct mp_owner *owner, uint64_t *token, int *idx)
{
	struct mp_gate_req r = {
		.weight = mp_lock_weight(opt.shared),
		.flags = opt.shared ? MP_HOLD_SHARED : 0,
		.owner = *owner,
		.ttl_ns = opt.hold.ttl_ns && opt.verb == V_RUN ?
			  opt.hold.ttl_ns + MP_RUN_TTL_GRACE_NS : opt.hold.ttl_ns,
		.deadline_ns = mp_cli_deadline(),
		.nonblock = mp_cli.nonblock,
	};
	int64_t t0 = mp_cli.verbose ? mp_now_ns() : 0;
	char d[32];
	int rc = mp_gate_acquire(o, &r, token, idx);

	if (rc == 0 && mp_cli.verbose)
		mp_info("acquired '%s' (%s, token %llu) after %s", opt.name,
			opt.shared ? "shared" : "exclusive", (unsigned long long)*token,
			mp_format_duration(mp_now_ns() - t0, d, sizeof d));
	return rc;
}

/* The wait could never end: the owner holds the lock already. */
static void refuse_deadlock(int pid)
{
	if (!mp_cli.quiet)
		mp_warn("lock '%s' is already held by its owner (pid %d); release it first",
			opt.name, pid);
	exit(mp_exit_status(-EAGAIN));
}

static int do_run(void)
{
	struct mp_owner self, child;
	struct mp_obj o;
	struct mp_cmd cmd;
	uint64_t token;
	char tok[32];
	int idx, rc, status, expired = 0;

	/* A command that cannot run is reported before anyone waits. */
	mp_cmd_prepare(&cmd, opt.cmd, opt.shell);
	if (!cmd.path)
		return mp_cmd_start(&cmd);
	open_lock(&o, 1);
	rc = mp_owner_of(0, &self);
	if (rc)
		mp_fail(rc, "cannot read /proc/self/stat");
	rc = acquire(&o, &self, &token, &idx);
	if (rc == -EDEADLK)
		refuse_deadlock(self.pid);
	if (rc)
		mp_fail(rc, "lock '%s'", opt.name);
	if (mp_signal_pending) {
		mp_gate_release_token(&o, idx, token);
		exit(128 + mp_signal_pending);
	}
	snprintf(tok, sizeof tok, "%llu", (unsigned long long)token);
	setenv("MP_LOCK_TOKEN", tok, 1);
	setenv("MP_LOCK_NAME", opt.name, 1);
	status = mp_cmd_start(&cmd);
	if (status == 0) {
		/* The hold now lasts while this process or the command lives. */
		if (mp_owner_of_child(cmd.pid, cmd.start, &child) == 0)
			mp_gate_set_helper(&o, idx, token, &child);
		MP_FAULT_POINT("mplock.run.helper");
		status = mp_cmd_wait_ttl(&cmd, opt.hold.ttl_ns, &expired);
	}
	if (mp_gate_release_token(&o, idx, token) == -ENOENT && !mp_cli.quiet)
		mp_warn("lock '%s' was taken back before the command ended (removed or forced)",
			opt.name);
	mp_obj_close(&o);
	if (expired) {
		if (!mp_cli.quiet)
			mp_warn("lock '%s': the --ttl ran out: the command was ended", opt.name);
		return mp_exit_status(-ETIMEDOUT);
	}
	return status;
}

static int do_acquire(void)
{
	struct mp_obj o;
	uint64_t token;
	int idx, rc;

	if (!opt.hold.have_owner)
		mp_default_owner_or_exit(&opt.hold.owner);
	open_lock(&o, 1);
	rc = acquire(&o, &opt.hold.owner, &token, &idx);
	if (rc == -EDEADLK)
		refuse_deadlock(opt.hold.owner.pid ? opt.hold.owner.pid : (int)getpid());
	if (rc)
		mp_fail(rc, "lock '%s'", opt.name);
	/* committed; the caller does not know it yet */
	MP_FAULT_POINT("mplock.acquired");
	return 0;
}

static int do_release(void)
{
	struct mp_obj o;
	struct mp_hold h;
	int rc;

	if (!opt.hold.have_owner)
		mp_default_owner_or_exit(&opt.hold.owner);
	open_lock(&o, 0);
	rc = mp_gate_release(&o, &opt.hold.owner, opt.hold.force, &h);
	if (rc == -EPERM) {
		mp_warn("lock '%s' is not held by %s%d (use --force to release it anyway)",
			opt.name, opt.hold.owner.pid ? "pid " : "an ownerless hold, pid ", opt.hold.owner.pid);
		return MP_EXIT_NO;
	}
	if (rc == -ENOLCK) {
		if (!mp_cli.quiet)
			mp_warn("lock '%s' is not locked", opt.name);
		return MP_EXIT_NO;
	}
	if (rc)
		mp_fail(rc, "lock '%s'", opt.name);
	MP_FAULT_POINT("mplock.released");
	mp_info("released '%s' (token %llu)", opt.name, (unsigned long long)h.token);
	return 0;
}

static int do_is_locked(void)
{
	struct mp_gate_info gi;
	struct mp_hold h;
	struct mp_obj o;
	int rc;

	open_lock(&o, 0);
	rc = mp_gate_info(&o, &gi, &h, 1);
	if (rc < 0)
		mp_fail(rc, "lock '%s'", opt.name);
	return gi.used ? 0 : MP_EXIT_NO;
}

int main(int argc, char **argv)
{
	mp_cli_init(PACKAGE_VERSION);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (opt.name)
		mp_check_name_or_exit(opt.name);

	switch (opt.verb) {
	case V_RUN:
		return do_run();
	case V_ACQUIRE:
		return do_acquire();
	case V_RELEASE:
		return do_release();
	case V_IS_LOCKED:
		return do_is_locked();
	default:
		return mp_verb_common(&lock_cli, opt.verb, opt.name);
	}
}
