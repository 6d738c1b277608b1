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

#endif
