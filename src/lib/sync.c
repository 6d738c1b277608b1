/* sync.c - robust mutex and the waits on an object; see sync.h. */
#include "config.h"

#include "sync.h"
#include "clock.h"
#include "err.h"
#include "fault.h"
#include "futex.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* glibc checks the type word of a mutex and answers garbage there with
 * EINVAL; musl trusts it, and garbage makes it fail at random or hang.  So
 * with musl the word (its first int) must hold what pthread_mutex_init
 * writes there for our attributes, or that plus 8, musl's mark of a dead
 * owner not yet declared consistent. */
static int mutex_type_ok(pthread_mutex_t *mu)
{
#if defined(__GLIBC__)
	(void)mu;
	return 1;
#else
	static int want = -1;
	int w = *(volatile int *)mu;

	if (want < 0) {
		pthread_mutexattr_t a;
		pthread_mutex_t m;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
		pthread_mutex_init(&m, &a);
		pthread_mutexattr_destroy(&a);
		want = *(int *)&m;
	}
	return w == want || w == (want | 8);
#endif
}

/* Locks mu, giving up after 10 s (see mp_obj_lock).  Uncontended, no
 * clock is read. */
static int lock_10s(pthread_mutex_t *mu)
{
	int rc = pthread_mutex_trylock(mu);
	struct timespec dl;

	if (rc != EBUSY)
		return rc;	/* 0, EOWNERDEAD, ENOTRECOVERABLE, ... */
	/* contended: the clock's cost no longer matters */
#if HAVE_PTHREAD_MUTEX_CLOCKLOCK
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 10;
	return pthread_mutex_clocklock(mu, CLOCK_MONOTONIC, &dl);
#else
	/* musl: the wall clock only; a step of it moves the 10 s, no more */
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	return pthread_mutex_timedlock(mu, &dl);
#endif
}

int mp_obj_lock(struct mp_obj *o)
{
	int rc;

	rc = mp_obj_check_boot(o);
	if (rc)
		return rc;
	rc = mutex_type_ok(&o->hdr->mu) ? lock_10s(&o->hdr->mu) : EINVAL;
	if (rc == EOWNERDEAD) {
		/* The last holder died inside its critical section: finish or
		 * undo its work, then declare the state consistent again.
		 * Unlocking without pthread_mutex_consistent() would make the
		 * mutex unusable (ENOTRECOVERABLE) for everybody, forever. */
		MP_FAULT_POINT("sync.repair.before");
		if (o->kind->repair)
			o->kind->repair(o);
		MP_FAULT_POINT("sync.repair.after");
		pthread_mutex_consistent(&o->hdr->mu);
		o->hdr->seq++;	/* wake waiters: state may have changed */
		rc = 0;
	}
	if (rc == 0)
		MP_FAULT_POINT("sync.locked");
	if (rc == ETIMEDOUT) {
		mp_errmsg_set("the internal lock of '%s' has been held for 10 s "
			      "(is a process stopped inside mptools?)", mp_obj_path(o));
		return -EDEADLK;
	}
	if (rc == EINVAL) {
		/* the deadline is well-formed: the mutex's own words are not */
		mp_errmsg_set("'%s' is corrupt: its internal lock is not a valid mutex", mp_obj_path(o));
		return -EBADMSG;
	}
	if (rc) {
		mp_errmsg_set("cannot lock '%s': %s", mp_obj_path(o), strerror(rc));
		return -rc;
	}
	return 0;
}

void mp_obj_unlock(struct mp_obj *o)
{
	pthread_mutex_unlock(&o->hdr->mu);
}

void mp_obj_changed(struct mp_obj *o)
{
	o->hdr->changed_ns = mp_realtime_ns();
	__atomic_add_fetch(&o->hdr->seq, 1, __ATOMIC_RELEASE);
}

void mp_obj_wake(struct mp_obj *o)
{
	if (__atomic_load_n(&o->hdr->nwait, __ATOMIC_ACQUIRE))
		mp_futex_wake(&o->hdr->seq);
}

int mp_obj_check_file(struct mp_obj *o)
{
	struct stat st;

	if (fstat(o->fd, &st) < 0)
		return 0;
	if ((size_t)st.st_size != o->size) {
		mp_errmsg_set("'%s' changed size while in use: it is corrupt", mp_obj_path(o));
		return -EBADMSG;
	}
	if (st.st_nlink == 0 && !__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE))
		return -EIDRM;
	return 0;
}

int mp_obj_wait(struct mp_obj *o, uint32_t *word, uint32_t *nwait, int64_t deadline_ns,
		int64_t slice_ns, int *slice_over)
{
	uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	int64_t now = mp_now_ns(), until = now + slice_ns;
	int rc, lrc;

	*slice_over = 0;
	if (deadline_ns && now >= deadline_ns)
		return -ETIMEDOUT;
	if (deadline_ns && deadline_ns < until)
		until = deadline_ns;
	__atomic_add_fetch(nwait, 1, __ATOMIC_ACQ_REL);
	MP_FAULT_POINT("sync.wait.registered");
	mp_obj_unlock(o);
	rc = mp_futex_wait(word, seen, until);
	MP_FAULT_POINT("sync.wait.woken");
	lrc = mp_obj_lock(o);
	/* A waiter killed here leaves nwait one too high: the hint only costs
	 * extra wake calls, and repair() of kinds may recount it. */
	if (*nwait)
		__atomic_sub_fetch(nwait, 1, __ATOMIC_ACQ_REL);
	if (lrc)
		return lrc;
	lrc = mp_obj_check_file(o);
	if (lrc)
		return lrc;
	if (rc == -ETIMEDOUT) {
		if (deadline_ns && mp_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		*slice_over = 1;
		return 0;
	}
	return rc;
}
