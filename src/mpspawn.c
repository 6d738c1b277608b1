/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpspawn - start, join and supervise worker processes from shell scripts.
 *
 *   mpspawn [OPTION...] [-j N] [--name NAME] (-c STRING | [--] CMD...)
 *   mpspawn [OPTION...] --daemon [--owner PID|none] ... CMD...
 *   mpspawn [OPTION...] -j N --queue QNAME [--stdin] [--keep-order] [--ttl D] ... CMD...
 *   mpspawn [OPTION...] --listen [HOST:]PORT|unix:PATH [-j N] [--backlog N] ... CMD...
 *   mpspawn ls | status NAME | wait NAME [-t D] | kill NAME [--signal SIG]
 *   mpspawn is-alive NAME | rm NAME | beat
 *
 * Guarantee: no orphans, no zombies.  Every process started below
 * mpspawn is reaped by it (it is a subreaper), and is killed when the
 * group ends: normally, by a signal, or when mpspawn is SIGKILLed (see
 * lib/supervise.h for how, and what still escapes).  The group's record
 * in the store says, per worker, its pid, state, start, restarts and exit
 * status; it is never wrong about a group being alive.  A server
 * (--listen) is such a group whose workers are its connections' handlers.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/err.h"
#include "lib/listen.h"
#include "lib/obj.h"
#include "lib/owner.h"
#include "lib/parse.h"
#include "lib/progress.h"
#include "lib/queue.h"
#include "lib/spawn.h"
#include "lib/store.h"
#include "lib/supervise.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/obj.h"
#include "lib/show.h"
#include "lib/signals.h"
#include "lib/verbs.h"

enum { V_SPAWN = MP_VERB_TOOL, V_STATUS, V_WAIT, V_KILL, V_BEAT, V_IS_ALIVE };

static const struct mp_verb verbs[] = {
	MP_VERB_LS_ENTRY, { "status", V_STATUS, MP_VERB_ONE_NAME },
	{ "info", V_STATUS, MP_VERB_ONE_NAME }, { "wait", V_WAIT, MP_VERB_ONE_NAME },
	{ "kill", V_KILL, MP_VERB_ONE_NAME }, { "beat", V_BEAT, MP_VERB_NO_NAME },
	{ "is-alive", V_IS_ALIVE, MP_VERB_ONE_NAME }, MP_VERB_RM_ENTRY,
};

/* Options that only make sense when starting a group. */
enum { S_WORKERS = 1, S_NAME = 2, S_TAG = 4, S_KILLAFTER = 8, S_RESTART = 16,
       S_FAILFAST = 32, S_DAEMON = 64, S_OWNER = 128, S_HEARTBEAT = 256, S_QUEUE = 512,
       S_STDIN = 1024, S_COMMAND = 2048, S_LISTEN = 4096, S_BACKLOG = 8192, S_ORDER = 16384,
       S_PROGRESS = 32768, S_TTL = 65536 };

static struct {
	struct mp_verb_line line;
	int verb;
	int have_verb;
	const char *name;
	char **cmd;
	const char *shell;
	uint32_t workers;
	int tag, restart, fail_fast, daemon, use_stdin, progress;
	uint32_t max_restarts;
	int64_t kill_after_ns, heartbeat_ns, ttl_ns;
	int sig, have_sig;
	struct mp_owner owner;
	int have_owner;
	const char *queue;
	const char *listen;
	struct mp_listen_addr addr;
	uint32_t backlog;
	int keep_order;
	unsigned seen;
} opt = { .workers = 1, .max_restarts = UINT32_MAX, .kill_after_ns = 5000000000LL,
	  .sig = SIGTERM, .backlog = 4096 };

enum { OPT_NAME = 0x2000, OPT_TAG, OPT_RESTART, OPT_MAX_RESTARTS, OPT_FAIL_FAST, OPT_DAEMON,
       OPT_OWNER, OPT_HEARTBEAT, OPT_QUEUE, OPT_STDIN, OPT_SIGNAL, OPT_LISTEN, OPT_BACKLOG,
       OPT_KEEP_ORDER, OPT_PROGRESS, OPT_TTL };

static const struct argp_option options[] = {
	{ "jobs", 'j', "N", 0, "Start N workers (default 1)", 1 },
	{ "name", OPT_NAME, "NAME", 0, "Name of the group (default spawn-PID)", 1 },
	{ "command", 'c', "STRING", 0, "Run STRING with /bin/sh -c", 1 },
	{ "tag", OPT_TAG, 0, 0, "Prefix each output line with [ID] and write it whole", 1 },
	{ "fail-fast", OPT_FAIL_FAST, 0, 0, "End the other workers when one fails", 1 },
	{ "kill-after", 'k', "DURATION", 0, "SIGKILL what is left DURATION after an ending "
	  "signal (default 5s; 0: at once)", 1 },
	{ "signal", OPT_SIGNAL, "SIG", 0, "kill: the signal to send (default TERM); with --timeout: "
	  "the signal sent when the time is up", 1 },
	{ "restart", OPT_RESTART, "POLICY", 0, "on-failure: restart a worker that fails; "
	  "no (the default)", 1 },
	{ "max-restarts", OPT_MAX_RESTARTS, "N", 0, "Restart each worker at most N times", 1 },
	{ "heartbeat", OPT_HEARTBEAT, "DURATION", 0, "status reports the group stale when a "
	  "worker has not run 'mpspawn beat' for DURATION", 1 },
	{ "daemon", OPT_DAEMON, 0, 0, "Return at once, printing the group's name; the workers "
	  "end when the calling process exits", 2 },
	{ "owner", OPT_OWNER, "PID|none", 0, "--daemon: end the workers when PID exits "
	  "(default: the caller; none: never)", 2 },
	{ "queue", OPT_QUEUE, "QNAME", 0, "A pool: each worker runs CMD once per message of "
	  "queue QNAME, the message as its last argument", 3 },
	{ "stdin", OPT_STDIN, 0, 0, "--queue: give the message on standard input instead", 3 },
	{ "keep-order", OPT_KEEP_ORDER, 0, 0, "--queue: print each message's output in the "
	  "order the messages were taken", 3 },
	{ "ttl", OPT_TTL, "DURATION", 0, "--queue: end a message's command after DURATION "
	  "(then it failed, with 124)", 3 },
	{ "listen", OPT_LISTEN, "ADDR", 0, "A server: run CMD once per connection to ADDR "
	  "([HOST:]PORT, [IPV6]:PORT or unix:PATH), at most -j at once", 4 },
	{ "backlog", OPT_BACKLOG, "N", 0, "--listen: connections waiting to be accepted "
	  "(default 4096)", 4 },
	{ "progress", OPT_PROGRESS, 0, 0, "A progress line on stderr (workers ended, or "
	  "messages done of those queued; rate, ETA) when it is a terminal", 3 },
	{ 0 }
};

static void need_duration(struct argp_state *state, const char *what, const char *arg,
			  int64_t *ns)
{
	char why[160];

	if (mp_parse_duration(arg, ns, why, sizeof why))
		argp_error(state, "%s: %s", what, why);
}

static void need_positive(struct argp_state *state, const char *what, const char *arg,
			  int64_t *ns)
{
	need_duration(state, what, arg, ns);
	if (*ns == 0)
		argp_error(state, "%s: must be more than 0", what);
}

/* The rules between options, once all are known. */
static void check_options(struct argp_state *state)
{
	if (!opt.have_verb) {
		opt.verb = V_SPAWN;
		if (!opt.cmd && !opt.shell)
			argp_error(state, "a command (or -c STRING) or a verb is needed");
		if (opt.cmd && opt.shell)
			argp_error(state, "give a command or -c STRING, not both");
		if ((opt.seen & S_OWNER) && !opt.daemon)
			argp_error(state, "--owner is for --daemon");
		if ((opt.seen & S_STDIN) && !opt.queue)
			argp_error(state, "--stdin is for --queue");
		if (opt.progress && opt.daemon)
			argp_error(state, "--progress is not for --daemon (it returns at once)");
		if (opt.max_restarts != UINT32_MAX && !opt.restart)
			argp_error(state, "--max-restarts needs --restart on-failure");
		if ((opt.seen & S_ORDER) && !opt.queue)
			argp_error(state, "--keep-order is for --queue");
		if ((opt.seen & S_TTL) && !opt.queue)
			argp_error(state, "--ttl is for --queue");
		if ((opt.seen & S_BACKLOG) && !opt.listen)
			argp_error(state, "--backlog is for --listen");
		if (opt.listen && (opt.seen & (S_QUEUE | S_RESTART | S_FAILFAST | S_HEARTBEAT)))
			argp_error(state, "--listen does not go with --queue, --restart, "
				   "--fail-fast or --heartbeat");
		return;
	}
	mp_verb_parse_end(&opt.line, state, "group");
	opt.verb = opt.line.verb->id;
	opt.name = opt.line.names[0];
	if (opt.seen)
		argp_error(state, "options for starting a group were given to a verb");
	if (opt.have_sig && opt.verb != V_KILL)
		argp_error(state, "--signal is for kill (or a group with --timeout)");
}

static int parse_opt(int key, char *arg, struct argp_state *state)
{
	char why[160];
	uint64_t v;

	switch (key) {
	case 'j':
		if (mp_parse_count(arg, 1, MP_SPAWN_MAX_WORKERS, &v, why, sizeof why))
			argp_error(state, "--jobs: %s", why);
		opt.workers = (uint32_t)v;
		opt.seen |= S_WORKERS;
		break;
	case OPT_NAME:
		opt.name = arg;
		opt.seen |= S_NAME;
		break;
	case 'c':
		opt.shell = arg;
		opt.seen |= S_COMMAND;
		break;
	case OPT_TAG:
		opt.tag = 1;
		opt.seen |= S_TAG;
		break;
	case OPT_FAIL_FAST:
		opt.fail_fast = 1;
		opt.seen |= S_FAILFAST;
		break;
	case 'k':
		need_duration(state, "--kill-after", arg, &opt.kill_after_ns);
		opt.seen |= S_KILLAFTER;
		break;
	case OPT_SIGNAL:
		opt.sig = mp_parse_signal(arg);
		if (opt.sig < 0)
			argp_error(state, "--signal: '%s' is not a signal name or number", arg);
		opt.have_sig = 1;
		break;
	case OPT_RESTART:
		if (!strcmp(arg, "on-failure"))
			opt.restart = 1;
		else if (!strcmp(arg, "no"))
			opt.restart = 0;
		else
			argp_error(state, "--restart: '%s' is not 'on-failure' or 'no'", arg);
		opt.seen |= S_RESTART;
		break;
	case OPT_MAX_RESTARTS:
		if (mp_parse_count(arg, 0, UINT32_MAX - 1, &v, why, sizeof why))
			argp_error(state, "--max-restarts: %s", why);
		opt.max_restarts = (uint32_t)v;
		opt.seen |= S_RESTART;
		break;
	case OPT_HEARTBEAT:
		need_positive(state, "--heartbeat", arg, &opt.heartbeat_ns);
		opt.seen |= S_HEARTBEAT;
		break;
	case OPT_DAEMON:
		opt.daemon = 1;
		opt.seen |= S_DAEMON;
		break;
	case OPT_OWNER:
		mp_parse_owner_or_exit(arg, &opt.owner);
		opt.have_owner = 1;
		opt.seen |= S_OWNER;
		break;
	case OPT_QUEUE:
		opt.queue = arg;
		opt.seen |= S_QUEUE;
		break;
	case OPT_STDIN:
		opt.use_stdin = 1;
		opt.seen |= S_STDIN;
		break;
	case OPT_KEEP_ORDER:
		opt.keep_order = 1;
		opt.seen |= S_ORDER;
		break;
	case OPT_LISTEN:
		if (mp_listen_parse(arg, &opt.addr, why, sizeof why))
			argp_error(state, "--listen: %s", why);
		opt.listen = arg;
		opt.seen |= S_LISTEN;
		break;
	case OPT_BACKLOG:
		if (mp_parse_count(arg, 1, 65535, &v, why, sizeof why))
			argp_error(state, "--backlog: %s", why);
		opt.backlog = (uint32_t)v;
		opt.seen |= S_BACKLOG;
		break;
	case OPT_TTL:
		need_positive(state, "--ttl", arg, &opt.ttl_ns);
		opt.seen |= S_TTL;
		break;
	case OPT_PROGRESS:
		opt.progress = 1;
		opt.seen |= S_PROGRESS;
		break;
	case ARGP_KEY_ARG:
		if (!opt.cmd && !(opt.line.verb == NULL && state->next >= 2 &&
				  !strcmp(state->argv[state->next - 2], "--")) &&
		    !mp_verb_parse_arg(&opt.line, verbs, sizeof verbs / sizeof *verbs, state, arg)) {
			opt.have_verb = 1;
			break;
		}
		if (opt.have_verb)
			argp_error(state, "unexpected argument '%s'", arg);
		/* The command's first word: everything from here on is the
		 * command's, options included. */
		opt.verb = V_SPAWN;
		opt.cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		check_options(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
	{ &mp_cli_argp, 0, "Common options:", 9 },
	{ &mp_cli_group_lease_argp, 0, "Many hosts:", 10 }, { 0 }
};

static const char doc[] =
	"Start, join and supervise worker processes; no orphans, no zombies.\n\n"
	"Verbs:\n"
	"  [--] CMD...          start the workers and wait for all of them\n"
	"  --listen ADDR CMD... serve: CMD once per connection (stdin and stdout)\n"
	"  ls                   list the groups of the store (--json)\n"
	"  status NAME          each worker's pid, state, start, runtime, restarts and\n"
	"                       exit status (--json); exit 1 if the group is stale\n"
	"  wait NAME            wait until the group is over; exit with its status\n"
	"  kill NAME            send SIGTERM (or --signal SIG) to every worker\n"
	"  is-alive NAME        exit 0 if the group is running, 1 if not\n"
	"  rm NAME              remove the record of a group\n"
	"  beat                 (in a worker) report that it is alive\n"
	"\vEach worker gets MP_WORKER_ID (0..N-1), MP_WORKERS and MP_SPAWN_NAME; with\n"
	"--listen, MP_WORKER_ID is the connection's number and tcpserver's PROTO,\n"
	"TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT (or UNIXREMOTEUID, ...).\n"
	"Port 0 picks a free port and prints HOST:PORT first.\n"
	"Exit: 0 all workers exited 0, else the status of the first that failed (128+N\n"
	"for signal N); 124 timed out; 126/127 command cannot run / not found;\n"
	"64 usage; 65 corrupt record; 66 no such group; 69 store unavailable;\n"
	"75 the name is in use.  A server (--listen) exits 0 once stopped; 71 its\n"
	"address is in use, 77 not permitted.  See mpspawn(1).";

static const struct argp argp = {
	options, parse_opt,
	"[-j N] [--name NAME] [--tag] [-t D] [--daemon] (-c STRING | [--] CMD [ARG...])\n"
	"-j N --queue QNAME [--stdin] [--keep-order] [--ttl D] [--] CMD [ARG...]\n"
	"--listen [HOST:]PORT|unix:PATH [-j N] [--backlog N] [--] CMD [ARG...]\n"
	"ls\n"
	"status|wait|kill|is-alive|rm NAME\n"
	"beat",
	doc, children, NULL, NULL
};

/* A group record is made by starting a group: no create verb. */
static const struct mp_kind_cli spawn_cli = {
	&mp_spawn_kind, "group", NULL, mp_show_spawn_info, mp_show_spawn_row,
};

static void open_group(struct mp_obj *o)
{
	mp_verb_open_or_exit(&spawn_cli, opt.name, o);
}

/* "cmd arg arg" for display, on one line. */
static void describe(char *buf, size_t len)
{
	size_t o = 0;
	char *r, *w;

	buf[0] = 0;
	if (opt.shell) {
		snprintf(buf, len, "%s", opt.shell);
	} else {
		for (char **a = opt.cmd; *a && o + 1 < len; a++) {
			int n = snprintf(buf + o, len - o, "%s%s", a == opt.cmd ? "" : " ", *a);
			if (n < 0)
				break;
			o += (size_t)n;
		}
	}
	/* runs of white space (a script given with -c) become one space */
	for (r = w = buf; *r; r++) {
		if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
			if (w > buf && w[-1] != ' ')
				*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	if (w > buf && w[-1] == ' ')
		w--;
	*w = 0;
}

/* --daemon: the detached front is a child of this process; returns once
 * it reports the workers started, printing the group's name. */
static int start_daemon(struct mp_sup_conf *c, struct mp_obj *o)
{
	int ready[2], caller_fd = -1, st;
	pid_t caller, f;
	char b;
	ssize_t r;

	if (!(opt.have_owner && opt.owner.pid == 0)) {
		caller = opt.have_owner ? opt.owner.pid : getppid();
		caller_fd = (int)syscall(SYS_pidfd_open, caller, 0);
		if (caller_fd < 0 && errno != ESRCH)
			mp_die(MP_EXIT_OSERR, "--daemon: cannot watch process %d: pidfd_open: %s "
			       "(Linux 5.3 or later is needed)", (int)caller, strerror(errno));
		/* The pidfd pins the process; if it is not the one meant any more
		 * (our parent died meanwhile), the group would end at once. */
		if (caller_fd >= 0 && (opt.have_owner ? !mp_owner_alive(&opt.owner)
						      : getppid() != caller)) {
			close(caller_fd);
			caller_fd = -1;
		}
		if (caller_fd < 0)
			mp_die(MP_EXIT_NOINPUT, "--daemon: process %d has already exited", (int)caller);
	}
	c->caller_pidfd = caller_fd;
	if (pipe2(ready, O_CLOEXEC) < 0)
		mp_die(MP_EXIT_OSERR, "pipe: %s", strerror(errno));
	fflush(NULL);
	f = fork();
	if (f < 0)
		mp_die(MP_EXIT_OSERR, "fork: %s", strerror(errno));
	if (f == 0) {
		struct mp_owner me;
		struct stat sb;
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		close(ready[0]);
		setsid();
		/* The group must not hold the caller's pipes: a $(...) or a
		 * pipeline would wait for the workers to end. */
		if (null >= 0) {
			dup2(null, 0);
			for (int fd = 1; fd <= 2; fd++)
				if (fstat(fd, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)))
					dup2(null, fd);
			close(null);
		}
		if (mp_owner_of(0, &me) == 0)
			mp_spawn_set_front(o, &me);
		c->ready_fd = ready[1];
		exit(mp_sup_run(c));
	}
	close(ready[1]);
	if (caller_fd >= 0)
		close(caller_fd);
	do
		r = read(ready[0], &b, 1);
	while (r < 0 && errno == EINTR);
	if (r == 1) {
		printf("%s\n", c->name);
		return 0;
	}
	/* The supervisor died before the workers started. */
	if (waitpid(f, &st, WNOHANG) == f && WIFEXITED(st) && WEXITSTATUS(st))
		return WEXITSTATUS(st);
	mp_die(MP_EXIT_SOFTWARE, "group '%s' did not start", c->name);
}

/* --listen: the socket, before anything starts (64 was the parser's). */
static int open_listener(char *shown, size_t len)
{
	int fd = -1, rc;

	if (!(opt.seen & S_WORKERS)) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		opt.workers = (uint32_t)(n > 0 && n < MP_SPAWN_MAX_WORKERS / 4 ? n * 4 : 4);
	}
	rc = mp_listen_open(&opt.addr, (int)opt.backlog, &fd);
	if (rc)
		mp_die(rc == -EACCES || rc == -EPERM ? MP_EXIT_NOPERM : MP_EXIT_OSERR, "%s",
		       mp_errmsg());
	mp_listen_local(fd, shown, len);
	return fd;
}

/* Port 0: the port the kernel picked, before the first connection. */
static void print_address(const char *shown)
{
	const struct sockaddr_in *in = (const void *)&opt.addr.sa;
	const struct sockaddr_in6 *in6 = (const void *)&opt.addr.sa;

	if ((opt.addr.family == AF_INET && in->sin_port == 0) ||
	    (opt.addr.family == AF_INET6 && in6->sin6_port == 0)) {
		printf("%s\n", shown);
		if (fflush(stdout) != 0)
			mp_die(MP_EXIT_IOERR, "cannot write the address to stdout: %s", strerror(errno));
	}
}

/* -e: a pool on a queue that exists, or 66.  A queue closed and drained
 * already gives the pool nothing to do: a rerun that did not reopen it
 * (its put failed with 2), which is said. */
static void check_pool_queue(const char *queue)
{
	struct mp_queue_info qi;
	struct mp_obj q;
	int rc = mp_store_find(&mp_verb_store, &mp_queue_kind, queue, &q);

	if (rc == -ENOENT && mp_cli.existing)
		mp_die(MP_EXIT_NOINPUT, "no queue named '%s' (in %s)", queue, mp_verb_store.dir);
	if (rc == -ENOENT)
		return;
	if (rc)
		mp_fail(rc, "cannot open queue '%s'", queue);
	if (mp_queue_info(&q, &qi, NULL, 0) >= 0 && qi.closed && !qi.items && !qi.in_flight &&
	    !mp_cli.quiet)
		mp_warn("queue '%s' is closed and empty: the pool has nothing to do "
			"('mpqueue reopen %s' before the next puts)", queue, queue);
	mp_obj_close(&q);
}

static int do_spawn(void)
{
	struct mp_spawn_params p = { 0 };
	struct mp_sup_conf c = { 0 };
	struct mp_cmd cmd;
	struct mp_obj o;
	char name[MP_NAME_MAX + 1], desc[MP_SPAWN_CMD_MAX], shown[160] = "";
	pid_t busy = 0;
	int rc, lfd = -1;

	if (opt.queue)
		mp_check_name_or_exit(opt.queue);
	/* A command that cannot run is reported before anything starts. */
	mp_cmd_prepare(&cmd, opt.cmd, opt.shell);
	if (!cmd.path)
		return mp_cmd_start(&cmd);
	if (opt.listen)
		lfd = open_listener(shown, sizeof shown);
	mp_store_open_or_exit(&mp_verb_store);
	if (opt.queue)
		check_pool_queue(opt.queue);
	if (opt.name)
		snprintf(name, sizeof name, "%s", opt.name);
	else
		snprintf(name, sizeof name, "spawn-%d", (int)getpid());
	describe(desc, sizeof desc);

	p.nworkers = opt.workers;
	p.flags = (opt.daemon ? MP_SPAWN_F_DAEMON : 0) | (opt.tag ? MP_SPAWN_F_TAG : 0) |
		  (opt.queue ? MP_SPAWN_F_POOL : 0) | (opt.restart ? MP_SPAWN_F_RESTART : 0) |
		  (opt.fail_fast ? MP_SPAWN_F_FAILFAST : 0) | (opt.listen ? MP_SPAWN_F_LISTEN : 0) |
		  (opt.keep_order ? MP_SPAWN_F_ORDER : 0) |
		  (!opt.name && !opt.daemon ? MP_SPAWN_F_UNNAMED : 0);
	p.max_restarts = opt.max_restarts;
	p.heartbeat_ns = opt.heartbeat_ns;
	p.timeout_ns = mp_cli.timeout_ns > 0 ? mp_cli.timeout_ns : 0;
	p.command = desc;
	p.queue = opt.queue;
	p.listen = opt.listen ? shown : NULL;
	rc = mp_owner_of(0, &p.front);
	if (rc)
		mp_fail(rc, "cannot read /proc/self/stat");
	if (opt.daemon && opt.have_owner)
		p.caller = opt.owner;
	else if (opt.daemon && mp_owner_of(getppid(), &p.caller))
		memset(&p.caller, 0, sizeof p.caller);
	rc = mp_spawn_claim(&mp_verb_store, name, &p, &o, &busy);
	/* spawn-PID is taken only when our pid was recycled while a daemon
	 * group of the earlier process runs on: add a number. */
	for (int n = 2; rc == -EBUSY && !opt.name && n < 1000; n++) {
		snprintf(name, sizeof name, "spawn-%d.%d", (int)getpid(), n);
		rc = mp_spawn_claim(&mp_verb_store, name, &p, &o, &busy);
	}
	if (rc == -EBUSY)
		mp_die(MP_EXIT_BUSY, "a group named '%s' is running (pid %d); choose another "
		       "--name, or 'mpspawn wait %s' first", name, (int)busy, name);
	if (rc)
		mp_fail(rc, "cannot create group '%s'", name);

	c.argv = cmd.argv;
	c.path = cmd.path;
	c.shell = opt.shell != NULL;
	c.nworkers = opt.workers;
	c.tag = opt.tag;
	c.fail_fast = opt.fail_fast;
	c.restart = opt.restart;
	c.max_restarts = opt.max_restarts;
	/* --listen: how long handlers may go on after a stop (-t 0: none) */
	c.timeout_ns = opt.listen ? mp_cli.timeout_ns : p.timeout_ns;
	c.timeout_sig = opt.sig;
	c.kill_after_ns = opt.kill_after_ns;
	c.caller_pidfd = -1;
	c.ready_fd = -1;
	sigprocmask(SIG_SETMASK, NULL, &c.child_mask);
	c.queue = opt.queue;
	c.use_stdin = opt.use_stdin;
	c.keep_order = opt.keep_order;
	c.msg_ttl_ns = opt.ttl_ns;
	c.listen_fd = lfd;
	c.listen_path = opt.addr.family == AF_UNIX ? opt.addr.path : NULL;
	c.store = &mp_verb_store;
	c.obj = &o;
	c.name = name;
	c.remove_at_end = !opt.name && !opt.daemon;
	c.warn = mp_warn;
	c.info = mp_info;
	/* -t is the group's --timeout here, not a bound on waiting for a
	 * record's mutex (the supervisor updates it to the end) */
	mp_obj_patience(0, 0);
	if (opt.listen)
		print_address(shown);
	if (opt.daemon)
		return start_daemon(&c, &o);
	if (opt.progress) {
		struct mp_spawn_bar bar;

		mp_spawn_bar_start(&bar, name);
		rc = mp_sup_run(&c);
		mp_spawn_bar_stop(&bar);
		return rc;
	}
	return mp_sup_run(&c);
}

/* ---- status ---- */

static int do_status(void)
{
	struct mp_obj o;
	int rc, stale;

	mp_obj_allow_readonly(1);	/* a read-only store can be looked at */
	open_group(&o);
	rc = mp_show_spawn_status(&o, mp_cli.json, &stale);
	if (rc)
		mp_fail(rc, "group '%s'", opt.name);
	if (mp_cli.json)
		putchar('\n');
	return stale ? MP_EXIT_NO : 0;
}

static int do_wait(void)
{
	struct mp_obj o;
	int status = 0, rc;

	open_group(&o);
	rc = mp_spawn_wait(&o, mp_cli_deadline(), mp_cli.nonblock, &status);
	if (rc == -EXDEV)
		mp_die(MP_EXIT_NOPERM, "%s", mp_errmsg());
	if (rc == -EAGAIN) {
		if (mp_cli.verbose)	/* silent unless -v, as flock -n is */
			mp_warn("group '%s' is still running", opt.name);
		exit(mp_exit_status(rc));
	}
	if (rc)
		mp_fail(rc, "group '%s'", opt.name);
	return status;
}

static int do_kill(void)
{
	struct mp_obj o;
	int rc;

	open_group(&o);
	rc = mp_spawn_kill_request(&o, opt.sig, MP_SPAWN_R_SIGNAL);
	if (rc == -EXDEV)
		mp_die(MP_EXIT_NOPERM, "%s", mp_errmsg());
	if (rc == -ESRCH) {
		if (!mp_cli.quiet)
			mp_warn("group '%s' is not running", opt.name);
		return MP_EXIT_NO;
	}
	if (rc)
		mp_fail(rc, "cannot signal group '%s'", opt.name);
	mp_info("sent SIG%s to group '%s'", mp_signal_name(opt.sig) ? mp_signal_name(opt.sig) : "?",
		opt.name);
	return 0;
}

static int do_is_alive(void)
{
	struct mp_spawn_snap s;
	struct mp_obj o;
	int rc, alive;

	open_group(&o);
	rc = mp_spawn_snapshot(&o, &s);
	if (rc)
		mp_fail(rc, "group '%s'", opt.name);
	alive = !s.lost && s.g.state != MP_SPAWN_G_DONE;
	mp_spawn_snap_free(&s);
	if (s.foreign)
		mp_die(MP_EXIT_NOPERM, "group '%s' runs in another pid namespace: whether it "
		       "is alive cannot be judged from this one; use mpspawn in that namespace",
		       opt.name);
	return alive ? 0 : MP_EXIT_NO;
}

static int do_beat(void)
{
	const char *name = getenv("MP_SPAWN_NAME"), *id = getenv("MP_WORKER_ID"),
		   *run = getenv("MP_SPAWN_RUN"), *dir = mp_cli.dir;
	unsigned long long runid;
	uint64_t wid;
	struct mp_obj o;
	char *end;
	int rc;

	if (!name || !id || !run)
		mp_die(MP_EXIT_USAGE, "beat: not in an mpspawn worker (MP_SPAWN_NAME, "
		       "MP_WORKER_ID or MP_SPAWN_RUN is not set)");
	mp_check_name_or_exit(name);
	errno = 0;
	runid = strtoull(run, &end, 16);
	if (errno || *end || end == run ||
	    mp_parse_count(id, 0, MP_SPAWN_MAX_WORKERS - 1, &wid, NULL, 0))
		mp_die(MP_EXIT_USAGE, "beat: bad MP_WORKER_ID '%s' or MP_SPAWN_RUN '%s'", id, run);
	if (!dir)
		dir = getenv("MP_SPAWN_DIR");
	mp_store_open_dir_or_exit(&mp_verb_store, dir);
	rc = mp_spawn_open(&mp_verb_store, name, &o);
	if (rc == -ENOENT)
		mp_die(MP_EXIT_NOINPUT, "beat: no group named '%s' (in %s)", name, mp_verb_store.dir);
	if (rc)
		mp_fail(rc, "cannot open group '%s'", name);
	rc = mp_spawn_beat(&o, runid, (uint32_t)wid);
	if (rc == -ESTALE)
		mp_die(MP_EXIT_NOINPUT, "beat: group '%s' has ended", name);
	if (rc == -ERANGE)
		mp_die(MP_EXIT_DATAERR, "beat: group '%s' has no worker %s", name, id);
	if (rc)
		mp_fail(rc, "group '%s'", name);
	return 0;
}

int main(int argc, char **argv)
{
	mp_cli_init(PACKAGE_VERSION);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (opt.name)
		mp_check_name_or_exit(opt.name);

	switch (opt.verb) {
	case V_SPAWN:
		return do_spawn();
	case V_STATUS:
		return do_status();
	case V_WAIT:
		return do_wait();
	case V_KILL:
		return do_kill();
	case V_IS_ALIVE:
		return do_is_alive();
	case V_BEAT:
		return do_beat();
	default:
		return mp_verb_common(&spawn_cli, opt.verb, opt.name);
	}
}
