/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-event - arbitrary bytes as an event object: open + validate, then
 * is-set, info, wait -n (set, --cleared, --next), set and clear.  See
 * fuzz.h. */
#include "config.h"

#include "fuzz.h"
#include "lib/show.h"
#include "lib/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned waits[] = { 0, MP_EVENT_CLEARED, MP_EVENT_NEXT,
					  MP_EVENT_NEXT | MP_EVENT_CLEARED };
	struct mp_store *s = fz_store();
	struct mp_event_waiter w[8];
	struct mp_event_info ei;
	struct mp_obj o;
	int fired, n;

	if (fz_write_object("event", data, size))
		return 0;
	if (mp_event_open(s, "x", 0, &o) != 0)
		return 0;
	fz_after_open(&o, data, size);
	mp_event_is_set(&o);
	n = mp_event_info(&o, &ei, w, 8);
	for (int i = 0; i < n && i < 8; i++)
		(void)mp_event_wait_name(w[i].flags);
	for (size_t i = 0; i < sizeof waits / sizeof *waits; i++)
		mp_event_wait(&o, 1, waits[i], 0, 1, &fired);
	mp_event_set(&o);
	mp_event_clear(&o);
	mp_event_info(&o, &ei, w, 8);
	mp_show_event_info(&o, 0);
	mp_show_event_info(&o, 1);
	mp_show_event_row(&o, 0, "");
	mp_show_event_row(&o, 1, ",");
	mp_obj_close(&o);
	return 0;
}
