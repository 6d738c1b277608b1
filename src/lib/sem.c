/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sem.c - the semaphore kind and POSIX named semaphores; see sem.h. */
#include "config.h"

#include "sem.h"
#include "err.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int validate_sem(struct mp_obj *o)
{
	int rc = mp_gate_validate(o);

	if (rc)
		return rc;
	/* One unit per hold: N slots need N hold entries, or a free unit could
	 * find no entry to record its owner in. */
	if (o->geom.a > MP_SEM_MAX_SLOTS || o->geom.b < o->geom.a) {
		mp_errmsg_set("'%s' is corrupt: %llu slots in a table of %llu holds", mp_obj_path(o),
			      (unsigned long long)o->geom.a, (unsigned long long)o->geom.b);
		return -EBADMSG;
	}
	return 0;
}

const struct mp_kind mp_sem_kind = {
	.id = MP_KIND_SEM,
	.name = "sem",
	.validate = validate_sem,
	.repair = NULL,		/* every gate mutation is a single store */
	.reset = mp_gate_reset,
};

static void init_sem(void *body, size_t size, const void *arg)
{
	const uint32_t *n = arg;	/* slots, free */

	mp_gate_init(body, n[0], n[0], MP_SEM_WAITERS);
	mp_gate_init_held(body, n[0] - n[1]);
}

static int shm_sem_open_value(struct mp_store *s, const char *name, uint32_t create_slots,
			      uint32_t create_free, int *created, struct mp_obj *o)
{
	uint32_t n[2] = { create_slots, create_free };

	if (create_slots > MP_SEM_MAX_SLOTS) {
		mp_errmsg_set("%u slots is more than the %u a semaphore can have", create_slots,
			      MP_SEM_MAX_SLOTS);
		return -EINVAL;
	}
	if (create_free > create_slots) {
		mp_errmsg_set("%u free slots is more than the %u slots", create_free, create_slots);
		return -EINVAL;
	}
	return mp_obj_open(s, &mp_sem_kind, name,
			   create_slots ? mp_gate_size(create_slots, MP_SEM_WAITERS) : 0,
			   create_slots ? init_sem : NULL, n, created, o);
}

static int shm_sem_open(struct mp_store *s, const char *name, uint32_t create_slots, int *created,
		struct mp_obj *o)
{
	return shm_sem_open_value(s, name, create_slots, create_slots, created, o);
}

static uint32_t shm_sem_slots(const struct mp_obj *o)
{
	return (uint32_t)o->geom.a;
}

/* ---- named POSIX semaphores ---- */

int mp_psem_open(const char *name, int create, unsigned initial, sem_t **sem)
{
	char path[MP_NAME_MAX + 2];
	int e;

	snprintf(path, sizeof path, "/%s", name);
	*sem = create ? sem_open(path, O_CREAT, 0600, initial) : sem_open(path, 0);
	if (*sem != SEM_FAILED)
		return 0;
	e = errno;
	if (e == ENOENT)
		mp_errmsg_set("no POSIX semaphore named '%s' (/dev/shm/sem.%s)", path, name);
	else
		mp_errmsg_set("sem_open '%s': %s", path, strerror(e));
	return -e;
}

static int timed_wait(sem_t *sem, const struct timespec *mono, int64_t deadline_ns)
{
#if HAVE_SEM_CLOCKWAIT
	/* CLOCK_MONOTONIC: a clock step does not stretch the wait */
	(void)deadline_ns;
	return sem_clockwait(sem, CLOCK_MONOTONIC, mono);
#else
	/* musl: the wall clock only; the deadline is converted at each wait */
	struct timespec now;
	int64_t left, rt;

	(void)mono;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = deadline_ns - (now.tv_sec * 1000000000LL + now.tv_nsec);
	if (left < 0)
		left = 0;
	clock_gettime(CLOCK_REALTIME, &now);
	rt = now.tv_sec * 1000000000LL + now.tv_nsec + left;
	now.tv_sec = rt / 1000000000LL;
	now.tv_nsec = rt % 1000000000LL;
	return sem_timedwait(sem, &now);
#endif
}

int mp_psem_wait(sem_t *sem, int64_t deadline_ns, int nonblock)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000LL,
		.tv_nsec = deadline_ns % 1000000000LL,
	};
	int rc;

	for (;;) {
		if (mp_signal_pending)
			return -EINTR;
		if (nonblock)
			rc = sem_trywait(sem);
		else if (deadline_ns)
			rc = timed_wait(sem, &ts, deadline_ns);
		else
			rc = sem_wait(sem);
		if (rc == 0)
			return 0;
		if (errno == EINTR)
			continue;	/* a termination signal is seen above */
		if (errno == EAGAIN)
			return -EAGAIN;
		if (errno == ETIMEDOUT)
			return -ETIMEDOUT;
		rc = -errno;
		mp_errmsg_set("sem_wait: %s", strerror(errno));
		return rc;
	}
}

int mp_psem_post(sem_t *sem)
{
	int rc;

	if (sem_post(sem) == 0)
		return 0;
	rc = -errno;
	if (errno == EOVERFLOW)
		mp_errmsg_set("sem_post: the value would exceed %d", SEM_VALUE_MAX);
	else
		mp_errmsg_set("sem_post: %s", strerror(errno));
	return rc;
}

int mp_psem_value(sem_t *sem, int *value)
{
	int rc;

	if (sem_getvalue(sem, value) == 0)
		return 0;
	rc = -errno;
	mp_errmsg_set("sem_getvalue: %s", strerror(errno));
	return rc;
}

int mp_psem_unlink(const char *name)
{
	char path[MP_NAME_MAX + 2];
	int rc;

	snprintf(path, sizeof path, "/%s", name);
	if (sem_unlink(path) == 0)
		return 0;
	rc = -errno;
	if (errno == ENOENT)
		mp_errmsg_set("no POSIX semaphore named '%s' (/dev/shm/sem.%s)", path, name);
	else
		mp_errmsg_set("sem_unlink '%s': %s", path, strerror(errno));
	return rc;
}

void mp_psem_close(sem_t *sem)
{
	sem_close(sem);
}

const struct mp_sem_ops mp_shm_sem_ops = {
	.open = shm_sem_open,
	.slots = shm_sem_slots,
	.open_value = shm_sem_open_value,
};
