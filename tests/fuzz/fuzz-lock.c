/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-lock - arbitrary bytes as a lock object: open + validate, then
 * is-locked, info (text and JSON), ls, and the non-blocking changes
 * (acquire -n shared and exclusive, release --force).  See fuzz.h. */
#include "config.h"

#include "fuzz.h"
#include "lib/gate.h"
#include "lib/lock.h"
#include "lib/show.h"

static void changes(struct mp_obj *o, int shared)
{
	struct mp_gate_req r = { .weight = mp_lock_weight(shared), .nonblock = 1,
				 .flags = shared ? MP_HOLD_SHARED : 0 };
	struct mp_hold h;
	uint64_t token;
	int idx;

	mp_owner_of(0, &r.owner);
	if (mp_gate_acquire(o, &r, &token, &idx) == 0)
		mp_gate_release_token(o, idx, token);
	mp_gate_release(o, &r.owner, 1, &h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_store *s = fz_store();
	struct mp_gate_info gi;
	struct mp_hold h[2];
	struct mp_obj o;

	if (fz_write_object("lock", data, size))
		return 0;
	if (mp_lock_open(s, "x", 0, &o) == 0) {
		fz_after_open(&o, data, size);
		mp_gate_info(&o, &gi, h, 2);
		mp_show_lock_info(&o, 0);
		mp_show_lock_info(&o, 1);
		mp_show_lock_row(&o, 0, "");
		mp_show_lock_row(&o, 1, ",");
		changes(&o, 1);
		changes(&o, 0);
		mp_obj_close(&o);
	}
	return 0;
}
