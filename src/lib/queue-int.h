/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-int.h - what the parts of the queue kind share: the layout of its
 * body in shared memory, the accessors of that layout, and the internal
 * calls from one part to another.  Never included outside src/lib/queue*.c.
 *
 * The parts (each file opens with its own invariant):
 *   queue-kind.c     the kind: geometry, validation at open and at every
 *                    lock, repair and reset, open
 *   queue-journal.c  transactions: every mutation of shared state goes
 *                    through the journal, so a kill at any instruction
 *                    leaves a state the next locker can complete
 *   queue-ring.c     the byte ring: records appended beyond tail, runs of
 *                    records copied out for a reservation
 *   queue-lease.c    reservations (slots) and leases: taking, settling,
 *                    handing back, reaping the dead; ack and requeue
 *   queue-wait.c     locking, waking and the verbs that block: put, get,
 *                    join; done and close
 *   queue-info.c     the state as info reports it
 * queue.c includes them all as one translation unit for the white-box
 * driver tests/unit/t-queue.c; the library compiles them one by one.
 *
 * The layout is described in queue.h.  Geometry comes from o->geom
 * (validated at open), never from the map again: another process could
 * change those words.
 */
#ifndef MP_QUEUE_INT_H
#define MP_QUEUE_INT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "err.h"
#include "obj.h"
#include "store.h"

#define QREC_READY	0u
#define QREC_ACKED	0xffffffffu
#define QREC_HDR	8u

#define QS_CONTIG	1u	/* every record in [start, end) belongs to the slot and
				 * is left unmarked (QREC_READY): see slot_mark() */
#define QS_LEASED	2u	/* owner (not holder) decides; published last */

struct qrec {
	uint32_t len;
	uint32_t state;		/* QREC_READY, QREC_ACKED or slot + 1 */
};

/* Every scalar that changes with a message: copied as a whole through the
 * journal, so no counter can drift from the ring. */
struct qstate {
	uint64_t head, read, tail;	/* ring positions, see queue.h */
	uint64_t n_tail, b_tail;	/* records, payload bytes in [read, tail) */
	uint64_t n_redo, b_redo;	/* READY records, bytes in [head, read) */
	uint64_t n_flight, b_flight;	/* reserved records, bytes */
	uint64_t unfinished;
	uint64_t puts, acks, redelivered;
	uint64_t last_token;
	uint32_t closed, nslots_used;
};

/* "Records in [x, y) whose state is from become to": idempotent. */
struct qstep {
	uint32_t from, to;
	uint64_t x, y;
};

/* A slot's span fields and its used flag, as they are after the commit. */
struct qslotop {
	int32_t idx;
	uint32_t used;
	uint32_t flags;
	uint32_t pad;
	uint64_t start, end, count, bytes;
};

#define J_STEPS		4
#define J_SLOTOPS	2

struct qjournal {
	uint32_t valid;		/* stored 1 after the rest, 0 after applying */
	uint32_t nsteps, nslotops, pad;
	struct qstep step[J_STEPS];
	struct qslotop slotop[J_SLOTOPS];
	struct qstate st;
};

struct qslot {
	uint32_t used;		/* published last (through the journal) */
	uint32_t flags;		/* QS_* */
	uint64_t token;
	uint64_t start, end;	/* span of the slot's records */
	uint64_t count, bytes;	/* its records and their payload bytes */
	int64_t since_ns;	/* CLOCK_REALTIME */
	int64_t expires_ns;	/* CLOCK_MONOTONIC end of a lease's TTL; 0 none */
	struct mp_owner holder;	/* the process writing the messages out */
	struct mp_owner owner;	/* the lease owner (QS_LEASED) */
};

struct mp_queue {
	uint64_t ring_size;	/* bytes, a multiple of 8 */
	uint64_t max_items, max_bytes, max_msg;
	uint32_t nslots;
	uint32_t flags;
	uint64_t ring_off;	/* from the start of the body, 64-aligned */
	uint64_t reserved[6];
	struct qstate st;
	struct qjournal jr;
	/* struct qslot slots[nslots]; ring at ring_off */
};

/* Geometry from o->geom (validated at open), never re-read from the map. */
#define Q(o)		((struct mp_queue *)(o)->body)
#define RSIZE(o)	((o)->geom.a)
#define MAXBYTES(o)	((o)->geom.b)
#define MAXMSG(o)	((o)->geom.c)
#define MAXITEMS(o)	((o)->geom.d & 0xffffffffu)
#define NSLOTS(o)	((uint32_t)((o)->geom.d >> 32))

/* The accessors of the layout keep the short names the white-box driver
 * (tests/unit/t-queue.c) walks the ring with. */
static inline struct qslot *slots_of(struct mp_obj *o)
{
	return (struct qslot *)((char *)o->body + sizeof(struct mp_queue));
}

/* validate() checked that the ring ends the body. */
static inline char *ring_of(struct mp_obj *o)
{
	return (char *)o->body + (o->body_size - RSIZE(o));
}

static inline uint64_t rec_size(uint64_t len)
{
	return QREC_HDR + ((len + 7) & ~7ULL);
}

static inline struct qrec *rec_at(struct mp_obj *o, uint64_t pos)
{
	return (struct qrec *)(ring_of(o) + pos % RSIZE(o));
}

static inline uint64_t wrap(struct mp_obj *o, uint64_t off)
{
	return off >= RSIZE(o) ? off - RSIZE(o) : off;
}

/* Says why o is refused; returns -EBADMSG.  Inline, so that the compiler
 * sees that every error path returns non-zero. */
static inline int queue_corrupt(struct mp_obj *o, const char *what)
{
	mp_errmsg_set("'%s' is corrupt: %s", mp_obj_path(o), what);
	return -EBADMSG;
}

#define BARRIER()	__asm__ __volatile__("" ::: "memory")

/* A commit under construction (in private memory until queue_commit()). */
struct txn {
	struct qstate st;
	uint32_t nsteps, nslotops;
	struct qstep step[J_STEPS];
	struct qslotop slotop[J_SLOTOPS];
};

/* What a scan of the ring took for a new reservation: the records in
 * [x, y), k of them holding nb payload bytes, copied into the batch's
 * buffer up to outlen. */
struct qtake {
	uint64_t x, y;
	uint64_t k, nb;
	size_t outlen;
};

/* What queue_changed() and queue_unlock_wake() are told changed. */
enum { WAKE_GET = 1, WAKE_PUT = 2 };

/* ---- queue-kind.c ---- */

/* Locks o and checks it is still there and sane.  Returns 0 locked, or
 * -errno unlocked (-EIDRM: removed; -EBADMSG: corrupt). */
int queue_lock(struct mp_obj *o);

/* ---- queue-journal.c ---- */

/* Rolls the journal forward (whether or not it is valid; the caller knows
 * it is).  Idempotent. */
void queue_journal_apply(struct mp_obj *o);
/* Starts a transaction from the current state. */
void queue_txn_begin(struct mp_obj *o, struct txn *t);
/* Adds "records in [x, y) of state from become to" (nothing if empty). */
void queue_txn_step(struct txn *t, uint32_t from, uint32_t to, uint64_t x, uint64_t y);
/* Adds the new span fields and used flag of slot idx. */
void queue_txn_slot(struct txn *t, int idx, uint32_t used, uint32_t flags, uint64_t start,
		    uint64_t end, uint64_t count, uint64_t bytes);
/* Writes t to the journal, marks it valid, applies it, clears it. */
void queue_commit(struct mp_obj *o, const struct txn *t);

/* ---- queue-ring.c ---- */

/* Copies as many of v[i..n) as fit (and as a lock hold allows) beyond
 * tail and commits them.  Locked.  Returns how many, 0 if the queue is
 * full. */
size_t queue_ring_append(struct mp_obj *o, const struct iovec *v, size_t n, size_t i);
/* Copy into b the records a new reservation takes, and say which in *tk:
 * _run the records never delivered, one run from read (the hot path);
 * _redo the handed-back ones before read.  Locked; nothing committed.
 * Return 0 or -EBADMSG. */
int queue_ring_take_run(struct mp_obj *o, const struct mp_queue_take_req *r,
			struct mp_queue_batch *b, struct qtake *tk);
int queue_ring_take_redo(struct mp_obj *o, const struct mp_queue_take_req *r,
			 struct mp_queue_batch *b, struct qtake *tk);

/* ---- queue-lease.c (all called locked) ---- */

/* Is slot s's span whole records inside [head, read)?  0 or -EBADMSG. */
int queue_span_ok(struct mp_obj *o, const struct qslot *s);
/* Hands back every reservation (after a reboot).  Commits. */
void queue_revert_all(struct mp_obj *o);
/* Hands back what dead holders, dead lease owners and ended TTLs hold
 * (dead processes only when deep: that reads /proc); *next_expiry (may be
 * NULL) gets the nearest TTL end.  Commits.  Returns how many
 * reservations it handed back. */
int queue_reap(struct mp_obj *o, int deep, int64_t *next_expiry);
/* Reserves up to r->max_count waiting messages for a new slot held by
 * holder (a lease of lease_owner, with ttl_ns, if not NULL) and copies
 * them into b.  Commits.  Returns how many, 0 if none is there or no slot
 * is free, or -EBADMSG. */
int queue_take_locked(struct mp_obj *o, const struct mp_queue_take_req *r,
		      const struct mp_owner *holder, const struct mp_owner *lease_owner,
		      int64_t ttl_ns, struct mp_queue_batch *b);
/* Ends slot idx: its first k records acknowledged (keep 0) or kept as a
 * lease (keep 1), the rest handed back.  Commits.  *what |= the words to
 * wake.  Returns 0 or -EBADMSG. */
int queue_settle_locked(struct mp_obj *o, int idx, uint64_t k, int keep, int *what);
/* Is slot idx still the one with token (not reaped and reused)? */
int queue_slot_has(struct mp_obj *o, int idx, uint64_t token);
/* Slot s as info reports it. */
void queue_lease_info(const struct qslot *s, struct mp_queue_lease_info *li);

/* ---- queue-wait.c ---- */

/* Marks a change for getters (and joiners) and/or putters; locked. */
void queue_changed(struct mp_obj *o, int what);
/* Unlocks, then wakes the sleepers of the words changed. */
void queue_unlock_wake(struct mp_obj *o, int what);


/* The shared-memory store's implementation of the queue's operations
 * (queue.h, struct mp_queue_ops), listed in mp_shm_queue_ops in queue-kind.c. */
/* queue-info.c */
int shm_queue_info(struct mp_obj *o, struct mp_queue_info *qi, struct mp_queue_lease_info *leases, int max);
/* queue-kind.c */
int shm_queue_open(struct mp_store *s, const char *name, int create, const struct mp_queue_params *pp, int *created, struct mp_obj *o);
void shm_queue_get_params(const struct mp_obj *o, struct mp_queue_params *p);
/* queue-lease.c */
int shm_queue_settle(struct mp_obj *o, struct mp_queue_batch *b, uint32_t written, const struct mp_owner *lease_owner, int64_t ttl_ns, uint64_t *token);
int shm_queue_ack(struct mp_obj *o, const struct mp_queue_lease *l);
int shm_queue_requeue(struct mp_obj *o, const struct mp_queue_lease *l);
int shm_queue_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token, int force, struct mp_queue_lease_info *out);
/* queue-wait.c */
int shm_queue_put(struct mp_obj *o, const struct iovec *v, size_t n, int64_t deadline_ns, int nonblock, size_t *nput);
int shm_queue_take(struct mp_obj *o, const struct mp_queue_take_req *r, struct mp_queue_batch *b);
int shm_queue_get_lease(struct mp_obj *o, const struct mp_queue_get_req *r, void *buf, size_t cap, size_t *len, struct mp_queue_lease *lease);
int shm_queue_done(struct mp_obj *o, uint64_t n);
int shm_queue_join(struct mp_obj *o, int64_t deadline_ns, int nonblock);
int shm_queue_close(struct mp_obj *o);
int shm_queue_reopen(struct mp_obj *o);

#endif
