/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-sem - arbitrary bytes as a semaphore object: open + validate, then
 * value, info (text and JSON), ls, and the non-blocking changes (acquire
 * -n, release --force, drain -n).  See fuzz.h. */
#include "config.h"

#include "fuzz.h"
#include "lib/gate.h"
#include "lib/sem.h"
#include "lib/show.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_store *s = fz_store();
	struct mp_gate_req r = { .weight = 1, .nonblock = 1 };
	struct mp_gate_info gi;
	struct mp_hold h[2];
	struct mp_obj o;
	uint64_t token;
	int idx;

	if (fz_write_object("sem", data, size))
		return 0;
	if (mp_sem_open(s, "x", 0, NULL, &o) == 0) {
		fz_after_open(&o, data, size);
		(void)mp_sem_slots(&o);
		mp_gate_info(&o, &gi, h, 2);
		mp_show_sem_info(&o, 0);
		mp_show_sem_info(&o, 1);
		mp_show_sem_row(&o, 0, "");
		mp_show_sem_row(&o, 1, ",");
		mp_owner_of(0, &r.owner);
		if (mp_gate_acquire(&o, &r, &token, &idx) == 0)
			mp_gate_release_token(&o, idx, token);
		mp_gate_release(&o, &r.owner, 1, h);
		mp_gate_drain(&o, 0, 1);
		mp_obj_close(&o);
	}
	return 0;
}
