/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* verbs.c - the verbs every kind shares; see verbs.h. */
#include "config.h"

#include "verbs.h"
#include "cli.h"
#include "err.h"
#include "show.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct mp_store mp_verb_store;

static const struct mp_verb *find(const struct mp_verb *table, int ntable, const char *word)
{
	for (int i = 0; i < ntable; i++)
		if (!strcmp(word, table[i].name))
			return &table[i];
	return NULL;
}

int mp_verb_parse_arg(struct mp_verb_line *l, const struct mp_verb *table, int ntable,
		      struct argp_state *state, const char *arg)
{
	if (!l->verb) {
		l->verb = find(table, ntable, arg);
		return l->verb ? 0 : 1;
	}
	switch (l->verb->args) {
	case MP_VERB_NO_NAME:
		argp_error(state, "%s takes no name: unexpected argument '%s'", l->verb->name, arg);
		break;
	case MP_VERB_ONE_NAME:
	case MP_VERB_OPT_NAME:
		if (l->n == 1)
			argp_error(state, "unexpected argument '%s'", arg);
		break;
	case MP_VERB_NAMES:
		if (l->n == (int)(sizeof l->names / sizeof *l->names))
			argp_error(state, "at most %d names", l->n);
		break;
	case MP_VERB_NAME_REST:
		if (l->n == 1)
			return 1;
		break;
	case MP_VERB_REST:
		return 1;
	}
	l->names[l->n++] = arg;
	return 0;
}

void mp_verb_parse_end(const struct mp_verb_line *l, struct argp_state *state, const char *noun)
{
	if (!l->verb)
		argp_error(state, "a verb is needed");
	if (l->verb->args != MP_VERB_NO_NAME && l->verb->args != MP_VERB_OPT_NAME &&
	    l->verb->args != MP_VERB_REST && l->n == 0)
		argp_error(state, "%s needs a %s name", l->verb->name, noun);
}

void mp_verb_open_or_exit(const struct mp_kind_cli *k, const char *name, struct mp_obj *o)
{
	int rc;

	mp_store_open_or_exit(&mp_verb_store);
	rc = mp_store_find(&mp_verb_store, k->kind, name, o);
	/* a Redis server cannot tell an object it forgot from one that
	 * never was (impl: a store other than a directory) */
	if (rc == -ENOENT)
		mp_die(MP_EXIT_NOINPUT, "no %s named '%s' (in %s%s)", k->noun, name, mp_verb_store.dir,
		       mp_verb_store.impl ? "; a server restarted without persistence forgets "
		       "every object" : "");
	if (rc)
		mp_fail(rc, "cannot open %s '%s'", k->noun, name);
}

static int verb_create(const struct mp_kind_cli *k, const char *name)
{
	struct mp_obj o;
	int rc;

	mp_store_open_or_exit(&mp_verb_store);
	rc = k->create(&mp_verb_store, name, &o);
	if (rc)
		mp_fail(rc, "cannot create %s '%s'", k->noun, name);
	mp_obj_close(&o);
	return 0;
}

static int verb_info(const struct mp_kind_cli *k, const char *name)
{
	struct mp_obj o;
	int rc;

	mp_obj_allow_readonly(1);	/* a read-only store can be looked at */
	mp_verb_open_or_exit(k, name, &o);
	rc = k->info(&o, mp_cli.json);
	if (rc)
		mp_fail(rc, "%s '%s'", k->noun, name);
	if (mp_cli.json)
		putchar('\n');
	mp_obj_close(&o);
	return 0;
}

struct list_ctx {
	const struct mp_kind_cli *k;
	const char *prefix;
	int count, rc;
	struct mp_show_table table;	/* text: printed at the end */
};

static int list_one(const char *name, void *arg)
{
	struct list_ctx *c = arg;
	struct mp_obj o;
	int rc;

	if (c->prefix && strncmp(name, c->prefix, strlen(c->prefix)))
		return 0;
	rc = mp_store_find(&mp_verb_store, c->k->kind, name, &o);
	if (rc == -ENOENT)
		return 0;	/* removed meanwhile */
	if (rc == 0) {
		if (mp_cli.json)
			rc = c->k->row(&o, 1, c->count ? "," : "");
		else
			rc = mp_show_table_add(&c->table, &o);
		mp_obj_close(&o);
	}
	if (rc) {
		mp_warn("%s '%s': %s", c->k->noun, name, mp_errmsg()[0] ? mp_errmsg() : strerror(-rc));
		c->rc = rc;
	} else {
		c->count++;
	}
	return 0;
}

static int verb_ls(const struct mp_kind_cli *k, const char *prefix)
{
	struct list_ctx c = { k, prefix, 0, 0, { 0 } };
	int rc;

	mp_obj_allow_readonly(1);	/* a read-only store can be looked at */
	mp_store_open_or_exit(&mp_verb_store);
	if (mp_cli.json)
		putchar('[');
	rc = mp_store_list(&mp_verb_store, k->kind, list_one, &c);
	if (mp_cli.json)
		printf("]\n");
	else if (c.table.n)	/* a header over the rows; nothing at all for none */
		mp_show_table_print(stdout, &c.table, 0);
	mp_show_table_free(&c.table);
	if (rc)
		mp_fail(rc, "cannot list the store");
	return c.rc ? mp_exit_status(c.rc) : 0;
}

static int verb_rm(const struct mp_kind_cli *k, const char *name)
{
	int rc, damaged;

	mp_store_open_or_exit(&mp_verb_store);
	rc = mp_store_remove(&mp_verb_store, k->kind, name, &damaged);
	if (rc == -ENOENT)
		mp_die(MP_EXIT_NOINPUT, "no %s named '%s' (in %s)", k->noun, name, mp_verb_store.dir);
	if (rc)
		mp_fail(rc, "cannot remove %s '%s'", k->noun, name);
	if (damaged && !mp_cli.quiet)
		mp_warn("removed a damaged object: %s", mp_errmsg());
	return 0;
}

int mp_verb_common(const struct mp_kind_cli *k, int id, const char *name)
{
	switch (id) {
	case MP_VERB_CREATE:
		return verb_create(k, name);
	case MP_VERB_INFO:
		return verb_info(k, name);
	case MP_VERB_LS:
		return verb_ls(k, name);
	case MP_VERB_RM:
		return verb_rm(k, name);
	default:
		return MP_EXIT_SOFTWARE;
	}
}
