/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis.c - the Redis store: its URL, connections, scripts, names and
 * the store-level operations (find, list, remove); see redis.h. */
#include "config.h"

#include "redis.h"
#include "clock.h"
#include "err.h"
#include "event.h"
#include "gate.h"
#include "lock.h"
#include "queue.h"
#include "sem.h"
#include "signals.h"
#include "spawn.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the URL ---- */

static int bad_url(const char *url, const char *why)
{
	const char *at = strrchr(url, '@'), *scheme = strstr(url, "://");
	int head = scheme ? (int)(scheme - url) + 3 : 0;

	/* never the password: the part before '@' is shown as *** */
	if (at && scheme && at > scheme)
		mp_errmsg_set("store '%.*s***%.200s': %s (redis://[USER:PASSWORD@]HOST[:PORT][/DB]"
			      "[?prefix=P] or unix:///PATH[?db=N&prefix=P])", head, url, at, why);
	else
		mp_errmsg_set("store '%.200s': %s (redis://[USER:PASSWORD@]HOST[:PORT][/DB]"
			      "[?prefix=P] or unix:///PATH[?db=N&prefix=P])", url, why);
	return -EINVAL;
}

/* ?db=N&prefix=P */
static int parse_query(struct mp_redis *r, const char *url, char *q)
{
	for (char *kv = strtok(q, "&"); kv; kv = strtok(NULL, "&")) {
		char *v = strchr(kv, '='), *end;

		if (!v)
			return bad_url(url, "a query part without '='");
		*v++ = 0;
		if (!strcmp(kv, "db")) {
			errno = 0;
			r->db = (int)strtol(v, &end, 10);
			if (errno || *end || end == v || r->db < 0)
				return bad_url(url, "db is not a number");
		} else if (!strcmp(kv, "prefix")) {
			if (!*v || strlen(v) >= sizeof r->prefix || strpbrk(v, "{}"))
				return bad_url(url, "prefix must be 1-63 characters without { or }");
			strcpy(r->prefix, v);
		} else {
			return bad_url(url, "unknown query parameter");
		}
	}
	return 0;
}

/* redis://[USER:PASSWORD@]HOST[:PORT][/DB] — user and password go to r,
 * never to r->url. */
static int parse_tcp(struct mp_redis *r, const char *url, char *rest)
{
	char *at = strrchr(rest, '@'), *slash, *colon, *end;

	if (at) {
		char *c = strchr(rest, ':');
		*at = 0;
		if (c && c < at) {
			*c = 0;
			snprintf(r->pass, sizeof r->pass, "%s", c + 1);
		} else {
			snprintf(r->pass, sizeof r->pass, "%.255s", rest);
			rest[0] = 0;
		}
		snprintf(r->user, sizeof r->user, "%.63s", rest);
		rest = at + 1;
	}
	slash = strchr(rest, '/');
	if (slash) {
		*slash++ = 0;
		if (*slash) {
			errno = 0;
			r->db = (int)strtol(slash, &end, 10);
			if (errno || *end || r->db < 0)
				return bad_url(url, "the database is not a number");
		}
	}
	r->port = 6379;
	colon = strrchr(rest, ':');
	if (colon && !strchr(colon, ']')) {
		*colon++ = 0;
		errno = 0;
		r->port = (int)strtol(colon, &end, 10);
		if (errno || *end || r->port <= 0 || r->port > 65535)
			return bad_url(url, "the port is not a number");
	}
	if (rest[0] == '[') {		/* [::1] */
		size_t n = strlen(rest);
		if (n < 3 || rest[n - 1] != ']')
			return bad_url(url, "a bad IPv6 address");
		rest[n - 1] = 0;
		rest++;
	}
	if (!*rest || strlen(rest) >= sizeof r->host)
		return bad_url(url, "no host");
	strcpy(r->host, rest);
	snprintf(r->url, sizeof r->url, "redis://%s%s%s:%d/%d", r->user[0] || r->pass[0] ? "***@" : "",
		 strchr(r->host, ':') ? "[" : "", r->host, r->port, r->db);
	if (strchr(r->host, ':'))
		snprintf(r->url, sizeof r->url, "redis://%s[%s]:%d/%d",
			 r->user[0] || r->pass[0] ? "***@" : "", r->host, r->port, r->db);
	return 0;
}

static int parse_url(struct mp_redis *r, const char *url)
{
	char buf[1024], *q;
	int rc;

	if (strlen(url) >= sizeof buf)
		return bad_url(url, "too long");
	strcpy(buf, url);
	strcpy(r->prefix, "mptools");
	q = strchr(buf, '?');
	if (q)
		*q++ = 0;
	if (!strncmp(buf, "rediss://", 9))
		return bad_url(url, "TLS is not supported by this build (hiredis without TLS): "
			       "use a Unix socket or a tunnel");
	if (!strncmp(buf, "unix://", 7)) {
		if (buf[7] != '/' || strlen(buf + 7) >= sizeof r->path)
			return bad_url(url, "unix:// needs an absolute path");
		strcpy(r->path, buf + 7);
		rc = 0;
	} else {
		rc = parse_tcp(r, url, buf + 8);
	}
	if (!rc && q)
		rc = parse_query(r, url, q);
	if (!rc && r->path[0])
		snprintf(r->url, sizeof r->url, "unix://%s?db=%d", r->path, r->db);
	if (!rc) {
		size_t n = strlen(r->url);
		snprintf(r->url + n, sizeof r->url - n, "%sprefix=%s", r->path[0] ? "&" : "?",
			 r->prefix);
	}
	/* A password from the environment does not show in ps. */
	if (!rc && !r->pass[0] && getenv("MP_REDIS_PASSWORD"))
		snprintf(r->pass, sizeof r->pass, "%.255s", getenv("MP_REDIS_PASSWORD"));
	return rc;
}

/* ---- connections ---- */

/* redisCommandArgv without SIGPIPE: a server that went away must be a
 * failed call (69), not a process killed by the signal. */
static redisReply *command_len(redisContext *c, int argc, const char **argv, const size_t *lens)
{
	static const struct timespec now = { 0, 0 };
	sigset_t pipe, old;
	redisReply *rep;
	int e;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	rep = redisCommandArgv(c, argc, argv, lens);
	e = errno;
	if (!rep && !sigismember(&old, SIGPIPE))
		sigtimedwait(&pipe, NULL, &now);	/* the one this call raised */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return rep;
}

static redisReply *command(redisContext *c, int argc, const char **argv)
{
	return command_len(c, argc, argv, NULL);
}

static int unavailable(struct mp_redis *r, const char *what, const char *why)
{
	mp_errmsg_set("store %s unavailable: %s%s%s", r->url, what, why ? ": " : "", why ? why : "");
	return -ENOTCONN;
}

static int command_ok(struct mp_redis *r, redisContext *c, int argc, const char **argv,
		      const char *what)
{
	redisReply *rep = command(c, argc, argv);
	int rc = 0;

	if (!rep)
		return unavailable(r, what, c->errstr);
	if (rep->type == REDIS_REPLY_ERROR)
		rc = unavailable(r, what, rep->str);
	freeReplyObject(rep);
	return rc;
}

redisContext *mp_redis_connect(struct mp_redis *r)
{
	struct timeval tv = { 3, 0 };
	redisContext *c = r->path[0] ? redisConnectUnixWithTimeout(r->path, tv)
				     : redisConnectWithTimeout(r->host, r->port, tv);
	char db[16];

	if (!c || c->err) {
		unavailable(r, "cannot connect", c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	fcntl(c->fd, F_SETFD, FD_CLOEXEC);
	/* a stopped or unreachable server must not hold a call for ever:
	 * a reply takes at most 3 s, then the call fails as "unavailable" */
	redisSetTimeout(c, tv);
	if (r->pass[0]) {
		const char *a[3] = { "AUTH", r->user[0] ? r->user : r->pass, r->pass };
		/* the reason is the server's: it never repeats the password */
		if (command_ok(r, c, r->user[0] ? 3 : 2, a, "the login was refused")) {
			redisFree(c);
			return NULL;
		}
	}
	if (r->db) {
		const char *a[2] = { "SELECT", db };
		snprintf(db, sizeof db, "%d", r->db);
		if (command_ok(r, c, 2, a, "cannot select the database")) {
			redisFree(c);
			return NULL;
		}
	}
	return c;
}

/* A forked child must not talk on its parent's connection (a keeper's
 * workers, mpspawn's supervisor): the replies would cross.  The first
 * call of the child after a fork drops the inherited copy (close(2) only:
 * the parent's connection stays up) and connects anew. */
static unsigned fork_gen;

static void forked(void)
{
	fork_gen++;
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, forked);
}

static redisContext *own_conn(struct mp_redis *r)
{
	if (r->c && r->gen != fork_gen) {
		redisFree(r->c);
		r->c = NULL;
	}
	if (!r->c) {
		r->c = mp_redis_connect(r);
		r->gen = fork_gen;
	}
	return r->c;
}

int mp_redis_store_open(struct mp_store *s, const char *url)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct mp_redis *r = calloc(1, sizeof *r);
	int rc;

	memset(s, 0, sizeof *s);
	s->ops = &mp_redis_store_ops;
	s->dirfd = -1;
	if (!r)
		return -ENOMEM;
	s->impl = r;
	rc = parse_url(r, url);
	if (rc)
		return rc;
	s->dir = r->url;
	pthread_once(&once, watch_forks);
	return own_conn(r) ? 0 : -ENOTCONN;
}

static int reply_error(struct mp_store *s, const char *what, redisReply *rep)
{
	struct mp_redis *r = s->impl;

	if (!strncmp(rep->str, "WRONGTYPE", 9)) {
		mp_errmsg_set("%s on %s: a key of another type is under the name "
			      "(not an mptools object)", what, r->url);
		return -EMEDIUMTYPE;
	}
	mp_errmsg_set("%s on %s: the server said: %s", what, r->url, rep->str);
	return -EPROTO;
}

static int eval_on(struct mp_store *s, redisContext *c, const struct mp_redis_script *sc,
		   const char *base, const char *const *suffixes, int nargs,
		   const char *const *args, const size_t *lens, redisReply **out)
{
	char keys[8][MP_NAME_MAX + 112], nk[8];
	const char *argv_small[40], **argv = argv_small;
	size_t argl_small[40], *argl = argl_small;
	int max = 40;
	redisReply *rep;
	int argc = 0;

	/* a batch of messages (queues) is one argument each */
	if (nargs > 40 - 3 - 8) {
		max = nargs + 3 + 8;
		argv = malloc((size_t)max * sizeof *argv);
		argl = malloc((size_t)max * sizeof *argl);
		if (!argv || !argl) {
			free(argv);
			free(argl);
			return -ENOMEM;
		}
	}

	argv[argc++] = "EVAL";
	argv[argc++] = sc->lua;
	snprintf(nk, sizeof nk, "%d", sc->nkeys);
	argv[argc++] = nk;
	for (int i = 0; i < sc->nkeys && i < 8; i++) {
		snprintf(keys[i], sizeof keys[i], "%s%s", base, suffixes[i]);
		argv[argc++] = keys[i];
	}
	for (int i = 0; i < argc; i++)
		argl[i] = strlen(argv[i]);
	for (int i = 0; i < nargs && argc < max; i++, argc++) {
		argv[argc] = args[i];
		argl[argc] = lens ? lens[i] : strlen(args[i]);
	}
	rep = command_len(c, argc, argv, argl);
	if (argv != argv_small) {
		free(argv);
		free(argl);
	}
	if (!rep && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		unavailable(s->impl, "no reply within 3 s", NULL);
		return -ETIME;	/* told apart from a dropped connection: no retry */
	}
	if (!rep)
		return unavailable(s->impl, "lost the connection", c->errstr);
	if (rep->type == REDIS_REPLY_ERROR) {
		int rc = reply_error(s, "a script", rep);
		freeReplyObject(rep);
		return rc;
	}
	*out = rep;
	return 0;
}

int mp_redis_eval_on(struct mp_store *s, redisContext *c, const struct mp_redis_script *sc,
		     const char *base, const char *const *suffixes, int nargs,
		     const char *const *args, redisReply **out)
{
	return eval_on(s, c, sc, base, suffixes, nargs, args, NULL, out);
}

int mp_redis_eval_len(struct mp_store *s, const struct mp_redis_script *sc, const char *base,
		      const char *const *suffixes, int nargs, const char *const *args,
		      const size_t *lens, redisReply **out)
{
	struct mp_redis *r = s->impl;
	int rc;

	if (!own_conn(r))
		return -ENOTCONN;
	rc = eval_on(s, r->c, sc, base, suffixes, nargs, args, lens, out);
	if (rc == -ETIME) {
		/* the server is there but does not answer (stopped, swamped):
		 * this connection's reply may still come; start afresh later */
		redisFree(r->c);
		r->c = NULL;
		return -ENOTCONN;
	}
	if (rc == -ENOTCONN) {
		/* One reconnection: the server restarted, or dropped us. */
		redisFree(r->c);
		r->c = mp_redis_connect(r);
		if (r->c)
			rc = eval_on(s, r->c, sc, base, suffixes, nargs, args, lens, out);
	}
	return rc == -ETIME ? -ENOTCONN : rc;
}

int mp_redis_eval(struct mp_store *s, const struct mp_redis_script *sc, const char *base,
		  const char *const *suffixes, int nargs, const char *const *args,
		  redisReply **out)
{
	return mp_redis_eval_len(s, sc, base, suffixes, nargs, args, NULL, out);
}

/* ---- hosts ---- */

static void read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (fd >= 0)
		close(fd);
}

const char *mp_redis_host_id(void)
{
	static char id[160];
	char m[64], b[64];
	const char *env;

	if (id[0])
		return id;
	env = getenv("MP_HOST_ID");
	if (env && *env) {
		snprintf(id, sizeof id, "%.150s", env);
		return id;
	}
	read_line("/etc/machine-id", m, sizeof m);
	read_line("/proc/sys/kernel/random/boot_id", b, sizeof b);
	snprintf(id, sizeof id, "%s-%s", m[0] ? m : "nomachineid", b);
	return id;
}

/* ---- objects ---- */

static void redis_close(struct mp_obj *o)
{
	struct mp_robj *ro = o->impl;

	if (ro && ro->sub)
		redisFree(ro->sub);
	free(o->impl);
	o->impl = NULL;
	o->close = NULL;
}

void mp_redis_obj_init(struct mp_store *s, const struct mp_kind *k, const char *name,
		       struct mp_obj *o)
{
	struct mp_redis *r = s->impl;
	struct mp_robj *ro = calloc(1, sizeof *ro);

	memset(o, 0, sizeof *o);
	o->ops = s->ops;
	o->fd = -1;
	o->kind = k;
	o->dir = r->url;
	snprintf(o->name, sizeof o->name, "%s", name);
	if (!ro)
		return;		/* o->impl NULL: every operation fails with -ENOMEM */
	ro->s = s;
	snprintf(ro->base, sizeof ro->base, "%s:{%s:%s}", r->prefix, k->name, name);
	o->impl = ro;
	o->close = redis_close;
}


static const struct mp_redis_script find_script = {
	"local k = redis.call('HGET', KEYS[1], 'kind') "
	"if not k then return 0 end "
	"if k ~= ARGV[1] then return -1 end "
	"return 1", 1
};

static const char *const m_suffix[] = { ":m" };

/* The kinds a Redis store holds today. */
static int kind_here(struct mp_store *s, const struct mp_kind *k)
{
	if (k->id == MP_KIND_LOCK || k->id == MP_KIND_SEM || k->id == MP_KIND_EVENT ||
	    k->id == MP_KIND_VAR || k->id == MP_KIND_QUEUE || k->id == MP_KIND_SPAWN)
		return 0;
	mp_errmsg_set("%ss are not kept in redis stores yet (store %s)", k->name, s->dir);
	return -EPROTONOSUPPORT;
}

static int redis_find(struct mp_store *s, const struct mp_kind *k, const char *name,
		      struct mp_obj *o)
{
	const char *args[1] = { k->name };
	redisReply *rep;
	int rc = kind_here(s, k);

	if (rc)
		return rc;
	mp_redis_obj_init(s, k, name, o);
	if (!o->impl)
		return -ENOMEM;
	rc = mp_redis_eval(s, &find_script, ((struct mp_robj *)o->impl)->base, m_suffix, 1, args,
			   &rep);
	if (!rc) {
		rc = rep->integer == 1 ? 0 : rep->integer == 0 ? -ENOENT : -EMEDIUMTYPE;
		if (rc == -ENOENT)
			mp_errmsg_set("no %s named '%s' (in %s)", k->name, name, s->dir);
		if (rc == -EMEDIUMTYPE)
			mp_errmsg_set("'%s' in %s is not a %s", name, s->dir, k->name);
		freeReplyObject(rep);
	}
	if (rc)
		redis_close(o);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the names of kind k from one SCAN reply into names[]. */
static int scan_names(redisReply *keys, const char *pat_head, char ***names, size_t *n,
		      size_t *cap)
{
	size_t hl = strlen(pat_head);

	for (size_t i = 0; i < keys->elements; i++) {
		const char *key = keys->element[i]->str, *end;
		char **nn;

		if (strncmp(key, pat_head, hl) || !(end = strstr(key + hl, "}:m")) || end[3])
			continue;
		if (*n == *cap) {
			nn = realloc(*names, (*cap = *cap ? *cap * 2 : 32) * sizeof **names);
			if (!nn)
				return -ENOMEM;
			*names = nn;
		}
		if (!((*names)[(*n)++] = strndup(key + hl, (size_t)(end - key - (long)hl))))
			return -ENOMEM;
	}
	return 0;
}

static int redis_list(struct mp_store *s, const struct mp_kind *k,
		      int (*fn)(const char *name, void *arg), void *arg)
{
	struct mp_redis *r = s->impl;
	char head[128], match[160], cursor[32] = "0";
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = kind_here(s, k);

	if (rc)
		return rc;
	snprintf(head, sizeof head, "%s:{%s:", r->prefix, k->name);
	snprintf(match, sizeof match, "%s*}:m", head);
	do {
		const char *argv[6] = { "SCAN", cursor, "MATCH", match, "COUNT", "1000" };
		redisReply *rep = own_conn(r) ? command(r->c, 6, argv) : NULL;

		if (!rep)
			return r->c ? unavailable(r, "lost the connection", r->c->errstr) : -ENOTCONN;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
			freeReplyObject(rep);
			mp_errmsg_set("SCAN on %s: an unexpected reply", r->url);
			return -EPROTO;
		}
		snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
		rc = scan_names(rep->element[1], head, &names, &n, &cap);
		freeReplyObject(rep);
	} while (!rc && strcmp(cursor, "0"));
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = fn(names[i], arg);
		free(names[i]);
	}
	free(names);
	return rc;
}

static const struct mp_redis_script remove_script = {
	"local t = redis.call('TYPE', KEYS[1])['ok'] "
	"if t == 'none' then return 0 end "
	"local damaged = 0 "
	"if t ~= 'hash' or redis.call('HGET', KEYS[1], 'kind') ~= ARGV[1] then damaged = 1 end "
	"redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) "
	"redis.call('PUBLISH', KEYS[5], 'r') "
	"return 1 + damaged", 5
};

static int redis_remove(struct mp_store *s, const struct mp_kind *k, const char *name,
			int *damaged)
{
	static const char *const sfx[] = { ":m", ":h", ":q", ":w", ":c" };
	const char *args[1] = { k->name };
	struct mp_redis *r = s->impl;
	char base[MP_NAME_MAX + 96];
	redisReply *rep;
	int rc = kind_here(s, k);

	*damaged = 0;
	if (rc)
		return rc;
	snprintf(base, sizeof base, "%s:{%s:%s}", r->prefix, k->name, name);
	rc = mp_redis_eval(s, &remove_script, base, sfx, 1, args, &rep);
	if (rc)
		return rc;
	rc = rep->integer == 0 ? -ENOENT : 0;
	if (rep->integer == 2) {
		*damaged = 1;
		mp_errmsg_set("'%s' in %s was not a %s", name, r->url, k->name);
	}
	freeReplyObject(rep);
	return rc;
}

/* ---- waiting: subscriptions ---- */

int mp_redis_subscribe(struct mp_store *s, redisContext *c, const char *const *bases, int n)
{
	for (int i = 0; i < n; i++) {
		char ch[MP_NAME_MAX + 112];
		const char *argv[2] = { "SUBSCRIBE", ch };
		redisReply *rep;

		snprintf(ch, sizeof ch, "%s:c", bases[i]);
		rep = command(c, 2, argv);
		if (!rep)
			return unavailable(s->impl, "lost the connection", c->errstr);
		freeReplyObject(rep);
	}
	return 0;
}

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

/* ---- waiting: connections that come back ---- */

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

/* ---- the store ---- */

const struct mp_store_ops mp_redis_store_ops = {
	.name = "redis",
	.find = redis_find,
	.list = redis_list,
	.remove = redis_remove,
	.close = redis_close,
	.gate = &mp_redis_gate_ops,
	.lock = &mp_redis_lock_ops,
	.sem = &mp_redis_sem_ops,
	.event = &mp_redis_event_ops,
	.var = &mp_redis_var_ops,
	.queue = &mp_redis_queue_ops,
	.spawn = &mp_redis_spawn_ops,
};

int mp_redis_kind_status(const struct mp_obj *o, long long v, const char *what,
			 const char *a_what)
{
	if (v == -2) {
		mp_errmsg_set("%s '%s' is no longer on the server (removed, or the server "
			      "restarted without persistence)", what, o->name);
		return -EIDRM;
	}
	if (v == -3) {
		mp_errmsg_set("'%s' is not %s", o->name, a_what);
		return -EMEDIUMTYPE;
	}
	return 0;
}
