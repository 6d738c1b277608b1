/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-lease.c - keeping the lease of a hold on a Redis store; see
 * redis-gate.h.
 *
 * Invariant: a hold with a live owner is renewed, every lease/3, by the
 * one process that can tell the owner lives: a thread of the owner itself
 * (run: the wrapper), or a keeper process that watches the owner through
 * a pidfd (acquire).  A lease that ran out is never renewed again (the
 * server refuses), so the side that lost it ends what the hold protected
 * (the wrapper: its command, then exit 69) instead of going on without.
 */
#include "config.h"

#include "redis.h"
#include "redis-gate.h"
#include "clock.h"
#include "err.h"
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct renewer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, running;
	struct mp_store *s;
	char base[MP_NAME_MAX + 96];
	uint64_t token;
	int64_t lease_ns;
	pid_t helper;
	const struct mp_redis_lease_scripts *sc;
};

static const struct mp_redis_lease_scripts gate_scripts = {
	&mp_redis_renew_script, &mp_redis_drop_script,
};

static struct renewer renewer = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Renews the hold on its own connection.  Returns 1 renewed, 0 gone,
 * -1 the server could not be asked. */
static int renew_once(struct mp_store *s, redisContext **c, const char *base, uint64_t token,
		      int64_t lease_ns, const struct mp_redis_lease_scripts *sc)
{
	char tok[24], ms[24];
	const char *args[2] = { tok, ms };
	redisReply *rep;
	int rc;

	if (!*c && !(*c = mp_redis_connect(s->impl)))
		return -1;
	snprintf(tok, sizeof tok, "%" PRIu64, token);
	snprintf(ms, sizeof ms, "%lld", (long long)(lease_ns / 1000000));
	rc = mp_redis_eval_on(s, *c, sc->renew, base, mp_redis_gate_keys, 2, args, &rep);
	if (rc == -ETIME)
		rc = -ENOTCONN;
	if (rc) {
		redisFree(*c);
		*c = NULL;
		return -1;
	}
	rc = rep->integer ? 1 : 0;
	freeReplyObject(rep);
	return rc;
}

/* The command no longer has what it was given: end it, then this
 * process, with 69 (store unavailable). */
static void lease_lost(pid_t helper)
{
	static const char msg[] = ": the hold was lost (its lease could not be renewed, or it was "
				  "taken back): ending the command\n";
	ssize_t w = write(2, program_invocation_short_name, strlen(program_invocation_short_name));

	if (w >= 0)
		w = write(2, msg, sizeof msg - 1);
	(void)w;
	if (helper > 0) {
		kill(helper, SIGTERM);
		for (int i = 0; i < 50 && kill(helper, 0) == 0 && waitpid(helper, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		kill(helper, SIGKILL);
	}
	_exit(69);
}

static void *renewer_main(void *arg)
{
	struct renewer *r = arg;
	redisContext *c = NULL;
	int64_t ok_at = mp_now_ns();

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct timespec ts;
		int64_t at = mp_clock_ns(CLOCK_REALTIME) + r->lease_ns / 3;
		int rc;

		ts.tv_sec = at / 1000000000LL;
		ts.tv_nsec = at % 1000000000LL;
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		rc = renew_once(r->s, &c, r->base, r->token, r->lease_ns, r->sc);
		pthread_mutex_lock(&r->mu);
		if (rc == 0)
			lease_lost(r->helper);	/* ran out, forced or removed: CMD has
						 * no lock any more */
		if (rc > 0)
			ok_at = mp_now_ns();
		else if (mp_now_ns() - ok_at >= r->lease_ns)
			lease_lost(r->helper);
	}
	pthread_mutex_unlock(&r->mu);
	if (c)
		redisFree(c);
	return NULL;
}

void mp_redis_renewer_start(struct mp_obj *o, uint64_t token)
{
	mp_redis_renewer_start_scripts(o, token, &gate_scripts);
}

void mp_redis_renewer_start_scripts(struct mp_obj *o, uint64_t token,
				    const struct mp_redis_lease_scripts *sc)
{
	struct renewer *r = &renewer;
	sigset_t all, old;

	if (r->running)
		return;
	r->s = ((struct mp_robj *)o->impl)->s;
	snprintf(r->base, sizeof r->base, "%s", ((struct mp_robj *)o->impl)->base);
	r->token = token;
	r->sc = sc;
	r->lease_ns = r->s->lease_ns;
	r->stop = 0;
	/* the thread takes no signal: they are the main thread's to handle */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->running = pthread_create(&r->th, NULL, renewer_main, r) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void mp_redis_renewer_stop(uint64_t token)
{
	struct renewer *r = &renewer;

	if (!r->running || r->token != token)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	r->running = 0;
}

/* A process that outlives this one and keeps the hold of owner (a live
 * process other than this one) while the owner lives: renews the lease,
 * releases when the owner dies, and ends when the hold is gone. */
static void keeper_loop(struct mp_store *s, const char *base, uint64_t token,
			const struct mp_owner *owner, const struct mp_redis_lease_scripts *sc)
{
	int pfd = (int)syscall(SYS_pidfd_open, owner->pid, 0);
	int64_t lease = s->lease_ns, ok_at = mp_now_ns();
	redisContext *c = NULL;

	for (;;) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int rc;

		if (pfd >= 0)
			poll(&p, 1, (int)(lease / 3000000));
		else
			usleep((useconds_t)(lease / 3000 > 1000000 ? 999999 : lease / 3000));
		if (!mp_owner_alive(owner)) {
			char tok[24];
			const char *a[1] = { tok };
			redisReply *rep;

			snprintf(tok, sizeof tok, "%" PRIu64, token);
			if ((c || (c = mp_redis_connect(s->impl))) &&
			    !mp_redis_eval_on(s, c, sc->drop, base, mp_redis_gate_keys, 1, a, &rep))
				freeReplyObject(rep);
			_exit(0);
		}
		rc = renew_once(s, &c, base, token, lease, sc);
		if (rc == 0)
			_exit(0);
		if (rc > 0)
			ok_at = mp_now_ns();
		else if (mp_now_ns() - ok_at > 2 * lease)
			_exit(0);	/* the server is gone; so is the hold by now */
	}
}

void mp_redis_keeper_start(struct mp_obj *o, uint64_t token, const struct mp_owner *owner)
{
	mp_redis_keeper_start_scripts(o, token, owner, &gate_scripts);
}

void mp_redis_keeper_start_scripts(struct mp_obj *o, uint64_t token, const struct mp_owner *owner,
				   const struct mp_redis_lease_scripts *sc)
{
	pid_t p = fork();

	if (p == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		setsid();
		if (fork() != 0)
			_exit(0);
		for (int i = 0; i < 3 && fd >= 0; i++)
			dup2(fd, i);
		/* nothing of the caller's stays open here: a pipe held by the
		 * keeper would keep the caller's reader waiting for its end */
		syscall(SYS_close_range, 3, ~0U, 0);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		keeper_loop(((struct mp_robj *)o->impl)->s, ((struct mp_robj *)o->impl)->base, token, owner,
			    sc);
		_exit(0);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

void mp_redis_renewer_helper(uint64_t token, pid_t helper)
{
	if (renewer.running && renewer.token == token)
		renewer.helper = helper;
}
