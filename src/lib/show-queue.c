/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* show-queue.c - info and ls of queues; see show.h. */
#include "config.h"

#include "show.h"
#include "cli.h"
#include "parse.h"
#include "queue.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <stdio.h>

static void print_lease_json(const struct mp_queue_lease_info *l)
{
	char t[40];

	printf("{\"token\":%llu,\"messages\":%u,\"bytes\":%llu,\"leased\":%s,\"owner_pid\":%d",
	       (unsigned long long)l->token, l->count, (unsigned long long)l->bytes,
	       l->leased ? "true" : "false", l->owner.pid);
	if (l->owner.pid) {
		printf(",\"owner_start\":");
		mp_json_str(stdout, mp_format_time(mp_owner_start_realtime_ns(l->owner.start), t,
						   sizeof t));
	}
	printf(",\"since\":");
	mp_json_str(stdout, mp_format_time(l->since_ns, t, sizeof t));
	printf(",\"held_ms\":%lld", (long long)(mp_ns_diff(mp_realtime_ns(), l->since_ns) / 1000000));
	if (l->expires_ns)
		printf(",\"ttl_left_ms\":%lld", (long long)(mp_ns_diff(l->expires_ns, mp_shared_ns()) / 1000000));
	putchar('}');
}

static void print_json(struct mp_obj *o, const struct mp_queue_info *qi,
		       const struct mp_queue_lease_info *l, int n)
{
	char t[40];

	printf("{\"name\":");
	mp_json_str(stdout, o->name);
	printf(",\"kind\":\"queue\",\"path\":");
	mp_json_str(stdout, mp_obj_path(o));
	printf(",\"items\":%llu,\"bytes\":%llu,\"unfinished\":%llu,\"in_flight\":%llu,"
	       "\"in_flight_bytes\":%llu,\"closed\":%s,\"waiters\":%u,\"getters\":%u,"
	       "\"putters\":%u,\"max_items\":%llu,\"max_bytes\":%llu,\"max_msg\":%llu,"
	       "\"ring_size\":%llu,\"ring_used\":%llu,\"puts\":%llu,\"acks\":%llu,"
	       "\"redelivered\":%llu,\"leases\":[",
	       (unsigned long long)qi->items, (unsigned long long)qi->bytes,
	       (unsigned long long)qi->unfinished, (unsigned long long)qi->in_flight,
	       (unsigned long long)qi->in_flight_bytes, qi->closed ? "true" : "false",
	       qi->getters + qi->putters, qi->getters, qi->putters,
	       (unsigned long long)qi->params.max_items, (unsigned long long)qi->params.max_bytes,
	       (unsigned long long)qi->params.max_msg, (unsigned long long)qi->ring_size,
	       (unsigned long long)qi->ring_used, (unsigned long long)qi->puts,
	       (unsigned long long)qi->acks, (unsigned long long)qi->redelivered);
	for (int i = 0; i < n; i++) {
		if (i)
			putchar(',');
		print_lease_json(&l[i]);
	}
	printf("],\"generation\":%llu,\"created\":", (unsigned long long)qi->generation);
	mp_json_str(stdout, mp_format_time(qi->created_ns, t, sizeof t));
	printf(",\"changed\":");
	mp_json_str(stdout, mp_format_time(qi->changed_ns, t, sizeof t));
	putchar('}');
}

static int read_info(struct mp_obj *o, struct mp_queue_info *qi,
		     struct mp_queue_lease_info **l)
{
	static struct mp_queue_lease_info buf[MP_QUEUE_SLOTS];
	int n = mp_queue_info(o, qi, buf, MP_QUEUE_SLOTS);

	*l = buf;
	return n;
}

static void print_info(struct mp_obj *o, const struct mp_queue_info *qi,
		       const struct mp_queue_lease_info *l, int n)
{
	char t[40], d[32], e[32];

	printf("name:        %s\n", o->name);
	printf("kind:        queue\n");
	printf("state:       %s\n", qi->closed ? ((qi->items + qi->in_flight) ? "closed (draining)"
							     : "closed (drained)") : "open");
	printf("items:       %llu of %llu waiting (%llu of %llu bytes)\n",
	       (unsigned long long)qi->items, (unsigned long long)qi->params.max_items,
	       (unsigned long long)qi->bytes, (unsigned long long)qi->params.max_bytes);
	printf("in flight:   %llu (%llu bytes) in %d reservation%s\n",
	       (unsigned long long)qi->in_flight, (unsigned long long)qi->in_flight_bytes, n,
	       n == 1 ? "" : "s");
	for (int i = 0; i < n; i++) {
		printf("  token %llu: %u message%s, %s pid %d", (unsigned long long)l[i].token,
		       l[i].count, l[i].count == 1 ? "" : "s",
		       l[i].leased ? "leased to" : "being written by", l[i].owner.pid);
		if (l[i].owner.pid)
			printf(" (started %s)", mp_format_time(
				       mp_owner_start_realtime_ns(l[i].owner.start), t, sizeof t));
		printf(", held %s", mp_format_duration(mp_ns_diff(mp_realtime_ns(), l[i].since_ns), d, sizeof d));
		if (l[i].expires_ns)
			printf(", expires in %s",
			       mp_format_duration(mp_ns_diff(l[i].expires_ns, mp_shared_ns()), e, sizeof e));
		putchar('\n');
	}
	printf("unfinished:  %llu (put, not yet marked done)\n", (unsigned long long)qi->unfinished);
	printf("max-msg:     %llu bytes\n", (unsigned long long)qi->params.max_msg);
	printf("waiters:     %u to get or join, %u to put\n", qi->getters, qi->putters);
	printf("totals:      %llu put, %llu got, %llu delivered again\n",
	       (unsigned long long)qi->puts, (unsigned long long)qi->acks,
	       (unsigned long long)qi->redelivered);
	printf("ring:        %llu of %llu bytes in use\n", (unsigned long long)qi->ring_used,
	       (unsigned long long)qi->ring_size);
	printf("created:     %s\n", mp_format_time(qi->created_ns, t, sizeof t));
	printf("changed:     %s\n", mp_format_time(qi->changed_ns, t, sizeof t));
	printf("file:        %s\n", mp_obj_path(o));
}

int mp_show_queue_info(struct mp_obj *o, int json)
{
	struct mp_queue_lease_info *l;
	struct mp_queue_info qi;
	int n = read_info(o, &qi, &l);

	if (n < 0)
		return n;
	if (n > MP_QUEUE_SLOTS)
		n = MP_QUEUE_SLOTS;
	if (json)
		print_json(o, &qi, l, n);
	else
		print_info(o, &qi, l, n);
	return 0;
}

int mp_show_queue_row(struct mp_obj *o, int json, const char *lead)
{
	struct mp_queue_lease_info *l;
	struct mp_queue_info qi;
	int n = read_info(o, &qi, &l);

	if (n < 0)
		return n;
	fputs(lead, stdout);
	if (json)
		print_json(o, &qi, l, n < MP_QUEUE_SLOTS ? n : MP_QUEUE_SLOTS);
	else
		printf("%-24s %8llu waiting %6llu in flight %8llu unfinished  %s\n", o->name,
		       (unsigned long long)qi.items, (unsigned long long)qi.in_flight,
		       (unsigned long long)qi.unfinished, qi.closed ? "closed" : "open");
	return 0;
}
