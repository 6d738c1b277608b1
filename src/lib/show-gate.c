/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* show-gate.c - info and ls of the kinds built on a gate: locks and
 * semaphores; see show.h. */
#include "config.h"

#include "show.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "gate.h"
#include "obj.h"
#include "parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum mp_gate_style { MP_SHOW_LOCK, MP_SHOW_SEM };

static const char *state_of(enum mp_gate_style style, const struct mp_gate_info *gi,
			    const struct mp_hold *h, int n, char *buf, size_t len)
{
	if (style == MP_SHOW_SEM) {
		snprintf(buf, len, "%u of %u slots taken", gi->used, gi->capacity);
		return buf;
	}
	if (gi->used == 0)
		return "unlocked";
	if (n > 0 && !(h[0].flags & MP_HOLD_SHARED))
		return "exclusive";
	snprintf(buf, len, "shared (%d holder%s)", n, n == 1 ? "" : "s");
	return buf;
}

static void print_hold_json(FILE *f, const struct mp_hold *h, enum mp_gate_style style)
{
	char t[40];
	int64_t now = mp_shared_ns(), rt = mp_realtime_ns();

	fprintf(f, "{\"owner_pid\":%d,", h->owner.pid);
	if (h->owner.pid) {
		fprintf(f, "\"owner_start\":");
		mp_json_str(f, mp_format_time(mp_owner_start_realtime_ns(h->owner.start), t, sizeof t));
		fputc(',', f);
	}
	if (h->helper.pid)
		fprintf(f, "\"command_pid\":%d,", h->helper.pid);
	if (style == MP_SHOW_LOCK)
		fprintf(f, "\"mode\":\"%s\",", h->flags & MP_HOLD_SHARED ? "shared" : "exclusive");
	fprintf(f, "\"token\":%llu,\"since\":", (unsigned long long)h->token);
	mp_json_str(f, mp_format_time(h->since_ns, t, sizeof t));
	fprintf(f, ",\"held_ms\":%lld", (long long)(mp_ns_diff(rt, h->since_ns) / 1000000));
	if (h->expires_ns)
		fprintf(f, ",\"ttl_left_ms\":%lld", (long long)(mp_ns_diff(h->expires_ns, now) / 1000000));
	fputc('}', f);
}

static void print_hold_text(FILE *f, const struct mp_hold *h, enum mp_gate_style style)
{
	char t[40], d[32], e[32];
	int64_t now = mp_shared_ns(), rt = mp_realtime_ns();

	if (h->owner.pid)
		fprintf(f, "  pid %d (started %s)", h->owner.pid,
			mp_format_time(mp_owner_start_realtime_ns(h->owner.start), t, sizeof t));
	else
		fprintf(f, "  no owner (until released)");
	if (h->helper.pid)
		fprintf(f, ", command pid %d", h->helper.pid);
	if (style == MP_SHOW_LOCK)
		fprintf(f, ", %s", h->flags & MP_HOLD_SHARED ? "shared" : "exclusive");
	fprintf(f, ", token %llu, held %s", (unsigned long long)h->token,
		mp_format_duration(mp_ns_diff(rt, h->since_ns), d, sizeof d));
	if (h->expires_ns)
		fprintf(f, ", expires in %s", mp_format_duration(mp_ns_diff(h->expires_ns, now), e, sizeof e));
	fputc('\n', f);
}

static int cmp_token(const void *a, const void *b)
{
	const struct mp_hold *x = a, *y = b;
	return x->token < y->token ? -1 : x->token > y->token;
}

static int read_gate(struct mp_obj *o, struct mp_gate_info *gi, struct mp_hold **holds)
{
	int max = 64, n;

	for (;;) {
		*holds = calloc((size_t)max, sizeof **holds);
		if (!*holds)
			return -ENOMEM;
		n = mp_gate_info(o, gi, *holds, max);
		if (n < 0 || n <= max)
			break;
		free(*holds);
		max = n + 16;
	}
	if (n > 0)
		qsort(*holds, (size_t)n, sizeof **holds, cmp_token);
	return n;
}

static void print_json(struct mp_obj *o, enum mp_gate_style style, const struct mp_gate_info *gi,
		       const struct mp_hold *h, int n)
{
	char t[40], sb[64];

	printf("{\"name\":");
	mp_json_str(stdout, o->name);
	printf(",\"kind\":\"%s\",\"path\":", o->kind->name);
	mp_json_str(stdout, mp_obj_path(o));
	printf(",\"state\":");
	mp_json_str(stdout, state_of(style, gi, h, n, sb, sizeof sb));
	if (style == MP_SHOW_LOCK)
		printf(",\"locked\":%s", gi->used ? "true" : "false");
	else
		printf(",\"slots\":%u,\"free\":%u", gi->capacity, gi->capacity - gi->used);
	printf(",\"holders\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			putchar(',');
		print_hold_json(stdout, &h[i], style);
	}
	printf("],\"waiters\":%u,\"waiters_or_more\":%s,\"last_token\":%llu,\"reaped\":%llu,"
	       "\"generation\":%llu,\"created\":", gi->nwaiting,
	       gi->nwaiting_more ? "true" : "false", (unsigned long long)gi->last_token,
	       (unsigned long long)gi->reaped, (unsigned long long)gi->generation);
	mp_json_str(stdout, mp_format_time(gi->created_ns, t, sizeof t));
	printf(",\"changed\":");
	mp_json_str(stdout, mp_format_time(gi->changed_ns, t, sizeof t));
	putchar('}');
}

static int gate_info(struct mp_obj *o, enum mp_gate_style style, int json)
{
	struct mp_gate_info gi;
	struct mp_hold *h;
	char t[40], sb[64];
	int n = read_gate(o, &gi, &h);

	if (n < 0)
		return n;
	if (json) {
		print_json(o, style, &gi, h, n);
	} else {
		printf("name:     %s\n", o->name);
		printf("kind:     %s\n", o->kind->name);
		printf("state:    %s\n", state_of(style, &gi, h, n, sb, sizeof sb));
		if (style == MP_SHOW_SEM)
			printf("slots:    %u (%u free)\n", gi.capacity, gi.capacity - gi.used);
		printf("holders:  %d\n", n);
		for (int i = 0; i < n; i++)
			print_hold_text(stdout, &h[i], style);
		printf("waiters:  %u%s\n", gi.nwaiting, gi.nwaiting_more ?
		       " or more (the waiting line has that many places; "
		       "later arrivals wait outside it, uncounted)" : "");
		printf("tokens:   %llu handed out, %llu taken back from dead owners or TTLs\n",
		       (unsigned long long)gi.last_token, (unsigned long long)gi.reaped);
		printf("created:  %s\n", mp_format_time(gi.created_ns, t, sizeof t));
		printf("changed:  %s\n", mp_format_time(gi.changed_ns, t, sizeof t));
		printf("file:     %s\n", mp_obj_path(o));
	}
	free(h);
	return 0;
}

static int gate_row(struct mp_obj *o, enum mp_gate_style style, int json, const char *lead)
{
	struct mp_gate_info gi;
	struct mp_hold *h;
	char sb[64];
	int n = read_gate(o, &gi, &h);

	if (n < 0)
		return n;
	fputs(lead, stdout);
	if (json)
		print_json(o, style, &gi, h, n);
	else
		printf("%-24s %-28s %u%s waiting\n", o->name,
		       state_of(style, &gi, h, n, sb, sizeof sb), gi.nwaiting,
		       gi.nwaiting_more ? "+" : "");
	free(h);
	return 0;
}

int mp_show_lock_info(struct mp_obj *o, int json)
{
	return gate_info(o, MP_SHOW_LOCK, json);
}

int mp_show_lock_row(struct mp_obj *o, int json, const char *lead)
{
	return gate_row(o, MP_SHOW_LOCK, json, lead);
}

int mp_show_sem_info(struct mp_obj *o, int json)
{
	return gate_info(o, MP_SHOW_SEM, json);
}

int mp_show_sem_row(struct mp_obj *o, int json, const char *lead)
{
	return gate_row(o, MP_SHOW_SEM, json, lead);
}
