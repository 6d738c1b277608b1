/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lease.c - renewing the lease of a hold: a thread of the owner, or a
 * keeper process that watches it; see lease.h. */
#include "config.h"

#include "lease.h"
#include "clock.h"
#include "obj.h"
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct renewer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, running;
	const struct mp_lease_ops *ops;
	void *ctx;
	uint64_t token;
	int64_t lease_ns;
	pid_t helper;
};

static struct renewer renewer = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

int64_t mp_lease_length(const struct mp_obj *o)
{
	return o->lease_ns > 0 ? o->lease_ns : MP_LEASE_DEFAULT_NS;
}

/* The command no longer has what it was given: end it, then this
 * process, with 69 (the hold could not be kept). */
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
		rc = r->ops->renew(r->ctx, r->lease_ns);
		pthread_mutex_lock(&r->mu);
		if (r->stop)
			break;
		if (rc == 0)
			lease_lost(r->helper);	/* ran out, forced or removed */
		if (rc > 0)
			ok_at = mp_now_ns();
		else if (mp_now_ns() - ok_at >= r->lease_ns)
			lease_lost(r->helper);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

void mp_lease_renewer_start(const struct mp_lease_ops *ops, void *ctx, uint64_t token,
			    int64_t lease_ns)
{
	struct renewer *r = &renewer;
	sigset_t all, old;

	if (r->running)
		return;
	r->ops = ops;
	r->ctx = ctx;
	r->token = token;
	r->lease_ns = lease_ns;
	r->stop = 0;
	/* the thread takes no signal: they are the main thread's to handle */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->running = pthread_create(&r->th, NULL, renewer_main, r) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void mp_lease_stop(uint64_t token)
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

int mp_lease_renewing(void)
{
	return renewer.running;
}

void mp_lease_helper(uint64_t token, pid_t helper)
{
	if (renewer.running && renewer.token == token)
		renewer.helper = helper;
}

/* The keeper: renews while the owner lives, releases when it dies, ends
 * when the hold is gone (released, taken back) or cannot be renewed for
 * two leases. */
static void keeper_loop(const struct mp_lease_ops *ops, void *ctx, int64_t lease_ns,
			const struct mp_owner *owner)
{
	int pfd = (int)syscall(SYS_pidfd_open, owner->pid, 0);
	int64_t ok_at = mp_now_ns();

	for (;;) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int rc;

		if (pfd >= 0)
			poll(&p, 1, (int)(lease_ns / 3000000));
		else
			usleep((useconds_t)(lease_ns / 3000 > 1000000 ? 999999 : lease_ns / 3000));
		if (!mp_owner_alive(owner)) {
			ops->drop(ctx);
			_exit(0);
		}
		rc = ops->renew(ctx, lease_ns);
		if (rc == 0)
			_exit(0);
		if (rc > 0)
			ok_at = mp_now_ns();
		else if (mp_now_ns() - ok_at > 2 * lease_ns)
			_exit(0);
	}
}

void mp_lease_keep(const struct mp_lease_ops *ops, void *ctx, uint64_t token, int64_t lease_ns,
		   const struct mp_owner *owner)
{
	if (owner->pid == getpid())
		mp_lease_renewer_start(ops, ctx, token, lease_ns);
	else
		mp_lease_keeper_start(ops, ctx, lease_ns, owner);
}

void mp_lease_keeper_start(const struct mp_lease_ops *ops, void *ctx, int64_t lease_ns,
			   const struct mp_owner *owner)
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
		signal(SIGTERM, SIG_DFL);
		keeper_loop(ops, ctx, lease_ns, owner);
		_exit(0);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}
