/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* api-queue.c - libmptools' queues (mptools.h), the objects of mpqueue
 * (src/lib/queue.h).
 *
 * A get leases the message to this process, copies it out and then
 * acknowledges it: a process killed in between loses nothing (the message
 * is delivered again), as with `mpqueue get`.
 */
#include "config.h"

#include "api.h"
#include "mptools.h"
#include "lib/err.h"
#include "lib/queue.h"

#include <errno.h>
#include <stdlib.h>

struct mpt_queue {
	struct mpt_base b;
	struct mp_queue_params p;
};

struct queue_args {
	struct mp_queue_params p;
	unsigned flags;
};

static int open_queue(struct mpt_base *b, const void *arg)
{
	const struct queue_args *a = arg;
	struct mpt_queue *q = (struct mpt_queue *)b;
	struct mp_queue_params p = a->p;
	int create = !(a->flags & MPT_EXISTING);
	int rc = create ? mp_queue_params_fix(&p) : 0;

	if (!rc)
		rc = mp_queue_open(&b->s, b->name, create, &p, NULL, &b->o);
	if (!rc)
		mp_queue_get_params(&b->o, &q->p);
	return rc;
}

MPT_API int mpt_queue_open(mpt_queue **q, const char *store, const char *name,
			   uint64_t max_items, uint64_t max_bytes, uint64_t max_msg,
			   unsigned flags)
{
	struct queue_args a = { { max_items, max_bytes, max_msg }, flags };

	return mp_api_open((void **)q, sizeof **q, store, "queue", name, open_queue, &a);
}

MPT_API uint64_t mpt_queue_max_msg(const mpt_queue *q)
{
	return q->p.max_msg;
}

MPT_API uint64_t mpt_queue_max_items(const mpt_queue *q)
{
	return q->p.max_items;
}

MPT_API int mpt_queue_put(mpt_queue *q, const void *msg, size_t len, double timeout)
{
	struct iovec v = { (void *)msg, len };
	int64_t deadline;
	int nonblock;
	int rc;

	mp_api_begin();
	rc = mp_api_deadline(timeout, &deadline, &nonblock);
	if (!rc)
		rc = mp_queue_put(&q->b.o, &v, 1, deadline, nonblock, NULL);
	if (rc == MP_QUEUE_CLOSED)
		mp_errmsg_set("the queue is closed");
	return mp_api_fail_obj(rc, &q->b);
}

static int get(mpt_queue *q, void *buf, size_t cap, size_t *len, double timeout,
	       struct mp_queue_lease *lease)
{
	struct mp_queue_get_req r = { 0 };
	int rc;

	rc = mp_api_self(&r.owner);
	if (!rc)
		rc = mp_api_deadline(timeout, &r.deadline_ns, &r.nonblock);
	if (!rc)
		rc = mp_queue_get_lease(&q->b.o, &r, buf, cap, len, lease);
	if (rc == MP_QUEUE_END)
		mp_errmsg_set("the queue is closed and drained");
	return rc;
}

MPT_API int mpt_queue_get(mpt_queue *q, void *buf, size_t cap, size_t *len, double timeout)
{
	struct mp_queue_lease lease;
	int rc;

	mp_api_begin();
	rc = get(q, buf, cap, len, timeout, &lease);
	if (!rc)
		rc = mp_queue_ack(&q->b.o, &lease);
	return mp_api_fail_obj(rc, &q->b);
}

MPT_API int mpt_queue_get_lease(mpt_queue *q, void *buf, size_t cap, size_t *len,
				double timeout, uint64_t *token)
{
	struct mp_queue_lease lease;
	int rc;

	mp_api_begin();
	rc = get(q, buf, cap, len, timeout, &lease);
	if (!rc)
		*token = lease.token;
	return mp_api_fail_obj(rc, &q->b);
}

MPT_API int mpt_queue_ack(mpt_queue *q, uint64_t token)
{
	struct mp_owner self;
	int rc;

	mp_api_begin();
	rc = mp_api_self(&self);
	if (!rc)
		rc = mp_queue_ack_owner(&q->b.o, &self, token, 0, NULL);
	if (rc == -EPERM)
		rc = -ENOENT;	/* not a lease of ours: none to ack */
	if (rc == -ENOENT)
		mp_errmsg_set("no lease %llu of this process (taken back already?)",
			      (unsigned long long)token);
	return mp_api_fail_obj(rc, &q->b);
}

MPT_API int mpt_queue_task_done(mpt_queue *q)
{
	int rc;

	mp_api_begin();
	rc = mp_queue_done(&q->b.o, 1);
	if (rc == -ERANGE)
		mp_errmsg_set("task_done called more times than there were messages put");
	return mp_api_fail_obj(rc, &q->b);
}

MPT_API int mpt_queue_join(mpt_queue *q, double timeout)
{
	int64_t deadline;
	int nonblock;
	int rc;

	mp_api_begin();
	rc = mp_api_deadline(timeout, &deadline, &nonblock);
	if (!rc)
		rc = mp_queue_join(&q->b.o, deadline, nonblock);
	return mp_api_fail_obj(rc, &q->b);
}

MPT_API int mpt_queue_close(mpt_queue *q)
{
	mp_api_begin();
	return mp_api_fail_obj(mp_queue_close(&q->b.o), &q->b);
}

/* The queue's state (what dead owners held handed back first): 0 or the
 * failure. */
static int queue_info(mpt_queue *q, struct mp_queue_info *qi)
{
	int rc;

	mp_api_begin();
	rc = mp_queue_info(&q->b.o, qi, NULL, 0);
	return rc < 0 ? mp_api_fail_obj(rc, &q->b) : 0;
}

MPT_API int64_t mpt_queue_size(mpt_queue *q)
{
	struct mp_queue_info qi;
	int rc = queue_info(q, &qi);

	return rc ? rc : (int64_t)qi.items;
}

MPT_API int mpt_queue_full(mpt_queue *q)
{
	struct mp_queue_info qi;
	int rc = queue_info(q, &qi);

	if (rc)
		return rc;
	return qi.items + qi.in_flight >= qi.params.max_items ||
	       qi.bytes + qi.in_flight_bytes >= qi.params.max_bytes;
}

MPT_API void mpt_queue_free(mpt_queue *q)
{
	if (!q)
		return;
	mp_api_close(&q->b);
	free(q);
}
