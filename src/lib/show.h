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

#include "store.h"

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
