/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-spawn-read.c - process groups on a Redis store, the readers'
 * side: status (the snapshot), wait and kill from any host; see
 * redis-spawn.c for the keys and the lease.
 *
 * A group still marked running is lost when its lease ran out (its host
 * died, was cut off, or its keeper and front were SIGKILLed), or, seen
 * from its own host and pid namespace, when its front and keeper are both
 * dead.  Then wait returns 128+SIGKILL, as for a group lost locally.
 */
#include "config.h"

#include "redis-spawn.h"
#include "clock.h"
#include "err.h"
#include "owner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLICE_NS	(1000 * 1000000LL)	/* wait looks again (a lease may run out) */

/* What wait and kill look at. */

int mp_rsp_look(struct mp_obj *o, struct look *l)
{
	struct mp_owner front, keeper;
	redisReply *rep;
	int rc = mp_rsp_eval(o, &mp_redis_spawn_look_script, 0, NULL, NULL, &rep);

	if (rc)
		return rc;
	rc = mp_rsp_status(o, mp_rsp_code(rep));
	if (!rc && rep->elements != 8)
		rc = -EPROTO;
	if (!rc) {
		l->state = (int)rep->element[1]->integer;
		l->status = (int)rep->element[2]->integer;
		l->expired = rep->element[3]->integer == 1;
		snprintf(l->host, sizeof l->host, "%s", rep->element[4]->str);
		mp_rsp_owner_parse(rep->element[5]->str, &front);
		mp_rsp_owner_parse(rep->element[6]->str, &keeper);
		l->run = strtoull(rep->element[7]->str, NULL, 10);
		l->lost = l->state != MP_SPAWN_G_DONE &&
			  (l->expired || (mp_rsp_judged_here(l->host, &front, &keeper) && !mp_rsp_alive(&front) &&
					  !mp_rsp_alive(&keeper)));
	}
	freeReplyObject(rep);
	return rc;
}

/* ---- read by the verbs ---- */

static int64_t num(const redisReply *v)
{
	return v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : v->integer;
}

static void group_field(struct mp_spawn_snap *s, const char *f, const redisReply *v,
			int64_t *until_ms, struct mp_owner *front, struct mp_owner *keeper)
{
	struct mp_spawn_group *g = &s->g;
	const char *str = v->type == REDIS_REPLY_STRING ? v->str : "";

	if (!strcmp(f, "nw"))
		g->nworkers = (uint32_t)num(v);
	else if (!strcmp(f, "state"))
		g->state = (uint32_t)num(v);
	else if (!strcmp(f, "run"))
		g->run = strtoull(str, NULL, 10);
	else if (!strcmp(f, "front"))
		mp_rsp_owner_parse(str, front);
	else if (!strcmp(f, "keeper"))
		mp_rsp_owner_parse(str, keeper);
	else if (!strcmp(f, "caller"))
		mp_rsp_owner_parse(str, &g->caller);
	else if (!strcmp(f, "started"))
		g->started_ns = num(v);
	else if (!strcmp(f, "ended"))
		g->ended_ns = num(v);
	else if (!strcmp(f, "status"))
		g->status = (int32_t)num(v);
	else if (!strcmp(f, "flags"))
		g->flags = (uint32_t)num(v);
	else if (!strcmp(f, "reason"))
		g->reason = (uint32_t)num(v);
	else if (!strcmp(f, "endsig"))
		g->end_sig = (int32_t)num(v);
	else if (!strcmp(f, "hb"))
		g->heartbeat_ns = num(v);
	else if (!strcmp(f, "tmo"))
		g->timeout_ns = num(v);
	else if (!strcmp(f, "kseq"))
		g->kill_seq = (uint32_t)num(v);
	else if (!strcmp(f, "ksig"))
		g->kill_sig = (int32_t)num(v);
	else if (!strcmp(f, "kreason"))
		g->kill_reason = (uint32_t)num(v);
	else if (!strcmp(f, "maxr"))
		g->max_restarts = (uint32_t)num(v);
	else if (!strcmp(f, "msgst"))
		g->msg_status = (int32_t)num(v);
	else if (!strcmp(f, "cmd"))
		snprintf(g->command, sizeof g->command, "%s", str);
	else if (!strcmp(f, "queue"))
		snprintf(g->queue, sizeof g->queue, "%s", str);
	else if (!strcmp(f, "host"))
		snprintf(s->host, sizeof s->host, "%s", str);
	else if (!strcmp(f, "hname"))
		snprintf(s->hostname, sizeof s->hostname, "%s", str);
	else if (!strcmp(f, "until"))
		*until_ms = num(v);
}

static void worker_field(struct mp_spawn_snap *s, const char *f, const redisReply *v)
{
	char *dot;
	unsigned long id = strtoul(f, &dot, 10);
	struct mp_spawn_worker *w;

	if (*dot != '.' || id >= s->g.nworkers)
		return;
	w = &s->w[id];
	f = dot + 1;
	if (!strcmp(f, "pid"))
		w->pid = (int32_t)num(v);
	else if (!strcmp(f, "st"))
		w->state = (uint32_t)num(v);
	else if (!strcmp(f, "tk"))
		w->start_ticks = strtoull(v->str, NULL, 10);
	else if (!strcmp(f, "t0"))
		w->started_ns = num(v);
	else if (!strcmp(f, "m0"))
		w->started_mono_ns = num(v) * 1000000LL;
	else if (!strcmp(f, "t1"))
		w->ended_ns = num(v);
	else if (!strcmp(f, "x"))
		w->status = (int32_t)num(v);
	else if (!strcmp(f, "r"))
		w->restarts = (uint32_t)num(v);
	else if (!strcmp(f, "b"))
		w->beat_ns = num(v) * 1000000LL;
	else if (!strcmp(f, "d"))
		w->done = (uint64_t)num(v);
	else if (!strcmp(f, "f"))
		w->failed = (uint64_t)num(v);
	else if (!strcmp(f, "c"))
		w->conn = (uint64_t)num(v);
	else if (!strcmp(f, "peer") && v->len == sizeof w->peer)
		memcpy(&w->peer, v->str, sizeof w->peer);
}

static int snap_parse(struct mp_obj *o, const redisReply *rep, struct mp_spawn_snap *s)
{
	const redisReply *m = rep->element[1], *wr = rep->element[2];
	struct mp_owner front = { 0 }, keeper = { 0 };
	int64_t until_ms = 0, now_ms = num(rep->element[3]);

	for (size_t i = 0; i + 1 < m->elements; i += 2)
		group_field(s, m->element[i]->str, m->element[i + 1], &until_ms, &front, &keeper);
	s->g.front = front;
	s->g.keeper = keeper;
	if (s->g.nworkers == 0 || s->g.nworkers > MP_SPAWN_MAX_WORKERS ||
	    s->g.state < MP_SPAWN_G_RUNNING || s->g.state > MP_SPAWN_G_DONE ||
	    s->g.reason > MP_SPAWN_R_FRONT) {
		mp_errmsg_set("group '%s' in %s is corrupt: bad group state", o->name, o->dir);
		return -EBADMSG;
	}
	s->w = calloc(s->g.nworkers, sizeof *s->w);
	if (!s->w)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->g.nworkers; i++)
		s->w[i].status = -1;
	for (size_t i = 0; i + 1 < wr->elements; i += 2)
		worker_field(s, wr->element[i]->str, wr->element[i + 1]);
	for (uint32_t i = 0; i < s->g.nworkers; i++)
		if (s->w[i].state > MP_SPAWN_W_NOSTART) {
			mp_errmsg_set("group '%s' in %s is corrupt: bad state of worker %u", o->name,
				      o->dir, i);
			return -EBADMSG;
		}
	s->elsewhere = strcmp(s->host, mp_redis_host_id()) != 0;
	s->now_ns = mp_realtime_ns();
	s->now_mono_ns = now_ms * 1000000LL;	/* the server's: beats are its too */
	if (s->g.state != MP_SPAWN_G_DONE)
		s->lost = until_ms <= now_ms ||
			  (mp_rsp_judged_here(s->host, &front, &keeper) && !mp_rsp_alive(&front) && !mp_rsp_alive(&keeper));
	mp_spawn_snap_judge(s);
	return 0;
}

int mp_rsp_snapshot(struct mp_obj *o, struct mp_spawn_snap *s)
{
	redisReply *rep;
	int rc;

	memset(s, 0, sizeof *s);
	rc = mp_rsp_eval(o, &mp_redis_spawn_snap_script, 0, NULL, NULL, &rep);
	if (rc)
		return rc;
	rc = mp_rsp_status(o, mp_rsp_code(rep));
	if (!rc && (rep->elements != 4 || rep->element[1]->type != REDIS_REPLY_ARRAY ||
		    rep->element[2]->type != REDIS_REPLY_ARRAY))
		rc = -EPROTO;
	if (!rc)
		rc = snap_parse(o, rep, s);
	freeReplyObject(rep);
	if (rc)
		mp_spawn_snap_free(s);
	return rc;
}

int mp_rsp_wait(struct mp_obj *o, int64_t deadline_ns, int nonblock, int *status)
{
	const char *bases[1] = { o->impl ? robj(o)->base : "" };
	redisContext *sub = NULL;
	struct look l;
	int rc = 0;

	if (!nonblock)
		rc = mp_redis_waiter(robj(o)->s, &sub, bases, 1);
	for (;;) {
		if (!rc)
			rc = mp_rsp_look(o, &l);	/* subscribed first: no change is missed */
		if (!rc && l.state == MP_SPAWN_G_DONE) {
			if (l.status < 0 || l.status > 255) {
				mp_errmsg_set("group '%s' is corrupt: exit status %d", o->name, l.status);
				rc = -EBADMSG;
			} else {
				*status = l.status;
			}
			break;
		}
		if (!rc && l.lost) {
			/* its supervisor was killed, or its host stopped renewing */
			*status = 128 + SIGKILL;
			break;
		}
		if (!rc && nonblock)
			rc = -EAGAIN;
		if (!rc && deadline_ns && mp_now_ns() >= deadline_ns)
			rc = -ETIMEDOUT;
		if (!rc)
			rc = mp_redis_sleep(sub, bases[0], SLICE_NS, deadline_ns);
		if (rc == -ENOTCONN && !nonblock)
			rc = mp_redis_rewait(robj(o)->s, &sub, bases, 1, deadline_ns);
		if (rc)
			break;
	}
	if (rc == -EIDRM)
		mp_errmsg_set("group '%s' was removed", o->name);
	if (sub)
		redisFree(sub);
	return rc;
}

static int request(struct mp_obj *o, const char *run, int sig, enum mp_spawn_reason reason)
{
	char s[8], r[8];
	const char *a[3] = { run, s, r };
	long long c;

	snprintf(s, sizeof s, "%d", sig);
	snprintf(r, sizeof r, "%d", (int)reason);
	c = o->impl ? mp_rsp_run_code(o, &mp_redis_spawn_request_script, 3, a, NULL) : -100;
	if (c == -100)
		return -ENOTCONN;
	return c == -1 || c == -2 ? -ESRCH : mp_rsp_status(o, c);
}

int mp_rsp_kill_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason)
{
	struct look l;
	int rc = mp_rsp_look(o, &l);

	if (rc == -EIDRM)
		return -ESRCH;
	if (rc)
		return rc;
	if (l.state == MP_SPAWN_G_DONE || l.lost)
		return -ESRCH;
	/* the keeper's thread hears it, wherever it runs: no pid of the
	 * record is signalled from here */
	return request(o, "", sig, reason);
}

void mp_rsp_post_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason)
{
	char run[24];

	mp_rsp_u64(run, sizeof run, o->impl ? robj(o)->run : 0);
	request(o, run, sig, reason);
}
