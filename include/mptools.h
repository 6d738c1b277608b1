/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mptools.h - libmptools: the objects of mplock, mpsem, mpevent, mpqueue
 * and mpvar for C programs.  See mptools(3).
 *
 * A C program and a shell script that name the same object in the same
 * store use one object: a lock taken here excludes `mplock run`, a message
 * put here is what `mpqueue get` prints.
 *
 * Conventions:
 *   - every function that can fail returns 0 (or a documented count or
 *     answer >= 0) or a negative errno value, and leaves a sentence for
 *     mpt_errmsg();
 *   - store: a directory, redis://... or unix://... (as --store); NULL or
 *     "": $MP_STORE, else $MP_DIR, else /dev/shm/mptools-UID;
 *   - timeout: seconds; < 0 waits for ever, 0 does not wait (-EAGAIN when
 *     it would), > 0 waits at most that long (-ETIMEDOUT);
 *   - holds (a lock, a slot, a leased message) are owned by the calling
 *     process and are given back when it dies, as the tools' are;
 *   - a handle is used by one thread at a time; handles are independent.
 */
#ifndef MPTOOLS_H
#define MPTOOLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MPT_API __attribute__((visibility("default")))
#else
#define MPT_API
#endif

/* open flags */
#define MPT_EXISTING	1u	/* do not create: -ENOENT when missing */
/* lock flags */
#define MPT_SHARED	1u	/* a shared (read) hold */

/* The reason of the calling thread's last failure ("" if none). */
MPT_API const char *mpt_errmsg(void);
/* The library's version, "0.1.0". */
MPT_API const char *mpt_version(void);

/* ---- locks (mplock) ---- */
typedef struct mpt_lock mpt_lock;

MPT_API int mpt_lock_open(mpt_lock **l, const char *store, const char *name, unsigned flags);
/* Takes the lock (flags: MPT_SHARED), waiting in FIFO order.  0, -EAGAIN,
 * -ETIMEDOUT, -EDEADLK (this handle or process holds it already),
 * -EINTR, -EIDRM (removed), or another -errno. */
MPT_API int mpt_lock_acquire(mpt_lock *l, unsigned flags, double timeout);
/* Releases this handle's hold.  0, -ENOLCK (not held by this handle),
 * -ENOENT (taken back meanwhile: rm or release --force). */
MPT_API int mpt_lock_release(mpt_lock *l);
/* Holds the lock while fn(arg) runs; *result (may be NULL) gets its
 * value.  0 or the error of acquire. */
MPT_API int mpt_lock_run(mpt_lock *l, unsigned flags, double timeout,
			 int (*fn)(void *arg), void *arg, int *result);
/* 1 locked (by anyone), 0 not, or -errno. */
MPT_API int mpt_lock_is_locked(mpt_lock *l);
/* The fencing token of this handle's hold (0 when not held). */
MPT_API uint64_t mpt_lock_token(const mpt_lock *l);
/* Releases a hold still taken and frees the handle (every mpt_*_free does
 * so for its kind; NULL is allowed). */
MPT_API void mpt_lock_free(mpt_lock *l);

/* ---- semaphores (mpsem) ---- */
typedef struct mpt_sem mpt_sem;

/* slots: the number of slots when this call creates it (0: 1). */
MPT_API int mpt_sem_open(mpt_sem **s, const char *store, const char *name, unsigned slots,
			 unsigned flags);
/* Takes one slot.  As mpt_lock_acquire. */
MPT_API int mpt_sem_acquire(mpt_sem *s, double timeout);
/* Gives back the slot this handle took last; with none, a slot held with
 * no owner (mpsem create --value, acquire --owner none).  0 or -ENOLCK
 * (nothing to give back). */
MPT_API int mpt_sem_release(mpt_sem *s);
/* Free slots now, or -errno. */
MPT_API int mpt_sem_value(mpt_sem *s);
MPT_API unsigned mpt_sem_slots(const mpt_sem *s);
MPT_API void mpt_sem_free(mpt_sem *s);

/* ---- events (mpevent) ---- */
typedef struct mpt_event mpt_event;

MPT_API int mpt_event_open(mpt_event **e, const char *store, const char *name, unsigned flags);
MPT_API int mpt_event_set(mpt_event *e);
MPT_API int mpt_event_clear(mpt_event *e);
/* 1 set, 0 clear, or -errno. */
MPT_API int mpt_event_is_set(mpt_event *e);
/* Returns at once if set, else when set: 0, -EAGAIN, -ETIMEDOUT, -EIDRM. */
MPT_API int mpt_event_wait(mpt_event *e, double timeout);
MPT_API void mpt_event_free(mpt_event *e);

/* ---- queues (mpqueue) ---- */
typedef struct mpt_queue mpt_queue;

/* max_items, max_bytes, max_msg: the limits when this call creates it
 * (0: mpqueue's defaults); an existing queue keeps its own. */
MPT_API int mpt_queue_open(mpt_queue **q, const char *store, const char *name,
			   uint64_t max_items, uint64_t max_bytes, uint64_t max_msg,
			   unsigned flags);
/* The largest message: a get buffer of this size always suffices. */
MPT_API uint64_t mpt_queue_max_msg(const mpt_queue *q);
MPT_API uint64_t mpt_queue_max_items(const mpt_queue *q);
/* Puts one message, waiting while the queue is full.  0, -EAGAIN,
 * -ETIMEDOUT, -ESHUTDOWN (closed), -EMSGSIZE (over max_msg), -EIDRM. */
MPT_API int mpt_queue_put(mpt_queue *q, const void *msg, size_t len, double timeout);
/* Takes the next message into buf, waiting while the queue is empty;
 * *len gets its length.  0, -ENODATA (closed and drained), -ENOBUFS (cap
 * too small for this message: nothing taken), -EAGAIN,
 * -ETIMEDOUT, -EIDRM. */
MPT_API int mpt_queue_get(mpt_queue *q, void *buf, size_t cap, size_t *len, double timeout);
/* As mpt_queue_get, but the message stays in the queue, in flight and
 * owned by this process, until mpt_queue_ack(q, *token); if the process
 * dies first it is delivered again. */
MPT_API int mpt_queue_get_lease(mpt_queue *q, void *buf, size_t cap, size_t *len,
				double timeout, uint64_t *token);
/* 0, -ENOENT (no such lease of this process: taken back already). */
MPT_API int mpt_queue_ack(mpt_queue *q, uint64_t token);
/* task_done: 0 or -ERANGE (more than were put). */
MPT_API int mpt_queue_task_done(mpt_queue *q);
/* Waits until every message put was marked done: 0, -EAGAIN, -ETIMEDOUT. */
MPT_API int mpt_queue_join(mpt_queue *q, double timeout);
/* Later puts fail with -ESHUTDOWN; gets drain, then -ENODATA. */
MPT_API int mpt_queue_close(mpt_queue *q);
/* Messages waiting (not in flight), or -errno. */
MPT_API int64_t mpt_queue_size(mpt_queue *q);
/* 1 if a put would wait now, 0 if not, or -errno. */
MPT_API int mpt_queue_full(mpt_queue *q);
MPT_API void mpt_queue_free(mpt_queue *q);

/* ---- shared values (mpvar) ---- */
typedef struct mpt_var mpt_var;

/* max_size: the size limit when this call creates it (0: 4 KiB). */
MPT_API int mpt_var_open(mpt_var **v, const char *store, const char *name, uint64_t max_size,
			 unsigned flags);
MPT_API uint64_t mpt_var_max_size(const mpt_var *v);
/* 1 set (value in buf, length in *len), 0 unset, -ENOBUFS (cap below
 * max_size), -errno. */
MPT_API int mpt_var_get(mpt_var *v, void *buf, size_t cap, size_t *len);
/* 0, -EMSGSIZE. */
MPT_API int mpt_var_set(mpt_var *v, const void *val, size_t len);
MPT_API int mpt_var_unset(mpt_var *v);
/* Adds delta to the integer value (unset: 0); *result (may be NULL) gets
 * the new value.  0, -EDOM (not an integer), -EOVERFLOW. */
MPT_API int mpt_var_add(mpt_var *v, int64_t delta, int64_t *result);

/* what mpt_var_wait waits for */
enum mpt_var_op {
	MPT_VAR_EQ, MPT_VAR_NE,			/* bytes equal / differ */
	MPT_VAR_GE, MPT_VAR_GT, MPT_VAR_LE, MPT_VAR_LT,	/* integers, against n */
	MPT_VAR_SET, MPT_VAR_UNSET,
};
/* Returns when the condition holds: 0, -EAGAIN, -ETIMEDOUT, -EIDRM. */
MPT_API int mpt_var_wait(mpt_var *v, enum mpt_var_op op, const void *val, size_t len,
			 int64_t n, double timeout);
MPT_API void mpt_var_free(mpt_var *v);

#ifdef __cplusplus
}
#endif

#endif
