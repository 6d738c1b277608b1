/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-front.c - the front: mp_sup_run starts the keeper, forwards
 * INT, TERM, HUP, TSTP and CONT to it, watches the caller (--daemon), and
 * sweeps what the keeper leaves.
 *
 * The front is a subreaper and reads its signals through a signalfd.
 * Invariant: mp_sup_run returns only when nothing is left below the
 * front.  A keeper that exited has ended everything below it; one that
 * was killed left workers that die of their PDEATHSIG and orphans that
 * are the front's now: both times the front sweeps (SIGKILL round by
 * round until it has no child).
 */
#include "config.h"

#include "supervise-int.h"
#include "fault.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"
#include "store.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

int mp_sup_front_died_signal(void)
{
	return SIGRTMIN + 3;
}

/* Becomes the front: subreaper, the signals it forwards blocked (the old
 * mask in *old).  Returns the signalfd, or -1 (warned, mask restored,
 * the group finished with status 71). */
static int front_setup(const struct mp_sup_conf *c, sigset_t *old)
{
	sigset_t mask;
	int sfd;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTSTP);
	sigaddset(&mask, SIGCONT);
	sigprocmask(SIG_BLOCK, &mask, old);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		c->warn("signalfd: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, old, NULL);
		mp_spawn_finish(c->obj, 71, MP_SPAWN_R_NONE, 0);
		return -1;
	}
	return sfd;
}

/* Forks the keeper.  Returns its pid, or -1 (warned, sfd closed, mask
 * restored, the group finished with status 71). */
static pid_t front_start_keeper(const struct mp_sup_conf *c, int sfd, const sigset_t *old)
{
	pid_t front = getpid(), kp;

	fflush(NULL);
	kp = fork();
	if (kp == 0) {
		close(sfd);
		if (c->caller_pidfd >= 0)
			close(c->caller_pidfd);
		/* Its own process group: a signal to the front's group (the
		 * terminal's, or kill -9 -PGID) must not take both. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, mp_sup_front_died_signal());
		if (getppid() != front) {
			mp_spawn_finish(c->obj, 128 + SIGKILL, MP_SPAWN_R_LOST, SIGKILL);
			_exit(128 + SIGKILL);
		}
		_exit(sup_keeper_main(c, front));
	}
	if (kp < 0) {
		int e = errno;
		c->warn("cannot start the supervisor: %s", strerror(e));
		close(sfd);
		sigprocmask(SIG_SETMASK, old, NULL);
		mp_spawn_finish(c->obj, 71, MP_SPAWN_R_NONE, 0);
		return -1;
	}
	return kp;
}

/* Forwards the signals that came to the keeper kp (TSTP: then stops the
 * front too) and reaps.  Returns 1 once the keeper has been reaped (its
 * wait status in *kst). */
static int front_signals(int sfd, pid_t kp, int *kst)
{
	struct signalfd_siginfo si[16];
	ssize_t r;
	int chld = 0, kdone = 0;

	while ((r = read(sfd, si, sizeof si)) > 0) {
		for (size_t j = 0; j < (size_t)r / sizeof *si; j++) {
			int sig = (int)si[j].ssi_signo;
			if (sig == SIGCHLD) {
				chld = 1;
			} else if (sig == SIGTSTP) {
				kill(kp, SIGTSTP);
				raise(SIGSTOP);
			} else {
				kill(kp, sig);
			}
		}
	}
	if (chld) {
		int wst;
		pid_t p;
		while ((p = waitpid(-1, &wst, WNOHANG)) > 0)
			if (p == kp) {
				*kst = wst;
				kdone = 1;
			}
	}
	return kdone;
}

/* Runs until the keeper kp has ended; returns its wait status. */
static int front_wait_keeper(const struct mp_sup_conf *c, int sfd, pid_t kp)
{
	struct pollfd pf[2];
	int kst = 0, kdone = 0, caller_fd = c->caller_pidfd;

	while (!kdone) {
		int np = 1, n;

		pf[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (caller_fd >= 0)
			pf[np++] = (struct pollfd){ .fd = caller_fd, .events = POLLIN };
		n = poll(pf, (nfds_t)np, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (np > 1 && pf[1].revents) {
			/* the caller exited: end the group as Python ends a
			 * daemon process, with SIGTERM */
			c->info("the calling process has exited; ending group '%s'", c->name);
			mp_spawn_post_request(c->obj, SIGTERM, MP_SPAWN_R_CALLER);
			kill(kp, MP_SPAWN_SIG_REQUEST);
			close(caller_fd);
			caller_fd = -1;
		}
		if (pf[0].revents)
			kdone = front_signals(sfd, kp, &kst);
	}
	if (caller_fd >= 0)
		close(caller_fd);
	return kst;
}

void sup_remove_record(const struct mp_sup_conf *c)
{
	int damaged;

	if (c->obj->fd >= 0)	/* a file: this one, not one made since */
		mp_obj_remove(c->store, c->obj);
	else
		mp_store_remove(c->store, &mp_spawn_kind, c->name, &damaged);
}

int mp_sup_run(const struct mp_sup_conf *c)
{
	sigset_t old;
	pid_t kp;
	int sfd, kst, status;

	sfd = front_setup(c, &old);
	if (sfd < 0)
		return 71;
	kp = front_start_keeper(c, sfd, &old);
	if (kp < 0)
		return 71;
	MP_FAULT_POINT("supervise.keeper.started");
	/* The keeper listens; with our copy open, a stopped server would
	 * still take connections into the backlog. */
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->ready_fd >= 0)
		close(c->ready_fd);
	/* a signal that came before the mask was set */
	if (mp_signal_pending)
		kill(kp, mp_signal_pending);

	kst = front_wait_keeper(c, sfd, kp);
	if (WIFEXITED(kst)) {
		status = WEXITSTATUS(kst);
		sup_sweep(NULL);	/* nothing should be left; be sure */
	} else {
		/* The keeper was killed: its workers died of their PDEATHSIG
		 * and their orphans are ours now. */
		status = sup_status_of(kst);
		sup_sweep(NULL);
		mp_spawn_finish(c->obj, status, MP_SPAWN_R_LOST, WIFSIGNALED(kst) ? WTERMSIG(kst) : 0);
	}
	close(sfd);
	if (c->remove_at_end) {
		sup_remove_record(c);
		/* and those of unnamed groups whose mpspawn was killed
		 * before its supervisor could remove them */
		mp_spawn_sweep_unnamed(c->store);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}
