/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-queue - drives the queue module directly, for tests/mpqueue.bats.
 *
 *   t-queue check NAME          walk the ring and check every invariant
 *   t-queue hammer NAME SECONDS WORKERS SEED
 *                               workers put, take, settle, lease, ack and
 *                               requeue self-checking messages as fast as
 *                               they can while this process SIGKILLs one
 *                               every few hundred microseconds (and starts
 *                               another); then checks the invariants and
 *                               drains the queue, verifying every message
 *   t-queue lease NAME          get_lease one message, print it, ack it
 *
 * The queue's internals are private to queue.c, so it is included here
 * whole: this driver's copy of the module is the one linked in.
 * Exit: 0 all good, 1 an invariant or a message is broken, 2 usage/setup.
 */
#include "config.h"

#include "mutex-word.h"
#include "lib/queue.c"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

static struct mp_store st;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "t-queue: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

/* ---- invariants ---- */

static int in_contig(struct mp_obj *o, uint64_t pos, int *slot)
{
	struct qslot *sl = slots_of(o);

	for (uint32_t i = 0; i < NSLOTS(o); i++)
		if (sl[i].used && (sl[i].flags & QS_CONTIG) && pos >= sl[i].start && pos < sl[i].end) {
			*slot = (int)i;
			return 1;
		}
	return 0;
}

/* Called locked (so a pending journal has been rolled forward). */
static int check_locked(struct mp_obj *o)
{
	struct qstate *s = &Q(o)->st;
	struct qslot *sl = slots_of(o);
	uint64_t cnt[MP_QUEUE_SLOTS] = { 0 }, byt[MP_QUEUE_SLOTS] = { 0 };
	uint64_t pos, nredo = 0, bredo = 0, ntail = 0, btail = 0, nfl = 0, bfl = 0;
	uint32_t used = 0;
	int slot;

	if (Q(o)->jr.valid)
		return fail("journal still valid after locking");
	if (state_ok(o))
		return fail("%s", mp_errmsg());
	pos = s->head;
	while (pos < s->read) {
		struct qrec *r = rec_at(o, pos);
		if (r->len > MAXMSG(o))
			return fail("record at %llu: length %u", (unsigned long long)pos, r->len);
		if (pos == s->head && r->state == QREC_ACKED)
			return fail("head record is acknowledged");
		if (in_contig(o, pos, &slot)) {
			if (r->state == QREC_ACKED)
				goto next;
			if (r->state != QREC_READY)
				return fail("record %llu in a contiguous reservation is marked %u",
					    (unsigned long long)pos, r->state);
			cnt[slot]++;
			byt[slot] += r->len;
		} else if (r->state == QREC_READY) {
			nredo++;
			bredo += r->len;
		} else if (r->state != QREC_ACKED) {
			uint32_t k = r->state - 1;
			if (k >= NSLOTS(o) || !sl[k].used || (sl[k].flags & QS_CONTIG) ||
			    pos < sl[k].start || pos >= sl[k].end)
				return fail("record %llu marked by slot %u, which does not hold it",
					    (unsigned long long)pos, k);
			cnt[k]++;
			byt[k] += r->len;
		}
next:
		pos += rec_size(r->len);
	}
	if (pos != s->read)
		return fail("records overrun the read position");
	while (pos < s->tail) {
		struct qrec *r = rec_at(o, pos);
		if (r->len > MAXMSG(o) || r->state != QREC_READY)
			return fail("undelivered record %llu: length %u state %u",
				    (unsigned long long)pos, r->len, r->state);
		ntail++;
		btail += r->len;
		pos += rec_size(r->len);
	}
	if (pos != s->tail)
		return fail("records overrun the tail");
	for (uint32_t i = 0; i < NSLOTS(o); i++) {
		if (!sl[i].used)
			continue;
		used++;
		if (cnt[i] != sl[i].count || byt[i] != sl[i].bytes)
			return fail("slot %u holds %llu records (%llu bytes), says %llu (%llu)", i,
				    (unsigned long long)cnt[i], (unsigned long long)byt[i],
				    (unsigned long long)sl[i].count, (unsigned long long)sl[i].bytes);
		nfl += cnt[i];
		bfl += byt[i];
	}
	if (used != s->nslots_used)
		return fail("%u slots used, state says %u", used, s->nslots_used);
	if (nredo != s->n_redo || bredo != s->b_redo)
		return fail("handed back: %llu (%llu bytes), state says %llu (%llu)",
			    (unsigned long long)nredo, (unsigned long long)bredo,
			    (unsigned long long)s->n_redo, (unsigned long long)s->b_redo);
	if (ntail != s->n_tail || btail != s->b_tail)
		return fail("undelivered: %llu (%llu bytes), state says %llu (%llu)",
			    (unsigned long long)ntail, (unsigned long long)btail,
			    (unsigned long long)s->n_tail, (unsigned long long)s->b_tail);
	if (nfl != s->n_flight || bfl != s->b_flight)
		return fail("in flight: %llu (%llu bytes), state says %llu (%llu)",
			    (unsigned long long)nfl, (unsigned long long)bfl,
			    (unsigned long long)s->n_flight, (unsigned long long)s->b_flight);
	return 0;
}

static int check(struct mp_obj *o)
{
	int rc = mp_obj_lock(o);

	if (rc)
		return fail("lock: %s", strerror(-rc));
	rc = check_locked(o);
	mp_obj_unlock(o);
	return rc;
}

/* ---- self-checking messages ---- */

static uint32_t sum(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

/* [u32 checksum of the rest][random bytes, NULs included] */
static size_t make_msg(char *buf, unsigned *seed)
{
	size_t n = 4 + (size_t)(rand_r(seed) % 300);
	uint32_t h;

	if (rand_r(seed) % 50 == 0)
		n = 4 + (size_t)(rand_r(seed) % 20000);
	for (size_t i = 4; i < n; i++)
		buf[i] = (char)rand_r(seed);
	h = sum(buf + 4, n - 4);
	memcpy(buf, &h, 4);
	return n;
}

static int msg_ok(const char *p, size_t n)
{
	uint32_t h;

	if (n < 4)
		return 0;
	memcpy(&h, p, 4);
	return h == sum(p + 4, n - 4);
}

/* ---- hammer ---- */

static void worker(const char *name, unsigned seed)
{
	static char buf[64 * 1024], m[8][24000];
	struct mp_queue_batch b;
	struct mp_obj o;
	struct mp_owner me;
	int rc;

	memset(&b, 0, sizeof b);
	if (mp_queue_open(&st, name, 0, NULL, NULL, &o))
		_exit(2);
	mp_owner_of(0, &me);
	for (;;) {
		int op = rand_r(&seed) % 10;
		if (op < 4) {
			struct iovec v[8];
			int n = 1 + rand_r(&seed) % 8;
			for (int i = 0; i < n; i++) {
				v[i].iov_base = m[i];
				v[i].iov_len = make_msg(m[i], &seed);
			}
			rc = mp_queue_put(&o, v, (size_t)n, 0, 1, NULL);
			if (rc && rc != -EAGAIN)
				_exit(3);
		} else if (op < 8) {
			struct mp_queue_take_req r = {
				.max_count = 1 + (uint32_t)(rand_r(&seed) % 50), .max_bytes = 50000,
				.sep = -1, .nonblock = 1,
			};
			rc = mp_queue_take(&o, &r, &b);
			if (rc == -EAGAIN)
				continue;
			if (rc < 0)
				_exit(4);
			for (uint32_t i = 0; i < b.count; i++) {
				size_t s0 = i ? b.ends[i - 1] : 0;
				if (!msg_ok(b.buf + s0, b.ends[i] - s0))
					_exit(5);
			}
			/* ack all, some, or none (as a failed write would) */
			uint32_t w = rand_r(&seed) % 4 ? b.count : (uint32_t)rand_r(&seed) % (b.count + 1);
			if (rand_r(&seed) % 3 == 0)
				mp_queue_settle(&o, &b, w, &me, rand_r(&seed) % 2 ? 1000000 : 0, NULL);
			else if (rand_r(&seed) % 2)
				mp_queue_settle(&o, &b, w, NULL, 0, NULL);
			/* else: acked by the next take */
		} else {
			struct mp_queue_get_req r = { .owner = me, .nonblock = 1 };
			struct mp_queue_lease l;
			size_t len;
			rc = mp_queue_get_lease(&o, &r, buf, sizeof buf, &len, &l);
			if (rc == -EAGAIN)
				continue;
			if (rc)
				_exit(6);
			if (!msg_ok(buf, len))
				_exit(7);
			if (rand_r(&seed) % 2)
				mp_queue_ack(&o, &l);
			else
				mp_queue_requeue(&o, &l);
		}
	}
}

static pid_t spawn(const char *name, unsigned seed)
{
	pid_t p = fork();
	if (p == 0)
		worker(name, seed);
	return p;
}

static int hammer(const char *name, double seconds, int nworkers, unsigned seed)
{
	struct mp_queue_params p = { 2000, 256 * 1024, 24000 };
	struct mp_queue_batch b;
	struct mp_obj o;
	pid_t pids[64];
	long kills = 0, in_commit = 0, in_lock = 0;
	int64_t end = mp_now_ns() + (int64_t)(seconds * 1e9);
	int rc, bad = 0;

	if (nworkers > 64)
		nworkers = 64;
	if (mp_queue_open(&st, name, 1, &p, NULL, &o))
		return fail("open: %s", mp_errmsg());
	for (int i = 0; i < nworkers; i++)
		pids[i] = spawn(name, seed + (unsigned)i);
	while (mp_now_ns() < end) {
		struct timespec ts = { 0, 100000 + rand_r(&seed) % 400000 };
		int i = rand_r(&seed) % nworkers, status;

		nanosleep(&ts, NULL);
		kill(pids[i], SIGKILL);
		waitpid(pids[i], &status, 0);
		if (!WIFSIGNALED(status)) {
			fail("worker exited with %d (a corrupt message or an error)",
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			bad = 1;
			break;
		}
		kills++;
		/* where did it die?  (the journal was valid: inside a commit) */
		if (__atomic_load_n(&Q(&o)->jr.valid, __ATOMIC_ACQUIRE))
			in_commit++;
		if (mutex_owner_tid(&o.hdr->mu) == pids[i])
			in_lock++;
		pids[i] = spawn(name, seed += 7919);
	}
	for (int i = 0; i < nworkers; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	printf("%ld kills, %ld holding the mutex, %ld inside a commit\n", kills, in_lock, in_commit);
	if (bad)
		return 1;
	if (check(&o))
		return 1;
	/* every reservation's owner is dead now: drain, checking messages */
	memset(&b, 0, sizeof b);
	long got = 0;
	for (;;) {
		struct mp_queue_take_req r = { .max_count = 100, .max_bytes = 100000, .sep = -1,
					       .nonblock = 1 };
		rc = mp_queue_take(&o, &r, &b);
		if (rc == -EAGAIN)
			break;
		if (rc < 0)
			return fail("drain: %s", strerror(-rc));
		for (uint32_t i = 0; i < b.count; i++) {
			size_t s0 = i ? b.ends[i - 1] : 0;
			if (!msg_ok(b.buf + s0, b.ends[i] - s0))
				return fail("corrupt message in the drain");
		}
		got += rc;
	}
	mp_queue_settle(&o, &b, b.count, NULL, 0, NULL);
	if (check(&o))
		return 1;
	struct mp_queue_info qi;
	mp_queue_info(&o, &qi, NULL, 0);
	if (qi.items || qi.in_flight || qi.ring_used)
		return fail("not empty after draining: %llu waiting, %llu in flight, ring %llu",
			    (unsigned long long)qi.items, (unsigned long long)qi.in_flight,
			    (unsigned long long)qi.ring_used);
	printf("drained %ld messages; %llu put, %llu got, %llu delivered again in all\n", got,
	       (unsigned long long)qi.puts, (unsigned long long)qi.acks,
	       (unsigned long long)qi.redelivered);
	return 0;
}

int main(int argc, char **argv)
{
	struct mp_obj o;
	int rc;

	if (argc < 3)
		return fprintf(stderr, "usage: t-queue check|hammer|lease NAME ...\n"), 2;
	if (mp_store_open(&st, NULL))
		return fail("store: %s", mp_errmsg()), 2;
	if (!strcmp(argv[1], "hammer") && argc == 6)
		return hammer(argv[2], atof(argv[3]), atoi(argv[4]), (unsigned)atoi(argv[5]));
	rc = mp_queue_open(&st, argv[2], 0, NULL, NULL, &o);
	if (rc)
		return fail("open: %s", mp_errmsg()), 2;
	if (!strcmp(argv[1], "check")) {
		return check(&o);
	} else if (!strcmp(argv[1], "lease")) {
		static char buf[1 << 20];
		struct mp_queue_get_req r = { .nonblock = 1 };
		struct mp_queue_lease l;
		size_t len;
		mp_owner_of(0, &r.owner);
		rc = mp_queue_get_lease(&o, &r, buf, sizeof buf, &len, &l);
		if (rc)
			return fail("get_lease: %s", strerror(-rc));
		fwrite(buf, 1, len, stdout);
		putchar('\n');
		return mp_queue_ack(&o, &l) ? fail("ack failed") : 0;
	}
	return fprintf(stderr, "t-queue: unknown command\n"), 2;
}
