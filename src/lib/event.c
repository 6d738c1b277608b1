/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* event.c - the event kind; see event.h. */
#include "config.h"

#include "event.h"
#include "clock.h"
#include "err.h"
#include "fault.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* futex_waitv(2) came with Linux 5.16; older headers lack it. */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449	/* the same number on every architecture */
#endif
#ifndef FUTEX_WAITV_MAX
#define FUTEX_32 2
#define FUTEX_WAITV_MAX 128
struct futex_waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t __reserved;
};
#endif

_Static_assert(MP_EVENT_WAIT_MAX <= FUTEX_WAITV_MAX, "one futex_waitv call");
_Static_assert(sizeof(struct mp_event_waiter) == 32, "on-disk layout");

int mp_event_no_waitv;

static struct mp_event *E(struct mp_obj *o)
{
	return o->body;
}

/* The table size comes from o->geom (validated at open), never from the
 * shared body again. */
static struct mp_event_waiter *slots_of(struct mp_obj *o)
{
	return (struct mp_event_waiter *)((char *)o->body + sizeof(struct mp_event));
}

#define NSLOTS(o)	((uint32_t)(o)->geom.a)

static size_t body_size(uint32_t nslots)
{
	return sizeof(struct mp_event) + (size_t)nslots * sizeof(struct mp_event_waiter);
}

/* Makes the journal's state the event's state.  Idempotent: repair() may
 * run it again after a process died inside it. */
static void apply_journal(struct mp_event *e)
{
	e->st.sets = e->jr.sets;
	MP_FAULT_POINT("event.apply");
	e->st.clears = e->jr.clears;
	e->st.since_ns = e->jr.since_ns;
	e->st.set_ns = e->jr.set_ns;
	e->st.clear_ns = e->jr.clear_ns;
	__atomic_store_n(&e->st.is_set, e->jr.is_set, __ATOMIC_RELEASE);
	__atomic_store_n(&e->jr_valid, 0, __ATOMIC_RELEASE);
}

static int validate(struct mp_obj *o)
{
	struct mp_event *e = E(o);
	uint32_t n;

	if (o->body_size < sizeof(struct mp_event)) {
		mp_errmsg_set("'%s' is corrupt: too short for an event", mp_obj_path(o));
		return -EBADMSG;
	}
	n = e->nslots;
	if (n == 0 || n > (1u << 16) || body_size(n) > o->body_size || e->st.is_set > 1 ||
	    e->jr_valid > 1 || e->jr.is_set > 1) {
		mp_errmsg_set("'%s' is corrupt: bad event state (%u waiter entries, flag %u)",
			      mp_obj_path(o), n, e->st.is_set);
		return -EBADMSG;
	}
	o->geom.a = n;
	return 0;
}

/* A set or clear was cut short by the death of its process: finish it. */
static void repair(struct mp_obj *o)
{
	struct mp_event *e = E(o);

	if (e->jr_valid)
		apply_journal(e);
}

/* After a reboot no process waits any more; the flag and counts stay. */
static void reset(struct mp_obj *o)
{
	repair(o);
	memset(slots_of(o), 0, NSLOTS(o) * sizeof(struct mp_event_waiter));
	E(o)->overflow = 0;
}

const struct mp_kind mp_event_kind = {
	.id = MP_KIND_EVENT,
	.name = "event",
	.validate = validate,
	.repair = repair,
	.reset = reset,
};

static void init_event(void *body, size_t size, const void *arg)
{
	struct mp_event *e = body;

	e->nslots = MP_EVENT_WAITERS;
	e->st.since_ns = mp_realtime_ns();
}

static int shm_event_open(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	return mp_obj_open(s, &mp_event_kind, name, body_size(MP_EVENT_WAITERS),
			   create ? init_event : NULL, NULL, NULL, o);
}

/* Locks o; -EIDRM (unlocked again) if it was removed. */
static int lock_live(struct mp_obj *o)
{
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE)) {
		mp_obj_unlock(o);
		mp_errmsg_set("event '%s' was removed", o->name);
		return -EIDRM;
	}
	return 0;
}

static int change(struct mp_obj *o, uint32_t to_set)
{
	struct mp_event *e = E(o);
	int64_t now = mp_realtime_ns();
	int rc = lock_live(o);

	if (rc)
		return rc;
	e->jr = e->st;
	e->jr.is_set = to_set;
	if (to_set) {
		e->jr.sets++;
		e->jr.set_ns = now;
	} else {
		e->jr.clears++;
		e->jr.clear_ns = now;
	}
	if (e->st.is_set != to_set)
		e->jr.since_ns = now;
	/* From here the change is made, by us or by whoever repairs. */
	__atomic_store_n(&e->jr_valid, 1, __ATOMIC_RELEASE);
	MP_FAULT_POINT("event.change.journal");
	apply_journal(e);
	mp_obj_changed(o);
	mp_obj_unlock(o);
	MP_FAULT_POINT("event.change.unlocked");
	mp_obj_wake(o);
	return 0;
}

static int shm_event_set(struct mp_obj *o)
{
	return change(o, 1);
}

static int shm_event_clear(struct mp_obj *o)
{
	return change(o, 0);
}

static int shm_event_is_set(struct mp_obj *o)
{
	int rc = lock_live(o), v;

	if (rc)
		return rc;
	v = E(o)->st.is_set != 0;
	mp_obj_unlock(o);
	return v;
}

const char *mp_event_wait_name(uint32_t flags)
{
	switch (flags & (MP_EVENT_CLEARED | MP_EVENT_NEXT)) {
	case MP_EVENT_CLEARED:
		return "clear";
	case MP_EVENT_NEXT:
		return "next set";
	case MP_EVENT_CLEARED | MP_EVENT_NEXT:
		return "next clear";
	default:
		return "set";
	}
}

/* ---- the waiter table ---- */

/* Frees entries whose process is certainly gone: kill(2) says ESRCH for a
 * pid of our namespace.  Cheap enough to run under the mutex, unlike
 * reading /proc for each entry; info() does the exact check. */
static void reap_gone(struct mp_obj *o, uint64_t pidns)
{
	struct mp_event_waiter *w = slots_of(o);

	for (uint32_t i = 0; i < NSLOTS(o); i++) {
		int32_t pid = __atomic_load_n(&w[i].pid, __ATOMIC_ACQUIRE);
		if (pid > 0 && w[i].pidns == pidns && kill(pid, 0) < 0 && errno == ESRCH)
			__atomic_store_n(&w[i].pid, 0, __ATOMIC_RELEASE);
	}
}

/* Called locked: records `me` as waiting; returns its entry or -1 (the
 * table is full: counted in overflow instead). */
static int slot_take(struct mp_obj *o, const struct mp_owner *me, uint32_t flags)
{
	struct mp_event_waiter *w = slots_of(o);

	if (me->pid > 0) {
		for (int pass = 0; pass < 2; pass++) {
			for (uint32_t i = 0; i < NSLOTS(o); i++) {
				if (w[i].pid)
					continue;
				w[i].flags = flags & (MP_EVENT_CLEARED | MP_EVENT_NEXT);
				w[i].start = me->start;
				w[i].pidns = me->pidns;
				w[i].since_ns = mp_realtime_ns();
				__atomic_store_n(&w[i].pid, me->pid, __ATOMIC_RELEASE);
				return (int)i;
			}
			if (pass == 0)
				reap_gone(o, me->pidns);
		}
	}
	E(o)->overflow++;
	return -1;
}

/* Called locked: undoes slot_take. */
static void slot_drop(struct mp_obj *o, int idx, const struct mp_owner *me)
{
	struct mp_event_waiter *w = slots_of(o);

	if (idx < 0) {
		if (E(o)->overflow)
			E(o)->overflow--;
		return;
	}
	/* info() may have freed it (and another waiter taken it) if it
	 * misjudged us dead: drop only our own entry. */
	if (w[idx].pid == me->pid && w[idx].start == me->start)
		__atomic_store_n(&w[idx].pid, 0, __ATOMIC_RELEASE);
}

/* ---- waiting ---- */

struct wstate {
	uint64_t base;		/* sets (clears) when the wait began */
	uint32_t seen;		/* seq when last looked at */
	int slot;		/* table entry, -1: overflow */
	int registered;		/* holds a table entry and an nwait count */
	int sat;		/* satisfied */
};

/* Called locked: is the wait on o satisfied? */
static int satisfied(struct mp_obj *o, unsigned flags, uint64_t base)
{
	const struct mp_event_state *st = &E(o)->st;
	int cleared = (flags & MP_EVENT_CLEARED) != 0;
	uint64_t count = cleared ? st->clears : st->sets;

	if (count != base)
		return 1;	/* a set (clear) since the wait began */
	if (flags & MP_EVENT_NEXT)
		return 0;
	return cleared ? !st->is_set : st->is_set != 0;
}

/* Called locked: stops counting as a waiter of o. */
static void leave(struct mp_obj *o, struct wstate *w, const struct mp_owner *me)
{
	slot_drop(o, w->slot, me);
	MP_FAULT_POINT("event.wait.left");
	if (o->hdr->nwait)
		__atomic_sub_fetch(&o->hdr->nwait, 1, __ATOMIC_ACQ_REL);
	w->registered = 0;
}

/* Leaves the waiter table and nwait of every object, whatever happens. */
static int finish(struct mp_obj *objs, int n, struct wstate *ws, const struct mp_owner *me, int rc)
{
	for (int i = 0; i < n; i++) {
		if (!ws[i].registered)
			continue;
		if (mp_obj_lock(&objs[i]))
			continue;	/* only a stale hint and entry are left */
		leave(&objs[i], &ws[i], me);
		mp_obj_unlock(&objs[i]);
	}
	return rc;
}

/* Looks at every event not yet satisfied; on the first look records the
 * bases and, if the wait is to block, registers as a waiter of each event
 * it still waits for.  Returns 0, -EIDRM with *fired set, or the error of
 * locking. */
static int look(struct mp_obj *objs, int n, struct wstate *ws, unsigned flags, int first,
		int will_block, const struct mp_owner *me, int *fired)
{
	for (int i = 0; i < n; i++) {
		struct mp_obj *o = &objs[i];
		int rc;

		/* Satisfied stays satisfied: "all" means each one was set at
		 * some moment of the wait, as A.wait(); B.wait() in Python. */
		if (ws[i].sat)
			continue;
		if (!first && (rc = mp_obj_check_file(o))) {
			*fired = i;
			return rc;
		}
		rc = lock_live(o);
		if (rc) {
			if (rc == -EIDRM)
				*fired = i;
			return rc;
		}
		if (first)
			ws[i].base = flags & MP_EVENT_CLEARED ? E(o)->st.clears : E(o)->st.sets;
		ws[i].sat = satisfied(o, flags, ws[i].base);
		ws[i].seen = __atomic_load_n(&o->hdr->seq, __ATOMIC_ACQUIRE);
		if (first && will_block && !ws[i].sat) {
			ws[i].slot = slot_take(o, me, flags);
			__atomic_add_fetch(&o->hdr->nwait, 1, __ATOMIC_ACQ_REL);
			ws[i].registered = 1;
			MP_FAULT_POINT("event.wait.registered");
		}
		/* No longer waiting on this one: leave now, in this hold of the
		 * mutex (a set releasing 1,000 waiters costs one hold each). */
		if (ws[i].sat && ws[i].registered)
			leave(o, &ws[i], me);
		mp_obj_unlock(o);
	}
	return 0;
}

/* Returns the index of the event that decides the wait, -1 for "all", or
 * -2 if it must go on. */
static int decide(const struct wstate *ws, int n, unsigned flags)
{
	for (int i = 0; i < n; i++) {
		if (!(flags & MP_EVENT_ALL) && ws[i].sat)
			return i;
		if ((flags & MP_EVENT_ALL) && !ws[i].sat)
			return -2;
	}
	return flags & MP_EVENT_ALL ? -1 : -2;
}

/* Sleeps until the seq word of an event not yet satisfied moves from what
 * look() saw, the deadline, a signal, or MP_EVENT_CHECK_NS have passed.
 * Returns 0, -ETIMEDOUT (the deadline) or -EINTR. */
static int sleep_on(struct mp_obj *objs, int n, struct wstate *ws, int64_t deadline_ns)
{
	struct futex_waitv v[MP_EVENT_WAIT_MAX];
	int64_t now = mp_now_ns(), until = now + MP_EVENT_CHECK_NS;
	struct timespec ts;
	int i, nv = 0, first = -1;
	long rc = 0;

	if (deadline_ns && deadline_ns < until)
		until = deadline_ns;
	memset(v, 0, sizeof v);
	for (i = 0; i < n; i++) {
		if (ws[i].sat)
			continue;
		if (first < 0)
			first = i;
		v[nv].val = ws[i].seen;
		v[nv].uaddr = (uintptr_t)&objs[i].hdr->seq;
		v[nv].flags = FUTEX_32;	/* no FUTEX_PRIVATE_FLAG: shared memory */
		nv++;
	}
	if (nv > 1 && !mp_event_no_waitv) {
		if (mp_signal_pending)
			return -EINTR;
		/* The timeout is absolute, on the clock named in the call. */
		ts.tv_sec = until / 1000000000LL;
		ts.tv_nsec = until % 1000000000LL;
		rc = syscall(SYS_futex_waitv, v, (unsigned)nv, 0u, &ts, CLOCK_MONOTONIC);
		if (rc >= 0 || errno == EAGAIN)
			rc = 0;
		else if (errno == EINTR)
			rc = mp_signal_pending ? -EINTR : 0;
		else if (errno == ETIMEDOUT || errno != ENOSYS)
			rc = -errno;
		else
			mp_event_no_waitv = 1;	/* Linux < 5.16 */
	}
	if (nv == 1 || mp_event_no_waitv) {
		/* One event, or no futex_waitv: sleep on the first event still
		 * awaited (and look at the others every slice). */
		if (nv > 1 && now + MP_EVENT_SLICE_NS < until)
			until = now + MP_EVENT_SLICE_NS;
		rc = mp_futex_wait(&objs[first].hdr->seq, ws[first].seen, until);
	}
	if (rc == -ETIMEDOUT && !(deadline_ns && mp_now_ns() >= deadline_ns))
		return 0;	/* only the time to look at the files */
	return (int)rc;
}

static int shm_event_wait(struct mp_obj *objs, int n, unsigned flags, int64_t deadline_ns,
		  int nonblock, int *fired)
{
	struct wstate ws[MP_EVENT_WAIT_MAX];
	struct mp_owner me;
	int rc, d, slept = 0;

	*fired = -1;
	if (n < 1 || n > MP_EVENT_WAIT_MAX)
		return -EINVAL;
	memset(ws, 0, sizeof ws);
	/* Without /proc the wait still works; info just cannot name us. */
	if (mp_owner_of(0, &me))
		memset(&me, 0, sizeof me);
	/* The first look registers as a waiter of every event not satisfied
	 * yet (so no change after it is missed); finish() leaves again. */
	rc = look(objs, n, ws, flags, 1, !nonblock, &me, fired);
	for (;;) {
		if (rc)
			return finish(objs, n, ws, &me, rc);
		d = decide(ws, n, flags);
		if (d != -2) {
			*fired = d;
			return finish(objs, n, ws, &me, 0);
		}
		if (nonblock)
			return finish(objs, n, ws, &me, -EAGAIN);
		if (slept == -ETIMEDOUT)
			return finish(objs, n, ws, &me, -ETIMEDOUT);
		if (mp_signal_pending)
			return finish(objs, n, ws, &me, -EINTR);
		slept = sleep_on(objs, n, ws, deadline_ns);
		if (slept == -EINTR)
			return finish(objs, n, ws, &me, -EINTR);
		if (slept && slept != -ETIMEDOUT)
			return finish(objs, n, ws, &me, slept);
		/* After a timeout, look once more: a set that came with the
		 * deadline still counts. */
		rc = look(objs, n, ws, flags, 0, 0, &me, fired);
	}
}

/* ---- info ---- */

static int shm_event_info(struct mp_obj *o, struct mp_event_info *ei, struct mp_event_waiter *w, int max)
{
	struct mp_event_waiter copy[MP_EVENT_WAITERS], *tab = slots_of(o);
	uint32_t n = NSLOTS(o) < MP_EVENT_WAITERS ? NSLOTS(o) : MP_EVENT_WAITERS;
	int dead[MP_EVENT_WAITERS], live = 0, ndead = 0, rc;

	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	memset(ei, 0, sizeof *ei);
	ei->st = E(o)->st;
	ei->overflow = E(o)->overflow;
	ei->generation = o->hdr->generation;
	ei->created_ns = o->hdr->created_ns;
	memcpy(copy, tab, n * sizeof *copy);
	mp_obj_unlock(o);

	/* Liveness reads /proc: not under the mutex. */
	for (uint32_t i = 0; i < n; i++) {
		struct mp_owner who = { .pid = copy[i].pid, .start = copy[i].start,
					.pidns = copy[i].pidns };
		if (!copy[i].pid)
			continue;
		if (!mp_owner_alive(&who)) {
			dead[ndead++] = (int)i;
			continue;
		}
		if (live < max) {
			/* oldest first: insertion sort by since_ns */
			int j = live;
			while (j > 0 && w[j - 1].since_ns > copy[i].since_ns) {
				w[j] = w[j - 1];
				j--;
			}
			w[j] = copy[i];
		}
		live++;
	}
	if (ndead && mp_obj_lock(o) == 0) {
		for (int k = 0; k < ndead; k++) {
			struct mp_event_waiter *t = &tab[dead[k]];
			if (t->pid == copy[dead[k]].pid && t->start == copy[dead[k]].start)
				__atomic_store_n(&t->pid, 0, __ATOMIC_RELEASE);
		}
		mp_obj_unlock(o);
	}
	ei->nwaiting = (uint32_t)live + ei->overflow;
	return live;
}

const struct mp_event_ops mp_shm_event_ops = {
	.open = shm_event_open,
	.set = shm_event_set,
	.clear = shm_event_clear,
	.is_set = shm_event_is_set,
	.wait = shm_event_wait,
	.info = shm_event_info,
};
