/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* show.h - what info and ls print for each kind, as text or JSON, on
 * stdout: the print functions of the kinds' struct mp_kind_cli (verbs.h).
 * Part of the cli layer: it prints, but never exits.  Each returns 0 or
 * -errno (the state could not be read), having printed nothing then; a
 * JSON object is printed without a newline, a row after lead ("," between
 * JSON objects).
 */
#ifndef MP_SHOW_H
#define MP_SHOW_H

#include <stddef.h>
#include <stdio.h>

#include "store.h"

/* One object in a line of ls and mptools ls, as people read it. */
struct mp_show_sum {
	char state[64];		/* "locked", "2/3 slots used", "set", "3 items, ..." */
	char holders[256];	/* "PID COMMAND since HH:MM:SS, ..."; "" none */
	unsigned waiters;
	int waiters_more;	/* the waiting line is full: more may wait */
	int64_t created_ns;	/* CLOCK_REALTIME; 0 unknown */
	int64_t used_ns;	/* CLOCK_REALTIME of the last change; 0 unknown */
	int in_use;		/* held, waited on, messages queued or in flight,
				 * workers running: mptools gc keeps it */
	char host[64];		/* a group on a Redis store: its supervisor's
				 * host id (ls adds a HOST column); "" none */
};

/* Fills s for o, whatever its kind.  Returns 0 or -errno. */
int mp_show_sum(struct mp_obj *o, struct mp_show_sum *s);
int mp_show_lock_sum(struct mp_obj *o, struct mp_show_sum *s);
int mp_show_sem_sum(struct mp_obj *o, struct mp_show_sum *s);
int mp_show_event_sum(struct mp_obj *o, struct mp_show_sum *s);
int mp_show_queue_sum(struct mp_obj *o, struct mp_show_sum *s);
int mp_show_spawn_sum(struct mp_obj *o, struct mp_show_sum *s);
int mp_show_var_sum(struct mp_obj *o, struct mp_show_sum *s);
/* Appends "PID COMMAND since HH:MM:SS" (", " first when buf is not empty)
 * for a holder; COMMAND is /proc/PID/comm, "?" when it cannot be read. */
void mp_show_add_holder(struct mp_show_sum *s, int pid, int64_t since_ns);

/* The table of ls: a header, then one line per object (kind: with a KIND
 * column first, as mptools ls prints it).  rows are freed by
 * mp_show_table_free. */
struct mp_show_row {
	const char *kind;
	char *name;
	struct mp_show_sum sum;
};
struct mp_show_table {
	struct mp_show_row *rows;
	size_t n, cap;
};
int mp_show_table_add(struct mp_show_table *t, struct mp_obj *o);
void mp_show_table_print(FILE *f, const struct mp_show_table *t, int kind);
void mp_show_table_free(struct mp_show_table *t);

int mp_show_lock_info(struct mp_obj *o, int json);
int mp_show_lock_row(struct mp_obj *o, int json, const char *lead);
int mp_show_sem_info(struct mp_obj *o, int json);
int mp_show_sem_row(struct mp_obj *o, int json, const char *lead);
int mp_show_event_info(struct mp_obj *o, int json);
int mp_show_event_row(struct mp_obj *o, int json, const char *lead);
int mp_show_queue_info(struct mp_obj *o, int json);
int mp_show_queue_row(struct mp_obj *o, int json, const char *lead);
int mp_show_spawn_info(struct mp_obj *o, int json);
/* As mp_show_spawn_info, and *stale tells whether a worker's heartbeat is
 * late. */
int mp_show_spawn_status(struct mp_obj *o, int json, int *stale);
int mp_show_spawn_row(struct mp_obj *o, int json, const char *lead);
int mp_show_var_info(struct mp_obj *o, int json);
int mp_show_var_row(struct mp_obj *o, int json, const char *lead);
/* A variable's value as JSON on stdout: null when unset, a number when it
 * is a canonical integer, else a string (bytes that are not UTF-8 as
 * \u00XX). */
void mp_show_var_json_value(int is_set, const void *v, size_t len);
/* The value on one line of stdout: printable ASCII as it is, \n, \t, \\
 * and \xHH for the rest. */
void mp_show_var_text_value(const void *v, size_t len);

#endif
