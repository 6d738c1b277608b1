/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mptools - one view of the store: every object of every kind.
 *
 *   mptools [OPTION...] ls [--json] [--watch [DURATION]]
 *   mptools [OPTION...] gc --older-than DURATION [--dry-run]
 *   mptools version
 *
 * ls prints the table every tool's own ls prints (show.h), with the kind
 * first; gc removes the objects nobody uses (no holder, no waiter, no
 * message, no running worker) and nobody changed for DURATION.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/event.h"
#include "lib/lock.h"
#include "lib/obj.h"
#include "lib/parse.h"
#include "lib/queue.h"
#include "lib/sem.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/spawn.h"
#include "lib/store.h"
#include "lib/var.h"
#include "lib/verbs.h"

enum { V_LS = MP_VERB_TOOL, V_GC, V_VERSION };

static const struct mp_verb verbs[] = {
	{ "ls", V_LS, MP_VERB_NO_NAME }, { "gc", V_GC, MP_VERB_NO_NAME },
	{ "version", V_VERSION, MP_VERB_NO_NAME },
};

/* Every kind, in the order ls prints them. */
static const struct {
	const struct mp_kind *kind;
	int (*row)(struct mp_obj *o, int json, const char *lead);
} kinds[] = {
	{ &mp_lock_kind, mp_show_lock_row },   { &mp_sem_kind, mp_show_sem_row },
	{ &mp_event_kind, mp_show_event_row }, { &mp_queue_kind, mp_show_queue_row },
	{ &mp_spawn_kind, mp_show_spawn_row }, { &mp_var_kind, mp_show_var_row },
};
#define NKINDS (sizeof kinds / sizeof *kinds)

static struct {
	struct mp_verb_line line;
	int verb;
	int watch, dry_run;
	int64_t every_ns, older_ns;
	int have_older;
} opt = { .every_ns = 2000000000LL, .older_ns = -1 };

enum { OPT_WATCH = MP_OPT_TOOL, OPT_OLDER, OPT_DRY_RUN };

static const struct argp_option options[] = {
	{ "watch", OPT_WATCH, "DURATION", OPTION_ARG_OPTIONAL, "ls: print it again every "
	  "DURATION (default 2s; --watch 5s works too), in place on a terminal", 1 },
	{ "older-than", OPT_OLDER, "DURATION", 0, "gc: remove the unused objects nobody "
	  "changed for DURATION", 1 },
	{ "dry-run", OPT_DRY_RUN, 0, 0, "gc: print what would be removed, remove nothing", 1 },
	{ 0 }
};

static void parse_every(struct argp_state *state, const char *arg)
{
	char why[160];

	if (mp_parse_duration(arg, &opt.every_ns, why, sizeof why))
		argp_error(state, "--watch: %s", why);
	if (opt.every_ns < 100000000LL)
		argp_error(state, "--watch: at least 100ms");
}

static int parse_opt(int key, char *arg, struct argp_state *state)
{
	char why[160];
	int64_t ns;

	switch (key) {
	case OPT_WATCH:
		opt.watch = 1;
		if (arg)
			parse_every(state, arg);
		break;
	case OPT_OLDER:
		if (mp_parse_duration(arg, &opt.older_ns, why, sizeof why))
			argp_error(state, "--older-than: %s", why);
		opt.have_older = 1;
		break;
	case OPT_DRY_RUN:
		opt.dry_run = 1;
		break;
	case ARGP_KEY_ARG:
		/* --watch D, as watch(1) -n: the duration after it */
		if (opt.line.verb && opt.watch &&
		    !mp_parse_duration(arg, &ns, why, sizeof why)) {
			parse_every(state, arg);
			break;
		}
		if (mp_verb_parse_arg(&opt.line, verbs, sizeof verbs / sizeof *verbs, state, arg))
			argp_error(state, "unknown verb '%s'", arg);
		break;
	case ARGP_KEY_END:
		mp_verb_parse_end(&opt.line, state, "");
		opt.verb = opt.line.verb->id;
		if (opt.watch && opt.verb != V_LS)
			argp_error(state, "--watch is for ls");
		if ((opt.have_older || opt.dry_run) && opt.verb != V_GC)
			argp_error(state, "--older-than and --dry-run are for gc");
		if (opt.verb == V_GC && !opt.have_older)
			argp_error(state, "gc needs --older-than DURATION (0 for any age)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = { { &mp_cli_argp, 0, "Common options:", 9 }, { 0 } };

static const char doc[] =
	"One view of the mptools store: every object of every kind.\n\n"
	"Verbs:\n"
	"  ls                   every lock, semaphore, event, queue, group and variable:\n"
	"                       kind, name, state, waiters, age, holders (--json)\n"
	"  gc                   remove what nobody uses and nobody changed for\n"
	"                       --older-than DURATION (--dry-run: only say it)\n"
	"  version              print the version\n"
	"\vExit: 0 ok, 64 usage, 65 an object could not be read (the others are\n"
	"listed), 69 store unavailable, 71 system error.  See mptools(1) and mptools(7).";

static const struct argp argp = {
	options, parse_opt,
	"ls [--json] [--watch [DURATION]]\n"
	"gc --older-than DURATION [--dry-run]\n"
	"version",
	doc, children, NULL, NULL
};

static struct mp_store store;

/* ---- walking every object ---- */

struct walk {
	const struct mp_kind *kind;
	int (*fn)(struct walk *w, struct mp_obj *o);
	int count, rc;
	struct mp_show_table table;
	int (*row)(struct mp_obj *o, int json, const char *lead);
};

static int walk_one(const char *name, void *arg)
{
	struct walk *w = arg;
	struct mp_obj o;
	int rc = mp_store_find(&store, w->kind, name, &o);

	if (rc == -ENOENT)
		return 0;	/* removed meanwhile */
	if (rc == 0) {
		rc = w->fn(w, &o);
		mp_obj_close(&o);
	}
	if (rc) {
		mp_warn("%s '%s': %s", w->kind->name, name,
			mp_errmsg()[0] ? mp_errmsg() : strerror(-rc));
		w->rc = rc;
	}
	return 0;
}

static int walk_all(struct walk *w)
{
	for (size_t i = 0; i < NKINDS; i++) {
		int rc;

		w->kind = kinds[i].kind;
		w->row = kinds[i].row;
		rc = mp_store_list(&store, w->kind, walk_one, w);
		if (rc == -EPROTONOSUPPORT)
			continue;	/* a store that keeps no object of this kind */
		if (rc)
			mp_fail(rc, "cannot list the store");
	}
	return w->rc ? mp_exit_status(w->rc) : 0;
}

/* ---- ls ---- */

/* the info object of the kind, as its tool's ls --json prints it */
static int ls_json(struct walk *w, struct mp_obj *o)
{
	int rc = w->row(o, 1, w->count ? "," : "");

	if (rc == 0)
		w->count++;
	return rc;
}

static int ls_text(struct walk *w, struct mp_obj *o)
{
	return mp_show_table_add(&w->table, o);
}

static int ls_once(int tty)
{
	struct walk w = { 0 };
	int status;

	w.fn = mp_cli.json ? ls_json : ls_text;
	if (mp_cli.json)
		putchar('[');
	status = walk_all(&w);
	if (mp_cli.json) {
		printf("]\n");
	} else {
		if (tty)	/* home, and clear what the last table left */
			printf("\033[H\033[2J");
		if (w.table.n || tty || opt.watch)
			mp_show_table_print(stdout, &w.table, 1);
	}
	mp_show_table_free(&w.table);
	fflush(stdout);
	return status;
}

static int do_ls(void)
{
	int tty = opt.watch && !mp_cli.json && isatty(1);
	int status;

	mp_store_open_or_exit(&store);
	for (;;) {
		struct timespec ts = { (time_t)(opt.every_ns / 1000000000LL),
				       (long)(opt.every_ns % 1000000000LL) };

		status = ls_once(tty);
		if (!opt.watch)
			return status;
		/* plain text (not a terminal): one table after another */
		if (!tty && !mp_cli.json)
			putchar('\n');
		while (!mp_signal_pending && nanosleep(&ts, &ts) < 0)
			;
		if (mp_signal_pending)
			return 128 + mp_signal_pending;
	}
}

/* ---- gc ---- */

static int gc_one(struct walk *w, struct mp_obj *o)
{
	struct mp_show_sum s;
	int64_t last, now = mp_realtime_ns();
	char age[32], name[MP_NAME_MAX + 1];
	int rc = mp_show_sum(o, &s), damaged;

	if (rc)
		return rc;
	last = s.used_ns > s.created_ns ? s.used_ns : s.created_ns;
	if (s.in_use || mp_ns_diff(now, last) < opt.older_ns)
		return 0;
	mp_format_duration(mp_ns_diff(now, last), age, sizeof age);
	snprintf(name, sizeof name, "%s", o->name);
	if (!opt.dry_run) {
		rc = mp_store_remove(&store, w->kind, name, &damaged);
		if (rc == -ENOENT)
			return 0;	/* someone else removed it */
		if (rc)
			return rc;
	}
	printf("%s %s\n", w->kind->name, name);
	mp_info("%s %s %s: unused for %s", opt.dry_run ? "would remove" : "removed",
		w->kind->name, name, age);
	w->count++;
	return 0;
}

static int do_gc(void)
{
	struct walk w = { 0 };
	int status;

	mp_store_open_or_exit(&store);
	w.fn = gc_one;
	status = walk_all(&w);
	mp_info("%s %d object%s", opt.dry_run ? "would remove" : "removed", w.count,
		w.count == 1 ? "" : "s");
	return status;
}

int main(int argc, char **argv)
{
	mp_cli_init(PACKAGE_VERSION);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);

	switch (opt.verb) {
	case V_LS:
		return do_ls();
	case V_GC:
		return do_gc();
	case V_VERSION:
		printf("mptools %s\n", PACKAGE_VERSION);
		return 0;
	default:
		return MP_EXIT_SOFTWARE;
	}
}
