/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-order.c - --keep-order: a pool's output in the order its
 * messages were taken from the queue.
 *
 * The workers take messages under a take lock (a POSIX record lock on a
 * temporary file: a worker killed holding it releases it) and, still
 * holding it, report each take on one datagram socket shared by every
 * worker, with the read end of a new pipe that the command's stdout goes
 * to.  One socket, written under the lock: the keeper reads the reports
 * in the order the messages were taken, and numbers them.  A message's
 * output is held until its command ended (the "done" report) and every
 * earlier message was written out.
 *
 * Invariant: every number the keeper gives out is released or dropped,
 * so the order never waits on a message that cannot come:
 *   - a worker that dies mid-message (no "done") leaves its number to the
 *     message's retry: its output so far is dropped, the lease is handed
 *     back at once (mp_queue_info), and the next report of a message
 *     with the same bytes (FNV-1a hash) takes the number over;
 *   - at the end of the pool, numbers still waiting are dropped and the
 *     finished messages behind them are written out.
 *
 * Memory: held output is kept in memory up to MP_KEEP_ORDER_MEMORY bytes
 * (default 8 MiB, all messages together); past that, further output is
 * appended to one unlinked temporary file in $TMPDIR (or /tmp), read
 * back when its message is written out, and the file is emptied whenever
 * nothing held is in it.  Nothing is lost; a full disk is reported and
 * the output stays in memory.
 */
#include "config.h"

#include "supervise-int.h"
#include "err.h"
#include "parse.h"
#include "queue.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_MEMORY	(8u << 20)

enum { R_TAKE = 1, R_DONE = 2 };

struct report {
	uint32_t type, worker;
	uint64_t hash;
	int32_t status;
};

struct extent {
	off_t off;
	size_t len;
};

struct omsg {
	uint64_t pos;
	uint64_t hash;
	uint32_t worker;	/* who has it (or had it) */
	int fd;			/* its stream's fd while it is read; -1 */
	int done, orphan;
	char *mem;		/* held in memory: first */
	size_t mlen, mcap;
	struct extent *ext;	/* then in the spill file, once it spills */
	size_t next, ecap;
};

struct order {
	int sock;		/* the keeper's end of the reports */
	struct omsg **held;	/* held[pos - base], pos from base on */
	size_t nheld, cap;
	uint64_t base;
	struct omsg **cur;	/* each worker's message */
	size_t mem, mem_max;	/* held in memory, and the bound */
	int spill;		/* the spill file; -1 until needed */
	off_t spill_end;
	size_t spill_live;	/* held bytes in it */
	int spill_warned;
	struct mp_obj q;	/* the queue, to hand a dead worker's lease back */
	int q_open;
	char buf[65536];
};

/* Inherited by the pool's workers (forked from the keeper). */
static int take_lock_fd = -1, report_fd = -1;

static int tmpfile_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	snprintf(path, sizeof path, "%s/mpspawn.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int sup_order_init(struct keeper *k)
{
	struct order *o = calloc(1, sizeof *o);
	const char *env = getenv("MP_KEEP_ORDER_MEMORY");
	uint64_t max = DEFAULT_MEMORY;
	int sv[2];

	if (!o)
		return -1;
	if (env && mp_parse_size(env, &max, NULL, 0))
		k->c->warn("MP_KEEP_ORDER_MEMORY: '%s' is not a size; using 8M", env);
	o->mem_max = (size_t)max;
	o->spill = -1;
	o->cur = calloc(k->c->nworkers, sizeof *o->cur);
	take_lock_fd = tmpfile_fd();
	if (!o->cur || take_lock_fd < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(o->cur);
		free(o);
		return -1;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	o->sock = sv[0];
	report_fd = sv[1];
	k->ord = o;
	return 0;
}

int sup_order_fd(const struct keeper *k)
{
	return k->ord ? k->ord->sock : -1;
}

/* ---- the worker's side ---- */

static int take_lock(short type, int cmd)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

	return fcntl(take_lock_fd, cmd, &fl);
}

int sup_order_lock(void)
{
	while (take_lock(F_WRLCK, F_SETLKW) < 0) {
		if (errno != EINTR)
			return -errno;
		if (mp_signal_pending)
			return -EINTR;
	}
	if (mp_signal_pending) {
		sup_order_unlock();
		return -EINTR;
	}
	return 0;
}

void sup_order_unlock(void)
{
	take_lock(F_UNLCK, F_SETLK);
}

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h ^ n;
}

static int send_report(const struct report *r, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)r, .iov_len = sizeof *r };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;
		memset(ctl, 0, sizeof ctl);
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof ctl;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	while (sendmsg(report_fd, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int sup_order_report_take(uint32_t id, const char *msg, size_t len, int *out)
{
	struct report r = { .type = R_TAKE, .worker = id, .hash = fnv1a(msg, len) };
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rc = send_report(&r, p[0]);
	close(p[0]);
	if (rc) {
		close(p[1]);
		return rc;
	}
	*out = p[1];
	return 0;
}

void sup_order_report_done(uint32_t id, int status)
{
	struct report r = { .type = R_DONE, .worker = id, .status = status };

	send_report(&r, -1);
}

/* ---- the keeper's side ---- */

static struct stream *stream_of(struct keeper *k, struct omsg *m)
{
	for (size_t i = 0; i < k->nst; i++)
		if (k->st[i].msg == m && k->st[i].fd >= 0 && k->st[i].fd == m->fd)
			return &k->st[i];
	return NULL;
}

static void drop_data(struct order *o, struct omsg *m)
{
	for (size_t i = 0; i < m->next; i++)
		o->spill_live -= m->ext[i].len;
	o->mem -= m->mlen;
	free(m->mem);
	free(m->ext);
	m->mem = NULL;
	m->ext = NULL;
	m->mlen = m->mcap = m->next = m->ecap = 0;
	if (o->spill >= 0 && o->spill_live == 0 && o->spill_end) {
		/* nothing held is in the file: start it over */
		if (ftruncate(o->spill, 0) == 0)
			o->spill_end = 0;
	}
}

static int spill(struct keeper *k, struct omsg *m, const char *p, size_t n)
{
	struct order *o = k->ord;

	if (o->spill < 0 && (o->spill = tmpfile_fd()) < 0)
		goto fail;
	if (m->next == m->ecap) {
		size_t nc = m->ecap ? m->ecap * 2 : 8;
		struct extent *ne = realloc(m->ext, nc * sizeof *ne);
		if (!ne)
			goto fail;
		m->ext = ne;
		m->ecap = nc;
	}
	for (size_t done = 0; done < n;) {
		ssize_t w = pwrite(o->spill, p + done, n - done, o->spill_end + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (m->next && m->ext[m->next - 1].off + (off_t)m->ext[m->next - 1].len == o->spill_end)
		m->ext[m->next - 1].len += n;
	else
		m->ext[m->next++] = (struct extent){ o->spill_end, n };
	o->spill_end += (off_t)n;
	o->spill_live += n;
	return 0;
fail:
	if (!o->spill_warned++)
		k->c->warn("--keep-order: cannot write held output to a temporary file in %s "
			   "(%s); holding it in memory", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
			   strerror(errno));
	return -1;
}

void sup_order_append(struct keeper *k, struct omsg *m, const char *p, size_t n)
{
	struct order *o = k->ord;

	if (m->orphan || !n)
		return;
	/* once a message spills, the rest of it goes to the file too */
	if ((m->next || o->mem + n > o->mem_max) && spill(k, m, p, n) == 0)
		return;
	if (m->mlen + n > m->mcap) {
		size_t nc = m->mcap ? m->mcap : 1024;
		char *nb;
		while (nc < m->mlen + n)
			nc *= 2;
		nb = realloc(m->mem, nc);
		if (!nb) {
			k->c->warn("--keep-order: out of memory; output of a message lost");
			k->out_error = 1;
			return;
		}
		m->mem = nb;
		m->mcap = nc;
	}
	memcpy(m->mem + m->mlen, p, n);
	m->mlen += n;
	o->mem += n;
}

/* Writes out message m's held output. */
static void write_msg(struct keeper *k, struct omsg *m)
{
	struct order *o = k->ord;

	sup_write_out(k, 1, m->mem, m->mlen);
	for (size_t i = 0; i < m->next; i++) {
		off_t off = m->ext[i].off;
		size_t left = m->ext[i].len;
		while (left) {
			ssize_t r = pread(o->spill, o->buf, left < sizeof o->buf ? left : sizeof o->buf, off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				k->c->warn("--keep-order: cannot read back held output: %s",
					   r < 0 ? strerror(errno) : "the file is short");
				k->out_error = 1;
				break;
			}
			sup_write_out(k, 1, o->buf, (size_t)r);
			off += r;
			left -= (size_t)r;
		}
	}
}

/* Writes out, in order, every finished message at the head. */
static void release(struct keeper *k)
{
	struct order *o = k->ord;
	size_t i = 0;

	while (i < o->nheld && o->held[i]->done) {
		write_msg(k, o->held[i]);
		drop_data(o, o->held[i]);
		free(o->held[i]);
		i++;
	}
	if (!i)
		return;
	memmove(o->held, o->held + i, (o->nheld - i) * sizeof *o->held);
	o->nheld -= i;
	o->base += i;
}

/* Worker i died with message m in its hands: its number waits for the
 * retry, and the queue is asked to hand the lease back now. */
static void orphan(struct keeper *k, uint32_t i, struct omsg *m)
{
	struct order *o = k->ord;
	struct mp_queue_info qi;
	struct stream *s = stream_of(k, m);

	o->cur[i] = NULL;
	if (s) {
		close(s->fd);
		s->fd = -1;
		s->msg = NULL;
	}
	m->fd = -1;
	m->orphan = 1;
	drop_data(o, m);
	/* the queue hands a dead owner's lease back when asked about it:
	 * the retry comes next, not when the queue runs dry */
	if (!o->q_open && mp_queue_open(k->c->store, k->c->queue, 0, NULL, NULL, &o->q) == 0)
		o->q_open = 1;
	if (o->q_open)
		mp_queue_info(&o->q, &qi, NULL, 0);
}

/* Worker i has ended, though not reaped yet (a zombie): a retry of its
 * message may be reported before its SIGCHLD is read. */
static int worker_dead(const struct keeper *k, uint32_t i)
{
	siginfo_t si;

	if (k->w[i].pid <= 0)
		return 1;
	memset(&si, 0, sizeof si);
	return waitid(P_PID, (id_t)k->w[i].pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid != 0;
}

/* A new message (or the retry of an orphan) taken by worker w. */
static void taken(struct keeper *k, const struct report *r, int fd)
{
	struct order *o = k->ord;
	struct omsg *m = NULL;

	for (size_t i = 0; i < o->nheld && !m; i++) {
		struct omsg *h = o->held[i];
		if (h->hash != r->hash || h->done)
			continue;
		/* the retry of a message whose worker has died, seen before the
		 * worker's end is */
		if (!h->orphan && h->worker != r->worker && o->cur[h->worker] == h &&
		    worker_dead(k, h->worker))
			orphan(k, h->worker, h);
		if (h->orphan)
			m = h;
	}
	if (m) {
		m->orphan = 0;	/* its retry: the number is its again */
	} else {
		if (o->nheld == o->cap) {
			size_t nc = o->cap ? o->cap * 2 : 64;
			struct omsg **nh = realloc(o->held, nc * sizeof *nh);
			if (!nh)
				goto oom;
			o->held = nh;
			o->cap = nc;
		}
		m = calloc(1, sizeof *m);
		if (!m)
			goto oom;
		m->pos = o->base + o->nheld;
		m->hash = r->hash;
		o->held[o->nheld++] = m;
	}
	m->fd = fd;
	m->worker = r->worker;
	o->cur[r->worker] = m;
	if (k->out_dead[1]) {
		/* nobody reads our output: the command gets SIGPIPE, as it
		 * would writing there itself */
		close(fd);
		m->fd = -1;
		return;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (sup_add_stream(k, fd, r->worker, 1) < 0)
		goto oom;
	k->st[k->nst - 1].msg = m;
	return;
oom:
	k->c->warn("--keep-order: out of memory");
	k->out_error = 1;
	close(fd);
}

/* Worker w's message has ended: what is left in its pipe is its last. */
static void finished(struct keeper *k, uint32_t w)
{
	struct omsg *m = k->ord->cur[w];
	struct stream *s;

	if (!m)
		return;
	k->ord->cur[w] = NULL;
	s = stream_of(k, m);
	if (s)
		sup_finish_stream(k, s);
	m->fd = -1;
	m->done = 1;
}

void sup_order_read(struct keeper *k)
{
	struct order *o = k->ord;

	for (;;) {
		char ctl[CMSG_SPACE(sizeof(int))];
		struct report r;
		struct iovec iov = { .iov_base = &r, .iov_len = sizeof r };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof ctl };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(o->sock, &mh, MSG_CMSG_CLOEXEC);
		int fd = -1;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
		if (n != (ssize_t)sizeof r || r.worker >= k->c->nworkers) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (r.type == R_TAKE && fd >= 0)
			taken(k, &r, fd);
		else if (r.type == R_DONE)
			finished(k, r.worker);
		else if (fd >= 0)
			close(fd);
	}
	release(k);
}

void sup_order_worker_ended(struct keeper *k, uint32_t i)
{
	/* a worker's last reports were sent before it ended */
	sup_order_read(k);
	if (k->ord->cur[i])
		orphan(k, i, k->ord->cur[i]);
}

void sup_order_finish(struct keeper *k)
{
	struct order *o = k->ord;
	size_t dropped = 0;

	sup_order_read(k);
	for (size_t i = 0; i < o->nheld; i++)
		if (!o->held[i]->done) {
			o->held[i]->done = 1;
			drop_data(o, o->held[i]);
			dropped++;
		}
	release(k);
	if (dropped && !k->stopping)
		k->c->warn("--keep-order: %zu message%s did not finish; %s output was dropped",
			   dropped, dropped == 1 ? "" : "s", dropped == 1 ? "its" : "their");
}
