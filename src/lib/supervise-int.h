/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-int.h - what the parts of the supervisor share (see
 * supervise.h for the two processes and the invariant they keep).
 * Included only by src/lib/supervise-*.c.
 *
 *   supervise-front.c    the front: mp_sup_run starts the keeper, forwards
 *                        signals to it and sweeps what it leaves
 *   supervise-keeper.c   the keeper's life: set-up, main loop, emergency,
 *                        the group's exit status (sup_keeper_main)
 *   supervise-workers.c  the workers: start, reap, restart, stop, signal
 *                        (sup_start_or_fail, sup_reap, sup_stop, ...)
 *   supervise-sweep.c    every process below this one: list, signal,
 *                        SIGKILL until none is left (sup_sweep, ...)
 *   supervise-output.c   --tag: whole lines with their worker's prefix
 *                        (sup_add_stream, sup_read_stream, ...)
 *   supervise-pool.c     --queue: a worker running the command once per
 *                        message (sup_pool_worker)
 *   supervise-listen.c   --listen: accept, a handler per connection in a
 *                        free slot, the graceful stop (sup_listen_*)
 *   supervise-order.c    --keep-order: each message's stdout held until
 *                        the earlier ones are out (sup_order_*)
 *
 * Only the keeper's process uses struct keeper; the front knows nothing
 * of the workers but that they are below it.
 */
#ifndef MP_SUPERVISE_INT_H
#define MP_SUPERVISE_INT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "listen.h"
#include "spawn.h"
#include "supervise.h"

struct order;
struct omsg;

/* One output (1 stdout, 2 stderr) of one worker, in --tag mode. */
struct stream {
	int fd;			/* read end; -1: closed */
	uint64_t id;		/* the worker (--listen: the connection) */
	int out;		/* 1 stdout, 2 stderr */
	struct omsg *msg;	/* --keep-order: held for this message */
	char *part;		/* the incomplete last line */
	size_t len, cap;
};

struct worker {
	pid_t pid;		/* 0: not running */
	pid_t pgid;		/* its process group (last incarnation) */
	int64_t started;	/* CLOCK_MONOTONIC */
	int64_t restart_at;	/* 0: no restart pending */
	uint32_t restarts, quick_fails;
	int last_status;	/* of the last end */
	enum mp_spawn_wstate last_state;
	int ended;		/* for good */
	uint64_t conn;		/* --listen: the connection it serves */
};

struct keeper {
	const struct mp_sup_conf *c;
	pid_t self, front;
	int sfd;
	struct worker *w;
	uint32_t nrunning, npending;
	/* pid -> worker index, open addressing */
	pid_t *hpid;
	uint32_t *hidx;
	uint32_t hsize;
	/* tagged output */
	struct stream *st;
	size_t nst, capst;
	char *obuf;
	size_t ocap;
	char drain[4096];
	int out_dead[3];	/* that output is gone (EPIPE) */
	int out_error;		/* a write failed otherwise */
	int out_error_first;	/* ... before any worker failed: the workers'
				 * SIGPIPE is its consequence, 74 the status */
	/* what the main loop polls: the signalfd, then each stream */
	struct pollfd *pf;
	size_t npf, pfcap;
	/* environment of the workers */
	char **envp;
	char env_id[40];
	/* ending */
	int stopping, cleanup;
	enum mp_spawn_reason reason;
	int stop_sig, nstops;
	int64_t t_timeout, t_kill, t_cleanup;
	int first_fail;		/* status of the first failure; -1 none */
	uint32_t req_seen;
	pid_t *signalled;	/* leftovers already sent SIGTERM in cleanup */
	size_t nsig, capsig;
	/* --listen */
	int lfd;		/* the listening socket; -1: none (or closed) */
	uint32_t *lfree, nfree;	/* free slots */
	uint64_t nconn;		/* connections accepted */
	int conn_fd;		/* the connection being started; -1 */
	uint64_t conn_no;
	size_t env_conn_at;	/* envp index of the connection's variables */
	char conn_env[MP_LISTEN_NENV][MP_LISTEN_ENVLEN];
	int terminating;	/* stopping: the handlers were signalled */
	int64_t t_drain;	/* stopping: signal the handlers then */
	int64_t t_accept;	/* accept failed: try again then */
	int accept_warned;
	/* --keep-order */
	struct order *ord;
};

/* The exit status a wait status stands for: N, 128+signal, else 70. */
static inline int sup_status_of(int wst)
{
	if (WIFEXITED(wst))
		return WEXITSTATUS(wst);
	if (WIFSIGNALED(wst))
		return 128 + WTERMSIG(wst);
	return 70;
}

/* The earlier of two deadlines, 0 meaning none. */
static inline int64_t sup_min_deadline(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* supervise-front.c: removes the group's record (an unnamed group's, at
 * its end), whatever the store. */
void sup_remove_record(const struct mp_sup_conf *c);

/* supervise-keeper.c: the keeper's whole life, in the child the front
 * forked; returns its exit status (the group's). */
int sup_keeper_main(const struct mp_sup_conf *c, pid_t front);

/* supervise-workers.c */
/* Builds k->envp, the workers' environment; 0 or -1 (no memory). */
int sup_build_env(struct keeper *k);
/* Starts worker i; one that cannot start is done at once (or restarted). */
void sup_start_or_fail(struct keeper *k, uint32_t i);
/* Starts the workers whose restart is due; returns the next restart's
 * time, 0 if none is pending. */
int64_t sup_restart_due(struct keeper *k, int64_t now);
/* Pending restarts are off: each one's last failure stands. */
void sup_call_off_restarts(struct keeper *k);
/* Sends sig to the process group of every running worker. */
void sup_signal_workers(struct keeper *k, int sig);
/* The group is stopping (for reason, by sig): in the keeper and the record. */
void sup_set_stopping(struct keeper *k, int sig, enum mp_spawn_reason reason);
/* SIGKILL to every worker now (none pending). */
void sup_kill_now(struct keeper *k);
/* SIGCONT to every worker, and SIGKILL after --kill-after (now if 0). */
void sup_kill_later(struct keeper *k);
/* Ends the group (sig, no more restarts, SIGKILL after --kill-after). */
void sup_stop(struct keeper *k, int sig, enum mp_spawn_reason reason);
/* Child pid ended with wait status wst: if a worker, decides what next. */
void sup_worker_reaped(struct keeper *k, pid_t pid, int wst);
/* Reaps every child that has ended. */
void sup_reap(struct keeper *k);

/* supervise-sweep.c; k may be NULL in the front */
/* 1 when this process has no child left. */
int sup_no_children(void);
/* SIGKILLs everything below this process until nothing is left. */
/* SIGs the process groups of the workers that still have members of
 * this process's own (supervise-sweep.c). */
void sup_kill_groups(struct keeper *k, int sig);
void sup_sweep(struct keeper *k);
/* SIGTERM (and SIGCONT) once to each child not signalled yet. */
void sup_cleanup_signal(struct keeper *k);

/* supervise-output.c */
/* A new stream for fd, the output out (1, 2) of worker id; 0 or -1. */
int sup_add_stream(struct keeper *k, int fd, uint64_t id, int out);
/* Reads what stream s has; at EOF flushes and closes it. */
void sup_read_stream(struct keeper *k, struct stream *s);
/* Frees the streams that were closed. */
void sup_drop_closed_streams(struct keeper *k);
/* At the end: reads every stream until EOF (or EAGAIN) and flushes it. */
void sup_drain_streams(struct keeper *k);

/* supervise-workers.c: starts worker i (--listen: on k->conn_fd);
 * returns 0, or the status it ended with at once (126/127, 71). */
int sup_start_worker(struct keeper *k, uint32_t i);

/* supervise-listen.c */
/* Sets up the free slots; 0 or -1 (no memory). */
int sup_listen_init(struct keeper *k);
/* Accepts connections while a slot is free, a handler for each. */
void sup_listen_accept(struct keeper *k);
/* Slot i's handler ended (status, state): the slot is free again. */
void sup_listen_done(struct keeper *k, uint32_t i, int status, enum mp_spawn_wstate state);
/* Stops accepting; the handlers finish (--timeout, then --signal, then
 * SIGKILL after --kill-after).  Again: signals them now. */
void sup_listen_stop(struct keeper *k, int sig, enum mp_spawn_reason reason);
/* The --timeout after the stop is over: the handlers get --signal. */
void sup_listen_terminate(struct keeper *k);

/* supervise-order.c: the keeper's side */
/* Sets up the order channel (before the workers start); 0 or -1. */
int sup_order_init(struct keeper *k);
/* The fd the keeper polls for the workers' reports; -1 if none. */
int sup_order_fd(const struct keeper *k);
/* Reads the workers' reports (taken, done) and releases what is due. */
void sup_order_read(struct keeper *k);
/* Worker i has ended: its unfinished message waits for its retry. */
void sup_order_worker_ended(struct keeper *k, uint32_t i);
/* Data of a held message's output (from its stream). */
void sup_order_append(struct keeper *k, struct omsg *m, const char *p, size_t n);
/* At the end: releases the finished messages in order, drops the rest. */
void sup_order_finish(struct keeper *k);
/* supervise-order.c: the worker's side (a pool worker inherits the
 * channel from the keeper).  The take lock makes the order of the
 * reports the order of the takes: lock, take, report, unlock. */
/* Waits for the pool's take lock (a POSIX record lock: a worker killed
 * holding it releases it).  0, or -EINTR when a signal ends the group. */
int sup_order_lock(void);
void sup_order_unlock(void);
/* Reports a taken message (its bytes identify its retry) and returns in
 * *out the write end of the pipe its command's stdout goes to.  0 or -errno. */
int sup_order_report_take(uint32_t id, const char *msg, size_t len, int *out);
/* Reports the end of worker id's message (after it was acknowledged). */
void sup_order_report_done(uint32_t id, int status);

/* supervise-output.c: writes to fd 1 or 2 of the group (or, for a held
 * message's stream, to its buffer). */
void sup_write_out(struct keeper *k, int out, const char *p, size_t n);
/* Reads a stream until EAGAIN or EOF, flushes its last line, closes it. */
void sup_finish_stream(struct keeper *k, struct stream *s);

/* supervise-pool.c: the body of a pool's worker (in the forked child);
 * returns its exit status. */
int sup_pool_worker(const struct mp_sup_conf *c, uint32_t id, char **envp);

#endif
