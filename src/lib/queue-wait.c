/* queue.c - the queue kind: byte ring, journal, reservations; see queue.h. */
#include "config.h"

#include "fault.h"
#include "queue-int.h"
#include "sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- locking and waking ---- */

/* Marks a change for getters (and joiners) and/or putters; locked. */
static void changed(struct mp_obj *o, int what)
{
	if (what & WAKE_GET)
		mp_obj_changed(o);
	if (what & WAKE_PUT)
		__atomic_add_fetch(&o->hdr->seq2, 1, __ATOMIC_RELEASE);
}

/* Unlocks, then wakes the sleepers of the words changed. */
static void unlock_wake(struct mp_obj *o, int what)
{
	mp_obj_unlock(o);
	if ((what & WAKE_GET) && __atomic_load_n(&o->hdr->nwait, __ATOMIC_ACQUIRE))
		mp_futex_wake(&o->hdr->seq);
	if ((what & WAKE_PUT) && __atomic_load_n(&o->hdr->nwait2, __ATOMIC_ACQUIRE))
		mp_futex_wake(&o->hdr->seq2);
}

/* Sleeps on word as mp_obj_wait() does, but with one contract for every
 * result: 0 locked (woken, or *slice_over: time to look for the dead),
 * any error unlocked (-ETIMEDOUT, -EINTR, -EIDRM, a corrupt object or
 * the lock's own error). */
static int qwait(struct mp_obj *o, uint32_t *word, uint32_t *nwait, int64_t deadline_ns,
		 int64_t slice_ns, int *slice_over)
{
	uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	int64_t now = mp_now_ns(), until = now + slice_ns;
	int lrc;
	int rc;

	*slice_over = 0;
	if (deadline_ns && now >= deadline_ns) {
		mp_obj_unlock(o);
		return -ETIMEDOUT;
	}
	if (deadline_ns && deadline_ns < until)
		until = deadline_ns;
	/* registered before unlocking: a waker that changes the word after
	 * our unlock sees the count (a killed waiter leaves it high, which
	 * costs only extra wake calls) */
	__atomic_add_fetch(nwait, 1, __ATOMIC_SEQ_CST);
	mp_obj_unlock(o);
	rc = mp_futex_wait(word, seen, until);
	__atomic_sub_fetch(nwait, 1, __ATOMIC_SEQ_CST);
	lrc = mp_obj_check_file(o);
	if (lrc)
		return lrc;
	if (rc == -ETIMEDOUT) {
		if (deadline_ns && mp_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		*slice_over = 1;
	} else if (rc) {
		return rc;
	}
	return queue_lock(o);
}

/* ---- reservations ---- */

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
static int reap(struct mp_obj *o, int deep, int64_t *next_expiry)
{
	struct qslot *sl = slots_of(o);
	int64_t now = mp_now_ns();
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
static int settle_locked(struct mp_obj *o, int idx, uint64_t k, int keep, int *what)
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
static int slot_has(struct mp_obj *o, int idx, uint64_t token)
{
	struct qslot *s;

	if (idx < 0 || (uint32_t)idx >= NSLOTS(o))
		return 0;
	s = &slots_of(o)[idx];
	return s->used && s->token == token;
}

/* ---- put ---- */

int mp_queue_put(struct mp_obj *o, const struct iovec *v, size_t n, int64_t deadline_ns,
		 int nonblock, size_t *nput)
{
	size_t i = 0, k;
	int rc = 0, slice_over, big;

	if (nput)
		*nput = 0;
	for (size_t j = 0; j < n; j++)
		if (v[j].iov_len > MAXMSG(o)) {
			n = j;
			rc = -EMSGSIZE;
			break;
		}
	if (n == 0)
		return rc;
	big = rc;
	rc = queue_lock(o);
	if (rc)
		return rc;
	while (i < n) {
		if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE)) {
			rc = -EIDRM;
			break;
		}
		if (Q(o)->st.closed) {
			rc = MP_QUEUE_CLOSED;
			break;
		}
		k = queue_ring_append(o, v, n, i);
		if (k) {
			i += k;
			if (nput)
				*nput = i;
			changed(o, WAKE_GET);
			if (i == n)
				break;
			/* let getters in between two batches */
			unlock_wake(o, WAKE_GET);
			rc = queue_lock(o);
			if (rc)
				return rc;
			continue;
		}
		if (nonblock) {
			rc = -EAGAIN;
			break;
		}
		rc = qwait(o, &o->hdr->seq2, &o->hdr->nwait2, deadline_ns, MP_REAP_SLICE_NS,
			   &slice_over);
		if (rc)
			return rc;
		/* a full ring behind a dead getter's reservation: hand it back
		 * so that the getters can take it and free the space */
		if (slice_over && reap(o, 1, NULL))
			changed(o, WAKE_GET);
	}
	unlock_wake(o, WAKE_GET);
	if (i == n && !rc)
		return big;
	return rc;
}

/* ---- get ---- */

/* This process as the holder of what it takes (read from /proc once). */
static void self_owner(struct mp_owner *me)
{
	static struct mp_owner self;
	static pid_t pid;

	if (pid != getpid()) {
		if (mp_owner_of(0, &self))
			memset(&self, 0, sizeof self);	/* no /proc: never judged dead */
		pid = getpid();
	}
	*me = self;
}

static int ensure_batch(struct mp_queue_batch *b, size_t bytes, uint32_t count)
{
	if (b->cap < bytes) {
		char *nb = realloc(b->buf, bytes);
		if (!nb)
			return -ENOMEM;
		b->buf = nb;
		b->cap = bytes;
	}
	if (b->ends_cap < count) {
		size_t *ne = realloc(b->ends, count * sizeof *ne);
		if (!ne)
			return -ENOMEM;
		b->ends = ne;
		b->ends_cap = count;
	}
	return 0;
}

void mp_queue_batch_free(struct mp_queue_batch *b)
{
	free(b->buf);
	free(b->ends);
	b->buf = NULL;
	b->ends = NULL;
	b->cap = b->len = 0;
	b->ends_cap = b->count = 0;
}

/* The slot is free: fill it privately, publish it in the commit. */
static void fill_slot(struct mp_obj *o, struct qslot *s, const struct mp_owner *holder,
		      const struct mp_owner *lease_owner, int64_t ttl_ns)
{
	s->token = ++Q(o)->st.last_token;	/* a lost token number is harmless */
	s->since_ns = mp_realtime_ns();
	s->expires_ns = lease_owner && ttl_ns > 0 ? mp_now_ns() + ttl_ns : 0;
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
	queue_txn_slot(&t, idx, 1, (redo ? 0 : QS_CONTIG) | (leased ? QS_LEASED : 0), tk->x, tk->y,
		 tk->k, tk->nb);
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
static int take_locked(struct mp_obj *o, const struct mp_queue_take_req *r,
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

/* The waiting loop shared by every get.  Called locked; *locked tells
 * whether it still is on return. */
static int take_wait(struct mp_obj *o, const struct mp_queue_take_req *r,
		     const struct mp_owner *holder, const struct mp_owner *lease_owner,
		     int64_t ttl_ns, struct mp_queue_batch *b, int *what, int *locked)
{
	int deep = 1, rc, slice_over;
	int64_t next_exp, slice;

	*locked = 1;
	for (;;) {
		if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE))
			return -EIDRM;
		if (Q(o)->st.nslots_used && reap(o, deep, &next_exp))
			*what |= WAKE_GET;
		else if (!Q(o)->st.nslots_used)
			next_exp = 0;
		rc = take_locked(o, r, holder, lease_owner, ttl_ns, b);
		if (rc)
			return rc;
		struct qstate *st = &Q(o)->st;
		/* closed and drained: nothing waiting, and nothing in flight
		 * that could come back */
		if (st->closed && st->n_tail + st->n_redo + st->n_flight == 0)
			return MP_QUEUE_END;
		if (r->nonblock)
			return -EAGAIN;
		slice = MP_REAP_SLICE_NS;
		if (next_exp) {
			int64_t left = next_exp - mp_now_ns();
			if (left < slice)
				slice = left > 0 ? left : 1;
		}
		if (*what) {
			/* wake others before sleeping: what we handed back */
			changed(o, *what);
			unlock_wake(o, *what);
			*what = 0;
			rc = queue_lock(o);
			if (rc) {
				*locked = 0;
				return rc;
			}
			continue;
		}
		rc = qwait(o, &o->hdr->seq, &o->hdr->nwait, r->deadline_ns, slice, &slice_over);
		if (rc) {
			*locked = 0;
			return rc;
		}
		deep = slice_over;
	}
}

int mp_queue_take(struct mp_obj *o, const struct mp_queue_take_req *r,
		  struct mp_queue_batch *b)
{
	struct mp_owner self;
	int rc, what = 0, locked = 1;
	uint32_t maxc = r->max_count ? r->max_count : 1;
	size_t need = (r->max_bytes > MAXMSG(o) ? r->max_bytes : MAXMSG(o)) + maxc;

	rc = ensure_batch(b, need, maxc);
	if (rc)
		return rc;
	self_owner(&self);
	rc = queue_lock(o);
	if (rc)
		return rc;
	if (b->pending) {
		b->pending = 0;
		if (slot_has(o, b->slot, b->token))
			rc = settle_locked(o, b->slot, UINT64_MAX, 0, &what);
		if (rc)
			goto out;
	}
	struct mp_queue_take_req rr = *r;
	rr.max_count = maxc;
	rc = take_wait(o, &rr, &self, NULL, 0, b, &what, &locked);
out:
	if (!locked)
		return rc;
	if (what)
		changed(o, what);
	unlock_wake(o, what);
	return rc;
}

int mp_queue_settle(struct mp_obj *o, struct mp_queue_batch *b, uint32_t written,
		    const struct mp_owner *lease_owner, int64_t ttl_ns, uint64_t *token)
{
	int rc, what = 0;

	if (!b->pending)
		return 0;
	b->pending = 0;
	rc = queue_lock(o);
	if (rc)
		return rc;
	if (!slot_has(o, b->slot, b->token)) {
		mp_errmsg_set("the messages being written were handed back meanwhile");
		rc = -ENOENT;
	} else if (lease_owner && written) {
		struct qslot *s = &slots_of(o)[b->slot];
		rc = settle_locked(o, b->slot, written, 1, &what);
		if (!rc) {
			/* transfer to the lease owner: the flag is the publish */
			s->owner = *lease_owner;
			s->expires_ns = ttl_ns > 0 ? mp_now_ns() + ttl_ns : 0;
			BARRIER();
			__atomic_store_n(&s->flags, s->flags | QS_LEASED, __ATOMIC_RELEASE);
			if (token)
				*token = s->token;
		}
	} else {
		rc = settle_locked(o, b->slot, written, 0, &what);
	}
	if (what)
		changed(o, what);
	unlock_wake(o, what);
	return rc;
}

int mp_queue_get_lease(struct mp_obj *o, const struct mp_queue_get_req *r, void *buf,
		       size_t cap, size_t *len, struct mp_queue_lease *lease)
{
	struct mp_queue_take_req tr = {
		.max_count = 1, .max_bytes = 0, .sep = -1,
		.deadline_ns = r->deadline_ns, .nonblock = r->nonblock,
	};
	struct mp_queue_batch b;
	struct mp_owner self;
	int rc, what = 0, locked;

	memset(&b, 0, sizeof b);
	/* copy straight into the caller's buffer when it is big enough for
	 * any message; else into ours, and check the size */
	if (cap >= MAXMSG(o)) {
		b.buf = buf;
		b.cap = cap;
	} else if ((rc = ensure_batch(&b, MAXMSG(o), 1))) {
		return rc;
	}
	if (!b.ends && (rc = ensure_batch(&b, 0, 1))) {
		if (b.buf != buf)
			free(b.buf);
		return rc;
	}
	self_owner(&self);
	rc = queue_lock(o);
	if (rc)
		goto out;
	rc = take_wait(o, &tr, &self, &r->owner, r->ttl_ns, &b, &what, &locked);
	if (!locked)
		goto out;
	if (rc > 0 && b.len > cap) {
		/* too big for the caller: hand it back untouched */
		settle_locked(o, b.slot, 0, 0, &what);
		rc = -ENOBUFS;
	} else if (rc > 0) {
		if (b.buf != buf)
			memcpy(buf, b.buf, b.len);
		*len = b.len;
		lease->token = b.token;
		lease->slot = b.slot;
		lease->count = b.count;
		rc = 0;
	}
	if (what)
		changed(o, what);
	unlock_wake(o, what);
out:
	if (b.buf != buf)
		free(b.buf);
	free(b.ends);
	return rc;
}

static int end_lease(struct mp_obj *o, const struct mp_queue_lease *l, int requeue)
{
	int rc, what = 0;

	rc = queue_lock(o);
	if (rc)
		return rc;
	if (!slot_has(o, l->slot, l->token)) {
		mp_errmsg_set("lease %llu of '%s' is gone (its TTL ended or its owner was "
			      "thought dead; the message was delivered again)",
			      (unsigned long long)l->token, o->name);
		rc = -ENOENT;
	} else if (requeue) {
		rc = revert_slot(o, l->slot, 0);
		what = WAKE_GET;
	} else {
		rc = settle_locked(o, l->slot, UINT64_MAX, 0, &what);
	}
	if (what)
		changed(o, what);
	unlock_wake(o, what);
	return rc;
}

int mp_queue_ack(struct mp_obj *o, const struct mp_queue_lease *l)
{
	return end_lease(o, l, 0);
}

int mp_queue_requeue(struct mp_obj *o, const struct mp_queue_lease *l)
{
	return end_lease(o, l, 1);
}

static void lease_info(const struct qslot *s, struct mp_queue_lease_info *li)
{
	li->token = s->token;
	li->count = (uint32_t)s->count;
	li->leased = !!(s->flags & QS_LEASED);
	li->bytes = s->bytes;
	li->since_ns = s->since_ns;
	li->expires_ns = li->leased ? s->expires_ns : 0;
	li->owner = li->leased ? s->owner : s->holder;
}

int mp_queue_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token,
		       int force, struct mp_queue_lease_info *out)
{
	struct qslot *sl = slots_of(o);
	int rc, found = -1, any = 0, what = 0;

	rc = queue_lock(o);
	if (rc)
		return rc;
	if (Q(o)->st.nslots_used && reap(o, 1, NULL))
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
			lease_info(&sl[found], out);
		rc = settle_locked(o, found, UINT64_MAX, 0, &what);
	}
	if (what)
		changed(o, what);
	unlock_wake(o, what);
	return rc;
}

/* ---- done, join, close ---- */

int mp_queue_done(struct mp_obj *o, uint64_t n)
{
	struct txn t;
	int rc = queue_lock(o);

	if (rc)
		return rc;
	if (n > Q(o)->st.unfinished) {
		mp_errmsg_set("done %llu: only %llu message%s of '%s' %s unfinished "
			      "(more dones than puts)", (unsigned long long)n,
			      (unsigned long long)Q(o)->st.unfinished,
			      Q(o)->st.unfinished == 1 ? "" : "s", o->name,
			      Q(o)->st.unfinished == 1 ? "is" : "are");
		mp_obj_unlock(o);
		return -ERANGE;
	}
	queue_txn_begin(o, &t);
	t.st.unfinished -= n;
	queue_commit(o, &t);
	changed(o, WAKE_GET);
	unlock_wake(o, WAKE_GET);
	return 0;
}

int mp_queue_join(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	int rc = queue_lock(o), slice_over;

	if (rc)
		return rc;
	for (;;) {
		if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE)) {
			rc = -EIDRM;
			break;
		}
		if (Q(o)->st.unfinished == 0) {
			rc = 0;
			break;
		}
		if (nonblock) {
			rc = -EAGAIN;
			break;
		}
		rc = qwait(o, &o->hdr->seq, &o->hdr->nwait, deadline_ns, MP_REAP_SLICE_NS,
			   &slice_over);
		if (rc)
			return rc;
	}
	mp_obj_unlock(o);
	return rc;
}

int mp_queue_close(struct mp_obj *o)
{
	int rc = queue_lock(o);

	if (rc)
		return rc;
	__atomic_store_n(&Q(o)->st.closed, 1, __ATOMIC_RELEASE);
	changed(o, WAKE_GET | WAKE_PUT);
	unlock_wake(o, WAKE_GET | WAKE_PUT);
	return 0;
}

/* ---- info ---- */

static int cmp_lease(const void *a, const void *b)
{
	const struct mp_queue_lease_info *x = a, *y = b;
	return x->token < y->token ? -1 : x->token > y->token;
}

int mp_queue_info(struct mp_obj *o, struct mp_queue_info *qi,
		  struct mp_queue_lease_info *leases, int max)
{
	struct qslot *sl = slots_of(o);
	struct qstate *st;
	int rc, n = 0, what = 0;

	rc = queue_lock(o);
	if (rc)
		return rc;
	if (Q(o)->st.nslots_used && reap(o, 1, NULL))
		what = WAKE_GET;
	st = &Q(o)->st;
	memset(qi, 0, sizeof *qi);
	mp_queue_get_params(o, &qi->params);
	qi->ring_size = RSIZE(o);
	qi->ring_used = st->tail - st->head;
	qi->items = st->n_tail + st->n_redo;
	qi->bytes = st->b_tail + st->b_redo;
	qi->in_flight = st->n_flight;
	qi->in_flight_bytes = st->b_flight;
	qi->unfinished = st->unfinished;
	qi->puts = st->puts;
	qi->acks = st->acks;
	qi->redelivered = st->redelivered;
	qi->closed = st->closed;
	qi->getters = o->hdr->nwait;
	qi->putters = o->hdr->nwait2;
	qi->nleases = st->nslots_used;
	qi->generation = o->hdr->generation;
	qi->created_ns = o->hdr->created_ns;
	qi->changed_ns = o->hdr->changed_ns;
	for (uint32_t i = 0; i < NSLOTS(o); i++) {
		if (!sl[i].used)
			continue;
		if (n < max)
			lease_info(&sl[i], &leases[n]);
		n++;
	}
	if (what)
		changed(o, what);
	unlock_wake(o, what);
	if (n > 0 && leases)
		qsort(leases, (size_t)(n < max ? n : max), sizeof *leases, cmp_lease);
	return n;
}
