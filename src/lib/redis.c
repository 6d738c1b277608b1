/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis.c - the Redis store: connections, scripts, names, subscriptions
 * and the store-level operations (find, list, remove); see redis.h.  Its
 * URL is read in redis-url.c, waits on subscriptions are redis-wait.c. */
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
#include <sys/socket.h>
#include <unistd.h>

/* ---- connections ---- */

/* A reply is awaited REPLY_NS; a call given -t D (mp_obj_patience) goes on
 * awaiting it until D, on the same connection (the command is not sent
 * twice), unless a termination signal comes in that extra time: on a
 * starved server (a thousand starting waiters on two loaded cores) a
 * reply can take longer than 3 s, and a wait with a deadline must not
 * give up before it. */
#define REPLY_NS	(3 * 1000000000LL)

static redisReply *await_reply(redisContext *c, int patient)
{
	int64_t t0 = mp_now_ns(), end = t0 + REPLY_NS;
	int64_t dl = patient ? mp_obj_patience_deadline() : 0;

	if (dl > end)
		end = dl;
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		void *rep = NULL;
		int64_t now, left;

		if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
			return NULL;
		if (rep)
			return rep;
		now = mp_now_ns();
		left = end - now;
		if (left <= 0 || (mp_signal_pending && now - t0 >= REPLY_NS)) {
			/* the reply may still come: the connection is done with */
			c->err = REDIS_ERR_IO;
			snprintf(c->errstr, sizeof c->errstr, "no reply within %lld s",
				 (long long)((now - t0 + 500000000LL) / 1000000000LL));
			errno = left <= 0 ? EAGAIN : EINTR;
			return NULL;
		}
		/* slices: a signal is seen once the first REPLY_NS are over */
		if (left > 250 * 1000000LL && now - t0 >= REPLY_NS - 250 * 1000000LL)
			left = 250 * 1000000LL;
		if (poll(&p, 1, (int)((left + 999999) / 1000000)) < 0) {
			if (errno == EINTR)
				continue;
			c->err = REDIS_ERR_IO;
			snprintf(c->errstr, sizeof c->errstr, "%s", strerror(errno));
			return NULL;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (redisBufferRead(c) != REDIS_OK)
				return NULL;
		}
	}
}

/* A server at its client limit (maxclients) answers a new connection with
 * an error and closes it: the store is unavailable (69), as when it cannot
 * be reached, not a failed script (65) nor a bare "Broken pipe".  The
 * error is the reply to the first command, or, when the close came first
 * and the command could not be written, what is left unread on the
 * socket.  1 if REP (or, REP NULL, the socket) says so: c->errstr then
 * says it. */
static int refused(redisContext *c, const redisReply *rep)
{
	static const char full[] = "ERR max number of clients";
	char buf[128];
	const char *said = rep && rep->type == REDIS_REPLY_ERROR ? rep->str : NULL;

	if (!rep) {
		ssize_t n = recv(c->fd, buf, sizeof buf - 1, MSG_DONTWAIT | MSG_PEEK);

		if (n < 2 || buf[0] != '-')
			return 0;
		buf[n] = 0;
		buf[strcspn(buf, "\r\n")] = 0;
		said = buf + 1;
	}
	if (!said || strncmp(said, full, sizeof full - 1))
		return 0;
	c->err = REDIS_ERR_EOF;
	snprintf(c->errstr, sizeof c->errstr, "the server refused the connection (%s)", said + 4);
	return 1;
}

/* redisCommandArgv without SIGPIPE (a server that went away must be a
 * failed call, 69, not a process killed by the signal), and with the
 * reply awaited as above (patient: past 3 s as -t allows; not for the
 * renewals of leases, which must fail in time).  NULL with errno EAGAIN:
 * no reply in time; EINTR: a signal in the extra time; else c->errstr
 * says why. */
static redisReply *command_len(redisContext *c, int argc, const char **argv, const size_t *lens,
			       int patient)
{
	static const struct timespec now = { 0, 0 };
	redisReply *rep = NULL;
	sigset_t pipe, old;
	int done = 0, e = 0;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &old);
	if (!c->err && redisAppendCommandArgv(c, argc, argv, lens) == REDIS_OK) {
		do {
			if (redisBufferWrite(c, &done) != REDIS_OK)
				break;
		} while (!done);
		if (done)
			rep = await_reply(c, patient);
		else
			refused(c, NULL);
	}
	if (rep && refused(c, rep)) {
		freeReplyObject(rep);
		rep = NULL;
	}
	e = rep ? 0 : c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EINTR) ? errno : EIO;
	if (!rep && !sigismember(&old, SIGPIPE))
		sigtimedwait(&pipe, NULL, &now);	/* one this call raised */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return rep;
}

static redisReply *command(redisContext *c, int argc, const char **argv)
{
	return command_len(c, argc, argv, NULL, 1);
}

static int unavailable(struct mp_redis *r, const char *what, const char *why)
{
	mp_errmsg_set("store %s unavailable: %s%s%s", r->url, what, why ? ": " : "", why ? why : "");
	return -ENOTCONN;
}

static int command_ok(struct mp_redis *r, redisContext *c, int argc, const char **argv,
		      const char *what)
{
	redisReply *rep = command_len(c, argc, argv, NULL, 0);	/* connecting */
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
	/* a stopped or unreachable server must not hold a call for ever: a
	 * request is sent within 3 s (a reply is awaited as await_reply says),
	 * then the call fails as "unavailable" */
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
	rc = mp_redis_parse_url(r, url);
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
		   const char *const *args, const size_t *lens, int patient, redisReply **out)
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
	rep = command_len(c, argc, argv, argl, patient);
	if (argv != argv_small) {
		free(argv);
		free(argl);
	}
	if (!rep && errno == EINTR)
		return -EINTR;	/* a signal while a slow server kept the reply */
	if (!rep && errno == EAGAIN) {
		unavailable(s->impl, c->errstr, NULL);
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
	return eval_on(s, c, sc, base, suffixes, nargs, args, NULL, 0, out);
}

int mp_redis_eval_len(struct mp_store *s, const struct mp_redis_script *sc, const char *base,
		      const char *const *suffixes, int nargs, const char *const *args,
		      const size_t *lens, redisReply **out)
{
	struct mp_redis *r = s->impl;
	int rc;

	if (!own_conn(r))
		return -ENOTCONN;
	rc = eval_on(s, r->c, sc, base, suffixes, nargs, args, lens, 1, out);
	if (rc == -ETIME || rc == -EINTR) {
		/* the server is there but does not answer (stopped, swamped):
		 * this connection's reply may still come; start afresh later */
		redisFree(r->c);
		r->c = NULL;
		return rc == -EINTR ? -EINTR : -ENOTCONN;
	}
	if (rc == -ENOTCONN) {
		/* One reconnection: the server restarted, or dropped us. */
		redisFree(r->c);
		r->c = mp_redis_connect(r);
		if (r->c)
			rc = eval_on(s, r->c, sc, base, suffixes, nargs, args, lens, 1, out);
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

/* ---- subscriptions (waits on them: redis-wait.c) ---- */

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
