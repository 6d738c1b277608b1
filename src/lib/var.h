/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* var.h - the var kind: one shared value (a Manager().dict entry, a
 * Value), set, read, added to and waited on by unrelated processes.
 *
 * A variable is unset or holds 0..max_size bytes (binary-safe; max_size
 * fixed at creation, default 4 KiB, at most 1 MiB).  Its body has two
 * value buffers of max_size bytes: the published state names the one that
 * holds the value.  A change writes the new value into the other buffer
 * (invisible: nothing names it), then a journal record of the new state
 * (which buffer, length, set flag, version), marks the journal valid,
 * applies it and clears it.  So a process killed at any instruction
 * leaves either no valid journal (the old value, whole) or a valid one
 * that the next locker applies again (mp_var_kind.repair): the new value,
 * whole.  Never a mix of the two.
 *
 * Every change bumps the version and the header's seq and wakes every
 * waiter (wake-all: a wake-one could be lost to a SIGKILLed waiter).  A
 * wait re-checks its condition under the mutex after each wake, so a
 * change that makes the condition hold is never missed; a waiter's only
 * shared state is the nwait hint, so a waiter killed anywhere leaves
 * nothing the others depend on.
 *
 * Integers are decimal text: an optional '-' or '+', then 1..19 digits,
 * within signed 64 bits, nothing around them.  mp_var_add reads the value
 * that way and stores the sum as canonical decimal.
 */
#ifndef MP_VAR_H
#define MP_VAR_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define MP_VAR_DEFAULT_SIZE	4096
#define MP_VAR_MAX_SIZE		(1u << 20)

/* The state a change replaces, as one journal record. */
struct mp_var_state {
	uint32_t cur;		/* 0 or 1: the buffer that holds the value */
	uint32_t is_set;	/* 0 or 1 */
	uint64_t len;		/* bytes of the value, <= max_size */
	uint64_t version;	/* bumped by every change */
	int64_t set_ns;		/* CLOCK_REALTIME of the last change; 0: never */
};

struct mp_var {
	uint64_t max_size;	/* bytes of each buffer */
	uint32_t jr_valid;	/* 1: jr holds a change not yet fully applied */
	uint32_t flags;
	struct mp_var_state st;
	struct mp_var_state jr;
	uint64_t reserved[4];
	/* uint8_t buf[2][max_size]; */
};

extern const struct mp_kind mp_var_kind;

/* Opens variable NAME.  With create, a missing one is created unset with
 * max_size bytes (0: MP_VAR_DEFAULT_SIZE; more than MP_VAR_MAX_SIZE:
 * -EINVAL); *created (may be NULL) tells whether this call made it.  An
 * existing variable keeps its own size (mp_var_max_size).  0 or -errno
 * (see store.h). */
int mp_var_open(struct mp_store *s, const char *name, int create, uint64_t max_size,
		int *created, struct mp_obj *o);

/* The size limit of an open variable (validated at open). */
uint64_t mp_var_max_size(const struct mp_obj *o);

/* Copies the value into buf (cap >= mp_var_max_size(o), or -ENOBUFS) and
 * its length to *len.  Returns 1 (set), 0 (unset: *len = 0), -EIDRM or the
 * error of locking. */
int mp_var_get(struct mp_obj *o, void *buf, size_t cap, size_t *len);

/* Sets the value to v[0..len).  nx: only if the variable is unset.
 * Returns 0 (set), 1 (nx and it was set: nothing changed), -EMSGSIZE (len
 * over the limit: nothing changed, the sizes in mp_errmsg()), -EIDRM or
 * the error of locking. */
int mp_var_set(struct mp_obj *o, const void *v, size_t len, int nx);

/* Makes the variable unset.  Returns 0, 1 (it was unset already), -EIDRM
 * or the error of locking. */
int mp_var_unset(struct mp_obj *o);

/* Adds delta to the integer value; an unset variable counts as *init
 * (init NULL: 0).  *result gets the new value.  Returns 0, -EDOM (the
 * value is not an integer: nothing changed), -EOVERFLOW (the sum does not
 * fit in 64 bits: nothing changed), -EIDRM or the error of locking. */
int mp_var_add(struct mp_obj *o, int64_t delta, const int64_t *init, int64_t *result);

/* Compare-and-set: if the variable is set and equals old[0..oldlen), sets
 * it to nv[0..newlen).  Otherwise copies the current value to cur (cap >=
 * max_size; *curlen, *curset).  Returns 0 (swapped), 1 (not), -EMSGSIZE
 * (newlen over the limit), -EIDRM or the error of locking. */
int mp_var_cas(struct mp_obj *o, const void *old, size_t oldlen, const void *nv, size_t newlen,
	       void *cur, size_t cap, size_t *curlen, int *curset);

/* What a wait is for. */
enum mp_var_op {
	MP_VAR_EQ, MP_VAR_NE,	/* bytes equal / differ (unset differs) */
	MP_VAR_GE, MP_VAR_GT, MP_VAR_LE, MP_VAR_LT,	/* integers; a value that
							 * is not one never holds */
	MP_VAR_SET, MP_VAR_UNSET,
};

struct mp_var_cond {
	enum mp_var_op op;
	const void *v;		/* EQ, NE */
	size_t len;
	int64_t n;		/* GE ... LT */
};

/* Does the condition hold for value v[0..len) (is_set 0: unset)? */
int mp_var_cond_holds(const struct mp_var_cond *c, int is_set, const void *v, size_t len);

/* Returns at once if c holds, else sleeps until a change makes it hold,
 * the absolute CLOCK_MONOTONIC deadline_ns (0: forever) or a termination
 * signal; nonblock: do not sleep.  Returns 0, -EAGAIN (nonblock and it
 * does not hold), -ETIMEDOUT, -EINTR (see mp_signal_pending), -EIDRM
 * (removed, or its file unlinked), -EBADMSG (its file was truncated) or
 * the error of locking.  Leaves nothing behind but the nwait hint. */
int mp_var_wait(struct mp_obj *o, const struct mp_var_cond *c, int64_t deadline_ns, int nonblock);

/* How often a waiter checks that its file is still there and whole. */
#define MP_VAR_CHECK_NS	(1000 * 1000000LL)

struct mp_var_info {
	struct mp_var_state st;
	uint64_t max_size;
	uint32_t nwaiting;	/* the nwait hint */
	uint64_t generation;
	int64_t created_ns;
};

/* Copies the state, and the value into buf (cap >= max_size; NULL: not
 * the value).  Returns 1 (set), 0 (unset) or -errno. */
int mp_var_info(struct mp_obj *o, struct mp_var_info *vi, void *buf, size_t cap);

/* Parses v[0..len) as an integer (see the top of this file).  0 or
 * -EDOM. */
int mp_var_parse_int(const void *v, size_t len, int64_t *out);

/* Writes n in decimal to buf (at least 21 bytes); returns the length. */
size_t mp_var_format_int(int64_t n, char *buf);


/* The operations above, as a store implements them (store.h: the seam).
 * The functions above call the store's; mp_shm_var_ops is the
 * shared-memory store's. */
struct mp_var_ops {
	int (*open)(struct mp_store *s, const char *name, int create, uint64_t max_size, int *created, struct mp_obj *o);
	uint64_t (*max_size)(const struct mp_obj *o);
	int (*get)(struct mp_obj *o, void *buf, size_t cap, size_t *len);
	int (*set)(struct mp_obj *o, const void *v, size_t len, int nx);
	int (*unset)(struct mp_obj *o);
	int (*add)(struct mp_obj *o, int64_t delta, const int64_t *init, int64_t *result);
	int (*cas)(struct mp_obj *o, const void *old, size_t oldlen, const void *nv, size_t newlen, void *cur, size_t cap, size_t *curlen, int *curset);
	int (*wait)(struct mp_obj *o, const struct mp_var_cond *c, int64_t deadline_ns, int nonblock);
	int (*info)(struct mp_obj *o, struct mp_var_info *vi, void *buf, size_t cap);
};

extern const struct mp_var_ops mp_shm_var_ops;

#endif
