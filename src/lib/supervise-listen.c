/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-listen.c - --listen: the keeper accepts connections and runs
 * the command once per connection, the connection as its stdin and
 * stdout, in one of nworkers slots.
 *
 * Invariant: the listening socket is polled only while a slot is free,
 * so at most nworkers handlers run and the other connections wait in the
 * kernel's backlog (none is refused for the cap).  A handler is a worker
 * like any other (its own process group, PDEATHSIG, reaped, swept at the
 * end); its slot is free again once it is reaped.  A stop (a signal,
 * `mpspawn kill`, the caller of --daemon exiting) closes the listening
 * socket at once, lets the running handlers finish for --timeout (no
 * limit without it), then sends them --signal and SIGKILL after
 * --kill-after; a second stop signals them at once.  The group's status
 * is 0 then: a server that was asked to stop did its job.
 */
#include "config.h"

#include "supervise-int.h"
#include "clock.h"
#include "err.h"
#include "listen.h"
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int sup_listen_init(struct keeper *k)
{
	const struct mp_sup_conf *c = k->c;

	k->conn_fd = -1;
	k->lfd = c->listen_fd;
	if (k->lfd < 0)
		return 0;
	k->lfree = malloc(c->nworkers * sizeof *k->lfree);
	if (!k->lfree)
		return -1;
	/* slot 0 is taken first */
	for (uint32_t i = 0; i < c->nworkers; i++)
		k->lfree[i] = c->nworkers - 1 - i;
	k->nfree = c->nworkers;
	return 0;
}

/* Stops listening: new connections are refused from now on. */
static void listen_close(struct keeper *k)
{
	const char *path = k->c->listen_path;
	struct stat sb;

	if (k->lfd < 0)
		return;
	close(k->lfd);
	k->lfd = -1;
	if (path && lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(path);
}

/* Starts the handler of connection fd in slot i. */
static void start_conn(struct keeper *k, uint32_t i, int fd, const struct sockaddr *sa,
		       socklen_t sl)
{
	struct mp_spawn_peer peer;
	int n, st;

	mp_listen_peer(fd, sa, sl, &peer);
	n = mp_listen_env(fd, &peer, k->conn_env);
	for (int j = 0; j < n; j++)
		k->envp[k->env_conn_at + (size_t)j] = k->conn_env[j];
	k->envp[k->env_conn_at + (size_t)n] = NULL;
	k->conn_fd = fd;
	k->conn_no = k->nconn++;
	k->w[i].conn = k->conn_no;
	st = sup_start_worker(k, i);
	k->conn_fd = -1;
	if (st)
		sup_listen_done(k, i, st, MP_SPAWN_W_NOSTART);
	else
		mp_spawn_conn_started(k->c->obj, i, k->conn_no, &peer);
}

void sup_listen_accept(struct keeper *k)
{
	const struct mp_sup_conf *c = k->c;

	while (k->lfd >= 0 && k->nfree > 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(k->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);

		if (fd < 0) {
			int e = errno;
			if (e == EINTR || e == ECONNABORTED || e == EPROTO)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return;
			/* out of fds or memory: the connection stays in the
			 * backlog; try again a little later, not in a loop */
			if (!k->accept_warned++)
				c->warn("accept: %s; trying again", strerror(e));
			k->t_accept = mp_now_ns() + 100 * 1000000LL;
			return;
		}
		k->accept_warned = 0;
		if (fd < 3) {
			/* our stdin or stdout was closed: keep the connection
			 * clear of the handler's 0 and 1 */
			int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			close(fd);
			if (nfd < 0)
				continue;
			fd = nfd;
		}
		start_conn(k, k->lfree[--k->nfree], fd, (struct sockaddr *)&ss, sl);
		close(fd);
	}
}

void sup_listen_done(struct keeper *k, uint32_t i, int status, enum mp_spawn_wstate state)
{
	const struct mp_sup_conf *c = k->c;

	mp_spawn_worker_ended(c->obj, i, status, state);
	mp_spawn_count_message(c->obj, i, status);
	if (status != 0 && state != MP_SPAWN_W_NOSTART)
		c->info("connection %llu: the handler %s %d", (unsigned long long)k->w[i].conn,
			state == MP_SPAWN_W_KILLED ? "was killed: status" : "exited with status",
			status);
	k->lfree[k->nfree++] = i;
}

void sup_listen_terminate(struct keeper *k)
{
	const struct mp_sup_conf *c = k->c;

	k->terminating = 1;
	k->t_drain = 0;
	sup_signal_workers(k, c->timeout_sig);
	sup_kill_later(k);
}

void sup_listen_stop(struct keeper *k, int sig, enum mp_spawn_reason reason)
{
	const struct mp_sup_conf *c = k->c;

	listen_close(k);
	if (sig == SIGKILL) {
		k->terminating = 1;
		sup_kill_now(k);
	}
	if (k->stopping) {
		/* asked again: the handlers are ended now */
		if (!k->terminating)
			sup_listen_terminate(k);
		else if (reason == MP_SPAWN_R_SIGNAL)
			sup_kill_now(k);
		return;
	}
	sup_set_stopping(k, sig, reason);
	if (!k->terminating && c->timeout_ns == 0)
		sup_listen_terminate(k);
	else if (!k->terminating && c->timeout_ns > 0)
		k->t_drain = mp_now_ns() + c->timeout_ns;
}
