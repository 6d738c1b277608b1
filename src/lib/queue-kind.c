/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-kind.c - the queue kind: its geometry, the checks that make a
 * mapped queue trustworthy, the kind's hooks, opening.
 *
 * Invariant: nothing walks a queue that these checks did not pass.  The
 * geometry is validated once at open and copied to o->geom (never read
 * from the map again); the scalar state is checked at every lock
 * (queue_lock), so a corrupt object is refused with -EBADMSG, not walked.
 * A holder that died inside the mutex leaves at worst a valid journal,
 * which repair rolls forward.
 */
#include "config.h"

#include "queue-int.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>

static size_t slots_bytes(uint32_t nslots)
{
	return (size_t)nslots * sizeof(struct qslot);
}

static uint64_t ring_offset(uint32_t nslots)
{
	return (sizeof(struct mp_queue) + slots_bytes(nslots) + 63) & ~63ULL;
}

/* Worst case of n records holding b payload bytes: 8 bytes of header and
 * up to 7 of padding each. */
static uint64_t ring_for(const struct mp_queue_params *p)
{
	return (p->max_bytes + 15 * p->max_items + 7) & ~7ULL;
}

static uint32_t nslots_for(const struct mp_queue_params *p)
{
	return p->max_items < MP_QUEUE_SLOTS ? (uint32_t)p->max_items : MP_QUEUE_SLOTS;
}

/* Is the scalar state possible?  Checked at every lock: a corrupt object
 * must be refused, not walked. */
static int state_ok(struct mp_obj *o)
{
	const struct qstate *s = &Q(o)->st;

	if (s->head > s->read || s->read > s->tail || s->tail - s->head > RSIZE(o) ||
	    (s->head & 7) || (s->read & 7) || (s->tail & 7) ||
	    s->n_tail + s->n_redo + s->n_flight > MAXITEMS(o) ||
	    s->b_tail + s->b_redo + s->b_flight > MAXBYTES(o) || s->nslots_used > NSLOTS(o))
		return queue_corrupt(o, "impossible ring positions or counters");
	return 0;
}

/* Locks o and checks it is still there and sane. */
int queue_lock(struct mp_obj *o)
{
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE))
		rc = -EIDRM;
	else
		rc = state_ok(o);
	if (rc)
		mp_obj_unlock(o);
	return rc;
}

static void repair(struct mp_obj *o)
{
	struct qjournal *j = &Q(o)->jr;

	if (j->valid) {
		queue_journal_apply(o);
		BARRIER();
		__atomic_store_n(&j->valid, 0, __ATOMIC_SEQ_CST);
	}
	/* sync.c bumps seq; putters sleep on seq2. */
	__atomic_add_fetch(&o->hdr->seq2, 1, __ATOMIC_RELEASE);
}

static void reset(struct mp_obj *o)
{
	/* After a reboot nobody holds anything: roll a pending journal
	 * forward, then hand every reservation back. */
	if (Q(o)->jr.valid) {
		queue_journal_apply(o);
		Q(o)->jr.valid = 0;
	}
	if (state_ok(o) == 0)
		queue_revert_all(o);
}

static int validate(struct mp_obj *o)
{
	struct mp_queue *q = Q(o);
	struct mp_queue_params p;
	uint64_t rs, ns, off;

	if (o->body_size < sizeof(struct mp_queue))
		return queue_corrupt(o, "too small for a queue");
	rs = q->ring_size, ns = q->nslots, off = q->ring_off;
	p.max_items = q->max_items;
	p.max_bytes = q->max_bytes;
	p.max_msg = q->max_msg;
	if (p.max_items < 1 || p.max_items > MP_QUEUE_MAX_ITEMS || p.max_msg < 1 ||
	    p.max_msg > p.max_bytes || p.max_bytes > MP_QUEUE_MAX_BYTES ||
	    rs != ring_for(&p) || ns != nslots_for(&p) || off != ring_offset((uint32_t)ns) ||
	    off + rs != o->body_size)
		return queue_corrupt(o, "bad queue geometry");
	o->geom.a = rs;
	o->geom.b = p.max_bytes;
	o->geom.c = p.max_msg;
	o->geom.d = p.max_items | (ns << 32);
	return 0;
}

const struct mp_kind mp_queue_kind = {
	.id = MP_KIND_QUEUE,
	.name = "queue",
	.validate = validate,
	.repair = repair,
	.reset = reset,
};

int mp_queue_params_fix(struct mp_queue_params *p)
{
	if (!p->max_msg)
		p->max_msg = p->max_bytes && p->max_bytes < MP_QUEUE_DEF_MAX_MSG ? p->max_bytes
									   : MP_QUEUE_DEF_MAX_MSG;
	if (!p->max_bytes)
		p->max_bytes = p->max_msg > MP_QUEUE_DEF_MAX_BYTES ? p->max_msg
								    : MP_QUEUE_DEF_MAX_BYTES;
	if (!p->max_items)
		p->max_items = MP_QUEUE_DEF_MAX_ITEMS;
	if (p->max_items > MP_QUEUE_MAX_ITEMS) {
		mp_errmsg_set("--max-items %llu is more than %llu",
			      (unsigned long long)p->max_items, MP_QUEUE_MAX_ITEMS);
		return -EINVAL;
	}
	if (p->max_bytes > MP_QUEUE_MAX_BYTES) {
		mp_errmsg_set("--max-bytes %llu is more than %llu (64G)",
			      (unsigned long long)p->max_bytes, MP_QUEUE_MAX_BYTES);
		return -EINVAL;
	}
	if (p->max_msg > p->max_bytes) {
		mp_errmsg_set("--max-msg %llu is more than --max-bytes %llu",
			      (unsigned long long)p->max_msg, (unsigned long long)p->max_bytes);
		return -EINVAL;
	}
	return 0;
}

static void init_queue(void *body, size_t size, const void *arg)
{
	const struct mp_queue_params *p = arg;
	struct mp_queue *q = body;

	q->max_items = p->max_items;
	q->max_bytes = p->max_bytes;
	q->max_msg = p->max_msg;
	q->ring_size = ring_for(p);
	q->nslots = nslots_for(p);
	q->ring_off = ring_offset(q->nslots);
}

int shm_queue_open(struct mp_store *s, const char *name, int create,
		  const struct mp_queue_params *pp, int *created, struct mp_obj *o)
{
	struct mp_queue_params p = { 0, 0, 0 };
	int rc;

	if (pp)
		p = *pp;
	rc = mp_queue_params_fix(&p);
	if (rc)
		return rc;
	return mp_obj_open(s, &mp_queue_kind, name, ring_offset(nslots_for(&p)) + ring_for(&p),
			   create ? init_queue : NULL, &p, created, o);
}

void shm_queue_get_params(const struct mp_obj *o, struct mp_queue_params *p)
{
	p->max_items = MAXITEMS(o);
	p->max_bytes = MAXBYTES(o);
	p->max_msg = MAXMSG(o);
}

const struct mp_queue_ops mp_shm_queue_ops = {
	.open = shm_queue_open,
	.get_params = shm_queue_get_params,
	.put = shm_queue_put,
	.get_lease = shm_queue_get_lease,
	.ack = shm_queue_ack,
	.requeue = shm_queue_requeue,
	.done = shm_queue_done,
	.join = shm_queue_join,
	.close = shm_queue_close,
	.reopen = shm_queue_reopen,
	.info = shm_queue_info,
	.take = shm_queue_take,
	.settle = shm_queue_settle,
	.ack_owner = shm_queue_ack_owner,
};
