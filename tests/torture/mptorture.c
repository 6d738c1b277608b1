/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mptorture - a kill -9 torture harness for the mptools.
 *
 *   mptorture [-t SECONDS] [-k KIND,...] [-j CLIENTS] [--bin DIR] [--dir DIR]
 *             [--fault SPEC|none] [--kill-every MS] [--stop-every MS] [--seed N]
 *             [--sabotage] [--ns] [--users UID1,UID2:GID [--hidepid]] [-v]
 *
 * Runs many concurrent clients of every tool (each client is a process
 * that runs the real binaries, one after another) and SIGKILLs random
 * clients and random tool processes at random moments; in a fault build
 * (configure --enable-fault-injection) the tools also SIGKILL themselves
 * at fault points inside the library's critical sections (MP_FAULT, see
 * src/lib/fault.h).  Meanwhile and afterwards it checks the invariants:
 *
 *   lock, rwlock  never two exclusive holders, never a writer with readers;
 *                 after every holder is killed, the lock is acquirable
 *                 within a second
 *   sem           never more holders than slots, never two holders of one
 *                 MP_SEM_SLOT; after every holder is killed, value == slots
 *   queue         every message whose put exited 0 is delivered; none is
 *                 consumed twice (a get that exited 0, or a lease acked with
 *                 exit 0); no corrupt message; size matches what is left
 *   event         every waiter that was in the event's table when a set
 *                 (that exited 0) began returns 0 (within 1.5 s: a waiter
 *                 looks again every second even if it missed a wake); the
 *                 killer spares some of those waiters meanwhile, so that
 *                 a missed wake cannot hide behind a kill
 *   spawn         no worker outlives its mpspawn by more than a second,
 *                 even when mpspawn is SIGKILLed
 *   var           every get that exits 0 prints a whole value, never one
 *                 torn between two sets; a counter lies between the incr
 *                 that exited 0 and those tried (none lost, none doubled)
 *
 * A tool that exits with a status it should never give (70 internal
 * error, 65 corrupt object, ...) is a violation too.  At the end it prints
 * the counts: clients run, kills, operations, violations; the exit status
 * is 0 when there was no violation, 1 otherwise (2: usage, 70: the harness
 * itself failed).
 *
 * How a critical section is witnessed (no false positive when its holder
 * is SIGKILLed inside it): the holder registers itself (pid + start time +
 * weight) in a table in shared memory, then sums the weights of every
 * registered process that is still alive and not dying.  A holder that was
 * killed is a zombie or gone, or has SIGKILL pending or PF_EXITING set,
 * which is exactly when the lock may be given to somebody else: the lock
 * takes a hold back only when its owner and its command are zombies or
 * gone, and a command's parent-death SIGKILL is queued before its parent
 * becomes a zombie.
 *
 * --stop-every MS also stops random tools (SIGSTOP: a waiter, a streaming
 * put or get --follow, a process inside an object's internal section) for
 * up to 300 ms, then lets them go on (SIGCONT): the invariants must hold
 * and the others must not be wedged by them (issue 22).
 *
 * --users UID1,UID2:GID runs the clients as two users sharing a group
 * store, and --hidepid with it hides each user's processes from the
 * other in /proc (hidepid=2): see users.c.
 *
 * --sabotage breaks every kind on purpose (no lock around the section, a
 * message "put" without putting it, a "set" that sets nothing, a worker
 * that escapes its group, ...): the run must then report violations,
 * which shows that the checkers can see them.
 *
 * Internal modes (how the tools run the harness's own code):
 *   mptorture cs KIND WITNESS WEIGHT SLOTENV HOLD_US DIE_PERMILLE   a critical section
 *   mptorture worker TAG HOLD_MS DIE_PERMILLE FAIL_PERMILLE    an mpspawn worker
 *   mptorture qwork FILE MESSAGE                   the command of an mpspawn --queue pool
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "torture.h"

/* ---- small things ---- */

struct shm *S;
const char *workdir;
static char self_exe[PATH_MAX];
static char bindir[PATH_MAX];
static char **tool_env, **check_env;
static int verbose;
int sabotage;
static uint64_t rng_state;
static int64_t t_start;

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void rnd_seed(uint64_t s)
{
	rng_state = s ? s : 0x9e3779b97f4a7c15ULL;
}

uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 2685821657736338717ULL;
}

/* Uniform in [0, n). */
uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)((rnd() >> 32) % n) : 0;
}

void sleep_ns(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
	while (ns > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

double elapsed_s(void)
{
	return (double)(now_ns() - t_start) / 1e9;
}

static void append_file(const char *name, const char *text, size_t n)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", workdir, name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
	if (fd >= 0) {
		ssize_t w = write(fd, text, n);
		(void)w;
		close(fd);
	}
}

void violation(int kind, const char *fmt, ...)
{
	char buf[1536];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof buf, "[%7.3fs] %s: VIOLATION: ", elapsed_s(), kind_name(kind));
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	__atomic_add_fetch(&S->k[kind].violations, 1, __ATOMIC_SEQ_CST);
	append_file("violations.log", buf, (size_t)n);
	if (__atomic_add_fetch(&S->printed, 1, __ATOMIC_SEQ_CST) <= 20) {
		ssize_t w = write(2, buf, (size_t)n);
		(void)w;
	}
}

void note(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof buf, "[%7.3fs] ", elapsed_s());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	append_file("notes.log", buf, (size_t)n);
	if (verbose) {
		ssize_t w = write(2, buf, (size_t)n);
		(void)w;
	}
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mptorture: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (S)
		S->stop = 1;
	exit(70);
}

/* ---- /proc ---- */

#define PF_EXITING_FLAG 0x4u

/* Reads state, flags and start time of pid.  0 or -1 (no such process). */
int proc_stat(pid_t pid, char *state, unsigned *flags, uint64_t *start)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof path, "%s/%d/stat", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	for (field = 3; *p && field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (field == 3)
			*state = *p;
		else if (field == 9)
			*flags = (unsigned)strtoul(p, NULL, 10);
		else if (field == 22) {
			*start = strtoull(p, NULL, 10);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

/* Has pid a SIGKILL pending (it is being killed)? */
static int sigkill_pending(pid_t pid)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%d/status", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "SigPnd:", 7) || !strncmp(p, "ShdPnd:", 7)) {
			unsigned long long m = strtoull(p + 7, NULL, 16);
			if (m & (1ULL << (SIGKILL - 1)))
				return 1;
		}
	}
	return 0;
}

/* Liveness of a process known by pid and the low bits of its start time:
 * LIVE, DYING (SIGKILL pending or exiting: it will not run user code
 * again), or DEAD (gone, zombie, or the pid is another process now). */
int proc_liveness(pid_t pid, uint64_t start_low, uint64_t start_mask)
{
	char state = 0;
	unsigned flags = 0;
	uint64_t start = 0;

	if (pid <= 0 || proc_stat(pid, &state, &flags, &start) < 0)
		return DEAD;
	if ((start & start_mask) != start_low || state == 'Z' || state == 'X')
		return DEAD;
	if (flags & PF_EXITING_FLAG)
		return DYING;
	if (sigkill_pending(pid))
		return DYING;
	return LIVE;
}

uint64_t self_start(void)
{
	char state;
	unsigned flags;
	uint64_t start = 0;

	proc_stat(self_pid(), &state, &flags, &start);
	return start;
}

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

/* ---- running tools ---- */

const char *tool_path(const char *tool)
{
	static char paths[8][PATH_MAX + 32];
	static const char *names[8];

	for (int i = 0; i < 8; i++) {
		if (names[i] && !strcmp(names[i], tool))
			return paths[i];
		if (!names[i]) {
			names[i] = tool;
			snprintf(paths[i], sizeof paths[i], "%s/%s", bindir, tool);
			return paths[i];
		}
	}
	die("too many tools");
}

const char *self_path(void)
{
	return self_exe;
}

static void child_setup(int outfd, int errfd)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (outfd >= 0 && outfd != 1) {
		dup2(outfd, 1);
		close(outfd);
	} else if (outfd < 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
	}
	if (errfd >= 0 && errfd != 2)
		dup2(errfd, 2);
}

/* Runs argv as a client's tool: the killer may SIGKILL it while it runs.
 * outfd (or -1: /dev/null) becomes its stdout.  Fills r. */
void run_tool(struct client *c, char *const argv[], int outfd, struct tres *r)
{
	struct slot *sl = &S->slots[c->slot];
	char *wrapped[64];
	char *const *run = ns_wrap(argv, wrapped, sizeof wrapped / sizeof *wrapped);
	siginfo_t si;
	pid_t pid;
	int st;

	memset(r, 0, sizeof *r);
	r->t0 = now_ns();
	pid = fork();
	if (pid == 0) {
		child_setup(outfd, c->errfd);
		execve(run[0], run, tool_env);
		_exit(127);
	}
	if (pid < 0) {
		r->status = -1;
		r->t1 = now_ns();
		return;
	}
	r->pid = pid;
	__atomic_store_n(&sl->tool, pid, __ATOMIC_SEQ_CST);
	if (c->meddle)
		c->meddle(c, pid);
	/* Wait without reaping: the pid stays ours (a zombie) until the
	 * killer cannot be about to kill it, so it is never recycled under
	 * the killer's hand. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	__atomic_store_n(&sl->tool, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&S->killing, __ATOMIC_SEQ_CST) == c->slot)
		sched_yield();
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->t1 = now_ns();
	if (WIFEXITED(st)) {
		r->status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		r->sig = WTERMSIG(st);
		r->status = 128 + r->sig;
		if (r->sig == SIGKILL) {
			r->killed = 1;
			if (__atomic_load_n(&sl->last_killed, __ATOMIC_SEQ_CST) == pid)
				r->by_harness = 1;
			else
				__atomic_add_fetch(&S->k[c->kind].faults, 1, __ATOMIC_SEQ_CST);
		}
	}
	__atomic_add_fetch(&S->k[c->kind].ops, 1, __ATOMIC_SEQ_CST);
}

/* Runs a check command from the driver (no faults, nobody kills it) and
 * returns its exit status (128+N for signal N, -1 if it could not run);
 * its stdout goes to out[0..cap) when out is given. */
int run_check(char *const argv[], char *out, size_t cap)
{
	int pfd[2] = { -1, -1 }, st;
	size_t len = 0;
	pid_t pid;

	if (out && pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int efd = open("checks.stderr", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
		users_become(0);
		child_setup(out ? pfd[1] : -1, efd);
		execve(argv[0], argv, check_env);
		_exit(127);
	}
	if (out) {
		close(pfd[1]);
		while (pid > 0) {
			ssize_t n = read(pfd[0], out + len, len + 1 < cap ? cap - len - 1 : 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(pfd[0]);
		out[len] = 0;
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	__atomic_add_fetch(&S->checks_run, 1, __ATOMIC_SEQ_CST);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* run_check with stdout to outfd. */
int run_check_fd(char *const argv[], int outfd)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int efd = open("checks.stderr", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
		users_become(0);
		child_setup(dup(outfd), efd);
		execve(argv[0], argv, check_env);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	__atomic_add_fetch(&S->checks_run, 1, __ATOMIC_SEQ_CST);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* "mplock run L -- x" as one string, for messages. */
char *argv_str(char *const argv[], char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = 0;
	for (int i = 0; argv[i] && len + 2 < cap; i++) {
		const char *a = argv[i];
		if (i == 0 && strrchr(a, '/'))
			a = strrchr(a, '/') + 1;
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", a);
	}
	return buf;
}

/* Expected outcome of a tool call?  A SIGKILL (ours or a fault point's)
 * always is; otherwise status must be one of the allowed ones (a list
 * ending with -1).  Reports a violation and returns 0 when not. */
int expect(struct client *c, const struct tres *r, char *const argv[], const int *allowed)
{
	char buf[512];

	if (r->killed)
		return 1;
	for (int i = 0; allowed[i] >= 0; i++)
		if (r->status == allowed[i])
			return 1;
	violation(c->kind, "'%s' exited %d (see %s.stderr)", argv_str(argv, buf, sizeof buf),
		  r->status, kind_name(c->kind));
	return 0;
}

/* ---- clients and the killer ---- */

extern const struct kind kind_lock, kind_rwlock, kind_sem, kind_spawn, kind_queue, kind_event,
	kind_var;

void kinds_register(const struct kind **t)
{
	t[K_LOCK] = &kind_lock;
	t[K_RWLOCK] = &kind_rwlock;
	t[K_SEM] = &kind_sem;
	t[K_SPAWN] = &kind_spawn;
	t[K_QUEUE] = &kind_queue;
	t[K_EVENT] = &kind_event;
	t[K_VAR] = &kind_var;
}

static const struct kind *kinds[NKINDS];
static int enabled[NKINDS];
int nclients[NKINDS];

const char *kind_name(int k)
{
	return kinds[k] ? kinds[k]->name : "?";
}

/* Process groups of each kind's clients that may still have members.
 * A group that has lost its last member is dropped from the list within
 * PRUNE_NS (prune_all()): its number is free then, and once the kernel's
 * pid counter comes round to it again it may name a stranger's group (at
 * pid_max 32768 and a few thousand forks a second, in seconds), which
 * kill_kind() would SIGKILL: other test suites, CI itself. */
#define PRUNE_NS 20000000LL
#define MAXGROUPS 4096
static pid_t groups[NKINDS][MAXGROUPS];
static int ngroups[NKINDS];

static void prune_groups(int kind);
static void prune_all(void);

static void client_main(int slot, int kind, int rank)
{
	struct client c = { .slot = slot, .kind = kind, .rank = rank, .errfd = -1 };
	char path[PATH_MAX];
	int nops = 20 + (int)rnd_below(200);

	rnd_seed(rnd() ^ (uint64_t)getpid() << 20 ^ (uint64_t)now_ns());
	users_become(rank);
	snprintf(path, sizeof path, "%s/%s.stderr", workdir, kinds[kind]->name);
	c.errfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
	c.id = __atomic_add_fetch(&S->next_tag, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < nops && !__atomic_load_n(&S->stop, __ATOMIC_SEQ_CST) &&
			!__atomic_load_n(&S->paused[kind], __ATOMIC_SEQ_CST); i++)
		kinds[kind]->op(&c);
	exit(0);
}

static void spawn_client(int slot, int kind, int rank)
{
	pid_t pid;

	S->slots[slot].kind = kind;
	S->slots[slot].tool = 0;
	S->slots[slot].last_killed = 0;
	S->slots[slot].spare_until = 0;
	rnd();
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		setpgid(0, 0);
		client_main(slot, kind, rank);
	}
	setpgid(pid, pid);
	__atomic_store_n(&S->slots[slot].client, pid, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&S->k[kind].clients, 1, __ATOMIC_SEQ_CST);
	if (ngroups[kind] == MAXGROUPS)
		prune_groups(kind);
	if (ngroups[kind] < MAXGROUPS)
		groups[kind][ngroups[kind]++] = pid;
}

/* Reaps every child that has ended (clients, and orphans we adopted as a
 * subreaper); frees the slots of clients. */
static void reap(void)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int i = 0; i < MAXSLOTS; i++) {
			if (S->slots[i].client == p) {
				if (WIFEXITED(st) && WEXITSTATUS(st) == 70)
					die("a %s client failed (see above)", kind_name(S->slots[i].kind));
				__atomic_store_n(&S->slots[i].client, 0, __ATOMIC_SEQ_CST);
			}
		}
	}
}

static void prune_groups(int kind)
{
	int j = 0;

	for (int i = 0; i < ngroups[kind]; i++)
		if (kill(-groups[kind][i], 0) == 0 || errno != ESRCH)
			groups[kind][j++] = groups[kind][i];
	ngroups[kind] = j;
}

static void prune_all(void)
{
	static int64_t last;
	int64_t now = now_ns();

	if (now - last < PRUNE_NS)
		return;
	last = now;
	for (int k = 0; k < NKINDS; k++)
		prune_groups(k);
}

static pid_t stop_pid[MAXSLOTS];	/* --stop-every: stopped now */

/* A random slot whose client the killer (or the stopper: not one stopped
 * already) may touch now, or -1. */
static int pick_slot(int for_stop)
{
	int cand[MAXSLOTS], n = 0;
	int64_t now = now_ns();

	for (int i = 0; i < MAXSLOTS; i++)
		if (S->slots[i].client > 0 && !S->paused[S->slots[i].kind] &&
		    !(for_stop && stop_pid[i]) &&
		    __atomic_load_n(&S->slots[i].spare_until, __ATOMIC_SEQ_CST) <= now)
			cand[n++] = i;
	return n ? cand[rnd_below((uint32_t)n)] : -1;
}

static void kill_one(void)
{
	int i = pick_slot(0), k;
	pid_t target;

	if (i < 0)
		return;
	k = S->slots[i].kind;
	if (rnd_below(100) < 80) {
		/* the tool the client runs: announce, then look, then kill */
		__atomic_store_n(&S->killing, i, __ATOMIC_SEQ_CST);
		target = __atomic_load_n(&S->slots[i].tool, __ATOMIC_SEQ_CST);
		if (target > 0) {
			__atomic_store_n(&S->slots[i].last_killed, target, __ATOMIC_SEQ_CST);
			kill(target, SIGKILL);
			__atomic_add_fetch(&S->k[k].kills, 1, __ATOMIC_SEQ_CST);
		}
		__atomic_store_n(&S->killing, -1, __ATOMIC_SEQ_CST);
	} else {
		/* the client itself: our child, reaped only by us */
		target = S->slots[i].client;
		kill(target, SIGKILL);
		__atomic_add_fetch(&S->k[k].kills, 1, __ATOMIC_SEQ_CST);
	}
}

/* --stop-every: until when each stopped tool stays stopped, and a pidfd
 * of it (SIGCONT goes to that process, never to one that took its pid). */
static int64_t stop_until[MAXSLOTS];
static int stop_fd[MAXSLOTS];

/* SIGSTOPs the tool of a random client, for up to 300 ms. */
static void stop_one(void)
{
	int i = pick_slot(1), k, fd = -1;
	int64_t now = now_ns();
	pid_t target;

	if (i < 0)
		return;
	k = S->slots[i].kind;
	/* announced as the killer does: the client reaps it only after */
	__atomic_store_n(&S->killing, i, __ATOMIC_SEQ_CST);
	target = __atomic_load_n(&S->slots[i].tool, __ATOMIC_SEQ_CST);
	if (target > 0)
		fd = (int)syscall(SYS_pidfd_open, target, 0);
	if (fd >= 0 && syscall(SYS_pidfd_send_signal, fd, SIGSTOP, NULL, 0) < 0) {
		close(fd);
		fd = -1;
	}
	__atomic_store_n(&S->killing, -1, __ATOMIC_SEQ_CST);
	if (fd < 0)
		return;
	stop_pid[i] = target;
	stop_fd[i] = fd;
	stop_until[i] = now + (int64_t)rnd_below(300) * 1000000LL;
	__atomic_add_fetch(&S->k[k].stops, 1, __ATOMIC_SEQ_CST);
}

/* SIGCONTs the stopped tools whose time is up (all: every one). */
static void resume_stopped(int all)
{
	int64_t now = now_ns();

	for (int i = 0; i < MAXSLOTS; i++)
		if (stop_pid[i] && (all || now >= stop_until[i])) {
			syscall(SYS_pidfd_send_signal, stop_fd[i], SIGCONT, NULL, 0);
			close(stop_fd[i]);
			stop_pid[i] = 0;
		}
}

/* Spares the slot whose client runs the tool `tool` from the killer until
 * `until`, so that a checker can watch that process for a while (at high
 * kill rates a watched process would otherwise rarely live long enough to
 * show a fault).  Returns 0, or -1 if no client runs that tool now. */
int spare_tool(pid_t tool, int64_t until)
{
	for (int i = 0; i < MAXSLOTS; i++)
		if (__atomic_load_n(&S->slots[i].tool, __ATOMIC_SEQ_CST) == tool) {
			spare_slot(i, until);
			return 0;
		}
	return -1;
}

void spare_slot(int slot, int64_t until)
{
	__atomic_store_n(&S->slots[slot].spare_until, until, __ATOMIC_SEQ_CST);
}

/* SIGKILLs every process of a kind's clients and waits until they are
 * gone.  Returns 0, or -1 if some survive 10 s. */
static int kill_kind(int kind)
{
	int64_t deadline = now_ns() + 10000000000LL;

	__atomic_store_n(&S->paused[kind], 1, __ATOMIC_SEQ_CST);
	for (;;) {
		/* only groups that still have a member: see PRUNE_NS */
		reap();
		prune_groups(kind);
		if (!ngroups[kind])
			break;
		for (int i = 0; i < ngroups[kind]; i++)
			kill(-groups[kind][i], SIGKILL);
		if (now_ns() > deadline) {
			violation(kind, "%d process groups survive SIGKILL for 10 s", ngroups[kind]);
			return -1;
		}
		sleep_ns(2000000);
	}
	for (int i = 0; i < MAXSLOTS; i++)
		if (S->slots[i].client && S->slots[i].kind == kind)
			die("slot %d still has a client", i);
	return 0;
}

static void quiesce(int kind, int final)
{
	resume_stopped(1);	/* no SIGCONT later to a pid reused meanwhile */
	note("%s: killing every client for a check%s", kind_name(kind), final ? " (final)" : "");
	if (kill_kind(kind) == 0 && kinds[kind]->check)
		kinds[kind]->check(final);
	__atomic_add_fetch(&S->k[kind].checks, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&S->paused[kind], 0, __ATOMIC_SEQ_CST);
}

/* ---- main ---- */

static volatile sig_atomic_t interrupted;

static void on_int(int sig)
{
	interrupted = sig;
}

static char **make_env(const char *fault)
{
	extern char **environ;
	size_t n = 0, j = 0;
	char **env, buf[PATH_MAX + 64];

	while (environ[n])
		n++;
	env = calloc(n + 8, sizeof *env);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "MP_DIR=", 7) && strncmp(environ[i], "MP_FAULT", 8))
			env[j++] = environ[i];
	snprintf(buf, sizeof buf, "MP_DIR=%s/store", workdir);
	env[j++] = strdup(buf);
	if (fault) {
		snprintf(buf, sizeof buf, "MP_FAULT=%s", fault);
		env[j++] = strdup(buf);
		snprintf(buf, sizeof buf, "MP_FAULT_LOG=%s/faults.log", workdir);
		env[j++] = strdup(buf);
	}
	env[j] = NULL;
	return env;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: mptorture [-t SECONDS] [-k KIND,...] [-j CLIENTS] [--bin DIR] [--dir DIR]\n"
		"                 [--fault SPEC|none] [--kill-every MS] [--stop-every MS]\n"
		"                 [--seed N] [--sabotage] [--keep] [--ns]\n"
		"                 [--users UID1,UID2:GID [--hidepid]] [-v]\n"
		"kinds: lock rwlock sem queue event spawn (default: all)\n"
		"exit: 0 no violation, 1 violations, 2 usage, 70 the harness failed\n");
	exit(status);
}

/* Tallies faults.log by point: "point count, ...". */
static void fault_summary(char *out, size_t cap)
{
	char path[PATH_MAX], line[256], names[64][64];
	uint64_t counts[64] = { 0 };
	int n = 0;
	size_t len = 0;
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof path, "%s/faults.log", workdir);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *sp = strchr(line, ' ');
		int i;
		if (!sp)
			continue;
		*sp = 0;
		for (i = 0; i < n && strcmp(names[i], line); i++)
			;
		if (i == n && n < 64)
			snprintf(names[n++], sizeof names[0], "%.60s", line);
		if (i < 64)
			counts[i]++;
	}
	fclose(f);
	for (int i = 0; i < n && len + 80 < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s %" PRIu64, i ? ", " : "",
					names[i], counts[i]);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "time", required_argument, 0, 't' }, { "kinds", required_argument, 0, 'k' },
		{ "clients", required_argument, 0, 'j' }, { "bin", required_argument, 0, 'B' },
		{ "dir", required_argument, 0, 'D' }, { "fault", required_argument, 0, 'F' },
		{ "kill-every", required_argument, 0, 'K' }, { "seed", required_argument, 0, 'S' },
		{ "sabotage", no_argument, 0, 'X' }, { "keep", no_argument, 0, 'P' },
		{ "verbose", no_argument, 0, 'v' }, { "help", no_argument, 0, 'h' },
		{ "stop-every", required_argument, 0, 'T' }, { "ns", no_argument, 0, 'N' },
		{ "users", required_argument, 0, 'U' }, { "hidepid", no_argument, 0, 'H' },
		{ 0 }
	};
	double seconds = 10, kill_every_ms = 10, stop_every_ms = 0;
	const char *kindlist = NULL, *fault = NULL, *dir = NULL;
	char tmpl[PATH_MAX], path[PATH_MAX + 64];
	const char *why;
	int clients = 0, keep = 0, opt, fd, want_ns = 0;
	uint64_t seed = 0;
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "cs"))
		return cs_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "worker"))
		return worker_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "qwork"))
		return qwork_main(argc - 1, argv + 1);

	while ((opt = getopt_long(argc, argv, "t:k:j:vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 't': seconds = atof(optarg); break;
		case 'k': kindlist = optarg; break;
		case 'j': clients = atoi(optarg); break;
		case 'B': snprintf(bindir, sizeof bindir, "%s", optarg); break;
		case 'D': dir = optarg; break;
		case 'F': fault = optarg; break;
		case 'K': kill_every_ms = atof(optarg); break;
		case 'T': stop_every_ms = atof(optarg); break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'X': sabotage = 1; break;
		case 'P': keep = 1; break;
		case 'N': want_ns = 1; break;
		case 'U':
			if (users_parse(optarg) < 0)
				usage(2);
			break;
		case 'H': hidepid_mode = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || seconds <= 0 || clients < 0 || kill_every_ms <= 0 ||
	    stop_every_ms < 0 || (hidepid_mode && !users_mode) || (want_ns && users_mode))
		usage(2);

	n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	self_exe[n] = 0;
	if (!bindir[0]) {
		const char *top = getenv("MP_TOP_BUILDDIR");
		if (top)
			snprintf(bindir, sizeof bindir, "%s/src", top);
		else {
			/* BUILD/tests/torture/mptorture -> BUILD/src */
			snprintf(bindir, sizeof bindir, "%s", self_exe);
			for (int i = 0; i < 3; i++)
				*strrchr(bindir, '/') = 0;
			strcat(bindir, "/src");
		}
	}

	kinds_register(kinds);
	for (int k = 0; k < NKINDS; k++)
		enabled[k] = kindlist == NULL && kinds[k];
	if (kindlist) {
		char buf[256], *save = NULL;
		snprintf(buf, sizeof buf, "%s", kindlist);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			int k;
			for (k = 0; k < NKINDS && (!kinds[k] || strcmp(kinds[k]->name, t)); k++)
				;
			if (k == NKINDS) {
				fprintf(stderr, "mptorture: unknown kind '%s'\n", t);
				usage(2);
			}
			enabled[k] = 1;
		}
	}
	for (int k = 0; k < NKINDS; k++) {
		if (!enabled[k])
			continue;
		for (int i = 0; kinds[k]->tools[i]; i++)
			if (access(tool_path(kinds[k]->tools[i]), X_OK) < 0)
				die("%s: %s (use --bin DIR)", tool_path(kinds[k]->tools[i]),
				    strerror(errno));
	}

#ifdef MP_FAULT_INJECTION
	if (!fault)
		fault = "*:0.002";
#endif
	if (fault && !strcmp(fault, "none"))
		fault = NULL;

	if (dir) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			die("mkdir %s: %s", dir, strerror(errno));
		workdir = realpath(dir, NULL);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(tmpl, sizeof tmpl, "%s/mptorture.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		workdir = mkdtemp(tmpl) ? strdup(tmpl) : NULL;
	}
	if (!workdir)
		die("cannot make the work directory: %s", strerror(errno));
	if (chdir(workdir) < 0)
		die("chdir %s: %s", workdir, strerror(errno));
	snprintf(path, sizeof path, "%s/store", workdir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
	if (want_ns && (fd = ns_setup(workdir)) < 0)
		die("--ns: %s (root, and unshare(1), are needed)", strerror(-fd));
	if ((why = users_setup(workdir)))
		die("%s", why);

	/* The shared state: a file, so the tools' children (critical
	 * sections, workers) can map it too. */
	snprintf(path, sizeof path, "%s/shm", workdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0 || ftruncate(fd, sizeof(struct shm)) < 0)
		die("%s: %s", path, strerror(errno));
	S = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (S == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	close(fd);
	S->magic = SHM_MAGIC;
	S->killing = -1;
	S->sabotage = sabotage;
	snprintf(S->workdir, sizeof S->workdir, "%s", workdir);
	setenv("MPT_SHM", path, 1);
	if ((why = users_check(workdir)))
		die("%s", why);

	tool_env = make_env(fault);
	check_env = make_env(NULL);

	if (!seed)
		seed = (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
	rnd_seed(seed);
	S->t_start = t_start = now_ns();

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	signal(SIGPIPE, SIG_IGN);

	int nk = 0;
	for (int k = 0; k < NKINDS; k++)
		if (enabled[k])
			nk++;
	printf("mptorture: %g s%s, kinds:", seconds, users_describe());
	for (int k = 0; k < NKINDS; k++)
		if (enabled[k])
			printf(" %s", kinds[k]->name);
	printf("; seed %" PRIu64 "; %s%s; faults %s\n", seed, sabotage ? "SABOTAGED" : "kill -9",
	       ns_mode ? " (run in pid namespaces)" : "",
	       fault ? fault : "off");
	printf("mptorture: work directory %s\n", workdir);
	fflush(stdout);

	int total_slots = 0;
	for (int k = 0; k < NKINDS; k++) {
		if (!enabled[k])
			continue;
		if (kinds[k]->setup)
			kinds[k]->setup();
		nclients[k] = clients ? clients : kinds[k]->clients;
		if (total_slots + nclients[k] > MAXSLOTS)
			nclients[k] = MAXSLOTS - total_slots;
		total_slots += nclients[k];
	}

	int64_t t_end = t_start + (int64_t)(seconds * 1e9);
	int64_t next_kill = now_ns(), next_check[NKINDS];
	int64_t kill_mean = (int64_t)(kill_every_ms * 1e6);
	int64_t stop_mean = (int64_t)(stop_every_ms * 1e6), next_stop = now_ns();
	/* One check halfway through even in a short run; then every 3-8 s. */
	for (int k = 0; k < NKINDS; k++)
		next_check[k] = t_start + (int64_t)(seconds * 1e9 / 2) +
				(int64_t)rnd_below(500) * 1000000LL;

	while (!interrupted && now_ns() < t_end) {
		int64_t now;

		reap();
		prune_all();
		for (int k = 0, base = 0; k < NKINDS; k++) {
			if (!enabled[k])
				continue;
			for (int i = base; i < base + nclients[k]; i++)
				if (!S->slots[i].client)
					spawn_client(i, k, i - base);
			base += nclients[k];
		}
		now = now_ns();
		if (now >= next_kill) {
			kill_one();
			/* exponential gaps: kills at random moments */
			double u = (double)(rnd() >> 11) / 9007199254740992.0;
			next_kill = now + (int64_t)(-(double)kill_mean * log1p(-u * 0.999));
		}
		if (stop_mean) {
			resume_stopped(0);
			if (now >= next_stop) {
				double u = (double)(rnd() >> 11) / 9007199254740992.0;
				stop_one();
				next_stop = now + (int64_t)(-(double)stop_mean * log1p(-u * 0.999));
			}
		}
		for (int k = 0; k < NKINDS; k++) {
			if (!enabled[k] || now < next_check[k])
				continue;
			quiesce(k, 0);
			next_check[k] = now_ns() + 3000000000LL + (int64_t)rnd_below(5000) * 1000000LL;
		}
		now = now_ns();
		sleep_ns(next_kill > now && next_kill - now < 1000000 ? next_kill - now : 1000000);
		if (now_ns() > t_end)
			break;
	}
	__atomic_store_n(&S->stop, 1, __ATOMIC_SEQ_CST);
	resume_stopped(1);
	for (int k = 0; k < NKINDS; k++)
		if (enabled[k])
			quiesce(k, 1);
	reap();

	/* the report */
	struct counters tot = { 0 };
	char faults[2048];
	printf("%-8s %8s %9s %8s %7s %7s %10s\n", "kind", "clients", "ops", "kills", "faults",
	       "checks", "violations");
	for (int k = 0; k < NKINDS; k++) {
		struct counters *c = &S->k[k];
		if (!enabled[k])
			continue;
		printf("%-8s %8" PRIu64 " %9" PRIu64 " %8" PRIu64 " %7" PRIu64 " %7" PRIu64
		       " %10" PRIu64 "\n", kinds[k]->name, c->clients, c->ops, c->kills, c->faults,
		       c->checks, c->violations);
		tot.clients += c->clients;
		tot.ops += c->ops;
		tot.kills += c->kills;
		tot.faults += c->faults;
		tot.checks += c->checks;
		tot.violations += c->violations;
		tot.stops += c->stops;
	}
	for (int k = 0; k < NKINDS; k++)
		if (enabled[k] && kinds[k]->report)
			kinds[k]->report();
	fault_summary(faults, sizeof faults);
	if (faults[0])
		printf("fault points hit: %s\n", faults);
	if (stop_mean)
		printf("mptorture: stops (SIGSTOP, then SIGCONT) %" PRIu64 "\n", tot.stops);
	printf("mptorture: %.1f s: clients run %" PRIu64 ", kills %" PRIu64 " (+ %" PRIu64
	       " by fault points), operations %" PRIu64 ", checks %" PRIu64 ", violations %" PRIu64
	       "\n", elapsed_s(), tot.clients, tot.kills, tot.faults, tot.ops,
	       tot.checks + S->checks_run, tot.violations);
	if (tot.violations)
		printf("mptorture: the violations are in %s/violations.log\n", workdir);
	if (interrupted)
		printf("mptorture: interrupted\n");
	fflush(stdout);
	ns_cleanup(workdir);	/* never rm -rf through a bind mount of /proc */
	users_cleanup(workdir);
	if (!tot.violations && !keep && !dir) {
		char cmd[PATH_MAX + 48];
		snprintf(cmd, sizeof cmd, "rm -rf --one-file-system '%s'", workdir);
		if (system(cmd) != 0)
			fprintf(stderr, "mptorture: could not remove %s\n", workdir);
	}
	return tot.violations ? 1 : interrupted ? 130 : 0;
}

/* ---- the internal modes ---- */

/* Maps the shared state of the run (for the processes the tools start). */
static void map_shm(void)
{
	const char *path = getenv("MPT_SHM");
	int fd;

	if (!path)
		die("MPT_SHM is not set (an internal mode of mptorture)");
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	S = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (S == MAP_FAILED || S->magic != SHM_MAGIC)
		die("%s: not the shared state of a run", path);
	workdir = S->workdir;
	sabotage = S->sabotage;
	t_start = S->t_start;
	kinds_register(kinds);
	rnd_seed((uint64_t)now_ns() ^ (uint64_t)getpid() << 32);
}

/* mptorture cs KIND WITNESS WEIGHT SLOTENV HOLD_US DIE_PERMILLE */
int cs_main(int argc, char **argv)
{
	const char *slotenv;
	unsigned tag = 0;

	if (argc != 7)
		die("cs: 6 arguments expected");
	map_shm();
	slotenv = strcmp(argv[4], "-") ? getenv(argv[4]) : NULL;
	if (slotenv)
		tag = (unsigned)atoi(slotenv) + 1;
	critical_section(atoi(argv[1]), atoi(argv[2]), (unsigned)atoi(argv[3]), tag,
			 atoll(argv[5]) * 1000LL, (unsigned)atoi(argv[6]));
	return 0;
}

/* mptorture worker TAG HOLD_MS DIE_PERMILLE FAIL_PERMILLE */
int worker_main(int argc, char **argv)
{
	uint64_t tag;
	int64_t hold;
	unsigned die_pm, fail_pm;

	if (argc != 5)
		die("worker: 4 arguments expected");
	map_shm();
	tag = strtoull(argv[1], NULL, 10);
	hold = atoll(argv[2]) * 1000000LL;
	die_pm = (unsigned)atoi(argv[3]);
	fail_pm = (unsigned)atoi(argv[4]);
	reg_add(tag, getpid(), self_start());
	if (rnd_below(1000) < die_pm) {
		sleep_ns(hold ? (int64_t)(rnd() % (uint64_t)hold) : 0);
		kill(getpid(), SIGKILL);
	}
	sleep_ns(hold);
	return rnd_below(1000) < fail_pm ? 1 : 0;
}
