/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpevent - a named, level-triggered event for shell scripts.
 *
 *   mpevent [OPTION...] set|clear|is-set NAME
 *   mpevent [OPTION...] wait NAME [--cleared] [--next] [-n|-t D]
 *   mpevent [OPTION...] wait NAME... --any|--all [--cleared] [--next] [-n|-t D]
 *   mpevent [OPTION...] create|info|rm NAME      mpevent ls
 *
 * Guarantee: every process blocked in wait when a set happens returns 0,
 * even if the flag is cleared again at once, and none returns on a clear;
 * wait --next returns on any set after it began, never on an earlier one.
 * A waiter killed at any instruction leaves nothing the others depend on.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cli.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/fault.h"
#include "lib/event.h"
#include "lib/obj.h"
#include "lib/progress.h"
#include "lib/parse.h"
#include "lib/store.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/obj.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/verbs.h"

enum { V_SET = MP_VERB_TOOL, V_CLEAR, V_IS_SET, V_WAIT };

static const struct mp_verb verbs[] = {
	{ "set", V_SET, MP_VERB_ONE_NAME }, { "clear", V_CLEAR, MP_VERB_ONE_NAME },
	{ "is-set", V_IS_SET, MP_VERB_ONE_NAME }, { "wait", V_WAIT, MP_VERB_NAMES },
	MP_VERB_CREATE_ENTRY, MP_VERB_INFO_ENTRY, MP_VERB_LS_ENTRY, MP_VERB_RM_ENTRY,
};

static struct {
	struct mp_verb_line line;
	int verb;
	const char **names;
	int n;
	unsigned flags;		/* MP_EVENT_* */
	int any, all;
} opt;

enum { OPT_CLEARED = 0x2000, OPT_NEXT, OPT_ANY, OPT_ALL };

static const struct argp_option options[] = {
	{ "cleared", OPT_CLEARED, 0, 0, "wait: for the event to be clear instead of set", 1 },
	{ "next", OPT_NEXT, 0, 0, "wait: for the next set (clear) after this call, even if "
	  "the event is set (clear) now", 1 },
	{ "any", OPT_ANY, 0, 0, "wait: for any one of the events; print its name", 1 },
	{ "all", OPT_ALL, 0, 0, "wait: for every one of the events", 1 },
	{ 0 }
};

static int parse_opt(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case OPT_CLEARED:
		opt.flags |= MP_EVENT_CLEARED;
		break;
	case OPT_NEXT:
		opt.flags |= MP_EVENT_NEXT;
		break;
	case OPT_ANY:
		opt.any = 1;
		break;
	case OPT_ALL:
		opt.all = 1;
		break;
	case ARGP_KEY_ARG:
		if (mp_verb_parse_arg(&opt.line, verbs, sizeof verbs / sizeof *verbs, state, arg))
			argp_error(state, "unknown verb '%s'", arg);
		break;
	case ARGP_KEY_END:
		mp_verb_parse_end(&opt.line, state, "event");
		opt.verb = opt.line.verb->id;
		opt.names = opt.line.names;
		opt.n = opt.line.n;
		if (opt.verb != V_WAIT && (opt.flags || opt.any || opt.all))
			argp_error(state, "--cleared, --next, --any and --all are for wait");
		if (opt.any && opt.all)
			argp_error(state, "give --any or --all, not both");
		if (opt.n > 1 && !opt.any && !opt.all)
			argp_error(state, "wait on several events needs --any or --all");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = { { &mp_cli_argp, 0, "Common options:", 9 }, { 0 } };

static const char doc[] =
	"Named events for shell scripts: set, clear, and wait until set.\n\n"
	"Verbs:\n"
	"  set NAME             set the flag; every waiter returns\n"
	"  clear NAME           clear the flag\n"
	"  is-set NAME          exit 0 if set, 1 if clear\n"
	"  wait NAME            return at once if set, else when it is set\n"
	"                       (--cleared: clear; --next: the next set after the call)\n"
	"  wait NAME... --any   return when any of them is set; print its name\n"
	"  wait NAME... --all   return when all of them are set\n"
	"  create NAME          create it now (clear)\n"
	"  info NAME            show state, counts, waiters (--json)\n"
	"  ls                   list the events of the store (--json)\n"
	"  rm NAME              remove it; waiters exit 66\n"
	"\vExit: 0 ok (is-set: set), 1 is-set: clear, 64 usage, 65 corrupt object, "
	"66 no such event or removed while waiting, 69 store unavailable, 75 -n and not yet, "
	"77 permission, "
	"124 timed out, 130/143 interrupted.  See mpevent(1).";

static const struct argp argp = {
	options, parse_opt,
	"set|clear|is-set NAME\n"
	"wait NAME [--cleared] [--next] [-n|-t D]\n"
	"wait NAME... --any|--all [--cleared] [--next] [-n|-t D]\n"
	"create|info|rm NAME\n"
	"ls",
	doc, children, NULL, NULL
};

static int create_event(struct mp_store *s, const char *name, struct mp_obj *o)
{
	return mp_event_open(s, name, 1, o);
}

static const struct mp_kind_cli event_cli = {
	&mp_event_kind, "event", create_event, mp_show_event_info, mp_show_event_row,
};

static void open_event(const char *name, int create, struct mp_obj *o)
{
	int rc;

	if (!create || mp_cli.existing) {	/* -e: 66 when missing */
		mp_verb_open_or_exit(&event_cli, name, o);
		return;
	}
	mp_store_open_or_exit(&mp_verb_store);
	rc = mp_event_open(&mp_verb_store, name, 1, o);
	if (rc)
		mp_fail(rc, "cannot open event '%s'", name);
}

static int do_change(int to_set)
{
	struct mp_obj o;
	int rc = -EIDRM;

	/* Removed between our open and our change: the name now stands for
	 * a new event, so change that one. */
	for (int tries = 0; tries < 5 && rc == -EIDRM; tries++) {
		open_event(opt.names[0], 1, &o);
		rc = to_set ? mp_event_set(&o) : mp_event_clear(&o);
		MP_FAULT_POINT("mpevent.changed");
		mp_obj_close(&o);
	}
	if (rc)
		mp_fail(rc, "event '%s'", opt.names[0]);
	mp_info("%s '%s'", to_set ? "set" : "cleared", opt.names[0]);
	return 0;
}

static int do_is_set(void)
{
	struct mp_obj o;
	int rc;

	open_event(opt.names[0], 0, &o);
	rc = mp_event_is_set(&o);
	if (rc < 0)
		mp_fail(rc, "event '%s'", opt.names[0]);
	return rc ? MP_EXIT_OK : MP_EXIT_NO;
}

static int do_wait(void)
{
	static struct mp_obj objs[MP_EVENT_WAIT_MAX];
	unsigned flags = opt.flags | (opt.all ? MP_EVENT_ALL : 0);
	int64_t t0 = mp_now_ns();
	char what[256], d[32];
	int rc, fired, len;
	struct mp_watch watch;

	for (int i = 0; i < opt.n; i++)
		open_event(opt.names[i], 1, &objs[i]);
	mp_watch_start_later(&watch, &mp_event_kind, opt.names[0]);	/* -v */
	rc = mp_event_wait(objs, opt.n, flags, mp_cli_deadline(), mp_cli.nonblock, &fired);
	mp_watch_stop(&watch);
	if (rc == -EIDRM)
		mp_fail(rc, "event '%s'", opt.names[fired]);
	if (rc == -EAGAIN) {
		/* "busy" would puzzle here: the event is just not there yet;
		 * silent unless -v, as flock -n is */
		if (mp_cli.verbose)
			mp_warn("%s %s", opt.n > 1 ? "the events are" : "the event is",
				flags & MP_EVENT_NEXT ? "not set again yet (--next with -n never is)"
						      : flags & MP_EVENT_CLEARED ? "not clear" : "not set");
		exit(mp_exit_status(rc));
	}
	if (rc) {
		len = snprintf(what, sizeof what, "event%s", opt.n > 1 ? "s" : "");
		for (int i = 0; i < opt.n && len < (int)sizeof what; i++)
			len += snprintf(what + len, sizeof what - (size_t)len, "%s'%s'",
					i ? ", " : " ", opt.names[i]);
		mp_fail(rc, "%s", what);
	}
	if (opt.any)
		printf("%s\n", opt.names[fired]);
	mp_info("%s%s%s %s after %s", fired >= 0 ? "'" : "",
		fired >= 0 ? opt.names[fired] : "every event", fired >= 0 ? "'" : "",
		opt.flags & MP_EVENT_CLEARED ? "cleared" : "set",
		mp_format_duration(mp_now_ns() - t0, d, sizeof d));
	return 0;
}

int main(int argc, char **argv)
{
	mp_cli_init(PACKAGE_VERSION);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	for (int i = 0; i < opt.n; i++)
		mp_check_name_or_exit(opt.names[i]);

	switch (opt.verb) {
	case V_SET:
		return do_change(1);
	case V_CLEAR:
		return do_change(0);
	case V_IS_SET:
		return do_is_set();
	case V_WAIT:
		return do_wait();
	default:
		return mp_verb_common(&event_cli, opt.verb, opt.names[0]);
	}
}
