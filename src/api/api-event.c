/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* api-event.c - libmptools' events and shared values (mptools.h), the
 * objects of mpevent and mpvar (src/lib/event.h, src/lib/var.h). */
#include "config.h"

#include "api.h"
#include "mptools.h"
#include "lib/event.h"
#include "lib/var.h"

#include <errno.h>
#include <stdlib.h>

/* ---- events ---- */

struct mpt_event {
	struct mpt_base b;
};

static int open_event(struct mpt_base *b, const void *arg)
{
	return mp_event_open(&b->s, b->name, !(*(const unsigned *)arg & MPT_EXISTING), &b->o);
}

MPT_API int mpt_event_open(mpt_event **e, const char *store, const char *name, unsigned flags)
{
	return mp_api_open((void **)e, sizeof **e, store, "event", name, open_event, &flags);
}

MPT_API int mpt_event_set(mpt_event *e)
{
	mp_api_begin();
	return mp_api_fail_obj(mp_event_set(&e->b.o), &e->b);
}

MPT_API int mpt_event_clear(mpt_event *e)
{
	mp_api_begin();
	return mp_api_fail_obj(mp_event_clear(&e->b.o), &e->b);
}

MPT_API int mpt_event_is_set(mpt_event *e)
{
	mp_api_begin();
	return mp_api_fail_obj(mp_event_is_set(&e->b.o), &e->b);
}

MPT_API int mpt_event_wait(mpt_event *e, double timeout)
{
	int64_t deadline;
	int nonblock, fired;
	int rc;

	mp_api_begin();
	rc = mp_api_deadline(timeout, &deadline, &nonblock);
	if (!rc)
		rc = mp_event_wait(&e->b.o, 1, 0, deadline, nonblock, &fired);
	return mp_api_fail_obj(rc, &e->b);
}

MPT_API void mpt_event_free(mpt_event *e)
{
	if (!e)
		return;
	mp_api_close(&e->b);
	free(e);
}

/* ---- shared values ---- */

struct mpt_var {
	struct mpt_base b;
};

struct var_args {
	uint64_t max_size;
	unsigned flags;
};

static int open_var(struct mpt_base *b, const void *arg)
{
	const struct var_args *a = arg;

	return mp_var_open(&b->s, b->name, !(a->flags & MPT_EXISTING), a->max_size, NULL, &b->o);
}

MPT_API int mpt_var_open(mpt_var **v, const char *store, const char *name, uint64_t max_size,
			 unsigned flags)
{
	struct var_args a = { max_size, flags };

	return mp_api_open((void **)v, sizeof **v, store, "variable", name, open_var, &a);
}

MPT_API uint64_t mpt_var_max_size(const mpt_var *v)
{
	return mp_var_max_size(&v->b.o);
}

MPT_API int mpt_var_get(mpt_var *v, void *buf, size_t cap, size_t *len)
{
	mp_api_begin();
	return mp_api_fail_obj(mp_var_get(&v->b.o, buf, cap, len), &v->b);
}

MPT_API int mpt_var_set(mpt_var *v, const void *val, size_t len)
{
	mp_api_begin();
	return mp_api_fail_obj(mp_var_set(&v->b.o, val, len, 0), &v->b);
}

MPT_API int mpt_var_unset(mpt_var *v)
{
	int rc;

	mp_api_begin();
	rc = mp_var_unset(&v->b.o);
	/* 1: it was unset already, which is no failure */
	return rc > 0 ? 0 : mp_api_fail_obj(rc, &v->b);
}

MPT_API int mpt_var_add(mpt_var *v, int64_t delta, int64_t *result)
{
	int64_t r;

	mp_api_begin();
	return mp_api_fail_obj(mp_var_add(&v->b.o, delta, NULL, result ? result : &r), &v->b);
}

MPT_API int mpt_var_wait(mpt_var *v, enum mpt_var_op op, const void *val, size_t len,
			 int64_t n, double timeout)
{
	static const enum mp_var_op ops[] = {
		[MPT_VAR_EQ] = MP_VAR_EQ, [MPT_VAR_NE] = MP_VAR_NE,
		[MPT_VAR_GE] = MP_VAR_GE, [MPT_VAR_GT] = MP_VAR_GT,
		[MPT_VAR_LE] = MP_VAR_LE, [MPT_VAR_LT] = MP_VAR_LT,
		[MPT_VAR_SET] = MP_VAR_SET, [MPT_VAR_UNSET] = MP_VAR_UNSET,
	};
	struct mp_var_cond c = { .v = val, .len = len, .n = n };
	int64_t deadline;
	int nonblock;
	int rc;

	mp_api_begin();
	if ((unsigned)op >= sizeof ops / sizeof *ops)
		return mp_api_fail_obj(-EINVAL, &v->b);
	c.op = ops[op];
	rc = mp_api_deadline(timeout, &deadline, &nonblock);
	if (!rc)
		rc = mp_var_wait(&v->b.o, &c, deadline, nonblock);
	return mp_api_fail_obj(rc, &v->b);
}

MPT_API void mpt_var_free(mpt_var *v)
{
	if (!v)
		return;
	mp_api_close(&v->b);
	free(v);
}
