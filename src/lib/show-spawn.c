/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* show-spawn.c - status and ls of process groups; see show.h. */
#include "config.h"

#include "show.h"
#include "cli.h"
#include "listen.h"
#include "parse.h"
#include "spawn.h"

#include <signal.h>
#include <stdio.h>

static void json_time(const char *key, int64_t ns)
{
	char t[40];

	printf(",\"%s\":", key);
	if (ns)
		mp_json_str(stdout, mp_format_time(ns, t, sizeof t));
	else
		printf("null");
}

static int64_t runtime_of(const struct mp_spawn_snap *s, const struct mp_spawn_worker *w)
{
	if (!w->pid || !w->started_ns)
		return -1;
	if (w->state == MP_SPAWN_W_RUNNING && !s->lost && s->g.state != MP_SPAWN_G_DONE)
		return mp_ns_diff(s->now_ns, w->started_ns);
	return w->ended_ns >= w->started_ns ? mp_ns_diff(w->ended_ns, w->started_ns) : -1;
}

static int has_status(const struct mp_spawn_snap *s, const struct mp_spawn_worker *w)
{
	return w->status >= 0 && w->state != MP_SPAWN_W_RUNNING && w->state != MP_SPAWN_W_WAITING;
}

static void print_status_json(struct mp_obj *o, const struct mp_spawn_snap *s)
{
	const struct mp_spawn_group *g = &s->g;
	uint64_t done = 0, failed = 0;

	for (uint32_t i = 0; i < g->nworkers; i++)
		done += s->w[i].done, failed += s->w[i].failed;
	printf("{\"name\":");
	mp_json_str(stdout, o->name);
	printf(",\"kind\":\"spawn\",\"path\":");
	mp_json_str(stdout, mp_obj_path(o));
	printf(",\"state\":\"%s\",\"stale\":%s,\"status\":", mp_spawn_gstate_name(s),
	       s->stale ? "true" : "false");
	if (g->state == MP_SPAWN_G_DONE)
		printf("%d,\"reason\":\"%s\"", g->status, mp_spawn_reason_name(g->reason));
	else if (s->lost)
		printf("%d,\"reason\":\"%s\"", 128 + SIGKILL, mp_spawn_reason_name(MP_SPAWN_R_LOST));
	else
		printf("null,\"reason\":null");
	printf(",\"other_pid_namespace\":%s,\"host\":", s->foreign ? "true" : "false");
	if (s->host[0]) {
		mp_json_str(stdout, s->hostname);
		printf(",\"host_id\":");
		mp_json_str(stdout, s->host);
	} else {
		printf("null,\"host_id\":null");
	}
	printf(",\"pid\":%d,\"supervisor\":%d,\"command\":", g->front.pid, g->keeper.pid);
	mp_json_str(stdout, g->command);
	json_time("created", g->started_ns);	/* the record is made when it starts */
	json_time("started", g->started_ns);
	json_time("ended", g->state == MP_SPAWN_G_DONE ? g->ended_ns : 0);
	printf(",\"runtime_ms\":%lld",
	       (long long)(mp_ns_diff(g->state == MP_SPAWN_G_DONE ? g->ended_ns : s->now_ns, g->started_ns) /
			   1000000));
	printf(",\"daemon\":%s,\"tag\":%s,\"fail_fast\":%s,\"restart\":\"%s\"",
	       g->flags & MP_SPAWN_F_DAEMON ? "true" : "false",
	       g->flags & MP_SPAWN_F_TAG ? "true" : "false",
	       g->flags & MP_SPAWN_F_FAILFAST ? "true" : "false",
	       g->flags & MP_SPAWN_F_RESTART ? "on-failure" : "no");
	if (g->heartbeat_ns)
		printf(",\"heartbeat_ms\":%lld", (long long)(g->heartbeat_ns / 1000000));
	else
		printf(",\"heartbeat_ms\":null");
	if (g->timeout_ns)
		printf(",\"timeout_ms\":%lld", (long long)(g->timeout_ns / 1000000));
	else
		printf(",\"timeout_ms\":null");
	if (g->flags & MP_SPAWN_F_LISTEN) {
		printf(",\"listen\":");
		mp_json_str(stdout, g->listen);
		printf(",\"connections\":%llu,\"failed\":%llu", (unsigned long long)done,
		       (unsigned long long)failed);
	}
	printf(",\"keep_order\":%s", g->flags & MP_SPAWN_F_ORDER ? "true" : "false");
	printf(",\"queue\":");
	if (g->flags & MP_SPAWN_F_POOL) {
		mp_json_str(stdout, g->queue);
		printf(",\"messages\":%llu,\"failed\":%llu", (unsigned long long)done,
		       (unsigned long long)failed);
	} else {
		printf("null");
	}
	printf(",\"running\":%u,\"nworkers\":%u,\"workers\":[", s->nrunning, g->nworkers);
	for (uint32_t i = 0; i < g->nworkers; i++) {
		const struct mp_spawn_worker *w = &s->w[i];
		int64_t rt = runtime_of(s, w);
		if (i)
			putchar(',');
		printf("{\"id\":%u,\"pid\":", i);
		if (w->pid)
			printf("%d", w->pid);
		else
			printf("null");
		printf(",\"state\":\"%s\"", s->lost && (w->state == MP_SPAWN_W_RUNNING ||
							 w->state == MP_SPAWN_W_RESTARTING)
					     ? "killed" : mp_spawn_wstate_name(w->state));
		json_time("started", w->started_ns);
		if (rt >= 0)
			printf(",\"runtime_ms\":%lld", (long long)(rt / 1000000));
		else
			printf(",\"runtime_ms\":null");
		printf(",\"restarts\":%u,\"status\":", w->restarts);
		if (has_status(s, w))
			printf("%d", w->status);
		else
			printf("null");
		printf(",\"last_beat_ms_ago\":");
		if (w->beat_ns)
			printf("%lld", (long long)(mp_ns_diff(s->now_mono_ns, w->beat_ns) / 1000000));
		else
			printf("null");
		printf(",\"stale\":%s", mp_spawn_worker_stale(s, i) ? "true" : "false");
		if (g->flags & MP_SPAWN_F_POOL)
			printf(",\"messages\":%llu,\"failed\":%llu", (unsigned long long)w->done,
			       (unsigned long long)w->failed);
		if ((g->flags & MP_SPAWN_F_LISTEN) && w->state == MP_SPAWN_W_RUNNING) {
			char peer[80];
			printf(",\"connection\":%llu,\"peer\":", (unsigned long long)w->conn);
			mp_json_str(stdout, mp_listen_peer_str(&w->peer, peer, sizeof peer));
		} else if (g->flags & MP_SPAWN_F_LISTEN) {
			printf(",\"connection\":null,\"peer\":null");
		}
		putchar('}');
	}
	printf("]}");
}

/* --listen: the live connections. */
static void print_connections(const struct mp_spawn_snap *s, uint64_t done, uint64_t failed)
{
	const struct mp_spawn_group *g = &s->g;
	char t[40], rts[32], peer[80];

	printf("listen:    %s: %llu connections ended (%llu failed), %u live, at most %u\n",
	       g->listen, (unsigned long long)done, (unsigned long long)failed, s->nrunning,
	       g->nworkers);
	printf("%-8s %-8s %-40s %-25s %s\n", "CONN", "PID", "PEER", "STARTED", "RUNTIME");
	for (uint32_t i = 0; i < g->nworkers; i++) {
		const struct mp_spawn_worker *w = &s->w[i];
		int64_t rt = runtime_of(s, w);

		if (w->state != MP_SPAWN_W_RUNNING || s->lost || g->state == MP_SPAWN_G_DONE)
			continue;
		printf("%-8llu %-8d %-40s %-25s %s\n", (unsigned long long)w->conn, w->pid,
		       mp_listen_peer_str(&w->peer, peer, sizeof peer),
		       w->started_ns ? mp_format_time(w->started_ns, t, sizeof t) : "-",
		       rt >= 0 ? mp_format_duration(rt, rts, sizeof rts) : "-");
	}
}

static void print_status_text(struct mp_obj *o, const struct mp_spawn_snap *s)
{
	const struct mp_spawn_group *g = &s->g;
	char t[40], d[32];
	uint64_t done = 0, failed = 0;

	for (uint32_t i = 0; i < g->nworkers; i++)
		done += s->w[i].done, failed += s->w[i].failed;
	printf("name:      %s\n", o->name);
	printf("state:     %s", mp_spawn_gstate_name(s));
	if (g->state == MP_SPAWN_G_DONE)
		printf(", exit status %d (%s)\n", g->status, mp_spawn_reason_name(g->reason));
	else if (s->lost && s->elsewhere)
		printf(": its host stopped renewing the group's lease (mpspawn was killed, "
		       "or the host is down or cut off)\n");
	else if (s->lost)
		printf(": mpspawn was killed; its workers were killed with it\n");
	else if (s->foreign)
		printf(" in another pid namespace (its pids are that namespace's; whether it "
		       "is alive cannot be judged from here)\n");
	else
		printf(", %u of %u %s\n", s->nrunning, g->nworkers,
		       g->flags & MP_SPAWN_F_LISTEN ? "handlers busy" : "workers running");
	printf("command:   %s\n", g->command);
	if (s->host[0])
		printf("host:      %s (id %s%s)\n", s->hostname, s->host,
		       s->elsewhere ? "" : ", this one");
	printf("pid:       %d (supervisor %d)%s\n", g->front.pid, g->keeper.pid,
	       g->flags & MP_SPAWN_F_DAEMON ? ", daemon" : "");
	printf("started:   %s\n", mp_format_time(g->started_ns, t, sizeof t));
	printf("runtime:   %s\n", mp_format_duration(mp_ns_diff(g->state == MP_SPAWN_G_DONE ? g->ended_ns
								      : s->now_ns, g->started_ns), d, sizeof d));
	if (g->heartbeat_ns)
		printf("heartbeat: every %s%s\n", mp_format_duration(g->heartbeat_ns, d, sizeof d),
		       s->stale ? ": STALE" : "");
	if (g->flags & MP_SPAWN_F_POOL)
		printf("queue:     %s: %llu messages, %llu failed%s\n", g->queue,
		       (unsigned long long)done, (unsigned long long)failed,
		       g->flags & MP_SPAWN_F_ORDER ? " (output in order)" : "");
	if (g->flags & MP_SPAWN_F_LISTEN) {
		print_connections(s, done, failed);
		return;
	}
	printf("%-5s %-8s %-11s %-25s %-9s %-8s %-6s %s\n", "ID", "PID", "STATE", "STARTED",
	       "RUNTIME", "RESTARTS", "STATUS", g->flags & MP_SPAWN_F_POOL ? "MESSAGES" : "BEAT");
	for (uint32_t i = 0; i < g->nworkers; i++) {
		const struct mp_spawn_worker *w = &s->w[i];
		int64_t rt = runtime_of(s, w);
		char pid[16] = "-", st[12] = "-", beat[48] = "-", rts[32] = "-";
		const char *state = s->lost && (w->state == MP_SPAWN_W_RUNNING ||
						w->state == MP_SPAWN_W_RESTARTING)
				    ? "killed" : mp_spawn_wstate_name(w->state);

		if (w->pid)
			snprintf(pid, sizeof pid, "%d", w->pid);
		if (has_status(s, w))
			snprintf(st, sizeof st, "%d", w->status);
		if (rt >= 0)
			mp_format_duration(rt, rts, sizeof rts);
		if (g->flags & MP_SPAWN_F_POOL)
			snprintf(beat, sizeof beat, "%llu (%llu failed)", (unsigned long long)w->done,
				 (unsigned long long)w->failed);
		else if (w->beat_ns)
			snprintf(beat, sizeof beat, "%s ago%s",
				 mp_format_duration(mp_ns_diff(s->now_mono_ns, w->beat_ns), d, sizeof d),
				 mp_spawn_worker_stale(s, i) ? " STALE" : "");
		else if (mp_spawn_worker_stale(s, i))
			snprintf(beat, sizeof beat, "never STALE");
		printf("%-5u %-8s %-11s %-25s %-9s %-8u %-6s %s\n", i, pid, state,
		       w->started_ns ? mp_format_time(w->started_ns, t, sizeof t) : "-", rts,
		       w->restarts, st, beat);
	}
}

int mp_show_spawn_status(struct mp_obj *o, int json, int *stale)
{
	struct mp_spawn_snap s;
	int rc = mp_spawn_snapshot(o, &s);

	if (rc)
		return rc;
	if (json)
		print_status_json(o, &s);
	else
		print_status_text(o, &s);
	*stale = s.stale;
	mp_spawn_snap_free(&s);
	return 0;
}

int mp_show_spawn_info(struct mp_obj *o, int json)
{
	int stale;

	return mp_show_spawn_status(o, json, &stale);
}

int mp_show_spawn_row(struct mp_obj *o, int json, const char *lead)
{
	struct mp_spawn_snap s;
	int rc = mp_spawn_snapshot(o, &s);

	if (rc)
		return rc;
	(void)json;	/* the text of ls is mp_show_table's */
	fputs(lead, stdout);
	print_status_json(o, &s);	/* the same object as status --json */
	mp_spawn_snap_free(&s);
	return 0;
}

int mp_show_spawn_sum(struct mp_obj *o, struct mp_show_sum *s)
{
	struct mp_spawn_snap sn;
	int rc = mp_spawn_snapshot(o, &sn);

	if (rc)
		return rc;
	if (sn.g.state == MP_SPAWN_G_DONE)
		snprintf(s->state, sizeof s->state, "done, exit %d", sn.g.status);
	else if (sn.lost)
		snprintf(s->state, sizeof s->state, sn.elsewhere ? "lost (no lease)"
				  : "lost (mpspawn was killed)");
	else
		snprintf(s->state, sizeof s->state, "%u/%u workers running", sn.nrunning,
			 sn.g.nworkers);
	snprintf(s->host, sizeof s->host, "%s", sn.hostname[0] ? sn.hostname : sn.host[0] ? "?" : "");
	if (sn.g.state != MP_SPAWN_G_DONE && !sn.lost && !sn.elsewhere)
		mp_show_add_holder(s, sn.g.front.pid, sn.g.started_ns);
	else if (sn.g.state != MP_SPAWN_G_DONE && !sn.lost)	/* not a pid of here */
		snprintf(s->holders, sizeof s->holders, "%d mpspawn (on %s)", sn.g.front.pid,
			 s->host);
	s->created_ns = sn.g.started_ns;
	s->used_ns = sn.g.state == MP_SPAWN_G_DONE ? sn.g.ended_ns : sn.g.started_ns;
	s->in_use = sn.g.state != MP_SPAWN_G_DONE && !sn.lost;
	mp_spawn_snap_free(&sn);
	return 0;
}
