/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gates.c - mptorture's lock, rwlock, sem and spawn clients and checks. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "torture.h"

#define W_LOCK		0	/* witness tables */
#define W_RWLOCK	1
#define W_SEM		2
#define SEM_SLOTS	3
#define LOCK_UNITS	64	/* MP_LOCK_MAX_SHARED: an exclusive hold weighs all */
#define TIMEOUT		"5"	/* every wait of a client: orphans end by themselves */

static char *sfmt(char *buf, size_t cap, long v)
{
	snprintf(buf, cap, "%ld", v);
	return buf;
}

/* Ends a client whose release could not be confirmed: its death frees what
 * it may still hold (it is the owner). */
static void give_up(void)
{
	exit(0);
}

/* Releases with argv; a killed release is retried once, and then either
 * status is fine (the killed one may have released).  When held (the
 * acquire exited 0), a release refused on the first try means our hold was
 * taken from a live owner; else (the acquire was killed: it may or may not
 * have taken it) 1 is fine. */
static void release(struct client *c, char *const argv[], int held)
{
	static const int ok[] = { 0, -1 }, ok2[] = { 0, 1, -1 };
	struct tres r;

	run_tool(c, argv, -1, &r);
	if (!r.killed) {
		if (r.status == 1 && held)
			violation(c->kind, "a live owner's hold was gone at release (pid %d)",
				  (int)getpid());
		else
			expect(c, &r, argv, held ? ok : ok2);
		return;
	}
	run_tool(c, argv, -1, &r);
	if (r.killed)
		give_up();
	expect(c, &r, argv, ok2);
}

/* ---- lock and rwlock ---- */

static void lock_setup(int wi, const char *name)
{
	char *create[] = { (char *)tool_path("mplock"), "create", (char *)name, NULL };

	/* info and is-locked do not create: 66 before the first acquire */
	if (run_check(create, NULL, 0) != 0)
		violation(wi == W_LOCK ? K_LOCK : K_RWLOCK, "mplock create %s failed", name);
	snprintf(S->wit[wi].name, sizeof S->wit[wi].name, "lock %s", name);
	/* Sabotaged: the section runs without the lock (see lock_op). */
	S->wit[wi].capacity = LOCK_UNITS;
}

static void lock_setup_x(void)
{
	lock_setup(W_LOCK, "mutex");
}

static void lock_setup_rw(void)
{
	lock_setup(W_RWLOCK, "rw");
}

static void lock_op(struct client *c)
{
	static const int run_ok[] = { 0, 124, 137, -1 }, acq_ok[] = { 0, 124, -1 },
			 info_ok[] = { 0, -1 }, is_ok[] = { 0, 1, -1 };
	int rw = c->kind == K_RWLOCK, wi = rw ? W_RWLOCK : W_LOCK;
	int shared = rw && rnd_below(2);
	unsigned weight = shared ? 1 : LOCK_UNITS, die_pm = 30;
	/* sabotaged, longer sections: two that overlap must happen even when
	 * slow (sanitized) tools leave few clients inside at once */
	int64_t hold_us = rnd_below(sabotage ? 15000 : 1500);
	char k[16], w[16], wt[16], h[16], d[16];
	char *name = rw ? "rw" : "mutex", *mplock = (char *)tool_path("mplock");
	uint32_t r = rnd_below(100);
	struct tres t;

	sfmt(k, sizeof k, c->kind);
	sfmt(w, sizeof w, wi);
	sfmt(wt, sizeof wt, weight);
	sfmt(h, sizeof h, hold_us);
	sfmt(d, sizeof d, die_pm);
	if (r < 55) {
		/* run mode: the section is the wrapped command */
		char *argv[] = { mplock, "run", name, shared ? "-s" : "-x", "-t", TIMEOUT, "--",
				 (char *)self_path(), "cs", k, w, wt, "-", h, d, NULL };
		run_tool(c, sabotage ? argv + 7 : argv, -1, &t);
		expect(c, &t, argv, run_ok);
	} else if (r < 95) {
		/* acquire mode: the client is the owner and runs the section */
		char *acq[] = { mplock, "acquire", name, shared ? "-s" : "-x", "-t", TIMEOUT, NULL };
		char *rel[] = { mplock, "release", name, NULL };

		if (sabotage) {
			critical_section(c->kind, wi, weight, 0, hold_us * 1000, die_pm);
			return;
		}
		run_tool(c, acq, -1, &t);
		if (t.killed) {
			release(c, rel, 0);	/* it may have taken it */
			return;
		}
		if (!expect(c, &t, acq, acq_ok) || t.status)
			return;
		critical_section(c->kind, wi, weight, 0, hold_us * 1000, die_pm);
		release(c, rel, 1);
	} else if (r < 97) {
		char *argv[] = { mplock, "info", name, NULL };
		run_tool(c, argv, -1, &t);
		expect(c, &t, argv, info_ok);
	} else {
		char *argv[] = { mplock, "is-locked", name, NULL };
		run_tool(c, argv, -1, &t);
		expect(c, &t, argv, is_ok);
	}
}

/* Every holder was just killed: the lock must be free within a second. */
static void lock_check_one(int kind, const char *name, int shared)
{
	char *mplock = (char *)tool_path("mplock");
	char *run[] = { mplock, "run", (char *)name, shared ? "-s" : "-x", "-t", "1", "--",
			"/bin/true", NULL };
	char *info[] = { mplock, "info", (char *)name, NULL };
	int64_t t0 = now_ns();
	int st = run_check(run, NULL, 0);

	if (st != 0) {
		char out[4096], *p;
		run_check(info, out, sizeof out);
		for (p = out; (p = strchr(p, '\n'));)
			*p = '|';
		violation(kind, "lock %s is not acquirable%s within 1 s of the death of its last "
			  "holder: mplock run -t 1 exited %d; mplock info: %s", name,
			  shared ? " (shared)" : "", st, out);
	} else
		note("%s: %s lock %s acquired %.1f ms after the last holder died",
		     kind_name(kind), shared ? "shared" : "exclusive", name,
		     (double)(now_ns() - t0) / 1e6);
	st = run_check(info, NULL, 0);
	if (st != 0)
		violation(kind, "mplock info %s exited %d after the check", name, st);
}

static void lock_check_x(int final)
{
	lock_check_one(K_LOCK, "mutex", 0);
}

static void lock_check_rw(int final)
{
	lock_check_one(K_RWLOCK, "rw", 1);
	lock_check_one(K_RWLOCK, "rw", 0);
}

/* ---- sem ---- */

static void sem_setup(void)
{
	char j[16], *create[] = { (char *)tool_path("mpsem"), "create", "sem", "-j", j, NULL };

	snprintf(j, sizeof j, "%d", SEM_SLOTS);
	if (run_check(create, NULL, 0) != 0)
		violation(K_SEM, "mpsem create sem failed");
	snprintf(S->wit[W_SEM].name, sizeof S->wit[W_SEM].name, "semaphore sem");
	/* Sabotaged: the witness allows one holder where the semaphore has
	 * SEM_SLOTS, so any two holders that overlap are a violation (with
	 * SEM_SLOTS - 1, all three slots had to be held at once, which a loaded
	 * machine may not do within a short run). */
	S->wit[W_SEM].capacity = sabotage ? 1 : SEM_SLOTS;
}

static void sem_op(struct client *c)
{
	static const int run_ok[] = { 0, 124, 137, -1 }, acq_ok[] = { 0, 124, -1 },
			 val_ok[] = { 0, -1 };
	char k[16], w[16], h[16], d[16], j[16];
	char *mpsem = (char *)tool_path("mpsem");
	int64_t hold_us = rnd_below(sabotage ? 30000 : 3000);	/* see lock_op */
	uint32_t r = rnd_below(100);
	struct tres t;

	sfmt(k, sizeof k, K_SEM);
	sfmt(w, sizeof w, W_SEM);
	sfmt(h, sizeof h, hold_us);
	sfmt(d, sizeof d, 30);
	sfmt(j, sizeof j, SEM_SLOTS);
	if (r < 50) {
		char *argv[] = { mpsem, "run", "sem", "-j", j, "-t", TIMEOUT, "--",
				 (char *)self_path(), "cs", k, w, "1", "MP_SEM_SLOT", h, d, NULL };
		run_tool(c, argv, -1, &t);
		expect(c, &t, argv, run_ok);
	} else if (r < 90) {
		char *acq[] = { mpsem, "acquire", "sem", "-j", j, "-t", TIMEOUT, NULL };
		char *rel[] = { mpsem, "release", "sem", NULL };

		run_tool(c, acq, -1, &t);
		if (t.killed) {
			release(c, rel, 0);
			return;
		}
		if (!expect(c, &t, acq, acq_ok) || t.status)
			return;
		critical_section(K_SEM, W_SEM, 1, 0, hold_us * 1000, 30);
		release(c, rel, 1);
	} else {
		char *argv[] = { mpsem, "value", "sem", NULL }, path[PATH_MAX], buf[64];
		ssize_t n;
		int fd;

		snprintf(path, sizeof path, "%s/value.%d", workdir, (int)getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
		if (fd < 0)
			return;
		run_tool(c, argv, fd, &t);
		n = pread(fd, buf, sizeof buf - 1, 0);
		close(fd);
		unlink(path);
		if (t.killed || !expect(c, &t, argv, val_ok))
			return;
		buf[n > 0 ? n : 0] = 0;
		if (n <= 0 || atoi(buf) < 0 || atoi(buf) > SEM_SLOTS || buf[n - 1] != '\n')
			violation(K_SEM, "mpsem value printed '%s' (slots: %d)", buf, SEM_SLOTS);
	}
}

static void sem_check(int final)
{
	char *mpsem = (char *)tool_path("mpsem"), j[16], out[64];
	char *value[] = { mpsem, "value", "sem", NULL };
	char *drain[] = { mpsem, "drain", "sem", "-t", "1", NULL };
	int st;

	sfmt(j, sizeof j, SEM_SLOTS);
	st = run_check(value, out, sizeof out);
	if (st != 0 || atoi(out) != SEM_SLOTS)
		violation(K_SEM, "every holder is dead, yet mpsem value exited %d and printed "
			  "'%.20s' (slots: %d): a slot was lost", st, out, SEM_SLOTS);
	st = run_check(drain, NULL, 0);
	if (st != 0)
		violation(K_SEM, "mpsem drain -t 1 exited %d with every holder dead", st);
	char *run[] = { mpsem, "run", "sem", "-j", j, "-t", "1", "--", "/bin/true", NULL };
	st = run_check(run, NULL, 0);
	if (st != 0)
		violation(K_SEM, "mpsem run -t 1 exited %d with every holder dead", st);
}

/* ---- spawn ---- */

#define SPAWN_TAG(seq)	((uint64_t)K_SPAWN << 56 | (seq))

struct live_scan {
	int live;		/* live workers seen */
	pid_t example;
	int kill_them;
};

static void count_live(uint64_t tag, pid_t pid, uint64_t start, void *arg)
{
	struct live_scan *ls = arg;

	if (proc_liveness(pid, start, REG_START_MASK) == LIVE) {
		ls->live++;
		ls->example = pid;
		if (ls->kill_them) {
			/* pidfd, then the start time again: never a recycled pid */
			int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
			if (pfd >= 0) {
				if (proc_liveness(pid, start, REG_START_MASK) != DEAD)
					syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
				close(pfd);
			}
		}
	}
}

/* Waits up to 1 s for the workers of tags [lo, hi] to be gone; reports
 * (and kills) those that are not. */
static void spawn_expect_gone(int kind, uint64_t lo, uint64_t hi, int64_t since,
			      const char *after)
{
	struct live_scan ls;

	for (;;) {
		memset(&ls, 0, sizeof ls);
		reg_each(lo, hi, count_live, &ls);
		if (!ls.live)
			return;
		if (now_ns() - since > 1000000000LL)
			break;
		sleep_ns(5000000);
	}
	violation(kind, "%d worker(s) (e.g. pid %d) still alive 1 s after %s", ls.live,
		  (int)ls.example, after);
	ls.kill_them = 1;
	reg_each(lo, hi, count_live, &ls);
}

/* Kills the keeper (the front's child) now and then. */
void spawn_meddle(struct client *c, pid_t front)
{
	char path[64], buf[256];
	ssize_t n;
	pid_t keeper;
	int fd, pfd;

	if (rnd_below(100) >= 10)
		return;
	sleep_ns((int64_t)rnd_below(100) * 1000000LL);
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)front, (int)front);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	keeper = (pid_t)atoi(buf);
	if (keeper <= 0)
		return;
	/* a pidfd, then check it is still the front's child: never a
	 * recycled pid */
	pfd = (int)syscall(SYS_pidfd_open, keeper, 0);
	if (pfd < 0)
		return;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)keeper);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		char *p;
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (p && atoi(p + 4) == (int)front &&
		    syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) == 0)
			__atomic_add_fetch(&S->k[c->kind].kills, 1, __ATOMIC_SEQ_CST);
	}
	close(pfd);
}

static void spawn_op(struct client *c)
{
	static const int ok[] = { 0, 1, 137, -1 };
	uint64_t tag = SPAWN_TAG(__atomic_add_fetch(&S->next_tag, 1, __ATOMIC_SEQ_CST));
	char n[16], tg[32], h[16];
	char *argv[] = { (char *)tool_path("mpspawn"), "-j", n, "--", (char *)self_path(),
			 "worker", tg, h, "30", "30", NULL };
	struct tres t;

	sfmt(n, sizeof n, 1 + rnd_below(3));
	snprintf(tg, sizeof tg, "%llu", (unsigned long long)tag);
	sfmt(h, sizeof h, rnd_below(200));
	if (sabotage) {
		/* a "worker" that is no child of mpspawn: it outlives it */
		pid_t p = fork();
		if (p == 0) {
			int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
			dup2(fd, 1);
			dup2(fd, 2);
			setpgid(0, 0);	/* not even killing the client's group ends it */
			reg_add(tag, getpid(), self_start());
			sleep_ns(3000000000LL);
			_exit(0);
		}
	}
	c->meddle = spawn_meddle;
	run_tool(c, argv, -1, &t);
	c->meddle = NULL;
	expect(c, &t, argv, ok);
	spawn_expect_gone(K_SPAWN, tag, tag, t.t1, t.killed ? "mpspawn was SIGKILLed"
							     : "mpspawn exited");
}

static void spawn_check(int final)
{
	/* every client (and so every front) was killed just now */
	spawn_expect_gone(K_SPAWN, SPAWN_TAG(0), SPAWN_TAG((1ULL << 56) - 1), now_ns(),
			  "every mpspawn was SIGKILLed");
}

const struct kind kind_lock = {
	"lock", { "mplock" }, 6, lock_setup_x, lock_op, lock_check_x, NULL,
};
const struct kind kind_rwlock = {
	"rwlock", { "mplock" }, 6, lock_setup_rw, lock_op, lock_check_rw, NULL,
};
const struct kind kind_sem = {
	"sem", { "mpsem" }, 6, sem_setup, sem_op, sem_check, NULL,
};
const struct kind kind_spawn = {
	"spawn", { "mpspawn" }, 3, NULL, spawn_op, spawn_check, NULL,
};
