/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* progress.h - what a long wait shows on stderr while it waits: with -v,
 * who holds what it waits for (at once, then every 10 s); with
 * --progress, a progress line (done/total, rate, ETA, as parallel --bar
 * or pv draw it) when stderr is a terminal, nothing when it is not.
 *
 * Both run in a thread of their own (a ticker) that calls a function now
 * and then until stopped, while the main thread sleeps in its wait: the
 * wait itself is the same as without them (no slices, no lost place in a
 * FIFO).  The thread blocks every signal, so INT and TERM still end the
 * wait.  Part of the cli layer: it prints.
 */
#ifndef MP_PROGRESS_H
#define MP_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

#include "store.h"

struct mp_ticker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running, stop;
	int64_t first_ns, every_ns;
	void (*fn)(void *arg);
	void *arg;
};

/* Calls fn(arg) after first_ns, then every every_ns, in a thread, until
 * mp_ticker_stop.  Returns 0 or -errno (then nothing runs: a wait without
 * its display is still right). */
int mp_ticker_start(struct mp_ticker *t, int64_t first_ns, int64_t every_ns,
		    void (*fn)(void *arg), void *arg);
/* Stops the thread and waits for it; nothing if it did not start. */
void mp_ticker_stop(struct mp_ticker *t);

/* -v while waiting: "waiting for KIND 'NAME': STATE; held by PID COMMAND
 * since TIME, ...; N waiting", at once and every 10 s, read through a
 * store of its own (the dir of --dir/--store, or NULL). */
struct mp_watch {
	struct mp_ticker t;
	const struct mp_kind *kind;
	const char *name;
	const char *dir;
	struct mp_store store;
	struct mp_obj obj;
	int opened;
};
void mp_watch_start(struct mp_watch *w, const struct mp_kind *k, const char *name);
/* The same for a wait that may end at once (an event, a variable, a
 * queue): the first line after a second of waiting.  Nothing with -n. */
void mp_watch_start_later(struct mp_watch *w, const struct mp_kind *k, const char *name);
void mp_watch_stop(struct mp_watch *w);

/* A progress line on stderr, only when it is a terminal. */
struct mp_bar {
	int on, drawn;
	const char *what;
	int64_t t0;
};
void mp_bar_init(struct mp_bar *b, const char *what);
/* Redraws "WHAT: DONE/TOTAL (P%)  R/s  ETA T" in place. */
void mp_bar_draw(struct mp_bar *b, uint64_t done, uint64_t total);
/* Ends the line (a newline after the last drawing). */
void mp_bar_end(struct mp_bar *b);

/* mp_gate_acquire (gate.h) with -v: when it has to wait, who holds the
 * gate is said at once and every 10 s until it is taken.  (Without -v,
 * or with -n, just mp_gate_acquire.) */
struct mp_gate_req;
int mp_gate_acquire_watched(struct mp_obj *o, struct mp_gate_req *r, uint64_t *token, int *idx);

/* mp_queue_join and mp_gate_drain (mpsem drain) with --progress: a line
 * of DONE/TOTAL while they wait, when stderr is a terminal.  For join the
 * total is what was unfinished when it began plus what was put since; for
 * drain, the slots held when it began plus those taken since. */
int mp_queue_join_progress(struct mp_obj *o, int64_t deadline_ns, int nonblock);
int mp_gate_drain_progress(struct mp_obj *o, int64_t deadline_ns, int nonblock);

/* mpspawn --progress: while group NAME runs, a line of workers ended of
 * all (messages processed of those processed and queued, for a pool),
 * when stderr is a terminal. */
struct mp_spawn_bar {
	struct mp_watch side;
	struct mp_obj queue;
	int queue_open;
	struct mp_bar bar;
	char what[300];
};
void mp_spawn_bar_start(struct mp_spawn_bar *b, const char *name);
void mp_spawn_bar_stop(struct mp_spawn_bar *b);

#endif
