/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* event.h - the event kind: a level-triggered flag that wakes every waiter.
 *
 * An event is set or clear.  `set` and `clear` change it and wake every
 * process waiting on the object's seq word (wake-all: a wake-one could be
 * lost to a waiter that was SIGKILLed).  Each also bumps a counter, sets or
 * clears; those counters are what make waits lossless:
 *
 *   - a plain wait returns when the flag is set, or when a set happened
 *     since the wait began (so a set followed at once by a clear still
 *     releases everyone who was waiting, as Python's Event.wait does);
 *   - a --next wait records the number of sets when it begins and returns
 *     when it has changed: the next set after the call, even if the flag is
 *     set now; no set after the wait began can be missed;
 *   - --cleared is the same with the flag and counter of clear.
 *
 * A waiter's only shared state is its entry in the waiter table (pid +
 * start time, for info) and the nwait hint, so a waiter killed at any
 * instruction leaves the event usable: its entry is seen dead and freed.
 * set and clear change four words; they write the new values into a
 * journal first, so a setter killed midway is rolled forward by the next
 * process that takes the mutex (mp_event_kind.repair).
 */
#ifndef MP_EVENT_H
#define MP_EVENT_H

#include <stdint.h>

#include "owner.h"
#include "store.h"

#define MP_EVENT_WAITERS	1024	/* entries in the waiter table (32 KiB) */
#define MP_EVENT_WAIT_MAX	128	/* events in one wait (FUTEX_WAITV_MAX) */

/* What a wait is for (mp_event_wait flags, and shown by info). */
#define MP_EVENT_CLEARED	1u	/* the flag clear (or a clear), not set */
#define MP_EVENT_NEXT		2u	/* only a set (clear) after the call */
#define MP_EVENT_ALL		4u	/* several events: all of them, not any */

/* A process blocked in mp_event_wait; published by storing pid last. */
struct mp_event_waiter {
	int32_t pid;		/* 0: free entry */
	uint32_t flags;		/* MP_EVENT_CLEARED | MP_EVENT_NEXT */
	uint64_t start;		/* start time of pid (see owner.h) */
	uint64_t pidns;		/* pid namespace of the waiter */
	int64_t since_ns;	/* CLOCK_REALTIME when it began to wait */
};

/* The state that set and clear change, as one journal record. */
struct mp_event_state {
	uint32_t is_set;	/* 0 or 1 */
	uint32_t pad;
	uint64_t sets;		/* number of set calls ever */
	uint64_t clears;	/* number of clear calls ever */
	int64_t since_ns;	/* CLOCK_REALTIME when the flag took its value */
	int64_t set_ns;		/* CLOCK_REALTIME of the last set; 0: never */
	int64_t clear_ns;	/* CLOCK_REALTIME of the last clear; 0: never */
};

struct mp_event {
	struct mp_event_state st;
	uint32_t jr_valid;	/* 1: jr holds a change not yet fully applied */
	uint32_t nslots;	/* entries in the waiter table */
	struct mp_event_state jr;
	uint32_t overflow;	/* waiters that found the table full (a hint) */
	uint32_t flags;
	uint64_t reserved[4];
	/* struct mp_event_waiter slots[nslots]; */
};

extern const struct mp_kind mp_event_kind;

/* Opens event NAME, creating it (clear) when create is set.  0 or -errno
 * (see store.h). */
int mp_event_open(struct mp_store *s, const char *name, int create, struct mp_obj *o);

/* Sets / clears the flag, counts the call and wakes every waiter, also
 * when the flag already had that value (for --next waiters).
 * Returns 0, -EIDRM (the object was removed) or the error of locking. */
int mp_event_set(struct mp_obj *o);
int mp_event_clear(struct mp_obj *o);

/* Returns 1 if set, 0 if clear, or -errno (-EIDRM: removed). */
int mp_event_is_set(struct mp_obj *o);

/* Waits on the n (1..MP_EVENT_WAIT_MAX) open events objs[]: for any one
 * of them, or with MP_EVENT_ALL for every one, to be set (MP_EVENT_CLEARED:
 * clear), or with MP_EVENT_NEXT for a set (clear) after the call; see the
 * top of this file.  deadline_ns is an absolute CLOCK_MONOTONIC time (0:
 * forever); nonblock: do not wait.  Several events are waited on with one
 * futex_waitv(2) (Linux 5.16); without it, in slices of MP_EVENT_SLICE_NS.
 * Returns 0 with *fired the index of the first event that satisfied the
 * wait (with MP_EVENT_ALL: -1), -EAGAIN (nonblock and not yet),
 * -ETIMEDOUT, -EINTR (termination signal, see mp_signal_pending), -EIDRM
 * (one of them was removed, or its file unlinked: *fired is its index),
 * -EBADMSG (a file was truncated), or the error of locking.  Leaves
 * nothing behind in the objects, whatever the outcome. */
int mp_event_wait(struct mp_obj *objs, int n, unsigned flags, int64_t deadline_ns,
		  int nonblock, int *fired);

/* How often a wait on several events looks again without futex_waitv. */
#define MP_EVENT_SLICE_NS	(20 * 1000000LL)

/* How often a waiter checks that its event files are still there and
 * whole (an unlinked event is never set again: the waiter exits 66). */
#define MP_EVENT_CHECK_NS	(1000 * 1000000LL)

/* Nonzero makes mp_event_wait act as if futex_waitv(2) were missing
 * (tests only). */
extern int mp_event_no_waitv;

struct mp_event_info {
	struct mp_event_state st;
	uint32_t nwaiting;	/* live table entries + overflow */
	uint32_t overflow;	/* of which not in the table (a hint) */
	uint64_t generation;
	int64_t created_ns;
};

/* Copies the state, frees the table entries of dead waiters, and copies at
 * most max live waiters to w[] (oldest first).  Returns the number of live
 * table entries (may exceed max) or -errno. */
int mp_event_info(struct mp_obj *o, struct mp_event_info *ei, struct mp_event_waiter *w, int max);

/* The wait a table entry stands for, for display: "set", "clear",
 * "next set", "next clear". */
const char *mp_event_wait_name(uint32_t flags);


/* The operations above, as a store implements them (store.h: the seam).
 * The functions above call the store's; mp_shm_event_ops is the
 * shared-memory store's. */
struct mp_event_ops {
	int (*open)(struct mp_store *s, const char *name, int create, struct mp_obj *o);
	int (*set)(struct mp_obj *o);
	int (*clear)(struct mp_obj *o);
	int (*is_set)(struct mp_obj *o);
	int (*wait)(struct mp_obj *objs, int n, unsigned flags, int64_t deadline_ns, int nonblock, int *fired);
	int (*info)(struct mp_obj *o, struct mp_event_info *ei, struct mp_event_waiter *w, int max);
};

extern const struct mp_event_ops mp_shm_event_ops;

#endif
