/* queue.c - the queue kind: byte ring, journal, reservations; see queue.h. */
#include "config.h"

#include "clock.h"
#include "err.h"
#include "fault.h"
#include "futex.h"
#include "obj.h"
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QREC_READY	0u
#define QREC_ACKED	0xffffffffu
#define QREC_HDR	8u

#define QS_CONTIG	1u	/* every record in [start, end) belongs to the slot and
				 * is left unmarked (QREC_READY): see slot_mark() */
#define QS_LEASED	2u	/* owner (not holder) decides; published last */

/* Per lock hold: bounds the time others wait for the mutex. */
#define PUT_BATCH_BYTES	(256 * 1024)
#define PUT_BATCH_COUNT	16384

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

/* Copies len bytes of payload starting at ring offset off (wrapping). */
static void ring_get(struct mp_obj *o, uint64_t off, void *dst, size_t len)
{
	uint64_t rs = RSIZE(o), first = rs - off;
	char *r = ring_of(o);

	if (len <= first) {
		memcpy(dst, r + off, len);
	} else {
		memcpy(dst, r + off, first);
		memcpy((char *)dst + first, r, len - first);
	}
}

static void ring_put(struct mp_obj *o, uint64_t off, const void *src, size_t len)
{
	uint64_t rs = RSIZE(o), first = rs - off;
	char *r = ring_of(o);

	if (len <= first) {
		memcpy(r + off, src, len);
	} else {
		memcpy(r + off, src, first);
		memcpy(r, (const char *)src + first, len - first);
	}
}

/* memcpy for the short messages of a stream, where a call costs more than
 * the copy: overlapping loads and stores, within [0, n) on both sides. */
static inline void copy_small(char *d, const char *src, size_t n)
{
	if (n > 16) {
		memcpy(d, src, n);
	} else if (n >= 8) {
		uint64_t a, b;
		memcpy(&a, src, 8);
		memcpy(&b, src + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, src, 4);
		memcpy(&b, src + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else if (n) {
		d[0] = src[0];
		d[n / 2] = src[n / 2];
		d[n - 1] = src[n - 1];
	}
}

static inline uint64_t wrap(struct mp_obj *o, uint64_t off)
{
	return off >= RSIZE(o) ? off - RSIZE(o) : off;
}

#define BARRIER()	__asm__ __volatile__("" ::: "memory")

/* ---- journal ---- */

static int corrupt(struct mp_obj *o, const char *what)
{
	mp_errmsg_set("'%s' is corrupt: %s", mp_obj_path(o), what);
	return -EBADMSG;
}

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

static void apply_journal(struct mp_obj *o)
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

/* A commit under construction (in private memory until commit()). */
struct txn {
	struct qstate st;
	uint32_t nsteps, nslotops;
	struct qstep step[J_STEPS];
	struct qslotop slotop[J_SLOTOPS];
};

static void txn_begin(struct mp_obj *o, struct txn *t)
{
	t->st = Q(o)->st;
	t->nsteps = 0;
	t->nslotops = 0;
}

static void txn_step(struct txn *t, uint32_t from, uint32_t to, uint64_t x, uint64_t y)
{
	if (x < y && from != to)
		t->step[t->nsteps++] = (struct qstep){ from, to, x, y };
}

static void txn_slot(struct txn *t, int idx, uint32_t used, uint32_t flags, uint64_t start,
		     uint64_t end, uint64_t count, uint64_t bytes)
{
	t->slotop[t->nslotops++] = (struct qslotop){ .idx = idx, .used = used, .flags = flags,
		.start = start, .end = end, .count = count, .bytes = bytes };
}

/* Writes the journal, marks it valid, applies it, clears it.  A process
 * killed before `valid` changed nothing visible (a put's records lie
 * beyond tail); killed after it, the next locker applies the journal
 * again, which gives the same result however far the first attempt got. */
static void commit(struct mp_obj *o, const struct txn *t)
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
	apply_journal(o);
	MP_FAULT_POINT("queue.commit.applied");
	BARRIER();
	__atomic_store_n(&j->valid, 0, __ATOMIC_SEQ_CST);
	BARRIER();
}

/* ---- the kind ---- */

static void repair(struct mp_obj *o)
{
	struct qjournal *j = &Q(o)->jr;

	if (j->valid) {
		apply_journal(o);
		BARRIER();
		__atomic_store_n(&j->valid, 0, __ATOMIC_SEQ_CST);
	}
	/* sync.c bumps seq; putters sleep on seq2. */
	__atomic_add_fetch(&o->hdr->seq2, 1, __ATOMIC_RELEASE);
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
		return corrupt(o, "impossible ring positions or counters");
	return 0;
}

static void revert_all(struct mp_obj *o);

static void reset(struct mp_obj *o)
{
	/* After a reboot nobody holds anything: roll a pending journal
	 * forward, then hand every reservation back. */
	if (Q(o)->jr.valid) {
		apply_journal(o);
		Q(o)->jr.valid = 0;
	}
	if (state_ok(o) == 0)
		revert_all(o);
}

static int validate(struct mp_obj *o)
{
	struct mp_queue *q = Q(o);
	struct mp_queue_params p;
	uint64_t rs, ns, off;

	if (o->body_size < sizeof(struct mp_queue))
		return corrupt(o, "too small for a queue");
	rs = q->ring_size, ns = q->nslots, off = q->ring_off;
	p.max_items = q->max_items;
	p.max_bytes = q->max_bytes;
	p.max_msg = q->max_msg;
	if (p.max_items < 1 || p.max_items > MP_QUEUE_MAX_ITEMS || p.max_msg < 1 ||
	    p.max_msg > p.max_bytes || p.max_bytes > MP_QUEUE_MAX_BYTES ||
	    rs != ring_for(&p) || ns != nslots_for(&p) || off != ring_offset((uint32_t)ns) ||
	    off + rs != o->body_size)
		return corrupt(o, "bad queue geometry");
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

int mp_queue_open(struct mp_store *s, const char *name, int create,
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

void mp_queue_get_params(const struct mp_obj *o, struct mp_queue_params *p)
{
	p->max_items = MAXITEMS(o);
	p->max_bytes = MAXBYTES(o);
	p->max_msg = MAXMSG(o);
}

/* ---- locking and waking ---- */

/* Locks o and checks it is still there and sane. */
static int qlock(struct mp_obj *o)
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

enum { WAKE_GET = 1, WAKE_PUT = 2 };

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
	return qlock(o);
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
static int span_ok(struct mp_obj *o, const struct qslot *s)
{
	const struct qstate *st = &Q(o)->st;

	if (s->start > s->end || s->start < st->head || s->end > st->read ||
	    ((s->start | s->end) & 7))
		return corrupt(o, "impossible reservation span");
	return 0;
}

/* Hands back every record of slot idx and frees it.  Locked; commits. */
static int revert_slot(struct mp_obj *o, int idx, int redelivered)
{
	struct qslot *s = &slots_of(o)[idx];
	struct txn t;

	if (span_ok(o, s))
		return -EBADMSG;
	txn_begin(o, &t);
	txn_step(&t, slot_mark(s, idx), QREC_READY, s->start, s->end);
	txn_slot(&t, idx, 0, 0, 0, 0, 0, 0);
	if (s->count > t.st.n_flight || s->bytes > t.st.b_flight)
		return corrupt(o, "reservation larger than what is in flight");
	t.st.n_flight -= s->count;
	t.st.b_flight -= s->bytes;
	t.st.n_redo += s->count;
	t.st.b_redo += s->bytes;
	t.st.nslots_used--;
	if (redelivered)
		t.st.redelivered += s->count;
	commit(o, &t);
	return 0;
}

static void revert_all(struct mp_obj *o)
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
			return corrupt(o, "record longer than --max-msg");
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
			return corrupt(o, "record longer than --max-msg");
		if (!(r->state == QREC_ACKED ||
		      (pos >= x && pos < y && (contig || r->state == (uint32_t)idx + 1))))
			break;
		pos += rec_size(r->len);
	}
	if (pos > read)
		return corrupt(o, "record crosses the read position");
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

	if (span_ok(o, s))
		return -EBADMSG;
	if (k > s->count)
		k = s->count;
	rc = slot_split(o, idx, k, &p, &bk);
	if (rc)
		return rc;
	nrest = s->count - k;
	brest = s->bytes - bk;
	if (s->bytes < bk)
		return corrupt(o, "reservation byte count");
	/* getters may wait for a free slot, or (closed) for the last
	 * messages in flight to settle before they end */
	if (Q(o)->st.nslots_used >= NSLOTS(o) || Q(o)->st.closed)
		*what |= WAKE_GET;
	txn_begin(o, &t);
	/* hand back first: the ack step below must not see them */
	txn_step(&t, slot_mark(s, idx), QREC_READY, p, s->end);
	t.st.n_redo += nrest;
	t.st.b_redo += brest;
	if (nrest)
		*what |= WAKE_GET;
	if (keep && k) {
		txn_slot(&t, idx, 1, s->flags, s->start, p, k, bk);
		t.st.n_flight -= nrest;
		t.st.b_flight -= brest;
	} else {
		if (k) {
			rc = new_head(o, t.st.head, t.st.read, idx, s->start, p, &t.st.head);
			if (rc)
				return rc;
			/* records that head passes need no mark */
			if (t.st.head < p)
				txn_step(&t, slot_mark(s, idx), QREC_ACKED, s->start, p);
			*what |= WAKE_PUT;
		}
		txn_slot(&t, idx, 0, 0, 0, 0, 0, 0);
		t.st.n_flight -= s->count;
		t.st.b_flight -= s->bytes;
		t.st.acks += k;
		t.st.nslots_used--;
	}
	commit(o, &t);
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

/* Copies as many of v[*i..n) as fit (and as a lock hold allows) beyond
 * tail and commits them.  Returns how many, 0 if the queue is full. */
static size_t put_some(struct mp_obj *o, const struct iovec *v, size_t n, size_t i)
{
	struct qstate *s = &Q(o)->st;
	uint64_t held = s->n_tail + s->n_redo + s->n_flight;
	uint64_t bheld = s->b_tail + s->b_redo + s->b_flight;
	uint64_t pos = s->tail, off = s->tail % RSIZE(o), limit = s->head + RSIZE(o);
	uint64_t nb = 0, k = 0, maxitems = MAXITEMS(o), maxbytes = MAXBYTES(o);
	char *ring = ring_of(o);
	struct txn t;

	while (i + k < n && k < PUT_BATCH_COUNT && nb < PUT_BATCH_BYTES) {
		uint64_t len = v[i + k].iov_len, sz = rec_size(len);
		struct qrec *r;

		if (held + k + 1 > maxitems || bheld + nb + len > maxbytes || pos + sz > limit)
			break;
		r = (struct qrec *)(ring + off);
		r->len = (uint32_t)len;
		r->state = QREC_READY;
		uint64_t poff = wrap(o, off + QREC_HDR);
		if (poff + len <= RSIZE(o))
			copy_small(ring + poff, v[i + k].iov_base, len);
		else
			ring_put(o, poff, v[i + k].iov_base, len);
		pos += sz;
		off = wrap(o, off + sz);
		nb += len;
		k++;
	}
	if (!k)
		return 0;
	MP_FAULT_POINT("queue.put.copied");
	txn_begin(o, &t);
	t.st.tail = pos;
	t.st.n_tail += k;
	t.st.b_tail += nb;
	t.st.unfinished += k;
	t.st.puts += k;
	commit(o, &t);
	return k;
}

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
	rc = qlock(o);
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
		k = put_some(o, v, n, i);
		if (k) {
			i += k;
			if (nput)
				*nput = i;
			changed(o, WAKE_GET);
			if (i == n)
				break;
			/* let getters in between two batches */
			unlock_wake(o, WAKE_GET);
			rc = qlock(o);
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

/* Copies a record's payload (at ring offset off) out. */
static inline void payload_get(struct mp_obj *o, uint64_t off, char *dst, uint64_t len)
{
	if (off + len <= RSIZE(o))
		copy_small(dst, ring_of(o) + off, len);
	else
		ring_get(o, off, dst, len);
}

/* A reservation's records in [head, read), sorted: the redelivery scan
 * must not take the unmarked records of contiguous reservations. */
struct span {
	uint64_t start, end;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Returns how many, or -EBADMSG if a span is impossible. */
static int contig_spans(struct mp_obj *o, struct span *sp)
{
	struct qslot *sl = slots_of(o);
	int n = 0;

	for (uint32_t i = 0; i < NSLOTS(o); i++)
		if (sl[i].used && (sl[i].flags & QS_CONTIG)) {
			if (span_ok(o, &sl[i]))
				return -EBADMSG;
			sp[n++] = (struct span){ sl[i].start, sl[i].end };
		}
	if (n)
		qsort(sp, (size_t)n, sizeof *sp, cmp_span);
	return n;
}

/* Appends one message to b. */
static inline void batch_add(struct mp_obj *o, struct mp_queue_batch *b, size_t *outlen,
			     uint64_t k, uint64_t off, uint64_t len, int sep)
{
	payload_get(o, wrap(o, off + QREC_HDR), b->buf + *outlen, len);
	*outlen += len;
	if (sep >= 0)
		b->buf[(*outlen)++] = (char)sep;
	b->ends[k] = *outlen;
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
	uint64_t pos, end, off, x, y = 0, nb = 0, k = 0, maxmsg = MAXMSG(o);
	char *ring = ring_of(o);
	size_t outlen = 0;
	int redo = st->n_redo > 0, idx;
	struct qslot *s;
	struct txn t;

	if (st->n_redo + st->n_tail == 0)
		return 0;
	idx = free_slot(o);
	if (idx < 0)
		return 0;
	if (!redo) {
		/* the hot path: one run from the read position */
		pos = x = st->read;
		end = st->tail;
		off = pos % RSIZE(o);
		while (pos < end && k < r->max_count) {
			struct qrec *rec = (struct qrec *)(ring + off);
			uint64_t len = rec->len, sz = rec_size(len);

			if (len > maxmsg || pos + sz > end || rec->state != QREC_READY)
				return corrupt(o, "bad record after the read position");
			if (k && nb + len > r->max_bytes)
				break;
			batch_add(o, b, &outlen, k, off, len, r->sep);
			nb += len;
			k++;
			pos += sz;
			off = wrap(o, off + sz);
		}
		y = pos;
	} else {
		/* the handed-back records, oldest first, skipping the runs of
		 * contiguous reservations; one run of our own only, so that
		 * the READY -> slot step cannot touch theirs */
		struct span spans[MP_QUEUE_SLOTS];
		int nsp = contig_spans(o, spans), si = 0;

		if (nsp < 0)
			return nsp;

		pos = st->head;
		end = st->read;
		x = 0;
		off = pos % RSIZE(o);
		while (pos < end && k < r->max_count) {
			struct qrec *rec;
			uint64_t len, sz;

			while (si < nsp && spans[si].end <= pos)
				si++;
			if (si < nsp && spans[si].start <= pos) {
				if (k || spans[si].end > end || spans[si].start != pos)
					break;
				pos = spans[si].end;
				off = pos % RSIZE(o);
				continue;
			}
			rec = (struct qrec *)(ring + off);
			len = rec->len;
			sz = rec_size(len);
			if (len > maxmsg || pos + sz > end)
				return corrupt(o, "bad record before the read position");
			if (rec->state == QREC_READY) {
				if (k && nb + len > r->max_bytes)
					break;
				if (!k)
					x = pos;
				batch_add(o, b, &outlen, k, off, len, r->sep);
				nb += len;
				k++;
				y = pos + sz;
				if (k == st->n_redo)
					break;	/* no more READY ones before read */
			}
			pos += sz;
			off = wrap(o, off + sz);
		}
		if (!k)
			return corrupt(o, "handed-back records missing");
	}
	if (!k)
		return 0;

	/* the slot is free: fill it privately, publish it in the commit */
	s = &slots_of(o)[idx];
	s->token = ++st->last_token;	/* a lost token number is harmless */
	s->since_ns = mp_realtime_ns();
	s->expires_ns = lease_owner && ttl_ns > 0 ? mp_now_ns() + ttl_ns : 0;
	s->holder = *holder;
	if (lease_owner)
		s->owner = *lease_owner;
	else
		memset(&s->owner, 0, sizeof s->owner);

	txn_begin(o, &t);
	if (redo)
		txn_step(&t, QREC_READY, (uint32_t)idx + 1, x, y);
	txn_slot(&t, idx, 1, (redo ? 0 : QS_CONTIG) | (lease_owner ? QS_LEASED : 0), x, y, k, nb);
	if (redo) {
		t.st.n_redo -= k;
		t.st.b_redo -= nb;
	} else {
		t.st.read = y;
		t.st.n_tail -= k;
		t.st.b_tail -= nb;
	}
	t.st.n_flight += k;
	t.st.b_flight += nb;
	t.st.nslots_used++;
	commit(o, &t);

	b->len = outlen;
	b->count = (uint32_t)k;
	b->slot = idx;
	b->token = s->token;
	b->pending = 1;
	return (int)k;
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
			rc = qlock(o);
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
	rc = qlock(o);
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
	rc = qlock(o);
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
	rc = qlock(o);
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

	rc = qlock(o);
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

	rc = qlock(o);
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
	int rc = qlock(o);

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
	txn_begin(o, &t);
	t.st.unfinished -= n;
	commit(o, &t);
	changed(o, WAKE_GET);
	unlock_wake(o, WAKE_GET);
	return 0;
}

int mp_queue_join(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	int rc = qlock(o), slice_over;

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
	int rc = qlock(o);

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

	rc = qlock(o);
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
