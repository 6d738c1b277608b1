/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-queue-stress - SIGKILLs mpqueue producers and consumers at random
 * points and checks that the queue loses, corrupts and duplicates nothing.
 *
 *   t-queue-stress MPQUEUE NAME DIR PRODUCERS CONSUMERS SEED
 *
 * Runs PRODUCERS `mpqueue put NAME MSG...` (1-4 self-checking messages
 * each) and CONSUMERS `mpqueue get NAME --count K -t 0.5` (output to DIR/c.N),
 * at most 12 at a time, interleaved.  About half of the processes are sent
 * SIGKILL after a random 0-3 ms, which lands anywhere: in exec, waiting,
 * inside the queue's mutex, between a get's write and its acknowledgement.
 * A third of the gets write into a 4 KiB pipe that is read only after
 * they died, so they are killed blocked in write(), holding what they
 * took (a quarter of the messages are 1-3 KB long).  Then drains the queue (`get --all -n`, after every
 * holder died) and checks:
 *   - every line of every output is a whole, well-formed message;
 *   - every message of a put that exited 0 was got: it is in an output;
 *   - no message is twice in the outputs of the gets that exited 0 and the
 *     drain (a get killed after writing but before acknowledging may
 *     deliver a message that is delivered again later: at least once);
 *   - nothing is left in flight.
 * Exit 0 if all holds, 1 if not (each failure printed), 2 setup error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXRUN	12
#define MAXMSG	4

struct proc {
	pid_t pid;
	int consumer, idx, killed, status, nmsg;
	int stuck;		/* stdout: a 4 KiB pipe read only after it died */
	int pipefd;
	int64_t kill_at;	/* 0: not to be killed */
};

static const char *mpq, *qname, *dir;
static struct proc *procs;
static int nprocs;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint32_t cksum(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

/* "P.J.PAYLOAD.CKSUM": producer P's message J, payload of random letters
 * (length 0-300), and the checksum of everything before the last dot. */
static void make_msg(char *buf, size_t cap, int p, int j, unsigned *seed)
{
	int n = rand_r(seed) % 4 ? rand_r(seed) % 300 : 1000 + rand_r(seed) % 2000, len;

	len = snprintf(buf, cap, "%d.%d.", p, j);
	for (int i = 0; i < n; i++)
		buf[len++] = (char)('a' + rand_r(seed) % 26);
	len += snprintf(buf + len, cap - (size_t)len, ".");
	snprintf(buf + len, cap - (size_t)len, "%08x", cksum(buf, (size_t)len));
}

static int parse_msg(const char *line, size_t n, int *p, int *j)
{
	const char *dot;
	char hex[9];

	if (n < 13 || sscanf(line, "%d.%d.", p, j) != 2)
		return -1;
	dot = line + n - 9;
	if (*dot != '.')
		return -1;
	memcpy(hex, dot + 1, 8);
	hex[8] = 0;
	return strtoul(hex, NULL, 16) == cksum(line, (size_t)(dot - line + 1)) ? 0 : -1;
}

static pid_t launch(struct proc *pr, unsigned *seed)
{
	char path[4096], msgs[MAXMSG][3100], count[16];
	char *argv[10 + MAXMSG];
	int a = 0;
	pid_t pid;

	if (pr->consumer) {
		snprintf(count, sizeof count, "%d", 1 + rand_r(seed) % 6);
		argv[a++] = (char *)mpq;
		argv[a++] = "get";
		argv[a++] = (char *)qname;
		argv[a++] = "--count";
		argv[a++] = count;
		argv[a++] = "-t";
		argv[a++] = "0.5";
		argv[a++] = "-q";
	} else {
		pr->nmsg = 1 + rand_r(seed) % MAXMSG;
		for (int j = 0; j < pr->nmsg; j++)
			make_msg(msgs[j], sizeof msgs[j], pr->idx, j, seed);
		argv[a++] = (char *)mpq;
		argv[a++] = "put";
		argv[a++] = (char *)qname;
		argv[a++] = "-t";
		argv[a++] = "5";
		for (int j = 0; j < pr->nmsg; j++)
			argv[a++] = msgs[j];
	}
	argv[a] = NULL;
	snprintf(path, sizeof path, "%s/%c.%d", dir, pr->consumer ? 'c' : 'p', pr->idx);
	int pfd[2] = { -1, -1 };
	if (pr->stuck) {
		if (pipe(pfd) < 0)
			return -1;
		fcntl(pfd[0], F_SETPIPE_SZ, 4096);
		fcntl(pfd[0], F_SETFL, O_NONBLOCK);
		pr->pipefd = pfd[0];
	}
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(120);
		if (pr->stuck) {
			dup2(pfd[1], 1);
			close(pfd[0]);
			close(pfd[1]);
		} else if (pr->consumer) {
			dup2(fd, 1);
		}
		else
			for (int j = 0; j < pr->nmsg; j++)
				dprintf(fd, "%s\n", msgs[j]);
		close(fd);
		execv(mpq, argv);
		_exit(127);
	}
	if (pr->stuck)
		close(pfd[1]);
	return pid;
}

/* Saves what a stuck consumer wrote into its pipe to its output file. */
static void save_pipe(struct proc *pr)
{
	char path[4096], buf[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/c.%d", dir, pr->idx);
	fd = open(path, O_WRONLY | O_APPEND);
	while ((n = read(pr->pipefd, buf, sizeof buf)) > 0)
		if (fd >= 0 && write(fd, buf, (size_t)n) != n)
			break;
	if (fd >= 0)
		close(fd);
	close(pr->pipefd);
}

/* Reads file path; calls fn for each complete line. */
static int each_line(const char *path, int killed, int (*fn)(const char *, size_t, void *),
		     void *arg)
{
	static char buf[1 << 20];
	ssize_t n;
	int fd = open(path, O_RDONLY), bad = 0;
	size_t len = 0;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf + len, sizeof buf - len)) > 0)
		len += (size_t)n;
	close(fd);
	size_t s = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n') {
			bad |= fn(buf + s, i - s, arg);
			s = i + 1;
		}
	if (s < len && !killed) {
		fprintf(stderr, "t-queue-stress: %s ends in a partial line\n", path);
		bad = 1;
	}
	return bad;
}

struct tally {
	int nprod;
	unsigned char **seen_ok;	/* [producer][j]: times in outputs of 0-exit gets + drain */
	unsigned char **seen_any;	/* [producer][j]: times in any output */
	int counting_ok;
};

static int count_line(const char *line, size_t n, void *arg)
{
	struct tally *t = arg;
	int p, j;

	if (parse_msg(line, n, &p, &j) || p < 0 || p >= t->nprod || j < 0 || j >= MAXMSG) {
		fprintf(stderr, "t-queue-stress: corrupt message: '%.*s'\n", (int)(n > 80 ? 80 : n),
			line);
		return 1;
	}
	if (t->seen_any[p][j] < 255)
		t->seen_any[p][j]++;
	if (t->counting_ok && t->seen_ok[p][j] < 255)
		t->seen_ok[p][j]++;
	return 0;
}

int main(int argc, char **argv)
{
	int nprod, ncons, running = 0, next = 0, bad = 0, st;
	long killed_p = 0, killed_c = 0, ok_p = 0, ok_c = 0;
	unsigned seed;
	char path[4096];

	if (argc != 7)
		return fprintf(stderr, "usage: t-queue-stress MPQUEUE NAME DIR PRODUCERS "
			       "CONSUMERS SEED\n"), 2;
	mpq = argv[1];
	qname = argv[2];
	dir = argv[3];
	nprod = atoi(argv[4]);
	ncons = atoi(argv[5]);
	seed = (unsigned)atoi(argv[6]);
	nprocs = nprod + ncons;
	procs = calloc((size_t)nprocs, sizeof *procs);
	/* a random interleaving of producers and consumers */
	for (int i = 0, p = 0, c = 0; i < nprocs; i++) {
		int cons = c < ncons && (p >= nprod || rand_r(&seed) % nprocs < ncons);
		procs[i].consumer = cons;
		procs[i].idx = cons ? c++ : p++;
	}
	while (next < nprocs || running) {
		while (running < MAXRUN && next < nprocs) {
			struct proc *pr = &procs[next++];
			/* a third of the gets block writing until killed */
			pr->stuck = pr->consumer && rand_r(&seed) % 3 == 0;
			pr->pid = launch(pr, &seed);
			if (pr->stuck || rand_r(&seed) % 2)
				pr->kill_at = now_ns() + rand_r(&seed) % 3000000;
			running++;
		}
		for (int i = 0; i < next; i++) {
			struct proc *pr = &procs[i];
			if (!pr->pid)
				continue;
			if (pr->kill_at && now_ns() >= pr->kill_at) {
				kill(pr->pid, SIGKILL);
				pr->kill_at = 0;
			}
			if (waitpid(pr->pid, &st, WNOHANG) == pr->pid) {
				pr->pid = 0;
				pr->killed = WIFSIGNALED(st);
				if (pr->stuck)
					save_pipe(pr);
				pr->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
				running--;
				if (pr->consumer)
					pr->killed ? killed_c++ : ok_c++;
				else
					pr->killed ? killed_p++ : ok_p++;
				/* 0, or 124: a put found the queue full, a get empty */
				if (!pr->killed && pr->status != 0 && pr->status != 124) {
					fprintf(stderr, "t-queue-stress: %s %d exited %d\n",
						pr->consumer ? "get" : "put", pr->idx, pr->status);
					bad = 1;
				}
			}
		}
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}

	/* every holder is dead: the drain hands their messages back first */
	snprintf(path, sizeof path, "%s/drain", dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		execl(mpq, mpq, "get", qname, "--all", "-n", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 75)) {
		fprintf(stderr, "t-queue-stress: the drain exited %d\n", WEXITSTATUS(st));
		bad = 1;
	}

	struct tally t = { .nprod = nprod };
	t.seen_ok = calloc((size_t)nprod, sizeof *t.seen_ok);
	t.seen_any = calloc((size_t)nprod, sizeof *t.seen_any);
	for (int p = 0; p < nprod; p++) {
		t.seen_ok[p] = calloc(MAXMSG, 1);
		t.seen_any[p] = calloc(MAXMSG, 1);
	}
	for (int i = 0; i < nprocs; i++) {
		struct proc *pr = &procs[i];
		if (!pr->consumer)
			continue;
		snprintf(path, sizeof path, "%s/c.%d", dir, pr->idx);
		t.counting_ok = !pr->killed;
		bad |= each_line(path, pr->killed, count_line, &t);
	}
	snprintf(path, sizeof path, "%s/drain", dir);
	t.counting_ok = 1;
	bad |= each_line(path, 0, count_line, &t);

	long lost = 0, dup = 0, got = 0;
	for (int i = 0; i < nprocs; i++) {
		struct proc *pr = &procs[i];
		if (pr->consumer)
			continue;
		for (int j = 0; j < MAXMSG; j++) {
			if (t.seen_ok[pr->idx][j] > 1) {
				fprintf(stderr, "t-queue-stress: message %d.%d got %d times\n", pr->idx, j,
					t.seen_ok[pr->idx][j]);
				dup++;
			}
			if (j >= pr->nmsg && t.seen_any[pr->idx][j]) {
				fprintf(stderr, "t-queue-stress: message %d.%d was never put\n",
					pr->idx, j);
				bad = 1;
			}
			if (j < pr->nmsg && !pr->killed && pr->status == 0) {
				got++;
				if (!t.seen_any[pr->idx][j]) {
					fprintf(stderr, "t-queue-stress: message %d.%d of a put that "
						"exited 0 is lost\n", pr->idx, j);
					lost++;
				}
			}
		}
	}
	printf("puts: %ld exited, %ld killed; gets: %ld exited, %ld killed; %ld messages of "
	       "0-exit puts all got; %ld lost, %ld duplicated\n", ok_p, killed_p, ok_c, killed_c,
	       got, lost, dup);
	if (lost || dup)
		bad = 1;
	/* nothing may be left in flight */
	pid = fork();
	if (pid == 0) {
		snprintf(path, sizeof path, "%s/info", dir);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		execl(mpq, mpq, "info", qname, "--json", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	snprintf(path, sizeof path, "%s/info", dir);
	FILE *f = fopen(path, "r");
	char info[8192] = "";
	if (f) {
		size_t n = fread(info, 1, sizeof info - 1, f);
		info[n] = 0;
		fclose(f);
	}
	const char *rd = strstr(info, "\"redelivered\":");
	if (rd)
		printf("handed back from dead gets and delivered again: %ld\n",
		       strtol(rd + 14, NULL, 10));
	if (!strstr(info, "\"items\":0,") || !strstr(info, "\"in_flight\":0,")) {
		fprintf(stderr, "t-queue-stress: not empty after the drain: %s\n", info);
		bad = 1;
	}
	return bad;
}
