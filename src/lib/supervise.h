/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise.h - start, watch and end a group of worker processes.
 *
 * Two processes supervise a group:
 *
 *   front   the mpspawn process the caller started (or, with --daemon,
 *           a detached copy of it).  It starts the keeper, forwards INT,
 *           TERM, HUP, TSTP and CONT to it, and in daemon mode watches the
 *           caller through a pidfd.  It is a subreaper.
 *   keeper  its child, in a process group of its own.  It starts the
 *           workers, reaps them, restarts them, enforces timeouts,
 *           tags their output, keeps the status table and at the end
 *           kills and reaps whatever is left below it.  It is a subreaper
 *           too, so every orphan below it (a daemonised grandchild, even
 *           one that called setsid) becomes its child and is reaped.
 *
 * Each worker runs in a process group of its own (so a signal reaches its
 * whole job), with PR_SET_PDEATHSIG(SIGKILL) on the keeper.
 *
 * Invariant: nothing started by a worker outlives the group while the
 * front or the keeper lives.
 *   - the front is killed (even by SIGKILL): the keeper gets its parent-
 *     death signal (a catchable one), SIGKILLs every worker's process
 *     group, then SIGKILLs its children until it has none (each round
 *     adopts the orphans of the last), and exits;
 *   - the keeper is killed: the workers die of their PDEATHSIG, their
 *     orphans are adopted by the front, which kills them the same way;
 *   - both at once (kill -9 of both pids): the workers die of their
 *     PDEATHSIG; a worker's descendants that are still alive are adopted
 *     by init (or an outer subreaper) and survive.
 * In daemon mode the front is detached, so the same holds; the caller's
 * exit ends the group like a SIGTERM.
 */
#ifndef MP_SUPERVISE_H
#define MP_SUPERVISE_H

#include <signal.h>
#include <stdint.h>

#include "store.h"

struct mp_sup_conf {
	/* the command, resolved (see mp_cmd_prepare) */
	char **argv;
	const char *path;
	int shell;		/* argv is sh -c STRING: a message becomes $1 */
	uint32_t nworkers;	/* --listen: connections at once */
	int tag;		/* prefix output lines with "[ID] " */
	int fail_fast;		/* end the others when one fails */
	int restart;		/* restart a worker that failed */
	uint32_t max_restarts;	/* per worker; UINT32_MAX: no limit */
	int64_t timeout_ns;	/* then timeout_sig; 0: none */
	int timeout_sig;
	int64_t kill_after_ns;	/* SIGKILL this long after ending signals */
	int caller_pidfd;	/* daemon: the group ends when it is readable; -1 */
	int ready_fd;		/* daemon: one byte written once started; -1 */
	sigset_t child_mask;	/* signal mask the workers start with */
	/* pool mode */
	const char *queue;	/* NULL: not a pool */
	int use_stdin;		/* the message on stdin, not as last argument */
	int keep_order;		/* --keep-order: stdout in the order taken */
	int64_t msg_ttl_ns;	/* --ttl: a message's command is ended after
				 * this (status 124); 0: no bound */
	/* --listen mode (see supervise-listen.c) */
	int listen_fd;		/* the listening socket; -1: not a server */
	const char *listen_path;	/* a Unix socket's path, removed at the end */
	/* the record */
	struct mp_store *store;
	struct mp_obj *obj;
	const char *name;
	int remove_at_end;	/* an unnamed group leaves no record */
	/* messages (the library does not print on its own) */
	void (*warn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
	void (*info)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

/* Runs the group, as its front, until it is over (not async-signal-safe;
 * messages go through c->warn and c->info only).  Returns the group's
 * exit status: 0 when every worker exited 0, else the status of the first
 * that failed (128+N for signal N); 128+N when ended by signal N (to this
 * process or `mpspawn kill`); 124 after --timeout; 126/127 when the
 * command could not be run; 71 when no process could be started.
 * Signals INT, TERM, HUP, TSTP, CONT and CHLD are blocked while it runs.
 * With c->listen_fd, the group is a server (supervise-listen.c): each
 * worker is a connection's handler, and a stop by signal exits 0. */
int mp_sup_run(const struct mp_sup_conf *c);

/* The signal the keeper gets when the front dies (PR_SET_PDEATHSIG). */
int mp_sup_front_died_signal(void);

#endif
