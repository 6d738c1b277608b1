/* args.c - the tools' command-line parser; see args.h. */
#include "config.h"

#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void (*mp_argp_version_hook)(FILE *f, struct mp_argp_state *state);
int mp_argp_err_exit_status = 64;

enum { KEY_HELP = '?', KEY_VERSION = 'V', KEY_USAGE = 0x1000010 };

static const struct mp_argp_option builtin_options[] = {
	{ "help", KEY_HELP, 0, 0, "Give this help list", -1 },
	{ "usage", KEY_USAGE, 0, 0, "Give a short usage message", -1 },
	{ "version", KEY_VERSION, 0, 0, "Print program version", -1 },
	{ 0 }
};
static const struct mp_argp builtin_argp = { builtin_options, 0, 0, 0, 0 };

/* One option, or the header of a child, as --help lists it. */
struct entry {
	const struct mp_argp_option *opt;	/* NULL: a header */
	const struct mp_argp *owner;
	const char *header;
	int group;
	int order;				/* rank of declaration */
};

enum { MAX_ENTRIES = 64 };	/* options, headers and built-ins of one tool */

struct table {
	struct entry e[MAX_ENTRIES];
	size_t n;
};

static int is_end(const struct mp_argp_option *o)
{
	return !o->name && !o->key && !o->doc;
}

static int short_of(const struct mp_argp_option *o)
{
	return o->key > 0 && o->key < 128 && isprint(o->key) && o->key != ' ' ? o->key : 0;
}

static void add(struct table *t, const struct mp_argp_option *o, const struct mp_argp *owner,
		const char *header, int group)
{
	if (t->n == MAX_ENTRIES)
		abort();	/* a tool with more options than this is a bug */
	t->e[t->n] = (struct entry){ o, owner, header, group, (int)t->n };
	t->n++;
}

static void collect(struct table *t, const struct mp_argp *a)
{
	int group = 0;

	if (a->options) {
		for (const struct mp_argp_option *o = a->options; !is_end(o); o++) {
			if (o->group)
				group = o->group;
			add(t, o, a, NULL, group);
		}
	}
	for (const struct mp_argp_child *c = a->children; c && c->argp; c++) {
		if (c->header)
			add(t, NULL, c->argp, c->header, c->group);
		collect(t, c->argp);
	}
}

static void collect_all(struct table *t, const struct mp_argp *root)
{
	t->n = 0;
	collect(t, root);
	collect(t, &builtin_argp);
}

/* The last group comes last: 0, 1, 2, ..., then -2, then -1. */
static long group_rank(int g)
{
	return g >= 0 ? g : (long)1 << 40 | (long)(1000000 + g);
}

static const char *sort_name(const struct mp_argp_option *o, char buf[2])
{
	buf[0] = (char)short_of(o);
	buf[1] = 0;
	return buf[0] ? buf : o->name ? o->name : "";
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	char na[2], nb[2];
	long ga = group_rank(a->group), gb = group_rank(b->group);
	int sa, sb, c;

	if (ga != gb)
		return ga < gb ? -1 : 1;
	if (!a->opt || !b->opt)	/* a header heads its group */
		return !a->opt && b->opt ? -1 : a->opt && !b->opt ? 1 : a->order - b->order;
	/* by name, the short option's letter standing for the name */
	c = strcasecmp(sort_name(a->opt, na), sort_name(b->opt, nb));
	if (c)
		return c;
	sa = short_of(a->opt);
	sb = short_of(b->opt);
	if (sa != sb)
		return sa && sb ? sb - sa : sa ? -1 : 1;	/* -e before -E */
	return a->order - b->order;
}

static void print_usage_lines(const struct mp_argp_state *st, FILE *f)
{
	const char *p = st->root_argp->args_doc;
	int first = 1;

	if (!p || !*p) {
		fprintf(f, "Usage: %s [OPTION...]\n", st->name);
		return;
	}
	while (*p) {
		size_t len = strcspn(p, "\n");

		fprintf(f, "%s %s [OPTION...] %.*s\n", first ? "Usage:" : "  or: ", st->name,
			(int)len, p);
		first = 0;
		p += len;
		if (*p == '\n')
			p++;
	}
}

enum { DOC_COL = 29, WIDTH = 79 };

/* Writes the len bytes of text from column col, the words wrapped at WIDTH
 * and continued at column indent, then a newline. */
static void print_wrapped(FILE *f, int col, int indent, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int start = col;

	while (p < end) {
		size_t w = 0;

		while (p + w < end && p[w] != ' ')
			w++;
		if (col > start && col + 1 + (int)w > WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > start) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)w, p);
		col += (int)w;
		p += w;
		while (p < end && *p == ' ')
			p++;
	}
	fputc('\n', f);
}

/* Writes the len bytes of doc: lines that fit as they are (the verb tables
 * are aligned by hand), longer ones wrapped at their own indentation. */
static void print_doc(FILE *f, const char *doc, size_t len)
{
	const char *p = doc, *end = doc + len;

	while (p < end) {
		size_t n = 0, ind = 0;

		while (p + n < end && p[n] != '\n')
			n++;
		while (ind < n && p[ind] == ' ')
			ind++;
		if (n <= WIDTH)
			fprintf(f, "%.*s\n", (int)n, p);
		else
			print_wrapped(f, (int)ind, (int)ind, p + ind, n - ind);
		p += n + (p + n < end);
	}
}

static void print_option(FILE *f, const struct mp_argp_option *o)
{
	int s = short_of(o), opt_arg = o->flags & MP_OPTION_ARG_OPTIONAL;
	int col = 0;
	char buf[128];

	if (s)
		col += snprintf(buf, sizeof buf, "  -%c%s", s, o->name ? ", " : "");
	else
		col += snprintf(buf, sizeof buf, "      ");
	if (o->name)
		col += snprintf(buf + col, sizeof buf - (size_t)col, "--%s", o->name);
	if (o->arg) {
		if (o->name)
			col += snprintf(buf + col, sizeof buf - (size_t)col,
					opt_arg ? "[=%s]" : "=%s", o->arg);
		else
			col += snprintf(buf + col, sizeof buf - (size_t)col,
					opt_arg ? " [%s]" : " %s", o->arg);
	}
	if (col >= (int)sizeof buf)
		col = (int)sizeof buf - 1;
	fputs(buf, f);
	if (!o->doc || !*o->doc) {
		fputc('\n', f);
		return;
	}
	if (col < DOC_COL) {
		fprintf(f, "%*s", DOC_COL - col, "");
	} else {
		fprintf(f, "\n%*s", DOC_COL, "");
	}
	print_wrapped(f, DOC_COL, DOC_COL, o->doc, strlen(o->doc));
}

static void print_help(const struct mp_argp_state *st, FILE *f)
{
	const struct mp_argp *root = st->root_argp;
	const char *doc = root->doc ? root->doc : "";
	size_t pre = strcspn(doc, "\v");
	struct table t;
	int prev_group = 0, any = 0, after_header = 0, any_arg = 0;

	print_usage_lines(st, f);
	print_doc(f, doc, pre);
	collect_all(&t, root);
	qsort(t.e, t.n, sizeof *t.e, entry_cmp);
	for (size_t i = 0; i < t.n; i++) {
		const struct entry *e = &t.e[i];

		if (e->opt && (e->opt->flags & MP_OPTION_HIDDEN))
			continue;
		if ((!any || e->group != prev_group) && !after_header)
			fputc('\n', f);
		any = 1;
		prev_group = e->group;
		after_header = !e->opt;
		if (!e->opt) {
			fprintf(f, " %s\n", e->header);
			continue;
		}
		if (e->opt->arg && e->opt->name && short_of(e->opt))
			any_arg = 1;
		print_option(f, e->opt);
	}
	if (any_arg)
		fputs("\nMandatory or optional arguments to long options are also mandatory or "
		      "optional\nfor any corresponding short options.\n", f);
	if (doc[pre] == '\v' && doc[pre + 1]) {
		fputc('\n', f);
		print_doc(f, doc + pre + 1, strlen(doc + pre + 1));
	}
}

void mp_argp_help(const struct mp_argp_state *st)
{
	print_help(st, stdout);
	exit(0);
}

void mp_argp_error(const struct mp_argp_state *st, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", st->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", st->name);
	exit(mp_argp_err_exit_status);
}

static int call(const struct mp_argp *a, int key, char *arg, struct mp_argp_state *st)
{
	return a->parser ? a->parser(key, arg, st) : MP_ARGP_ERR_UNKNOWN;
}

/* Gives key to every parser of the tree until one knows it. */
static int call_all(const struct mp_argp *a, int key, char *arg, struct mp_argp_state *st,
		    int every)
{
	int rc = call(a, key, arg, st), handled = rc != MP_ARGP_ERR_UNKNOWN;

	if (rc && rc != MP_ARGP_ERR_UNKNOWN)
		return rc;
	for (const struct mp_argp_child *c = a->children; c && c->argp; c++) {
		if (handled && !every)
			break;
		rc = call_all(c->argp, key, arg, st, every);
		if (rc && rc != MP_ARGP_ERR_UNKNOWN)
			return rc;
		handled |= rc != MP_ARGP_ERR_UNKNOWN;
	}
	return handled ? 0 : MP_ARGP_ERR_UNKNOWN;
}

static void run_option(struct mp_argp_state *st, const struct entry *e, char *arg)
{
	int rc;

	switch (e->owner == &builtin_argp ? e->opt->key : 0) {
	case KEY_HELP:
		mp_argp_help(st);
	case KEY_USAGE:
		print_usage_lines(st, stdout);
		exit(0);
	case KEY_VERSION:
		if (mp_argp_version_hook)
			mp_argp_version_hook(stdout, st);
		exit(0);
	}
	rc = call(e->owner, e->opt->key, arg, st);
	if (rc)
		mp_argp_error(st, "option '%s' was not handled", e->opt->name ? e->opt->name : "?");
}

static const struct entry *find_short(const struct table *t, int c)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].opt && short_of(t->e[i].opt) == c)
			return &t->e[i];
	return NULL;
}

/* An exact long name, else the only option it abbreviates. */
static const struct entry *find_long(const struct mp_argp_state *st, const struct table *t,
				     const char *name, size_t len)
{
	const struct entry *found = NULL;
	int ambiguous = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct mp_argp_option *o = t->e[i].opt;

		if (!o || !o->name || strncmp(o->name, name, len))
			continue;
		if (strlen(o->name) == len)
			return &t->e[i];
		if (found && found->opt->key != o->key)
			ambiguous = 1;
		found = &t->e[i];
	}
	if (ambiguous)
		mp_argp_error(st, "option '--%.*s' is ambiguous", (int)len, name);
	if (!found)
		mp_argp_error(st, "unrecognized option '--%.*s'", (int)len, name);
	return found;
}

static void parse_long(struct mp_argp_state *st, const struct table *t, char *s)
{
	char *eq = strchr(s, '=');
	size_t len = eq ? (size_t)(eq - s) : strlen(s);
	const struct entry *e = find_long(st, t, s, len);
	const struct mp_argp_option *o = e->opt;
	char *arg = NULL;

	if (!o->arg) {
		if (eq)
			mp_argp_error(st, "option '--%s' doesn't allow an argument", o->name);
	} else if (eq) {
		arg = eq + 1;
	} else if (!(o->flags & MP_OPTION_ARG_OPTIONAL)) {
		if (st->next >= st->argc)
			mp_argp_error(st, "option '--%s' requires an argument", o->name);
		arg = st->argv[st->next++];
	}
	run_option(st, e, arg);
}

static void parse_shorts(struct mp_argp_state *st, const struct table *t, char *s)
{
	while (*s) {
		const struct entry *e = find_short(t, (unsigned char)*s);
		char *arg = NULL;

		if (!e)
			mp_argp_error(st, "invalid option -- '%c'", *s);
		s++;
		if (e->opt->arg) {
			if (*s) {
				arg = s;
			} else if (!(e->opt->flags & MP_OPTION_ARG_OPTIONAL)) {
				if (st->next >= st->argc)
					mp_argp_error(st, "option requires an argument -- '%c'",
						      short_of(e->opt));
				arg = st->argv[st->next++];
			}
			run_option(st, e, arg);
			return;
		}
		run_option(st, e, NULL);
	}
}

static void parse_arg(struct mp_argp_state *st, char *arg)
{
	if (call_all(st->root_argp, MP_ARGP_KEY_ARG, arg, st, 0))
		mp_argp_error(st, "too many arguments");
}

void mp_argp_parse(const struct mp_argp *argp, int argc, char **argv)
{
	static struct table t;
	struct mp_argp_state st;
	const char *slash;

	memset(&st, 0, sizeof st);
	st.root_argp = argp;
	st.argc = argc;
	st.argv = argv;
	st.next = 1;
	st.name = argc > 0 && argv[0] ? argv[0] : "?";
	if ((slash = strrchr(st.name, '/')))
		st.name = slash + 1;
	collect_all(&t, argp);
	call_all(argp, MP_ARGP_KEY_INIT, NULL, &st, 1);
	while (st.next < st.argc) {
		char *a = st.argv[st.next++];

		if (!strcmp(a, "--")) {
			while (st.next < st.argc)
				parse_arg(&st, st.argv[st.next++]);
			break;
		}
		if (a[0] == '-' && a[1] == '-')
			parse_long(&st, &t, a + 2);
		else if (a[0] == '-' && a[1])
			parse_shorts(&st, &t, a + 1);
		else
			parse_arg(&st, a);
	}
	call_all(argp, MP_ARGP_KEY_END, NULL, &st, 1);
}
