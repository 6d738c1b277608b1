/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* var.c - the var kind; see var.h. */
#include "config.h"

#include "var.h"
#include "clock.h"
#include "err.h"
#include "fault.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <string.h>

static struct mp_var *V(struct mp_obj *o)
{
	return o->body;
}

/* The buffer size comes from o->geom (validated at open), never from the
 * shared body again. */
#define MAXSIZE(o)	((size_t)(o)->geom.a)

static uint8_t *buf_of(struct mp_obj *o, uint32_t i)
{
	return (uint8_t *)o->body + sizeof(struct mp_var) + (size_t)i * MAXSIZE(o);
}

static size_t body_size(uint64_t max_size)
{
	return sizeof(struct mp_var) + 2 * (size_t)max_size;
}

static int state_ok(const struct mp_var_state *s, uint64_t max)
{
	return s->cur <= 1 && s->is_set <= 1 && s->len <= max && (s->is_set || s->len == 0);
}

/* Makes the journal's state the variable's state.  Idempotent: repair()
 * runs it again after a process died inside it. */
static void apply_journal(struct mp_var *v)
{
	v->st.len = v->jr.len;
	MP_FAULT_POINT("var.apply");
	v->st.cur = v->jr.cur;
	v->st.is_set = v->jr.is_set;
	v->st.version = v->jr.version;
	v->st.set_ns = v->jr.set_ns;
	__atomic_store_n(&v->jr_valid, 0, __ATOMIC_RELEASE);
}

static int validate(struct mp_obj *o)
{
	struct mp_var *v = V(o);
	uint64_t max;

	if (o->body_size < sizeof(struct mp_var)) {
		mp_errmsg_set("'%s' is corrupt: too short for a variable", mp_obj_path(o));
		return -EBADMSG;
	}
	max = v->max_size;
	if (max == 0 || max > MP_VAR_MAX_SIZE || body_size(max) > o->body_size ||
	    !state_ok(&v->st, max) || v->jr_valid > 1 || (v->jr_valid && !state_ok(&v->jr, max))) {
		mp_errmsg_set("'%s' is corrupt: bad variable state (size limit %llu, length %llu)",
			      mp_obj_path(o), (unsigned long long)max, (unsigned long long)v->st.len);
		return -EBADMSG;
	}
	o->geom.a = max;
	return 0;
}

/* A change was cut short by the death of its process: finish it.  A
 * journal that is not valid, or not sane, is the old state's: drop it. */
static void repair(struct mp_obj *o)
{
	struct mp_var *v = V(o);

	if (v->jr_valid == 1 && state_ok(&v->jr, MAXSIZE(o)))
		apply_journal(v);
	v->jr_valid = 0;
}

/* After a reboot no process waits any more; the value stays. */
static void reset(struct mp_obj *o)
{
	repair(o);
}

const struct mp_kind mp_var_kind = {
	.id = MP_KIND_VAR,
	.name = "var",
	.validate = validate,
	.repair = repair,
	.reset = reset,
};

static void init_var(void *body, size_t size, const void *arg)
{
	struct mp_var *v = body;

	(void)size;
	v->max_size = *(const uint64_t *)arg;
}

static int shm_var_open(struct mp_store *s, const char *name, int create, uint64_t max_size,
			int *created, struct mp_obj *o)
{
	/* max_size: 1..MP_VAR_MAX_SIZE (mp_var_open checked it) */
	return mp_obj_open(s, &mp_var_kind, name, create ? body_size(max_size) : 0,
			   create ? init_var : NULL, &max_size, created, o);
}

static uint64_t shm_var_max_size(const struct mp_obj *o)
{
	return o->geom.a;
}

/* Locks o; -EIDRM if it was removed, -EBADMSG if its state is impossible
 * (unlocked again in both cases). */
static int lock_live(struct mp_obj *o)
{
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE)) {
		mp_obj_unlock(o);
		mp_errmsg_set("variable '%s' was removed", o->name);
		return -EIDRM;
	}
	if (!state_ok(&V(o)->st, MAXSIZE(o))) {
		mp_obj_unlock(o);
		mp_errmsg_set("'%s' is corrupt: bad variable state", mp_obj_path(o));
		return -EBADMSG;
	}
	return 0;
}

/* Called locked: publishes the new state through the journal, marks the
 * change and unlocks; then wakes every waiter. */
static void commit(struct mp_obj *o, uint32_t cur, uint32_t is_set, uint64_t len)
{
	struct mp_var *v = V(o);

	v->jr.cur = cur;
	v->jr.is_set = is_set;
	v->jr.len = len;
	v->jr.version = v->st.version + 1;
	v->jr.set_ns = mp_realtime_ns();
	/* From here the change is made, by us or by whoever repairs. */
	__atomic_store_n(&v->jr_valid, 1, __ATOMIC_RELEASE);
	MP_FAULT_POINT("var.commit.journal");
	apply_journal(v);
	mp_obj_changed(o);
	mp_obj_unlock(o);
	MP_FAULT_POINT("var.commit.unlocked");
	mp_obj_wake(o);
}

/* Called locked: writes data into the buffer not in use and commits it. */
static void replace(struct mp_obj *o, const void *data, size_t len)
{
	uint32_t other = V(o)->st.cur ^ 1;

	if (len)
		memcpy(buf_of(o, other), data, len);
	MP_FAULT_POINT("var.replace.copied");
	commit(o, other, 1, len);
}

static int too_big(struct mp_obj *o, size_t len)
{
	mp_errmsg_set("variable '%s': a value of %zu bytes is over its limit of %zu bytes",
		      o->name, len, MAXSIZE(o));
	return -EMSGSIZE;
}

static int shm_var_get(struct mp_obj *o, void *buf, size_t cap, size_t *len)
{
	const struct mp_var_state *st = &V(o)->st;
	int rc, set;

	if (cap < MAXSIZE(o))
		return -ENOBUFS;
	rc = lock_live(o);
	if (rc)
		return rc;
	set = st->is_set != 0;
	*len = set ? st->len : 0;
	if (*len)
		memcpy(buf, buf_of(o, st->cur), *len);
	mp_obj_unlock(o);
	return set;
}

static int shm_var_set(struct mp_obj *o, const void *v, size_t len, int nx)
{
	int rc;

	if (len > MAXSIZE(o))
		return too_big(o, len);
	rc = lock_live(o);
	if (rc)
		return rc;
	if (nx && V(o)->st.is_set) {
		mp_obj_unlock(o);
		return 1;
	}
	replace(o, v, len);
	return 0;
}

static int shm_var_unset(struct mp_obj *o)
{
	int rc = lock_live(o);

	if (rc)
		return rc;
	if (!V(o)->st.is_set) {
		mp_obj_unlock(o);
		return 1;
	}
	commit(o, V(o)->st.cur, 0, 0);
	return 0;
}

int mp_var_parse_int(const void *v, size_t len, int64_t *out)
{
	const unsigned char *p = v, *end = p + len;
	uint64_t n = 0, lim;
	int neg = 0;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == end || end - p > 19)
		return -EDOM;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -EDOM;
		n = n * 10 + (uint64_t)(*p - '0');	/* 19 digits fit in 64 bits */
	}
	if (n > lim)
		return -EDOM;
	*out = neg ? (int64_t)(0 - n) : (int64_t)n;
	return 0;
}

size_t mp_var_format_int(int64_t n, char *buf)
{
	char tmp[24];
	uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	size_t k = 0, len = 0;

	do
		tmp[k++] = (char)('0' + u % 10);
	while ((u /= 10));
	if (n < 0)
		buf[len++] = '-';
	while (k)
		buf[len++] = tmp[--k];
	buf[len] = 0;
	return len;
}

static int shm_var_add(struct mp_obj *o, int64_t delta, const int64_t *init, int64_t *result)
{
	const struct mp_var_state *st = &V(o)->st;
	int64_t base = init ? *init : 0, sum;
	char text[24];
	size_t len;
	int rc = lock_live(o);

	if (rc)
		return rc;
	if (st->is_set && mp_var_parse_int(buf_of(o, st->cur), st->len, &base)) {
		mp_obj_unlock(o);
		mp_errmsg_set("variable '%s' does not hold an integer", o->name);
		return -EDOM;
	}
	if (__builtin_add_overflow(base, delta, &sum)) {
		mp_obj_unlock(o);
		mp_errmsg_set("variable '%s': %lld %c %llu does not fit in 64 bits", o->name,
			      (long long)base, delta < 0 ? '-' : '+',
			      delta < 0 ? 0 - (unsigned long long)delta : (unsigned long long)delta);
		return -EOVERFLOW;
	}
	len = mp_var_format_int(sum, text);
	if (len > MAXSIZE(o)) {
		mp_obj_unlock(o);
		return too_big(o, len);
	}
	replace(o, text, len);
	*result = sum;
	return 0;
}

static int shm_var_cas(struct mp_obj *o, const void *old, size_t oldlen, const void *nv,
		       size_t newlen, void *cur, size_t cap, size_t *curlen, int *curset)
{
	const struct mp_var_state *st = &V(o)->st;
	int rc;

	if (newlen > MAXSIZE(o))
		return too_big(o, newlen);
	if (cap < MAXSIZE(o))
		return -ENOBUFS;
	rc = lock_live(o);
	if (rc)
		return rc;
	if (st->is_set && st->len == oldlen && !memcmp(buf_of(o, st->cur), old, oldlen)) {
		replace(o, nv, newlen);
		return 0;
	}
	*curset = st->is_set != 0;
	*curlen = st->len;
	if (st->len)
		memcpy(cur, buf_of(o, st->cur), st->len);
	mp_obj_unlock(o);
	return 1;
}

int mp_var_cond_holds(const struct mp_var_cond *c, int is_set, const void *v, size_t len)
{
	int64_t n;

	switch (c->op) {
	case MP_VAR_SET:
		return is_set;
	case MP_VAR_UNSET:
		return !is_set;
	case MP_VAR_EQ:
		return is_set && len == c->len && !memcmp(v, c->v, len);
	case MP_VAR_NE:
		return !is_set || len != c->len || memcmp(v, c->v, len);
	default:
		break;
	}
	if (!is_set || mp_var_parse_int(v, len, &n))
		return 0;
	switch (c->op) {
	case MP_VAR_GE:
		return n >= c->n;
	case MP_VAR_GT:
		return n > c->n;
	case MP_VAR_LE:
		return n <= c->n;
	case MP_VAR_LT:
		return n < c->n;
	default:
		return 0;
	}
}

/* Called locked. */
static int holds(struct mp_obj *o, const struct mp_var_cond *c)
{
	const struct mp_var_state *st = &V(o)->st;

	return mp_var_cond_holds(c, st->is_set != 0, buf_of(o, st->cur), st->len);
}

static int shm_var_wait(struct mp_obj *o, const struct mp_var_cond *c, int64_t deadline_ns,
			int nonblock)
{
	int rc, slice_over;

	rc = lock_live(o);
	if (rc)
		return rc;
	for (;;) {
		if (holds(o, c))
			break;
		if (nonblock) {
			rc = -EAGAIN;
			break;
		}
		if (mp_signal_pending) {
			rc = -EINTR;
			break;
		}
		MP_FAULT_POINT("var.wait.sleep");
		rc = mp_obj_wait(o, &o->hdr->seq, &o->hdr->nwait, deadline_ns, MP_VAR_CHECK_NS,
				 &slice_over);
		if (rc != -EBADMSG && __atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE)) {
			mp_errmsg_set("variable '%s' was removed", o->name);
			rc = -EIDRM;
			break;
		}
		/* a change that came with the deadline still counts */
		if (rc == -ETIMEDOUT && state_ok(&V(o)->st, MAXSIZE(o)) && holds(o, c))
			rc = 0;
		if (rc)
			break;
		if (!state_ok(&V(o)->st, MAXSIZE(o))) {
			mp_errmsg_set("'%s' is corrupt: bad variable state", mp_obj_path(o));
			rc = -EBADMSG;
			break;
		}
	}
	mp_obj_unlock(o);
	return rc;
}

static int shm_var_info(struct mp_obj *o, struct mp_var_info *vi, void *buf, size_t cap)
{
	struct mp_var *v = V(o);
	int rc;

	if (buf && cap < MAXSIZE(o))
		return -ENOBUFS;
	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	if (!state_ok(&v->st, MAXSIZE(o))) {
		mp_obj_unlock(o);
		mp_errmsg_set("'%s' is corrupt: bad variable state", mp_obj_path(o));
		return -EBADMSG;
	}
	memset(vi, 0, sizeof *vi);
	vi->st = v->st;
	vi->max_size = MAXSIZE(o);
	/* the sleepers, not the hint: a waiter killed asleep stays in that */
	{
		int n = mp_futex_sleepers(&o->hdr->seq);
		vi->nwaiting = n >= 0 ? (uint32_t)n : o->hdr->nwait;
	}
	vi->generation = o->hdr->generation;
	vi->created_ns = o->hdr->created_ns;
	if (buf && v->st.len)
		memcpy(buf, buf_of(o, v->st.cur), v->st.len);
	mp_obj_unlock(o);
	return vi->st.is_set != 0;
}

const struct mp_var_ops mp_shm_var_ops = {
	.open = shm_var_open,
	.max_size = shm_var_max_size,
	.get = shm_var_get,
	.set = shm_var_set,
	.unset = shm_var_unset,
	.add = shm_var_add,
	.cas = shm_var_cas,
	.wait = shm_var_wait,
	.info = shm_var_info,
};
