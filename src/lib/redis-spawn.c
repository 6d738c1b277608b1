/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-spawn.c - process groups on a Redis server; see redis.h and
 * spawn.h.
 *
 * PREFIX:{spawn:NAME}:m is a hash of the group: kind, run, nw (workers),
 * state, status, reason, endsig, flags, maxr, hb, tmo, front, keeper and
 * caller (owners "pid start pidns"), host (the supervisor's host id),
 * hname (its name for people),
 * started, ended (CLOCK_REALTIME ns), cmd, queue, kseq/ksig/kreason (the
 * last kill request), msgst, lease and until (server ms).  ":w" is a hash
 * of the workers' fields, "ID.F": pid, st (state), tk (start ticks), t0,
 * t1 (start, end), m0 (start, server ms), x (status), r (restarts), b
 * (last beat, server ms), d, f (messages done, failed), c, peer.  Every
 * change publishes on ":c" ("k": a kill request, "d": done).
 *
 * The keeper keeps the group's lease: a thread of it (started by
 * set_keeper) renews "until" every lease/3 and listens on ":c"; a kill
 * request from any host ("k") becomes MP_SPAWN_SIG_REQUEST to the keeper,
 * which takes it as on the local store.  No process ever signals a pid
 * of the record: pids are the supervisor's host's.
 *
 * A group whose lease ran out is lost (redis-spawn-read.c), and its name
 * can be claimed again.
 */
#include "config.h"

#include "redis-spawn.h"
#include "clock.h"
#include "err.h"
#include "owner.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const keys[] = { ":m", ":w", ":c" };

int mp_rsp_eval(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		const char *const *args, const size_t *lens, redisReply **rep)
{
	if (!o->impl)
		return -ENOMEM;
	return mp_redis_eval_len(robj(o)->s, sc, robj(o)->base, keys, nargs, args, lens, rep);
}

long long mp_rsp_code(const redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ARRAY)
		return rep->elements ? rep->element[0]->integer : -1;
	return rep->integer;
}

int mp_rsp_status(const struct mp_obj *o, long long v)
{
	return mp_redis_kind_status(o, v, "group", "a group");
}

/* Runs a writer's script; its code, or -100 when the server could not be
 * asked (a writer of the record loses that one update, as on the local
 * store when its mutex cannot be had). */
long long mp_rsp_run_code(struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
			  const char *const *args, const size_t *lens)
{
	redisReply *rep;
	long long c;

	if (mp_rsp_eval(o, sc, nargs, args, lens, &rep))
		return -100;
	c = mp_rsp_code(rep);
	freeReplyObject(rep);
	return c;
}

void mp_rsp_u64(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%" PRIu64, v);
}

static void owner_str(const struct mp_owner *w, char *buf, size_t len)
{
	snprintf(buf, len, "%d %" PRIu64 " %" PRIu64, (int)w->pid, w->start, w->pidns);
}

void mp_rsp_owner_parse(const char *s, struct mp_owner *w)
{
	memset(w, 0, sizeof *w);
	if (s && sscanf(s, "%d %" SCNu64 " %" SCNu64, &w->pid, &w->start, &w->pidns) != 3)
		memset(w, 0, sizeof *w);
}

int mp_rsp_alive(const struct mp_owner *w)
{
	return w->pid != 0 && mp_owner_alive(w);
}

int mp_rsp_dead_here(const char *host, const struct mp_owner *front,
		     const struct mp_owner *keeper)
{
	static struct mp_owner me;
	const struct mp_owner *who = keeper->pid ? keeper : front;

	if (strcmp(host, mp_redis_host_id()))
		return 0;
	if (!me.pid && mp_owner_of(0, &me))
		return 0;
	if (who->pidns && me.pidns && who->pidns != me.pidns)
		return 0;	/* its pids are another namespace's */
	return !mp_rsp_alive(front) && !mp_rsp_alive(keeper);
}

/* ---- claim, open ---- */

/* The host's name for people: MP_HOST_ID, else the system's. */
static void host_name(char *buf, size_t len)
{
	const char *env = getenv("MP_HOST_ID");

	if (env && *env)
		snprintf(buf, len, "%s", env);
	else if (gethostname(buf, len) < 0)
		snprintf(buf, len, "?");
	buf[len - 1] = 0;
}

static int claim_reply(struct mp_obj *o, redisReply *rep, char *replace, size_t len,
		       pid_t *busy_pid)
{
	struct mp_owner front, keeper;
	long long c = mp_rsp_code(rep);

	if (c == 0)
		return 0;
	if (c != -1 || rep->elements != 5)
		return c == -3 ? mp_rsp_status(o, c) : -EPROTO;
	mp_rsp_owner_parse(rep->element[2]->str, &front);
	mp_rsp_owner_parse(rep->element[3]->str, &keeper);
	if (!replace[0] && mp_rsp_dead_here(rep->element[1]->str, &front, &keeper)) {
		/* killed with its supervisor here: its lease is not over yet,
		 * but the group is */
		snprintf(replace, len, "%s", rep->element[4]->str);
		return -EAGAIN;
	}
	*busy_pid = front.pid;
	mp_errmsg_set("a group named '%s' is running (pid %d on host %s)", o->name, (int)front.pid,
		      rep->element[1]->str);
	return -EBUSY;
}

static int redis_spawn_claim(struct mp_store *s, const char *name, const struct mp_spawn_params *p,
			     struct mp_obj *o, pid_t *busy_pid)
{
	char run[24], lease[24], replace[24] = "", nw[16], flags[16], maxr[16], hb[24], tmo[24];
	char front[64], caller[64], started[24], cmd[MP_SPAWN_CMD_MAX], hn[64];
	const char *a[] = { run, lease, replace, "hname", hn, "nw", nw, "flags", flags, "maxr",
			    maxr, "hb", hb, "tmo", tmo, "front", front, "caller", caller, "host",
			    mp_redis_host_id(), "started", started, "cmd", cmd, "queue",
			    p->queue ? p->queue : p->listen ? p->listen : "" };
	int64_t lease_ns = s->lease_ns > 0 ? s->lease_ns : MP_REDIS_LEASE_NS;
	redisReply *rep;
	int rc;

	if (p->nworkers == 0 || p->nworkers > MP_SPAWN_MAX_WORKERS)
		return -EINVAL;
	mp_redis_obj_init(s, &mp_spawn_kind, name, o);
	if (!o->impl)
		return -ENOMEM;
	robj(o)->run = mp_spawn_new_run_id();
	mp_rsp_u64(run, sizeof run, robj(o)->run);
	snprintf(lease, sizeof lease, "%lld", (long long)(lease_ns / 1000000));
	snprintf(nw, sizeof nw, "%u", p->nworkers);
	snprintf(flags, sizeof flags, "%u", p->flags);
	snprintf(maxr, sizeof maxr, "%u", p->max_restarts);
	snprintf(hb, sizeof hb, "%lld", (long long)p->heartbeat_ns);
	snprintf(tmo, sizeof tmo, "%lld", (long long)p->timeout_ns);
	owner_str(&p->front, front, sizeof front);
	owner_str(&p->caller, caller, sizeof caller);
	snprintf(started, sizeof started, "%lld", (long long)mp_realtime_ns());
	snprintf(cmd, sizeof cmd, "%s", p->command ? p->command : "");
	host_name(hn, sizeof hn);
	do {
		rc = mp_rsp_eval(o, &mp_redis_spawn_claim_script, (int)(sizeof a / sizeof *a), a, NULL, &rep);
		if (rc)
			break;
		rc = claim_reply(o, rep, replace, sizeof replace, busy_pid);
		freeReplyObject(rep);
	} while (rc == -EAGAIN);
	if (rc)
		o->close(o);
	return rc;
}

static int redis_spawn_open(struct mp_store *s, const char *name, struct mp_obj *o)
{
	struct look l;
	int rc;

	mp_redis_obj_init(s, &mp_spawn_kind, name, o);
	rc = o->impl ? mp_rsp_look(o, &l) : -ENOMEM;
	if (rc == -EIDRM) {
		mp_errmsg_set("no group named '%s' (in %s)", name, s->dir);
		rc = -ENOENT;
	}
	if (!rc)
		robj(o)->run = l.run;
	else if (o->close)
		o->close(o);
	return rc;
}

static uint64_t redis_spawn_run_id(struct mp_obj *o)
{
	struct look l;

	if (o->impl && !robj(o)->run && !mp_rsp_look(o, &l))
		robj(o)->run = l.run;
	return o->impl ? robj(o)->run : 0;
}

/* ---- the keeper's thread: the lease, and requests from every host ---- */

static struct {
	struct mp_store *s;
	char base[MP_NAME_MAX + 96];
	char run[24];
	int64_t lease_ns;
	pid_t self;
	int running;
} kt;

/* Renews the lease on c; 1 renewed (*seq the last request's number), 0
 * the group is over or the name another's, -1 no answer. */
static int kt_renew(redisContext **c, long long *seq)
{
	const char *a[1] = { kt.run };
	redisReply *rep;
	int rc;

	if (!*c && !(*c = mp_redis_connect(kt.s->impl)))
		return -1;
	if (mp_redis_eval_on(kt.s, *c, &mp_redis_spawn_renew_script, kt.base, keys, 1, a, &rep)) {
		redisFree(*c);
		*c = NULL;
		return -1;
	}
	rc = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[0]->integer == 1;
	if (rc)
		*seq = rep->element[1]->integer;
	freeReplyObject(rep);
	return rc;
}

/* The thread holds kt_mu whenever it is not asleep (in nanosleep or
 * poll): a fork (a pool's worker, a --listen handler) takes it first
 * (pthread_atfork), so that the child never inherits an allocator or
 * hiredis in the middle of a call of this thread's, whose locks no one
 * would release there (seen with ASan's allocator: a worker hung in
 * malloc for good). */
static pthread_mutex_t kt_mu = PTHREAD_MUTEX_INITIALIZER;

static void kt_lock(void)
{
	pthread_mutex_lock(&kt_mu);
}

static void kt_unlock(void)
{
	pthread_mutex_unlock(&kt_mu);
}

static void kt_pause(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };

	kt_unlock();
	nanosleep(&ts, NULL);
	kt_lock();
}

/* Waits, unlocked, until sub has data or the time is end: 0, or -1 the
 * connection is lost. */
static int kt_poll(redisContext *sub, int64_t end)
{
	struct pollfd p = { .fd = sub->fd, .events = POLLIN };
	int64_t left = end - mp_now_ns();

	if (left <= 0)
		return 0;
	kt_unlock();
	if (poll(&p, 1, (int)((left + 999999) / 1000000)) < 0)
		p.revents = 0;
	kt_lock();
	if ((p.revents & POLLIN) && redisBufferRead(sub) != REDIS_OK)
		return -1;
	return p.revents & (POLLHUP | POLLERR) && !(p.revents & POLLIN) ? -1 : 0;
}

static void *kt_main(void *arg)
{
	const char *bases[1] = { kt.base };
	redisContext *c = NULL, *sub = NULL;
	long long seen = 0, seq = 0;
	int64_t next = 0;

	(void)arg;
	kt_lock();
	for (;;) {
		int64_t now = mp_now_ns();
		char msg[8];
		int idx, rc;

		if (now >= next) {
			rc = kt_renew(&c, &seq);
			if (rc == 0)
				break;	/* over: nothing to keep */
			if (rc > 0 && seq != seen) {
				/* a request missed while not subscribed */
				seen = seq;
				kill(kt.self, MP_SPAWN_SIG_REQUEST);
			}
			next = now + (rc > 0 ? kt.lease_ns / 3 : 200 * 1000000LL);
		}
		if (!sub && mp_redis_waiter(kt.s, &sub, bases, 1)) {
			if (sub)
				redisFree(sub);
			sub = NULL;
		}
		if (!sub) {
			kt_pause(200 * 1000000LL);
			continue;
		}
		/* what has come (no wait: now), else sleep unlocked */
		rc = mp_redis_next_message(sub, bases, 1, now, &idx, msg, sizeof msg);
		if (rc == 0 && kt_poll(sub, next) == 0)
			continue;
		if (rc == 0)
			rc = -ENOTCONN;
		if (rc == 1 && msg[0] == 'k') {
			kill(kt.self, MP_SPAWN_SIG_REQUEST);
		} else if (rc == -EINTR) {
			kt_pause(100 * 1000000LL);
		} else if (rc < 0) {
			redisFree(sub);
			sub = NULL;
			next = 0;	/* subscribed again: look for requests missed */
		}
	}
	if (c)
		redisFree(c);
	if (sub)
		redisFree(sub);
	kt_unlock();
	return NULL;
}

static void kt_start(struct mp_obj *o)
{
	sigset_t all, old;
	pthread_t th;

	if (kt.running || !o->impl)
		return;
	kt.s = robj(o)->s;
	snprintf(kt.base, sizeof kt.base, "%s", robj(o)->base);
	mp_rsp_u64(kt.run, sizeof kt.run, robj(o)->run);
	kt.lease_ns = kt.s->lease_ns > 0 ? kt.s->lease_ns : MP_REDIS_LEASE_NS;
	kt.self = getpid();
	pthread_atfork(kt_lock, kt_unlock, kt_unlock);
	/* the thread takes no signal: the keeper reads them from its signalfd */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	kt.running = pthread_create(&th, NULL, kt_main, NULL) == 0;
	if (kt.running)
		pthread_detach(th);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- written by the supervisor ---- */

static int set_owner(struct mp_obj *o, const char *field, const struct mp_owner *w)
{
	char run[24], ow[64];
	const char *a[3] = { run, field, ow };
	long long c;

	mp_rsp_u64(run, sizeof run, robj(o)->run);
	owner_str(w, ow, sizeof ow);
	c = o->impl ? mp_rsp_run_code(o, &mp_redis_spawn_owner_script, 3, a, NULL) : -100;
	if (c == -100)
		return -ENOTCONN;
	if (c < 0) {
		mp_errmsg_set("group '%s' was claimed again meanwhile", o->name);
		return -ESTALE;
	}
	return 0;
}

static int redis_spawn_set_front(struct mp_obj *o, const struct mp_owner *front)
{
	return set_owner(o, "front", front);
}

static int redis_spawn_set_keeper(struct mp_obj *o, const struct mp_owner *keeper)
{
	int rc = set_owner(o, "keeper", keeper);

	if (!rc && keeper->pid == getpid())
		kt_start(o);
	return rc;
}

/* Writes fields of worker id: pairs f[0], v[0], ... (n pairs). */
static void worker_fields(struct mp_obj *o, uint32_t id, int n, const char *const *fv,
			  const size_t *fvlen)
{
	char run[24], ids[16];
	const char *a[2 + 2 * 8];
	size_t l[2 + 2 * 8];

	if (!o->impl || n > 8)
		return;
	mp_rsp_u64(run, sizeof run, robj(o)->run);
	snprintf(ids, sizeof ids, "%u", id);
	a[0] = run;
	a[1] = ids;
	for (int i = 0; i < 2 + 2 * n; i++) {
		if (i >= 2)
			a[i] = fv[i - 2];
		l[i] = i >= 2 && fvlen ? fvlen[i - 2] : strlen(a[i]);
	}
	mp_rsp_run_code(o, &mp_redis_spawn_worker_script, 2 + 2 * n, a, l);
}

static void redis_spawn_worker_started(struct mp_obj *o, uint32_t id, pid_t pid,
				       uint64_t start_ticks)
{
	char ps[16], tk[24], t0[24];
	const char *fv[] = { "pid", ps, "tk", tk, "t0", t0, "m0", "", "t1", "0", "b", "0",
			     "st", "1" };

	snprintf(ps, sizeof ps, "%d", (int)pid);
	mp_rsp_u64(tk, sizeof tk, start_ticks);
	snprintf(t0, sizeof t0, "%lld", (long long)mp_realtime_ns());
	worker_fields(o, id, 7, fv, NULL);
}

static void redis_spawn_conn_started(struct mp_obj *o, uint32_t id, uint64_t conn,
				     const struct mp_spawn_peer *peer)
{
	char cs[24];
	const char *fv[] = { "c", cs, "peer", (const char *)peer };
	size_t l[] = { 1, 0, 4, sizeof *peer };

	mp_rsp_u64(cs, sizeof cs, conn);
	l[1] = strlen(cs);
	worker_fields(o, id, 2, fv, l);
}

static void redis_spawn_worker_ended(struct mp_obj *o, uint32_t id, int status,
				     enum mp_spawn_wstate state)
{
	char x[16], t1[24], st[8];
	const char *fv[] = { "x", x, "t1", t1, "st", st, "r+", "" };

	snprintf(x, sizeof x, "%d", status);
	snprintf(t1, sizeof t1, "%lld", (long long)mp_realtime_ns());
	snprintf(st, sizeof st, "%d", (int)state);
	worker_fields(o, id, state == MP_SPAWN_W_RESTARTING ? 4 : 3, fv, NULL);
}

static void set_state(struct mp_obj *o, int state, int reason, int sig, int status)
{
	char run[24], s[8], r[8], g[8], x[16], t[24];
	const char *a[6] = { run, s, r, g, x, t };

	if (!o->impl)
		return;
	mp_rsp_u64(run, sizeof run, robj(o)->run);
	snprintf(s, sizeof s, "%d", state);
	snprintf(r, sizeof r, "%d", reason);
	snprintf(g, sizeof g, "%d", sig);
	snprintf(x, sizeof x, "%d", status);
	snprintf(t, sizeof t, "%lld", (long long)mp_realtime_ns());
	mp_rsp_run_code(o, &mp_redis_spawn_state_script, 6, a, NULL);
}

static void redis_spawn_stopping(struct mp_obj *o, enum mp_spawn_reason reason, int sig)
{
	set_state(o, MP_SPAWN_G_STOPPING, (int)reason, sig, -1);
}

static void redis_spawn_finish(struct mp_obj *o, int status, enum mp_spawn_reason reason, int sig)
{
	set_state(o, MP_SPAWN_G_DONE, (int)reason, sig, status);
}

static int redis_spawn_take_request(struct mp_obj *o, uint32_t *seen, int *sig,
				    enum mp_spawn_reason *reason)
{
	redisReply *rep;
	int got = 0;

	if (mp_rsp_eval(o, &mp_redis_spawn_take_script, 0, NULL, NULL, &rep))
		return 0;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
	    (uint32_t)rep->element[0]->integer != *seen) {
		*seen = (uint32_t)rep->element[0]->integer;
		*sig = (int)rep->element[1]->integer;
		*reason = (enum mp_spawn_reason)rep->element[2]->integer;
		got = *sig > 0 && *sig < 65;
	}
	freeReplyObject(rep);
	return got;
}

/* ---- used by the workers ---- */

static int redis_spawn_beat(struct mp_obj *o, uint64_t run, uint32_t id)
{
	char rs[24], ids[16];
	const char *a[2] = { rs, ids };
	long long c;

	mp_rsp_u64(rs, sizeof rs, run);
	snprintf(ids, sizeof ids, "%u", id);
	c = o->impl ? mp_rsp_run_code(o, &mp_redis_spawn_beat_script, 2, a, NULL) : -100;
	if (c == -100)
		return -ENOTCONN;
	return c == -5 ? -ERANGE : c < 0 ? -ESTALE : 0;
}

static void redis_spawn_count_message(struct mp_obj *o, uint32_t id, int status)
{
	char run[24], ids[16], st[16];
	const char *a[3] = { run, ids, st };

	if (!o->impl)
		return;
	mp_rsp_u64(run, sizeof run, robj(o)->run);
	snprintf(ids, sizeof ids, "%u", id);
	snprintf(st, sizeof st, "%d", status);
	mp_rsp_run_code(o, &mp_redis_spawn_count_script, 3, a, NULL);
}

const struct mp_spawn_ops mp_redis_spawn_ops = {
	.claim = redis_spawn_claim,
	.open = redis_spawn_open,
	.run_id = redis_spawn_run_id,
	.set_front = redis_spawn_set_front,
	.set_keeper = redis_spawn_set_keeper,
	.worker_started = redis_spawn_worker_started,
	.conn_started = redis_spawn_conn_started,
	.worker_ended = redis_spawn_worker_ended,
	.stopping = redis_spawn_stopping,
	.finish = redis_spawn_finish,
	.take_request = redis_spawn_take_request,
	.beat = redis_spawn_beat,
	.count_message = redis_spawn_count_message,
	.snapshot = mp_rsp_snapshot,
	.wait = mp_rsp_wait,
	.kill_request = mp_rsp_kill_request,
	.post_request = mp_rsp_post_request,
};
