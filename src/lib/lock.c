/* lock.c - the lock kind; see lock.h. */
#include "config.h"

#include "lock.h"

const struct mp_kind mp_lock_kind = {
	.id = MP_KIND_LOCK,
	.name = "lock",
	.validate = mp_gate_validate,
	.repair = NULL,		/* every gate mutation is a single store */
	.reset = mp_gate_reset,
};

static void init_lock(void *body, size_t size, const void *arg)
{
	mp_gate_init(body, MP_LOCK_MAX_SHARED, MP_LOCK_MAX_SHARED, MP_LOCK_WAITERS);
}

int mp_lock_open(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	return mp_obj_open(s, &mp_lock_kind, name,
			   mp_gate_size(MP_LOCK_MAX_SHARED, MP_LOCK_WAITERS),
			   create ? init_lock : NULL, NULL, NULL, o);
}
