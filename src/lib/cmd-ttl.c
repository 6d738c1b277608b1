/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cmd-ttl.c - waiting for a wrapped command for at most its hold's --ttl
 * (run --ttl of mplock and mpsem, a pool's --ttl per message); see cli.h. */
#include "config.h"

#include "cli.h"
#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Waits until the command has ended (its pidfd is readable) or until
 * deadline_ns; 1 ended, 0 deadline. */
static int ended_by(int pfd, int64_t deadline_ns)
{
	for (;;) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int64_t left = deadline_ns - mp_now_ns();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, (int)(left / 1000000 + 1));
		if (rc > 0)
			return 1;
		/* EINTR: a signal, forwarded to the command by cli.c */
		if (rc < 0 && errno != EINTR)
			return 1;	/* cannot watch: let waitpid wait */
	}
}

int mp_pid_end_after(pid_t pid, int64_t ttl_ns, int64_t kill_ns)
{
	int64_t end = mp_now_ns() + ttl_ns;
	int pfd, expired = 0;

	if (ttl_ns <= 0)
		return 0;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return 0;	/* kernel < 5.3: the recorded TTL still ends the hold */
	if (!ended_by(pfd, end)) {
		expired = 1;
		kill(pid, kill_ns > 0 ? SIGTERM : SIGKILL);
		if (kill_ns > 0 && !ended_by(pfd, mp_now_ns() + kill_ns))
			kill(pid, SIGKILL);
	}
	close(pfd);
	return expired;
}

int mp_cmd_wait_ttl(struct mp_cmd *c, int64_t ttl_ns, int *expired)
{
	*expired = mp_pid_end_after(c->pid, ttl_ns, MP_RUN_TTL_KILL_NS);
	return mp_cmd_wait(c);
}
