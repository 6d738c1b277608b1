/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spawn.c - the status table of a group of workers; see spawn.h. */
#include "config.h"

#include "clock.h"
#include "err.h"
#include "fault.h"
#include "futex.h"
#include "obj.h"
#include "spawn.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct mp_spawn_group *G(struct mp_obj *o)
{
	return o->body;
}

/* The table size comes from o->geom (validated at open), never from the
 * shared header again. */
static struct mp_spawn_worker *W(struct mp_obj *o)
{
	return (struct mp_spawn_worker *)((char *)o->body + sizeof(struct mp_spawn_group));
}

#define NWORKERS(o)	((uint32_t)(o)->geom.a)

size_t mp_spawn_size(uint32_t n)
{
	return sizeof(struct mp_spawn_group) + (size_t)n * sizeof(struct mp_spawn_worker);
}

static int validate_spawn(struct mp_obj *o)
{
	uint32_t n;

	if (o->body_size < sizeof(struct mp_spawn_group)) {
		mp_errmsg_set("'%s' is corrupt: too small for a group", mp_obj_path(o));
		return -EBADMSG;
	}
	n = G(o)->nworkers;
	if (n == 0 || n > MP_SPAWN_MAX_WORKERS || mp_spawn_size(n) > o->body_size) {
		mp_errmsg_set("'%s' is corrupt: bad number of workers (%u)", mp_obj_path(o), n);
		return -EBADMSG;
	}
	o->geom.a = n;
	return 0;
}

/* After a reboot every process of the group is gone: the group is over. */
static void reset_spawn(struct mp_obj *o)
{
	struct mp_spawn_group *g = G(o);
	struct mp_spawn_worker *w = W(o);

	if (g->state != MP_SPAWN_G_DONE) {
		g->reason = MP_SPAWN_R_LOST;
		g->status = 128 + SIGKILL;
		g->state = MP_SPAWN_G_DONE;
	}
	for (uint32_t i = 0; i < NWORKERS(o); i++)
		if (w[i].state == MP_SPAWN_W_RUNNING || w[i].state == MP_SPAWN_W_RESTARTING ||
		    w[i].state == MP_SPAWN_W_WAITING)
			w[i].state = MP_SPAWN_W_KILLED;
}

const struct mp_kind mp_spawn_kind = {
	.id = MP_KIND_SPAWN,
	.name = "spawn",
	.validate = validate_spawn,
	.repair = NULL,		/* a record: every field is one store */
	.reset = reset_spawn,
};

uint64_t mp_spawn_new_run_id(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint64_t)mp_now_ns() ^ ((uint64_t)getpid() << 40);
	return r ? r : 1;
}

/* Fills a body for a new group (at creation, or reusing an ended one). */
static void fill(struct mp_spawn_group *g, struct mp_spawn_worker *w, const struct mp_spawn_params *p)
{
	memset(g, 0, sizeof *g);
	g->nworkers = p->nworkers;
	g->run = mp_spawn_new_run_id();
	g->front = p->front;
	g->caller = p->caller;
	g->started_ns = mp_realtime_ns();
	g->status = -1;
	g->flags = p->flags;
	g->heartbeat_ns = p->heartbeat_ns;
	g->timeout_ns = p->timeout_ns;
	g->max_restarts = p->max_restarts;
	snprintf(g->command, sizeof g->command, "%s", p->command ? p->command : "");
	snprintf(g->queue, sizeof g->queue, "%s", p->queue ? p->queue : p->listen ? p->listen : "");
	memset(w, 0, (size_t)p->nworkers * sizeof *w);
	for (uint32_t i = 0; i < p->nworkers; i++)
		w[i].status = -1;
	/* Published last: a reader that sees "running" sees the rest. */
	__atomic_store_n(&g->state, MP_SPAWN_G_RUNNING, __ATOMIC_RELEASE);
}

static void init_cb(void *body, size_t size, const void *arg)
{
	struct mp_spawn_group *g = body;

	fill(g, (struct mp_spawn_worker *)(g + 1), arg);
}

static int alive(const struct mp_owner *who)
{
	return who->pid != 0 && mp_owner_alive(who);
}

/* Was g started in another pid namespace than ours (its supervisor's, or
 * before it exists its front's)?  Then its pids are not ours.  Unknown
 * namespaces (0) count as ours. */
static int foreign(const struct mp_spawn_group *g)
{
	const struct mp_owner *who = g->keeper.pid ? &g->keeper : &g->front;
	struct mp_owner me;

	if (!who->pid || !who->pidns || mp_owner_of(0, &me) || !me.pidns)
		return 0;
	return who->pidns != me.pidns;
}

/* Says why g (a copy, or the record itself, locked) is impossible, and
 * returns 1; 0 if it is sane. */
static int group_corrupt(struct mp_obj *o, const struct mp_spawn_group *g)
{
	if (g->state < MP_SPAWN_G_RUNNING || g->state > MP_SPAWN_G_DONE ||
	    g->reason > MP_SPAWN_R_FRONT) {
		mp_errmsg_set("'%s' is corrupt: bad group state", mp_obj_path(o));
		return 1;
	}
	return 0;
}

static int foreign_error(struct mp_obj *o)
{
	const struct mp_spawn_group *g = G(o);

	mp_errmsg_set("group '%s' runs in another pid namespace (supervisor pid %d there, "
		      "not here): it cannot be signalled or judged from this one; "
		      "use mpspawn in that namespace", o->name,
		      (int)(g->keeper.pid ? g->keeper.pid : g->front.pid));
	return -EXDEV;
}

/* Called locked: the group that has the object has ended. */
static int over(struct mp_obj *o)
{
	struct mp_spawn_group *g = G(o);

	return g->state == MP_SPAWN_G_DONE || (!alive(&g->front) && !alive(&g->keeper));
}

/* Marks o removed and unlinks its file, as mp_obj_remove() does, but
 * called with the mutex held (so nobody claims it in between). */
static int remove_locked(struct mp_store *s, struct mp_obj *o)
{
	char fname[MP_NAME_MAX + 16];
	struct stat a, b;

	snprintf(fname, sizeof fname, "%s.%s", o->kind->name, o->name);
	__atomic_store_n(&o->hdr->removed, 1, __ATOMIC_RELEASE);
	mp_obj_changed(o);
	__atomic_add_fetch(&o->hdr->seq2, 1, __ATOMIC_RELEASE);
	if (fstat(o->fd, &a) == 0 && fstatat(s->dirfd, fname, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev && unlinkat(s->dirfd, fname, 0) < 0) {
		mp_errmsg_set("cannot replace '%s': %s", mp_obj_path(o), strerror(errno));
		return -errno;
	}
	return 0;
}

static int sweep_one(const char *name, void *arg)
{
	struct mp_store *s = arg;
	struct mp_obj o;

	if (strncmp(name, "spawn-", 6) ||
	    mp_obj_open(s, &mp_spawn_kind, name, 0, NULL, NULL, NULL, &o))
		return 0;
	if (mp_obj_lock(&o) == 0) {
		if (!o.hdr->removed && (G(&o)->flags & MP_SPAWN_F_UNNAMED) && over(&o))
			remove_locked(s, &o);
		mp_obj_unlock(&o);
		mp_obj_wake(&o);
		mp_futex_wake(&o.hdr->seq2);
	}
	mp_obj_close(&o);
	return 0;
}

void mp_spawn_sweep_unnamed(struct mp_store *s)
{
	if (s->ops->spawn != &mp_shm_spawn_ops)
		return;
	mp_shm_store_list(s, &mp_spawn_kind, sweep_one, s);
}

static int shm_spawn_claim(struct mp_store *s, const char *name, const struct mp_spawn_params *p,
		   struct mp_obj *o, pid_t *busy_pid)
{
	int created, rc;

	if (p->nworkers == 0 || p->nworkers > MP_SPAWN_MAX_WORKERS)
		return -EINVAL;
	for (int tries = 0; tries < 10; tries++) {
		rc = mp_obj_open(s, &mp_spawn_kind, name, mp_spawn_size(p->nworkers), init_cb, p,
				 &created, o);
		if (rc || created)
			return rc;
		rc = mp_obj_lock(o);
		if (rc) {
			mp_obj_close(o);
			return rc;
		}
		if (o->hdr->removed) {
			/* replaced by another claimer meanwhile: open the new one */
			mp_obj_unlock(o);
			mp_obj_close(o);
			continue;
		}
		if (!over(o)) {
			*busy_pid = G(o)->front.pid;
			mp_obj_unlock(o);
			mp_obj_close(o);
			mp_errmsg_set("a group named '%s' is running (pid %d)", name, (int)*busy_pid);
			return -EBUSY;
		}
		if (NWORKERS(o) == p->nworkers) {
			fill(G(o), W(o), p);
			mp_obj_changed(o);
			mp_obj_unlock(o);
			mp_obj_wake(o);
			return 0;
		}
		/* Another size: replace the file, then create it anew. */
		rc = remove_locked(s, o);
		mp_obj_unlock(o);
		mp_obj_wake(o);
		mp_futex_wake(&o->hdr->seq2);
		mp_obj_close(o);
		if (rc)
			return rc;
	}
	mp_errmsg_set("cannot claim group '%s': it keeps changing", name);
	return -EAGAIN;
}

static int shm_spawn_open(struct mp_store *s, const char *name, struct mp_obj *o)
{
	return mp_obj_open(s, &mp_spawn_kind, name, 0, NULL, NULL, NULL, o);
}

static uint64_t shm_spawn_run_id(struct mp_obj *o)
{
	return __atomic_load_n(&G(o)->run, __ATOMIC_ACQUIRE);
}

/* Every writer: lock, change, publish, wake.  A failure to lock (a
 * process stopped inside the mutex for 10 s) loses one update of a
 * record, which is better than a supervisor that stops supervising. */
#define UPDATE(o, stmts)					\
	do {							\
		if (mp_obj_lock(o) == 0) {			\
			stmts;					\
			mp_obj_changed(o);			\
			mp_obj_unlock(o);			\
			mp_obj_wake(o);				\
		}						\
	} while (0)

static int shm_spawn_set_front(struct mp_obj *o, const struct mp_owner *front)
{
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	G(o)->front = *front;
	mp_obj_changed(o);
	mp_obj_unlock(o);
	return 0;
}

static int shm_spawn_set_keeper(struct mp_obj *o, const struct mp_owner *keeper)
{
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	G(o)->keeper = *keeper;
	mp_obj_changed(o);
	mp_obj_unlock(o);
	return 0;
}

static void shm_spawn_worker_started(struct mp_obj *o, uint32_t id, pid_t pid, uint64_t start_ticks)
{
	if (id >= NWORKERS(o))
		return;
	UPDATE(o, {
		struct mp_spawn_worker *w = &W(o)[id];
		w->pid = pid;
		MP_FAULT_POINT("spawn.worker.record");
		w->start_ticks = start_ticks;
		w->started_ns = mp_realtime_ns();
		w->started_mono_ns = mp_shared_ns();
		w->ended_ns = 0;
		w->beat_ns = 0;
		w->state = MP_SPAWN_W_RUNNING;
	});
}

static void shm_spawn_conn_started(struct mp_obj *o, uint32_t id, uint64_t conn,
				   const struct mp_spawn_peer *peer)
{
	if (id >= NWORKERS(o))
		return;
	UPDATE(o, {
		struct mp_spawn_worker *w = &W(o)[id];
		w->conn = conn;
		w->peer = *peer;
	});
}

static void shm_spawn_worker_ended(struct mp_obj *o, uint32_t id, int status, enum mp_spawn_wstate state)
{
	if (id >= NWORKERS(o))
		return;
	UPDATE(o, {
		struct mp_spawn_worker *w = &W(o)[id];
		w->status = status;
		w->ended_ns = mp_realtime_ns();
		if (state == MP_SPAWN_W_RESTARTING)
			w->restarts++;
		w->state = state;
	});
}

static void shm_spawn_stopping(struct mp_obj *o, enum mp_spawn_reason reason, int sig)
{
	UPDATE(o, {
		struct mp_spawn_group *g = G(o);
		if (g->state == MP_SPAWN_G_RUNNING) {
			g->reason = reason;
			g->end_sig = sig;
			g->state = MP_SPAWN_G_STOPPING;
		}
	});
}

static void shm_spawn_finish(struct mp_obj *o, int status, enum mp_spawn_reason reason, int sig)
{
	UPDATE(o, {
		struct mp_spawn_group *g = G(o);
		struct mp_spawn_worker *w = W(o);
		for (uint32_t i = 0; i < NWORKERS(o); i++)
			if (w[i].state == MP_SPAWN_W_RUNNING || w[i].state == MP_SPAWN_W_RESTARTING) {
				/* only when the supervisor was lost */
				w[i].state = MP_SPAWN_W_KILLED;
				w[i].status = 128 + SIGKILL;
				w[i].ended_ns = mp_realtime_ns();
			}
		g->reason = reason;
		g->end_sig = sig;
		g->status = status;
		g->ended_ns = mp_realtime_ns();
		__atomic_store_n(&g->state, MP_SPAWN_G_DONE, __ATOMIC_RELEASE);
	});
}

static int shm_spawn_take_request(struct mp_obj *o, uint32_t *seen, int *sig, enum mp_spawn_reason *reason)
{
	struct mp_spawn_group *g = G(o);
	int got = 0;

	if (__atomic_load_n(&g->kill_seq, __ATOMIC_ACQUIRE) == *seen)
		return 0;
	if (mp_obj_lock(o) == 0) {
		if (g->kill_seq != *seen) {
			*seen = g->kill_seq;
			*sig = g->kill_sig;
			*reason = g->kill_reason;
			got = *sig > 0 && *sig < 65;
		}
		mp_obj_unlock(o);
	}
	return got;
}

static int shm_spawn_beat(struct mp_obj *o, uint64_t run, uint32_t id)
{
	struct mp_spawn_group *g = G(o);
	int rc;

	if (id >= NWORKERS(o))
		return -ERANGE;
	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	if (g->run != run || g->state == MP_SPAWN_G_DONE || o->hdr->removed) {
		mp_obj_unlock(o);
		return -ESTALE;
	}
	__atomic_store_n(&W(o)[id].beat_ns, mp_shared_ns(), __ATOMIC_RELEASE);
	mp_obj_unlock(o);
	return 0;
}

static void shm_spawn_count_message(struct mp_obj *o, uint32_t id, int status)
{
	int32_t none = 0;

	if (id >= NWORKERS(o))
		return;
	__atomic_add_fetch(&W(o)[id].done, 1, __ATOMIC_RELAXED);
	if (status) {
		__atomic_add_fetch(&W(o)[id].failed, 1, __ATOMIC_RELAXED);
		__atomic_compare_exchange_n(&G(o)->msg_status, &none, status, 0,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
}

/* ---- readers ---- */

int mp_spawn_worker_stale(const struct mp_spawn_snap *s, uint32_t i)
{
	const struct mp_spawn_worker *w = &s->w[i];
	int64_t ref;

	if (!s->g.heartbeat_ns || s->g.state == MP_SPAWN_G_DONE || s->lost ||
	    w->state != MP_SPAWN_W_RUNNING)
		return 0;
	/* A worker that has never beaten has had since its start. */
	ref = w->beat_ns > w->started_mono_ns ? w->beat_ns : w->started_mono_ns;
	return mp_ns_diff(s->now_mono_ns, ref) > s->g.heartbeat_ns;
}

static int shm_spawn_snapshot(struct mp_obj *o, struct mp_spawn_snap *s)
{
	uint32_t n = NWORKERS(o);
	int rc;

	memset(s, 0, sizeof *s);
	s->w = calloc(n, sizeof *s->w);
	if (!s->w)
		return -ENOMEM;
	rc = mp_obj_lock(o);
	if (rc) {
		mp_spawn_snap_free(s);
		return rc;
	}
	memcpy(&s->g, G(o), sizeof s->g);
	memcpy(s->w, W(o), n * sizeof *s->w);
	s->now_ns = mp_realtime_ns();
	s->now_mono_ns = mp_shared_ns();
	mp_obj_unlock(o);

	s->g.command[sizeof s->g.command - 1] = 0;
	s->g.queue[sizeof s->g.queue - 1] = 0;
	if (s->g.nworkers != n || group_corrupt(o, &s->g)) {
		mp_spawn_snap_free(s);
		return -EBADMSG;
	}
	for (uint32_t i = 0; i < n; i++)
		if (s->w[i].state > MP_SPAWN_W_NOSTART) {
			mp_errmsg_set("'%s' is corrupt: bad state of worker %u", mp_obj_path(o), i);
			mp_spawn_snap_free(s);
			return -EBADMSG;
		}
	if (s->g.state != MP_SPAWN_G_DONE) {
		s->foreign = foreign(&s->g);
		s->lost = !s->foreign && !alive(&s->g.front) && !alive(&s->g.keeper);
	}
	mp_spawn_snap_judge(s);
	return 0;
}

void mp_spawn_snap_judge(struct mp_spawn_snap *s)
{
	for (uint32_t i = 0; i < s->g.nworkers; i++) {
		uint32_t st = s->w[i].state;
		/* --listen: a slot waiting for a connection is not running */
		if (!s->lost && s->g.state != MP_SPAWN_G_DONE &&
		    (st == MP_SPAWN_W_RUNNING || st == MP_SPAWN_W_RESTARTING ||
		     (st == MP_SPAWN_W_WAITING && !(s->g.flags & MP_SPAWN_F_LISTEN))))
			s->nrunning++;
		if (mp_spawn_worker_stale(s, i))
			s->stale = 1;
	}
}

void mp_spawn_snap_free(struct mp_spawn_snap *s)
{
	free(s->w);
	s->w = NULL;
}

const char *mp_spawn_gstate_name(const struct mp_spawn_snap *s)
{
	if (s->lost)
		return "lost";
	switch (s->g.state) {
	case MP_SPAWN_G_RUNNING:
		return s->stale ? "stale" : "running";
	case MP_SPAWN_G_STOPPING:
		return "stopping";
	default:
		return "done";
	}
}

const char *mp_spawn_wstate_name(uint32_t state)
{
	static const char *names[] = { "waiting", "running", "restarting", "exited", "killed",
				       "not started" };

	return state < sizeof names / sizeof *names ? names[state] : "?";
}

const char *mp_spawn_reason_name(uint32_t reason)
{
	static const char *names[] = { "ended", "failed (--fail-fast)", "signal", "timed out",
				       "caller exited", "supervisor killed", "mpspawn killed" };

	return reason < sizeof names / sizeof *names ? names[reason] : "?";
}

static int shm_spawn_wait(struct mp_obj *o, int64_t deadline_ns, int nonblock, int *status)
{
	struct mp_spawn_group *g = G(o);
	int rc, slice_over;

	rc = mp_obj_lock(o);
	if (rc)
		return rc;
	for (;;) {
		if (o->hdr->removed) {
			rc = -EIDRM;
			break;
		}
		if (group_corrupt(o, g)) {
			rc = -EBADMSG;
			break;
		}
		if (g->state == MP_SPAWN_G_DONE) {
			if (g->status < 0 || g->status > 255) {
				mp_errmsg_set("'%s' is corrupt: exit status %d", mp_obj_path(o), g->status);
				rc = -EBADMSG;
				break;
			}
			*status = g->status;
			rc = 0;
			break;
		}
		if (foreign(g)) {
			rc = foreign_error(o);
			break;
		}
		if (!alive(&g->front) && !alive(&g->keeper)) {
			/* killed with its supervisor: the workers got SIGKILL */
			*status = 128 + SIGKILL;
			rc = 0;
			break;
		}
		if (nonblock) {
			rc = -EAGAIN;
			break;
		}
		rc = mp_obj_wait(o, &o->hdr->seq, &o->hdr->nwait, deadline_ns, MP_REAP_SLICE_NS,
				 &slice_over);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			break;		/* still locked */
		if (rc)
			return rc;	/* relocking failed: not locked */
	}
	mp_obj_unlock(o);
	return rc;
}

static int send_to(const struct mp_owner *who, int sig)
{
	int fd, rc = 0;

	/* A pidfd pins the process: once its start time is checked, the
	 * signal cannot reach a recycled pid. */
	fd = (int)syscall(SYS_pidfd_open, (pid_t)who->pid, 0);
	if (fd < 0) {
		if (errno == ESRCH)
			return -ESRCH;
		if (!mp_owner_alive(who))
			return -ESRCH;
		return kill(who->pid, sig) < 0 ? -errno : 0;
	}
	if (!mp_owner_alive(who))
		rc = -ESRCH;
	else if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void shm_spawn_post_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason)
{
	UPDATE(o, {
		struct mp_spawn_group *g = G(o);
		g->kill_sig = sig;
		g->kill_reason = reason;
		__atomic_add_fetch(&g->kill_seq, 1, __ATOMIC_RELEASE);
	});
}

static int shm_spawn_kill_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason)
{
	struct mp_spawn_group *g = G(o);
	struct mp_owner keeper;
	int rc = mp_obj_lock(o);

	if (rc)
		return rc;
	if (group_corrupt(o, g)) {
		mp_obj_unlock(o);
		return -EBADMSG;
	}
	if (o->hdr->removed || (!foreign(g) && over(o))) {
		mp_obj_unlock(o);
		return -ESRCH;
	}
	if (foreign(g)) {
		/* a pid of another namespace names another process here */
		rc = g->state == MP_SPAWN_G_DONE ? -ESRCH : foreign_error(o);
		mp_obj_unlock(o);
		return rc;
	}
	g->kill_sig = sig;
	g->kill_reason = reason;
	__atomic_add_fetch(&g->kill_seq, 1, __ATOMIC_RELEASE);
	keeper = g->keeper;
	mp_obj_changed(o);
	mp_obj_unlock(o);
	mp_obj_wake(o);
	/* No keeper yet: it reads the request when it starts. */
	if (keeper.pid == 0)
		return 0;
	rc = send_to(&keeper, MP_SPAWN_SIG_REQUEST);
	return rc == -ESRCH ? 0 : rc;	/* it ended meanwhile: done anyway */
}

int mp_spawn_sig_ends_group(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT || sig == SIGKILL;
}

const struct mp_spawn_ops mp_shm_spawn_ops = {
	.claim = shm_spawn_claim,
	.open = shm_spawn_open,
	.run_id = shm_spawn_run_id,
	.set_front = shm_spawn_set_front,
	.set_keeper = shm_spawn_set_keeper,
	.worker_started = shm_spawn_worker_started,
	.conn_started = shm_spawn_conn_started,
	.worker_ended = shm_spawn_worker_ended,
	.stopping = shm_spawn_stopping,
	.finish = shm_spawn_finish,
	.take_request = shm_spawn_take_request,
	.beat = shm_spawn_beat,
	.count_message = shm_spawn_count_message,
	.snapshot = shm_spawn_snapshot,
	.wait = shm_spawn_wait,
	.kill_request = shm_spawn_kill_request,
	.post_request = shm_spawn_post_request,
};
