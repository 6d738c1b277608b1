/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-lease.c - reservations and leases: the slots that own messages in
 * flight.
 *
 * Invariant: every delivered record in [head, read) is reserved by exactly
 * one used slot, acknowledged, or handed back (READY), and the counters
 * n_flight/b_flight, n_redo/b_redo and nslots_used say so.  A slot is
 * filled privately and published by the commit that takes its records; it
 * ends (settled: acknowledged, kept as a lease, handed back) in one commit
 * too.  A slot taken at the read position is one run of unmarked records
 * known by its span alone (QS_CONTIG); handed-back records taken again are
 * marked with the slot's number.  A slot's owner is the getting process
 * while it writes the messages out, then, for a lease, the lease owner;
 * when that owner dies or the TTL ends, whoever looks (queue_reap) hands
 * the messages back.
 */
#include "config.h"

#include "queue-int.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <string.h>

static int free_slot(struct mp_obj *o)
{
	struct qslot *sl = slots_of(o);

	if (Q(o)->st.nslots_used >= NSLOTS(o))
		return -1;
	for (uint32_t i = 0; i < NSLOTS(o); i++)
		if (!sl[i].used)
			return (int)i;
	return -1;
}

static int slot_dead(struct mp_obj *o, const struct qslot *s, int deep, int64_t now)
{
	if (s->flags & QS_LEASED) {
		if (s->expires_ns && now >= s->expires_ns)
			return 1;
		return deep && s->owner.pid && !mp_owner_alive(&s->owner);
	}
	return deep && !mp_owner_alive(&s->holder);
}

/* The state the records of slot idx carry.  A reservation taken at the
 * read position is one run of records, all its own: those are not marked
 * at all (the slot's span says whose they are), which spares the hot path
 * a second walk; only redelivered records taken from among others' are
 * marked with the slot number. */
static inline uint32_t slot_mark(const struct qslot *s, int idx)
{
	return (s->flags & QS_CONTIG) ? QREC_READY : (uint32_t)idx + 1;
}

/* Is slot s's span whole records inside [head, read)?  Its bounds are
 * walked and become journal steps: a corrupt one is refused, not walked. */
int queue_span_ok(struct mp_obj *o, const struct qslot *s)
{
	const struct qstate *st = &Q(o)->st;

	if (s->start > s->end || s->start < st->head || s->end > st->read ||
	    ((s->start | s->end) & 7))
		return queue_corrupt(o, "impossible reservation span");
	return 0;
}

/* Hands back every record of slot idx and frees it.  Locked; commits. */
static int revert_slot(struct mp_obj *o, int idx, int redelivered)
{
	struct qslot *s = &slots_of(o)[idx];
	struct txn t;

	if (queue_span_ok(o, s))
		return -EBADMSG;
	queue_txn_begin(o, &t);
	queue_txn_step(&t, slot_mark(s, idx), QREC_READY, s->start, s->end);
	queue_txn_slot(&t, idx, 0, 0, 0, 0, 0, 0);
	if (s->count > t.st.n_flight || s->bytes > t.st.b_flight)
		return queue_corrupt(o, "reservation larger than what is in flight");
	t.st.n_flight -= s->count;
	t.st.b_flight -= s->bytes;
	t.st.n_redo += s->count;
	t.st.b_redo += s->bytes;
	t.st.nslots_used--;
	if (redelivered)
		t.st.redelivered += s->count;
	queue_commit(o, &t);
	return 0;
}

void queue_revert_all(struct mp_obj *o)
{
	struct qslot *sl = slots_of(o);

	for (uint32_t i = 0; i < NSLOTS(o); i++)
		if (sl[i].used)
			revert_slot(o, (int)i, 1);
}

/* Hands back what dead holders, dead lease owners and ended TTLs hold
 * (dead processes only when deep: that reads /proc).  *next_expiry gets
 * the nearest TTL end.  Returns how many reservations it handed back. */
int queue_reap(struct mp_obj *o, int deep, int64_t *next_expiry)
{
	struct qslot *sl = slots_of(o);
	int64_t now = mp_shared_ns();
	uint32_t left = Q(o)->st.nslots_used;
	int n = 0;

	if (next_expiry)
		*next_expiry = 0;
	for (uint32_t i = 0; left && i < NSLOTS(o); i++) {
		if (!sl[i].used)
			continue;
		left--;
		if (slot_dead(o, &sl[i], deep, now)) {
			if (revert_slot(o, (int)i, 1) == 0)
				n++;
		} else if (next_expiry && (sl[i].flags & QS_LEASED) && sl[i].expires_ns &&
			   (!*next_expiry || sl[i].expires_ns < *next_expiry)) {
			*next_expiry = sl[i].expires_ns;
		}
	}
	return n;
}

/* Position just after the first k records of slot idx, and their bytes. */
static int slot_split(struct mp_obj *o, int idx, uint64_t k, uint64_t *p, uint64_t *bytes)
{
	struct qslot *s = &slots_of(o)[idx];
	uint64_t pos = s->start, seen = 0, b = 0;
	int contig = !!(s->flags & QS_CONTIG);

	if (k >= s->count) {
		*p = s->end;
		*bytes = s->bytes;
		return 0;
	}
	while (seen < k && pos < s->end) {
		struct qrec *r = rec_at(o, pos);
		if (r->len > MAXMSG(o))
			return queue_corrupt(o, "record longer than --max-msg");
		if (contig || r->state == (uint32_t)idx + 1) {
			seen++;
			b += r->len;
		}
		pos += rec_size(r->len);
	}
	*p = pos;
	*bytes = b;
	return 0;
}

/* Where head can go once the records of slot idx in [x, y) are gone:
 * past every leading record that is acknowledged or one of those. */
static int new_head(struct mp_obj *o, uint64_t head, uint64_t read, int idx, uint64_t x,
		    uint64_t y, uint64_t *out)
{
	struct qslot *s = &slots_of(o)[idx];
	int contig = !!(s->flags & QS_CONTIG);
	uint64_t pos = head;

	if (contig && x == head)
		pos = y;	/* all of [x, y) is ours: skip without reading */
	while (pos < read) {
		struct qrec *r = rec_at(o, pos);
		if (r->len > MAXMSG(o))
			return queue_corrupt(o, "record longer than --max-msg");
		if (!(r->state == QREC_ACKED ||
		      (pos >= x && pos < y && (contig || r->state == (uint32_t)idx + 1))))
			break;
		pos += rec_size(r->len);
	}
	if (pos > read)
		return queue_corrupt(o, "record crosses the read position");
	*out = pos;
	return 0;
}

/* Ends slot idx: the first k records are acknowledged (keep == 0) or stay
 * reserved as a lease (keep == 1), the rest are handed back.  Locked;
 * commits.  *what gets the words to wake. */
int queue_settle_locked(struct mp_obj *o, int idx, uint64_t k, int keep, int *what)
{
	struct qslot *s = &slots_of(o)[idx];
	uint64_t p, bk, nrest, brest;
	struct txn t;
	int rc;

	if (queue_span_ok(o, s))
		return -EBADMSG;
	if (k > s->count)
		k = s->count;
	rc = slot_split(o, idx, k, &p, &bk);
	if (rc)
		return rc;
	nrest = s->count - k;
	brest = s->bytes - bk;
	if (s->bytes < bk)
		return queue_corrupt(o, "reservation byte count");
	/* getters may wait for a free slot, or (closed) for the last
	 * messages in flight to settle before they end */
	if (Q(o)->st.nslots_used >= NSLOTS(o) || Q(o)->st.closed)
		*what |= WAKE_GET;
	queue_txn_begin(o, &t);
	/* hand back first: the ack step below must not see them */
	queue_txn_step(&t, slot_mark(s, idx), QREC_READY, p, s->end);
	t.st.n_redo += nrest;
	t.st.b_redo += brest;
	if (nrest)
		*what |= WAKE_GET;
	if (keep && k) {
		queue_txn_slot(&t, idx, 1, s->flags, s->start, p, k, bk);
		t.st.n_flight -= nrest;
		t.st.b_flight -= brest;
	} else {
		if (k) {
			rc = new_head(o, t.st.head, t.st.read, idx, s->start, p, &t.st.head);
			if (rc)
				return rc;
			/* records that head passes need no mark */
			if (t.st.head < p)
				queue_txn_step(&t, slot_mark(s, idx), QREC_ACKED, s->start, p);
			*what |= WAKE_PUT;
		}
		queue_txn_slot(&t, idx, 0, 0, 0, 0, 0, 0);
		t.st.n_flight -= s->count;
		t.st.b_flight -= s->bytes;
		t.st.acks += k;
		t.st.nslots_used--;
	}
	queue_commit(o, &t);
	return 0;
}

/* Finds slot idx carrying token (it may have been reaped and reused). */
int queue_slot_has(struct mp_obj *o, int idx, uint64_t token)
{
	struct qslot *s;

	if (idx < 0 || (uint32_t)idx >= NSLOTS(o))
		return 0;
	s = &slots_of(o)[idx];
	return s->used && s->token == token;
}

/* The slot is free: fill it privately, publish it in the commit. */
static void fill_slot(struct mp_obj *o, struct qslot *s, const struct mp_owner *holder,
		      const struct mp_owner *lease_owner, int64_t ttl_ns)
{
	s->token = ++Q(o)->st.last_token;	/* a lost token number is harmless */
	s->since_ns = mp_realtime_ns();
	s->expires_ns = lease_owner && ttl_ns > 0 ? mp_shared_ns() + ttl_ns : 0;
	s->holder = *holder;
	if (lease_owner)
		s->owner = *lease_owner;
	else
		memset(&s->owner, 0, sizeof s->owner);
}

/* Commits what tk took as slot idx: handed-back records are marked with
 * the slot, a run from the read position moves read. */
static void commit_take(struct mp_obj *o, int idx, int redo, int leased,
			const struct qtake *tk)
{
	struct txn t;

	queue_txn_begin(o, &t);
	if (redo)
		queue_txn_step(&t, QREC_READY, (uint32_t)idx + 1, tk->x, tk->y);
	queue_txn_slot(&t, idx, 1, (redo ? 0 : QS_CONTIG) | (leased ? QS_LEASED : 0),
		       tk->x, tk->y, tk->k, tk->nb);
	if (redo) {
		t.st.n_redo -= tk->k;
		t.st.b_redo -= tk->nb;
	} else {
		t.st.read = tk->y;
		t.st.n_tail -= tk->k;
		t.st.b_tail -= tk->nb;
	}
	t.st.n_flight += tk->k;
	t.st.b_flight += tk->nb;
	t.st.nslots_used++;
	queue_commit(o, &t);
}

/* Reserves up to max_count READY records (and max_bytes payload bytes,
 * the first whatever its size) for a new slot owned by holder, copying
 * them into b.  Redelivered records go first.  Locked; commits.  Returns
 * the number taken, 0 if none is there (or no slot is free). */
int queue_take_locked(struct mp_obj *o, const struct mp_queue_take_req *r,
		      const struct mp_owner *holder, const struct mp_owner *lease_owner,
		      int64_t ttl_ns, struct mp_queue_batch *b)
{
	struct qstate *st = &Q(o)->st;
	struct qtake tk = { 0, 0, 0, 0, 0 };
	int redo = st->n_redo > 0, idx, rc;
	struct qslot *s;

	if (st->n_redo + st->n_tail == 0)
		return 0;
	idx = free_slot(o);
	if (idx < 0)
		return 0;
	rc = redo ? queue_ring_take_redo(o, r, b, &tk) : queue_ring_take_run(o, r, b, &tk);
	if (rc)
		return rc;
	if (!tk.k)
		return 0;

	s = &slots_of(o)[idx];
	fill_slot(o, s, holder, lease_owner, ttl_ns);
	commit_take(o, idx, redo, lease_owner != NULL, &tk);

	b->len = tk.outlen;
	b->count = (uint32_t)tk.k;
	b->slot = idx;
	b->token = s->token;
	b->pending = 1;
	return (int)tk.k;
}

int shm_queue_settle(struct mp_obj *o, struct mp_queue_batch *b, uint32_t written,
		    const struct mp_owner *lease_owner, int64_t ttl_ns, uint64_t *token)
{
	int rc, what = 0;

	if (!b->pending)
		return 0;
	b->pending = 0;
	rc = queue_lock(o);
	if (rc)
		return rc;
	if (!queue_slot_has(o, b->slot, b->token)) {
		mp_errmsg_set("the messages being written were handed back meanwhile");
		rc = -ENOENT;
	} else if (lease_owner && written) {
		struct qslot *s = &slots_of(o)[b->slot];
		rc = queue_settle_locked(o, b->slot, written, 1, &what);
		if (!rc) {
			/* transfer to the lease owner: the flag is the publish */
			s->owner = *lease_owner;
			s->expires_ns = ttl_ns > 0 ? mp_shared_ns() + ttl_ns : 0;
			BARRIER();
			__atomic_store_n(&s->flags, s->flags | QS_LEASED, __ATOMIC_RELEASE);
			if (token)
				*token = s->token;
		}
	} else {
		rc = queue_settle_locked(o, b->slot, written, 0, &what);
	}
	if (what)
		queue_changed(o, what);
	queue_unlock_wake(o, what);
	return rc;
}

static int end_lease(struct mp_obj *o, const struct mp_queue_lease *l, int requeue)
{
	int rc, what = 0;

	rc = queue_lock(o);
	if (rc)
		return rc;
	if (!queue_slot_has(o, l->slot, l->token)) {
		mp_errmsg_set("lease %llu of '%s' is gone (its TTL ended or its owner was "
			      "thought dead; the message was delivered again)",
			      (unsigned long long)l->token, o->name);
		rc = -ENOENT;
	} else if (requeue) {
		rc = revert_slot(o, l->slot, 0);
		what = WAKE_GET;
	} else {
		rc = queue_settle_locked(o, l->slot, UINT64_MAX, 0, &what);
	}
	if (what)
		queue_changed(o, what);
	queue_unlock_wake(o, what);
	return rc;
}

int shm_queue_ack(struct mp_obj *o, const struct mp_queue_lease *l)
{
	return end_lease(o, l, 0);
}

int shm_queue_requeue(struct mp_obj *o, const struct mp_queue_lease *l)
{
	return end_lease(o, l, 1);
}

void queue_lease_info(const struct qslot *s, struct mp_queue_lease_info *li)
{
	li->token = s->token;
	li->count = (uint32_t)s->count;
	li->leased = !!(s->flags & QS_LEASED);
	li->bytes = s->bytes;
	li->since_ns = s->since_ns;
	li->expires_ns = li->leased ? s->expires_ns : 0;
	li->owner = li->leased ? s->owner : s->holder;
}

int shm_queue_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token,
		       int force, struct mp_queue_lease_info *out)
{
	struct qslot *sl = slots_of(o);
	int rc, found = -1, any = 0, what = 0;

	rc = queue_lock(o);
	if (rc)
		return rc;
	if (Q(o)->st.nslots_used && queue_reap(o, 1, NULL))
		what |= WAKE_GET;
	for (uint32_t i = 0; i < NSLOTS(o); i++) {
		struct qslot *s = &sl[i];
		if (!s->used || !(s->flags & QS_LEASED))
			continue;
		if (token && s->token != token)
			continue;
		any = 1;
		if (!force && s->owner.pid && !(who && mp_owner_same(&s->owner, who)))
			continue;
		/* no token: the oldest of the owner's leases, its own before
		 * ownerless ones */
		if (found < 0 || (sl[found].owner.pid == 0 && s->owner.pid) ||
		    ((sl[found].owner.pid == 0) == (s->owner.pid == 0) && s->token < sl[found].token))
			found = (int)i;
	}
	if (found < 0) {
		rc = any ? -EPERM : -ENOENT;
	} else {
		if (out)
			queue_lease_info(&sl[found], out);
		rc = queue_settle_locked(o, found, UINT64_MAX, 0, &what);
	}
	if (what)
		queue_changed(o, what);
	queue_unlock_wake(o, what);
	return rc;
}
