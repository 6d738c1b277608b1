/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mpqueue - a bounded, binary-safe message queue for shell scripts.
 *
 *   mpqueue [OPTION...] create NAME [--max-items N] [--max-bytes SIZE] [--max-msg SIZE]
 *   mpqueue [OPTION...] put NAME [-n|-t D] [-z|--raw] [--close] [MSG...]
 *   mpqueue [OPTION...] get NAME [-n|-t D] [-z|--raw] [--count N|--all|--follow]
 *                           [--lease [--ttl D] [--owner PID|none]]
 *   mpqueue [OPTION...] ack NAME [TOKEN] [--owner PID|none] [--force]
 *   mpqueue [OPTION...] task-done NAME [--count N]  mpqueue join NAME [-n|-t D] [--progress]
 *   mpqueue [OPTION...] close|reopen|size|is-empty|is-full|info|rm NAME      mpqueue ls
 *
 * Guarantee: a message leaves the queue only once it was written to
 * standard output.  get reserves what it takes for itself (pid + start
 * time), writes it, and only then acknowledges it; a get killed in between
 * leaves a reservation with a dead owner, which the next getter hands back
 * to the head of the queue.  A failed write hands back what was not
 * written whole and exits 74.  A put exits 0 only when every message it
 * was given is in the queue.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cli.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/fault.h"
#include "lib/obj.h"
#include "lib/progress.h"
#include "lib/queue.h"
#include "lib/signals.h"
#include "lib/show.h"
#include "lib/store.h"
#include "lib/verbs.h"

enum {
	V_PUT = MP_VERB_TOOL, V_GET, V_ACK, V_DONE, V_JOIN, V_CLOSE, V_REOPEN, V_SIZE, V_IS_EMPTY,
	V_IS_FULL
};

static const struct mp_verb verbs[] = {
	{ "put", V_PUT, MP_VERB_NAME_REST }, { "get", V_GET, MP_VERB_ONE_NAME },
	{ "ack", V_ACK, MP_VERB_NAME_REST }, { "task-done", V_DONE, MP_VERB_ONE_NAME },
	{ "done", V_DONE, MP_VERB_ONE_NAME },	/* the old name, kept (a shell keyword) */
	{ "join", V_JOIN, MP_VERB_ONE_NAME }, { "close", V_CLOSE, MP_VERB_ONE_NAME },
	{ "reopen", V_REOPEN, MP_VERB_ONE_NAME },
	{ "size", V_SIZE, MP_VERB_ONE_NAME },
	{ "is-empty", V_IS_EMPTY, MP_VERB_ONE_NAME }, { "is-full", V_IS_FULL, MP_VERB_ONE_NAME },
	MP_VERB_CREATE_ENTRY, MP_VERB_INFO_ENTRY, MP_VERB_LS_ENTRY, MP_VERB_RM_ENTRY,
};

static struct {
	struct mp_verb_line line;
	int verb;
	const char *name;
	char **args;		/* put: the messages; ack: the token */
	int nargs;
	struct mp_queue_params params;
	int zero, raw, all, follow, lease, have_count, close, progress;
	int lease_bare;		/* the last option was a bare --lease before the verb */
	uint64_t count;
	struct mp_hold_opts hold;
} opt;

enum {
	OPT_MAX_ITEMS = MP_OPT_TOOL, OPT_MAX_BYTES, OPT_MAX_MSG, OPT_RAW, OPT_ALL, OPT_FOLLOW, OPT_COUNT,
	OPT_LEASE, OPT_CLOSE, OPT_PROGRESS,
};

static const struct argp_option options[] = {
	{ "max-items", OPT_MAX_ITEMS, "N", 0, "create: hold at most N messages (default 16384)", 1 },
	{ "max-bytes", OPT_MAX_BYTES, "SIZE", 0, "create: hold at most SIZE bytes of messages "
	  "(default 1M, at least --max-msg)", 1 },
	{ "max-msg", OPT_MAX_MSG, "SIZE", 0, "create: refuse messages over SIZE bytes "
	  "(default 64K, at most --max-bytes)", 1 },
	{ "null", 'z', 0, 0, "put/get: messages end with NUL instead of newline", 2 },
	{ "raw", OPT_RAW, 0, 0, "put: all of stdin is one message; get: no separator", 2 },
	{ "close", OPT_CLOSE, 0, 0, "put: close the queue once every message is in "
	  "(as 'close' would; not if any is left out)", 2 },
	{ "count", OPT_COUNT, "N", 0, "get: up to N messages (waits for the first only); "
	  "task-done: N tasks", 2 },
	{ "all", OPT_ALL, 0, 0, "get: every message there (waits for the first only)", 2 },
	{ "follow", OPT_FOLLOW, 0, 0, "get: every message until the queue is closed and "
	  "drained", 2 },
	{ "progress", OPT_PROGRESS, 0, 0, "join: a progress line on stderr (done/total, rate, "
	  "ETA) when it is a terminal", 2 },
	{ "lease", OPT_LEASE, "DURATION", OPTION_ARG_OPTIONAL, "get: keep the message in flight "
	  "until 'ack'; it comes back if the owner dies first.  With DURATION (--lease=D, or "
	  "--lease D before the verb): on a Redis store, a getter's hold lasts DURATION unless "
	  "renewed (default 10s)", 3 },
	{ "ttl", MP_OPT_TTL, "DURATION", 0, "get --lease: the message comes back after "
	  "DURATION unless acked", 3 },
	{ "owner", MP_OPT_OWNER, "PID|none", 0, "get --lease, ack: the lease owner (default: "
	  "the caller's parent)", 3 },
	{ "force", MP_OPT_FORCE, 0, 0, "ack: a lease of any owner", 3 },
	{ 0 }
};

static void parse_size(struct argp_state *state, const char *o, const char *arg, uint64_t *v)
{
	char why[160];

	if (mp_parse_size(arg, v, why, sizeof why))
		argp_error(state, "%s: %s", o, why);
	if (*v == 0)
		argp_error(state, "%s: must be more than 0", o);
}

/* --lease=D: the length of the holds, as mplock's and mpsem's --lease D */
static void lease_length(struct argp_state *state, char *arg)
{
	mp_cli_lease_argp.parser(mp_cli_lease_argp.options[0].key, arg, state);
}

static int parse_opt(int key, char *arg, struct argp_state *state)
{
	int bare = opt.lease_bare;
	char why[160];
	int64_t ns;

	opt.lease_bare = 0;
	switch (key) {
	case OPT_MAX_ITEMS:
		if (mp_parse_count(arg, 1, MP_QUEUE_MAX_ITEMS, &opt.params.max_items, why, sizeof why))
			argp_error(state, "--max-items: %s", why);
		break;
	case OPT_MAX_BYTES:
		parse_size(state, "--max-bytes", arg, &opt.params.max_bytes);
		break;
	case OPT_MAX_MSG:
		parse_size(state, "--max-msg", arg, &opt.params.max_msg);
		break;
	case 'z':
		opt.zero = 1;
		break;
	case OPT_RAW:
		opt.raw = 1;
		break;
	case OPT_COUNT:
		if (mp_parse_count(arg, 1, UINT32_MAX, &opt.count, why, sizeof why))
			argp_error(state, "--count: %s", why);
		opt.have_count = 1;
		break;
	case OPT_ALL:
		opt.all = 1;
		break;
	case OPT_FOLLOW:
		opt.follow = 1;
		break;
	case OPT_LEASE:
		if (arg) {
			lease_length(state, arg);
			break;
		}
		opt.lease++;
		opt.lease_bare = !opt.line.verb;
		break;
	case OPT_CLOSE:
		opt.close = 1;
		break;
	case OPT_PROGRESS:
		opt.progress = 1;
		break;
	case ARGP_KEY_ARG:
		/* "--lease 2s get": no verb is a duration, so 2s is the
		 * length, as for mplock; "--lease get" stays get --lease */
		if (bare && !mp_parse_duration(arg, &ns, why, sizeof why)) {
			opt.lease--;
			lease_length(state, arg);
			break;
		}
		if (!mp_verb_parse_arg(&opt.line, verbs, sizeof verbs / sizeof *verbs, state, arg))
			break;
		if (!opt.line.verb)
			argp_error(state, "unknown verb '%s'", arg);
		if (opt.line.verb->id == V_ACK && opt.nargs)
			argp_error(state, "unexpected argument '%s'", arg);
		/* options may come between messages: collect them */
		if (!opt.args && !(opt.args = calloc((size_t)state->argc, sizeof *opt.args)))
			mp_die(MP_EXIT_OSERR, "messages: %s", strerror(ENOMEM));
		opt.args[opt.nargs++] = arg;
		break;
	case ARGP_KEY_END:
		mp_verb_parse_end(&opt.line, state, "queue");
		opt.verb = opt.line.verb->id;
		opt.name = opt.line.names[0];
		if (opt.verb != MP_VERB_CREATE &&
		    (opt.params.max_items || opt.params.max_bytes || opt.params.max_msg))
			argp_error(state, "--max-items, --max-bytes and --max-msg are for create");
		if ((opt.zero || opt.raw) && opt.verb != V_PUT && opt.verb != V_GET)
			argp_error(state, "-z and --raw are for put and get");
		if (opt.zero && opt.raw)
			argp_error(state, "give -z or --raw, not both");
		if (opt.raw && opt.verb == V_PUT && opt.nargs)
			argp_error(state, "--raw reads its message from stdin: give no MSG");
		if (opt.have_count && opt.verb != V_GET && opt.verb != V_DONE)
			argp_error(state, "--count is for get and task-done");
		if ((opt.all || opt.follow) && opt.verb != V_GET)
			argp_error(state, "--all and --follow are for get");
		if (opt.have_count + opt.all + opt.follow > 1)
			argp_error(state, "give one of --count, --all and --follow");
		if (opt.follow && mp_cli.nonblock)
			argp_error(state, "--follow waits by definition: -n and -t 0 do not go with it");
		if (opt.progress && opt.verb != V_JOIN)
			argp_error(state, "--progress is for join");
		if (opt.close && opt.verb != V_PUT)
			argp_error(state, "--close is for put (the verb 'close' closes a queue)");
		if (opt.lease && opt.verb != V_GET)
			argp_error(state, "--lease is for get");
		if (opt.lease && (opt.follow || opt.all))
			argp_error(state, "--lease takes one message, or --count N; not --all or --follow");
		if (opt.hold.ttl_ns && !opt.lease)
			argp_error(state, "--ttl is for get --lease");
		if (opt.hold.have_owner && !opt.lease && opt.verb != V_ACK)
			argp_error(state, "--owner is for get --lease and ack");
		if (opt.hold.force && opt.verb != V_ACK)
			argp_error(state, "--force is for ack");
		break;
	default:
		return mp_hold_opt_parse(key, arg, state, &opt.hold);
	}
	return 0;
}

static const struct argp_child children[] = { { &mp_cli_argp, 0, "Common options:", 9 }, { 0 } };

static const char doc[] =
	"A bounded, binary-safe message queue shared by unrelated processes.\n\n"
	"Verbs:\n"
	"  create NAME          create it now, with --max-items/--max-bytes/--max-msg\n"
	"  put NAME [MSG...]    enqueue each MSG; with none, each line of stdin\n"
	"  get NAME             print the next message and a newline\n"
	"  ack NAME [TOKEN]     acknowledge a message taken with get --lease\n"
	"  task-done NAME       mark a message processed (task_done; alias: done)\n"
	"  join NAME            wait until every message put is marked done\n"
	"  close NAME           no more puts; getters drain the rest, then exit 2\n"
	"  reopen NAME          take puts again after close\n"
	"  size NAME            print the number of messages waiting\n"
	"  is-empty NAME        exit 0 if no message is waiting, 1 if one is\n"
	"  is-full NAME         exit 0 if a put would wait for room, 1 if not\n"
	"  info NAME            show state and limits (--json)\n"
	"  ls                   list the queues of the store (--json)\n"
	"  rm NAME              remove it; waiters exit 66\n"
	"\vExit: 0 ok, 1 ack/done refused, 2 queue closed (get: and drained), 64 usage,\n"
	"65 message too large or corrupt object, 66 no such queue, 69 store unavailable,\n"
	"74 cannot write a "
	"message (it stays queued), 75 busy (-n: full or empty), 77 permission,\n"
	"124 timed out.  See mpqueue(1).";

static const struct argp argp = {
	options, parse_opt,
	"create NAME [--max-items N] [--max-bytes SIZE] [--max-msg SIZE]\n"
	"put NAME [-n|-t D] [-z|--raw] [--close] [MSG...]\n"
	"get NAME [-n|-t D] [-z|--raw] [--count N|--all|--follow] [--lease [--ttl D] [--owner PID|none]]\n"
	"ack NAME [TOKEN] [--owner PID|none] [--force]\n"
	"task-done NAME [--count N]\n"
	"join NAME [-n|-t D] [--progress]\n"
	"close|reopen|size|is-empty|is-full|info|rm NAME\n"
	"ls",
	doc, children, NULL, NULL
};

static int create_queue(struct mp_store *s, const char *name, struct mp_obj *o);

static const struct mp_kind_cli queue_cli = {
	&mp_queue_kind, "queue", create_queue, mp_show_queue_info, mp_show_queue_row,
};

static void open_queue(struct mp_obj *o, int create)
{
	int rc;

	if (!create || mp_cli.existing) {	/* -e: 66 when missing */
		mp_verb_open_or_exit(&queue_cli, opt.name, o);
		return;
	}
	mp_store_open_or_exit(&mp_verb_store);
	rc = mp_queue_open(&mp_verb_store, opt.name, 1, NULL, NULL, o);
	if (rc)
		mp_fail(rc, "cannot open queue '%s'", opt.name);
}

/* ---- put ---- */

static int put_fail(int rc, size_t nput)
{
	if (rc == MP_QUEUE_CLOSED) {
		if (!mp_cli.quiet)
			mp_warn("queue '%s' is closed%s", opt.name,
				nput ? " (some messages were put before)" : "");
		return MP_EXIT_END;
	}
	if ((rc == -EAGAIN || rc == -ETIMEDOUT) && nput && mp_cli.verbose)
		mp_warn("queue '%s': %s after %zu message%s were put", opt.name,
			rc == -EAGAIN ? "full" : "timed out", nput, nput == 1 ? "" : "s");
	else
		mp_fail(rc, "queue '%s'", opt.name);
	return mp_exit_status(rc);
}

static int too_big(struct mp_obj *o, size_t len, int more)
{
	struct mp_queue_params p;

	mp_queue_get_params(o, &p);
	mp_warn("queue '%s': a message of %s%zu bytes is over --max-msg %llu: not put",
		opt.name, more ? "more than " : "", len, (unsigned long long)p.max_msg);
	return MP_EXIT_DATAERR;
}

/* Puts the messages found in buf[0..len) (each ended by sep), returning
 * how many bytes they took.  The rest is an unfinished message. */
static int put_lines(struct mp_obj *o, char *buf, size_t len, int sep, int64_t deadline,
		     size_t *used, struct iovec *v, size_t vmax)
{
	size_t pos = 0, n, nput;
	int rc;

	*used = 0;
	while ((n = mp_queue_split(buf, len, (unsigned char)sep, &pos, v, vmax))) {
		rc = mp_queue_put(o, v, n, deadline, mp_cli.nonblock, &nput);
		if (rc == -EMSGSIZE)
			return too_big(o, v[nput].iov_len, 0);
		if (rc)
			return put_fail(rc, nput);
		*used = pos;
	}
	return 0;
}

/* put --close, after every message is in: getters drain and end, as a
 * pipe's reader ends at its writer's EOF. */
static int put_close(struct mp_obj *o)
{
	int rc;

	if (!opt.close)
		return 0;
	rc = mp_queue_close(o);
	if (rc)
		mp_fail(rc, "queue '%s'", opt.name);
	mp_info("closed '%s'", opt.name);
	return 0;
}

static int do_put_stdin(struct mp_obj *o)
{
	struct mp_queue_params p;
	int64_t deadline;
	size_t cap, fill = 0, used, vmax = 8192;
	struct iovec *v = malloc(vmax * sizeof *v);
	int sep = opt.raw ? -1 : opt.zero ? 0 : '\n';
	char *buf;
	int rc = 0;

	mp_obj_defer_tstp();	/* a stream: Ctrl-Z never stops us inside the queue */
	mp_queue_get_params(o, &p);
	/* big reads; a buffer that fills up with one unfinished message
	 * grows until it can tell that message is over --max-msg */
	cap = p.max_msg + 1 < 256 * 1024 ? 256 * 1024 : 1024 * 1024;
	buf = malloc(cap);
	if (!buf || !v)
		mp_die(MP_EXIT_OSERR, "out of memory");
	for (;;) {
		ssize_t r;

		if (fill == cap) {
			if (cap > p.max_msg) {
				rc = too_big(o, fill, 1);
				goto out;
			}
			cap = cap * 2 > p.max_msg + 1 ? p.max_msg + 1 : cap * 2;
			char *nbuf = realloc(buf, cap);
			if (!nbuf)
				mp_die(MP_EXIT_OSERR, "out of memory");
			buf = nbuf;
		}
		r = read(0, buf + fill, cap - fill);
		if (r < 0 && errno == EINTR && !mp_signal_pending)
			continue;
		if (r < 0 && errno == EINTR) {
			rc = 128 + mp_signal_pending;
			goto out;
		}
		if (r < 0)
			mp_die(MP_EXIT_IOERR, "cannot read standard input: %s", strerror(errno));
		if (r == 0)
			break;
		fill += (size_t)r;
		if (sep < 0)
			continue;
		/* a stream: -t bounds each wait for room, not the whole input */
		deadline = mp_cli_deadline();
		rc = put_lines(o, buf, fill, sep, deadline, &used, v, vmax);
		if (rc)
			goto out;
		memmove(buf, buf + used, fill - used);
		fill -= used;
		if (mp_signal_pending) {
			rc = 128 + mp_signal_pending;
			goto out;
		}
	}
	/* the last line may lack its newline; --raw: all of stdin */
	if (fill || sep < 0) {
		struct iovec one = { buf, fill };
		size_t nput;

		if (fill > p.max_msg)
			rc = too_big(o, fill, 0);
		else if ((rc = mp_queue_put(o, &one, 1, mp_cli_deadline(), mp_cli.nonblock, &nput)))
			rc = put_fail(rc, 0);
	}
out:
	free(buf);
	free(v);
	return rc;
}

static int do_put(void)
{
	struct mp_queue_params p;
	struct mp_obj o;
	size_t nput;
	int rc;

	open_queue(&o, 1);
	if (!opt.nargs) {
		rc = do_put_stdin(&o);
		return rc ? rc : put_close(&o);
	}
	struct iovec *v = calloc((size_t)opt.nargs, sizeof *v);
	if (!v)
		mp_die(MP_EXIT_OSERR, "out of memory");
	mp_queue_get_params(&o, &p);
	for (int i = 0; i < opt.nargs; i++) {
		v[i].iov_base = opt.args[i];
		v[i].iov_len = strlen(opt.args[i]);
		/* all or nothing for a message too large: check them all first */
		if (v[i].iov_len > p.max_msg) {
			rc = too_big(&o, v[i].iov_len, 0);
			free(v);
			return rc;
		}
	}
	rc = mp_queue_put(&o, v, (size_t)opt.nargs, mp_cli_deadline(), mp_cli.nonblock, &nput);
	free(v);
	if (rc)
		return put_fail(rc, nput);
	MP_FAULT_POINT("mpqueue.put.done");
	mp_info("put %d message%s on '%s'", opt.nargs, opt.nargs == 1 ? "" : "s", opt.name);
	return put_close(&o);
}

/* ---- get ---- */

/* Writes buf to stdout.  Returns 0, or -errno with *done bytes written. */
static int write_out(const char *buf, size_t len, size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t w = write(1, buf + *done, len - *done);
		if (w > 0) {
			*done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR && !mp_signal_pending)
			continue;
		return w < 0 ? -errno : -EIO;
	}
	return 0;
}

static int do_get(void)
{
	struct mp_queue_batch b;
	struct mp_queue_params p;
	struct mp_queue_take_req r;
	struct mp_owner lease_owner;
	uint64_t got = 0, want, token = 0;
	struct mp_watch watch;
	struct mp_obj o;
	int rc;

	/* a reader that went away must show as EPIPE, not kill us before we
	 * can hand the message back */
	signal(SIGPIPE, SIG_IGN);
	if (opt.lease && !opt.hold.have_owner)
		mp_default_owner_or_exit(&lease_owner);
	else if (opt.lease)
		lease_owner = opt.hold.owner;
	open_queue(&o, 1);
	if (opt.follow || opt.all || opt.have_count)
		mp_obj_defer_tstp();	/* Ctrl-Z never stops us inside the queue */
	mp_queue_get_params(&o, &p);
	memset(&b, 0, sizeof b);
	want = opt.have_count ? opt.count : opt.all || opt.follow ? UINT64_MAX : 1;
	memset(&r, 0, sizeof r);
	r.sep = opt.raw ? -1 : opt.zero ? 0 : '\n';
	r.deadline_ns = mp_cli_deadline();
	r.nonblock = mp_cli.nonblock;
	mp_watch_start_later(&watch, &mp_queue_kind, opt.name);	/* -v */
	for (;;) {
		size_t written;
		uint32_t whole;

		r.max_count = want - got > 16384 ? 16384 : (uint32_t)(want - got);
		/* --follow: -t bounds each wait for a message */
		if (opt.follow && got)
			r.deadline_ns = mp_cli_deadline();
		/* a lease is one reservation: take all of --count N at once */
		r.max_bytes = opt.lease ? p.max_bytes : 256 * 1024;
		rc = mp_queue_take(&o, &r, &b);
		mp_watch_stop(&watch);	/* (nothing once stopped) */
		if (rc < 0)
			break;
		got += (uint64_t)rc;
		rc = write_out(b.buf, b.len, &written);
		/* written, not yet acknowledged */
		MP_FAULT_POINT("mpqueue.get.written");
		if (rc) {
			for (whole = 0; whole < b.count && b.ends[whole] <= written; whole++)
				;
			mp_queue_settle(&o, &b, whole, opt.lease ? &lease_owner : NULL, opt.hold.ttl_ns,
					&token);
			if (rc == -EINTR)
				exit(128 + mp_signal_pending);
			mp_die(MP_EXIT_IOERR, "cannot write %s to standard output: %s (%s back in "
			       "queue '%s')", b.count - whole == 1 ? "a message" : "messages",
			       strerror(-rc), b.count - whole == 1 ? "it is" : "they are", opt.name);
		}
		if (opt.lease || got >= want || mp_signal_pending)
			break;
		/* -c and --all wait for the first message only */
		if (!opt.follow)
			r.nonblock = 1;
	}
	if (b.pending) {
		int src = mp_queue_settle(&o, &b, b.count, opt.lease ? &lease_owner : NULL,
					  opt.hold.ttl_ns, &token);
		if (src)
			mp_fail(src, "queue '%s'", opt.name);
		MP_FAULT_POINT("mpqueue.get.settled");
		if (opt.lease)
			mp_info("leased %u message%s of '%s': token %llu", b.count,
				b.count == 1 ? "" : "s", opt.name, (unsigned long long)token);
	}
	mp_queue_batch_free(&b);
	/* a signal that came after all that was asked was done cut nothing */
	if (mp_signal_pending && got < want)
		exit(128 + mp_signal_pending);
	if (rc >= 0)
		return 0;
	if (rc == MP_QUEUE_END) {
		if (opt.follow || got)
			return 0;
		mp_info("queue '%s' is closed and drained", opt.name);
		return MP_EXIT_END;
	}
	if (rc == -EAGAIN && got)
		return 0;
	if (rc == -ETIMEDOUT && got && !opt.follow)
		return 0;
	mp_fail(rc, "queue '%s'", opt.name);
}

/* ---- ack, done, join, close, create ---- */

static int do_ack(void)
{
	struct mp_queue_lease_info li;
	struct mp_obj o;
	uint64_t token = 0;
	char why[160];
	int rc;

	if (opt.nargs && mp_parse_count(opt.args[0], 1, UINT64_MAX, &token, why, sizeof why))
		mp_die(MP_EXIT_USAGE, "bad token '%s': %s", opt.args[0], why);
	if (!opt.hold.have_owner)
		mp_default_owner_or_exit(&opt.hold.owner);
	open_queue(&o, 0);
	rc = mp_queue_ack_owner(&o, &opt.hold.owner, token, opt.hold.force, &li);
	MP_FAULT_POINT("mpqueue.ack.done");
	if (rc == -EPERM) {
		char who[48];
		snprintf(who, sizeof who, opt.hold.owner.pid ? "pid %d" : "no owner", opt.hold.owner.pid);
		if (token)
			mp_warn("queue '%s': lease %llu is not held by %s (use --force to ack it "
				"anyway)", opt.name, (unsigned long long)token, who);
		else
			mp_warn("queue '%s': no message is leased to %s (use --force to ack "
				"another owner's)", opt.name, who);
		return MP_EXIT_NO;
	}
	if (rc == -ENOENT) {
		if (!mp_cli.quiet) {
			if (token)
				mp_warn("queue '%s' has no lease %llu (acked already, or its TTL "
					"ended or its owner died and it was delivered again)",
					opt.name, (unsigned long long)token);
			else
				mp_warn("queue '%s' has no leased message", opt.name);
		}
		return MP_EXIT_NO;
	}
	if (rc)
		mp_fail(rc, "queue '%s'", opt.name);
	mp_info("acked lease %llu of '%s' (%u message%s)", (unsigned long long)li.token,
		opt.name, li.count, li.count == 1 ? "" : "s");
	return 0;
}

static int do_done(void)
{
	struct mp_obj o;
	int rc;

	open_queue(&o, 0);
	rc = mp_queue_done(&o, opt.have_count ? opt.count : 1);
	if (rc == -ERANGE) {
		mp_warn("%s", mp_errmsg());
		return MP_EXIT_NO;
	}
	if (rc)
		mp_fail(rc, "queue '%s'", opt.name);
	return 0;
}

static int create_queue(struct mp_store *s, const char *name, struct mp_obj *o)
{
	struct mp_queue_params want = opt.params, have;
	struct mp_queue_info qi;
	int rc, created;

	rc = mp_queue_params_fix(&want);
	if (rc)
		mp_die(MP_EXIT_USAGE, "%s", mp_errmsg());
	rc = mp_queue_open(s, name, 1, &want, &created, o);
	if (rc || created)
		return rc;
	/* it existed: fine if it has what was asked for */
	mp_queue_get_params(o, &have);
	if ((opt.params.max_items && have.max_items != want.max_items) ||
	    (opt.params.max_bytes && have.max_bytes != want.max_bytes) ||
	    (opt.params.max_msg && have.max_msg != want.max_msg))
		mp_die(MP_EXIT_CANTCREAT, "queue '%s' exists already with --max-items %llu "
		       "--max-bytes %llu --max-msg %llu, not the --max-items %llu --max-bytes %llu "
		       "--max-msg %llu asked for (parameters are fixed at creation: rm it first)",
		       name, (unsigned long long)have.max_items, (unsigned long long)have.max_bytes,
		       (unsigned long long)have.max_msg, (unsigned long long)want.max_items,
		       (unsigned long long)want.max_bytes, (unsigned long long)want.max_msg);
	rc = mp_queue_info(o, &qi, NULL, 0);
	if (rc < 0)
		return rc;
	if (qi.closed)
		mp_die(MP_EXIT_END, "queue '%s' exists and is closed: 'mpqueue reopen %s' takes "
		       "puts again", name, name);
	return 0;
}

/* ---- size, is-empty, is-full ---- */

/* size; and Queue.empty() and Queue.full(): "full" is when a put of a
 * one-byte message would wait (for an item, for bytes, or for room in the
 * ring). */
static int do_state(int verb)
{
	struct mp_queue_info qi;
	struct mp_obj o;
	int n;

	open_queue(&o, 0);
	n = mp_queue_info(&o, &qi, NULL, 0);
	if (n < 0)
		mp_fail(n, "queue '%s'", opt.name);
	if (verb == V_SIZE)
		return printf("%llu\n", (unsigned long long)qi.items) < 0 ? MP_EXIT_IOERR : 0;
	if (verb == V_IS_EMPTY)
		return qi.items == 0 ? MP_EXIT_OK : MP_EXIT_NO;
	return qi.items + qi.in_flight >= qi.params.max_items ||
	       qi.bytes + qi.in_flight_bytes >= qi.params.max_bytes ||
	       qi.ring_used + 16 > qi.ring_size ? MP_EXIT_OK : MP_EXIT_NO;
}

int main(int argc, char **argv)
{
	struct mp_watch watch;
	struct mp_obj o;
	int rc;

	mp_cli_init(PACKAGE_VERSION);
	argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, NULL);
	if (opt.name)
		mp_check_name_or_exit(opt.name);

	switch (opt.verb) {
	case V_PUT:
		return do_put();
	case V_GET:
		return do_get();
	case V_ACK:
		return do_ack();
	case V_DONE:
		return do_done();
	case V_JOIN:
		open_queue(&o, 0);
		mp_watch_start_later(&watch, &mp_queue_kind, opt.name);	/* -v */
		rc = opt.progress ? mp_queue_join_progress(&o, mp_cli_deadline(), mp_cli.nonblock)
				  : mp_queue_join(&o, mp_cli_deadline(), mp_cli.nonblock);
		mp_watch_stop(&watch);
		if (rc)
			mp_fail(rc, "queue '%s'", opt.name);
		return 0;
	case V_CLOSE:
	case V_REOPEN:
		open_queue(&o, 1);
		rc = opt.verb == V_CLOSE ? mp_queue_close(&o) : mp_queue_reopen(&o);
		if (rc)
			mp_fail(rc, "queue '%s'", opt.name);
		return 0;
	case V_SIZE:
	case V_IS_EMPTY:
	case V_IS_FULL:
		return do_state(opt.verb);
	default:
		return mp_verb_common(&queue_cli, opt.verb, opt.name);
	}
}
