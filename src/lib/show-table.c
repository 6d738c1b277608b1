/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* show-table.c - the table of ls (every tool's, and mptools ls): one line
 * per object with a header, the holders with their pid, command and since;
 * see show.h. */
#include "config.h"

#include "show.h"
#include "clock.h"
#include "event.h"
#include "lock.h"
#include "parse.h"
#include "queue.h"
#include "sem.h"
#include "spawn.h"
#include "var.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int mp_show_sum(struct mp_obj *o, struct mp_show_sum *s)
{
	memset(s, 0, sizeof *s);
	if (o->kind == &mp_lock_kind)
		return mp_show_lock_sum(o, s);
	if (o->kind == &mp_sem_kind)
		return mp_show_sem_sum(o, s);
	if (o->kind == &mp_event_kind)
		return mp_show_event_sum(o, s);
	if (o->kind == &mp_queue_kind)
		return mp_show_queue_sum(o, s);
	if (o->kind == &mp_spawn_kind)
		return mp_show_spawn_sum(o, s);
	if (o->kind == &mp_var_kind)
		return mp_show_var_sum(o, s);
	return -EINVAL;
}

/* /proc/PID/comm, "?" when it cannot be read (gone, another host). */
static void comm_of(int pid, char *buf, size_t len)
{
	char path[32];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

void mp_show_add_holder(struct mp_show_sum *s, int pid, int64_t since_ns)
{
	size_t used = strlen(s->holders);
	char comm[20] = "-", t[24] = "?";
	time_t sec = (time_t)(since_ns / 1000000000LL);
	struct tm tm;

	if (pid)
		comm_of(pid, comm, sizeof comm);
	/* the time of day; a hold of more than a day gives its date too */
	if (since_ns && localtime_r(&sec, &tm))
		strftime(t, sizeof t, mp_ns_diff(mp_realtime_ns(), since_ns) > 86400000000000LL
				      ? "%Y-%m-%dT%H:%M" : "%H:%M:%S", &tm);
	if (pid)
		snprintf(s->holders + used, sizeof s->holders - used, "%s%d %s since %s",
			 used ? ", " : "", pid, comm, t);
	else
		snprintf(s->holders + used, sizeof s->holders - used, "%sno owner since %s",
			 used ? ", " : "", t);
}

int mp_show_table_add(struct mp_show_table *t, struct mp_obj *o)
{
	struct mp_show_row *r;
	int rc;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		r = realloc(t->rows, cap * sizeof *r);
		if (!r)
			return -ENOMEM;
		t->rows = r;
		t->cap = cap;
	}
	r = &t->rows[t->n];
	rc = mp_show_sum(o, &r->sum);
	if (rc)
		return rc;
	r->kind = o->kind->name;
	r->name = strdup(o->name);
	if (!r->name)
		return -ENOMEM;
	t->n++;
	return 0;
}

enum column { COL_KIND, COL_NAME, COL_STATE, COL_HOST };

static int width(const struct mp_show_table *t, enum column c, const char *head)
{
	int w = (int)strlen(head);

	for (size_t i = 0; i < t->n; i++) {
		const struct mp_show_row *r = &t->rows[i];
		const char *s = c == COL_KIND ? r->kind : c == COL_NAME ? r->name :
				c == COL_STATE ? r->sum.state : r->sum.host;
		if ((int)strlen(s) > w)
			w = (int)strlen(s);
	}
	return w;
}

void mp_show_table_print(FILE *f, const struct mp_show_table *t, int kind)
{
	int wk = width(t, COL_KIND, "KIND"), wn = width(t, COL_NAME, "NAME"),
	    ws = width(t, COL_STATE, "STATE"), wh = 0;
	int64_t now = mp_realtime_ns();
	char age[32], waiters[16];

	/* groups on a store of many hosts: where each runs */
	for (size_t i = 0; i < t->n; i++)
		if (t->rows[i].sum.host[0])
			wh = width(t, COL_HOST, "HOST");
	if (kind)
		fprintf(f, "%-*s  ", wk, "KIND");
	fprintf(f, "%-*s  %-*s  %7s  %8s  ", wn, "NAME", ws, "STATE", "WAITERS", "AGE");
	if (wh)
		fprintf(f, "%-*s  ", wh, "HOST");
	fprintf(f, "HOLDERS\n");
	for (size_t i = 0; i < t->n; i++) {
		const struct mp_show_row *r = &t->rows[i];

		if (r->sum.created_ns)
			mp_format_duration(mp_ns_diff(now, r->sum.created_ns), age, sizeof age);
		else
			snprintf(age, sizeof age, "-");
		snprintf(waiters, sizeof waiters, "%u%s", r->sum.waiters,
			 r->sum.waiters_more ? "+" : "");
		if (kind)
			fprintf(f, "%-*s  ", wk, r->kind);
		fprintf(f, "%-*s  %-*s  %7s  %8s  ", wn, r->name, ws, r->sum.state, waiters, age);
		if (wh)
			fprintf(f, "%-*s  ", wh, r->sum.host[0] ? r->sum.host : "-");
		fprintf(f, "%s\n", r->sum.holders[0] ? r->sum.holders : "-");
	}
}

void mp_show_table_free(struct mp_show_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->rows[i].name);
	free(t->rows);
	memset(t, 0, sizeof *t);
}
