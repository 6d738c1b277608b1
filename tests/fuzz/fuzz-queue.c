/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-queue - arbitrary bytes as a queue object: open + validate, then
 * size/info, get -n --count 4 (reserve, write out, settle), get --lease -n and
 * ack, ack --force, put -n, done, join -n and close.  See fuzz.h. */
#include "config.h"

#include <stdlib.h>

#include "fuzz.h"
#include "lib/show.h"
#include "lib/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_store *s = fz_store();
	struct mp_queue_lease_info l[8], li;
	struct mp_queue_take_req tr = { .max_count = 4, .max_bytes = 1 << 16, .sep = '\n',
					.nonblock = 1 };
	struct mp_queue_get_req gr = { .nonblock = 1 };
	struct mp_queue_batch b = { 0 };
	struct mp_queue_params p;
	struct mp_queue_lease lease;
	struct mp_queue_info qi;
	struct iovec v = { "fuzz", 4 };
	struct mp_obj o;
	size_t len;
	char *buf;

	if (fz_write_object("queue", data, size))
		return 0;
	if (mp_queue_open(s, "x", 0, NULL, NULL, &o) != 0)
		return 0;
	fz_after_open(&o, data, size);
	mp_queue_get_params(&o, &p);
	mp_queue_info(&o, &qi, l, 8);
	if (mp_queue_take(&o, &tr, &b) > 0)
		mp_queue_settle(&o, &b, b.count, NULL, 0, NULL);
	mp_queue_batch_free(&b);
	mp_owner_of(0, &gr.owner);
	buf = malloc(p.max_msg ? p.max_msg : 1);
	if (buf && mp_queue_get_lease(&o, &gr, buf, p.max_msg, &len, &lease) == 0)
		mp_queue_ack(&o, &lease);
	free(buf);
	mp_queue_ack_owner(&o, &gr.owner, 0, 1, &li);
	mp_queue_put(&o, &v, 1, 0, 1, &len);
	mp_queue_done(&o, 1);
	mp_queue_join(&o, 0, 1);
	mp_queue_close(&o);
	mp_queue_info(&o, &qi, l, 8);
	mp_show_queue_info(&o, 0);
	mp_show_queue_info(&o, 1);
	mp_show_queue_row(&o, 0, "");
	mp_show_queue_row(&o, 1, ",");
	mp_obj_close(&o);
	return 0;
}
