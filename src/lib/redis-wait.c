/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-wait.c - waiting on a Redis store: the messages of a subscriber
 * connection, and connections that come back; see redis.h. */
#include "config.h"

#include "redis.h"
#include "clock.h"
#include "signals.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int message_of(redisReply *rep, const char *const *bases, int n, int *idx,
		      char *payload, size_t len)
{
	int rc = 0;

	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
	    !strcmp(rep->element[0]->str, "message")) {
		const char *ch = rep->element[1]->str;
		for (int i = 0; i < n; i++) {
			size_t bl = strlen(bases[i]);
			if (!strncmp(ch, bases[i], bl) && !strcmp(ch + bl, ":c")) {
				*idx = i;
				snprintf(payload, len, "%s", rep->element[2]->str);
				rc = 1;
				break;
			}
		}
	}
	freeReplyObject(rep);
	return rc;
}

int mp_redis_next_message(redisContext *c, const char *const *bases, int n, int64_t slice_end_ns,
			  int *idx, char *payload, size_t len)
{
	for (;;) {
		void *rep = NULL;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int64_t left;

		if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
			return -ENOTCONN;
		if (rep) {
			if (message_of(rep, bases, n, idx, payload, len))
				return 1;
			continue;
		}
		if (mp_signal_pending)
			return -EINTR;
		left = slice_end_ns - mp_now_ns();
		if (left <= 0)
			return 0;
		if (poll(&p, 1, (int)((left + 999999) / 1000000)) < 0) {
			if (errno == EINTR)
				continue;
			return -ENOTCONN;
		}
		if ((p.revents & POLLIN) && redisBufferRead(c) != REDIS_OK)
			return -ENOTCONN;
		if (p.revents & (POLLHUP | POLLERR))
			return -ENOTCONN;
	}
}

int mp_redis_pause(int64_t deadline_ns)
{
	int64_t end = mp_now_ns() + 200 * 1000000LL;
	struct timespec ts;

	if (deadline_ns && deadline_ns <= mp_now_ns())
		return -ETIMEDOUT;
	if (deadline_ns && deadline_ns < end)
		end = deadline_ns;
	while (!mp_signal_pending && mp_now_ns() < end) {
		int64_t left = end - mp_now_ns();
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		nanosleep(&ts, NULL);
	}
	return mp_signal_pending ? -EINTR : 0;
}

int mp_redis_sleep(redisContext *sub, const char *base, int64_t slice_ns, int64_t deadline_ns)
{
	const char *bases[1] = { base };
	int64_t end = mp_now_ns() + slice_ns;
	char msg[16];
	int idx, rc;

	if (deadline_ns && deadline_ns < end)
		end = deadline_ns;
	rc = mp_redis_next_message(sub, bases, 1, end, &idx, msg, sizeof msg);
	if (rc == 1 && msg[0] == 'r')
		return -EIDRM;
	if (rc == 0 && deadline_ns && mp_now_ns() >= deadline_ns)
		return -ETIMEDOUT;
	return rc < 0 ? rc : 0;
}

int mp_redis_waiter(struct mp_store *s, redisContext **sub, const char *const *bases, int n)
{
	if (*sub)
		redisFree(*sub);
	*sub = mp_redis_connect(s->impl);
	if (!*sub)
		return -ENOTCONN;
	return mp_redis_subscribe(s, *sub, bases, n);
}

int mp_redis_rewait(struct mp_store *s, redisContext **sub, const char *const *bases, int n,
		    int64_t deadline_ns)
{
	for (;;) {
		int rc = mp_redis_pause(deadline_ns);

		if (rc == -ETIMEDOUT)
			return -ENOTCONN;
		if (rc)
			return rc;
		if (mp_redis_waiter(s, sub, bases, n) == 0)
			return 0;
	}
}
