/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-spawn.h - what process groups on a Redis store (redis-spawn.c)
 * and their scripts (redis-spawn-lua.c) share.  Internal to the store. */
#ifndef MP_REDIS_SPAWN_H
#define MP_REDIS_SPAWN_H

#include "redis.h"
#include "spawn.h"

/* The scripts; their ARGV and replies are above each in redis-spawn-lua.c. */
extern const struct mp_redis_script mp_redis_spawn_claim_script;
extern const struct mp_redis_script mp_redis_spawn_owner_script;
extern const struct mp_redis_script mp_redis_spawn_renew_script;
extern const struct mp_redis_script mp_redis_spawn_worker_script;
extern const struct mp_redis_script mp_redis_spawn_state_script;
extern const struct mp_redis_script mp_redis_spawn_request_script;
extern const struct mp_redis_script mp_redis_spawn_take_script;
extern const struct mp_redis_script mp_redis_spawn_beat_script;
extern const struct mp_redis_script mp_redis_spawn_count_script;
extern const struct mp_redis_script mp_redis_spawn_snap_script;
extern const struct mp_redis_script mp_redis_spawn_look_script;

/* ---- shared by redis-spawn.c and redis-spawn-read.c ---- */

static inline struct mp_robj *robj(const struct mp_obj *o)
{
	return o->impl;
}

/* Runs sc on the group's keys (":m", ":w", ":c"). */
int mp_rsp_eval(const struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
		const char *const *args, const size_t *lens, redisReply **rep);
/* The integer reply (or the first element of an array reply). */
long long mp_rsp_code(const redisReply *rep);
/* -2 (gone) → -EIDRM, -3 (not a group) → -EMEDIUMTYPE, with the reason;
 * else 0. */
int mp_rsp_status(const struct mp_obj *o, long long v);
/* A writer's script: its code, -100 if the server could not be asked. */
long long mp_rsp_run_code(struct mp_obj *o, const struct mp_redis_script *sc, int nargs,
			  const char *const *args, const size_t *lens);
void mp_rsp_u64(char *buf, size_t len, uint64_t v);
/* An owner of the record, "pid start pidns". */
void mp_rsp_owner_parse(const char *s, struct mp_owner *w);
int mp_rsp_alive(const struct mp_owner *w);
/* The group's front and keeper are dead, as /proc says here: its host
 * and pid namespace are ours (else 0: its lease says). */
int mp_rsp_dead_here(const char *host, const struct mp_owner *front,
		     const struct mp_owner *keeper);

/* What claim, wait and kill look at. */
struct look {
	int state, status, expired, lost;
	char host[160];
	uint64_t run;
};
int mp_rsp_look(struct mp_obj *o, struct look *l);

/* The readers' ops (redis-spawn-read.c). */
int mp_rsp_snapshot(struct mp_obj *o, struct mp_spawn_snap *s);
int mp_rsp_wait(struct mp_obj *o, int64_t deadline_ns, int nonblock, int *status);
int mp_rsp_kill_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason);
void mp_rsp_post_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason);

#endif
