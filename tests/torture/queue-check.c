/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-check.c - mptorture's queue checks (the clients are queues.c):
 * the drain at every check, and at the end the analysis of what every
 * producer and getter logged and printed (the rules at the top of
 * queues.c). */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queues.h"
#include "torture.h"

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

	/* each host's dead hand back what they held when a process of
	 * that host looks (info does) */
	for (int h = 0; h < 2 && on_redis(); h++) {
		char *info[] = { "/usr/bin/env", (char *)hosts[h], mpq, "info", Q, NULL };
		if (run_check(info, NULL, 0) != 0)
			violation(K_QUEUE, "mpqueue info on %s failed", hosts[h]);
	}
	st = run_check(size, out, sizeof out);
	before = atol(out);
	if (st != 0) {
		violation(K_QUEUE, "mpqueue size exited %d with every client killed", st);
		return;
	}
	snprintf(file, sizeof file, "d.%u", drains++);
	snprintf(path, sizeof path, "%s/q/%s", workdir, file);
	qlog("B %s %" PRId64 " %d\n", file, now_ns(), G_DRAIN);
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
	int type;		/* G_* */
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
	if (g->type == G_FOLLOW)
		return g->status == 0 || g->status == 124;
	if (g->status != 0)
		return 0;
	return g->type == G_GET || g->type == G_DRAIN || (g->type == G_LEASE && g->acked);
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

/* A field of "mpqueue info --json", or -1. */
static long long info_field(const char *json, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof key, "\"%s\":", name);
	p = strstr(json, key);
	return p ? atoll(p + strlen(key)) : -1;
}

static char once[256];	/* the count check's line, for the report */

/* Exactly once by the queue's own counts: everything taken in left once,
 * acknowledged, and was seen delivered. */
static void count_check(uint64_t distinct, uint64_t sum_stored, uint64_t sum_seen)
{
	char *info[] = { (char *)tool_path("mpqueue"), "info", Q, "--json", NULL };
	char json[8192];
	long long puts, acks, items, fl;

	if (run_check(info, json, sizeof json) != 0) {
		violation(K_QUEUE, "mpqueue info --json failed at the end");
		return;
	}
	puts = info_field(json, "puts");
	acks = info_field(json, "acks");
	items = info_field(json, "items");
	fl = info_field(json, "in_flight");
	if (items != 0 || fl != 0 || puts != acks || (uint64_t)puts != distinct)
		violation(K_QUEUE, "at the end: %lld waiting, %lld in flight, %lld put, %lld "
			  "acknowledged, %" PRIu64 " distinct messages delivered", items, fl, puts,
			  acks, distinct);
	if (sum_stored != sum_seen)
		violation(K_QUEUE, "checksum of the messages put with exit 0 %016" PRIx64 ", of "
			  "those delivered %016" PRIx64, sum_stored, sum_seen);
	snprintf(once, sizeof once, "queue: exactly once: %lld put, %lld acknowledged, %" PRIu64
		 " distinct delivered; checksum %016" PRIx64 " (put with exit 0) %s %016" PRIx64
		 " (delivered)", puts, acks, distinct, sum_stored,
		 sum_stored == sum_seen ? "=" : "!=", sum_seen);
	note("%s", once);
}

static void analyse(void)
{
	uint64_t stored = 0, lost = 0, delivered = 0, dup = 0, sum_stored = 0, sum_seen = 0;

	read_log();
	each_line(pass1, NULL);
	each_line(pass2, NULL);
	for (size_t i = 0; i < tcap; i++) {
		struct msg *m = &tab[i];
		if (!m->key)
			continue;
		stored += m->stored;
		delivered += m->ndeliv > 0;
		if (m->stored) {
			sum_stored += mix(m->key);
			sum_seen += m->ndeliv ? mix(m->key) : 0;
		}
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
	count_check(delivered, sum_stored, sum_seen);
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

void queue_check(int final)
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

void queue_report(void)
{
	printf("queue: %llu messages put with exit 0, %llu delivered (%llu more than once after "
	       "a kill), %llu gets and pool runs checked\n", (unsigned long long)S->stat[K_QUEUE][0],
	       (unsigned long long)S->stat[K_QUEUE][1], (unsigned long long)S->stat[K_QUEUE][2],
	       (unsigned long long)S->stat[K_QUEUE][3]);
	if (once[0])
		printf("%s\n", once);
}
