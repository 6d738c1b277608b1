/* supervise.c - the front and the keeper of a group; see supervise.h. */
#include "config.h"

#include "supervise.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "fault.h"
#include "obj.h"
#include "owner.h"
#include "queue.h"
#include "signals.h"
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LINE	(1u << 20)	/* a longer line is cut into pieces */
#define READ_CHUNK	65536

int mp_sup_front_died_signal(void)
{
	return SIGRTMIN + 3;
}

static int status_of(int wst)
{
	if (WIFEXITED(wst))
		return WEXITSTATUS(wst);
	if (WIFSIGNALED(wst))
		return 128 + WTERMSIG(wst);
	return 70;
}

/* ---- children and sweeping ---- */

static int add_pid(pid_t **v, int *n, int *nv, pid_t pid)
{
	if (*n == *nv) {
		int nn = *nv ? *nv * 2 : 64;
		pid_t *nvv = realloc(*v, (size_t)nn * sizeof **v);
		if (!nvv)
			return -1;
		*v = nvv;
		*nv = nn;
	}
	(*v)[(*n)++] = pid;
	return 0;
}

/* list_children() without CONFIG_PROC_CHILDREN: every /proc/PID/stat
 * whose parent (the field after the state, after the last ')') is us. */
static int scan_children(pid_t **out)
{
	pid_t self = getpid(), *v = NULL;
	int n = 0, nv = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	*out = NULL;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[64], buf[512], *p;
		long pid = strtol(de->d_name, &p, 10);
		ssize_t r;
		int fd;

		if (*p || pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] && p[3] == ' ' && strtol(p + 4, NULL, 10) == self)
			add_pid(&v, &n, &nv, (pid_t)pid);
	}
	closedir(d);
	*out = v;
	return n;
}

/* The pids of this (single-threaded) process's children, malloc'd, in
 * *out; returns how many, or -1 (then nothing is allocated).  Reads
 * /proc/self/task/TID/children, or scans /proc when the kernel lacks it. */
static int list_children(pid_t **out)
{
	char path[64], *buf = NULL;
	size_t len = 0, cap = 0;
	pid_t *v = NULL;
	int fd, n = 0, nv = 0;

	*out = NULL;
	snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return scan_children(out);
	for (;;) {
		ssize_t r;
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				close(fd);
				return -1;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf)
		return 0;
	buf[len] = 0;
	for (char *p = buf; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p || add_pid(&v, &n, &nv, (pid_t)pid) < 0)
			break;
		p = end;
		while (*p == ' ' || *p == '\n')
			p++;
	}
	free(buf);
	*out = v;
	return n;
}

/* Sends sig to every child.  The children's pids are safe to signal: only
 * this process can reap them. */
static void signal_children(int sig)
{
	pid_t *v;
	int n = list_children(&v);

	for (int i = 0; i < n; i++)
		kill(v[i], sig);
	free(v);
}

/* ---- the keeper ---- */

struct stream {
	int fd;			/* read end; -1: closed */
	uint32_t id;		/* the worker */
	int out;		/* 1 stdout, 2 stderr */
	char *part;		/* the incomplete last line */
	size_t len, cap;
};

struct worker {
	pid_t pid;		/* 0: not running */
	pid_t pgid;		/* its process group (last incarnation) */
	int64_t started;	/* CLOCK_MONOTONIC */
	int64_t restart_at;	/* 0: no restart pending */
	uint32_t restarts, quick_fails;
	int last_status;	/* of the last end */
	enum mp_spawn_wstate last_state;
	int ended;		/* for good */
};

struct keeper {
	const struct mp_sup_conf *c;
	pid_t self, front;
	int sfd;
	struct worker *w;
	uint32_t nrunning, npending;
	/* pid -> worker index, open addressing */
	pid_t *hpid;
	uint32_t *hidx;
	uint32_t hsize;
	/* tagged output */
	struct stream *st;
	size_t nst, capst;
	char *obuf;
	size_t ocap;
	char drain[4096];
	int out_dead[3];	/* that output is gone (EPIPE) */
	int out_error;		/* a write failed otherwise */
	/* environment of the workers */
	char **envp;
	char env_id[40];
	/* ending */
	int stopping, cleanup;
	enum mp_spawn_reason reason;
	int stop_sig, nstops;
	int64_t t_timeout, t_kill, t_cleanup;
	int first_fail;		/* status of the first failure; -1 none */
	uint32_t req_seen;
	pid_t *signalled;	/* leftovers already sent SIGTERM in cleanup */
	size_t nsig, capsig;
};

/* At most nworkers entries are live in a table of at least twice as many
 * slots, so a free or dead slot is always found; probes are bounded
 * because after many restarts every slot may be a tombstone. */
static void hash_put(struct keeper *k, pid_t pid, uint32_t idx)
{
	uint32_t h = (uint32_t)pid * 2654435761u & (k->hsize - 1);

	for (uint32_t n = 0; n < k->hsize && k->hpid[h] > 0; n++)
		h = (h + 1) & (k->hsize - 1);
	k->hpid[h] = pid;
	k->hidx[h] = idx;
}

/* Finds and removes pid; returns its worker index or -1. */
static int hash_take(struct keeper *k, pid_t pid)
{
	uint32_t h = (uint32_t)pid * 2654435761u & (k->hsize - 1);

	for (uint32_t n = 0; n < k->hsize && k->hpid[h] != 0; n++) {
		if (k->hpid[h] == pid) {
			k->hpid[h] = -1;	/* tombstone: later entries stay reachable */
			return (int)k->hidx[h];
		}
		h = (h + 1) & (k->hsize - 1);
	}
	return -1;
}

/* Writes all of p to fd 1 or 2; an output whose reader is gone is
 * dropped (and its streams closed, so the workers get SIGPIPE as they
 * would writing to it directly). */
static void write_out(struct keeper *k, int out, const char *p, size_t n)
{
	while (n && !k->out_dead[out]) {
		ssize_t r = write(out, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = out, .events = POLLOUT };
			poll(&pf, 1, 1000);
		} else {
			if (r < 0 && errno == EPIPE) {
				k->out_dead[out] = 1;
				for (size_t i = 0; i < k->nst; i++)
					if (k->st[i].out == out && k->st[i].fd >= 0) {
						close(k->st[i].fd);
						k->st[i].fd = -1;
					}
			} else {
				k->out_dead[out] = 1;
			}
			k->out_error = 1;
			return;
		}
	}
}

static int reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	char *nb = realloc(*buf, nc);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = nc;
	return 0;
}

/* Emits the complete lines of s->part + d[0..n), each prefixed; keeps the
 * incomplete rest in s->part.  At eof the rest is a line too. */
static void tag_data(struct keeper *k, struct stream *s, const char *d, size_t n, int eof)
{
	char prefix[24];
	int plen = snprintf(prefix, sizeof prefix, "[%u] ", s->id);
	size_t o = 0, lines = 0;
	const char *p, *end = d + n, *nl;

	for (p = d; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1)
		lines++;
	if (lines == 0 && !eof && s->len + n <= MAX_LINE) {
		if (reserve(&s->part, &s->cap, s->len + n) == 0) {
			memcpy(s->part + s->len, d, n);
			s->len += n;
			return;
		}
	}
	/* room for every line, its prefix, the carried part, a final '\n' */
	if (reserve(&k->obuf, &k->ocap, s->len + n + (lines + 2) * (size_t)plen + 2) < 0)
		return;
	p = d;
	if (lines) {
		nl = memchr(p, '\n', (size_t)(end - p));
		memcpy(k->obuf + o, prefix, (size_t)plen), o += (size_t)plen;
		if (s->len)	/* part is NULL until a partial line came */
			memcpy(k->obuf + o, s->part, s->len), o += s->len;
		memcpy(k->obuf + o, p, (size_t)(nl - p) + 1), o += (size_t)(nl - p) + 1;
		s->len = 0;
		p = nl + 1;
		while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
			memcpy(k->obuf + o, prefix, (size_t)plen), o += (size_t)plen;
			memcpy(k->obuf + o, p, (size_t)(nl - p) + 1), o += (size_t)(nl - p) + 1;
			p = nl + 1;
		}
	}
	/* p..end is an incomplete line */
	if (eof || s->len + (size_t)(end - p) > MAX_LINE) {
		if (s->len || p < end) {
			memcpy(k->obuf + o, prefix, (size_t)plen), o += (size_t)plen;
			if (s->len)
				memcpy(k->obuf + o, s->part, s->len), o += s->len;
			memcpy(k->obuf + o, p, (size_t)(end - p)), o += (size_t)(end - p);
			k->obuf[o++] = '\n';
			s->len = 0;
		}
	} else if (p < end && reserve(&s->part, &s->cap, s->len + (size_t)(end - p)) == 0) {
		memcpy(s->part + s->len, p, (size_t)(end - p));
		s->len += (size_t)(end - p);
	}
	write_out(k, s->out, k->obuf, o);
}

/* Reads what stream s has; at EOF flushes and closes it. */
static void read_stream(struct keeper *k, struct stream *s)
{
	static char buf[READ_CHUNK];
	ssize_t r;

	for (int rounds = 0; rounds < 4 && s->fd >= 0; rounds++) {
		r = read(s->fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			tag_data(k, s, buf, 0, 1);
			close(s->fd);
			s->fd = -1;
			return;
		}
		tag_data(k, s, buf, (size_t)r, 0);
		if (r < (ssize_t)sizeof buf)
			return;
	}
}

static void drop_closed_streams(struct keeper *k)
{
	size_t j = 0;

	for (size_t i = 0; i < k->nst; i++) {
		if (k->st[i].fd >= 0)
			k->st[j++] = k->st[i];
		else
			free(k->st[i].part);
	}
	k->nst = j;
}

static int add_stream(struct keeper *k, int fd, uint32_t id, int out)
{
	if (k->nst == k->capst) {
		size_t nc = k->capst ? k->capst * 2 : 16;
		struct stream *ns = realloc(k->st, nc * sizeof *ns);
		if (!ns)
			return -1;
		k->st = ns;
		k->capst = nc;
	}
	k->st[k->nst++] = (struct stream){ .fd = fd, .id = id, .out = out };
	return 0;
}

/* Builds the workers' environment: ours without the variables we set,
 * then ours.  env_id is rewritten for each worker before it starts. */
static int build_env(struct keeper *k)
{
	static const char *ours[] = { "MP_WORKER_ID=", "MP_WORKERS=", "MP_SPAWN_NAME=",
				      "MP_SPAWN_RUN=", "MP_SPAWN_DIR=" };
	extern char **environ;
	size_t n = 0, j = 0;
	char buf[64];

	while (environ[n])
		n++;
	k->envp = calloc(n + 8, sizeof *k->envp);
	if (!k->envp)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int skip = 0;
		for (size_t m = 0; m < sizeof ours / sizeof *ours; m++)
			if (!strncmp(environ[i], ours[m], strlen(ours[m])))
				skip = 1;
		if (!skip)
			k->envp[j++] = environ[i];
	}
	k->envp[j++] = k->env_id;
	snprintf(buf, sizeof buf, "MP_WORKERS=%u", k->c->nworkers);
	k->envp[j++] = strdup(buf);
	if (asprintf(&k->envp[j++], "MP_SPAWN_NAME=%s", k->c->name) < 0)
		return -1;
	snprintf(buf, sizeof buf, "MP_SPAWN_RUN=%016llx",
		 (unsigned long long)mp_spawn_run_id(k->c->obj));
	k->envp[j++] = strdup(buf);
	if (asprintf(&k->envp[j++], "MP_SPAWN_DIR=%s", k->c->store->dir) < 0)
		return -1;
	for (size_t i = 0; i < j; i++)
		if (!k->envp[i])
			return -1;
	return 0;
}

static int pool_worker(const struct mp_sup_conf *c, uint32_t id, char **envp);

/* Starts worker i.  Returns 0, or the status it ended with at once
 * (126/127: cannot run; 71: no process). */
static int start_worker(struct keeper *k, uint32_t i)
{
	const struct mp_sup_conf *c = k->c;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	volatile int child_errno = 0;
	pid_t pid, keeper = k->self;
	struct mp_owner who;

	if (c->tag) {
		if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
			int e = errno;
			c->warn("cannot start worker %u: pipe: %s", i, strerror(e));
			if (outp[0] >= 0)
				close(outp[0]), close(outp[1]);
			return 71;
		}
	}
	snprintf(k->env_id, sizeof k->env_id, "MP_WORKER_ID=%u", i);
	if (c->queue) {
		fflush(NULL);
		pid = fork();
	} else {
		/* vfork: no page tables to copy (the cost that matters with
		 * a hundred workers), and a failed exec is reported through
		 * child_errno in the memory we share until it execs. */
		pid = vfork();
	}
	if (pid == 0) {
		struct sigaction dfl;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != keeper)
			_exit(128 + SIGKILL);	/* the keeper died first */
		if (c->tag) {
			dup2(outp[1], 1);
			dup2(errp[1], 2);
		}
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGPIPE, &dfl, NULL);	/* ignored by the keeper */
		sigprocmask(SIG_SETMASK, &c->child_mask, NULL);
		if (c->queue)
			_exit(pool_worker(c, i, k->envp));
		child_errno = mp_cmd_execve(c->path, c->argv, k->envp);
		_exit(child_errno == ENOENT ? 127 : 126);
	}
	if (c->tag) {
		close(outp[1]);
		close(errp[1]);
	}
	if (pid < 0) {
		int e = errno;
		if (c->tag)
			close(outp[0]), close(errp[0]);
		c->warn("cannot start worker %u: %s", i, strerror(e));
		return 71;
	}
	if (child_errno) {
		/* it is reaped as an unknown child */
		if (c->tag)
			close(outp[0]), close(errp[0]);
		c->warn("cannot run '%s': %s", c->argv[0], strerror(child_errno));
		return child_errno == ENOENT ? 127 : 126;
	}
	if (c->tag) {
		fcntl(outp[0], F_SETFL, O_NONBLOCK);
		fcntl(errp[0], F_SETFL, O_NONBLOCK);
		if (k->out_dead[1])
			close(outp[0]);
		else
			add_stream(k, outp[0], i, 1);
		if (k->out_dead[2])
			close(errp[0]);
		else
			add_stream(k, errp[0], i, 2);
	}
	/* a worker runs that no table names yet */
	MP_FAULT_POINT("supervise.worker.started");
	k->w[i].pid = pid;
	k->w[i].pgid = pid;
	k->w[i].started = mp_now_ns();
	k->nrunning++;
	hash_put(k, pid, i);
	mp_spawn_worker_started(c->obj, i, pid,
				mp_owner_of(pid, &who) == 0 ? who.start : 0);
	return 0;
}

/* A worker has ended (status) without restarting. */
static void stop(struct keeper *k, int sig, enum mp_spawn_reason reason);

static void worker_done(struct keeper *k, uint32_t i, int status, enum mp_spawn_wstate state)
{
	const struct mp_sup_conf *c = k->c;
	struct worker *w = &k->w[i];
	int64_t now = mp_now_ns();

	if (status != 0 && c->restart && !k->stopping && state != MP_SPAWN_W_NOSTART &&
	    (c->max_restarts == UINT32_MAX || w->restarts < c->max_restarts)) {
		/* A worker that keeps failing soon after its start is
		 * restarted after a delay growing from 0.1 s to 5 s. */
		int64_t delay = 0;
		if (w->started && now - w->started < 10 * 1000000000LL)
			w->quick_fails++;
		else
			w->quick_fails = 0;
		if (w->quick_fails) {
			delay = 100 * 1000000LL << (w->quick_fails > 6 ? 6 : w->quick_fails - 1);
			if (delay > 5 * 1000000000LL)
				delay = 5 * 1000000000LL;
		}
		w->restarts++;
		w->last_status = status;
		w->last_state = state;
		w->restart_at = now + (delay ? delay : 1);
		k->npending++;
		c->info("worker %u exited with status %d; restarting", i, status);
		mp_spawn_worker_ended(c->obj, i, status, MP_SPAWN_W_RESTARTING);
		return;
	}
	w->ended = 1;
	mp_spawn_worker_ended(c->obj, i, status, state);
	if (status != 0) {
		c->info("worker %u %s %d", i, state == MP_SPAWN_W_KILLED ? "was killed: status"
					       : "exited with status", status);
		if (k->first_fail < 0)
			k->first_fail = status;
		if (c->fail_fast && !k->stopping)
			stop(k, SIGTERM, MP_SPAWN_R_FAILED);
	}
}

/* A pending restart is called off: the last failure stands. */
static void give_up(struct keeper *k, uint32_t i)
{
	struct worker *w = &k->w[i];

	w->ended = 1;
	mp_spawn_worker_ended(k->c->obj, i, w->last_status, w->last_state);
	if (k->first_fail < 0)
		k->first_fail = w->last_status;
}

static void start_or_fail(struct keeper *k, uint32_t i)
{
	int st = start_worker(k, i);

	if (st)
		worker_done(k, i, st, MP_SPAWN_W_NOSTART);
}

static void signal_workers(struct keeper *k, int sig)
{
	for (uint32_t i = 0; i < k->c->nworkers; i++)
		if (k->w[i].pid > 0)
			kill(-k->w[i].pgid, sig);
}

/* Ends the group: sig to every worker, no more restarts, SIGKILL after
 * --kill-after.  A second INT/TERM/HUP while stopping means "now". */
static void stop(struct keeper *k, int sig, enum mp_spawn_reason reason)
{
	const struct mp_sup_conf *c = k->c;

	if (k->stopping) {
		if (reason == MP_SPAWN_R_SIGNAL || sig == SIGKILL) {
			k->t_kill = 0;
			signal_workers(k, SIGKILL);
		}
		return;
	}
	k->stopping = 1;
	k->reason = reason;
	k->stop_sig = sig;
	mp_spawn_stopping(c->obj, reason, sig);
	/* pending restarts are off: their last failure stands */
	for (uint32_t i = 0; i < c->nworkers; i++)
		if (k->w[i].restart_at) {
			k->w[i].restart_at = 0;
			k->npending--;
			give_up(k, i);
		}
	signal_workers(k, sig);
	if (sig == SIGKILL)
		return;
	signal_workers(k, SIGCONT);	/* a stopped worker must see it */
	if (c->kill_after_ns > 0)
		k->t_kill = mp_now_ns() + c->kill_after_ns;
	else
		signal_workers(k, SIGKILL);
}

/* Reaps every child that has ended. */
static void reap(struct keeper *k)
{
	int wst;
	pid_t pid;

	while ((pid = waitpid(-1, &wst, WNOHANG)) > 0) {
		int i = hash_take(k, pid);
		if (i < 0)
			continue;	/* an adopted orphan, or a worker that never ran */
		k->w[i].pid = 0;
		k->nrunning--;
		worker_done(k, (uint32_t)i, status_of(wst),
			    WIFSIGNALED(wst) ? MP_SPAWN_W_KILLED : MP_SPAWN_W_EXITED);
	}
}

/* 1 when this process has no child left. */
static int no_children(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

/* SIGKILLs everything below this process: the workers' process groups
 * at once, then the children round by round (each round adopts the
 * orphans of the last) until none is left. */
static void sweep(struct keeper *k)
{
	if (k)
		k->stopping = 1;	/* no restarts from here */
	if (k)
		for (uint32_t i = 0; i < k->c->nworkers; i++)
			if (k->w[i].pgid > 0)
				kill(-k->w[i].pgid, SIGKILL);
	for (;;) {
		int wst;
		pid_t pid;

		signal_children(SIGKILL);
		pid = waitpid(-1, &wst, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid > 0) {
			if (k) {
				int i = hash_take(k, pid);
				if (i >= 0) {
					k->w[i].pid = 0;
					k->nrunning--;
					worker_done(k, (uint32_t)i, status_of(wst), WIFSIGNALED(wst)
						    ? MP_SPAWN_W_KILLED : MP_SPAWN_W_EXITED);
				}
			}
			continue;
		}
		/* children left but none has ended yet: they are dying */
		usleep(1000);
	}
}

/* The leftovers after the last worker ended: SIGTERM to each child (and
 * each worker's process group) once, SIGKILL after --kill-after. */
static void cleanup_signal(struct keeper *k)
{
	pid_t *v;
	int n = list_children(&v);

	for (int i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < k->nsig && k->signalled[j] != v[i]; j++)
			;
		if (j < k->nsig)
			continue;
		kill(v[i], SIGTERM);
		kill(v[i], SIGCONT);
		if (k->nsig == k->capsig) {
			size_t nc = k->capsig ? k->capsig * 2 : 16;
			pid_t *ns = realloc(k->signalled, nc * sizeof *ns);
			if (!ns)
				continue;
			k->signalled = ns;
			k->capsig = nc;
		}
		k->signalled[k->nsig++] = v[i];
	}
	free(v);
}

static void handle_request(struct keeper *k)
{
	enum mp_spawn_reason reason;
	int sig;

	while (mp_spawn_take_request(k->c->obj, &k->req_seen, &sig, &reason)) {
		if (mp_spawn_sig_ends_group(sig))
			stop(k, sig, reason);
		else
			signal_workers(k, sig);
	}
}

/* The front died: everything goes, now. */
static int emergency(struct keeper *k)
{
	k->stopping = 1;
	for (uint32_t i = 0; i < k->c->nworkers; i++)
		if (k->w[i].restart_at) {
			k->w[i].restart_at = 0;
			k->npending--;
			give_up(k, i);
		}
	sweep(k);
	mp_spawn_finish(k->c->obj, 128 + SIGKILL, MP_SPAWN_R_LOST, SIGKILL);
	return 128 + SIGKILL;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static void raise_fd_limit(size_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int keeper_main(const struct mp_sup_conf *c, pid_t front)
{
	struct keeper kk = { 0 }, *k = &kk;
	struct pollfd *pf = NULL;
	size_t pfcap = 0;
	struct mp_owner me;
	sigset_t mask;
	int status;

	k->c = c;
	k->self = getpid();
	k->front = front;
	k->first_fail = -1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTSTP);
	sigaddset(&mask, SIGCONT);
	sigaddset(&mask, MP_SPAWN_SIG_REQUEST);
	sigaddset(&mask, mp_sup_front_died_signal());
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	k->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	k->w = calloc(c->nworkers, sizeof *k->w);
	for (k->hsize = 16; k->hsize < 2 * c->nworkers; k->hsize *= 2)
		;
	k->hpid = calloc(k->hsize, sizeof *k->hpid);
	k->hidx = calloc(k->hsize, sizeof *k->hidx);
	if (k->sfd < 0 || !k->w || !k->hpid || !k->hidx || build_env(k) < 0) {
		c->warn("cannot set up the supervisor: %s", strerror(errno));
		mp_spawn_finish(c->obj, 71, MP_SPAWN_R_NONE, 0);
		return 71;
	}
	if (mp_owner_of(0, &me) == 0)
		mp_spawn_set_keeper(c->obj, &me);
	if (c->tag)
		raise_fd_limit(2 * (size_t)c->nworkers + 64);

	if (c->timeout_ns > 0)
		k->t_timeout = mp_now_ns() + c->timeout_ns;
	for (uint32_t i = 0; i < c->nworkers; i++)
		start_or_fail(k, i);
	if (c->ready_fd >= 0) {
		char ok = 0;
		if (write(c->ready_fd, &ok, 1) < 0) {
			/* the starter is gone; the group runs anyway */
		}
		close(c->ready_fd);
	}
	handle_request(k);

	for (;;) {
		int64_t now, until;
		int tmo, n;
		size_t np = 0;

		if (!k->cleanup && k->nrunning == 0 && k->npending == 0) {
			/* every worker has ended: now the leftovers */
			k->cleanup = 1;
			reap(k);
			if (no_children())
				break;
			for (uint32_t i = 0; i < c->nworkers; i++)
				if (k->w[i].pgid > 0)
					kill(-k->w[i].pgid, SIGTERM);
			cleanup_signal(k);
			k->t_cleanup = mp_now_ns() + c->kill_after_ns;
			if (c->kill_after_ns <= 0) {
				sweep(k);
				break;
			}
		}
		if (k->cleanup) {
			reap(k);
			if (no_children())
				break;
		}

		now = mp_now_ns();
		if (k->cleanup && now >= k->t_cleanup) {
			sweep(k);
			break;
		}
		if (!k->stopping && k->t_timeout && now >= k->t_timeout)
			stop(k, c->timeout_sig, MP_SPAWN_R_TIMEOUT);
		if (k->stopping && k->t_kill && now >= k->t_kill) {
			signal_workers(k, SIGKILL);
			k->t_kill = 0;
		}
		until = 0;
		if (k->npending && !k->stopping) {
			for (uint32_t i = 0; i < c->nworkers; i++) {
				if (!k->w[i].restart_at)
					continue;
				if (now >= k->w[i].restart_at) {
					k->w[i].restart_at = 0;
					k->npending--;
					start_or_fail(k, i);
				} else {
					until = min_deadline(until, k->w[i].restart_at);
				}
			}
		}
		if (!k->stopping)
			until = min_deadline(until, k->t_timeout);
		if (k->stopping)
			until = min_deadline(until, k->t_kill);
		if (k->cleanup)
			until = min_deadline(until, k->t_cleanup);
		if (!k->cleanup && k->nrunning == 0 && k->npending == 0)
			continue;

		if (pfcap < k->nst + 1) {
			pfcap = k->nst + 16;
			free(pf);
			pf = malloc(pfcap * sizeof *pf);
			if (!pf) {
				c->warn("out of memory");
				pfcap = 0;
				sweep(k);
				break;
			}
		}
		pf[np++] = (struct pollfd){ .fd = k->sfd, .events = POLLIN };
		for (size_t i = 0; i < k->nst; i++)
			pf[np++] = (struct pollfd){ .fd = k->st[i].fd, .events = POLLIN };
		tmo = -1;
		if (until) {
			int64_t d = until - mp_now_ns();
			tmo = d <= 0 ? 0 : d / 1000000 >= INT_MAX ? INT_MAX : (int)((d + 999999) / 1000000);
		}
		n = poll(pf, np, tmo);
		if (n < 0 && errno != EINTR) {
			c->warn("poll: %s", strerror(errno));
			sweep(k);
			break;
		}
		for (size_t i = 1; n > 0 && i < np; i++)
			if (pf[i].revents && k->st[i - 1].fd >= 0)
				read_stream(k, &k->st[i - 1]);
		drop_closed_streams(k);
		if (n > 0 && pf[0].revents) {
			struct signalfd_siginfo si[16];
			ssize_t r;
			int chld = 0, died = 0;

			while ((r = read(k->sfd, si, sizeof si)) > 0) {
				for (size_t j = 0; j < (size_t)r / sizeof *si; j++) {
					int sig = (int)si[j].ssi_signo;
					if (sig == SIGCHLD)
						chld = 1;
					else if (sig == mp_sup_front_died_signal())
						died = 1;
					else if (sig == MP_SPAWN_SIG_REQUEST)
						handle_request(k);
					else if (sig == SIGTSTP || sig == SIGCONT)
						signal_workers(k, sig);
					else
						stop(k, sig, MP_SPAWN_R_SIGNAL);
				}
			}
			if (died || getppid() != k->front) {
				free(pf);
				return emergency(k);
			}
			if (chld)
				reap(k);
			if (k->cleanup)
				cleanup_signal(k);
		}
	}
	free(pf);
	reap(k);

	/* Everything below has ended: what is left in the pipes is complete.
	 * (EAGAIN instead of EOF: a process outside the group was handed a
	 * write end; it is not waited for.) */
	for (size_t i = 0; i < k->nst; i++) {
		struct stream *s = &k->st[i];
		while (s->fd >= 0) {
			ssize_t r = read(s->fd, k->drain, sizeof k->drain);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0) {
				tag_data(k, s, k->drain, (size_t)r, 0);
				continue;
			}
			tag_data(k, s, k->drain, 0, 1);
			close(s->fd);
			s->fd = -1;
		}
	}
	drop_closed_streams(k);

	if (k->reason == MP_SPAWN_R_SIGNAL)
		status = 128 + k->stop_sig;
	else if (k->reason == MP_SPAWN_R_TIMEOUT)
		status = 124;	/* DESIGN §4: timed out, as timeout(1) */
	else if (k->reason == MP_SPAWN_R_CALLER)
		status = 128 + SIGTERM;
	else if (k->first_fail >= 0)
		status = k->first_fail;
	else
		status = k->out_error ? 74 : 0;
	if (c->queue) {
		struct mp_spawn_snap snap;
		uint64_t done = 0, failed = 0;
		if (mp_spawn_snapshot(c->obj, &snap) == 0) {
			for (uint32_t i = 0; i < c->nworkers; i++)
				done += snap.w[i].done, failed += snap.w[i].failed;
			mp_spawn_snap_free(&snap);
			if (failed)
				c->warn("%llu of %llu messages failed", (unsigned long long)failed,
					(unsigned long long)done);
		}
	}
	mp_spawn_finish(c->obj, status, k->reason, k->stop_sig);
	return status;
}

/* ---- pool mode ---- */

/* Exit status for a queue error (the library does not use cli.h). */
static int queue_status(int rc)
{
	switch (rc) {
	case -EIDRM:
	case -ENOENT:
		return 66;
	case -EBADMSG:
	case -EMEDIUMTYPE:
		return 65;
	case -EACCES:
	case -EPERM:
		return 77;
	case -ENOSPC:
		return 73;
	case -EINTR:
		return 128 + (mp_signal_pending ? mp_signal_pending : SIGTERM);
	default:
		return 71;
	}
}

/* Writes the payload for a message on stderr, escaped (it may be binary)
 * and cut at 1000 bytes. */
static void show_payload(char *out, size_t cap, const unsigned char *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 8 < cap; i++) {
		unsigned char ch = p[i];
		if (i == 1000) {
			o += (size_t)snprintf(out + o, cap - o, "...");
			break;
		}
		if (ch == '\\')
			out[o++] = '\\', out[o++] = '\\';
		else if (ch == '\n')
			out[o++] = '\\', out[o++] = 'n';
		else if (ch == '\t')
			out[o++] = '\\', out[o++] = 't';
		else if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = 0;
}

/* Runs the command for one message; returns its status. */
static int run_message(const struct mp_sup_conf *c, char **argv, char **envp, const char *msg,
		       size_t len)
{
	volatile int child_errno = 0;
	pid_t self = getpid(), pid;
	int in[2] = { -1, -1 }, wst;

	if (c->use_stdin && pipe2(in, O_CLOEXEC) < 0) {
		c->warn("pipe: %s", strerror(errno));
		return 71;
	}
	pid = vfork();
	if (pid == 0) {
		struct sigaction dfl;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(128 + SIGKILL);
		if (c->use_stdin)
			dup2(in[0], 0);
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGPIPE, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGHUP, &dfl, NULL);
		child_errno = mp_cmd_execve(c->path, argv, envp);
		_exit(child_errno == ENOENT ? 127 : 126);
	}
	if (c->use_stdin)
		close(in[0]);
	if (pid < 0) {
		c->warn("cannot run '%s': %s", argv[0], strerror(errno));
		if (c->use_stdin)
			close(in[1]);
		return 71;
	}
	if (c->use_stdin) {
		/* The command may stop reading: EPIPE, not SIGPIPE (ignored). */
		for (size_t off = 0; off < len;) {
			ssize_t r = write(in[1], msg + off, len - off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			off += (size_t)r;
		}
		close(in[1]);
	}
	while (waitpid(pid, &wst, 0) < 0)
		if (errno != EINTR)
			return 71;
	if (child_errno)
		c->warn("cannot run '%s': %s", argv[0], strerror(child_errno));
	return status_of(wst);
}

/* A worker of a pool: takes messages with a lease (this process is the
 * owner, so a worker killed mid-message hands it back), runs the command
 * on each, acknowledges it and marks it done, until the queue is closed
 * and drained.  Returns the status of its first failed message, or 0. */
static int pool_worker(const struct mp_sup_conf *c, uint32_t id, char **envp)
{
	struct mp_queue_params qp;
	struct mp_queue_lease lease;
	struct mp_owner me;
	struct mp_obj q;
	size_t argc = 0, len;
	char **argv, *buf;
	int rc, first_fail = 0;

	signal(SIGPIPE, SIG_IGN);
	rc = mp_queue_open(c->store, c->queue, 1, NULL, NULL, &q);
	if (rc) {
		c->warn("worker %u: cannot open queue '%s': %s", id, c->queue,
			mp_errmsg()[0] ? mp_errmsg() : strerror(-rc));
		return queue_status(rc);
	}
	mp_queue_get_params(&q, &qp);
	while (c->argv[argc])
		argc++;
	argv = calloc(argc + 3, sizeof *argv);
	buf = malloc(qp.max_msg + 1);
	if (!argv || !buf || mp_owner_of(0, &me)) {
		c->warn("worker %u: out of memory", id);
		return 71;
	}
	memcpy(argv, c->argv, argc * sizeof *argv);
	if (c->shell)
		argv[argc++] = "sh";	/* $0 of sh -c STRING; the message is $1 */
	if (!c->use_stdin)
		argv[argc++] = buf;

	for (;;) {
		struct mp_queue_get_req r = { .owner = me };
		int st;

		if (mp_signal_pending)
			return 128 + mp_signal_pending;
		rc = mp_queue_get_lease(&q, &r, buf, qp.max_msg + 1, &len, &lease);
		if (rc == MP_QUEUE_END)
			break;
		if (rc) {
			if (rc != -EINTR)
				c->warn("worker %u: queue '%s': %s", id, c->queue,
					rc == -EIDRM ? "it was removed" :
					mp_errmsg()[0] ? mp_errmsg() : strerror(-rc));
			return queue_status(rc);
		}
		buf[len] = 0;
		MP_FAULT_POINT("supervise.pool.leased");
		st = run_message(c, argv, envp, buf, len);
		MP_FAULT_POINT("supervise.pool.ran");
		if (st != 0 && mp_signal_pending) {
			/* Ended with the group: the message goes back. */
			mp_queue_requeue(&q, &lease);
			return 128 + mp_signal_pending;
		}
		rc = mp_queue_ack(&q, &lease);
		if (rc == 0)
			mp_queue_done(&q, 1);
		else
			c->warn("worker %u: queue '%s': the lease of a message was taken back "
				"before it was acknowledged", id, c->queue);
		mp_spawn_count_message(c->obj, id, st != 0);
		if (st != 0) {
			char shown[4200];
			show_payload(shown, sizeof shown, (unsigned char *)buf, len);
			c->warn("worker %u: message failed with status %d: %s", id, st, shown);
			if (!first_fail)
				first_fail = st;
			if (c->fail_fast)
				break;	/* the keeper ends the others */
		}
	}
	return first_fail;
}

/* ---- the front ---- */

int mp_sup_run(const struct mp_sup_conf *c)
{
	struct pollfd pf[2];
	sigset_t mask, old;
	pid_t front = getpid(), kp;
	int sfd, kst = 0, kdone = 0, status, caller_fd = c->caller_pidfd;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTSTP);
	sigaddset(&mask, SIGCONT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		c->warn("signalfd: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		mp_spawn_finish(c->obj, 71, MP_SPAWN_R_NONE, 0);
		return 71;
	}
	fflush(NULL);
	kp = fork();
	if (kp == 0) {
		close(sfd);
		if (caller_fd >= 0)
			close(caller_fd);
		/* Its own process group: a signal to the front's group (the
		 * terminal's, or kill -9 -PGID) must not take both. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, mp_sup_front_died_signal());
		if (getppid() != front) {
			mp_spawn_finish(c->obj, 128 + SIGKILL, MP_SPAWN_R_LOST, SIGKILL);
			_exit(128 + SIGKILL);
		}
		_exit(keeper_main(c, front));
	}
	if (kp < 0) {
		int e = errno;
		c->warn("cannot start the supervisor: %s", strerror(e));
		close(sfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		mp_spawn_finish(c->obj, 71, MP_SPAWN_R_NONE, 0);
		return 71;
	}
	MP_FAULT_POINT("supervise.keeper.started");
	if (c->ready_fd >= 0)
		close(c->ready_fd);
	/* a signal that came before the mask was set */
	if (mp_signal_pending)
		kill(kp, mp_signal_pending);

	while (!kdone) {
		int np = 1, n;

		pf[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (caller_fd >= 0)
			pf[np++] = (struct pollfd){ .fd = caller_fd, .events = POLLIN };
		n = poll(pf, (nfds_t)np, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (np > 1 && pf[1].revents) {
			/* the caller exited: end the group as Python ends a
			 * daemon process, with SIGTERM */
			c->info("the calling process has exited; ending group '%s'", c->name);
			mp_spawn_post_request(c->obj, SIGTERM, MP_SPAWN_R_CALLER);
			kill(kp, MP_SPAWN_SIG_REQUEST);
			close(caller_fd);
			caller_fd = -1;
		}
		if (pf[0].revents) {
			struct signalfd_siginfo si[16];
			ssize_t r;
			int chld = 0;

			while ((r = read(sfd, si, sizeof si)) > 0) {
				for (size_t j = 0; j < (size_t)r / sizeof *si; j++) {
					int sig = (int)si[j].ssi_signo;
					if (sig == SIGCHLD) {
						chld = 1;
					} else if (sig == SIGTSTP) {
						kill(kp, SIGTSTP);
						raise(SIGSTOP);
					} else {
						kill(kp, sig);
					}
				}
			}
			if (chld) {
				int wst;
				pid_t p;
				while ((p = waitpid(-1, &wst, WNOHANG)) > 0)
					if (p == kp) {
						kst = wst;
						kdone = 1;
					}
			}
		}
	}
	if (caller_fd >= 0)
		close(caller_fd);
	if (WIFEXITED(kst)) {
		status = WEXITSTATUS(kst);
		sweep(NULL);	/* nothing should be left; be sure */
	} else {
		/* The keeper was killed: its workers died of their PDEATHSIG
		 * and their orphans are ours now. */
		status = status_of(kst);
		sweep(NULL);
		mp_spawn_finish(c->obj, status, MP_SPAWN_R_LOST, WIFSIGNALED(kst) ? WTERMSIG(kst) : 0);
	}
	close(sfd);
	if (c->remove_at_end)
		mp_obj_remove(c->store, c->obj);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}
