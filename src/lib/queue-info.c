/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-info.c - the state of a queue as shm_queue_info() reports it.
 *
 * Invariant: what it reports is one consistent state, read under the lock
 * after handing back what dead owners and ended TTLs hold (so that an
 * info never shows a lease that the next get would take back); the
 * reservations copied out are sorted by token, oldest first.
 */
#include "config.h"

#include "queue-int.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <stdlib.h>
#include <string.h>

static int cmp_lease(const void *a, const void *b)
{
	const struct mp_queue_lease_info *x = a, *y = b;
	return x->token < y->token ? -1 : x->token > y->token;
}

static uint32_t sleepers(uint32_t *word, uint32_t hint)
{
	int n = mp_futex_sleepers(word);

	return n >= 0 ? (uint32_t)n : hint;
}

int shm_queue_info(struct mp_obj *o, struct mp_queue_info *qi,
		  struct mp_queue_lease_info *leases, int max)
{
	struct qslot *sl = slots_of(o);
	struct qstate *st;
	int rc, n = 0, what = 0;

	rc = queue_lock(o);
	if (rc)
		return rc;
	if (Q(o)->st.nslots_used && queue_reap(o, 1, NULL))
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
	/* the sleepers themselves, not the hints: a waiter killed in its
	 * sleep stays counted in a hint for good */
	qi->getters = sleepers(&o->hdr->seq, o->hdr->nwait);
	qi->putters = sleepers(&o->hdr->seq2, o->hdr->nwait2);
	qi->nleases = st->nslots_used;
	qi->generation = o->hdr->generation;
	qi->created_ns = o->hdr->created_ns;
	qi->changed_ns = o->hdr->changed_ns;
	for (uint32_t i = 0; i < NSLOTS(o); i++) {
		if (!sl[i].used)
			continue;
		if (n < max)
			queue_lease_info(&sl[i], &leases[n]);
		n++;
	}
	if (what)
		queue_changed(o, what);
	queue_unlock_wake(o, what);
	if (n > 0 && leases)
		qsort(leases, (size_t)(n < max ? n : max), sizeof *leases, cmp_lease);
	return n;
}
