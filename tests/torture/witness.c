/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* witness.c - who is inside a critical section (the witness tables), the
 * registry of workers and the ends of tool calls, all in the run's shared
 * state: see "How a critical section is witnessed" in mptorture.c. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torture.h"

/* ---- the witness of critical sections ---- */

/* A table entry: pid 23 bits | weight 7 | tag 8 | start time 26 (mod). */
#define W_PID(w)	((pid_t)((w) & 0x7fffff))
#define W_WEIGHT(w)	((unsigned)(((w) >> 23) & 0x7f))
#define W_TAG(w)	((unsigned)(((w) >> 30) & 0xff))
#define W_START(w)	((w) >> 38)
#define W_START_MASK	((1ULL << 26) - 1)

static uint64_t w_pack(pid_t pid, unsigned weight, unsigned tag, uint64_t start)
{
	return (uint64_t)pid | (uint64_t)(weight & 0x7f) << 23 | (uint64_t)(tag & 0xff) << 30 |
	       (start & W_START_MASK) << 38;
}

static int describe(char *buf, size_t cap, const char *sep, uint64_t w)
{
	if (W_TAG(w))
		return snprintf(buf, cap, "%spid %d (weight %u, slot %u)", sep, (int)W_PID(w),
				W_WEIGHT(w), W_TAG(w) - 1);
	return snprintf(buf, cap, "%spid %d (weight %u)", sep, (int)W_PID(w), W_WEIGHT(w));
}

/* For a violation: " [parent P (state S), TOKEN_VAR=T]" of a holder, read
 * from /proc while it lives: which wrapper's hold it runs under. */
static void holder_story(char *out, size_t cap, pid_t pid)
{
	char path[64], buf[8192], st = '?', *p;
	ssize_t n;
	int fd, ppid = 0;
	unsigned fl;
	uint64_t start;
	const char *tok = "?";

	snprintf(path, sizeof path, "%s/%d/stat", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (n = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (p)
			ppid = atoi(p + 4);
	}
	if (fd >= 0)
		close(fd);
	if (ppid > 0)
		proc_stat(ppid, &st, &fl, &start);
	snprintf(path, sizeof path, "%s/%d/environ", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (n = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[n] = 0;
		for (p = buf; p < buf + n; p += strlen(p) + 1)
			if (!strncmp(p, "MP_SEM_TOKEN=", 13) || !strncmp(p, "MP_LOCK_TOKEN=", 14))
				tok = p;
	}
	if (fd >= 0)
		close(fd);
	snprintf(out, cap, " [parent %d (state %c), %s]", ppid, st, tok);
}

/* " pid P (weight W[, slot S]) [parent P (state S), TOKEN]" of each of
 * the n holders in v: what a violation says, read while they live. */
static void describe_holders(char *who, size_t cap, const uint64_t *v, unsigned n)
{
	size_t len = 0;

	for (unsigned i = 0; i < n && len < cap - 200; i++) {
		char story[128];

		len += (size_t)describe(who + len, cap - len, i ? ", " : "", v[i]);
		holder_story(story, sizeof story, W_PID(v[i]));
		len += (size_t)snprintf(who + len, cap - len, "%s", story);
	}
}

/* One look at the other live holders in witness wi: their entries (i,
 * value, generation) in e, this process's first; returns how many. */
struct seen {
	int i;
	uint32_t gen;
	uint64_t v;
};

static unsigned witness_look(struct witness *W, int me, uint64_t mine, struct seen *e)
{
	unsigned n = 1;

	e[0] = (struct seen){ me, 0, mine };
	for (int i = 0; i < WSLOTS; i++) {
		uint32_t g = __atomic_load_n(&W->gen[i], __ATOMIC_SEQ_CST);
		uint64_t v = __atomic_load_n(&W->w[i], __ATOMIC_SEQ_CST);
		int l;

		if (i == me || !v)
			continue;
		l = proc_liveness(W_PID(v), W_START(v), W_START_MASK);
		if (l == DEAD) {
			/* a holder killed in its section: clear its entry */
			__atomic_compare_exchange_n(&W->w[i], &v, 0, 0, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			continue;
		}
		if (l == LIVE)
			e[n++] = (struct seen){ i, g, v };
	}
	return n;
}

/* Keeps of e those still in their entry, the same generation, and alive:
 * each was then alive from its first look to its second, and the second
 * look began after the first ended, so all of them were inside at once. */
static unsigned witness_confirm(struct witness *W, struct seen *e, unsigned n)
{
	unsigned k = 1;

	for (unsigned j = 1; j < n; j++) {
		uint64_t v = __atomic_load_n(&W->w[e[j].i], __ATOMIC_SEQ_CST);
		uint32_t g = __atomic_load_n(&W->gen[e[j].i], __ATOMIC_SEQ_CST);

		if (v == e[j].v && g == e[j].gen &&
		    proc_liveness(W_PID(v), W_START(v), W_START_MASK) == LIVE)
			e[k++] = e[j];
	}
	return k;
}

/* The sum of the weights in e; *clash: another holds this one's tag. */
static unsigned weigh(const struct seen *e, unsigned n, int *clash)
{
	unsigned sum = 0;

	*clash = 0;
	for (unsigned j = 0; j < n; j++) {
		sum += W_WEIGHT(e[j].v);
		if (j && W_TAG(e[j].v) && W_TAG(e[j].v) == W_TAG(e[0].v))
			*clash = 1;
	}
	return sum;
}

/* Sums the weights of the other live holders in witness wi and checks
 * them against its capacity and tags.  Returns 1 if it saw a violation.
 *
 * One look is not a snapshot: it reads the entries one after another, so
 * a holder seen early may leave before a successor, seen later, enters
 * (the successor's entry may lie further on).  What a first look finds
 * wrong is therefore looked at again, and only holders that were inside
 * at both looks count. */
static int witness_scan(int kind, int wi, int me, uint64_t mine, const char *when)
{
	struct witness *W = &S->wit[wi];
	struct seen e[WSLOTS + 1];
	uint64_t live[WSLOTS + 1];
	unsigned n, sum;
	char who[2048];
	int bad = 0, tagclash;

	n = witness_look(W, me, mine, e);
	sum = weigh(e, n, &tagclash);
	if (sum <= W->capacity && !tagclash)
		return 0;
	n = witness_confirm(W, e, n);
	sum = weigh(e, n, &tagclash);
	if (sum <= W->capacity && !tagclash) {
		note("%s: %s of a critical section of %s: the first look counted too many "
		     "holders, the second did not (a handoff during the look)",
		     kind_name(kind), when, W->name);
		return 0;
	}
	/* the first holder named is this one; each with its wrapper and token */
	for (unsigned j = 0; j < n; j++)
		live[j] = e[j].v;
	describe_holders(who, sizeof who, live, n);
	if (sum > W->capacity) {
		violation(kind, "%s of a critical section of %s: %u live holders weigh %u, "
			  "more than %u: %s", when, W->name, n, sum, W->capacity, who);
		bad = 1;
	}
	if (tagclash) {
		violation(kind, "%s of a critical section of %s: two live holders of one slot: %s",
			  when, W->name, who);
		bad = 1;
	}
	return bad;
}

/* Registers this process in witness wi; returns the entry's index. */
static int witness_enter(int kind, int wi, uint64_t mine)
{
	struct witness *W = &S->wit[wi];

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < WSLOTS; i++) {
			uint64_t v = __atomic_load_n(&W->w[i], __ATOMIC_SEQ_CST);
			if (v && (pass == 0 ||
				  proc_liveness(W_PID(v), W_START(v), W_START_MASK) != DEAD))
				continue;
			/* before the entry is taken: a second look that finds
			 * this value there finds the generation changed too */
			__atomic_add_fetch(&W->gen[i], 1, __ATOMIC_SEQ_CST);
			if (__atomic_compare_exchange_n(&W->w[i], &v, mine, 0, __ATOMIC_SEQ_CST,
							__ATOMIC_SEQ_CST))
				return i;
		}
	}
	die("witness table of %s is full", W->name);
}

/* A critical section: enter, look, hold (maybe die inside), look, leave. */
void critical_section(int kind, int wi, unsigned weight, unsigned tag, int64_t hold_ns,
		      unsigned die_pm)
{
	uint64_t mine = w_pack(self_pid(), weight, tag, self_start());
	int me = witness_enter(kind, wi, mine);
	int64_t die_at = -1;

	if (rnd_below(1000) < die_pm)
		die_at = hold_ns ? (int64_t)(rnd() % (uint64_t)hold_ns) : 0;
	if (!witness_scan(kind, wi, me, mine, "entry")) {
		if (die_at >= 0) {
			sleep_ns(die_at);
			kill(getpid(), SIGKILL);
		}
		sleep_ns(hold_ns);
		witness_scan(kind, wi, me, mine, "exit");
	}
	__atomic_store_n(&S->wit[wi].w[me], 0, __ATOMIC_SEQ_CST);
}

/* ---- the registry of workers (a ring, each entry written once) ---- */

void reg_add(uint64_t tag, pid_t pid, uint64_t start)
{
	uint64_t i = __atomic_fetch_add(&S->reg_next, 1, __ATOMIC_SEQ_CST) % RING;

	__atomic_store_n(&S->reg[i].tag, tag, __ATOMIC_SEQ_CST);
	__atomic_store_n(&S->reg[i].word, w_pack(pid, 0, 0, start & REG_START_MASK) | 1ULL << 63,
			 __ATOMIC_SEQ_CST);
}

/* Calls fn for each process registered with a tag in [lo, hi]. */
void reg_each(uint64_t lo, uint64_t hi,
	      void (*fn)(uint64_t tag, pid_t pid, uint64_t start_low, void *arg), void *arg)
{
	for (uint32_t i = 0; i < RING; i++) {
		uint64_t t = __atomic_load_n(&S->reg[i].tag, __ATOMIC_SEQ_CST);
		uint64_t w;

		if (t < lo || t > hi)
			continue;
		w = __atomic_load_n(&S->reg[i].word, __ATOMIC_SEQ_CST);
		if (!(w & 1ULL << 63) || __atomic_load_n(&S->reg[i].tag, __ATOMIC_SEQ_CST) != t)
			continue;
		fn(t, W_PID(w), W_START(w & ~(1ULL << 63)), arg);
	}
}

/* ---- the ends of tool calls ---- */

void end_add(pid_t pid, int status, int64_t t0, int64_t t1)
{
	struct endrec *e = &S->ends[__atomic_fetch_add(&S->ends_next, 1, __ATOMIC_SEQ_CST) % ENDRING];

	__atomic_store_n(&e->pid, 0, __ATOMIC_SEQ_CST);
	e->status = status;
	e->t0 = t0;
	e->t1 = t1;
	__atomic_store_n(&e->pid, pid, __ATOMIC_SEQ_CST);
}

/* The record of the call of pid that began before `before`, or NULL. */
const struct endrec *end_find(pid_t pid, int64_t before)
{
	for (uint32_t i = 0; i < ENDRING; i++) {
		const struct endrec *e = &S->ends[i];
		if (__atomic_load_n(&e->pid, __ATOMIC_SEQ_CST) == pid && e->t0 < before)
			return e;
	}
	return NULL;
}
