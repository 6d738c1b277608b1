/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-pool.c - --queue: a pool's worker takes messages with a lease
 * and runs the command once per message.
 *
 * Runs in the worker (a child the keeper forked, not exec'd).
 * Invariant: a message is acknowledged and marked done only after its
 * command has ended; the lease names this process as owner, so a worker
 * killed mid-message hands its message back, and a message whose command
 * was ended with the group is requeued, never lost.  Each command gets
 * PR_SET_PDEATHSIG(SIGKILL) on this worker.  With --ttl, a command still
 * running after it is ended (TERM, KILL --kill-after later) and its message
 * counts as failed with 124; the lease's own TTL is longer, so a message
 * whose worker is stopped goes back to the queue by itself.
 */
#include "config.h"

#include "supervise-int.h"
#include "cli.h"
#include "fault.h"
#include "owner.h"
#include "queue.h"
#include "clock.h"
#include "err.h"
#include "futex.h"
#include "obj.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* Runs the command for one message (its stdout on out, unless -1);
 * returns its status, 124 if --ttl ended it. */
static int run_message(const struct mp_sup_conf *c, char **argv, char **envp, const char *msg,
		       size_t len, int out)
{
	volatile int child_errno = 0;
	pid_t self = getpid(), self_tid = (pid_t)syscall(SYS_gettid), pid;
	int in[2] = { -1, -1 }, wst, expired;

	if (c->use_stdin && pipe2(in, O_CLOEXEC) < 0) {
		c->warn("pipe: %s", strerror(errno));
		return 71;
	}
	pid = vfork();
	if (pid == 0) {
		struct sigaction dfl;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self || mp_parent_thread_gone(self, self_tid))
			_exit(128 + SIGKILL);
		if (c->use_stdin)
			dup2(in[0], 0);
		if (out >= 0)
			dup2(out, 1);
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
	if (out >= 0)
		close(out);	/* the command's stdout is its own now */
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
	expired = mp_pid_end_after(pid, c->msg_ttl_ns, c->kill_after_ns);
	while (waitpid(pid, &wst, 0) < 0)
		if (errno != EINTR)
			return 71;
	if (child_errno)
		c->warn("cannot run '%s': %s", argv[0], strerror(child_errno));
	if (expired) {
		c->warn("a message's command ran out of --ttl and was ended");
		return 124;
	}
	return sup_status_of(wst);
}

/* A worker of a pool: takes messages with a lease (this process is the
 * owner, so a worker killed mid-message hands it back), runs the command
 * on each, acknowledges it and marks it done, until the queue is closed
 * and drained.  Returns the status of its first failed message, or 0. */
int sup_pool_worker(const struct mp_sup_conf *c, uint32_t id, char **envp)
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
		/* the lease outlives the command's --ttl and --kill-after */
		struct mp_queue_get_req r = {
			.owner = me,
			.ttl_ns = c->msg_ttl_ns ? c->msg_ttl_ns + c->kill_after_ns + 1000000000LL : 0,
		};
		int st, out = -1;

		if (mp_signal_pending)
			return 128 + mp_signal_pending;
		/* --keep-order: take and report under the take lock, so the
		 * keeper sees the takes in their order */
		if (c->keep_order && (rc = sup_order_lock()) < 0)
			return queue_status(rc);
		rc = mp_queue_get_lease(&q, &r, buf, qp.max_msg + 1, &len, &lease);
		if (c->keep_order && rc == 0 && (st = sup_order_report_take(id, buf, len, &out)) < 0) {
			c->warn("worker %u: cannot report a message to the supervisor: %s", id,
				strerror(-st));
			mp_queue_requeue(&q, &lease);
			sup_order_unlock();
			return 71;
		}
		if (c->keep_order)
			sup_order_unlock();
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
		st = run_message(c, argv, envp, buf, len, out);
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
		mp_spawn_count_message(c->obj, id, st);
		if (c->keep_order)
			sup_order_report_done(id, st);
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
