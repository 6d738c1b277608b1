/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* verbs.h - the verbs every kind shares, written once: create, info, ls
 * and rm, the verb table lookup and the "VERB NAME" part of parsing.
 *
 * A tool describes its kind once, in a struct mp_kind_cli (the noun for
 * messages, how to create an object with the tool's own options, how to
 * print one object), and its main() hands any common verb to
 * mp_verb_common().  Part of the cli layer: it prints and exits.
 */
#ifndef MP_VERBS_H
#define MP_VERBS_H

#include <argp.h>

#include "store.h"

/* Verb ids: the common ones, then each tool's own from MP_VERB_TOOL. */
enum { MP_VERB_NONE, MP_VERB_CREATE, MP_VERB_INFO, MP_VERB_LS, MP_VERB_RM, MP_VERB_TOOL = 16 };

/* What a verb takes after it. */
enum mp_verb_args {
	MP_VERB_NO_NAME,	/* ls */
	MP_VERB_OPT_NAME,	/* mpvar ls [PREFIX]: at most one */
	MP_VERB_ONE_NAME,	/* info NAME */
	MP_VERB_NAMES,		/* mpevent wait NAME... */
	MP_VERB_NAME_REST,	/* run NAME CMD..., put NAME MSG...: the tool takes the rest */
	MP_VERB_REST,		/* the tool takes everything (mpspawn's CMD) */
};

struct mp_verb {
	const char *name;
	int id;
	enum mp_verb_args args;
};

/* The table entries of the common verbs a kind has. */
#define MP_VERB_CREATE_ENTRY	{ "create", MP_VERB_CREATE, MP_VERB_ONE_NAME }
#define MP_VERB_INFO_ENTRY	{ "info", MP_VERB_INFO, MP_VERB_ONE_NAME }
#define MP_VERB_LS_ENTRY	{ "ls", MP_VERB_LS, MP_VERB_NO_NAME }
#define MP_VERB_RM_ENTRY	{ "rm", MP_VERB_RM, MP_VERB_ONE_NAME }

/* The verb and names parsed so far (see mp_verb_parse_arg). */
#define MP_VERB_NAMES_MAX	128
struct mp_verb_line {
	const struct mp_verb *verb;	/* NULL: none yet */
	const char *names[MP_VERB_NAMES_MAX];
	int n;
};

/* For ARGP_KEY_ARG: the first argument is the verb, then its names as
 * the verb's table entry says.  Returns 0 when the argument was taken, 1
 * when it is not a verb (first argument) or is past the names (the tool
 * decides: a flock-style lock name, a command, a message).  A name where
 * the verb takes none, or one name too many, is a usage error. */
int mp_verb_parse_arg(struct mp_verb_line *l, const struct mp_verb *table, int ntable,
		      struct argp_state *state, const char *arg);

/* For ARGP_KEY_END: a verb, and a name if the verb takes one; noun says
 * what the name names ("a lock name is needed"). */
void mp_verb_parse_end(const struct mp_verb_line *l, struct argp_state *state, const char *noun);

/* A kind as the common verbs see it. */
struct mp_kind_cli {
	const struct mp_kind *kind;
	const char *noun;	/* in messages: "lock", "semaphore", "group" */
	/* create NAME: makes the object with the tool's options, or opens
	 * it if it exists and agrees with them.  Returns 0 or -errno; may exit
	 * with a message of its own.  NULL: the kind has no create verb. */
	int (*create)(struct mp_store *s, const char *name, struct mp_obj *o);
	/* Prints o (info) as text, or as one JSON object without a newline.
	 * Returns 0 or -errno, having printed nothing on error. */
	int (*info)(struct mp_obj *o, int json);
	/* Prints o's element of ls --json (the info object) after lead
	 * (the separator "," or ""); json is 1 (the text of ls is
	 * mp_show_table's).  Returns 0 or -errno, nothing printed on error. */
	int (*row)(struct mp_obj *o, int json, const char *lead);
};

/* The tool's store, opened by the first verb that needs it. */
extern struct mp_store mp_verb_store;

/* Opens the store (or exits 69) and object NAME of kind k without
 * creating it, or exits: 66 if missing, 65 if damaged, ... */
void mp_verb_open_or_exit(const struct mp_kind_cli *k, const char *name, struct mp_obj *o);

/* Runs common verb id (MP_VERB_CREATE ... MP_VERB_RM) on NAME (for ls: a
 * prefix, or NULL) and returns the exit status, or exits with it:
 *   create  k->create; 0
 *   info    k->info, with mp_cli.json; 66 missing
 *   ls      a table with a header (mp_show_table: name, state, waiters,
 *           age, holders) of each object of the kind (whose name starts
 *           with NAME, if not NULL), sorted by name, nothing when there
 *           is none; --json: k->row for each; an object that cannot
 *           be read is skipped with a message, and its status is returned;
 *           --json: one JSON array
 *   rm      marks the object removed (its waiters leave with 66) and
 *           unlinks it; a damaged file under the name (garbage, truncated,
 *           another kind, a symlink or FIFO) is unlinked as it is, with a
 *           warning; 66 missing */
int mp_verb_common(const struct mp_kind_cli *k, int id, const char *name);

#endif
