/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* api.c - libmptools' common part: errors, deadlines, the store of a
 * handle, this process as an owner (api.h). */
#include "config.h"

#include "api.h"
#include "mptools.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/parse.h"
#include "lib/redis.h"
#include "lib/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* mp_errmsg() is one buffer per process (the tools have one thread); a
 * failing call copies its reason here, per thread, before returning. */
static __thread char errbuf[MP_ERRMSG_MAX + MP_NAME_MAX + 32];

MPT_API const char *mpt_errmsg(void)
{
	return errbuf;
}

MPT_API const char *mpt_version(void)
{
	return PACKAGE_VERSION;
}

void mp_api_begin(void)
{
	errbuf[0] = 0;
	mp_errmsg_clear();
}

int mp_api_fail(int rc, const char *what, const char *name)
{
	const char *why = mp_errmsg();

	if (rc >= 0)
		return rc;
	if (!*why)
		why = strerror(-rc);
	if (name)
		snprintf(errbuf, sizeof errbuf, "%s '%s': %s", what, name, why);
	else
		snprintf(errbuf, sizeof errbuf, "%s: %s", what, why);
	return rc;
}

int mp_api_deadline(double timeout, int64_t *deadline_ns, int *nonblock)
{
	*deadline_ns = 0;
	*nonblock = 0;
	if (isnan(timeout)) {
		mp_errmsg_set("the timeout is not a number");
		return -EINVAL;
	}
	if (timeout < 0 || isinf(timeout))
		return 0;
	/* below a nanosecond (and 0): do not wait */
	if (timeout < 1e-9) {
		*nonblock = 1;
		return 0;
	}
	/* 100 years is for ever */
	if (timeout > 3.1e9)
		return 0;
	*deadline_ns = mp_deadline((int64_t)(timeout * 1e9));
	return 0;
}

/* This process's identity: /proc is read once, and again in a child after
 * fork (the child's pid differs), so a hold costs no system call for it. */
static struct mp_owner self;
static int self_known;
static pthread_mutex_t self_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_self(void)
{
	self_known = 0;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_self);
}

int mp_api_self(struct mp_owner *o)
{
	int rc = 0;

	if (__atomic_load_n(&self_known, __ATOMIC_ACQUIRE)) {
		*o = self;
		return 0;
	}
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&self_mu);
	if (!self_known) {
		rc = mp_owner_of(0, &self);
		if (rc == 0)
			__atomic_store_n(&self_known, 1, __ATOMIC_RELEASE);
	}
	*o = self;
	pthread_mutex_unlock(&self_mu);
	return rc;
}

int mp_api_fail_obj(int rc, const struct mpt_base *b)
{
	return mp_api_fail(rc, b->what, b->name);
}

int mp_api_open(void **hp, size_t size, const char *store, const char *what,
		const char *name, int (*open_obj)(struct mpt_base *b, const void *arg),
		const void *arg)
{
	struct mpt_base *b;
	char why[128];
	int rc;

	mp_api_begin();
	*hp = NULL;
	if (!name || mp_parse_name(name, why, sizeof why)) {
		mp_errmsg_set("invalid name: %s", name ? why : "NULL");
		return mp_api_fail(-EINVAL, what, name);
	}
	b = calloc(1, size);
	if (!b)
		return mp_api_fail(-ENOMEM, what, name);
	b->s.dirfd = -1;
	b->what = what;
	snprintf(b->name, sizeof b->name, "%s", name);
	rc = mp_store_open(&b->s, store);
	/* on a Redis server: holds have the tools' default lease, kept by a
	 * keeper process while this process lives (never a thread that
	 * would end the program if the lease were lost) */
	b->s.lease_ns = MP_REDIS_LEASE_NS;
	mp_redis_self_keeper = 1;
	if (rc) {
		mp_api_fail(rc, "cannot open the store", NULL);
	} else {
		rc = open_obj(b, arg);
		if (rc)
			mp_api_fail(rc, what, name);
	}
	if (rc) {
		mp_api_close(b);
		free(b);
		return rc;
	}
	b->is_open = 1;
	*hp = b;
	return 0;
}

void mp_api_close(struct mpt_base *b)
{
	if (b->is_open)
		mp_obj_close(&b->o);
	b->is_open = 0;
	/* the store has no close of its own: a directory's fd, or a
	 * server's connection */
	if (b->s.ops == &mp_shm_store_ops) {
		if (b->s.dirfd >= 0)
			close(b->s.dirfd);
	} else if (b->s.impl) {
		struct mp_redis *r = b->s.impl;

		if (r->c)
			redisFree(r->c);
		free(r);
	}
	b->s.impl = NULL;
	b->s.dirfd = -1;
	b->s.ops = NULL;
}
