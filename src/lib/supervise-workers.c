/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-workers.c - the keeper's workers: start, reap, restart, stop,
 * signal.
 *
 * Invariant: each worker runs in a process group of its own (so a signal
 * reaches its whole job) with PR_SET_PDEATHSIG(SIGKILL) on the keeper,
 * checked after it is set (a keeper that died before is seen).  A started
 * worker is recorded (pid, pgid, the pid table) before the keeper does
 * anything else; one killed in between (fault point
 * supervise.worker.started) is still the keeper's child, which the sweep
 * finds through /proc.  A reaped pid the table does not hold is an
 * adopted orphan, never a worker.  Once stopping, nothing restarts.
 */
#include "config.h"

#include "supervise-int.h"
#include "cli.h"
#include "fault.h"
#include "owner.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* At most nworkers entries are live in a table of at least twice as many
 * slots, so a free or dead slot is always found; probes are bounded
 * because after many restarts every slot may be a tombstone. */
static void hash_put(struct keeper *k, pid_t pid, uint32_t idx)
{
	uint32_t h = (uint32_t)pid * 2654435761u & (k->hsize - 1);

	for (uint32_t n = 0; n < k->hsize && k->hpid[h] > 0; n++)
		h = (h + 1) & (k->hsize - 1);
	k->hpid[h] = pid;
	k->hidx[h] = idx;
}

/* Finds and removes pid; returns its worker index or -1. */
static int hash_take(struct keeper *k, pid_t pid)
{
	uint32_t h = (uint32_t)pid * 2654435761u & (k->hsize - 1);

	for (uint32_t n = 0; n < k->hsize && k->hpid[h] != 0; n++) {
		if (k->hpid[h] == pid) {
			k->hpid[h] = -1;	/* tombstone: later entries stay reachable */
			return (int)k->hidx[h];
		}
		h = (h + 1) & (k->hsize - 1);
	}
	return -1;
}

/* Builds the workers' environment: ours without the variables we set,
 * then ours.  env_id is rewritten for each worker before it starts. */
int sup_build_env(struct keeper *k)
{
	static const char *ours[] = { "MP_WORKER_ID=", "MP_WORKERS=", "MP_SPAWN_NAME=",
				      "MP_SPAWN_RUN=", "MP_SPAWN_DIR=" };
	extern char **environ;
	size_t n = 0, j = 0;
	char buf[64];

	while (environ[n])
		n++;
	k->envp = calloc(n + 8 + MP_LISTEN_NENV, sizeof *k->envp);
	if (!k->envp)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int skip = 0;
		for (size_t m = 0; m < sizeof ours / sizeof *ours; m++)
			if (!strncmp(environ[i], ours[m], strlen(ours[m])))
				skip = 1;
		if (k->c->listen_fd >= 0 && mp_listen_env_ours(environ[i]))
			skip = 1;	/* a tcpserver around us: its values are not ours */
		if (!skip)
			k->envp[j++] = environ[i];
	}
	k->envp[j++] = k->env_id;
	snprintf(buf, sizeof buf, "MP_WORKERS=%u", k->c->nworkers);
	k->envp[j++] = strdup(buf);
	if (asprintf(&k->envp[j++], "MP_SPAWN_NAME=%s", k->c->name) < 0)
		return -1;
	snprintf(buf, sizeof buf, "MP_SPAWN_RUN=%016llx",
		 (unsigned long long)mp_spawn_run_id(k->c->obj));
	k->envp[j++] = strdup(buf);
	if (asprintf(&k->envp[j++], "MP_SPAWN_DIR=%s", k->c->store->dir) < 0)
		return -1;
	for (size_t i = 0; i < j; i++)
		if (!k->envp[i])
			return -1;
	k->env_conn_at = j;	/* --listen: each connection's variables */
	return 0;
}

/* The --tag pipes of worker i, close-on-exec; 0, or -1 (warned, none
 * left open). */
static int open_tag_pipes(const struct mp_sup_conf *c, uint32_t i, int outp[2], int errp[2])
{
	/* --listen: stdout is the connection; only stderr is tagged */
	if ((c->listen_fd < 0 && pipe2(outp, O_CLOEXEC) < 0) || pipe2(errp, O_CLOEXEC) < 0) {
		int e = errno;
		c->warn("cannot start worker %u: pipe: %s", i, strerror(e));
		if (outp[0] >= 0)
			close(outp[0]), close(outp[1]);
		return -1;
	}
	return 0;
}

/* The new worker, between fork (pool) or vfork and exec.  After vfork it
 * shares the keeper's memory: it writes only *child_errno, and leaves by
 * exec or _exit. */
__attribute__((noreturn))
static void worker_child(const struct keeper *k, uint32_t i, pid_t keeper, pid_t keeper_tid,
			 const int outp[2], const int errp[2], int conn,
			 volatile int *child_errno)
{
	const struct mp_sup_conf *c = k->c;
	struct sigaction dfl;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != keeper || mp_parent_thread_gone(keeper, keeper_tid))
		_exit(128 + SIGKILL);	/* the keeper died first */
	if (c->tag) {
		if (conn < 0)
			dup2(outp[1], 1);
		dup2(errp[1], 2);
	}
	if (conn >= 0) {
		dup2(conn, 0);
		dup2(conn, 1);
	}
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);	/* ignored by the keeper */
	sigprocmask(SIG_SETMASK, &c->child_mask, NULL);
	if (c->queue)
		_exit(sup_pool_worker(c, i, k->envp));
	*child_errno = mp_cmd_execve(c->path, c->argv, k->envp);
	if (conn >= 0)	/* forked: the keeper does not see child_errno */
		c->warn("connection %llu: cannot run '%s': %s", (unsigned long long)k->conn_no,
			c->argv[0], strerror(*child_errno));
	_exit(*child_errno == ENOENT ? 127 : 126);
}

/* The read ends of a started worker's --tag pipes become its streams
 * (an output already gone gets none). */
static void keep_tag_pipes(struct keeper *k, uint64_t i, int out_fd, int err_fd)
{
	fcntl(err_fd, F_SETFL, O_NONBLOCK);
	if (out_fd < 0)
		;	/* --listen: stdout is the connection */
	else if (fcntl(out_fd, F_SETFL, O_NONBLOCK), k->out_dead[1])
		close(out_fd);
	else
		sup_add_stream(k, out_fd, i, 1);
	if (k->out_dead[2])
		close(err_fd);
	else
		sup_add_stream(k, err_fd, i, 2);
}

int sup_start_worker(struct keeper *k, uint32_t i)
{
	const struct mp_sup_conf *c = k->c;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	volatile int child_errno = 0;
	pid_t pid, keeper = k->self, keeper_tid = (pid_t)syscall(SYS_gettid);
	struct mp_owner who;

	if (c->tag && open_tag_pipes(c, i, outp, errp) < 0)
		return 71;
	/* --listen: the connection's number */
	snprintf(k->env_id, sizeof k->env_id, "MP_WORKER_ID=%llu",
		 k->conn_fd >= 0 ? (unsigned long long)k->conn_no : (unsigned long long)i);
	if (c->queue || k->conn_fd >= 0) {
		/* --listen: fork, so the keeper accepts the next connection
		 * while this one's handler execs (vfork would stop the keeper
		 * until then; the exec is most of a handler's start) */
		fflush(NULL);
		pid = fork();
		if (pid > 0)
			setpgid(pid, pid);	/* before any kill(-pgid) */
	} else {
		/* vfork: no page tables to copy (the cost that matters with
		 * a hundred workers), and a failed exec is reported through
		 * child_errno in the memory we share until it execs. */
		pid = vfork();
	}
	if (pid == 0)
		worker_child(k, i, keeper, keeper_tid, outp, errp, k->conn_fd, &child_errno);
	if (c->tag) {
		if (outp[1] >= 0)
			close(outp[1]);
		close(errp[1]);
	}
	if (pid < 0) {
		int e = errno;
		if (c->tag) {
			if (outp[0] >= 0)
				close(outp[0]);
			close(errp[0]);
		}
		c->warn("cannot start worker %u: %s", i, strerror(e));
		return 71;
	}
	if (child_errno) {
		/* it is reaped as an unknown child */
		if (c->tag) {
			if (outp[0] >= 0)
				close(outp[0]);
			close(errp[0]);
		}
		c->warn("cannot run '%s': %s", c->argv[0], strerror(child_errno));
		return child_errno == ENOENT ? 127 : 126;
	}
	if (c->tag)
		keep_tag_pipes(k, k->conn_fd >= 0 ? k->conn_no : i, outp[0], errp[0]);
	/* a worker runs that no table names yet */
	MP_FAULT_POINT("supervise.worker.started");
	k->w[i].pid = pid;
	k->w[i].pgid = pid;
	k->w[i].started = mp_now_ns();
	k->nrunning++;
	hash_put(k, pid, i);
	/* A connection's handler is recorded without its start time (0,
	 * "unknown"): a /proc read per connection is a tenth of what a
	 * connection costs the keeper, and the record only shows it. */
	mp_spawn_worker_started(c->obj, i, pid, k->conn_fd < 0 && mp_owner_of(pid, &who) == 0
						? who.start : 0);
	return 0;
}

/* A worker has ended (status): it is restarted, or done for good. */
static void worker_done(struct keeper *k, uint32_t i, int status, enum mp_spawn_wstate state)
{
	const struct mp_sup_conf *c = k->c;
	struct worker *w = &k->w[i];
	int64_t now = mp_now_ns();

	if (c->listen_fd >= 0) {
		sup_listen_done(k, i, status, state);
		return;
	}
	if (k->ord)
		sup_order_worker_ended(k, i);
	if (status != 0 && c->restart && !k->stopping && state != MP_SPAWN_W_NOSTART &&
	    (c->max_restarts == UINT32_MAX || w->restarts < c->max_restarts)) {
		/* A worker that keeps failing soon after its start is
		 * restarted after a delay growing from 0.1 s to 5 s. */
		int64_t delay = 0;
		if (w->started && now - w->started < 10 * 1000000000LL)
			w->quick_fails++;
		else
			w->quick_fails = 0;
		if (w->quick_fails) {
			delay = 100 * 1000000LL << (w->quick_fails > 6 ? 6 : w->quick_fails - 1);
			if (delay > 5 * 1000000000LL)
				delay = 5 * 1000000000LL;
		}
		w->restarts++;
		w->last_status = status;
		w->last_state = state;
		w->restart_at = now + (delay ? delay : 1);
		k->npending++;
		c->info("worker %u exited with status %d; restarting", i, status);
		mp_spawn_worker_ended(c->obj, i, status, MP_SPAWN_W_RESTARTING);
		return;
	}
	w->ended = 1;
	mp_spawn_worker_ended(c->obj, i, status, state);
	if (status != 0) {
		c->info("worker %u %s %d", i, state == MP_SPAWN_W_KILLED ? "was killed: status"
					       : "exited with status", status);
		if (k->first_fail < 0)
			k->first_fail = status;
		if (c->fail_fast && !k->stopping)
			sup_stop(k, SIGTERM, MP_SPAWN_R_FAILED);
	}
}

/* A pending restart is called off: the last failure stands. */
static void give_up(struct keeper *k, uint32_t i)
{
	struct worker *w = &k->w[i];

	w->ended = 1;
	mp_spawn_worker_ended(k->c->obj, i, w->last_status, w->last_state);
	if (k->first_fail < 0)
		k->first_fail = w->last_status;
}

void sup_start_or_fail(struct keeper *k, uint32_t i)
{
	int st = sup_start_worker(k, i);

	if (st)
		worker_done(k, i, st, MP_SPAWN_W_NOSTART);
}

int64_t sup_restart_due(struct keeper *k, int64_t now)
{
	int64_t until = 0;

	for (uint32_t i = 0; i < k->c->nworkers; i++) {
		if (!k->w[i].restart_at)
			continue;
		if (now >= k->w[i].restart_at) {
			k->w[i].restart_at = 0;
			k->npending--;
			sup_start_or_fail(k, i);
		} else {
			until = sup_min_deadline(until, k->w[i].restart_at);
		}
	}
	return until;
}

void sup_call_off_restarts(struct keeper *k)
{
	for (uint32_t i = 0; i < k->c->nworkers; i++)
		if (k->w[i].restart_at) {
			k->w[i].restart_at = 0;
			k->npending--;
			give_up(k, i);
		}
}

void sup_signal_workers(struct keeper *k, int sig)
{
	for (uint32_t i = 0; i < k->c->nworkers; i++)
		if (k->w[i].pid > 0)
			kill(-k->w[i].pgid, sig);
}

void sup_set_stopping(struct keeper *k, int sig, enum mp_spawn_reason reason)
{
	k->stopping = 1;
	k->reason = reason;
	k->stop_sig = sig;
	mp_spawn_stopping(k->c->obj, reason, sig);
}

void sup_kill_now(struct keeper *k)
{
	k->t_kill = 0;
	sup_signal_workers(k, SIGKILL);
}

void sup_kill_later(struct keeper *k)
{
	sup_signal_workers(k, SIGCONT);	/* a stopped worker must see its signal */
	if (k->c->kill_after_ns > 0)
		k->t_kill = mp_now_ns() + k->c->kill_after_ns;
	else
		sup_kill_now(k);
}

/* Ends the group: sig to every worker, no more restarts, SIGKILL after
 * --kill-after.  A second INT/TERM/HUP while stopping means "now". */
void sup_stop(struct keeper *k, int sig, enum mp_spawn_reason reason)
{
	if (k->c->listen_fd >= 0) {
		sup_listen_stop(k, sig, reason);
		return;
	}
	if (k->stopping) {
		if (reason == MP_SPAWN_R_SIGNAL || sig == SIGKILL)
			sup_kill_now(k);
		return;
	}
	sup_set_stopping(k, sig, reason);
	/* pending restarts are off: their last failure stands */
	sup_call_off_restarts(k);
	sup_signal_workers(k, sig);
	if (sig != SIGKILL)
		sup_kill_later(k);
}

void sup_worker_reaped(struct keeper *k, pid_t pid, int wst)
{
	int i = hash_take(k, pid);

	if (i < 0)
		return;	/* an adopted orphan, or a worker that never ran */
	k->w[i].pid = 0;
	k->nrunning--;
	worker_done(k, (uint32_t)i, sup_status_of(wst),
		    WIFSIGNALED(wst) ? MP_SPAWN_W_KILLED : MP_SPAWN_W_EXITED);
}

/* Reaps every child that has ended. */
void sup_reap(struct keeper *k)
{
	int wst;
	pid_t pid;

	while ((pid = waitpid(-1, &wst, WNOHANG)) > 0)
		sup_worker_reaped(k, pid, wst);
}
