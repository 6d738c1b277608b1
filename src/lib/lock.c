/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lock.c - the lock kind; see lock.h. */
#include "config.h"

#include "lock.h"
#include "err.h"

#include <errno.h>

static int validate_lock(struct mp_obj *o)
{
	int rc = mp_gate_validate(o);

	if (!rc && (o->geom.a != MP_LOCK_MAX_SHARED || o->geom.b != MP_LOCK_MAX_SHARED)) {
		mp_errmsg_set("'%s' is corrupt: a lock has %d units, not %llu", mp_obj_path(o),
			      MP_LOCK_MAX_SHARED, (unsigned long long)o->geom.a);
		rc = -EBADMSG;
	}
	return rc;
}

const struct mp_kind mp_lock_kind = {
	.id = MP_KIND_LOCK,
	.name = "lock",
	.validate = validate_lock,
	.repair = NULL,		/* every gate mutation is a single store */
	.reset = mp_gate_reset,
};

static void init_lock(void *body, size_t size, const void *arg)
{
	mp_gate_init(body, MP_LOCK_MAX_SHARED, MP_LOCK_MAX_SHARED, MP_LOCK_WAITERS);
}

static int shm_lock_open(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	return mp_obj_open(s, &mp_lock_kind, name,
			   mp_gate_size(MP_LOCK_MAX_SHARED, MP_LOCK_WAITERS),
			   create ? init_lock : NULL, NULL, NULL, o);
}

const struct mp_lock_ops mp_shm_lock_ops = {
	.open = shm_lock_open,
};
