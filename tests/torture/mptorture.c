/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mptorture - a kill -9 torture harness for the mptools.
 *
 *   mptorture [-t SECONDS] [-k KIND,...] [-j CLIENTS] [--bin DIR] [--dir DIR]
 *             [--fault SPEC|none] [--kill-every MS] [--stop-every MS] [--seed N]
 *             [--sabotage] [--ns] [--users UID1,UID2:GID [--hidepid]]
 *             [--min-ops N] [--min-kills N] [-v]
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
 *                 looks again every second even if it missed a wake),
 *                 unless its -t may have run out before the set; the
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
 * --min-ops N and --min-kills N go on past -t until every kind has done
 * N operations and had N of its processes killed, for at most ten times
 * -t (or a minute): the short runs of the test suite do the same work on
 * a slow or loaded machine as on a fast one.
 *
 * --sabotage breaks every kind on purpose (no lock around the section, a
 * message "put" without putting it, a "set" that sets nothing, a worker
 * that escapes its group, ...): the run must then report violations,
 * which shows that the checkers can see them.
 *
 * The files: this one is the driver (clients, the killer and stopper,
 * the checks' rhythm, main); util.c the clock, random numbers, reports and
 * liveness from /proc; witness.c the witness tables, the registry of
 * workers and the ends of calls; run.c how tools are run; each kind's
 * clients and checks in gates.c, events.c, queues.c + queue-check.c and
 * vars.c; ns.c and users.c the --ns and --users modes.
 *
 * Internal modes (how the tools run the harness's own code):
 *   mptorture cs KIND WITNESS WEIGHT SLOTENV HOLD_US DIE_PERMILLE   a critical section
 *   mptorture worker TAG HOLD_MS DIE_PERMILLE FAIL_PERMILLE    an mpspawn worker
 *   mptorture qwork FILE MESSAGE                   the command of an mpspawn --queue pool
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torture.h"

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

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: mptorture [-t SECONDS] [-k KIND,...] [-j CLIENTS] [--bin DIR] [--dir DIR]\n"
		"                 [--fault SPEC|none] [--kill-every MS] [--stop-every MS]\n"
		"                 [--seed N] [--sabotage] [--keep] [--ns]\n"
		"                 [--users UID1,UID2:GID [--hidepid]] [--min-ops N] [--min-kills N] [-v]\n"
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

/* What the command line asks for. */
struct opts {
	double seconds, kill_every_ms, stop_every_ms;
	const char *kindlist, *fault, *dir, *bin;
	int clients, keep, want_ns;
	uint64_t seed, min_ops, min_kills;
};

static void parse_args(int argc, char **argv, struct opts *o)
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
		{ "min-ops", required_argument, 0, 'O' }, { "min-kills", required_argument, 0, 'M' },
		{ 0 }
	};
	int opt;

	*o = (struct opts){ .seconds = 10, .kill_every_ms = 10 };
	while ((opt = getopt_long(argc, argv, "t:k:j:vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 't': o->seconds = atof(optarg); break;
		case 'k': o->kindlist = optarg; break;
		case 'j': o->clients = atoi(optarg); break;
		case 'B': o->bin = optarg; break;
		case 'D': o->dir = optarg; break;
		case 'F': o->fault = optarg; break;
		case 'K': o->kill_every_ms = atof(optarg); break;
		case 'T': o->stop_every_ms = atof(optarg); break;
		case 'S': o->seed = strtoull(optarg, NULL, 0); break;
		case 'X': sabotage = 1; break;
		case 'P': o->keep = 1; break;
		case 'N': o->want_ns = 1; break;
		case 'U':
			if (users_parse(optarg) < 0)
				usage(2);
			break;
		case 'H': hidepid_mode = 1; break;
		case 'O': o->min_ops = strtoull(optarg, NULL, 10); break;
		case 'M': o->min_kills = strtoull(optarg, NULL, 10); break;
		case 'v': verbose = 1; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || o->seconds <= 0 || o->clients < 0 || o->kill_every_ms <= 0 ||
	    o->stop_every_ms < 0 || (hidepid_mode && !users_mode) || (o->want_ns && users_mode))
		usage(2);
#ifdef MP_FAULT_INJECTION
	if (!o->fault)
		o->fault = "*:0.002";
#endif
	if (o->fault && !strcmp(o->fault, "none"))
		o->fault = NULL;
}

/* Enables the kinds of kindlist (NULL: all), each with the tools it needs. */
static void choose_kinds(const char *kindlist)
{
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
}

/* The work directory (--dir, or a new one in $TMPDIR), its store, the
 * namespaces and users asked for, and the run's shared state: a file,
 * so the tools' children (critical sections, workers) can map it too. */
static void open_run(const struct opts *o)
{
	char tmpl[PATH_MAX], path[PATH_MAX + 64];
	const char *why;
	int fd;

	if (o->dir) {
		if (mkdir(o->dir, 0700) < 0 && errno != EEXIST)
			die("mkdir %s: %s", o->dir, strerror(errno));
		workdir = realpath(o->dir, NULL);
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
	if (o->want_ns && (fd = ns_setup(workdir)) < 0)
		die("--ns: %s (root, and unshare(1), are needed)", strerror(-fd));
	if ((why = users_setup(workdir)))
		die("%s", why);

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
	run_envs(o->fault);
}

/* The header: what runs, with which seed, where. */
static void print_header(const struct opts *o, uint64_t seed)
{
	printf("mptorture: %g s%s, kinds:", o->seconds, users_describe());
	for (int k = 0; k < NKINDS; k++)
		if (enabled[k])
			printf(" %s", kinds[k]->name);
	printf("; seed %" PRIu64 "; %s%s; faults %s\n", seed, sabotage ? "SABOTAGED" : "kill -9",
	       ns_mode ? " (run in pid namespaces)" : "", o->fault ? o->fault : "off");
	printf("mptorture: work directory %s\n", workdir);
	fflush(stdout);
}

/* Each enabled kind's set-up and its number of clients (-j, or the
 * kind's own), all of them within MAXSLOTS. */
static void set_up_kinds(int clients)
{
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
}

/* A random gap with mean `mean` ns (exponential: events at random moments). */
static int64_t random_gap(int64_t mean)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	return (int64_t)(-(double)mean * log1p(-u * 0.999));
}

/* Whether a kind has yet to do the work --min-ops and --min-kills ask
 * for (on a slow or loaded machine the time alone may not be enough). */
static int short_of_work(const struct opts *o)
{
	for (int k = 0; k < NKINDS; k++)
		if (enabled[k] && (S->k[k].ops < o->min_ops || S->k[k].kills < o->min_kills))
			return 1;
	return 0;
}

/* The run: keeps every client slot busy, kills (and stops) at random
 * moments and checks each kind every few seconds until the time is up
 * and every kind has done the work asked for (but never more than ten
 * times the time, or a minute), or a signal comes; then checks every kind
 * a last time. */
static void drive(const struct opts *o)
{
	int64_t t_end = t_start + (int64_t)(o->seconds * 1e9);
	int64_t t_cap = t_start + (int64_t)(fmax(o->seconds * 10, 60) * 1e9);
	int64_t next_kill = now_ns(), next_check[NKINDS];
	int64_t kill_mean = (int64_t)(o->kill_every_ms * 1e6);
	int64_t stop_mean = (int64_t)(o->stop_every_ms * 1e6), next_stop = now_ns();

	/* One check halfway through even in a short run; then every 3-8 s. */
	for (int k = 0; k < NKINDS; k++)
		next_check[k] = t_start + (int64_t)(o->seconds * 1e9 / 2) +
				(int64_t)rnd_below(500) * 1000000LL;
	while (!interrupted && (now_ns() < t_end || (short_of_work(o) && now_ns() < t_cap))) {
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
			next_kill = now + random_gap(kill_mean);
		}
		if (stop_mean) {
			resume_stopped(0);
			if (now >= next_stop) {
				stop_one();
				next_stop = now + random_gap(stop_mean);
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
	}
	__atomic_store_n(&S->stop, 1, __ATOMIC_SEQ_CST);
	resume_stopped(1);
	for (int k = 0; k < NKINDS; k++)
		if (enabled[k])
			quiesce(k, 1);
	reap();
	if (!interrupted && short_of_work(o))
		printf("mptorture: some kinds did fewer than %" PRIu64 " operations or %" PRIu64
		       " kills in %.0f s\n", o->min_ops, o->min_kills, (double)(t_cap - t_start) / 1e9);
	else if (now_ns() > t_end + 1000000000LL)
		printf("mptorture: ran %.1f s to do %" PRIu64 " operations and %" PRIu64
		       " kills of each kind\n", elapsed_s(), o->min_ops, o->min_kills);
}

/* The report: a row per kind, the kinds' own counts, the fault points
 * hit, the totals.  Returns the number of violations. */
static uint64_t report(int stops)
{
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
	if (stops)
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
	return tot.violations;
}

int main(int argc, char **argv)
{
	struct opts o;
	uint64_t seed, violations;

	if (argc > 1 && !strcmp(argv[1], "cs"))
		return cs_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "worker"))
		return worker_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "qwork"))
		return qwork_main(argc - 1, argv + 1);

	parse_args(argc, argv, &o);
	run_paths(o.bin);
	choose_kinds(o.kindlist);
	open_run(&o);
	seed = o.seed ? o.seed : (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
	rnd_seed(seed);
	S->t_start = t_start = now_ns();

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	signal(SIGPIPE, SIG_IGN);

	print_header(&o, seed);
	set_up_kinds(o.clients);
	drive(&o);
	violations = report(o.stop_every_ms > 0);

	ns_cleanup(workdir);	/* never rm -rf through a bind mount of /proc */
	users_cleanup(workdir);
	if (!violations && !o.keep && !o.dir) {
		char cmd[PATH_MAX + 48];
		snprintf(cmd, sizeof cmd, "rm -rf --one-file-system '%s'", workdir);
		if (system(cmd) != 0)
			fprintf(stderr, "mptorture: could not remove %s\n", workdir);
	}
	return violations ? 1 : interrupted ? 130 : 0;
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
