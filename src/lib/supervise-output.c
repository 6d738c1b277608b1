/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervise-output.c - --tag: the keeper reads each worker's stdout and
 * stderr through a pipe and writes whole lines, each prefixed "[ID] ".
 *
 * Invariant: a line reaches fd 1 or 2 in one piece with its worker's
 * prefix, never mixed with another worker's (a line longer than MAX_LINE
 * is cut into prefixed pieces); an incomplete last line is written when
 * its stream ends.  When an output's reader is gone (EPIPE) the streams
 * writing to it are closed, so the workers get SIGPIPE as they would
 * writing to it directly.
 */
#include "config.h"

#include "supervise-int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE	(1u << 20)	/* a longer line is cut into pieces */
#define READ_CHUNK	65536

/* Writes all of p to fd 1 or 2; an output whose reader is gone is
 * dropped (and its streams closed, so the workers get SIGPIPE as they
 * would writing to it directly). */
void sup_write_out(struct keeper *k, int out, const char *p, size_t n)
{
	while (n && !k->out_dead[out]) {
		ssize_t r = write(out, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = out, .events = POLLOUT };
			poll(&pf, 1, 1000);
		} else {
			int e = r < 0 ? errno : EIO;

			if (e == EPIPE) {
				k->out_dead[out] = 1;
				for (size_t i = 0; i < k->nst; i++)
					if (k->st[i].out == out && k->st[i].fd >= 0) {
						close(k->st[i].fd);
						k->st[i].fd = -1;
					}
			} else {
				k->out_dead[out] = 1;
			}
			if (!k->out_error) {
				k->out_error_first = k->first_fail < 0;
				k->c->warn("cannot write the workers' output to %s: %s",
					   out == 1 ? "standard output" : "standard error",
					   strerror(e));
			}
			k->out_error = 1;
			return;
		}
	}
}

/* Where a stream's (tagged) data goes: out, or its message's buffer. */
static void emit(struct keeper *k, struct stream *s, const char *p, size_t n)
{
	if (s->msg)
		sup_order_append(k, s->msg, p, n);
	else
		sup_write_out(k, s->out, p, n);
}

static int reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	char *nb = realloc(*buf, nc);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = nc;
	return 0;
}

/* Emits the complete lines of s->part + d[0..n), each prefixed; keeps the
 * incomplete rest in s->part.  At eof the rest is a line too. */
static void tag_data(struct keeper *k, struct stream *s, const char *d, size_t n, int eof)
{
	char prefix[24];
	int plen = snprintf(prefix, sizeof prefix, "[%llu] ", (unsigned long long)s->id);
	size_t o = 0, lines = 0;
	const char *p, *end = d + n, *nl;

	for (p = d; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1)
		lines++;
	if (lines == 0 && !eof && s->len + n <= MAX_LINE) {
		if (reserve(&s->part, &s->cap, s->len + n) == 0) {
			memcpy(s->part + s->len, d, n);
			s->len += n;
			return;
		}
	}
	/* room for every line, its prefix, the carried part, a final '\n' */
	if (reserve(&k->obuf, &k->ocap, s->len + n + (lines + 2) * (size_t)plen + 2) < 0)
		return;
	p = d;
	if (lines) {
		nl = memchr(p, '\n', (size_t)(end - p));
		memcpy(k->obuf + o, prefix, (size_t)plen), o += (size_t)plen;
		if (s->len)	/* part is NULL until a partial line came */
			memcpy(k->obuf + o, s->part, s->len), o += s->len;
		memcpy(k->obuf + o, p, (size_t)(nl - p) + 1), o += (size_t)(nl - p) + 1;
		s->len = 0;
		p = nl + 1;
		while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
			memcpy(k->obuf + o, prefix, (size_t)plen), o += (size_t)plen;
			memcpy(k->obuf + o, p, (size_t)(nl - p) + 1), o += (size_t)(nl - p) + 1;
			p = nl + 1;
		}
	}
	/* p..end is an incomplete line */
	if (eof || s->len + (size_t)(end - p) > MAX_LINE) {
		if (s->len || p < end) {
			memcpy(k->obuf + o, prefix, (size_t)plen), o += (size_t)plen;
			if (s->len)
				memcpy(k->obuf + o, s->part, s->len), o += s->len;
			memcpy(k->obuf + o, p, (size_t)(end - p)), o += (size_t)(end - p);
			k->obuf[o++] = '\n';
			s->len = 0;
		}
	} else if (p < end && reserve(&s->part, &s->cap, s->len + (size_t)(end - p)) == 0) {
		memcpy(s->part + s->len, p, (size_t)(end - p));
		s->len += (size_t)(end - p);
	}
	emit(k, s, k->obuf, o);
}

/* Data of stream s: tagged lines with --tag, else as it came (the held
 * output of --keep-order). */
static void take_data(struct keeper *k, struct stream *s, const char *d, size_t n, int eof)
{
	if (k->c->tag)
		tag_data(k, s, d, n, eof);
	else if (n)
		emit(k, s, d, n);
}

/* Reads what stream s has; at EOF flushes and closes it. */
void sup_read_stream(struct keeper *k, struct stream *s)
{
	static char buf[READ_CHUNK];
	ssize_t r;

	for (int rounds = 0; rounds < 4 && s->fd >= 0; rounds++) {
		r = read(s->fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			take_data(k, s, buf, 0, 1);
			close(s->fd);
			s->fd = -1;
			return;
		}
		take_data(k, s, buf, (size_t)r, 0);
		if (r < (ssize_t)sizeof buf)
			return;
	}
}

void sup_drop_closed_streams(struct keeper *k)
{
	size_t j = 0;

	for (size_t i = 0; i < k->nst; i++) {
		if (k->st[i].fd >= 0)
			k->st[j++] = k->st[i];
		else
			free(k->st[i].part);
	}
	k->nst = j;
}

int sup_add_stream(struct keeper *k, int fd, uint64_t id, int out)
{
	if (k->nst == k->capst) {
		size_t nc = k->capst ? k->capst * 2 : 16;
		struct stream *ns = realloc(k->st, nc * sizeof *ns);
		if (!ns)
			return -1;
		k->st = ns;
		k->capst = nc;
	}
	k->st[k->nst++] = (struct stream){ .fd = fd, .id = id, .out = out };
	return 0;
}

void sup_finish_stream(struct keeper *k, struct stream *s)
{
	while (s->fd >= 0) {
		ssize_t r = read(s->fd, k->drain, sizeof k->drain);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0) {
			take_data(k, s, k->drain, (size_t)r, 0);
			continue;
		}
		take_data(k, s, k->drain, 0, 1);
		close(s->fd);
		s->fd = -1;
	}
}

/* Everything below has ended: what is left in the pipes is complete.
 * (EAGAIN instead of EOF: a process outside the group was handed a
 * write end; it is not waited for.) */
void sup_drain_streams(struct keeper *k)
{
	for (size_t i = 0; i < k->nst; i++)
		sup_finish_stream(k, &k->st[i]);
	sup_drop_closed_streams(k);
}
