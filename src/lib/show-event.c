/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* show-event.c - info and ls of events; see show.h. */
#include "config.h"

#include "show.h"
#include "cli.h"
#include "event.h"
#include "parse.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <stdio.h>

static int read_info(struct mp_obj *o, struct mp_event_info *ei, struct mp_event_waiter *w)
{
	int n = mp_event_info(o, ei, w, MP_EVENT_WAITERS);

	return n > MP_EVENT_WAITERS ? MP_EVENT_WAITERS : n;
}

static void json_time(const char *key, int64_t ns)
{
	char t[40];

	printf(",\"%s\":", key);
	if (ns)
		mp_json_str(stdout, mp_format_time(ns, t, sizeof t));
	else
		printf("null");
}

static void print_json(struct mp_obj *o, const struct mp_event_info *ei,
		       const struct mp_event_waiter *w, int n)
{
	int64_t rt = mp_realtime_ns();

	printf("{\"name\":");
	mp_json_str(stdout, o->name);
	printf(",\"kind\":\"event\",\"path\":");
	mp_json_str(stdout, mp_obj_path(o));
	printf(",\"state\":\"%s\",\"set\":%s", ei->st.is_set ? "set" : "clear",
	       ei->st.is_set ? "true" : "false");
	json_time("since", ei->st.since_ns);
	printf(",\"sets\":%llu,\"clears\":%llu", (unsigned long long)ei->st.sets,
	       (unsigned long long)ei->st.clears);
	json_time("last_set", ei->st.set_ns);
	json_time("last_clear", ei->st.clear_ns);
	printf(",\"waiters\":%u,\"waiting\":[", ei->nwaiting);
	for (int i = 0; i < n; i++) {
		printf("%s{\"pid\":%d,\"for\":\"%s\"", i ? "," : "", w[i].pid,
		       mp_event_wait_name(w[i].flags));
		json_time("since", w[i].since_ns);
		printf(",\"waited_ms\":%lld}", (long long)(mp_ns_diff(rt, w[i].since_ns) / 1000000));
	}
	printf("],\"generation\":%llu", (unsigned long long)ei->generation);
	json_time("created", ei->created_ns);
	putchar('}');
}

static void print_text(struct mp_obj *o, const struct mp_event_info *ei,
		       const struct mp_event_waiter *w, int n)
{
	int64_t rt = mp_realtime_ns();
	char t[40], d[32];

	printf("name:     %s\n", o->name);
	printf("kind:     event\n");
	printf("state:    %s since %s (%s ago)\n", ei->st.is_set ? "set" : "clear",
	       mp_format_time(ei->st.since_ns, t, sizeof t),
	       mp_format_duration(mp_ns_diff(rt, ei->st.since_ns), d, sizeof d));
	printf("sets:     %llu", (unsigned long long)ei->st.sets);
	if (ei->st.set_ns)
		printf(", last %s", mp_format_time(ei->st.set_ns, t, sizeof t));
	printf("\nclears:   %llu", (unsigned long long)ei->st.clears);
	if (ei->st.clear_ns)
		printf(", last %s", mp_format_time(ei->st.clear_ns, t, sizeof t));
	printf("\nwaiters:  %u\n", ei->nwaiting);
	for (int i = 0; i < n; i++)
		printf("  pid %d, for %s, waiting %s\n", w[i].pid, mp_event_wait_name(w[i].flags),
		       mp_format_duration(mp_ns_diff(rt, w[i].since_ns), d, sizeof d));
	if (ei->overflow)
		printf("  and %u more (not listed)\n", ei->overflow);
	printf("created:  %s\n", mp_format_time(ei->created_ns, t, sizeof t));
	printf("file:     %s\n", mp_obj_path(o));
}

int mp_show_event_info(struct mp_obj *o, int json)
{
	static struct mp_event_waiter w[MP_EVENT_WAITERS];
	struct mp_event_info ei;
	int n = read_info(o, &ei, w);

	if (n < 0)
		return n;
	if (json)
		print_json(o, &ei, w, n);
	else
		print_text(o, &ei, w, n);
	return 0;
}

int mp_show_event_row(struct mp_obj *o, int json, const char *lead)
{
	static struct mp_event_waiter w[MP_EVENT_WAITERS];
	struct mp_event_info ei;
	int n = read_info(o, &ei, w);

	if (n < 0)
		return n;
	(void)json;	/* the text of ls is mp_show_table's */
	fputs(lead, stdout);
	print_json(o, &ei, w, n);
	return 0;
}

int mp_show_event_sum(struct mp_obj *o, struct mp_show_sum *s)
{
	static struct mp_event_waiter w[MP_EVENT_WAITERS];
	struct mp_event_info ei;
	int n = read_info(o, &ei, w);

	if (n < 0)
		return n;
	snprintf(s->state, sizeof s->state, "%s", ei.st.is_set ? "set" : "clear");
	s->waiters = ei.nwaiting;
	s->created_ns = ei.created_ns;
	s->used_ns = ei.st.set_ns > ei.st.clear_ns ? ei.st.set_ns : ei.st.clear_ns;
	s->in_use = ei.nwaiting != 0;
	return 0;
}
