/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli.h - what every tool shares at the command line: the exit statuses of
 * DESIGN.md §4, the common options, error messages, the close of stdout,
 * JSON strings, and running a wrapped command.
 *
 * This is the only library module that prints or exits; functions that
 * may exit end in _or_exit or are named mp_die/mp_fail.
 */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <argp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "owner.h"

enum mp_exit {
	MP_EXIT_OK = 0,
	MP_EXIT_NO = 1,		/* a query's answer is "no"; release by non-owner */
	MP_EXIT_END = 2,	/* end of queue: closed (and drained) */
	MP_EXIT_USAGE = 64,
	MP_EXIT_DATAERR = 65,	/* corrupt object, wrong kind, oversized message */
	MP_EXIT_NOINPUT = 66,	/* no such object */
	MP_EXIT_UNAVAILABLE = 69,	/* the store cannot be used */
	MP_EXIT_SOFTWARE = 70,	/* internal error */
	MP_EXIT_OSERR = 71,	/* system error */
	MP_EXIT_CANTCREAT = 73,
	MP_EXIT_IOERR = 74,
	MP_EXIT_BUSY = 75,	/* -n and it would block */
	MP_EXIT_NOPERM = 77,
	MP_EXIT_TIMEOUT = 124,
	MP_EXIT_CANNOT_EXEC = 126,
	MP_EXIT_NOT_FOUND = 127,
};

/* The common options, filled by mp_cli_argp (a child parser). */
struct mp_cli {
	int nonblock;		/* -n, or -t 0 */
	int64_t timeout_ns;	/* -t/-w; -1: none */
	int conflict_code;	/* -E; -1: none */
	int quiet, verbose, json;
	int existing;		/* -e or $MP_EXISTING: a missing object is 66 */
	const char *dir;	/* --dir or --store, else NULL ($MP_STORE, $MP_DIR or the
				 * default) */
	int64_t lease_ns;	/* --lease (holds on a Redis store) */
};
extern struct mp_cli mp_cli;
extern const struct argp mp_cli_argp;
/* --lease, for the tools whose verbs take holds (mplock, mpsem). */
extern const struct argp mp_cli_lease_argp;
extern const struct argp mp_cli_group_lease_argp;	/* --lease of mpspawn */

/* Sets program name, version and the parser's usage error status (64), installs the
 * termination-signal flag handlers and the close-stdout check at exit. */
void mp_cli_init(const char *version);

/* Deadline of the common -n/-t options: 0 forever; see mp_deadline(). */
int64_t mp_cli_deadline(void);

/* Maps a library -errno to the exit status of DESIGN §4 (busy and timeout
 * replaced by -E when given; -EINTR → 128 + the signal). */
int mp_exit_status(int rc);

/* Prints "prog: MESSAGE" on stderr. */
void mp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "prog: MESSAGE" (with -v only). */
void mp_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "prog: MESSAGE" and exits with status. */
void mp_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* Exits with mp_exit_status(rc) after printing "prog: " and the library's
 * reason (mp_errmsg()), else "WHAT: strerror".  For -EINTR nothing is
 * printed; for busy/timeout only with -v (and not -q), as flock. */
void mp_fail(int rc, const char *what_fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Opens the store (--dir, $MP_DIR or the default) or exits 69 ("store
 * unavailable", DESIGN §4) naming it and the reason, whatever the reason:
 * refused (not ours, wrong mode, a symlink), not a directory, cannot be
 * created.  _dir_: the store dir (NULL: $MP_DIR or the default). */
struct mp_store;
void mp_store_open_or_exit(struct mp_store *s);
void mp_store_open_dir_or_exit(struct mp_store *s, const char *dir);

/* Validates NAME or exits 64 naming the bad character. */
void mp_check_name_or_exit(const char *name);

/* Parses --owner: "none" → pid 0; a pid of a live process → its identity;
 * exits 64 (bad syntax) or 66 (no such process). */
void mp_parse_owner_or_exit(const char *arg, struct mp_owner *o);

/* The hold options of the verbs that take something for an owner (mplock
 * and mpsem acquire/release, mpqueue get --lease/ack).  Each tool lists
 * them among its options, with its own help text, under these keys; its
 * own keys start at MP_OPT_TOOL. */
enum { MP_OPT_OWNER = 0x1f00, MP_OPT_TTL, MP_OPT_FORCE, MP_OPT_TOOL = 0x2000 };

struct mp_hold_opts {
	struct mp_owner owner;	/* --owner PID|none, when have_owner */
	int have_owner;
	int64_t ttl_ns;		/* --ttl DURATION; 0: none */
	int force;		/* --force */
};

/* Parses key into h if it is MP_OPT_OWNER, _TTL or _FORCE and returns 0;
 * returns ARGP_ERR_UNKNOWN for any other key.  A bad value is a usage
 * error (64); an --owner that is not a live process, 66. */
int mp_hold_opt_parse(int key, char *arg, struct argp_state *state, struct mp_hold_opts *h);

/* Default owner for acquire-mode verbs: the caller's parent process.  Exits
 * 66 when the caller has died: a zombie, or this process was adopted (its
 * parent is in another process group, and it does not lead its own). */
void mp_default_owner_or_exit(struct mp_owner *o);

/* Writes s as a JSON string (with quotes) to f. */
void mp_json_str(FILE *f, const char *s);
/* Writes a time in ns since the epoch as RFC 3339 local time to buf
 * (2026-12-03T16:04:05+01:00; len >= 26). */
char *mp_format_time(int64_t realtime_ns, char *buf, size_t len);

/* A wrapped command. */
struct mp_cmd {
	char **argv;		/* what is executed */
	char *path;		/* argv[0] resolved through PATH (in path_buf);
				 * NULL if not found */
	int status_if_fail;	/* 127 not found, 126 not executable */
	char *sh_argv[4];	/* for -c STRING */
	pid_t pid;
	uint64_t start;		/* the child's start time (clock ticks since
				 * boot) when the clock pinned it, else 0 */
	char path_buf[PATH_MAX];
};

/* execve, and for a script without #! /bin/sh with it, as execvp does.
 * Returns the errno of the failure.  Async-signal-safe (for vfork). */
int mp_cmd_execve(const char *path, char **argv, char **envp);

/* Resolves the command: argv (exec'd directly), or shell_string for -c
 * (run by /bin/sh -c).  Never fails: a missing command is reported by
 * mp_cmd_start(). */
void mp_cmd_prepare(struct mp_cmd *c, char **argv, const char *shell_string);

/* Starts the command as a child that is SIGKILLed if this process dies
 * (PR_SET_PDEATHSIG, checked against a parent that died first).  Returns
 * 0, or the exit status to use (126/127) after printing why. */
int mp_cmd_start(struct mp_cmd *c);

/* Waits for the command, forwarding INT, TERM and HUP sent to this process
 * (signals from the terminal already reached the command's process group
 * and are not sent twice).  Returns its exit status, 128+N if signal N
 * killed it. */
int mp_cmd_wait(struct mp_cmd *c);

/* run --ttl D: the command gets SIGTERM after D, SIGKILL this much later,
 * and its hold is recorded with a TTL of D plus MP_RUN_TTL_GRACE_NS, so
 * that it outlives the command even when the wrapper cannot act (stopped). */
#define MP_RUN_TTL_KILL_NS	(5 * 1000000000LL)
#define MP_RUN_TTL_GRACE_NS	(6 * 1000000000LL)

/* As mp_cmd_wait(), ending the command (TERM, then KILL after
 * MP_RUN_TTL_KILL_NS) if it still runs ttl_ns from now (0: no bound);
 * *expired tells whether it had to. */
int mp_cmd_wait_ttl(struct mp_cmd *c, int64_t ttl_ns, int *expired);

/* Waits until process pid (a child, not reaped by this) has ended, at most
 * ttl_ns (0: returns 0 at once); if it still runs then, sends SIGTERM, and
 * SIGKILL kill_ns later (at once if kill_ns is 0).  Returns 1 if it had to
 * end it, 0 if not; the caller reaps it. */
int mp_pid_end_after(pid_t pid, int64_t ttl_ns, int64_t kill_ns);

/* Exit handler: a failed write or close of stdout exits 74. */
void mp_close_stdout(void);

#endif
