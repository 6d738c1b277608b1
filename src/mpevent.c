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
#include "lib/parse.h"
#include "lib/store.h"

enum verb { V_NONE, V_SET, V_CLEAR, V_IS_SET, V_WAIT, V_CREATE, V_INFO, V_LS, V_RM };

static const struct { const char *name; enum verb v; } verbs[] = {
	{ "set", V_SET }, { "clear", V_CLEAR }, { "is-set", V_IS_SET }, { "wait", V_WAIT },
	{ "create", V_CREATE }, { "info", V_INFO }, { "ls", V_LS }, { "rm", V_RM },
};

static struct {
	enum verb verb;
	const char *names[MP_EVENT_WAIT_MAX];
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

static enum verb verb_of(const char *s)
{
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (!strcmp(s, verbs[i].name))
			return verbs[i].v;
	return V_NONE;
}

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
	case ARGP_KEY_INIT:
		state->child_inputs[0] = NULL;
		break;
	case ARGP_KEY_ARG:
		if (opt.verb == V_NONE) {
			opt.verb = verb_of(arg);
			if (opt.verb == V_NONE)
				argp_error(state, "unknown verb '%s'", arg);
		} else if (opt.verb == V_LS || (opt.n == 1 && opt.verb != V_WAIT)) {
			argp_error(state, "unexpected argument '%s'", arg);
		} else if (opt.n == MP_EVENT_WAIT_MAX) {
			argp_error(state, "at most %d events in one wait", MP_EVENT_WAIT_MAX);
		} else {
			opt.names[opt.n++] = arg;
		}
		break;
	case ARGP_KEY_END:
		if (opt.verb == V_NONE)
			argp_error(state, "a verb is needed");
		if (opt.verb != V_LS && opt.n == 0)
			argp_error(state, "an event name is needed");
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
	"66 no such event or removed while waiting, 75 -n and not yet, 77 permission, "
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

static struct mp_store store;

static void open_event(const char *name, int create, struct mp_obj *o)
{
	int rc = mp_event_open(&store, name, create, o);

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

	for (int i = 0; i < opt.n; i++)
		open_event(opt.names[i], 1, &objs[i]);
	rc = mp_event_wait(objs, opt.n, flags, mp_cli_deadline(), mp_cli.nonblock, &fired);
	if (rc == -EIDRM)
		mp_fail(rc, "event '%s'", opt.names[fired]);
	if (rc == -EAGAIN) {
		/* "busy" would puzzle here: the event is just not there yet */
		if (!mp_cli.quiet)
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

/* ---- info and ls ---- */

static int read_info(struct mp_obj *o, struct mp_event_info *ei, struct mp_event_waiter *w)
{
	int n = mp_event_info(o, ei, w, MP_EVENT_WAITERS);

	return n > MP_EVENT_WAITERS ? MP_EVENT_WAITERS : n;
}

static void json_time(const char *key, int64_t ns)
{
	char t[40];

	printf(",\"%s\":", key);
	if (ns)
		mp_json_str(stdout, mp_format_time(ns, t, sizeof t));
	else
		printf("null");
}

static void print_json(struct mp_obj *o, const struct mp_event_info *ei,
		       const struct mp_event_waiter *w, int n)
{
	int64_t rt = mp_realtime_ns();

	printf("{\"name\":");
	mp_json_str(stdout, o->name);
	printf(",\"kind\":\"event\",\"path\":");
	mp_json_str(stdout, mp_obj_path(o));
	printf(",\"state\":\"%s\",\"set\":%s", ei->st.is_set ? "set" : "clear",
	       ei->st.is_set ? "true" : "false");
	json_time("since", ei->st.since_ns);
	printf(",\"sets\":%llu,\"clears\":%llu", (unsigned long long)ei->st.sets,
	       (unsigned long long)ei->st.clears);
	json_time("last_set", ei->st.set_ns);
	json_time("last_clear", ei->st.clear_ns);
	printf(",\"waiters\":%u,\"waiting\":[", ei->nwaiting);
	for (int i = 0; i < n; i++) {
		printf("%s{\"pid\":%d,\"for\":\"%s\"", i ? "," : "", w[i].pid,
		       mp_event_wait_name(w[i].flags));
		json_time("since", w[i].since_ns);
		printf(",\"waited_ms\":%lld}", (long long)(mp_ns_diff(rt, w[i].since_ns) / 1000000));
	}
	printf("],\"generation\":%llu", (unsigned long long)ei->generation);
	json_time("created", ei->created_ns);
	putchar('}');
}

static void print_text(struct mp_obj *o, const struct mp_event_info *ei,
		       const struct mp_event_waiter *w, int n)
{
	int64_t rt = mp_realtime_ns();
	char t[40], d[32];

	printf("name:     %s\n", o->name);
	printf("kind:     event\n");
	printf("state:    %s since %s (%s ago)\n", ei->st.is_set ? "set" : "clear",
	       mp_format_time(ei->st.since_ns, t, sizeof t),
	       mp_format_duration(mp_ns_diff(rt, ei->st.since_ns), d, sizeof d));
	printf("sets:     %llu", (unsigned long long)ei->st.sets);
	if (ei->st.set_ns)
		printf(", last %s", mp_format_time(ei->st.set_ns, t, sizeof t));
	printf("\nclears:   %llu", (unsigned long long)ei->st.clears);
	if (ei->st.clear_ns)
		printf(", last %s", mp_format_time(ei->st.clear_ns, t, sizeof t));
	printf("\nwaiters:  %u\n", ei->nwaiting);
	for (int i = 0; i < n; i++)
		printf("  pid %d, for %s, waiting %s\n", w[i].pid, mp_event_wait_name(w[i].flags),
		       mp_format_duration(mp_ns_diff(rt, w[i].since_ns), d, sizeof d));
	if (ei->overflow)
		printf("  and %u more (not listed)\n", ei->overflow);
	printf("created:  %s\n", mp_format_time(ei->created_ns, t, sizeof t));
	printf("file:     %s\n", mp_obj_path(o));
}

static int do_info(void)
{
	struct mp_event_waiter w[MP_EVENT_WAITERS];
	struct mp_event_info ei;
	struct mp_obj o;
	int n;

	open_event(opt.names[0], 0, &o);
	n = read_info(&o, &ei, w);
	if (n < 0)
		mp_fail(n, "event '%s'", opt.names[0]);
	if (mp_cli.json) {
		print_json(&o, &ei, w, n);
		putchar('\n');
	} else {
		print_text(&o, &ei, w, n);
	}
	return 0;
}

struct list_ctx {
	int count, rc;
};

static int list_one(const char *name, void *arg)
{
	struct mp_event_waiter w[MP_EVENT_WAITERS];
	struct list_ctx *c = arg;
	struct mp_event_info ei;
	struct mp_obj o;
	int rc, n;

	rc = mp_event_open(&store, name, 0, &o);
	if (rc == -ENOENT)
		return 0;	/* removed meanwhile */
	if (rc) {
		mp_warn("%s", mp_errmsg());
		c->rc = rc;
		return 0;
	}
	n = read_info(&o, &ei, w);
	if (n < 0) {
		mp_warn("%s", mp_errmsg()[0] ? mp_errmsg() : strerror(-n));
		c->rc = n;
	} else if (mp_cli.json) {
		if (c->count++)
			putchar(',');
		print_json(&o, &ei, w, n);
	} else {
		printf("%-24s %-6s %llu sets, %u waiting\n", name, ei.st.is_set ? "set" : "clear",
		       (unsigned long long)ei.st.sets, ei.nwaiting);
	}
	mp_obj_close(&o);
	return 0;
}

static int do_ls(void)
{
	struct list_ctx c = { 0, 0 };
	int rc;

	if (mp_cli.json)
		putchar('[');
	rc = mp_store_list(&store, &mp_event_kind, list_one, &c);
	if (mp_cli.json)
		printf("]\n");
	if (rc)
		mp_fail(rc, "cannot list the store");
	return c.rc ? mp_exit_status(c.rc) : 0;
}

int main(int argc, char **argv)
{
	struct mp_obj o;
	int rc, damaged;

	mp_cli_init(PACKAGE_VERSION);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	for (int i = 0; i < opt.n; i++)
		mp_check_name_or_exit(opt.names[i]);
	mp_store_open_or_exit(&store);

	switch (opt.verb) {
	case V_SET:
		return do_change(1);
	case V_CLEAR:
		return do_change(0);
	case V_IS_SET:
		return do_is_set();
	case V_WAIT:
		return do_wait();
	case V_CREATE:
		open_event(opt.names[0], 1, &o);
		return 0;
	case V_INFO:
		return do_info();
	case V_LS:
		return do_ls();
	case V_RM:
		rc = mp_store_remove(&store, &mp_event_kind, opt.names[0], &damaged);
		if (rc)
			mp_fail(rc, "cannot remove event '%s'", opt.names[0]);
		if (damaged && !mp_cli.quiet)
			mp_warn("removed a damaged object: %s", mp_errmsg());
		return 0;
	default:
		return MP_EXIT_SOFTWARE;
	}
}
