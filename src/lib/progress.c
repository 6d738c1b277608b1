/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* progress.c - -v while waiting, and --progress lines; see progress.h. */
#include "config.h"

#include "progress.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "gate.h"
#include "parse.h"
#include "queue.h"
#include "show.h"
#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the ticker ---- */

static void add_ns(struct timespec *ts, int64_t ns)
{
	ts->tv_sec += (time_t)(ns / 1000000000LL);
	ts->tv_nsec += (long)(ns % 1000000000LL);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *ticker_main(void *arg)
{
	struct mp_ticker *t = arg;
	struct timespec at;
	int64_t wait = t->first_ns;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		add_ns(&at, wait);
		while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &at) != ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->mu);
		t->fn(t->arg);
		pthread_mutex_lock(&t->mu);
		wait = t->every_ns;
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int mp_ticker_start(struct mp_ticker *t, int64_t first_ns, int64_t every_ns,
		    void (*fn)(void *arg), void *arg)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	memset(t, 0, sizeof *t);
	t->first_ns = first_ns;
	t->every_ns = every_ns;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* the signals that end the wait must reach the waiting thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&t->th, NULL, ticker_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	t->running = rc == 0;
	return -rc;
}

void mp_ticker_stop(struct mp_ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	t->running = 0;
}

/* ---- -v: who holds it ---- */

/* Opens w's own store and object, for the thread (the main thread's are
 * in its wait: a Redis connection is one thread's).  0 or -errno. */
static int side_open(struct mp_watch *w)
{
	int rc;

	if (w->opened)
		return 0;
	rc = mp_store_open(&w->store, w->dir);
	if (rc == 0)
		rc = mp_store_find(&w->store, w->kind, w->name, &w->obj);
	w->opened = rc == 0;
	return rc;
}


#define WATCH_EVERY_NS (10 * 1000000000LL)

static void watch_tick(void *arg)
{
	struct mp_watch *w = arg;
	struct mp_show_sum s;

	if (mp_show_sum(&w->obj, &s))
		return;
	mp_warn("waiting for %s '%s': %s; held by %s; %u waiting", w->kind->name, w->name,
		s.state, s.holders[0] ? s.holders : "nobody", s.waiters);
}

static void watch_start(struct mp_watch *w, const struct mp_kind *k, const char *name,
			int64_t first_ns)
{
	memset(w, 0, sizeof *w);
	w->kind = k;
	w->name = name;
	w->dir = mp_cli.dir;
	if (mp_cli.verbose && !mp_cli.nonblock && side_open(w) == 0)
		mp_ticker_start(&w->t, first_ns, WATCH_EVERY_NS, watch_tick, w);
}

void mp_watch_start(struct mp_watch *w, const struct mp_kind *k, const char *name)
{
	watch_start(w, k, name, 0);
}

void mp_watch_start_later(struct mp_watch *w, const struct mp_kind *k, const char *name)
{
	watch_start(w, k, name, 1000000000LL);
}

void mp_watch_stop(struct mp_watch *w)
{
	mp_ticker_stop(&w->t);
	if (w->opened)
		mp_obj_close(&w->obj);
	w->opened = 0;
}

/* ---- --progress: a line on a terminal ---- */

void mp_bar_init(struct mp_bar *b, const char *what)
{
	memset(b, 0, sizeof *b);
	b->on = isatty(2);
	b->what = what;
	b->t0 = mp_now_ns();
}

void mp_bar_draw(struct mp_bar *b, uint64_t done, uint64_t total)
{
	double secs = (double)(mp_now_ns() - b->t0) / 1e9, rate;
	char eta[32] = "-";

	if (!b->on)
		return;
	if (total < done)
		total = done;
	rate = secs > 0 ? (double)done / secs : 0;
	if (rate > 0 && total > done)
		mp_format_duration((int64_t)((double)(total - done) / rate * 1e9), eta, sizeof eta);
	else if (total == done)
		snprintf(eta, sizeof eta, "0s");
	/* \r and erase to the end of the line: redrawn in place */
	fprintf(stderr, "\r\033[K%s: %llu/%llu (%d%%)  %.1f/s  ETA %s", b->what,
		(unsigned long long)done, (unsigned long long)total,
		total ? (int)(done * 100 / total) : 100, rate, eta);
	fflush(stderr);
	b->drawn = 1;
}

void mp_bar_end(struct mp_bar *b)
{
	if (b->on && b->drawn)
		fputc('\n', stderr);
	b->drawn = 0;
}

int mp_gate_acquire_watched(struct mp_obj *o, struct mp_gate_req *r, uint64_t *token, int *idx)
{
	struct mp_watch w;
	int rc;

	if (!mp_cli.verbose || r->nonblock)
		return mp_gate_acquire(o, r, token, idx);
	/* not queued yet: a try first costs no place in the FIFO */
	r->nonblock = 1;
	rc = mp_gate_acquire(o, r, token, idx);
	r->nonblock = 0;
	if (rc != -EAGAIN)
		return rc;
	mp_watch_start(&w, o->kind, o->name);
	rc = mp_gate_acquire(o, r, token, idx);
	mp_watch_stop(&w);
	return rc;
}

/* ---- join and drain with --progress ---- */

#define BAR_EVERY_NS (500 * 1000000LL)

struct counted {
	struct mp_watch side;	/* its own store and object, for the thread */
	struct mp_bar bar;
	char what[MP_NAME_MAX + 16];
	uint64_t base, base_used;
	/* reads done and total from o */
	int (*count)(struct counted *c, struct mp_obj *o, uint64_t *done, uint64_t *total);
};

static int count_join(struct counted *c, struct mp_obj *o, uint64_t *done, uint64_t *total)
{
	struct mp_queue_info qi;
	int rc = mp_queue_info(o, &qi, NULL, 0);

	if (rc < 0)
		return rc;
	*total = qi.puts - c->base;
	*done = qi.puts - qi.unfinished - c->base;
	return 0;
}

static int count_drain(struct counted *c, struct mp_obj *o, uint64_t *done, uint64_t *total)
{
	struct mp_gate_info gi;
	int rc = mp_gate_info(o, &gi, NULL, 0);

	if (rc < 0)
		return rc;
	*total = c->base_used + (gi.last_token - c->base);
	*done = *total > gi.used ? *total - gi.used : 0;
	return 0;
}

static void counted_tick(void *arg)
{
	struct counted *c = arg;
	uint64_t done, total;

	if (c->count(c, &c->side.obj, &done, &total) == 0)
		mp_bar_draw(&c->bar, done, total);
}

static void counted_start(struct counted *c, struct mp_obj *o, const char *verb)
{
	memset(&c->side, 0, sizeof c->side);
	c->side.kind = o->kind;
	c->side.name = o->name;
	c->side.dir = mp_cli.dir;
	snprintf(c->what, sizeof c->what, "%s %s", verb, o->name);
	mp_bar_init(&c->bar, c->what);
	if (c->bar.on && side_open(&c->side) == 0)
		mp_ticker_start(&c->side.t, 0, BAR_EVERY_NS, counted_tick, c);
}

static void counted_end(struct counted *c, struct mp_obj *o)
{
	uint64_t done, total;

	mp_watch_stop(&c->side);
	if (c->bar.on && c->count(c, o, &done, &total) == 0)
		mp_bar_draw(&c->bar, done, total);
	mp_bar_end(&c->bar);
}

/* wait(o, deadline_ns, nonblock) with c's line drawn while it waits */
static int counted_wait(struct counted *c, struct mp_obj *o, const char *verb,
			int (*wait)(struct mp_obj *o, int64_t deadline_ns, int nonblock),
			int64_t deadline_ns, int nonblock)
{
	int rc;

	counted_start(c, o, verb);
	rc = wait(o, deadline_ns, nonblock);
	counted_end(c, o);
	return rc;
}

int mp_queue_join_progress(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	struct counted c = { .count = count_join };
	struct mp_queue_info qi;
	int rc = mp_queue_info(o, &qi, NULL, 0);

	if (rc < 0)
		return rc;
	c.base = qi.puts - qi.unfinished;
	return counted_wait(&c, o, "join", mp_queue_join, deadline_ns, nonblock);
}

int mp_gate_drain_progress(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	struct counted c = { .count = count_drain };
	struct mp_gate_info gi;
	int rc = mp_gate_info(o, &gi, NULL, 0);

	if (rc < 0)
		return rc;
	c.base = gi.last_token;
	c.base_used = gi.used;
	return counted_wait(&c, o, "drain", mp_gate_drain, deadline_ns, nonblock);
}

/* ---- mpspawn --progress ---- */

static void spawn_tick(void *arg)
{
	struct mp_spawn_bar *b = arg;
	struct mp_spawn_snap s;
	uint64_t done = 0, total;

	if (mp_spawn_snapshot(&b->side.obj, &s))
		return;
	if (s.g.flags & MP_SPAWN_F_POOL) {
		struct mp_queue_info qi;

		for (uint32_t i = 0; i < s.g.nworkers; i++)
			done += s.w[i].done;
		if (!b->queue_open &&
		    mp_store_find(&b->side.store, &mp_queue_kind, s.g.queue, &b->queue) == 0)
			b->queue_open = 1;
		total = done;
		if (b->queue_open && mp_queue_info(&b->queue, &qi, NULL, 0) >= 0)
			total += qi.items + qi.in_flight;
	} else {
		for (uint32_t i = 0; i < s.g.nworkers; i++)
			done += s.w[i].state != MP_SPAWN_W_RUNNING &&
				s.w[i].state != MP_SPAWN_W_WAITING &&
				s.w[i].state != MP_SPAWN_W_RESTARTING;
		total = s.g.nworkers;
	}
	mp_spawn_snap_free(&s);
	mp_bar_draw(&b->bar, done, total);
}

void mp_spawn_bar_start(struct mp_spawn_bar *b, const char *name)
{
	memset(b, 0, sizeof *b);
	b->side.kind = &mp_spawn_kind;
	b->side.name = name;
	b->side.dir = mp_cli.dir;
	snprintf(b->what, sizeof b->what, "%s", name);
	mp_bar_init(&b->bar, b->what);
	/* the first tick a moment later: the group is being set up */
	if (b->bar.on && side_open(&b->side) == 0)
		mp_ticker_start(&b->side.t, 200 * 1000000LL, BAR_EVERY_NS, spawn_tick, b);
}

void mp_spawn_bar_stop(struct mp_spawn_bar *b)
{
	mp_ticker_stop(&b->side.t);
	if (b->side.opened && b->bar.on)
		spawn_tick(b);	/* the last count */
	if (b->queue_open)
		mp_obj_close(&b->queue);
	mp_watch_stop(&b->side);
	mp_bar_end(&b->bar);
}
