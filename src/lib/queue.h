/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue.h - the queue kind: a bounded FIFO of binary messages whose
 * deliveries are reservations, so a consumer killed at any instruction
 * loses nothing.
 *
 * Layout.  The body is a struct mp_queue, a table of MP_QUEUE_SLOTS
 * reservation slots and a byte ring.  Positions in the ring are monotonic
 * u64 byte offsets (taken modulo the ring size); a record is
 * [u32 len][u32 state][payload], 8-byte aligned, its payload split at the
 * wrap.  head <= read <= tail:
 *   [head, read)  delivered records: reserved by a slot, acknowledged
 *                 (space not yet reclaimed because an older record is
 *                 still reserved) or handed back (redelivered before
 *                 anything else);
 *   [read, tail)  records never delivered.
 * A reservation taken at the read position is one run of records and is
 * known by its slot's span alone (its records stay unmarked, which keeps
 * streaming to one pass over the data); handed-back records taken again
 * are marked with their slot's number.
 *
 * Crash safety.  A put copies its records beyond tail, where nobody looks,
 * then commits.  Every commit goes through a journal: the complete new
 * scalar state plus up to four idempotent "records of state A in [x, y)
 * become B" steps and the slots to publish or free; the journal is marked
 * valid, applied, and cleared.  A process killed anywhere leaves either no
 * valid journal (nothing happened) or a valid one that the next locker
 * (EOWNERDEAD → mp_queue_kind.repair) applies again.
 *
 * Reservations.  A message being delivered belongs to a slot with an
 * owner: the getting process while it writes the message out, then (for
 * a lease) the lease owner until mp_queue_ack().  When the owner dies or
 * the lease's TTL runs out, the next process that would otherwise wait
 * (and every mp_queue_info) hands the messages back: they become the first
 * to be delivered again.
 *
 * Limits (fixed at creation): max_items messages and max_bytes payload
 * bytes held (waiting + in flight), max_msg bytes per message.  The ring
 * is sized so those limits, not the ring, decide when the queue is full
 * (except when acknowledged records are pinned behind an older lease).
 *
 * Every function returns 0 (or a count) or -errno, never prints or exits,
 * and is not async-signal-safe.  Common results:
 *   -EAGAIN      nonblock and it would wait
 *   -ETIMEDOUT   the deadline passed
 *   -EINTR       a termination signal arrived while waiting (nothing done)
 *   -EIDRM       the queue was removed (rm) while waiting
 *   -EBADMSG     the object is corrupt
 *   MP_QUEUE_CLOSED (-ESHUTDOWN)  put: the queue is closed
 *   MP_QUEUE_END (-ENODATA)       get: the queue is closed and drained
 */
#ifndef MP_QUEUE_H
#define MP_QUEUE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "owner.h"
#include "store.h"

#define MP_QUEUE_CLOSED		(-ESHUTDOWN)
#define MP_QUEUE_END		(-ENODATA)

/* Defaults for a queue created on first use. */
#define MP_QUEUE_DEF_MAX_ITEMS	16384
#define MP_QUEUE_DEF_MAX_BYTES	(1024 * 1024)
#define MP_QUEUE_DEF_MAX_MSG	(64 * 1024)
/* Upper bounds accepted at creation. */
#define MP_QUEUE_MAX_ITEMS	(1ULL << 30)
#define MP_QUEUE_MAX_BYTES	(1ULL << 36)

/* Reservations in flight at once (leases + deliveries being written).
 * When all are taken, getters wait as if the queue were empty. */
#define MP_QUEUE_SLOTS		512

extern const struct mp_kind mp_queue_kind;

struct mp_queue_params {
	uint64_t max_items;	/* 0: default */
	uint64_t max_bytes;	/* 0: default (at least max_msg) */
	uint64_t max_msg;	/* 0: default (at most max_bytes) */
};

/* Fills in the defaults of p and checks it: 1 <= max_items <=
 * MP_QUEUE_MAX_ITEMS, 1 <= max_msg <= max_bytes <= MP_QUEUE_MAX_BYTES.
 * Returns 0 or -EINVAL (the reason in mp_errmsg()). */
int mp_queue_params_fix(struct mp_queue_params *p);

/* Opens queue NAME.  With create, a missing queue is created with p
 * (NULL: defaults); *created (may be NULL) tells whether this call made it.
 * An existing queue keeps its own parameters (see mp_queue_get_params).
 * Returns 0 or -errno (see store.h). */
int mp_queue_open(struct mp_store *s, const char *name, int create,
		  const struct mp_queue_params *p, int *created, struct mp_obj *o);

/* The parameters of an open queue. */
void mp_queue_get_params(const struct mp_obj *o, struct mp_queue_params *p);

/* ---- put ---- */

/* Puts the messages v[0..n) in order, as many per lock hold as fit,
 * waiting while the queue is full (unless nonblock; deadline_ns is an
 * absolute CLOCK_MONOTONIC time, 0 = forever).  *nput (may be NULL) gets
 * how many were enqueued, also on failure: the ones before the failing
 * one stay enqueued.  Returns 0, -EMSGSIZE (v[*nput] is larger than
 * max_msg; nothing of it enqueued), MP_QUEUE_CLOSED, -EAGAIN, -ETIMEDOUT,
 * -EINTR, -EIDRM or another -errno. */
int mp_queue_put(struct mp_obj *o, const struct iovec *v, size_t n, int64_t deadline_ns,
		 int nonblock, size_t *nput);

/* ---- get with a lease (one message; what mpspawn --queue uses) ---- */

struct mp_queue_lease {
	uint64_t token;		/* unique per queue, > 0 */
	int32_t slot;		/* private */
	uint32_t count;		/* messages held by the lease */
};

struct mp_queue_get_req {
	struct mp_owner owner;	/* lease owner: pid 0 = nobody (until ack/TTL) */
	int64_t ttl_ns;		/* > 0: handed back after this long */
	int64_t deadline_ns;	/* absolute CLOCK_MONOTONIC; 0 = forever */
	int nonblock;
};

/* Takes the next message, waiting while the queue is empty, and leases it
 * to r->owner: it stays in the queue, in flight, until mp_queue_ack()
 * (or mp_queue_requeue()), and is delivered again first if the owner dies
 * or the TTL ends before that.  The message is copied to buf (cap >=
 * max_msg always suffices) and its length stored in *len.
 * Returns 0 (*lease filled), MP_QUEUE_END (closed and drained), -ENOBUFS
 * (cap is too small; nothing taken), -EAGAIN, -ETIMEDOUT, -EINTR, -EIDRM,
 * -EBADMSG. */
int mp_queue_get_lease(struct mp_obj *o, const struct mp_queue_get_req *r, void *buf,
		       size_t cap, size_t *len, struct mp_queue_lease *lease);

/* Acknowledges a lease: its messages leave the queue for good.
 * Returns 0, or -ENOENT if the lease is gone (TTL ended or the owner was
 * judged dead, and its messages were handed back). */
int mp_queue_ack(struct mp_obj *o, const struct mp_queue_lease *lease);

/* Hands a leased message back now: it is the next to be delivered.
 * Returns 0 or -ENOENT (the lease is gone). */
int mp_queue_requeue(struct mp_obj *o, const struct mp_queue_lease *lease);

/* ---- task_done / join / close ---- */

/* task_done n times: lowers the count of unfinished messages (raised by
 * every put).  Returns 0, or -ERANGE if n is more than are unfinished
 * (nothing changed), as Python's ValueError. */
int mp_queue_done(struct mp_obj *o, uint64_t n);

/* Waits until every message put has been marked done.  Returns 0,
 * -EAGAIN, -ETIMEDOUT, -EINTR, -EIDRM. */
int mp_queue_join(struct mp_obj *o, int64_t deadline_ns, int nonblock);

/* Closes the queue: later puts fail with MP_QUEUE_CLOSED, gets drain what
 * is left and then return MP_QUEUE_END.  Closing twice is not an error.
 * Returns 0 or -errno. */
int mp_queue_close(struct mp_obj *o);

/* Opens a closed queue again: puts are taken again, and getters wait for
 * messages instead of ending.  Reopening an open queue is not an error.
 * Returns 0 or -errno. */
int mp_queue_reopen(struct mp_obj *o);

/* ---- state ---- */

struct mp_queue_lease_info {
	uint64_t token;
	uint32_t count;		/* messages */
	uint32_t leased;	/* 1: a lease; 0: a get writing them out */
	uint64_t bytes;		/* their payload bytes */
	int64_t since_ns;	/* CLOCK_REALTIME when taken */
	int64_t expires_ns;	/* CLOCK_MONOTONIC end of the TTL; 0: none */
	struct mp_owner owner;	/* the lease owner, or the getting process */
};

struct mp_queue_info {
	struct mp_queue_params params;
	uint64_t ring_size;	/* bytes of the ring */
	uint64_t ring_used;	/* ring bytes in use (tail - head) */
	uint64_t items;		/* messages waiting (not in flight) */
	uint64_t bytes;		/* their payload bytes */
	uint64_t in_flight;	/* messages reserved (leased or being written) */
	uint64_t in_flight_bytes;
	uint64_t unfinished;	/* put and not yet marked done */
	uint64_t puts, acks;	/* messages ever put / ever removed by a get */
	uint64_t redelivered;	/* messages handed back from dead owners, TTLs */
	uint32_t closed;
	uint32_t getters;	/* processes waiting to get or join (hint) */
	uint32_t putters;	/* processes waiting for space (hint) */
	uint32_t nleases;	/* reservations in flight */
	uint64_t generation;
	int64_t created_ns, changed_ns;
};

/* Hands back what dead owners and ended TTLs hold, then copies the state
 * and at most max reservations (oldest first) to leases[].  Returns the
 * number of reservations (may exceed max) or -errno. */
int mp_queue_info(struct mp_obj *o, struct mp_queue_info *qi,
		  struct mp_queue_lease_info *leases, int max);

/* ---- the command line's own calls ---- */

/* The messages ended by sep in buf[*pos..len), up to vmax of them, into
 * v (pointing into buf); *pos moves past the last one's separator.  What
 * is left from *pos on is an unfinished message.  Returns how many. */
size_t mp_queue_split(const char *buf, size_t len, unsigned char sep, size_t *pos,
		      struct iovec *v, size_t vmax);

/* A batch of messages reserved by one process for writing out, formatted
 * for output: each message followed by sep (sep < 0: nothing). */
struct mp_queue_batch {
	char *buf;		/* the formatted messages (malloc'd, grows) */
	size_t len, cap;
	uint32_t count;		/* messages in buf */
	size_t *ends;		/* ends[i]: offset in buf after message i */
	uint32_t ends_cap;
	/* private */
	int32_t slot;
	uint64_t token;
	int pending;		/* a reservation is held */
};

/* Frees b's memory (not its reservation). */
void mp_queue_batch_free(struct mp_queue_batch *b);

/* Grows b to hold bytes of formatted messages and count ends (for the
 * stores' take).  0 or -ENOMEM. */
int mp_queue_batch_reserve(struct mp_queue_batch *b, size_t bytes, uint32_t count);

struct mp_queue_take_req {
	uint32_t max_count;	/* at most this many messages (>= 1) */
	size_t max_bytes;	/* and this many payload bytes, except that one
				 * message is always taken whatever its size */
	int sep;		/* byte after each message; < 0: none */
	int64_t deadline_ns;	/* for the first message; 0 = forever */
	int nonblock;		/* do not wait for the first message */
};

/* Acknowledges b's previous reservation, if any (all of it: it was
 * written), then reserves up to r->max_count waiting messages for this
 * process, waiting for the first one as mp_queue_get_lease() does (the
 * others only if they are there already), and formats them into b.  Returns the number taken (>= 1), MP_QUEUE_END,
 * -EAGAIN, -ETIMEDOUT, -EINTR, -EIDRM, -EBADMSG, -ENOMEM. */
int mp_queue_take(struct mp_obj *o, const struct mp_queue_take_req *r,
		  struct mp_queue_batch *b);

/* Ends b's reservation after writing: the first `written` messages are
 * acknowledged (or, with lease_owner != NULL, become a lease of that owner
 * with ttl_ns, whose token is stored in *token); the rest are handed back
 * to the head of the queue.  Returns 0 or -errno (-ENOENT: the reservation
 * was taken back meanwhile, e.g. rm). */
int mp_queue_settle(struct mp_obj *o, struct mp_queue_batch *b, uint32_t written,
		    const struct mp_owner *lease_owner, int64_t ttl_ns, uint64_t *token);

/* ack NAME [TOKEN]: acknowledges the lease with token (token 0: the
 * oldest lease of `who`; with force, the oldest lease of anybody).  A
 * lease with no owner (pid 0) may be acked by anyone.  On success copies
 * the lease to *out (may be NULL).  Returns 0, -EPERM (leases exist, but
 * none of who's / token is not who's), -ENOENT (no such lease). */
int mp_queue_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token,
		       int force, struct mp_queue_lease_info *out);


/* The operations above, as a store implements them (store.h: the seam).
 * The functions above call the store's; mp_shm_queue_ops is the
 * shared-memory store's. */
struct mp_queue_ops {
	int (*open)(struct mp_store *s, const char *name, int create, const struct mp_queue_params *p, int *created, struct mp_obj *o);
	void (*get_params)(const struct mp_obj *o, struct mp_queue_params *p);
	int (*put)(struct mp_obj *o, const struct iovec *v, size_t n, int64_t deadline_ns, int nonblock, size_t *nput);
	int (*get_lease)(struct mp_obj *o, const struct mp_queue_get_req *r, void *buf, size_t cap, size_t *len, struct mp_queue_lease *lease);
	int (*ack)(struct mp_obj *o, const struct mp_queue_lease *lease);
	int (*requeue)(struct mp_obj *o, const struct mp_queue_lease *lease);
	int (*done)(struct mp_obj *o, uint64_t n);
	int (*join)(struct mp_obj *o, int64_t deadline_ns, int nonblock);
	int (*close)(struct mp_obj *o);
	int (*info)(struct mp_obj *o, struct mp_queue_info *qi, struct mp_queue_lease_info *leases, int max);
	int (*take)(struct mp_obj *o, const struct mp_queue_take_req *r, struct mp_queue_batch *b);
	int (*settle)(struct mp_obj *o, struct mp_queue_batch *b, uint32_t written, const struct mp_owner *lease_owner, int64_t ttl_ns, uint64_t *token);
	int (*ack_owner)(struct mp_obj *o, const struct mp_owner *who, uint64_t token, int force, struct mp_queue_lease_info *out);
	int (*reopen)(struct mp_obj *o);
};

extern const struct mp_queue_ops mp_shm_queue_ops;

#endif
