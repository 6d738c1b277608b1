/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seam.c - the storage seam: every operation of every kind, reached
 * through the store an object was opened in (store.h: struct
 * mp_store_ops).  The tools call the functions here; each calls the
 * store's implementation.  The shared-memory store (mp_shm_store_ops) is
 * the one implementation today; a second store (a Redis server, DESIGN §7)
 * adds its own tables and a case in mp_store_open, and no tool changes.
 */
#include "config.h"

#include "event.h"
#include "spawn.h"
#include "gate.h"
#include "lock.h"
#include "queue.h"
#include "sem.h"
#include "err.h"
#include "redis.h"
#include "store.h"
#include "var.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the store ---- */

/* A kind this store does not hold (yet): the store cannot serve it. */
static int not_here(struct mp_store *s, const char *what)
{
	mp_errmsg_set("%s are not kept in %s stores yet (store %s)", what, s->ops->name, s->dir);
	return -EPROTONOSUPPORT;
}

int mp_store_open(struct mp_store *s, const char *where)
{
	int rc;

	if (!where || !*where)
		where = getenv("MP_STORE");
	if (where && (!strncmp(where, "redis://", 8) || !strncmp(where, "rediss://", 9) ||
		      !strncmp(where, "unix://", 7)))
		return mp_redis_store_open(s, where);
	rc = mp_shm_store_open(s, where);
	s->ops = &mp_shm_store_ops;
	return rc;
}

int mp_store_find(struct mp_store *s, const struct mp_kind *k, const char *name,
		  struct mp_obj *o)
{
	return s->ops->find(s, k, name, o);
}

int mp_store_list(struct mp_store *s, const struct mp_kind *k,
		  int (*fn)(const char *name, void *arg), void *arg)
{
	return s->ops->list(s, k, fn, arg);
}

int mp_store_remove(struct mp_store *s, const struct mp_kind *k, const char *name, int *damaged)
{
	return s->ops->remove(s, k, name, damaged);
}

/* ---- gate ---- */

int mp_gate_acquire(struct mp_obj *o, const struct mp_gate_req *r, uint64_t *token, int *idx)
{
	return o->ops->gate->acquire(o, r, token, idx);
}

int mp_gate_set_helper(struct mp_obj *o, int idx, uint64_t token, const struct mp_owner *helper)
{
	return o->ops->gate->set_helper(o, idx, token, helper);
}

int mp_gate_release_token(struct mp_obj *o, int idx, uint64_t token)
{
	return o->ops->gate->release_token(o, idx, token);
}

int mp_gate_release(struct mp_obj *o, const struct mp_owner *who, int force, struct mp_hold *out)
{
	return o->ops->gate->release(o, who, force, out);
}

int mp_gate_drain(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	return o->ops->gate->drain(o, deadline_ns, nonblock);
}

int mp_gate_info(struct mp_obj *o, struct mp_gate_info *gi, struct mp_hold *holds, int max)
{
	return o->ops->gate->info(o, gi, holds, max);
}

/* ---- lock ---- */

int mp_lock_open(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	return s->ops->lock->open(s, name, create, o);
}

/* ---- sem ---- */

int mp_sem_open(struct mp_store *s, const char *name, uint32_t create_slots, int *created, struct mp_obj *o)
{
	return s->ops->sem->open(s, name, create_slots, created, o);
}

int mp_sem_open_value(struct mp_store *s, const char *name, uint32_t create_slots, uint32_t create_free, int *created, struct mp_obj *o)
{
	/* a store without it still opens semaphores that start all free */
	if (!s->ops->sem->open_value && create_free == create_slots)
		return s->ops->sem->open(s, name, create_slots, created, o);
	if (!s->ops->sem->open_value)
		return not_here(s, "semaphores with --value");
	return s->ops->sem->open_value(s, name, create_slots, create_free, created, o);
}

uint32_t mp_sem_slots(const struct mp_obj *o)
{
	return o->ops->sem->slots(o);
}

/* ---- event ---- */

int mp_event_open(struct mp_store *s, const char *name, int create, struct mp_obj *o)
{
	return s->ops->event->open(s, name, create, o);
}

int mp_event_set(struct mp_obj *o)
{
	return o->ops->event->set(o);
}

int mp_event_clear(struct mp_obj *o)
{
	return o->ops->event->clear(o);
}

int mp_event_is_set(struct mp_obj *o)
{
	return o->ops->event->is_set(o);
}

int mp_event_wait(struct mp_obj *objs, int n, unsigned flags, int64_t deadline_ns, int nonblock, int *fired)
{
	return objs->ops->event->wait(objs, n, flags, deadline_ns, nonblock, fired);
}

int mp_event_info(struct mp_obj *o, struct mp_event_info *ei, struct mp_event_waiter *w, int max)
{
	return o->ops->event->info(o, ei, w, max);
}

/* ---- the shared-memory store ---- */

static int shm_find(struct mp_store *s, const struct mp_kind *k, const char *name,
		    struct mp_obj *o)
{
	return mp_obj_open(s, k, name, 0, NULL, NULL, NULL, o);
}

const struct mp_store_ops mp_shm_store_ops = {
	.name = "shm",
	.find = shm_find,
	.list = mp_shm_store_list,
	.remove = mp_shm_store_remove,
	.gate = &mp_shm_gate_ops,
	.lock = &mp_shm_lock_ops,
	.sem = &mp_shm_sem_ops,
	.event = &mp_shm_event_ops,
	.queue = &mp_shm_queue_ops,
	.spawn = &mp_shm_spawn_ops,
	.var = &mp_shm_var_ops,
};

/* ---- spawn ---- */

int mp_spawn_claim(struct mp_store *s, const char *name, const struct mp_spawn_params *p, struct mp_obj *o, pid_t *busy_pid)
{
	if (!s->ops->spawn)
		return not_here(s, "process groups");
	return s->ops->spawn->claim(s, name, p, o, busy_pid);
}

int mp_spawn_open(struct mp_store *s, const char *name, struct mp_obj *o)
{
	if (!s->ops->spawn)
		return not_here(s, "process groups");
	return s->ops->spawn->open(s, name, o);
}

uint64_t mp_spawn_run_id(struct mp_obj *o)
{
	return o->ops->spawn->run_id(o);
}

int mp_spawn_set_front(struct mp_obj *o, const struct mp_owner *front)
{
	return o->ops->spawn->set_front(o, front);
}

int mp_spawn_set_keeper(struct mp_obj *o, const struct mp_owner *keeper)
{
	return o->ops->spawn->set_keeper(o, keeper);
}

void mp_spawn_worker_started(struct mp_obj *o, uint32_t id, pid_t pid, uint64_t start_ticks)
{
	o->ops->spawn->worker_started(o, id, pid, start_ticks);
}

void mp_spawn_conn_started(struct mp_obj *o, uint32_t id, uint64_t conn, const struct mp_spawn_peer *peer)
{
	o->ops->spawn->conn_started(o, id, conn, peer);
}

void mp_spawn_worker_ended(struct mp_obj *o, uint32_t id, int status, enum mp_spawn_wstate state)
{
	o->ops->spawn->worker_ended(o, id, status, state);
}

void mp_spawn_stopping(struct mp_obj *o, enum mp_spawn_reason reason, int sig)
{
	o->ops->spawn->stopping(o, reason, sig);
}

void mp_spawn_finish(struct mp_obj *o, int status, enum mp_spawn_reason reason, int sig)
{
	o->ops->spawn->finish(o, status, reason, sig);
}

int mp_spawn_take_request(struct mp_obj *o, uint32_t *seen, int *sig, enum mp_spawn_reason *reason)
{
	return o->ops->spawn->take_request(o, seen, sig, reason);
}

int mp_spawn_beat(struct mp_obj *o, uint64_t run, uint32_t id)
{
	return o->ops->spawn->beat(o, run, id);
}

void mp_spawn_count_message(struct mp_obj *o, uint32_t id, int status)
{
	o->ops->spawn->count_message(o, id, status);
}

int mp_spawn_snapshot(struct mp_obj *o, struct mp_spawn_snap *s)
{
	return o->ops->spawn->snapshot(o, s);
}

int mp_spawn_wait(struct mp_obj *o, int64_t deadline_ns, int nonblock, int *status)
{
	return o->ops->spawn->wait(o, deadline_ns, nonblock, status);
}

int mp_spawn_kill_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason)
{
	return o->ops->spawn->kill_request(o, sig, reason);
}

void mp_spawn_post_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason)
{
	o->ops->spawn->post_request(o, sig, reason);
}

/* ---- queue ---- */

int mp_queue_open(struct mp_store *s, const char *name, int create, const struct mp_queue_params *p, int *created, struct mp_obj *o)
{
	if (!s->ops->queue)
		return not_here(s, "queues");
	return s->ops->queue->open(s, name, create, p, created, o);
}

void mp_queue_get_params(const struct mp_obj *o, struct mp_queue_params *p)
{
	o->ops->queue->get_params(o, p);
}

int mp_queue_put(struct mp_obj *o, const struct iovec *v, size_t n, int64_t deadline_ns, int nonblock, size_t *nput)
{
	return o->ops->queue->put(o, v, n, deadline_ns, nonblock, nput);
}

int mp_queue_get_lease(struct mp_obj *o, const struct mp_queue_get_req *r, void *buf, size_t cap, size_t *len, struct mp_queue_lease *lease)
{
	return o->ops->queue->get_lease(o, r, buf, cap, len, lease);
}

int mp_queue_ack(struct mp_obj *o, const struct mp_queue_lease *lease)
{
	return o->ops->queue->ack(o, lease);
}

int mp_queue_requeue(struct mp_obj *o, const struct mp_queue_lease *lease)
{
	return o->ops->queue->requeue(o, lease);
}

int mp_queue_done(struct mp_obj *o, uint64_t n)
{
	return o->ops->queue->done(o, n);
}

int mp_queue_join(struct mp_obj *o, int64_t deadline_ns, int nonblock)
{
	return o->ops->queue->join(o, deadline_ns, nonblock);
}

int mp_queue_close(struct mp_obj *o)
{
	return o->ops->queue->close(o);
}

int mp_queue_info(struct mp_obj *o, struct mp_queue_info *qi, struct mp_queue_lease_info *leases, int max)
{
	return o->ops->queue->info(o, qi, leases, max);
}

int mp_queue_take(struct mp_obj *o, const struct mp_queue_take_req *r, struct mp_queue_batch *b)
{
	return o->ops->queue->take(o, r, b);
}

int mp_queue_settle(struct mp_obj *o, struct mp_queue_batch *b, uint32_t written, const struct mp_owner *lease_owner, int64_t ttl_ns, uint64_t *token)
{
	return o->ops->queue->settle(o, b, written, lease_owner, ttl_ns, token);
}

int mp_queue_ack_owner(struct mp_obj *o, const struct mp_owner *who, uint64_t token, int force, struct mp_queue_lease_info *out)
{
	return o->ops->queue->ack_owner(o, who, token, force, out);
}

/* ---- var ---- */

int mp_var_open(struct mp_store *s, const char *name, int create, uint64_t max_size, int *created, struct mp_obj *o)
{
	if (!s->ops->var)
		return not_here(s, "shared values");
	if (!max_size)
		max_size = MP_VAR_DEFAULT_SIZE;
	if (max_size > MP_VAR_MAX_SIZE) {
		mp_errmsg_set("a variable holds at most %u bytes, not %llu", MP_VAR_MAX_SIZE,
			      (unsigned long long)max_size);
		return -EINVAL;
	}
	return s->ops->var->open(s, name, create, max_size, created, o);
}

uint64_t mp_var_max_size(const struct mp_obj *o)
{
	return o->ops->var->max_size(o);
}

int mp_var_get(struct mp_obj *o, void *buf, size_t cap, size_t *len)
{
	return o->ops->var->get(o, buf, cap, len);
}

int mp_var_set(struct mp_obj *o, const void *v, size_t len, int nx)
{
	return o->ops->var->set(o, v, len, nx);
}

int mp_var_unset(struct mp_obj *o)
{
	return o->ops->var->unset(o);
}

int mp_var_add(struct mp_obj *o, int64_t delta, const int64_t *init, int64_t *result)
{
	return o->ops->var->add(o, delta, init, result);
}

int mp_var_cas(struct mp_obj *o, const void *old, size_t oldlen, const void *nv, size_t newlen, void *cur, size_t cap, size_t *curlen, int *curset)
{
	return o->ops->var->cas(o, old, oldlen, nv, newlen, cur, cap, curlen, curset);
}

int mp_var_wait(struct mp_obj *o, const struct mp_var_cond *c, int64_t deadline_ns, int nonblock)
{
	return o->ops->var->wait(o, c, deadline_ns, nonblock);
}

int mp_var_info(struct mp_obj *o, struct mp_var_info *vi, void *buf, size_t cap)
{
	return o->ops->var->info(o, vi, buf, cap);
}
