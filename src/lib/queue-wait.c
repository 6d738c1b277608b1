/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-wait.c - locking, waking, and the verbs that wait: put, get (take
 * and get_lease), join; done and close, which wake them.
 *
 * Invariant: nobody sleeps holding the mutex, and nobody sleeps through a
 * change it waits for.  Getters and joiners sleep on hdr->seq, putters on
 * hdr->seq2; a waiter registers in nwait/nwait2 before it unlocks, and
 * every change bumps the word under the lock (queue_changed) and wakes
 * after unlocking (queue_unlock_wake).  A waiter whose slice ends looks
 * for dead owners (queue_reap), so a getter killed with messages in flight
 * never leaves the others waiting for space or messages forever.
 */
#include "config.h"

#include "fault.h"
#include "queue-int.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- locking and waking ---- */

/* Marks a change for getters (and joiners) and/or putters; locked. */
void queue_changed(struct mp_obj *o, int what)
{
	if (what & WAKE_GET)
		mp_obj_changed(o);
	if (what & WAKE_PUT)
		__atomic_add_fetch(&o->hdr->seq2, 1, __ATOMIC_RELEASE);
}

/* Unlocks, then wakes the sleepers of the words changed. */
void queue_unlock_wake(struct mp_obj *o, int what)
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

/* ---- put ---- */

int shm_queue_put(struct mp_obj *o, const struct iovec *v, size_t n, int64_t deadline_ns,
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
			queue_changed(o, WAKE_GET);
			if (i == n)
				break;
			/* let getters in between two batches */
			queue_unlock_wake(o, WAKE_GET);
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
		if (slice_over && queue_reap(o, 1, NULL))
			queue_changed(o, WAKE_GET);
	}
	queue_unlock_wake(o, WAKE_GET);
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
		if (Q(o)->st.nslots_used && queue_reap(o, deep, &next_exp))
			*what |= WAKE_GET;
		else if (!Q(o)->st.nslots_used)
			next_exp = 0;
		rc = queue_take_locked(o, r, holder, lease_owner, ttl_ns, b);
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
			int64_t left = next_exp - mp_shared_ns();
			if (left < slice)
				slice = left > 0 ? left : 1;
		}
		if (*what) {
			/* wake others before sleeping: what we handed back */
			queue_changed(o, *what);
			queue_unlock_wake(o, *what);
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

int shm_queue_take(struct mp_obj *o, const struct mp_queue_take_req *r,
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
		if (queue_slot_has(o, b->slot, b->token))
			rc = queue_settle_locked(o, b->slot, UINT64_MAX, 0, &what);
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
		queue_changed(o, what);
	queue_unlock_wake(o, what);
	return rc;
}

int shm_queue_get_lease(struct mp_obj *o, const struct mp_queue_get_req *r, void *buf,
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
		queue_settle_locked(o, b.slot, 0, 0, &what);
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
		queue_changed(o, what);
	queue_unlock_wake(o, what);
out:
	if (b.buf != buf)
		free(b.buf);
	free(b.ends);
	return rc;
}

/* ---- done, join, close ---- */

int shm_queue_done(struct mp_obj *o, uint64_t n)
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
	queue_changed(o, WAKE_GET);
	queue_unlock_wake(o, WAKE_GET);
	return 0;
}

int shm_queue_join(struct mp_obj *o, int64_t deadline_ns, int nonblock)
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

int shm_queue_close(struct mp_obj *o)
{
	int rc = queue_lock(o);

	if (rc)
		return rc;
	__atomic_store_n(&Q(o)->st.closed, 1, __ATOMIC_RELEASE);
	queue_changed(o, WAKE_GET | WAKE_PUT);
	queue_unlock_wake(o, WAKE_GET | WAKE_PUT);
	return 0;
}
