/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-var - arbitrary bytes as a variable object: open + validate, then
 * get, info, the waits that do not sleep (every condition, -n), and the
 * changes: set, setnx, incr (from 0 and from an --init), cas and unset.
 * See fuzz.h. */
#include "config.h"

#include <stdlib.h>

#include "fuzz.h"
#include "lib/show.h"
#include "lib/var.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mp_var_cond conds[] = {
		{ MP_VAR_EQ, "1", 1, 0 }, { MP_VAR_NE, "", 0, 0 }, { MP_VAR_GE, NULL, 0, 1 },
		{ MP_VAR_GT, NULL, 0, -5 }, { MP_VAR_LE, NULL, 0, 7 }, { MP_VAR_LT, NULL, 0, 0 },
		{ MP_VAR_SET, NULL, 0, 0 }, { MP_VAR_UNSET, NULL, 0, 0 },
	};
	struct mp_store *s = fz_store();
	struct mp_var_info vi;
	struct mp_obj o;
	int64_t r, init = 41;
	size_t len, cap;
	int set;
	char *buf;

	if (fz_write_object("var", data, size))
		return 0;
	if (mp_var_open(s, "x", 0, 0, NULL, &o) != 0)
		return 0;
	fz_after_open(&o, data, size);
	cap = (size_t)mp_var_max_size(&o);
	buf = malloc(cap);
	if (!buf) {
		mp_obj_close(&o);
		return 0;
	}
	mp_var_get(&o, buf, cap, &len);
	mp_var_info(&o, &vi, buf, cap);
	mp_show_var_info(&o, 0);
	mp_show_var_info(&o, 1);
	mp_show_var_row(&o, 0, "");
	mp_show_var_row(&o, 1, ",");
	for (size_t i = 0; i < sizeof conds / sizeof *conds; i++)
		mp_var_wait(&o, &conds[i], 0, 1);
	mp_var_add(&o, 1, NULL, &r);
	mp_var_cas(&o, "1", 1, "22", 2, buf, cap, &len, &set);
	mp_var_set(&o, "abc", 3, 1);
	mp_var_unset(&o);
	mp_var_add(&o, -3, &init, &r);
	mp_var_set(&o, "value", 5, 0);
	mp_var_set(&o, buf, cap + 1, 0);
	if (mp_var_get(&o, buf, cap, &len) > 0)
		mp_show_var_json_value(1, buf, len);
	mp_show_var_info(&o, 1);
	free(buf);
	mp_obj_close(&o);
	return 0;
}
