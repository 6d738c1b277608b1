/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queues.c - mptorture's queue clients; their checks are queue-check.c.
 *
 * Producers put messages whose content follows from their id (so any
 * corruption shows), logging each id before the put and again once the
 * put exited 0.  Consumers get one, several, all, or one with a lease
 * (then ack it); each get writes to a file of its own, logged before it
 * starts and when it ends.  One client runs an mpspawn --queue pool whose
 * command appends each message it is given to a file.  At every check the
 * queue is drained (size must match what the drain finds).
 *
 * On a Redis store (MP_STORE=redis://... or unix://...) half the clients
 * produce, and the clients live on two "hosts" (MP_HOST_ID host-a and
 * host-b, by rank): a host judges only its own dead from /proc.
 * Consumers are pluggable (struct consumer below): each says on which
 * stores it works, and is picked at random by weight or, weight 0, runs as
 * a client of its own (the pool).
 *
 * At the end:
 *   - a message whose put exited 0 was delivered at least once;
 *   - no message is consumed twice: a get that exited 0, or a lease whose
 *     ack exited 0, consumes what it printed; nothing is delivered again
 *     after such a consumption ended;
 *   - every line printed is a message some producer tried to put, intact
 *     (a killed get's last line may be cut short);
 *   - exactly once, by the queue's own counts: with nothing left waiting
 *     or in flight, it acknowledged as many messages as it took in, and
 *     as many distinct messages were delivered; the checksums of the
 *     messages put with exit 0 and of those delivered among them agree.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queues.h"
#include "torture.h"

#define PRODUCERS	3

/* ---- messages ---- */

uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* "M<cid>.<seq>:<len>:<payload>", the payload a function of the rest. */
static int msg_make(char *buf, size_t cap, uint64_t cid, uint64_t seq, unsigned len)
{
	int n = snprintf(buf, cap, "M%" PRIu64 ".%" PRIu64 ":%u:", cid, seq, len);
	uint64_t x = mix(cid * 1000003 + seq);

	for (unsigned i = 0; i < len && (size_t)n + 1 < cap; i++) {
		x = mix(x + i);
		buf[n++] = (char)('a' + x % 26);
	}
	buf[n] = 0;
	return n;
}

int msg_check(const char *line, size_t n, uint64_t *cid, uint64_t *seq)
{
	char want[MAXLEN + 64], *end;
	unsigned long long a, b, len;

	if (n < 6 || n > MAXLEN + 60 || line[0] != 'M')
		return -1;
	a = strtoull(line + 1, &end, 10);
	if (*end != '.')
		return -1;
	b = strtoull(end + 1, &end, 10);
	if (*end != ':')
		return -1;
	len = strtoull(end + 1, &end, 10);
	if (*end != ':' || len > MAXLEN)
		return -1;
	*cid = a;
	*seq = b;
	if ((size_t)msg_make(want, sizeof want, a, b, (unsigned)len) != n ||
	    memcmp(want, line, n))
		return -2;
	return 0;
}

/* ---- logs ---- */

void qlog(const char *fmt, ...)
{
	char buf[4096], path[PATH_MAX];
	va_list ap;
	int n, fd;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof buf)
		n = (int)sizeof buf - 1;
	snprintf(path, sizeof path, "%s/q/log", workdir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
	if (fd >= 0) {
		ssize_t w = write(fd, buf, (size_t)n);
		(void)w;
		close(fd);
	}
}

/* ---- clients ---- */

int on_redis(void)
{
	const char *s = getenv("MP_STORE");

	return s && (!strncmp(s, "redis", 5) || !strncmp(s, "unix:", 5));
}

const char *const hosts[2] = { "MP_HOST_ID=host-a", "MP_HOST_ID=host-b" };

/* Runs a client's tool, on its "host" on a Redis store (env execs the
 * tool: the pid the killer sees is the tool's). */
static void qrun(struct client *c, char **argv, int outfd, struct tres *t)
{
	char *v[24] = { "/usr/bin/env", (char *)hosts[c->rank % 2] };
	int i;

	if (!on_redis()) {
		run_tool(c, argv, outfd, t);
		return;
	}
	for (i = 0; argv[i] && i + 3 < (int)(sizeof v / sizeof *v); i++)
		v[i + 2] = argv[i];
	v[i + 2] = NULL;
	run_tool(c, v, outfd, t);
}

static void produce(struct client *c)
{
	static const int ok[] = { 0, 124, -1 };
	char msgs[4][MAXLEN + 64], ids[4][48], list[256];
	char *argv[12] = { (char *)tool_path("mpqueue"), "put", Q, "-t", "5" };
	unsigned k = 1 + rnd_below(4), len = 0;
	struct tres t;

	list[0] = 0;
	for (unsigned i = 0; i < k; i++) {
		uint64_t seq = c->seq++;
		unsigned l = rnd_below(4) ? rnd_below(40) : rnd_below(MAXLEN + 1);
		msg_make(msgs[i], sizeof msgs[i], c->id, seq, l);
		snprintf(ids[i], sizeof ids[i], " %" PRIu64 ".%" PRIu64, c->id, seq);
		len += (unsigned)snprintf(list + len, sizeof list - len, "%s", ids[i]);
		argv[5 + i] = msgs[i];
	}
	argv[5 + k] = NULL;
	if (sabotage && rnd_below(10) == 0) {
		/* a put that "exited 0" without putting anything */
		qlog("A%s\nS%s\n", list, list);
		return;
	}
	qlog("A%s\n", list);
	qrun(c, argv, -1, &t);
	if (!t.killed && t.status == 0)
		qlog("S%s\n", list);
	else
		expect(c, &t, argv, ok);
}

/* Exits the client: its death hands back whatever it might lease. */
static void give_up(void)
{
	exit(0);
}

/* Sabotage: two more "gets that exited 0" of what one got: a copy (a
 * message consumed twice) and a copy with a byte changed (a corrupt one). */
static void forge(const char *file, const char *path)
{
	char buf[65536], fpath[PATH_MAX + 8];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 2)
		return;
	for (int k = 0; k < 2; k++) {
		snprintf(fpath, sizeof fpath, "%s%c", path, "xy"[k]);
		if (k)
			buf[n - 2] = buf[n - 2] == 'a' ? 'b' : 'a';
		fd = open(fpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
		if (fd < 0 || write(fd, buf, (size_t)n) != n) {
			if (fd >= 0)
				close(fd);
			return;
		}
		close(fd);
		qlog("B %s%c %" PRId64 " 0\nG %s%c 0 %" PRId64 "\n", file, "xy"[k], now_ns(),
		     file, "xy"[k], now_ns());
	}
}

/* Runs a getter into a file of its own, logged before and after; a
 * leased one then acks. */
static void getter(struct client *c, char **argv, int type)
{
	static const int ok[] = { 0, 124, -1 }, ackok[] = { 0, 1, -1 };
	char *ack[] = { (char *)tool_path("mpqueue"), "ack", Q, NULL };
	char file[64], path[PATH_MAX];
	int is_lease = type == G_LEASE, fd;
	struct tres t;

	snprintf(file, sizeof file, "o.%" PRIu64 ".%" PRIu64, c->id, c->seq++);
	snprintf(path, sizeof path, "%s/q/%s", workdir, file);
	qlog("B %s %" PRId64 " %d\n", file, now_ns(), type);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd < 0)
		return;
	qrun(c, argv, fd, &t);
	close(fd);
	qlog("G %s %d %" PRId64 "\n", file, t.status, t.t1);
	if (sabotage && !is_lease && !t.killed && t.status == 0)
		forge(file, path);
	if (is_lease && t.killed)
		give_up();	/* it may have leased a message to us */
	if (!expect(c, &t, argv, ok) || !is_lease || t.status)
		return;
	qrun(c, ack, -1, &t);
	if (!t.killed && t.status == 1) {
		violation(K_QUEUE, "the lease of a live owner (pid %d) was gone before its ack",
			  (int)getpid());
		return;
	}
	if (t.killed) {
		/* the owner lives: only the killed ack can have ended it */
		qrun(c, ack, -1, &t);
		if (t.killed)
			give_up();
		if (!expect(c, &t, ack, ackok))
			return;
	} else if (!expect(c, &t, ack, ok)) {
		return;
	}
	qlog("K %s\n", file);
}

#define MPQ	(char *)tool_path("mpqueue")

static void get_one(struct client *c)
{
	char *argv[] = { MPQ, "get", Q, "-t", "1", NULL };
	getter(c, argv, G_GET);
}

static void get_some(struct client *c)
{
	char *argv[] = { MPQ, "get", Q, "--count", "5", "-t", "1", NULL };
	getter(c, argv, G_GET);
}

static void get_all(struct client *c)
{
	char *argv[] = { MPQ, "get", Q, "--all", "-t", "1", NULL };
	getter(c, argv, G_GET);
}

static void get_lease(struct client *c)
{
	char *argv[] = { MPQ, "get", Q, "--lease", "-t", "1", NULL };
	getter(c, argv, G_LEASE);
}

static void get_follow(struct client *c)
{
	char *argv[] = { MPQ, "get", Q, "--follow", "-t", "0.5", NULL };
	getter(c, argv, G_FOLLOW);
}

static void pool(struct client *c)
{
	static const int ok[] = { 0, 124, 137, -1 };
	char file[64], path[PATH_MAX];
	char *argv[] = { (char *)tool_path("mpspawn"), "-j", "2", "--queue", Q, "-t", "1.5", "--",
			 (char *)self_path(), "qwork", path, NULL };
	struct tres t;

	snprintf(file, sizeof file, "p.%" PRIu64 ".%" PRIu64, c->id, c->seq++);
	snprintf(path, sizeof path, "%s/q/%s", workdir, file);
	qlog("B %s %" PRId64 " %d\n", file, now_ns(), G_POOL);
	c->meddle = spawn_meddle;
	qrun(c, argv, -1, &t);
	c->meddle = NULL;
	qlog("G %s %d %" PRId64 "\n", file, t.status, t.t1);
	expect(c, &t, argv, ok);
}


enum { ST_LOCAL = 1, ST_REDIS = 2 };

/* The consumers.  A new one is a function and a line here. */
static const struct consumer {
	const char *name;
	unsigned weight;	/* share of the random picks; 0: a client of its own */
	unsigned stores;	/* ST_*: where it runs */
	void (*run)(struct client *c);
} consumers[] = {
	{ "get", 40, ST_LOCAL | ST_REDIS, get_one },
	{ "get --count 5", 25, ST_LOCAL | ST_REDIS, get_some },
	{ "get --all", 10, ST_LOCAL | ST_REDIS, get_all },
	{ "get --lease + ack", 25, ST_LOCAL | ST_REDIS, get_lease },
	{ "get --follow", 5, ST_REDIS, get_follow },
	{ "mpspawn --queue", 0, ST_LOCAL | ST_REDIS, pool },
};
#define NCONSUMERS	(sizeof consumers / sizeof *consumers)

static void queue_op(struct client *c)
{
	unsigned store = on_redis() ? ST_REDIS : ST_LOCAL, total = 0, r;
	int producers = PRODUCERS, own = 0;

	if (on_redis() && nclients[K_QUEUE] / 2 > producers)
		producers = nclients[K_QUEUE] / 2;
	if (c->rank < producers) {
		produce(c);
		return;
	}
	/* the consumers of their own come first, one client each */
	for (size_t i = 0; i < NCONSUMERS; i++) {
		if (consumers[i].weight || !(consumers[i].stores & store))
			continue;
		if (c->rank == producers + own++) {
			consumers[i].run(c);
			return;
		}
	}
	for (size_t i = 0; i < NCONSUMERS; i++)
		if (consumers[i].stores & store)
			total += consumers[i].weight;
	r = rnd_below(total);
	for (size_t i = 0; i < NCONSUMERS; i++) {
		if (!(consumers[i].stores & store))
			continue;
		if (r < consumers[i].weight) {
			consumers[i].run(c);
			return;
		}
		r -= consumers[i].weight;
	}
}

/* mptorture qwork FILE MESSAGE: a pool's command */
int qwork_main(int argc, char **argv)
{
	size_t n;
	char *buf;
	int fd, rc;

	if (argc != 3)
		return 64;
	/* the group's SIGTERM (its --timeout) must not cut a message in two:
	 * it would be acknowledged as failed, and unrecorded */
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGHUP);
	sigprocmask(SIG_BLOCK, &term, NULL);
	n = strlen(argv[2]);
	buf = malloc(n + 1);
	if (!buf)
		return 71;
	memcpy(buf, argv[2], n);
	buf[n] = '\n';
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
	rc = fd >= 0 && write(fd, buf, n + 1) == (ssize_t)(n + 1) ? 0 : 74;
	free(buf);
	return rc;
}

static void queue_setup(void)
{
	char dir[PATH_MAX];
	char *create[] = { (char *)tool_path("mpqueue"), "create", Q, "--max-items", "64",
			   "--max-bytes", "16K", "--max-msg", "1K", NULL };

	snprintf(dir, sizeof dir, "%s/q", workdir);
	mkdir(dir, 0770);
	if (run_check(create, NULL, 0) != 0)
		violation(K_QUEUE, "mpqueue create %s failed", Q);
}

const struct kind kind_queue = {
	"queue", { "mpqueue", "mpspawn" }, 8, queue_setup, queue_op, queue_check, queue_report,
};
