/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue-ring.c - the byte ring: records appended beyond tail, runs of
 * records copied out for a reservation.
 *
 * Invariant: head <= read <= tail, and [head, tail) is whole records
 * [u32 len][u32 state][payload], 8-aligned, payloads split at the wrap.
 * A put writes only beyond tail, where nobody looks, and one commit then
 * moves tail over what it wrote; a take only reads records, and its
 * commit (queue-lease.c) moves read or marks them.  So a process killed
 * while copying leaves the ring as it was.
 */
#include "config.h"

#include "fault.h"
#include "queue-int.h"

#include <stdlib.h>
#include <string.h>

/* Per lock hold: bounds the time others wait for the mutex. */
#define PUT_BATCH_BYTES	(256 * 1024)
#define PUT_BATCH_COUNT	16384

/* Copies len bytes of payload starting at ring offset off (wrapping). */
static void ring_get(struct mp_obj *o, uint64_t off, void *dst, size_t len)
{
	uint64_t rs = RSIZE(o), first = rs - off;
	char *r = ring_of(o);

	if (len <= first) {
		memcpy(dst, r + off, len);
	} else {
		memcpy(dst, r + off, first);
		memcpy((char *)dst + first, r, len - first);
	}
}

static void ring_put(struct mp_obj *o, uint64_t off, const void *src, size_t len)
{
	uint64_t rs = RSIZE(o), first = rs - off;
	char *r = ring_of(o);

	if (len <= first) {
		memcpy(r + off, src, len);
	} else {
		memcpy(r + off, src, first);
		memcpy(r, (const char *)src + first, len - first);
	}
}

/* memcpy for the short messages of a stream, where a call costs more than
 * the copy: overlapping loads and stores, within [0, n) on both sides. */
static inline void copy_small(char *d, const char *src, size_t n)
{
	if (n > 16) {
		memcpy(d, src, n);
	} else if (n >= 8) {
		uint64_t a, b;
		memcpy(&a, src, 8);
		memcpy(&b, src + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, src, 4);
		memcpy(&b, src + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else if (n) {
		d[0] = src[0];
		d[n / 2] = src[n / 2];
		d[n - 1] = src[n - 1];
	}
}

/* Copies as many of v[*i..n) as fit (and as a lock hold allows) beyond
 * tail and commits them.  Returns how many, 0 if the queue is full. */
size_t queue_ring_append(struct mp_obj *o, const struct iovec *v, size_t n, size_t i)
{
	struct qstate *s = &Q(o)->st;
	uint64_t held = s->n_tail + s->n_redo + s->n_flight;
	uint64_t bheld = s->b_tail + s->b_redo + s->b_flight;
	uint64_t pos = s->tail, off = s->tail % RSIZE(o), limit = s->head + RSIZE(o);
	uint64_t nb = 0, k = 0, maxitems = MAXITEMS(o), maxbytes = MAXBYTES(o);
	char *ring = ring_of(o);
	struct txn t;

	while (i + k < n && k < PUT_BATCH_COUNT && nb < PUT_BATCH_BYTES) {
		uint64_t len = v[i + k].iov_len, sz = rec_size(len);
		struct qrec *r;

		if (held + k + 1 > maxitems || bheld + nb + len > maxbytes || pos + sz > limit)
			break;
		r = (struct qrec *)(ring + off);
		r->len = (uint32_t)len;
		r->state = QREC_READY;
		uint64_t poff = wrap(o, off + QREC_HDR);
		if (poff + len <= RSIZE(o))
			copy_small(ring + poff, v[i + k].iov_base, len);
		else
			ring_put(o, poff, v[i + k].iov_base, len);
		pos += sz;
		off = wrap(o, off + sz);
		nb += len;
		k++;
	}
	if (!k)
		return 0;
	MP_FAULT_POINT("queue.put.copied");
	queue_txn_begin(o, &t);
	t.st.tail = pos;
	t.st.n_tail += k;
	t.st.b_tail += nb;
	t.st.unfinished += k;
	t.st.puts += k;
	queue_commit(o, &t);
	return k;
}

/* Copies a record's payload (at ring offset off) out. */
static inline void payload_get(struct mp_obj *o, uint64_t off, char *dst, uint64_t len)
{
	if (off + len <= RSIZE(o))
		copy_small(dst, ring_of(o) + off, len);
	else
		ring_get(o, off, dst, len);
}

/* A reservation's records in [head, read), sorted: the redelivery scan
 * must not take the unmarked records of contiguous reservations. */
struct span {
	uint64_t start, end;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Returns how many, or -EBADMSG if a span is impossible. */
static int contig_spans(struct mp_obj *o, struct span *sp)
{
	struct qslot *sl = slots_of(o);
	int n = 0;

	for (uint32_t i = 0; i < NSLOTS(o); i++)
		if (sl[i].used && (sl[i].flags & QS_CONTIG)) {
			if (queue_span_ok(o, &sl[i]))
				return -EBADMSG;
			sp[n++] = (struct span){ sl[i].start, sl[i].end };
		}
	if (n)
		qsort(sp, (size_t)n, sizeof *sp, cmp_span);
	return n;
}

/* Appends one message to b. */
static inline void batch_add(struct mp_obj *o, struct mp_queue_batch *b, size_t *outlen,
			     uint64_t k, uint64_t off, uint64_t len, int sep)
{
	payload_get(o, wrap(o, off + QREC_HDR), b->buf + *outlen, len);
	*outlen += len;
	if (sep >= 0)
		b->buf[(*outlen)++] = (char)sep;
	b->ends[k] = *outlen;
}

/* The hot path: one run of READY records from the read position, up to
 * r->max_count of them (and r->max_bytes, the first whatever its size),
 * copied into b.  Returns 0 or -EBADMSG. */
int queue_ring_take_run(struct mp_obj *o, const struct mp_queue_take_req *r,
			struct mp_queue_batch *b, struct qtake *tk)
{
	struct qstate *st = &Q(o)->st;
	uint64_t pos, end, off, nb = 0, k = 0, maxmsg = MAXMSG(o);
	char *ring = ring_of(o);
	size_t outlen = 0;

	pos = tk->x = st->read;
	end = st->tail;
	off = pos % RSIZE(o);
	while (pos < end && k < r->max_count) {
		struct qrec *rec = (struct qrec *)(ring + off);
		uint64_t len = rec->len, sz = rec_size(len);

		if (len > maxmsg || pos + sz > end || rec->state != QREC_READY)
			return queue_corrupt(o, "bad record after the read position");
		if (k && nb + len > r->max_bytes)
			break;
		batch_add(o, b, &outlen, k, off, len, r->sep);
		nb += len;
		k++;
		pos += sz;
		off = wrap(o, off + sz);
	}
	tk->y = pos;
	tk->k = k;
	tk->nb = nb;
	tk->outlen = outlen;
	return 0;
}

/* The handed-back records, oldest first, skipping the runs of contiguous
 * reservations; one run of our own only, so that the READY -> slot step
 * cannot touch theirs.  Limits and copying as queue_ring_take_run().
 * Returns 0 (at least one record taken) or -EBADMSG. */
int queue_ring_take_redo(struct mp_obj *o, const struct mp_queue_take_req *r,
			 struct mp_queue_batch *b, struct qtake *tk)
{
	struct qstate *st = &Q(o)->st;
	uint64_t pos, end, off, x, y = 0, nb = 0, k = 0, maxmsg = MAXMSG(o);
	char *ring = ring_of(o);
	size_t outlen = 0;
	struct span spans[MP_QUEUE_SLOTS];
	int nsp = contig_spans(o, spans), si = 0;

	if (nsp < 0)
		return nsp;

	pos = st->head;
	end = st->read;
	x = 0;
	off = pos % RSIZE(o);
	while (pos < end && k < r->max_count) {
		struct qrec *rec;
		uint64_t len, sz;

		while (si < nsp && spans[si].end <= pos)
			si++;
		if (si < nsp && spans[si].start <= pos) {
			if (k || spans[si].end > end || spans[si].start != pos)
				break;
			pos = spans[si].end;
			off = pos % RSIZE(o);
			continue;
		}
		rec = (struct qrec *)(ring + off);
		len = rec->len;
		sz = rec_size(len);
		if (len > maxmsg || pos + sz > end)
			return queue_corrupt(o, "bad record before the read position");
		if (rec->state == QREC_READY) {
			if (k && nb + len > r->max_bytes)
				break;
			if (!k)
				x = pos;
			batch_add(o, b, &outlen, k, off, len, r->sep);
			nb += len;
			k++;
			y = pos + sz;
			if (k == st->n_redo)
				break;	/* no more READY ones before read */
		}
		pos += sz;
		off = wrap(o, off + sz);
	}
	if (!k)
		return queue_corrupt(o, "handed-back records missing");
	tk->x = x;
	tk->y = y;
	tk->k = k;
	tk->nb = nb;
	tk->outlen = outlen;
	return 0;
}
