/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libc-cost -- what a static binary's C library costs at start-up, on this
 * machine: the parts of bench/libc-cost that a shell cannot measure.
 *
 *   libc-cost insn [-n N] [-r ROUNDS]
 *	Times single instructions with rdtsc (lfence-bracketed): the empty
 *	bracket, rdtsc, cpuid leaves 0x0, 0x1, 0x7, 0x80000001 and 0x8000001d,
 *	and getppid(2) for scale.  ROUNDS rounds (default 20) of N samples
 *	(default 1000) per instruction, the instructions interleaved round by
 *	round.  One line per instruction:
 *	    insn NAME min_ns median_ns p90_ns min_cycles median_cycles
 *	and "tsc_ghz F" (the TSC rate, calibrated against CLOCK_MONOTONIC).
 *	The bracket's cost is included in every figure; it is its own row.
 *
 *   libc-cost trace CMD [ARG...]
 *	Runs CMD under ptrace, single-stepping every user-space instruction
 *	from execve to exit, and counts the instructions, the cpuid
 *	instructions (bytes 0F A2 at RIP) and the rdtsc ones (0F 31):
 *	    trace insns N cpuid M rdtsc K status S
 *	    cpuid_leaf EAX ECX COUNT        (one line per leaf/subleaf seen;
 *	                                     ECX "-" for leaves without subleaves)
 *	Only CMD's own process is traced, not the children it starts.
 *
 *   libc-cost faults [-n N] CMD [ARG...] [-:- CMD [ARG...]]...
 *	Runs CMD N times (default 21) and prints the minor and major page
 *	faults of its runs (getrusage of the child, from wait4); with several
 *	commands, each iteration runs them in turn (acquire -:- release), and
 *	there is one line per command:
 *	    faults minflt_min minflt_median minflt_max majflt_max fails
 *
 *   libc-cost fault [-p PAGES] [-r ROUNDS]
 *	The cost of one page fault of each kind a process start takes:
 *	anon (first write to a private anonymous page: bss, heap, stack),
 *	cow (first write to a private file page: .data), file (first read of a
 *	file page already in the page cache: text; the kernel maps up to 16
 *	neighbouring pages per fault, "fault-around").  A mapping of PAGES
 *	pages (default 256) is touched page by page; the time over the
 *	faults counted by getrusage is the cost of one.  ROUNDS (default 30)
 *	fresh mappings each, interleaved:
 *	    fault KIND min_ns median_ns pages_per_fault
 *
 * x86-64 Linux only (cpuid, rdtsc, user_regs_struct).  Built by
 * bench/libc-cost with cc -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
int main(void)
{
	fprintf(stderr, "libc-cost: x86-64 only\n");
	return 69;
}
#else
#include <cpuid.h>
#include <x86intrin.h>

extern char **environ;

static void die(const char *msg)
{
	fprintf(stderr, "libc-cost: %s: %s\n", msg, strerror(errno));
	exit(70);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- insn */

static inline uint64_t t_begin(void)
{
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
}

static inline uint64_t t_end(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);

	_mm_lfence();
	return t;
}

static double tsc_ghz(void)
{
	double n0 = mono_ns(), n1;
	uint64_t t0 = t_begin(), t1;

	do
		n1 = mono_ns();
	while (n1 - n0 < 100e6);
	t1 = t_end();
	return (double)(t1 - t0) / (n1 - n0);
}

enum { OP_NONE, OP_RDTSC, OP_CPUID, OP_SYSCALL };
static const struct op {
	const char *name;
	int kind;
	unsigned leaf, sub;
} ops[] = {
	{ "bracket(empty)", OP_NONE, 0, 0 },
	{ "rdtsc", OP_RDTSC, 0, 0 },
	{ "cpuid(0x0)", OP_CPUID, 0x0, 0 },
	{ "cpuid(0x1)", OP_CPUID, 0x1, 0 },
	{ "cpuid(0x7,0)", OP_CPUID, 0x7, 0 },
	{ "cpuid(0x80000001)", OP_CPUID, 0x80000001, 0 },
	{ "cpuid(0x8000001d,0)", OP_CPUID, 0x8000001d, 0 },
	{ "getppid(syscall)", OP_SYSCALL, 0, 0 },
};
#define NOPS (sizeof ops / sizeof ops[0])

static uint64_t once(const struct op *o)
{
	unsigned a, b, c, d;
	uint64_t t0, t1;

	switch (o->kind) {
	case OP_RDTSC:
		t0 = t_begin();
		(void)__rdtsc();
		t1 = t_end();
		break;
	case OP_CPUID:
		t0 = t_begin();
		__cpuid_count(o->leaf, o->sub, a, b, c, d);
		t1 = t_end();
		__asm__ volatile("" : : "r"(a), "r"(b), "r"(c), "r"(d));
		break;
	case OP_SYSCALL:
		t0 = t_begin();
		syscall(SYS_getppid);
		t1 = t_end();
		break;
	default:
		t0 = t_begin();
		t1 = t_end();
	}
	return t1 - t0;
}

static int cmd_insn(int argc, char **argv)
{
	long n = 1000, rounds = 20;
	int opt;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'r')
			rounds = atol(optarg);
		else
			return 64;
	}
	if (n < 1 || rounds < 1)
		return 64;
	double ghz = tsc_ghz();
	uint64_t *s[NOPS];

	for (size_t k = 0; k < NOPS; k++) {
		s[k] = malloc(sizeof(uint64_t) * (size_t)(n * rounds));
		if (!s[k])
			die("malloc");
	}
	for (long r = 0; r < rounds; r++)
		for (size_t k = 0; k < NOPS; k++) {
			const struct op *o = &ops[(k + (size_t)r) % NOPS];
			uint64_t *dst = s[(k + (size_t)r) % NOPS] + r * n;

			for (long i = 0; i < 10; i++) /* warm the path */
				once(o);
			for (long i = 0; i < n; i++)
				dst[i] = once(o);
		}
	printf("tsc_ghz %.4f\n", ghz);
	for (size_t k = 0; k < NOPS; k++) {
		long m = n * rounds;

		qsort(s[k], (size_t)m, sizeof(uint64_t), cmp_u64);
		printf("insn %s %.1f %.1f %.1f %llu %llu\n", ops[k].name,
		       (double)s[k][0] / ghz, (double)s[k][m / 2] / ghz,
		       (double)s[k][m * 9 / 10] / ghz,
		       (unsigned long long)s[k][0],
		       (unsigned long long)s[k][m / 2]);
	}
	return 0;
}

/* ---------------------------------------------------------------- trace */

struct leaf {
	unsigned eax, ecx;
	long count;
};

/* leaves whose output depends on ECX; for the others ECX is whatever the
 * register held, and is not reported */
#define NO_SUB 0xffffffffu
static int has_subleaf(unsigned leaf)
{
	static const unsigned sub[] = { 0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12,
		0x14, 0x17, 0x18, 0x1d, 0x1f, 0x20, 0x23, 0x24, 0x8000001d,
		0x80000020, 0x80000026 };

	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
		if (sub[i] == leaf)
			return 1;
	return 0;
}

static pid_t spawn_quiet(char **argv, int traced)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			if (fd > 2)
				close(fd);
		}
		if (traced && ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int cmd_trace(int argc, char **argv)
{
	struct leaf leaves[256];
	int nleaves = 0, status, sig = 0;
	long insns = 0, ncpuid = 0, nrdtsc = 0;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: libc-cost trace CMD [ARG...]\n");
		return 64;
	}
	pid = spawn_quiet(argv + 1, 1);
	/* the stop at execve (SIGTRAP) */
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	if (!WIFSTOPPED(status)) {
		fprintf(stderr, "libc-cost: %s did not start\n", argv[1]);
		return 70;
	}
	ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_EXITKILL);
	for (;;) {
		struct user_regs_struct regs;
		long word;

		if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
			die("PTRACE_GETREGS");
		errno = 0;
		word = ptrace(PTRACE_PEEKTEXT, pid, (void *)regs.rip, 0);
		if (errno == 0) {
			unsigned b0 = (unsigned)word & 0xff;
			unsigned b1 = ((unsigned)word >> 8) & 0xff;

			if (b0 == 0x0f && b1 == 0xa2) {
				unsigned ea = (unsigned)regs.rax;
				unsigned ec = (unsigned)regs.rcx;
				int i;

				if (!has_subleaf(ea))
					ec = NO_SUB;

				ncpuid++;
				for (i = 0; i < nleaves; i++)
					if (leaves[i].eax == ea &&
					    leaves[i].ecx == ec)
						break;
				if (i == nleaves && nleaves < 256)
					leaves[nleaves++] =
						(struct leaf){ ea, ec, 0 };
				if (i < nleaves)
					leaves[i].count++;
			} else if (b0 == 0x0f && b1 == 0x31) {
				nrdtsc++;
			}
		}
		if (ptrace(PTRACE_SINGLESTEP, pid, 0, (void *)(long)sig) < 0)
			die("PTRACE_SINGLESTEP");
		sig = 0;
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		insns++;
		if (WIFSTOPPED(status) && WSTOPSIG(status) != SIGTRAP)
			sig = WSTOPSIG(status);
	}
	printf("trace insns %ld cpuid %ld rdtsc %ld status %d\n", insns,
	       ncpuid, nrdtsc,
	       WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status));
	for (int i = 0; i < nleaves; i++)
		if (leaves[i].ecx == NO_SUB)
			printf("cpuid_leaf 0x%x - %ld\n", leaves[i].eax,
			       leaves[i].count);
		else
			printf("cpuid_leaf 0x%x 0x%x %ld\n", leaves[i].eax,
			       leaves[i].ecx, leaves[i].count);
	return 0;
}

/* ---------------------------------------------------------------- faults */

static int cmd_faults(int argc, char **argv)
{
	long n = 21;
	int opt, ncmd = 0;
	char **cmd[16];

	while ((opt = getopt(argc, argv, "+n:")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else
			return 64;
	}
	if (n < 1 || optind >= argc) {
		fprintf(stderr, "usage: libc-cost faults [-n N] CMD [ARG...] "
			"[-:- CMD [ARG...]]...\n");
		return 64;
	}
	/* split at "-:-": each iteration runs the commands in turn */
	for (int i = optind; i < argc && ncmd < 16;) {
		int j = i;

		while (j < argc && strcmp(argv[j], "-:-") != 0)
			j++;
		argv[j < argc ? j : argc] = NULL;
		cmd[ncmd++] = &argv[i];
		i = j + 1;
	}
	long *mf = calloc((size_t)(n * ncmd), sizeof *mf);
	long majmax[16] = { 0 }, fails[16] = { 0 };

	if (!mf)
		die("calloc");
	for (long i = 0; i < n; i++)
		for (int c = 0; c < ncmd; c++) {
			struct rusage ru;
			int status;
			pid_t pid = spawn_quiet(cmd[c], 0);

			while (wait4(pid, &status, 0, &ru) < 0)
				if (errno != EINTR)
					die("wait4");
			if (status != 0)
				fails[c]++;
			mf[c * n + i] = ru.ru_minflt;
			if (ru.ru_majflt > majmax[c])
				majmax[c] = ru.ru_majflt;
		}
	for (int c = 0; c < ncmd; c++) {
		long *v = mf + c * n;

		qsort(v, (size_t)n, sizeof *v, cmp_long);
		printf("faults %ld %ld %ld %ld %ld\n", v[0], v[n / 2], v[n - 1],
		       majmax[c], fails[c]);
	}
	return 0;
}

/* ---------------------------------------------------------------- fault */

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

enum { K_ANON, K_COW, K_FILE, NKINDS };
static const char *kind_name[NKINDS] = { "anon", "cow", "file" };

/* one round of KIND: ns per fault, and pages per fault */
static double fault_round(int kind, int fd, long pages, double *ppf)
{
	long psz = sysconf(_SC_PAGESIZE), f0, f1;
	size_t len = (size_t)(pages * psz);
	volatile char *p;
	double t0, t1;
	unsigned sum = 0;

	if (kind == K_ANON)
		p = mmap(0, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	madvise((void *)p, len, MADV_NOHUGEPAGE);
	f0 = minflt();
	t0 = mono_ns();
	for (long i = 0; i < pages; i++) {
		if (kind == K_FILE)
			sum += (unsigned)p[i * psz];
		else
			p[i * psz] = 1;
	}
	t1 = mono_ns();
	f1 = minflt();
	munmap((void *)p, len);
	__asm__ volatile("" : : "r"(sum));
	if (f1 - f0 < 1)
		return -1;
	*ppf = (double)pages / (double)(f1 - f0);
	return (t1 - t0) / (double)(f1 - f0);
}

static int cmd_fault(int argc, char **argv)
{
	long pages = 256, rounds = 30, psz = sysconf(_SC_PAGESIZE);
	char path[] = "/dev/shm/libc-cost.XXXXXX";
	double *ns[NKINDS], ppf[NKINDS] = { 0 };
	int opt, fd;

	while ((opt = getopt(argc, argv, "p:r:")) != -1) {
		if (opt == 'p')
			pages = atol(optarg);
		else if (opt == 'r')
			rounds = atol(optarg);
		else
			return 64;
	}
	if (pages < 1 || rounds < 1)
		return 64;
	fd = mkstemp(path);
	if (fd < 0) {
		strcpy(path, "/tmp/libc-cost.XXXXXX");
		fd = mkstemp(path);
	}
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	{
		char *buf = calloc(1, (size_t)psz);

		if (!buf)
			die("calloc");
		for (long i = 0; i < pages; i++) {
			buf[0] = (char)i;
			if (write(fd, buf, (size_t)psz) != psz)
				die("write");
		}
		free(buf);
	}
	for (int k = 0; k < NKINDS; k++) {
		ns[k] = calloc((size_t)rounds, sizeof(double));
		if (!ns[k])
			die("calloc");
	}
	for (int k = 0; k < NKINDS; k++) /* warm-up */
		fault_round(k, fd, pages, &ppf[k]);
	for (long r = 0; r < rounds; r++)
		for (int k = 0; k < NKINDS; k++)
			ns[k][r] = fault_round(k, fd, pages, &ppf[k]);
	for (int k = 0; k < NKINDS; k++) {
		qsort(ns[k], (size_t)rounds, sizeof(double), cmp_double);
		printf("fault %s %.0f %.0f %.1f\n", kind_name[k], ns[k][0],
		       ns[k][rounds / 2], ppf[k]);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "insn") == 0)
		return cmd_insn(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "trace") == 0)
		return cmd_trace(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "faults") == 0)
		return cmd_faults(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "fault") == 0)
		return cmd_fault(argc - 1, argv + 1);
	fprintf(stderr, "usage: libc-cost insn|trace|faults|fault ...\n"
		"(see the comment at the top of bench/libc-cost.c)\n");
	return 64;
}
#endif
