/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * floor -- time fork+execve+wait of one or more commands, N times.
 *
 *   floor [-w WARMUP] [-s SEP] [-r RAWFILE] [-i] N CMD [ARG...] [SEP CMD [ARG...]]...
 *
 * With one command, it is run N times.  With several commands separated by
 * SEP (default "-:-"), each iteration runs them in order, so
 *
 *   floor 500 mplock acquire L --owner none -:- mplock release L --owner none
 *
 * runs 500 acquire/release pairs and reports each command alone and the
 * pair ("iter", the sum over one iteration).  WARMUP iterations (default
 * N/10, at most 20) run first and are not counted.
 *
 * Output on stdout, one line per command and, with several commands, one
 * line for the whole iteration; times in microseconds:
 *
 *   # label median_us p90_us min_us max_us mean_us fails n maxrss_kb
 *   cmd0 612.3 706.1 550.0 1500.2 630.0 0 500 1024
 *   iter ...
 *   # wall_s 1.234
 *
 * fails counts runs that did not exit 0; maxrss_kb is the largest peak RSS
 * of any run (ru_maxrss from wait4, which covers the child and the
 * descendants it waited for).  Each timed interval spans fork() to the
 * return of wait4(), measured with CLOCK_MONOTONIC in the parent.
 * Commands are resolved against PATH once, before timing, so the PATH
 * search is not part of the figure.  Children get /dev/null as stdin and
 * stdout (unless -i) and inherit stderr and the environment.  -r writes
 * every sample as "iteration command microseconds" to RAWFILE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
	char *path;
	char **argv;
	double *us;
	long fails;
	long maxrss_kb;
	int first_bad_status;
};

static void die(const char *msg)
{
	fprintf(stderr, "floor: %s\n", msg);
	exit(64);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks on a sorted array. */
static double pct(const double *s, long n, double p)
{
	double pos = p * (double)(n - 1);
	long i = (long)pos;
	double f = pos - (double)i;

	if (i + 1 >= n)
		return s[n - 1];
	return s[i] + f * (s[i + 1] - s[i]);
}

static char *resolve(const char *name)
{
	static char buf[PATH_MAX];
	const char *path = getenv("PATH");
	struct stat st;

	if (strchr(name, '/'))
		return strdup(name);
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);

		if (len == 0)
			snprintf(buf, sizeof buf, "./%s", name);
		else
			snprintf(buf, sizeof buf, "%.*s/%s", (int)len, path, name);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return strdup(buf);
		if (!end)
			break;
		path = end + 1;
	}
	fprintf(stderr, "floor: %s: command not found\n", name);
	exit(127);
}

static void report(FILE *out, const char *label, double *us, long n,
		   long fails, long maxrss_kb)
{
	double sum = 0;

	for (long i = 0; i < n; i++)
		sum += us[i];
	qsort(us, (size_t)n, sizeof *us, cmp_double);
	fprintf(out, "%s %.1f %.1f %.1f %.1f %.1f %ld %ld %ld\n", label,
		pct(us, n, 0.5), pct(us, n, 0.9), us[0], us[n - 1],
		sum / (double)n, fails, n, maxrss_kb);
}

int main(int argc, char **argv)
{
	const char *sep = "-:-", *rawfile = NULL;
	long warmup = -1, n;
	int keep_stdio = 0, opt, ncmd = 0;
	struct cmd *cmds;
	FILE *out, *raw = NULL;
	double *iter, wall0;
	char *end;

	while ((opt = getopt(argc, argv, "+w:s:r:ih")) != -1) {
		switch (opt) {
		case 'w':
			warmup = strtol(optarg, &end, 10);
			if (*end || warmup < 0)
				die("bad -w");
			break;
		case 's':
			sep = optarg;
			break;
		case 'r':
			rawfile = optarg;
			break;
		case 'i':
			keep_stdio = 1;
			break;
		default:
			fprintf(stderr, "usage: floor [-w WARMUP] [-s SEP] "
				"[-r RAWFILE] [-i] N CMD [ARG...] "
				"[SEP CMD [ARG...]]...\n");
			return opt == 'h' ? 0 : 64;
		}
	}
	if (argc - optind < 2)
		die("need N and a command");
	n = strtol(argv[optind], &end, 10);
	if (*end || n < 1)
		die("N must be a positive integer");
	if (warmup < 0)
		warmup = n / 10 < 20 ? n / 10 : 20;
	optind++;
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;

	cmds = calloc((size_t)(argc - optind + 1), sizeof *cmds);
	iter = calloc((size_t)n, sizeof *iter);
	if (!cmds || !iter)
		die("out of memory");
	for (int i = optind; i < argc;) {
		int j = i;

		while (j < argc && strcmp(argv[j], sep) != 0)
			j++;
		if (j == i)
			die("empty command");
		argv[j < argc ? j : argc] = NULL; /* argv[argc] is NULL */
		cmds[ncmd].argv = &argv[i];
		cmds[ncmd].path = resolve(argv[i]);
		cmds[ncmd].us = calloc((size_t)n, sizeof(double));
		if (!cmds[ncmd].us)
			die("out of memory");
		ncmd++;
		i = j + 1;
	}
	if (ncmd == 0)
		die("need a command");

	/* Keep the real stdout for the report; children see /dev/null. */
	out = fdopen(fcntl(1, F_DUPFD_CLOEXEC, 3), "w");
	if (!out)
		die("cannot dup stdout");
	if (rawfile && !(raw = fopen(rawfile, "w")))
		die("cannot open raw file");
	if (!keep_stdio) {
		int fd = open("/dev/null", O_RDWR);

		if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
			die("cannot redirect to /dev/null");
		if (fd > 1)
			close(fd);
	}

	wall0 = now_us();
	for (long it = 0; it < warmup + n; it++) {
		double sum = 0;

		for (int c = 0; c < ncmd; c++) {
			int status;
			struct rusage ru;
			double t0 = now_us(), t1;
			pid_t pid = fork();

			if (pid < 0) {
				perror("floor: fork");
				return 71;
			}
			if (pid == 0) {
				execve(cmds[c].path, cmds[c].argv, environ);
				_exit(errno == ENOENT ? 127 : 126);
			}
			while (wait4(pid, &status, 0, &ru) < 0) {
				if (errno != EINTR) {
					perror("floor: wait4");
					return 71;
				}
			}
			t1 = now_us();
			if (it < warmup)
				continue;
			if (ru.ru_maxrss > cmds[c].maxrss_kb)
				cmds[c].maxrss_kb = ru.ru_maxrss;
			if (status != 0 && cmds[c].fails++ == 0)
				cmds[c].first_bad_status = status;
			cmds[c].us[it - warmup] = t1 - t0;
			sum += t1 - t0;
			if (raw)
				fprintf(raw, "%ld %d %.1f\n", it - warmup, c,
					t1 - t0);
		}
		if (it >= warmup)
			iter[it - warmup] = sum;
	}
	wall0 = (now_us() - wall0) / 1e6;

	fprintf(out, "# label median_us p90_us min_us max_us mean_us fails n "
		"maxrss_kb\n");
	for (int c = 0; c < ncmd; c++) {
		char label[32];

		snprintf(label, sizeof label, "cmd%d", c);
		report(out, label, cmds[c].us, n, cmds[c].fails,
		       cmds[c].maxrss_kb);
		if (cmds[c].fails) {
			int st = cmds[c].first_bad_status;

			fprintf(stderr, "floor: %s: %ld of %ld runs failed "
				"(first: %s %d)\n", cmds[c].argv[0],
				cmds[c].fails, n,
				WIFEXITED(st) ? "exit" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
	}
	if (ncmd > 1) {
		long fails = 0, rss = 0;

		for (int c = 0; c < ncmd; c++) {
			fails += cmds[c].fails;
			if (cmds[c].maxrss_kb > rss)
				rss = cmds[c].maxrss_kb;
		}
		report(out, "iter", iter, n, fails, rss);
	}
	fprintf(out, "# wall_s %.3f\n", wall0);
	if (raw)
		fclose(raw);
	return fclose(out) == 0 ? 0 : 74;
}
