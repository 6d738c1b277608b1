/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpvar - named shared values and counters for shell scripts.
 *
 *   mpvar [OPTION...] set|setnx NAME VALUE|-      mpvar get NAME [--default V] [--raw]
 *   mpvar [OPTION...] incr|decr NAME [N] [--init V]
 *   mpvar [OPTION...] cas NAME OLD NEW [-p]       mpvar unset NAME
 *   mpvar [OPTION...] wait NAME (--eq V|--ne V|--ge N|--gt N|--le N|--lt N|--set|--unset) [-n|-t D]
 *   mpvar [OPTION...] ls|dump [PREFIX]            mpvar create NAME [--max-size SIZE]
 *   mpvar [OPTION...] info|rm NAME
 *
 * Guarantee: every change is atomic.  incr, decr, setnx and cas read and
 * write under the variable's lock, so no update is lost between
 * processes; a process killed at any instruction leaves the old value or
 * the new one, whole (var.h).  From the change until exit the termination
 * signals are blocked: exit 0 means the change was made.  A wait returns
 * 0 only when it saw its condition hold, and sleeps in the kernel until a
 * change, never on a timer.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/err.h"
#include "lib/fault.h"
#include "lib/obj.h"
#include "lib/progress.h"
#include "lib/parse.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/store.h"
#include "lib/var.h"
#include "lib/verbs.h"

enum { V_SET = MP_VERB_TOOL, V_SETNX, V_GET, V_INCR, V_DECR, V_CAS, V_UNSET, V_WAIT, V_DUMP };

static const struct mp_verb verbs[] = {
	{ "set", V_SET, MP_VERB_NAME_REST }, { "setnx", V_SETNX, MP_VERB_NAME_REST },
	{ "get", V_GET, MP_VERB_ONE_NAME }, { "incr", V_INCR, MP_VERB_NAME_REST },
	{ "decr", V_DECR, MP_VERB_NAME_REST }, { "cas", V_CAS, MP_VERB_NAME_REST },
	{ "unset", V_UNSET, MP_VERB_ONE_NAME }, { "wait", V_WAIT, MP_VERB_ONE_NAME },
	{ "dump", V_DUMP, MP_VERB_OPT_NAME },
	MP_VERB_CREATE_ENTRY, MP_VERB_INFO_ENTRY, { "ls", MP_VERB_LS, MP_VERB_OPT_NAME },
	MP_VERB_RM_ENTRY,
};

static struct {
	struct mp_verb_line line;
	int verb;
	const char *name;
	const char *args[2];	/* VALUE, N, or OLD NEW */
	int nargs;
	int raw, print;
	const char *def;	/* --default */
	int64_t init;		/* --init */
	int have_init;
	uint64_t max_size;	/* --max-size; 0: not given */
	struct mp_var_cond cond;
	int nconds;
} opt;

enum {
	OPT_RAW = MP_OPT_TOOL, OPT_DEFAULT, OPT_INIT, OPT_MAX_SIZE,
	OPT_EQ, OPT_NE, OPT_GE, OPT_GT, OPT_LE, OPT_LT, OPT_SET, OPT_UNSET,
};

static const struct argp_option options[] = {
	{ "raw", OPT_RAW, 0, 0, "get: no newline after the value; set -: all of stdin "
	  "as it is (else one final newline is dropped)", 1 },
	{ "default", OPT_DEFAULT, "V", 0, "get: print V (and exit 0) if the variable is "
	  "unset or missing", 1 },
	{ "init", OPT_INIT, "V", 0, "incr/decr: an unset variable starts at V (default 0)", 1 },
	{ "print", 'p', 0, 0, "cas: print the current value when it is not swapped", 1 },
	{ "max-size", OPT_MAX_SIZE, "SIZE", 0, "create (and the verbs that create): values "
	  "of at most SIZE bytes (default 4K, at most 1M)", 1 },
	{ "eq", OPT_EQ, "V", 0, "wait: until the value is V", 2 },
	{ "ne", OPT_NE, "V", 0, "wait: until the value is not V (or unset)", 2 },
	{ "ge", OPT_GE, "N", 0, "wait: until the value is an integer >= N", 2 },
	{ "gt", OPT_GT, "N", 0, "wait: until the value is an integer > N", 2 },
	{ "le", OPT_LE, "N", 0, "wait: until the value is an integer <= N", 2 },
	{ "lt", OPT_LT, "N", 0, "wait: until the value is an integer < N", 2 },
	{ "set", OPT_SET, 0, 0, "wait: until the variable is set", 2 },
	{ "unset", OPT_UNSET, 0, 0, "wait: until the variable is unset", 2 },
	{ 0 }
};

static int64_t parse_int_or_usage(struct argp_state *state, const char *what, const char *arg)
{
	int64_t n;

	if (mp_var_parse_int(arg, strlen(arg), &n))
		argp_error(state, "%s: '%s' is not an integer (signed 64-bit decimal)", what, arg);
	return n;
}

static void set_cond(struct argp_state *state, enum mp_var_op op, const char *arg)
{
	static const char *const names[] = { "--eq", "--ne", "--ge", "--gt", "--le", "--lt" };

	opt.nconds++;
	opt.cond.op = op;
	if (op == MP_VAR_EQ || op == MP_VAR_NE) {
		opt.cond.v = arg;
		opt.cond.len = strlen(arg);
	} else if (arg) {
		opt.cond.n = parse_int_or_usage(state, names[op], arg);
	}
}

/* One rule per line: what each verb takes. */
static void check_options(struct argp_state *state)
{
	int v, want_min = 0, want_max = 0;

	mp_verb_parse_end(&opt.line, state, "variable");
	v = opt.verb = opt.line.verb->id;
	opt.name = opt.line.names[0];
	if (v == V_SET || v == V_SETNX)
		want_min = want_max = 1;
	if (v == V_INCR || v == V_DECR)
		want_max = 1;
	if (v == V_CAS)
		want_min = want_max = 2;
	if (opt.nargs < want_min)
		argp_error(state, "%s needs %s", opt.line.verb->name,
			   v == V_CAS ? "OLD and NEW values" : "a VALUE (or - for stdin)");
	if (opt.nargs > want_max)
		argp_error(state, "unexpected argument '%s'", opt.args[want_max]);
	if (opt.raw && v != V_GET && v != V_SET && v != V_SETNX)
		argp_error(state, "--raw is for get, set and setnx");
	if (opt.def && v != V_GET)
		argp_error(state, "--default is for get");
	if (opt.have_init && v != V_INCR && v != V_DECR)
		argp_error(state, "--init is for incr and decr");
	if (opt.print && v != V_CAS)
		argp_error(state, "-p is for cas");
	if (opt.max_size && (v == V_GET || v == V_DUMP || v == MP_VERB_INFO || v == MP_VERB_LS ||
			     v == MP_VERB_RM))
		argp_error(state, "--max-size is for create and the verbs that create");
	if (v == V_WAIT && opt.nconds != 1)
		argp_error(state, "wait needs one condition: --eq, --ne, --ge, --gt, --le, --lt, "
			   "--set or --unset");
	if (v != V_WAIT && opt.nconds)
		argp_error(state, "the conditions (--eq ... --unset) are for wait");
}

static int parse_opt(int key, char *arg, struct argp_state *state)
{
	char why[160];

	switch (key) {
	case OPT_RAW:
		opt.raw = 1;
		break;
	case OPT_DEFAULT:
		opt.def = arg;
		break;
	case OPT_INIT:
		opt.init = parse_int_or_usage(state, "--init", arg);
		opt.have_init = 1;
		break;
	case 'p':
		opt.print = 1;
		break;
	case OPT_MAX_SIZE:
		if (mp_parse_size(arg, &opt.max_size, why, sizeof why))
			argp_error(state, "--max-size: %s", why);
		if (opt.max_size == 0 || opt.max_size > MP_VAR_MAX_SIZE)
			argp_error(state, "--max-size: from 1 byte to 1M, not %s", arg);
		break;
	case OPT_EQ: case OPT_NE: case OPT_GE: case OPT_GT: case OPT_LE: case OPT_LT:
		set_cond(state, (enum mp_var_op)(MP_VAR_EQ + (key - OPT_EQ)), arg);
		break;
	case OPT_SET:
		set_cond(state, MP_VAR_SET, NULL);
		break;
	case OPT_UNSET:
		set_cond(state, MP_VAR_UNSET, NULL);
		break;
	case ARGP_KEY_ARG:
		if (!mp_verb_parse_arg(&opt.line, verbs, sizeof verbs / sizeof *verbs, state, arg))
			break;
		if (!opt.line.verb)
			argp_error(state, "unknown verb '%s'", arg);
		if (opt.nargs == 2)
			argp_error(state, "unexpected argument '%s'", arg);
		opt.args[opt.nargs++] = arg;
		break;
	case ARGP_KEY_END:
		check_options(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = { { &mp_cli_argp, 0, "Common options:", 9 }, { 0 } };

static const char doc[] =
	"Named shared values and counters for shell scripts.\n\n"
	"Verbs:\n"
	"  set NAME VALUE       set the value (-: read it from stdin)\n"
	"  setnx NAME VALUE     set it only if unset: exit 0 set, 1 it was set\n"
	"  get NAME             print the value and a newline (--raw: without)\n"
	"  incr NAME [N]        add N (default 1) atomically; print the new value\n"
	"  decr NAME [N]        subtract N (default 1) atomically; print the new value\n"
	"  cas NAME OLD NEW     set NEW if the value is OLD: exit 0 swapped, 1 not\n"
	"  unset NAME           make it unset\n"
	"  wait NAME --ge N     return when the condition holds (see the conditions)\n"
	"  dump [PREFIX]        every variable (--json: as one JSON object)\n"
	"  create NAME          create it now (unset), with --max-size\n"
	"  info NAME            show value, version, waiters (--json)\n"
	"  ls [PREFIX]          list the variables of the store (--json)\n"
	"  rm NAME              remove it; waiters exit 66\n"
	"\vA VALUE or N that starts with '-' goes after '--' unless it is a number.\n"
	"Exit: 0 ok, 1 setnx: was set, cas: not swapped, 64 usage, 65 not an integer,\n"
	"overflow, value over the size limit or corrupt object, 66 no such variable or\n"
	"unset (get), removed while waiting, 69 store unavailable, 75 -n and the condition\n"
	"does not hold, 77 permission, 124 timed out, 130/143 interrupted.  See mpvar(1).";

static const struct argp argp = {
	options, parse_opt,
	"set|setnx NAME VALUE|- [--raw] [--max-size SIZE]\n"
	"get NAME [--default V] [--raw]\n"
	"incr|decr NAME [N] [--init V]\n"
	"cas NAME OLD NEW [-p]\n"
	"wait NAME (--eq V|--ne V|--ge N|--gt N|--le N|--lt N|--set|--unset) [-n|-t D]\n"
	"unset|info|rm NAME\n"
	"create NAME [--max-size SIZE]\n"
	"ls|dump [PREFIX] [--json]",
	doc, children, NULL, NULL
};

/* argp (getopt) takes "-5" for an option: a negative number where an
 * argument is expected is replaced by a copy that does not start with
 * '-' before parsing, and mapped back by the pointer in ARGP_KEY_ARG. */
static char *neg_orig[8], *neg_copy[8];
static int nneg;

static int is_negative_number(const char *s)
{
	if (s[0] != '-' || !s[1])
		return 0;
	for (s++; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Does option word w take the next word as its value? */
static int takes_next(const char *w)
{
	static const char *const longs[] = {
		"timeout", "wait", "conflict-exit-code", "dir", "default", "init", "max-size",
		"eq", "ne", "ge", "gt", "le", "lt",
	};
	size_t n;

	if (w[0] != '-' || !w[1])
		return 0;
	if (w[1] != '-') {
		for (const char *p = w + 1; *p; p++)
			if (strchr("twE", *p))
				return p[1] == 0;
		return 0;
	}
	if (strchr(w, '='))
		return 0;
	n = strlen(w + 2);
	for (size_t i = 0; n && i < sizeof longs / sizeof *longs; i++)
		if (!strncmp(w + 2, longs[i], n))
			return 1;
	return 0;
}

static void protect_negatives(int argc, char **argv)
{
	for (int i = 1; i < argc && nneg < 8; i++) {
		if (!strcmp(argv[i], "--"))
			return;
		if (is_negative_number(argv[i]) && !takes_next(argv[i - 1])) {
			size_t len = strlen(argv[i]);
			char *c = malloc(len + 2);
			if (!c)
				return;
			c[0] = ' ';
			memcpy(c + 1, argv[i], len + 1);
			neg_orig[nneg] = argv[i];
			neg_copy[nneg++] = c;
			argv[i] = c;
		}
	}
}

static void restore_negatives(void)
{
	for (int i = 0; i < opt.nargs; i++)
		for (int k = 0; k < nneg; k++)
			if (opt.args[i] == neg_copy[k])
				opt.args[i] = neg_orig[k];
}

static int create_var(struct mp_store *s, const char *name, struct mp_obj *o)
{
	int rc, created;

	rc = mp_var_open(s, name, 1, opt.max_size, &created, o);
	if (rc || created)
		return rc;
	if (opt.max_size && mp_var_max_size(o) != opt.max_size)
		mp_die(MP_EXIT_CANTCREAT, "variable '%s' exists already with --max-size %llu, not "
		       "the --max-size %llu asked for (fixed at creation: rm it first)", name,
		       (unsigned long long)mp_var_max_size(o), (unsigned long long)opt.max_size);
	return 0;
}

static const struct mp_kind_cli var_cli = {
	&mp_var_kind, "variable", create_var, mp_show_var_info, mp_show_var_row,
};

static void open_var(struct mp_obj *o, int create)
{
	int rc;

	if (!create || mp_cli.existing) {	/* -e: 66 when missing */
		mp_verb_open_or_exit(&var_cli, opt.name, o);
		return;
	}
	mp_store_open_or_exit(&mp_verb_store);
	rc = mp_var_open(&mp_verb_store, opt.name, 1, opt.max_size, NULL, o);
	if (rc)
		mp_fail(rc, "cannot open variable '%s'", opt.name);
}

/* The statuses of a change that did not happen: -EDOM (not an integer)
 * and -EOVERFLOW are bad data, 65, like a value over the limit. */
static void var_fail(int rc)
{
	if (rc == -EDOM || rc == -EOVERFLOW)
		mp_die(MP_EXIT_DATAERR, "%s", mp_errmsg());
	mp_fail(rc, "variable '%s'", opt.name);
}

static void *alloc_or_exit(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		mp_fail(-ENOMEM, "cannot allocate %zu bytes", n);
	return p;
}

static void write_or_exit(const void *p, size_t len, int newline)
{
	if ((len && fwrite(p, 1, len, stdout) != len) || (newline && putchar('\n') == EOF))
		mp_fail(-EIO, "cannot write to stdout");
}

/* All of stdin: the value of `set NAME -`. */
static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = alloc_or_exit(cap);
	ssize_t r;

	for (;;) {
		if (n == cap) {
			char *more = realloc(buf, cap *= 2);
			if (!more)
				mp_fail(-ENOMEM, "cannot read stdin");
			buf = more;
		}
		r = read(0, buf + n, cap - n);
		if (r < 0 && errno == EINTR && !mp_signal_pending)
			continue;
		if (r < 0)
			mp_fail(mp_signal_pending ? -EINTR : -errno, "cannot read stdin");
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!opt.raw && n && buf[n - 1] == '\n')
		n--;
	*len = n;
	return buf;
}

static int do_set(int nx)
{
	const char *v = opt.args[0];
	size_t len = strlen(v);
	char *input = NULL;
	struct mp_obj o;
	sigset_t old;
	int rc = -EIDRM;

	if (!strcmp(v, "-"))
		v = input = read_stdin(&len);
	mp_signals_block(&old);
	/* Removed between our open and our change: the name now stands for
	 * a new variable, so change that one. */
	for (int tries = 0; tries < 5 && rc == -EIDRM; tries++) {
		open_var(&o, 1);
		rc = mp_var_set(&o, v, len, nx);
		MP_FAULT_POINT("mpvar.changed");
		if (rc == -EIDRM)
			mp_obj_close(&o);
	}
	free(input);
	if (rc < 0)
		var_fail(rc);
	mp_obj_close(&o);
	mp_info(rc ? "'%s' was set already" : "set '%s'", opt.name);
	return rc ? MP_EXIT_NO : 0;
}

static int do_get(void)
{
	struct mp_obj o;
	size_t len;
	void *buf;
	int rc;

	mp_store_open_or_exit(&mp_verb_store);
	rc = mp_var_open(&mp_verb_store, opt.name, 0, 0, NULL, &o);
	if (rc == -ENOENT && opt.def) {
		write_or_exit(opt.def, strlen(opt.def), !opt.raw);
		return 0;
	}
	if (rc == -ENOENT)
		mp_die(MP_EXIT_NOINPUT, "no variable named '%s' (in %s)", opt.name, mp_verb_store.dir);
	if (rc)
		mp_fail(rc, "cannot open variable '%s'", opt.name);
	buf = alloc_or_exit((size_t)mp_var_max_size(&o));
	rc = mp_var_get(&o, buf, (size_t)mp_var_max_size(&o), &len);
	if (rc < 0)
		var_fail(rc);
	if (rc == 0 && !opt.def)
		mp_die(MP_EXIT_NOINPUT, "variable '%s' is unset", opt.name);
	if (rc == 0)
		write_or_exit(opt.def, strlen(opt.def), !opt.raw);
	else
		write_or_exit(buf, len, !opt.raw);
	free(buf);
	mp_obj_close(&o);
	return 0;
}

static int do_add(int sign)
{
	int64_t n = 1, result;
	struct mp_obj o;
	char text[24];
	sigset_t old;
	size_t len;
	int rc = -EIDRM;

	if (opt.nargs && mp_var_parse_int(opt.args[0], strlen(opt.args[0]), &n))
		mp_die(MP_EXIT_USAGE, "'%s' is not an integer (signed 64-bit decimal)", opt.args[0]);
	if (sign < 0 && n == INT64_MIN)
		mp_die(MP_EXIT_DATAERR, "decr by %s does not fit in 64 bits", opt.args[0]);
	mp_signals_block(&old);
	for (int tries = 0; tries < 5 && rc == -EIDRM; tries++) {
		open_var(&o, 1);
		rc = mp_var_add(&o, sign * n, opt.have_init ? &opt.init : NULL, &result);
		MP_FAULT_POINT("mpvar.changed");
		if (rc == -EIDRM)
			mp_obj_close(&o);
	}
	if (rc)
		var_fail(rc);
	len = mp_var_format_int(result, text);
	write_or_exit(text, len, 1);
	return 0;
}

static int do_cas(void)
{
	struct mp_obj o;
	size_t curlen;
	sigset_t old;
	int rc, curset;
	void *cur;

	mp_signals_block(&old);
	open_var(&o, 1);
	cur = alloc_or_exit((size_t)mp_var_max_size(&o));
	rc = mp_var_cas(&o, opt.args[0], strlen(opt.args[0]), opt.args[1], strlen(opt.args[1]),
			cur, (size_t)mp_var_max_size(&o), &curlen, &curset);
	MP_FAULT_POINT("mpvar.changed");
	if (rc < 0)
		var_fail(rc);
	if (rc == 1 && opt.print && curset)
		write_or_exit(cur, curlen, 1);
	free(cur);
	mp_obj_close(&o);
	mp_info(rc ? "'%s' was not swapped" : "swapped '%s'", opt.name);
	return rc ? MP_EXIT_NO : 0;
}

static int do_unset(void)
{
	struct mp_obj o;
	sigset_t old;
	int rc;

	mp_signals_block(&old);
	mp_verb_open_or_exit(&var_cli, opt.name, &o);
	rc = mp_var_unset(&o);
	MP_FAULT_POINT("mpvar.changed");
	if (rc < 0)
		var_fail(rc);
	return 0;
}

static int do_wait(void)
{
	struct mp_watch watch;
	struct mp_obj o;
	int rc;

	open_var(&o, 1);
	mp_watch_start_later(&watch, &mp_var_kind, opt.name);	/* -v */
	rc = mp_var_wait(&o, &opt.cond, mp_cli_deadline(), mp_cli.nonblock);
	mp_watch_stop(&watch);
	if (rc == -EAGAIN) {
		/* "busy" would puzzle here: the condition just does not hold;
		 * silent unless -v, as flock -n is */
		if (mp_cli.verbose)
			mp_warn("variable '%s': the condition does not hold", opt.name);
		exit(mp_exit_status(rc));
	}
	if (rc)
		mp_fail(rc, "variable '%s'", opt.name);
	return 0;
}

/* ---- dump ---- */

struct dump_ctx {
	const char *prefix;
	void *buf;
	size_t cap;
	int count, rc;
};

static int dump_one(const char *name, void *arg)
{
	struct dump_ctx *c = arg;
	struct mp_obj o;
	size_t len = 0;
	int rc;

	if (c->prefix && strncmp(name, c->prefix, strlen(c->prefix)))
		return 0;
	rc = mp_var_open(&mp_verb_store, name, 0, 0, NULL, &o);
	if (rc == -ENOENT)
		return 0;	/* removed meanwhile */
	if (rc == 0 && mp_var_max_size(&o) > c->cap) {
		void *more = realloc(c->buf, (size_t)mp_var_max_size(&o));
		if (more) {
			c->buf = more;
			c->cap = (size_t)mp_var_max_size(&o);
		}
		if (!more)
			mp_obj_close(&o);
		rc = more ? 0 : -ENOMEM;
	}
	if (rc == 0) {
		rc = mp_var_get(&o, c->buf, c->cap, &len);
		mp_obj_close(&o);
	}
	if (rc < 0) {
		mp_warn("variable '%s': %s", name, mp_errmsg()[0] ? mp_errmsg() : strerror(-rc));
		c->rc = rc;
		return 0;
	}
	if (mp_cli.json) {
		printf("%s", c->count++ ? "," : "");
		mp_json_str(stdout, name);
		putchar(':');
		mp_show_var_json_value(rc, c->buf, len);
	} else if (rc) {
		printf("%s=", name);
		mp_show_var_text_value(c->buf, len);
		putchar('\n');
	}
	return 0;
}

static int do_dump(void)
{
	struct dump_ctx c = { opt.name, NULL, 0, 0, 0 };
	int rc;

	mp_store_open_or_exit(&mp_verb_store);
	if (mp_cli.json)
		putchar('{');
	rc = mp_store_list(&mp_verb_store, &mp_var_kind, dump_one, &c);
	if (mp_cli.json)
		printf("}\n");
	free(c.buf);
	if (rc)
		mp_fail(rc, "cannot list the store");
	return c.rc ? mp_exit_status(c.rc) : 0;
}

int main(int argc, char **argv)
{
	mp_cli_init(PACKAGE_VERSION);
	protect_negatives(argc, argv);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	restore_negatives();
	if (opt.name)
		mp_check_name_or_exit(opt.name);

	switch (opt.verb) {
	case V_SET:
		return do_set(0);
	case V_SETNX:
		return do_set(1);
	case V_GET:
		return do_get();
	case V_INCR:
		return do_add(1);
	case V_DECR:
		return do_add(-1);
	case V_CAS:
		return do_cas();
	case V_UNSET:
		return do_unset();
	case V_WAIT:
		return do_wait();
	case V_DUMP:
		return do_dump();
	default:
		return mp_verb_common(&var_cli, opt.verb, opt.name);
	}
}
