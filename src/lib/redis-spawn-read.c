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
#include <stddef.h>
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
			  (l->expired || mp_rsp_dead_here(l->host, &front, &keeper));
	}
	freeReplyObject(rep);
	return rc;
}

/* ---- read by the verbs ---- */

static int64_t num(const redisReply *v)
{
	return v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : v->integer;
}

/* How a field of the record is read into the snapshot. */
enum ftype { F_32, F_64, F_MS, F_STR, F_OWNER, F_BYTES };

struct field {
	const char *name;
	enum ftype type;
	size_t off, size;
};

#define SF(name, type, member) \
	{ name, type, offsetof(struct mp_spawn_snap, member), \
	  sizeof(((struct mp_spawn_snap *)0)->member) }
#define WF(name, type, member) \
	{ name, type, offsetof(struct mp_spawn_worker, member), \
	  sizeof(((struct mp_spawn_worker *)0)->member) }

static const struct field group_fields[] = {
	SF("nw", F_32, g.nworkers), SF("state", F_32, g.state), SF("run", F_64, g.run),
	SF("front", F_OWNER, g.front), SF("keeper", F_OWNER, g.keeper),
	SF("caller", F_OWNER, g.caller), SF("started", F_64, g.started_ns),
	SF("ended", F_64, g.ended_ns), SF("status", F_32, g.status), SF("flags", F_32, g.flags),
	SF("reason", F_32, g.reason), SF("endsig", F_32, g.end_sig),
	SF("hb", F_64, g.heartbeat_ns), SF("tmo", F_64, g.timeout_ns),
	SF("kseq", F_32, g.kill_seq), SF("ksig", F_32, g.kill_sig),
	SF("kreason", F_32, g.kill_reason), SF("maxr", F_32, g.max_restarts),
	SF("msgst", F_32, g.msg_status), SF("cmd", F_STR, g.command), SF("queue", F_STR, g.queue),
	SF("host", F_STR, host), SF("hname", F_STR, hostname),
};

static const struct field worker_fields[] = {
	WF("pid", F_32, pid), WF("st", F_32, state), WF("tk", F_64, start_ticks),
	WF("t0", F_64, started_ns), WF("m0", F_MS, started_mono_ns), WF("t1", F_64, ended_ns),
	WF("x", F_32, status), WF("r", F_32, restarts), WF("b", F_MS, beat_ns),
	WF("d", F_64, done), WF("f", F_64, failed), WF("c", F_64, conn),
	WF("peer", F_BYTES, peer),
};

/* Reads value v of field f (if it is one of the table's) into base. */
static void read_field(const struct field *t, size_t n, void *base, const char *f,
		       const redisReply *v)
{
	const char *str = v->type == REDIS_REPLY_STRING ? v->str : "";

	for (size_t i = 0; i < n; i++) {
		char *at = (char *)base + t[i].off;
		uint64_t u = strtoull(str, NULL, 10);	/* "-1" is 2^64-1: -1 again below */
		uint32_t u32 = (uint32_t)u;
		int64_t ms;

		if (strcmp(f, t[i].name))
			continue;
		if (t[i].type == F_32)
			memcpy(at, &u32, sizeof u32);
		else if (t[i].type == F_64)
			memcpy(at, &u, sizeof u);
		else if (t[i].type == F_MS) {
			/* milliseconds of the server's clock; unsigned: a
			 * corrupt value wraps, defined, instead of overflowing */
			ms = (int64_t)(u * 1000000ULL);
			memcpy(at, &ms, sizeof ms);
		}
		else if (t[i].type == F_STR)
			snprintf(at, t[i].size, "%s", str);
		else if (t[i].type == F_OWNER)
			mp_rsp_owner_parse(str, (struct mp_owner *)(void *)at);
		else if (v->type == REDIS_REPLY_STRING && v->len == t[i].size)
			memcpy(at, v->str, t[i].size);
		return;
	}
}

static int snap_parse(struct mp_obj *o, const redisReply *rep, struct mp_spawn_snap *s)
{
	const redisReply *m = rep->element[1], *wr = rep->element[2];
	int64_t until_ms = 0, now_ms = num(rep->element[3]);

	for (size_t i = 0; i + 1 < m->elements; i += 2) {
		read_field(group_fields, sizeof group_fields / sizeof *group_fields, s,
			   m->element[i]->str, m->element[i + 1]);
		if (!strcmp(m->element[i]->str, "until"))
			until_ms = num(m->element[i + 1]);
	}
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
	for (size_t i = 0; i + 1 < wr->elements; i += 2) {
		char *dot;
		unsigned long id = strtoul(wr->element[i]->str, &dot, 10);

		if (*dot == '.' && id < s->g.nworkers)
			read_field(worker_fields, sizeof worker_fields / sizeof *worker_fields,
				   &s->w[id], dot + 1, wr->element[i + 1]);
	}
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
		s->lost = until_ms <= now_ms || mp_rsp_dead_here(s->host, &s->g.front, &s->g.keeper);
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
	struct look l = { 0 };
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
