/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cmd-ttl.c - waiting for a wrapped command for at most its hold's --ttl
 * (run --ttl of mplock and mpsem); see cli.h. */
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

int mp_cmd_wait_ttl(struct mp_cmd *c, int64_t ttl_ns, int *expired)
{
	int64_t end = mp_now_ns() + ttl_ns;
	int pfd;

	*expired = 0;
	if (ttl_ns <= 0)
		return mp_cmd_wait(c);
	pfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (pfd < 0)
		return mp_cmd_wait(c);	/* kernel < 5.3: the recorded TTL still ends the hold */
	if (!ended_by(pfd, end)) {
		*expired = 1;
		kill(c->pid, SIGTERM);
		if (!ended_by(pfd, mp_now_ns() + MP_RUN_TTL_KILL_NS))
			kill(c->pid, SIGKILL);
	}
	close(pfd);
	return mp_cmd_wait(c);
}
