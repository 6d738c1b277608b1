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

#endif
