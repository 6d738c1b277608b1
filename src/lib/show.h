/* show.h - info and ls output shared by the tools built on a gate
 * (mplock, mpsem): human-readable text or JSON on stdout.  Part of the cli
 * layer: it prints, but never exits.
 */
#ifndef MP_SHOW_H
#define MP_SHOW_H

#include "gate.h"
#include "store.h"

enum mp_gate_style { MP_SHOW_LOCK, MP_SHOW_SEM };

/* info NAME: returns 0 or -errno (the state could not be read). */
int mp_show_gate_info(struct mp_obj *o, enum mp_gate_style style, int json);

/* ls: prints every object of kind k; with json a JSON array.
 * open(s, name, o) opens one object without creating it. */
int mp_show_gate_list(struct mp_store *s, const struct mp_kind *k, enum mp_gate_style style,
		      int json);

#endif
