/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* api-gate.c - libmptools' locks and semaphores (mptools.h), on the
 * gate of mplock and mpsem (src/lib/gate.h).
 *
 * A hold is recorded with this process as its owner and remembered in the
 * handle by (index, token), so a release gives back exactly the hold this
 * handle took, and a process that dies gives back all of its holds.
 */
#include "config.h"

#include "api.h"
#include "mptools.h"
#include "lib/err.h"
#include "lib/gate.h"
#include "lib/lock.h"
#include "lib/sem.h"

#include <errno.h>
#include <stdlib.h>

struct hold {
	int idx;
	int32_t pid;		/* the process that took it */
	uint64_t token;
};

struct mpt_lock {
	struct mpt_base b;
	int held;
	struct hold h;
};

struct mpt_sem {
	struct mpt_base b;
	uint32_t slots;
	uint32_t nheld, cap;	/* holds[nheld], newest last */
	struct hold *holds;
};

static int take(struct mp_obj *o, uint32_t weight, uint32_t flags, double timeout,
		struct hold *h)
{
	struct mp_gate_req r = { .weight = weight, .flags = flags };
	int rc = mp_api_self(&r.owner);

	if (!rc)
		rc = mp_api_deadline(timeout, &r.deadline_ns, &r.nonblock);
	if (!rc)
		rc = mp_gate_acquire(o, &r, &h->token, &h->idx);
	h->pid = r.owner.pid;
	return rc;
}

/* Gives back hold h if this process took it: a child after fork has a
 * copy of the handle, not the parent's hold.  0, -ENOENT (taken back
 * meanwhile), -ENOLCK (another process's). */
static int mine(const struct hold *h)
{
	struct mp_owner self;

	return mp_api_self(&self) == 0 && self.pid == h->pid;
}

static int give_back(struct mp_obj *o, const struct hold *h)
{
	return mine(h) ? mp_gate_release_token(o, h->idx, h->token) : -ENOLCK;
}

/* ---- locks ---- */

static int open_lock(struct mpt_base *b, const void *arg)
{
	return mp_lock_open(&b->s, b->name, !(*(const unsigned *)arg & MPT_EXISTING), &b->o);
}

MPT_API int mpt_lock_open(mpt_lock **l, const char *store, const char *name, unsigned flags)
{
	return mp_api_open((void **)l, sizeof **l, store, "lock", name, open_lock, &flags);
}

MPT_API int mpt_lock_acquire(mpt_lock *l, unsigned flags, double timeout)
{
	int shared = !!(flags & MPT_SHARED);
	int rc;

	mp_api_begin();
	if (l->held && mine(&l->h)) {
		mp_errmsg_set("this handle holds it already");
		return mp_api_fail_obj(-EDEADLK, &l->b);
	}
	rc = take(&l->b.o, mp_lock_weight(shared), shared ? MP_HOLD_SHARED : 0, timeout, &l->h);
	if (rc)
		return mp_api_fail_obj(rc, &l->b);
	l->held = 1;
	return 0;
}

MPT_API int mpt_lock_release(mpt_lock *l)
{
	int rc;

	mp_api_begin();
	if (!l->held) {
		mp_errmsg_set("this handle does not hold it");
		return mp_api_fail_obj(-ENOLCK, &l->b);
	}
	l->held = 0;
	rc = give_back(&l->b.o, &l->h);
	if (rc == -ENOENT)
		mp_errmsg_set("the hold was taken back (removed, or released with --force)");
	if (rc == -ENOLCK)
		mp_errmsg_set("the hold is another process's (this handle was copied by fork)");
	return mp_api_fail_obj(rc, &l->b);
}

MPT_API int mpt_lock_run(mpt_lock *l, unsigned flags, double timeout,
			 int (*fn)(void *arg), void *arg, int *result)
{
	int rc = mpt_lock_acquire(l, flags, timeout);
	int v;

	if (rc)
		return rc;
	v = fn(arg);
	if (result)
		*result = v;
	rc = mpt_lock_release(l);
	return rc;
}

/* The gate's state (dead owners reaped first): 0 or the failure. */
static int gate_info(struct mpt_base *b, struct mp_gate_info *gi)
{
	int rc;

	mp_api_begin();
	rc = mp_gate_info(&b->o, gi, NULL, 0);
	return rc < 0 ? mp_api_fail_obj(rc, b) : 0;
}

MPT_API int mpt_lock_is_locked(mpt_lock *l)
{
	struct mp_gate_info gi;
	int rc = gate_info(&l->b, &gi);

	return rc ? rc : gi.used > 0;
}

MPT_API uint64_t mpt_lock_token(const mpt_lock *l)
{
	return l->held ? l->h.token : 0;
}

MPT_API void mpt_lock_free(mpt_lock *l)
{
	if (!l)
		return;
	if (l->held)
		give_back(&l->b.o, &l->h);
	mp_api_close(&l->b);
	free(l);
}

/* ---- semaphores ---- */

struct sem_args {
	unsigned slots, flags;
};

static int open_sem(struct mpt_base *b, const void *arg)
{
	const struct sem_args *a = arg;
	int rc;

	if (a->slots > MP_SEM_MAX_SLOTS) {
		mp_errmsg_set("%u slots: at most %u", a->slots, MP_SEM_MAX_SLOTS);
		return -EINVAL;
	}
	rc = mp_sem_open(&b->s, b->name,
			 (a->flags & MPT_EXISTING) ? 0 : (a->slots ? a->slots : MP_SEM_DEFAULT_SLOTS),
			 NULL, &b->o);
	if (!rc)
		((mpt_sem *)b)->slots = mp_sem_slots(&b->o);
	return rc;
}

MPT_API int mpt_sem_open(mpt_sem **s, const char *store, const char *name, unsigned slots,
			 unsigned flags)
{
	struct sem_args a = { slots, flags };

	return mp_api_open((void **)s, sizeof **s, store, "semaphore", name, open_sem, &a);
}

MPT_API int mpt_sem_acquire(mpt_sem *s, double timeout)
{
	struct hold h;
	int rc;

	mp_api_begin();
	if (s->nheld == s->cap) {
		uint32_t cap = s->cap ? 2 * s->cap : 4;
		struct hold *n = realloc(s->holds, cap * sizeof *n);

		if (!n)
			return mp_api_fail_obj(-ENOMEM, &s->b);
		s->holds = n;
		s->cap = cap;
	}
	rc = take(&s->b.o, 1, 0, timeout, &h);
	if (rc)
		return mp_api_fail_obj(rc, &s->b);
	s->holds[s->nheld++] = h;
	return 0;
}

MPT_API int mpt_sem_release(mpt_sem *s)
{
	struct mp_owner nobody = { 0 };
	struct mp_hold out;
	int rc;

	mp_api_begin();
	if (s->nheld) {
		struct hold h = s->holds[--s->nheld];

		rc = give_back(&s->b.o, &h);
		if (rc == -ENOENT)
			mp_errmsg_set("the slot was taken back (removed, or released with --force)");
		if (rc == -ENOLCK)
			mp_errmsg_set("the slot is another process's (this handle was copied by fork)");
		return mp_api_fail_obj(rc, &s->b);
	}
	/* nothing of ours: a slot held with no owner (create --value) */
	rc = mp_gate_release(&s->b.o, &nobody, 0, &out);
	if (rc == -EPERM || rc == -ENOLCK) {
		mp_errmsg_set("released more often than acquired (no slot of this handle "
			      "or without an owner is taken)");
		rc = -ENOLCK;
	}
	return mp_api_fail_obj(rc, &s->b);
}

MPT_API int mpt_sem_value(mpt_sem *s)
{
	struct mp_gate_info gi;
	int rc = gate_info(&s->b, &gi);

	return rc ? rc : (int)(gi.capacity - gi.used);
}

MPT_API unsigned mpt_sem_slots(const mpt_sem *s)
{
	return s->slots;
}

MPT_API void mpt_sem_free(mpt_sem *s)
{
	if (!s)
		return;
	while (s->nheld) {
		struct hold h = s->holds[--s->nheld];

		give_back(&s->b.o, &h);
	}
	free(s->holds);
	mp_api_close(&s->b);
	free(s);
}
