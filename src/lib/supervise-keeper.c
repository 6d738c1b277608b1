/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-keeper.c - the keeper's life: set-up, the main loop (signals,
 * timers, restarts, output, the leftovers), the group's exit status.
 *
 * The keeper is the front's child, in a process group of its own, a
 * subreaper, with the front's death signalled to it (PR_SET_PDEATHSIG:
 * mp_sup_front_died_signal()).  It reads every signal through a
 * signalfd: nothing runs in a signal handler.
 * Invariant: it returns only when nothing is left below it.  Normally
 * after the last worker ended and its leftovers were ended (SIGTERM, then
 * SIGKILL after --kill-after); when the front dies (even by SIGKILL), at
 * once: every worker's process group and then every child are SIGKILLed
 * until none is left (keeper_emergency).
 */
#include "config.h"

#include "supervise-int.h"
#include "owner.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void raise_fd_limit(size_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Becomes the keeper: subreaper, the signals blocked and read through
 * k->sfd, the tables allocated.  Returns 0, or -1 (warned, the group
 * finished with status 71). */
static int keeper_setup(struct keeper *k, const struct mp_sup_conf *c, pid_t front)
{
	struct mp_owner me;
	sigset_t mask;

	k->c = c;
	k->self = getpid();
	k->front = front;
	k->first_fail = -1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTSTP);
	sigaddset(&mask, SIGCONT);
	sigaddset(&mask, MP_SPAWN_SIG_REQUEST);
	sigaddset(&mask, mp_sup_front_died_signal());
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	k->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	k->w = calloc(c->nworkers, sizeof *k->w);
	for (k->hsize = 16; k->hsize < 2 * c->nworkers; k->hsize *= 2)
		;
	k->hpid = calloc(k->hsize, sizeof *k->hpid);
	k->hidx = calloc(k->hsize, sizeof *k->hidx);
	if (k->sfd < 0 || !k->w || !k->hpid || !k->hidx || sup_build_env(k) < 0 ||
	    sup_listen_init(k) < 0 || (c->keep_order && sup_order_init(k) < 0)) {
		c->warn("cannot set up the supervisor: %s", strerror(errno));
		mp_spawn_finish(c->obj, 71, MP_SPAWN_R_NONE, 0);
		return -1;
	}
	if (mp_owner_of(0, &me) == 0)
		mp_spawn_set_keeper(c->obj, &me);
	if (c->tag || c->listen_fd >= 0 || c->keep_order)
		raise_fd_limit(2 * (size_t)c->nworkers + 64);
	return 0;
}

/* Requests from `mpspawn kill`: a signal that ends the group stops it,
 * another is passed on to the workers. */
static void handle_request(struct keeper *k)
{
	enum mp_spawn_reason reason;
	int sig;

	while (mp_spawn_take_request(k->c->obj, &k->req_seen, &sig, &reason)) {
		if (mp_spawn_sig_ends_group(sig))
			sup_stop(k, sig, reason);
		else
			sup_signal_workers(k, sig);
	}
}

/* Starts every worker, then tells a --daemon starter the group runs. */
static void keeper_start(struct keeper *k)
{
	const struct mp_sup_conf *c = k->c;

	/* --listen: --timeout is the time handlers get after a stop, and
	 * the handlers start with their connections */
	if (c->timeout_ns > 0 && c->listen_fd < 0)
		k->t_timeout = mp_now_ns() + c->timeout_ns;
	for (uint32_t i = 0; i < c->nworkers && c->listen_fd < 0; i++)
		sup_start_or_fail(k, i);
	if (c->ready_fd >= 0) {
		char ok = 0;
		if (write(c->ready_fd, &ok, 1) < 0) {
			/* the starter is gone; the group runs anyway */
		}
		close(c->ready_fd);
	}
	handle_request(k);
}

/* The front died: everything goes, now. */
static int keeper_emergency(struct keeper *k)
{
	k->stopping = 1;
	sup_call_off_restarts(k);
	sup_sweep(k);
	mp_spawn_finish(k->c->obj, 128 + SIGKILL, MP_SPAWN_R_FRONT, SIGKILL);
	if (k->c->remove_at_end)
		sup_remove_record(k->c);
	return 128 + SIGKILL;
}

/* Once no worker runs or waits for its restart, the leftovers below the
 * keeper get SIGTERM, and SIGKILL at k->t_cleanup (--kill-after).
 * Returns 1 when nothing is left below the keeper. */
static int keeper_leftovers_gone(struct keeper *k)
{
	const struct mp_sup_conf *c = k->c;

	if (!k->cleanup && k->nrunning == 0 && k->npending == 0 && k->lfd < 0) {
		/* every worker has ended: now the leftovers */
		k->cleanup = 1;
		sup_reap(k);
		if (sup_no_children())
			return 1;
		sup_kill_groups(k, SIGTERM);
		sup_cleanup_signal(k);
		k->t_cleanup = mp_now_ns() + c->kill_after_ns;
		if (c->kill_after_ns <= 0) {
			sup_sweep(k);
			return 1;
		}
	}
	if (k->cleanup) {
		sup_reap(k);
		if (sup_no_children())
			return 1;
	}
	return 0;
}

/* Does what is due at now: --timeout, SIGKILL after --kill-after, the
 * restarts.  Returns the next deadline (0: none). */
static int64_t keeper_due(struct keeper *k, int64_t now)
{
	const struct mp_sup_conf *c = k->c;
	int64_t until = 0;

	if (!k->stopping && k->t_timeout && now >= k->t_timeout)
		sup_stop(k, c->timeout_sig, MP_SPAWN_R_TIMEOUT);
	if (k->t_drain && now >= k->t_drain)
		sup_listen_terminate(k);
	if (k->t_accept && now >= k->t_accept)
		k->t_accept = 0;
	if (k->stopping && k->t_kill && now >= k->t_kill) {
		sup_signal_workers(k, SIGKILL);
		k->t_kill = 0;
	}
	if (k->npending && !k->stopping)
		until = sup_restart_due(k, now);
	if (!k->stopping)
		until = sup_min_deadline(until, k->t_timeout);
	if (k->stopping)
		until = sup_min_deadline(until, k->t_kill);
	if (k->cleanup)
		until = sup_min_deadline(until, k->t_cleanup);
	until = sup_min_deadline(until, k->t_drain);
	return sup_min_deadline(until, k->t_accept);
}

/* Waits for a signal, output, or the deadline until (0: none); *n is
 * poll's result (-1 with EINTR too).  Returns -1 when it cannot wait
 * (warned). */
static int keeper_poll(struct keeper *k, int64_t until, int *n)
{
	int tmo;

	if (k->pfcap < k->nst + 2) {
		k->pfcap = k->nst + 16;
		free(k->pf);
		k->pf = malloc(k->pfcap * sizeof *k->pf);
		if (!k->pf) {
			k->c->warn("out of memory");
			k->pfcap = 0;
			return -1;
		}
	}
	k->npf = 0;
	k->pf[k->npf++] = (struct pollfd){ .fd = k->sfd, .events = POLLIN };
	/* then the listening socket while a slot is free (the other
	 * connections wait in the backlog), or the pool's reports; poll
	 * skips a negative fd */
	k->pf[k->npf++] = (struct pollfd){ .events = POLLIN,
		.fd = k->lfd >= 0 ? (k->nfree && !k->t_accept ? k->lfd : -1) : sup_order_fd(k) };
	for (size_t i = 0; i < k->nst; i++)
		k->pf[k->npf++] = (struct pollfd){ .fd = k->st[i].fd, .events = POLLIN };
	tmo = -1;
	if (until) {
		int64_t d = until - mp_now_ns();
		tmo = d <= 0 ? 0 : d / 1000000 >= INT_MAX ? INT_MAX : (int)((d + 999999) / 1000000);
	}
	*n = poll(k->pf, k->npf, tmo);
	if (*n < 0 && errno != EINTR) {
		k->c->warn("poll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Acts on the signals that came.  Returns 1 when the front has died
 * (its death signal, or the keeper was reparented). */
static int keeper_signals(struct keeper *k)
{
	struct signalfd_siginfo si[16];
	ssize_t r;
	int chld = 0, died = 0;

	while ((r = read(k->sfd, si, sizeof si)) > 0) {
		for (size_t j = 0; j < (size_t)r / sizeof *si; j++) {
			int sig = (int)si[j].ssi_signo;
			if (sig == SIGCHLD)
				chld = 1;
			else if (sig == mp_sup_front_died_signal())
				died = 1;
			else if (sig == MP_SPAWN_SIG_REQUEST)
				handle_request(k);
			else if (sig == SIGTSTP || sig == SIGCONT)
				sup_signal_workers(k, sig);
			else
				sup_stop(k, sig, MP_SPAWN_R_SIGNAL);
		}
	}
	if (died || getppid() != k->front)
		return 1;
	if (chld)
		sup_reap(k);
	if (k->cleanup)
		sup_cleanup_signal(k);
	return 0;
}

/* The main loop.  Returns 0 when nothing is left below the keeper, 1
 * when the front has died (then the caller must end everything). */
static int keeper_loop(struct keeper *k)
{
	for (;;) {
		int64_t now, until;
		int n;

		if (keeper_leftovers_gone(k))
			return 0;
		now = mp_now_ns();
		if (k->cleanup && now >= k->t_cleanup) {
			sup_sweep(k);
			return 0;
		}
		until = keeper_due(k, now);
		if (!k->cleanup && k->nrunning == 0 && k->npending == 0 && k->lfd < 0)
			continue;
		if (keeper_poll(k, until, &n) < 0) {
			sup_sweep(k);
			return 0;
		}
		for (size_t i = 2; n > 0 && i < k->npf; i++)
			if (k->pf[i].revents && k->st[i - 2].fd >= 0)
				sup_read_stream(k, &k->st[i - 2]);
		if (n > 0 && k->pf[1].revents && k->lfd >= 0)
			sup_listen_accept(k);
		else if (n > 0 && k->pf[1].revents && k->ord)
			sup_order_read(k);
		sup_drop_closed_streams(k);
		if (n > 0 && k->pf[0].revents && keeper_signals(k))
			return 1;
	}
}

/* The group's exit status (DESIGN §4); msg_status: a pool's first failed
 * message's (0: none), which a restarted worker does not undo. */
static int keeper_status(const struct keeper *k, int msg_status)
{
	if (k->c->listen_fd >= 0)	/* a server asked to stop did its job */
		return k->out_error ? 74 : 0;
	if (k->reason == MP_SPAWN_R_SIGNAL)
		return 128 + k->stop_sig;
	if (k->reason == MP_SPAWN_R_TIMEOUT)
		return 124;	/* DESIGN §4: timed out, as timeout(1) */
	if (k->reason == MP_SPAWN_R_CALLER)
		return 128 + SIGTERM;
	if (k->out_error_first)
		return 74;	/* the workers' SIGPIPE (141) came of it */
	if (msg_status)
		return msg_status;
	if (k->first_fail >= 0)
		return k->first_fail;
	return k->out_error ? 74 : 0;
}

/* A pool's summary: how many of its messages failed.  Returns the status
 * of the first that failed, 0 if none did. */
static int warn_failed_messages(const struct mp_sup_conf *c)
{
	struct mp_spawn_snap snap;
	uint64_t done = 0, failed = 0;
	int first = 0;

	if (mp_spawn_snapshot(c->obj, &snap) == 0) {
		for (uint32_t i = 0; i < c->nworkers; i++)
			done += snap.w[i].done, failed += snap.w[i].failed;
		if (snap.g.msg_status > 0 && snap.g.msg_status < 256)
			first = snap.g.msg_status;
		mp_spawn_snap_free(&snap);
		if (failed)
			c->warn("%llu of %llu messages failed (the first with status %d)",
				(unsigned long long)failed, (unsigned long long)done, first);
	}
	return first;
}

int sup_keeper_main(const struct mp_sup_conf *c, pid_t front)
{
	/* static: what it points to stays reachable until the _exit that
	 * follows the return (called once, in the keeper process) */
	static struct keeper kk;
	struct keeper *k = &kk;
	int died, status;

	if (keeper_setup(k, c, front) < 0)
		return 71;
	keeper_start(k);
	died = keeper_loop(k);
	free(k->pf);
	if (died)
		return keeper_emergency(k);
	sup_reap(k);
	sup_drain_streams(k);
	if (k->ord)
		sup_order_finish(k);
	status = keeper_status(k, c->queue ? warn_failed_messages(c) : 0);
	mp_spawn_finish(c->obj, status, k->reason, k->stop_sig);
	return status;
}
