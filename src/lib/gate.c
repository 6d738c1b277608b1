/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gate.c - weighted FIFO gate with owned holds; see gate.h. */
#include "config.h"

#include "clock.h"
#include "err.h"
#include "fault.h"
#include "gate.h"
#include "lease.h"
#include "obj.h"

#include <errno.h>
#include <string.h>

static struct mp_gate *G(struct mp_obj *o)
{
	return o->body;
}

/* The table sizes come from o->geom (validated at open), never from the
 * shared header again: another process could change those words. */
static struct mp_hold *holds_of(struct mp_obj *o)
{
	return (struct mp_hold *)((char *)o->body + sizeof(struct mp_gate));
}

static struct mp_waiter *waiters_of(struct mp_obj *o)
{
	return (struct mp_waiter *)(holds_of(o) + o->geom.b);
}

#define CAPACITY(o)	((uint32_t)(o)->geom.a)
#define NHOLDS(o)	((uint32_t)(o)->geom.b)
#define NWAITERS(o)	((uint32_t)(o)->geom.c)

size_t mp_gate_size(uint32_t nholds, uint32_t nwaiters)
{
	return sizeof(struct mp_gate) + (size_t)nholds * sizeof(struct mp_hold) +
	       (size_t)nwaiters * sizeof(struct mp_waiter);
}

void mp_gate_init(void *body, uint32_t capacity, uint32_t nholds, uint32_t nwaiters)
{
	struct mp_gate *g = body;

	g->capacity = capacity;
	g->nholds = nholds;
	g->nwaiters = nwaiters;
}

void mp_gate_init_held(void *body, uint32_t n)
{
	struct mp_gate *g = body;
	struct mp_hold *h = (struct mp_hold *)((char *)body + sizeof(struct mp_gate));
	int64_t now = mp_realtime_ns();

	for (uint32_t i = 0; i < n && i < g->capacity && i < g->nholds; i++) {
		h[i].token = ++g->last_token;
		h[i].since_ns = now;
		h[i].weight = 1;
	}
}

int mp_gate_validate(struct mp_obj *o)
{
	struct mp_gate *g = G(o);
	uint32_t cap, nh, nw;

	if (o->body_size < sizeof(struct mp_gate)) {
		mp_errmsg_set("'%s' is corrupt: too short for a lock or semaphore", mp_obj_path(o));
		return -EBADMSG;
	}
	cap = g->capacity, nh = g->nholds, nw = g->nwaiters;
	if (cap == 0 || cap > (1u << 20) || nh == 0 || nw == 0 ||
	    nh > (1u << 20) || nw > (1u << 20) || mp_gate_size(nh, nw) > o->body_size) {
		mp_errmsg_set("'%s' is corrupt: bad table sizes (capacity %u, %u holds, %u waiters)",
			      mp_obj_path(o), cap, nh, nw);
		return -EBADMSG;
	}
	o->geom.a = cap;
	o->geom.b = nh;
	o->geom.c = nw;
	return 0;
}

void mp_gate_reset(struct mp_obj *o)
{
	memset(holds_of(o), 0, NHOLDS(o) * sizeof(struct mp_hold));
	memset(waiters_of(o), 0, NWAITERS(o) * sizeof(struct mp_waiter));
}

static uint64_t used_units(struct mp_obj *o)
{
	struct mp_hold *h = holds_of(o);
	uint64_t used = 0;

	for (uint32_t i = 0; i < NHOLDS(o); i++)
		used += h[i].weight;
	return used;
}

static void free_hold(struct mp_obj *o, struct mp_hold *h)
{
	__atomic_store_n(&h->weight, 0, __ATOMIC_RELEASE);
	(void)o;
}

/* Frees expired holds and, when `deep`, the holds and queue entries of
 * dead processes.  Returns how many entries it freed.  Called locked. */
static int reap(struct mp_obj *o, int deep, int64_t *next_expiry)
{
	struct mp_hold *h = holds_of(o);
	struct mp_waiter *w = waiters_of(o);
	int64_t now = 0;	/* read when a hold has a TTL */
	int n = 0;

	if (next_expiry)
		*next_expiry = 0;
	for (uint32_t i = 0; i < NHOLDS(o); i++) {
		if (!h[i].weight)
			continue;
		if (h[i].expires_ns && !now)
			now = mp_shared_ns();
		int dead = h[i].expires_ns && now >= h[i].expires_ns;
		if (!dead && deep && h[i].owner.pid && !mp_owner_alive(&h[i].owner) &&
		    (!h[i].helper.pid || !mp_owner_alive(&h[i].helper)))
			dead = 1;
		if (dead) {
			free_hold(o, &h[i]);
			MP_FAULT_POINT("gate.reap.hold");
			G(o)->reaped++;
			n++;
		} else if (next_expiry && h[i].expires_ns &&
			   (!*next_expiry || h[i].expires_ns < *next_expiry)) {
			*next_expiry = h[i].expires_ns;
		}
	}
	if (deep) {
		for (uint32_t i = 0; i < NWAITERS(o); i++) {
			if (w[i].ticket && !mp_owner_alive(&w[i].who)) {
				__atomic_store_n(&w[i].ticket, 0, __ATOMIC_RELEASE);
				MP_FAULT_POINT("gate.reap.waiter");
				n++;
			}
		}
	}
	return n;
}

/* Is there a queued waiter other than `self` with a ticket below `ticket`
 * (ticket 0: any queued waiter at all)? */
static int someone_ahead(struct mp_obj *o, int self, uint64_t ticket)
{
	struct mp_waiter *w = waiters_of(o);

	for (uint32_t i = 0; i < NWAITERS(o); i++) {
		if ((int)i == self || !w[i].ticket)
			continue;
		if (!ticket || w[i].ticket < ticket)
			return 1;
	}
	return 0;
}

/* The queue's head (the live waiter with the lowest ticket other than
 * `self`) would go now but does not: when it is stopped or dead, drops it
 * and looks at the next.  One /proc read per waiter looked at; called
 * when the units are there and someone_ahead() says to wait.  Returns 1
 * if it dropped any. */
static int drop_stuck_head(struct mp_obj *o, int self, uint64_t ticket)
{
	struct mp_waiter *w = waiters_of(o);
	int dropped = 0;

	for (;;) {
		int head = -1;

		for (uint32_t i = 0; i < NWAITERS(o); i++) {
			if ((int)i == self || !w[i].ticket || (ticket && w[i].ticket >= ticket))
				continue;
			if (head < 0 || w[i].ticket < w[head].ticket)
				head = (int)i;
		}
		if (head < 0 || mp_owner_waiting(&w[head].who))
			return dropped;
		__atomic_store_n(&w[head].ticket, 0, __ATOMIC_RELEASE);
		MP_FAULT_POINT("gate.reap.waiter");
		dropped = 1;
	}
}

static int enqueue(struct mp_obj *o, const struct mp_gate_req *r, const struct mp_owner *self)
{
	struct mp_waiter *w = waiters_of(o);

	for (uint32_t i = 0; i < NWAITERS(o); i++) {
		if (w[i].ticket)
			continue;
		memset(&w[i], 0, sizeof w[i]);
		w[i].weight = r->weight;
		MP_FAULT_POINT("gate.enqueue");
		w[i].flags = r->flags;
		w[i].since_ns = mp_realtime_ns();
		w[i].who = *self;
		/* a waiter some process may not see is kept by a lease too: it
		 * renews it itself, every time it wakes (see below) */
		if (mp_owner_needs_lease(self))
			w[i].who.lease_ns = mp_shared_ns() + mp_lease_length(o);
		__atomic_store_n(&w[i].ticket, ++G(o)->last_ticket, __ATOMIC_RELEASE);
		return (int)i;
	}
	/* Table full: wait unqueued until an entry frees (fairness is lost
	 * only beyond NWAITERS simultaneous waiters). */
	return -1;
}

static int take(struct mp_obj *o, const struct mp_gate_req *r, uint64_t *token)
{
	struct mp_hold *h = holds_of(o);

	for (uint32_t i = 0; i < NHOLDS(o); i++) {
		if (h[i].weight)
			continue;
		h[i].flags = r->flags;
		h[i].token = *token = ++G(o)->last_token;
		h[i].since_ns = mp_realtime_ns();
		h[i].expires_ns = r->ttl_ns > 0 ? mp_shared_ns() + r->ttl_ns : 0;
		MP_FAULT_POINT("gate.take.fields");
		h[i].owner = r->owner;
		if (r->owner.lease_ns)	/* from now: the wait may have been long */
			h[i].owner.lease_ns = mp_shared_ns() + mp_lease_length(o);
		h[i].helper = r->helper;
		/* publish last: a process killed before this line took nothing */
		__atomic_store_n(&h[i].weight, r->weight, __ATOMIC_RELEASE);
		MP_FAULT_POINT("gate.take.published");
		return (int)i;
	}
	return -1;
}

/* Units held by who. */
static uint64_t held_by(struct mp_obj *o, const struct mp_owner *who)
{
	struct mp_hold *h = holds_of(o);
	uint64_t n = 0;

	for (uint32_t i = 0; i < NHOLDS(o); i++)
		if (h[i].weight && mp_owner_same(&h[i].owner, who))
			n += h[i].weight;
	return n;
}

/* Would waiting never end?  It would when the owner asking (or the waiting
 * process itself, which a shell may have exec'd in its own place) already
 * holds so much that the request can never fit beside it: an exclusive
 * lock asked for again, or upgraded from shared; every slot of a
 * semaphore plus one. */
static int sure_deadlock(struct mp_obj *o, const struct mp_gate_req *r, const struct mp_owner *self)
{
	if (r->owner.pid && held_by(o, &r->owner) + r->weight > CAPACITY(o))
		return 1;
	return self->pid && held_by(o, self) + r->weight > CAPACITY(o);
}

/* The one hold this process keeps the lease of (lease.h) */
static struct kept {
	struct mp_obj obj;	/* a copy: the caller's may be closed first */
	int idx;
	uint64_t token;
} kept;

static int kept_renew(void *ctx, int64_t lease_ns)
{
	struct kept *k = ctx;
	int rc = mp_shm_gate_renew(&k->obj, k->idx, k->token, mp_shared_ns() + lease_ns);

	return rc == 0 ? 1 : rc == -ENOENT || rc == -EBADMSG ? 0 : -1;
}

static void kept_drop(void *ctx)
{
	struct kept *k = ctx;

	mp_gate_release_token(&k->obj, k->idx, k->token);
}

static const struct mp_lease_ops kept_ops = { kept_renew, kept_drop };

static void keep_lease(struct mp_obj *o, int idx, uint64_t token, const struct mp_owner *owner)
{
	if (mp_lease_renewing())
		return;	/* one hold at a time: the thread uses kept */
	kept.obj = *o;
	kept.idx = idx;
	kept.token = token;
	mp_lease_keep(&kept_ops, &kept, token, mp_lease_length(o), owner);
}

static int shm_gate_acquire(struct mp_obj *o, const struct mp_gate_req *req, uint64_t *token, int *idx)
{
	struct mp_gate_req leased = *req, *r = &leased;
	struct mp_waiter *w = waiters_of(o);
	struct mp_owner self;
	int me = -1, deep = 1, changed = 0, self_known = 0, rc, slice_over;
	uint64_t my_ticket = 0;
	int64_t next_exp, slice;

	if (r->weight == 0 || r->weight > CAPACITY(o))
		return -EINVAL;
	/* an owner some process may not see is kept by a lease (lease.c) */
	if (mp_owner_needs_lease(&r->owner))
		r->owner.lease_ns = mp_shared_ns() + mp_lease_length(o);
	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	for (;;) {
		if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE)) {
			rc = -EIDRM;
			break;
		}
		if (reap(o, deep, &next_exp))
			changed = 1;
		/* dropped from the queue while stopped: queue again */
		if (me >= 0 && w[me].ticket != my_ticket)
			me = -1;
		if (used_units(o) + r->weight <= CAPACITY(o)) {
			uint64_t mine = me >= 0 ? my_ticket : 0;

			if (someone_ahead(o, me, mine) && drop_stuck_head(o, me, mine))
				changed = 1;
			if (!someone_ahead(o, me, mine)) {
				*idx = take(o, r, token);
				if (*idx >= 0) {
					changed = 1;
					rc = 0;
					break;
				}
			}
		}
		/* Cannot go now.  Only here is our own identity needed: the
		 * fast path reads no /proc file for it. */
		if (!self_known) {
			if (mp_owner_of(0, &self))
				memset(&self, 0, sizeof self);
			self_known = 1;
		}
		if (sure_deadlock(o, r, &self)) {
			rc = -EDEADLK;
			break;
		}
		if (r->nonblock) {
			rc = -EAGAIN;
			break;
		}
		if (me < 0) {
			me = enqueue(o, r, &self);
			my_ticket = me >= 0 ? w[me].ticket : 0;
		}
		slice = MP_REAP_SLICE_NS;
		if (next_exp) {
			int64_t left = next_exp - mp_shared_ns();
			if (left < slice)
				slice = left > 0 ? left : 1;
		}
		rc = mp_obj_wait(o, &o->hdr->seq, &o->hdr->nwait, r->deadline_ns, slice, &slice_over);
		if (rc)
			break;
		deep = slice_over;
		if (me >= 0 && w[me].ticket == my_ticket && w[me].who.lease_ns)
			w[me].who.lease_ns = mp_shared_ns() + mp_lease_length(o);
	}
	MP_FAULT_POINT("gate.acquire.dequeue");
	if (me >= 0 && w[me].ticket == my_ticket) {
		__atomic_store_n(&w[me].ticket, 0, __ATOMIC_RELEASE);
		changed = 1;	/* the next in line may go now */
	}
	if (changed)
		mp_obj_changed(o);
	mp_obj_unlock(o);
	MP_FAULT_POINT("gate.acquire.unlocked");
	if (changed)
		mp_obj_wake(o);
	if (rc == 0 && r->owner.lease_ns)
		keep_lease(o, *idx, *token, &r->owner);
	return rc;
}

static int shm_gate_set_helper(struct mp_obj *o, int idx, uint64_t token, const struct mp_owner *helper)
{
	struct mp_hold *h = holds_of(o);
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	MP_FAULT_POINT("gate.set_helper");
	if (idx >= 0 && (uint32_t)idx < NHOLDS(o) && h[idx].weight && h[idx].token == token) {
		h[idx].helper = *helper;
		h[idx].helper.lease_ns = h[idx].owner.lease_ns;
		if (h[idx].owner.lease_ns)
			mp_lease_helper(token, helper->pid);
	} else
		rc = -ENOENT;
	mp_obj_unlock(o);
	return rc;
}

static int shm_gate_release_token(struct mp_obj *o, int idx, uint64_t token)
{
	struct mp_hold *h = holds_of(o);
	int rc;

	mp_lease_stop(token);
	rc = mp_obj_lock(o);

	if (rc)
		return rc;
	if (idx >= 0 && (uint32_t)idx < NHOLDS(o) && h[idx].weight && h[idx].token == token) {
		free_hold(o, &h[idx]);
		MP_FAULT_POINT("gate.release.freed");
		mp_obj_changed(o);
	} else {
		rc = -ENOENT;	/* taken back already (TTL, or thought dead) */
	}
	mp_obj_unlock(o);
	mp_obj_wake(o);
	return rc;
}

static int shm_gate_release(struct mp_obj *o, const struct mp_owner *who, int force, struct mp_hold *out)
{
	struct mp_hold *h = holds_of(o);
	int found = -1, anyheld = 0, rc;

	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	reap(o, 1, NULL);
	for (uint32_t i = 0; i < NHOLDS(o); i++) {
		if (!h[i].weight)
			continue;
		anyheld = 1;
		if (who && mp_owner_same(&h[i].owner, who)) {
			found = (int)i;
			break;
		}
	}
	/* An ownerless hold belongs to nobody: anyone may release it. */
	for (uint32_t i = 0; found < 0 && i < NHOLDS(o); i++)
		if (h[i].weight && h[i].owner.pid == 0)
			found = (int)i;
	for (uint32_t i = 0; found < 0 && force && i < NHOLDS(o); i++)
		if (h[i].weight && (found < 0 || h[i].token < h[found].token))
			found = (int)i;
	if (found >= 0) {
		if (out)
			*out = h[found];
		free_hold(o, &h[found]);
		MP_FAULT_POINT("gate.release.freed");
		mp_obj_changed(o);
		rc = 0;
	} else {
		rc = anyheld ? -EPERM : -ENOLCK;
	}
	mp_obj_unlock(o);
	MP_FAULT_POINT("gate.release.unlocked");
	mp_obj_wake(o);
	return rc;
}

static int shm_gate_drain(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	int rc, deep = 1, slice_over;
	int64_t next_exp, slice;

	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	for (;;) {
		if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE)) {
			rc = -EIDRM;
			break;
		}
		if (reap(o, deep, &next_exp))
			mp_obj_changed(o);
		if (used_units(o) == 0) {
			rc = 0;
			break;
		}
		if (nonblock) {
			rc = -EAGAIN;
			break;
		}
		slice = MP_REAP_SLICE_NS;
		if (next_exp && next_exp - mp_shared_ns() < slice)
			slice = next_exp - mp_shared_ns() > 0 ? next_exp - mp_shared_ns() : 1;
		rc = mp_obj_wait(o, &o->hdr->seq, &o->hdr->nwait, deadline_ns, slice, &slice_over);
		if (rc)
			break;
		deep = slice_over;
	}
	mp_obj_unlock(o);
	mp_obj_wake(o);
	return rc;
}

static int shm_gate_info(struct mp_obj *o, struct mp_gate_info *gi, struct mp_hold *out, int max)
{
	struct mp_hold *h = holds_of(o);
	struct mp_waiter *w = waiters_of(o);
	int n = 0, rc;

	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	if (reap(o, 1, NULL))
		mp_obj_changed(o);
	memset(gi, 0, sizeof *gi);
	gi->capacity = CAPACITY(o);
	for (uint32_t i = 0; i < NHOLDS(o); i++) {
		if (!h[i].weight)
			continue;
		gi->used += h[i].weight;
		if (n < max)
			out[n] = h[i];
		n++;
	}
	for (uint32_t i = 0; i < NWAITERS(o); i++)
		if (w[i].ticket)
			gi->nwaiting++;
	/* Beyond the table's entries, waiters wait unqueued, uncounted */
	gi->nwaiting_more = gi->nwaiting == NWAITERS(o);
	gi->nholds_live = (uint32_t)n;
	gi->last_token = G(o)->last_token;
	gi->reaped = G(o)->reaped;
	gi->generation = o->hdr->generation;
	gi->created_ns = o->hdr->created_ns;
	gi->changed_ns = o->hdr->changed_ns;
	mp_obj_unlock(o);
	mp_obj_wake(o);
	return n;
}

int mp_shm_gate_renew(struct mp_obj *o, int idx, uint64_t token, int64_t until_ns)
{
	struct mp_hold *h = holds_of(o);
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	if (idx >= 0 && (uint32_t)idx < NHOLDS(o) && h[idx].weight && h[idx].token == token) {
		/* never shortened: a late renewal must not undo a newer one */
		if (until_ns > h[idx].owner.lease_ns)
			h[idx].owner.lease_ns = until_ns;
		if (h[idx].helper.pid && until_ns > h[idx].helper.lease_ns)
			h[idx].helper.lease_ns = until_ns;
	} else {
		rc = -ENOENT;
	}
	mp_obj_unlock(o);
	return rc;
}

const struct mp_gate_ops mp_shm_gate_ops = {
	.acquire = shm_gate_acquire,
	.set_helper = shm_gate_set_helper,
	.release_token = shm_gate_release_token,
	.release = shm_gate_release,
	.drain = shm_gate_drain,
	.info = shm_gate_info,
};
