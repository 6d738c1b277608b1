/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-queue.h - what the queue on a Redis store (redis-queue.c) and its
 * scripts (redis-queue-lua.c) share.  Internal to the Redis store. */
#ifndef MP_REDIS_QUEUE_H
#define MP_REDIS_QUEUE_H

#include "redis.h"

/* The scripts; their ARGV and replies are above each in redis-queue-lua.c. */
extern const struct mp_redis_script mp_redis_queue_open_script;
extern const struct mp_redis_script mp_redis_queue_put_script;
extern const struct mp_redis_script mp_redis_queue_take_script;
extern const struct mp_redis_script mp_redis_queue_settle_script;
extern const struct mp_redis_script mp_redis_queue_end_script;
extern const struct mp_redis_script mp_redis_queue_ack_owner_script;
extern const struct mp_redis_script mp_redis_queue_done_script;
extern const struct mp_redis_script mp_redis_queue_close_script;
extern const struct mp_redis_script mp_redis_queue_info_script;
extern const struct mp_redis_script mp_redis_queue_waiter_script;
extern const struct mp_redis_script mp_redis_queue_drop_script;
extern const struct mp_redis_script mp_redis_queue_renew_script;

#endif
