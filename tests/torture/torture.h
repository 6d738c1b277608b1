/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* torture.h - the parts of mptorture shared by the driver and the kinds. */
#ifndef MPT_TORTURE_H
#define MPT_TORTURE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

enum { K_LOCK, K_RWLOCK, K_SEM, K_QUEUE, K_EVENT, K_SPAWN, K_VAR, NKINDS };

#define MAXSLOTS	64	/* concurrent clients, all kinds */
#define NWIT		8	/* witness tables */
#define WSLOTS		256	/* entries per witness table */
#define RING		32768	/* registry entries */
#define SHM_MAGIC	0x4d50544f52545552ULL

struct counters {
	uint64_t clients;	/* client processes started */
	uint64_t ops;		/* tool calls made by clients */
	uint64_t kills;		/* SIGKILLs sent by the harness */
	uint64_t faults;	/* tool calls that died at a fault point */
	uint64_t checks;	/* quiesce-and-check rounds */
	uint64_t violations;
	uint64_t stops;		/* SIGSTOPs sent (--stop-every) */
};

/* A client's place in the table the killer reads. */
struct slot {
	int32_t client;		/* pid of the client process; 0: free */
	int32_t tool;		/* pid of the tool it is running; 0: none */
	int32_t last_killed;	/* the last pid the killer sent SIGKILL to */
	int32_t kind;
	/* CLOCK_MONOTONIC ns: the killer leaves this slot (client and tool)
	 * alone until then; a checker that must watch a process for a while
	 * sets it (see spare_tool()) */
	int64_t spare_until;
};

/* Who is inside the critical sections of one object. */
struct witness {
	char name[48];
	uint32_t capacity;	/* the sum of live weights may not exceed it */
	uint32_t pad;
	uint64_t w[WSLOTS];	/* see w_pack() in witness.c */
	uint32_t gen[WSLOTS];	/* bumped before each entry is taken */
};

struct reg {
	uint64_t tag;
	uint64_t word;
};

/* The end of a tool call, for checkers that match pids (event waiters). */
struct endrec {
	int32_t pid;		/* written last; 0: empty */
	int32_t status;		/* exit status, 128 + signal */
	int64_t t0, t1;		/* CLOCK_MONOTONIC around the call */
};
#define ENDRING		8192

struct shm {
	uint64_t magic;
	int32_t killing;	/* slot the killer is looking at; -1 none */
	int32_t stop;
	int32_t sabotage;
	int32_t paused[NKINDS];
	uint64_t next_tag;
	uint64_t reg_next;
	uint64_t printed;
	uint64_t checks_run;
	int64_t t_start;	/* the run's start (now_ns): violations' times */
	char workdir[PATH_MAX];
	struct counters k[NKINDS];
	struct slot slots[MAXSLOTS];
	struct witness wit[NWIT];
	struct reg reg[RING];
	uint64_t stat[NKINDS][5];	/* kinds' own counts, see their report */
	struct endrec ends[ENDRING];
	uint64_t ends_next;
};

struct client {
	int slot, kind;
	int rank;		/* its place among the kind's clients: 0, 1, ... */
	int errfd;		/* the kind's .stderr file */
	uint64_t id;		/* unique in the run */
	uint64_t seq;		/* the client's own counter */
	/* called by run_tool just after the tool started (may be NULL) */
	void (*meddle)(struct client *c, pid_t tool);
	void *priv;
};

/* The result of a tool call. */
struct tres {
	pid_t pid;
	int status;		/* exit status, or 128 + signal */
	int sig;		/* killed by this signal; 0: exited */
	int killed;		/* SIGKILL */
	int by_harness;		/* ... sent by the killer (else a fault point) */
	int64_t t0, t1;		/* CLOCK_MONOTONIC ns around the call */
};

struct kind {
	const char *name;
	const char *tools[4];	/* binaries it needs (NULL-terminated) */
	int clients;		/* default number of concurrent clients */
	void (*setup)(void);	/* in the driver, before any client */
	void (*op)(struct client *c);	/* one operation, in a client */
	/* in the driver, every client killed: check the object; final: the
	 * end of the run */
	void (*check)(int final);
	/* in the driver, at the end: print the kind's own counts (or NULL) */
	void (*report)(void);
};

enum { DEAD, DYING, LIVE };

/* util.c */
extern struct shm *S;
extern int nclients[NKINDS];	/* clients of each kind in this run */
extern const char *workdir;
extern int sabotage;
extern int verbose;		/* -v: notes on stderr too */
extern int64_t t_start;	/* now_ns() at the run's start */

void kinds_register(const struct kind **table);
const char *kind_name(int k);

int64_t now_ns(void);
double elapsed_s(void);
void sleep_ns(int64_t ns);
void rnd_seed(uint64_t s);
uint64_t rnd(void);
uint32_t rnd_below(uint32_t n);
void violation(int kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Says why on stderr, stops the run's clients and exits 70. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

int proc_stat(pid_t pid, char *state, unsigned *flags, uint64_t *start);
int proc_liveness(pid_t pid, uint64_t start_low, uint64_t start_mask);
uint64_t self_start(void);

/* witness.c */
void end_add(pid_t pid, int status, int64_t t0, int64_t t1);
const struct endrec *end_find(pid_t pid, int64_t before);
void critical_section(int kind, int wi, unsigned weight, unsigned tag, int64_t hold_ns,
		      unsigned die_pm);
void reg_add(uint64_t tag, pid_t pid, uint64_t start);
void reg_each(uint64_t lo, uint64_t hi,
	      void (*fn)(uint64_t tag, pid_t pid, uint64_t start_low, void *arg), void *arg);
#define REG_START_MASK	((1ULL << 25) - 1)

/* run.c */
/* Where the tools are: bin (--bin), else $MP_TOP_BUILDDIR/src, else the
 * src/ of the build tree this binary is in. */
void run_paths(const char *bin);
/* The tools' environment (MP_DIR the run's store; MP_FAULT=fault for the
 * clients' tools when fault is given), once workdir is known. */
void run_envs(const char *fault);
const char *tool_path(const char *tool);
const char *self_path(void);
void run_tool(struct client *c, char *const argv[], int outfd, struct tres *r);
int run_check(char *const argv[], char *out, size_t cap);
int run_check_fd(char *const argv[], int outfd);
int expect(struct client *c, const struct tres *r, char *const argv[], const int *allowed);
char *argv_str(char *const argv[], char *buf, size_t cap);

/* ns.c: --ns */
extern int ns_mode;
/* Enters a mount namespace of the harness's own with the harness's /proc
 * bound at WORK/hostproc ($MPT_HOSTPROC): 0 or -errno. */
int ns_setup(const char *work);
/* Unmounts WORK/hostproc (at the end of a --ns run). */
void ns_cleanup(const char *work);
/* Enters a mount namespace of the harness's own with the harness's /proc
 * bound at WORK/hostproc ($MPT_HOSTPROC), for --ns and --hidepid: 0 or
 * -errno; and unmounts it. */
int hostproc_setup(const char *work);
void hostproc_cleanup(const char *work);
/* argv as run_tool must run it: a `run` of mplock or mpsem in a pid
 * namespace of its own under --ns (in buf, of cap entries), else argv. */
char *const *ns_wrap(char *const argv[], char *buf[], size_t cap);
/* The /proc of the harness's pid namespace, and this process's pid and
 * start time there (from inside a --ns namespace too). */
const char *proc_root(void);
pid_t self_pid(void);

/* users.c: --users UID1,UID2:GID and --hidepid */
extern int users_mode, hidepid_mode;
/* Parses UID1,UID2:GID; 0, or -1 if it does not parse. */
int users_parse(const char *arg);
/* In the driver, with WORK/store made: gives WORK and the store to the
 * group (2770), and with --hidepid mounts a hidepid=2 /proc in a mount
 * namespace of the harness's own.  NULL, or why it cannot. */
const char *users_setup(const char *work);
/* In the driver, once WORK/shm exists: NULL when both users can use the
 * run (and /proc hides under --hidepid), else why not. */
const char *users_check(const char *work);
/* In a child about to run tools: becomes user rank % 2 (exits 70 if it
 * cannot).  Nothing without --users. */
void users_become(int rank);
void users_cleanup(const char *work);
/* " (users ...)" for the header line, or "". */
const char *users_describe(void);

int cs_main(int argc, char **argv);
int worker_main(int argc, char **argv);
int qwork_main(int argc, char **argv);
void spawn_meddle(struct client *c, pid_t front);
int spare_tool(pid_t tool, int64_t until);
void spare_slot(int slot, int64_t until);

#endif
