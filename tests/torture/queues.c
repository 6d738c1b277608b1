/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queues.c - mptorture's queue clients and checks.
 *
 * Producers put messages whose content follows from their id (so any
 * corruption shows), logging each id before the put and again once the
 * put exited 0.  Consumers get one, several, all, or one with a lease
 * (then ack it); each get writes to a file of its own, logged before it
 * starts and when it ends.  One client runs an mpspawn --queue pool whose
 * command appends each message it is given to a file.  At every check the
 * queue is drained (size must match what the drain finds); at the end:
 *   - a message whose put exited 0 was delivered at least once;
 *   - no message is consumed twice: a get that exited 0, or a lease whose
 *     ack exited 0, consumes what it printed; nothing is delivered again
 *     after such a consumption ended;
 *   - every line printed is a message some producer tried to put, intact
 *     (a killed get's last line may be cut short).
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

#include "torture.h"

#define Q		"q"
#define PRODUCERS	3
#define MAXLEN		300

/* ---- messages ---- */

static uint64_t mix(uint64_t x)
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

/* Parses and checks a line (without its newline).  0 if intact. */
static int msg_check(const char *line, size_t n, uint64_t *cid, uint64_t *seq)
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

static void qlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void qlog(const char *fmt, ...)
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
	run_tool(c, argv, -1, &t);
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

static void consume(struct client *c)
{
	static const int ok[] = { 0, 124, -1 }, ackok[] = { 0, 1, -1 };
	char *mpq = (char *)tool_path("mpqueue"), file[64], path[PATH_MAX];
	char *one[] = { mpq, "get", Q, "-t", "1", NULL };
	char *some[] = { mpq, "get", Q, "--count", "5", "-t", "1", NULL };
	char *all[] = { mpq, "get", Q, "--all", "-t", "1", NULL };
	char *lease[] = { mpq, "get", Q, "--lease", "-t", "1", NULL };
	char *ack[] = { mpq, "ack", Q, NULL };
	uint32_t r = rnd_below(100);
	char **argv = r < 40 ? one : r < 65 ? some : r < 75 ? all : lease;
	int is_lease = argv == lease, fd;
	struct tres t;

	snprintf(file, sizeof file, "o.%" PRIu64 ".%" PRIu64, c->id, c->seq++);
	snprintf(path, sizeof path, "%s/q/%s", workdir, file);
	qlog("B %s %" PRId64 " %d\n", file, now_ns(), is_lease);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd < 0)
		return;
	run_tool(c, argv, fd, &t);
	close(fd);
	qlog("G %s %d %" PRId64 "\n", file, t.status, t.t1);
	if (sabotage && !is_lease && !t.killed && t.status == 0)
		forge(file, path);
	if (is_lease && t.killed)
		give_up();	/* it may have leased a message to us */
	if (!expect(c, &t, argv, ok) || !is_lease || t.status)
		return;
	run_tool(c, ack, -1, &t);
	if (!t.killed && t.status == 1) {
		violation(K_QUEUE, "the lease of a live owner (pid %d) was gone before its ack",
			  (int)getpid());
		return;
	}
	if (t.killed) {
		/* the owner lives: only the killed ack can have ended it */
		run_tool(c, ack, -1, &t);
		if (t.killed)
			give_up();
		if (!expect(c, &t, ack, ackok))
			return;
	} else if (!expect(c, &t, ack, ok)) {
		return;
	}
	qlog("K %s\n", file);
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
	qlog("B %s %" PRId64 " 2\n", file, now_ns());
	c->meddle = spawn_meddle;
	run_tool(c, argv, -1, &t);
	c->meddle = NULL;
	qlog("G %s %d %" PRId64 "\n", file, t.status, t.t1);
	expect(c, &t, argv, ok);
}

/* A Redis store (MP_STORE=redis://... or unix://...) keeps no process
 * groups yet: no pool client there. */
static int on_redis(void)
{
	const char *s = getenv("MP_STORE");

	return s && (!strncmp(s, "redis", 5) || !strncmp(s, "unix:", 5));
}

static void queue_op(struct client *c)
{
	if (c->rank < PRODUCERS)
		produce(c);
	else if (c->rank == PRODUCERS && !on_redis())
		pool(c);
	else
		consume(c);
}

/* mptorture qwork FILE MESSAGE: a pool's command */
int qwork_main(int argc, char **argv)
{
	size_t n;
	char *buf;
	int fd;

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
	if (fd < 0 || write(fd, buf, n + 1) != (ssize_t)(n + 1))
		return 74;
	return 0;
}

/* ---- checks ---- */

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

static unsigned drains;

/* Every client is dead: what is left is waiting, and size says how much. */
static void drain(void)
{
	char *mpq = (char *)tool_path("mpqueue"), out[64], file[64], path[PATH_MAX];
	char *size[] = { mpq, "size", Q, NULL };
	char *get[] = { mpq, "get", Q, "--all", "-n", NULL };
	long before, after, lines = 0;
	int st, fd;
	char buf[65536];
	ssize_t n;

	st = run_check(size, out, sizeof out);
	before = atol(out);
	if (st != 0) {
		violation(K_QUEUE, "mpqueue size exited %d with every client killed", st);
		return;
	}
	snprintf(file, sizeof file, "d.%u", drains++);
	snprintf(path, sizeof path, "%s/q/%s", workdir, file);
	qlog("B %s %" PRId64 " 3\n", file, now_ns());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	st = run_check_fd(get, fd);
	qlog("G %s %d %" PRId64 "\n", file, st == 75 ? 0 : st, now_ns());
	if (lseek(fd, 0, SEEK_SET) == 0)
		while ((n = read(fd, buf, sizeof buf)) > 0)
			for (ssize_t i = 0; i < n; i++)
				lines += buf[i] == '\n';
	close(fd);
	if (st != 0 && !(st == 75 && before == 0))
		violation(K_QUEUE, "mpqueue get --all -n exited %d (size said %ld)", st, before);
	st = run_check(size, out, sizeof out);
	after = atol(out);
	if (lines != before || st != 0 || after != 0)
		violation(K_QUEUE, "with every client killed, size said %ld, a drain got %ld, "
			  "and size then said %ld (exit %d)", before, lines, after, st);
	else
		note("queue: size %ld, drained %ld", before, lines);
}

/* The messages seen, in an open-addressing table keyed by (cid, seq). */
struct msg {
	uint64_t key;		/* cid << 32 | seq, + 1; 0: free */
	uint8_t attempted, stored;
	uint16_t nconf;		/* confirmed consumptions */
	uint32_t ndeliv;
	int64_t conf_end;	/* earliest end of a confirmed consumption */
};

static struct msg *tab;
static size_t tcap, tlen;

static struct msg *lookup(uint64_t cid, uint64_t seq, int add)
{
	uint64_t key = (cid << 32 | (seq & 0xffffffffu)) + 1;

	if (add && (tlen + 1) * 2 > tcap) {
		struct msg *old = tab;
		size_t ocap = tcap;
		tcap = tcap ? tcap * 2 : 1 << 16;
		tab = calloc(tcap, sizeof *tab);
		tlen = 0;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].key)
				continue;
			size_t h = mix(old[i].key) & (tcap - 1);
			while (tab[h].key)
				h = (h + 1) & (tcap - 1);
			tab[h] = old[i];
			tlen++;
		}
		free(old);
	}
	if (!tcap)
		return NULL;
	for (size_t h = mix(key) & (tcap - 1);; h = (h + 1) & (tcap - 1)) {
		if (tab[h].key == key)
			return &tab[h];
		if (!tab[h].key) {
			if (!add)
				return NULL;
			tab[h].key = key;
			tlen++;
			return &tab[h];
		}
	}
}

struct getrec {
	char file[64];
	int64_t t0, t1;
	int type;		/* 0 get, 1 lease, 2 pool, 3 drain */
	int status;		/* -1: never logged as ended */
	int acked;
};

static struct getrec *gets;
static size_t ngets, capgets;

static int cmp_getrec(const void *a, const void *b)
{
	return strcmp(((const struct getrec *)a)->file, ((const struct getrec *)b)->file);
}

static void read_log(void)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof path, "%s/q/log", workdir);
	f = fopen(path, "re");
	if (!f)
		return;
	/* first the puts and the starts of gets */
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p = line + 1, *end;
		if (line[0] == 'A' || line[0] == 'S') {
			for (;;) {
				uint64_t cid = strtoull(p, &end, 10), seq;
				if (end == p || *end != '.')
					break;
				seq = strtoull(end + 1, &p, 10);
				struct msg *m = lookup(cid, seq, 1);
				if (line[0] == 'A')
					m->attempted = 1;
				else
					m->stored = 1;
			}
		} else if (line[0] == 'B') {
			struct getrec g = { .status = -1 };
			if (sscanf(line, "B %63s %" SCNd64 " %d", g.file, &g.t0, &g.type) != 3)
				continue;
			if (ngets == capgets) {
				capgets = capgets ? capgets * 2 : 4096;
				gets = realloc(gets, capgets * sizeof *gets);
			}
			gets[ngets++] = g;
		}
	}
	qsort(gets, ngets, sizeof *gets, cmp_getrec);
	rewind(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		char file[64];
		struct getrec key, *g;
		int st;
		int64_t t1;

		if (line[0] == 'G' && sscanf(line, "G %63s %d %" SCNd64, file, &st, &t1) == 3) {
			snprintf(key.file, sizeof key.file, "%s", file);
			g = bsearch(&key, gets, ngets, sizeof *gets, cmp_getrec);
			if (g) {
				g->status = st;
				g->t1 = t1;
			}
		} else if (line[0] == 'K' && sscanf(line, "K %63s", file) == 1) {
			snprintf(key.file, sizeof key.file, "%s", file);
			g = bsearch(&key, gets, ngets, sizeof *gets, cmp_getrec);
			if (g)
				g->acked = 1;
		}
	}
	free(line);
	fclose(f);
}

static int confirmed(const struct getrec *g)
{
	if (g->status != 0)
		return 0;
	return g->type == 0 || g->type == 3 || (g->type == 1 && g->acked);
}

/* Calls fn for every line of every output file. */
static void each_line(void (*fn)(const struct getrec *g, const char *line, size_t n, int last,
				 int cut, void *arg), void *arg)
{
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < ngets; i++) {
		const struct getrec *g = &gets[i];
		char *buf;
		ssize_t len;
		int fd;

		snprintf(path, sizeof path, "%s/q/%s", workdir, g->file);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1))) {
			close(fd);
			continue;
		}
		len = read(fd, buf, (size_t)st.st_size);
		close(fd);
		for (ssize_t pos = 0; len > 0 && pos < len;) {
			char *nl = memchr(buf + pos, '\n', (size_t)(len - pos));
			size_t n = nl ? (size_t)(nl - (buf + pos)) : (size_t)(len - pos);
			int last = (ssize_t)(pos + n + 1) >= len;
			fn(g, buf + pos, n, last, !nl, arg);
			pos += (ssize_t)n + 1;
		}
		free(buf);
	}
}

static void pass1(const struct getrec *g, const char *line, size_t n, int last, int cut, void *arg)
{
	uint64_t cid, seq;
	int rc = msg_check(line, n, &cid, &seq);
	struct msg *m;

	if (rc) {
		/* a killed get's (or pool command's) last line may be cut short */
		if (last && cut && !confirmed(g))
			return;
		violation(K_QUEUE, "%s: a corrupt message: '%.*s'", g->file, (int)(n > 80 ? 80 : n),
			  line);
		return;
	}
	m = lookup(cid, seq, 0);
	if (!m || !m->attempted) {
		violation(K_QUEUE, "%s: message %" PRIu64 ".%" PRIu64 " was never put", g->file, cid,
			  seq);
		return;
	}
	m->ndeliv++;
	if (confirmed(g)) {
		m->nconf++;
		if (!m->conf_end || g->t1 < m->conf_end)
			m->conf_end = g->t1;
		if (m->nconf == 2)
			violation(K_QUEUE, "message %" PRIu64 ".%" PRIu64 " was consumed twice (the "
				  "second time by %s)", cid, seq, g->file);
	}
}

static void pass2(const struct getrec *g, const char *line, size_t n, int last, int cut, void *arg)
{
	uint64_t cid, seq;
	struct msg *m;

	if (msg_check(line, n, &cid, &seq) || !(m = lookup(cid, seq, 0)))
		return;
	if (m->conf_end && !confirmed(g) && g->t0 > m->conf_end)
		violation(K_QUEUE, "message %" PRIu64 ".%" PRIu64 " was delivered again (to %s) "
			  "after a get or an ack that consumed it had exited 0", cid, seq, g->file);
}

static void analyse(void)
{
	uint64_t stored = 0, lost = 0, delivered = 0, dup = 0;

	read_log();
	each_line(pass1, NULL);
	each_line(pass2, NULL);
	for (size_t i = 0; i < tcap; i++) {
		struct msg *m = &tab[i];
		if (!m->key)
			continue;
		stored += m->stored;
		delivered += m->ndeliv > 0;
		dup += m->ndeliv > 1;
		if (m->stored && !m->ndeliv) {
			if (lost++ < 5)
				violation(K_QUEUE, "message %" PRIu64 ".%" PRIu64 " was put (exit 0) "
					  "but never delivered", (m->key - 1) >> 32,
					  (m->key - 1) & 0xffffffffu);
		}
	}
	if (lost > 5)
		violation(K_QUEUE, "... %" PRIu64 " messages lost in all", lost);
	note("queue: %zu messages tried, %" PRIu64 " put with exit 0, %" PRIu64 " delivered "
	     "(%" PRIu64 " more than once, after kills), %" PRIu64 " lost; %zu gets", tlen, stored,
	     delivered, dup, lost, ngets);
	S->stat[K_QUEUE][0] = stored;
	S->stat[K_QUEUE][1] = delivered;
	S->stat[K_QUEUE][2] = dup;
	S->stat[K_QUEUE][3] = ngets;
}

/* Is a process of an mpspawn --queue pool (front, keeper or worker) still
 * running?  Killing the clients killed the fronts; the keepers then end
 * the workers, which hand their leases back. */
static pid_t pool_alive(void)
{
	const char *want = tool_path("mpspawn");
	struct dirent *de;
	DIR *d = opendir("/proc");
	pid_t found = 0;

	while (d && !found && (de = readdir(d))) {
		char path[64], buf[4096], st;
		unsigned fl;
		uint64_t start;
		ssize_t n;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%.20s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (strcmp(buf, want))
			continue;
		for (char *p = buf; p < buf + n; p += strlen(p) + 1)
			if (!strcmp(p, "--queue") && proc_stat(atoi(de->d_name), &st, &fl, &start) == 0 &&
			    st != 'Z')
				found = atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static void queue_check(int final)
{
	int64_t t0 = now_ns();
	pid_t p;

	while ((p = pool_alive()) && now_ns() - t0 < 5000000000LL)
		sleep_ns(5000000);
	if (p)
		violation(K_QUEUE, "a process of a pool (pid %d) outlives its SIGKILLed mpspawn "
			  "by 5 s", (int)p);
	drain();
	if (final)
		analyse();
}

static void queue_report(void)
{
	printf("queue: %llu messages put with exit 0, %llu delivered (%llu more than once after "
	       "a kill), %llu gets and pool runs checked\n", (unsigned long long)S->stat[K_QUEUE][0],
	       (unsigned long long)S->stat[K_QUEUE][1], (unsigned long long)S->stat[K_QUEUE][2],
	       (unsigned long long)S->stat[K_QUEUE][3]);
}

const struct kind kind_queue = {
	"queue", { "mpqueue", "mpspawn" }, 8, queue_setup, queue_op, queue_check, queue_report,
};
