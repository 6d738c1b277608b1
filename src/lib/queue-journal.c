/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-journal.c - the queue's transactions: how shared state changes.
 *
 * Invariant: the shared state (Q(o)->st, the slots, the record marks)
 * moves from one consistent state to the next only through commit: the
 * change is built in private memory (struct txn), written to the journal,
 * marked valid, applied and cleared.  Applying is idempotent (steps are
 * "records of state A in [x, y) become B", slots and scalars are stored
 * whole), so a process killed at any instruction leaves either no valid
 * journal (nothing happened) or one that the next locker applies again
 * (mp_queue_kind.repair) with the same result.
 */
#include "config.h"

#include "fault.h"
#include "queue-int.h"

#include <string.h>

/* Applies one step; stops at a record that cannot be (corrupt ring). */
static void apply_step(struct mp_obj *o, const struct qstep *s)
{
	uint64_t pos = s->x, off = s->x % RSIZE(o);
	char *r = ring_of(o);

	/* records start 8-aligned: an unaligned x would read a header
	 * across the end of the ring */
	if (s->y < s->x || s->y - s->x > RSIZE(o) || ((s->x | s->y) & 7))
		return;
	while (pos < s->y) {
		struct qrec *rec = (struct qrec *)(r + off);
		uint64_t len = rec->len, sz;

		if (len > MAXMSG(o))
			return;
		sz = rec_size(len);
		if (rec->state == s->from)
			rec->state = s->to;
		pos += sz;
		off = wrap(o, off + sz);
	}
}

void queue_journal_apply(struct mp_obj *o)
{
	struct qjournal *j = &Q(o)->jr;
	struct qslot *sl = slots_of(o);

	for (uint32_t i = 0; i < j->nsteps && i < J_STEPS; i++) {
		apply_step(o, &j->step[i]);
		MP_FAULT_POINT("queue.apply.step");
	}
	for (uint32_t i = 0; i < j->nslotops && i < J_SLOTOPS; i++) {
		const struct qslotop *so = &j->slotop[i];
		if (so->idx < 0 || (uint32_t)so->idx >= NSLOTS(o))
			continue;
		struct qslot *s = &sl[so->idx];
		s->flags = so->flags;
		s->start = so->start;
		s->end = so->end;
		s->count = so->count;
		s->bytes = so->bytes;
		s->used = so->used;
	}
	Q(o)->st = j->st;
}

void queue_txn_begin(struct mp_obj *o, struct txn *t)
{
	t->st = Q(o)->st;
	t->nsteps = 0;
	t->nslotops = 0;
}

void queue_txn_step(struct txn *t, uint32_t from, uint32_t to, uint64_t x, uint64_t y)
{
	if (x < y && from != to)
		t->step[t->nsteps++] = (struct qstep){ from, to, x, y };
}

void queue_txn_slot(struct txn *t, int idx, uint32_t used, uint32_t flags, uint64_t start,
		    uint64_t end, uint64_t count, uint64_t bytes)
{
	t->slotop[t->nslotops++] = (struct qslotop){ .idx = idx, .used = used, .flags = flags,
		.start = start, .end = end, .count = count, .bytes = bytes };
}

/* Writes the journal, marks it valid, applies it, clears it.  A process
 * killed before `valid` changed nothing visible (a put's records lie
 * beyond tail); killed after it, the next locker applies the journal
 * again, which gives the same result however far the first attempt got. */
void queue_commit(struct mp_obj *o, const struct txn *t)
{
	struct qjournal *j = &Q(o)->jr;

	j->nsteps = t->nsteps;
	j->nslotops = t->nslotops;
	memcpy(j->step, t->step, t->nsteps * sizeof *t->step);
	memcpy(j->slotop, t->slotop, t->nslotops * sizeof *t->slotop);
	j->st = t->st;
	MP_FAULT_POINT("queue.commit.written");
	BARRIER();
	__atomic_store_n(&j->valid, 1, __ATOMIC_SEQ_CST);
	MP_FAULT_POINT("queue.commit.valid");
	BARRIER();
	queue_journal_apply(o);
	MP_FAULT_POINT("queue.commit.applied");
	BARRIER();
	__atomic_store_n(&j->valid, 0, __ATOMIC_SEQ_CST);
	BARRIER();
}
