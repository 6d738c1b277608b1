/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vars.c - mptorture's variable clients and checks.
 *
 * Two variables.  "vv" holds self-describing values, TAG:LEN:PAYLOAD,
 * whose LEN bytes of payload are a function of TAG (and LEN up to 3000
 * bytes, so that a change spans many cache lines and pages); every
 * `mpvar get` that exits 0 must print one such value whole: a value torn
 * between two sets, or cut short, is a violation.  "vc" is a counter:
 * each client counts in shared memory the incr it is about to run
 * (attempted) and, once it exited 0, the incr made (confirmed); with every
 * client killed, the counter must lie in [confirmed, attempted]: an incr
 * that exited 0 is never lost, and none is applied twice.  Clients also
 * `wait vc --ge N` for an N already reached (it must return 0 at once).
 *
 * Sabotaged, a set stores a value torn on purpose and an incr is a
 * get-then-set (lost updates): both checks must then report.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torture.h"

#define VV	"vv"
#define VC	"vc"
#define MAXLEN	3000

enum { ST_ATTEMPTED, ST_CONFIRMED, ST_GETS, ST_WAITS };

static char pattern(uint64_t tag, size_t i)
{
	return (char)('a' + (tag * 31 + i * 7) % 26);
}

/* Writes the value of tag with len payload bytes to buf (>= len + 64);
 * torn: the second half is another tag's.  Returns its length. */
static size_t make_value(char *buf, uint64_t tag, size_t len, int torn)
{
	int n = snprintf(buf, 64, "%" PRIu64 ":%zu:", tag, len);

	for (size_t i = 0; i < len; i++)
		buf[n + i] = pattern(torn && i >= len / 2 ? tag + 1 : tag, i);
	buf[n + len] = 0;
	return (size_t)n + len;
}

/* Is v[0..len) (a newline at its end removed) one whole value? */
static int well_formed(const char *v, size_t len)
{
	uint64_t tag;
	size_t plen;
	char *end;

	if (len && v[len - 1] == '\n')
		len--;
	tag = strtoull(v, &end, 10);
	if (end == v || *end != ':')
		return 0;
	plen = strtoull(end + 1, &end, 10);
	if (*end != ':' || plen > MAXLEN)
		return 0;
	end++;
	if ((size_t)(end - v) + plen != len)
		return 0;
	for (size_t i = 0; i < plen; i++)
		if (end[i] != pattern(tag, i))
			return 0;
	return 1;
}

static ssize_t run_capture(struct client *c, char *const argv[], struct tres *t, char *out,
			   size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/out.%d", workdir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0)
		return -1;
	run_tool(c, argv, fd, t);
	n = pread(fd, out, cap - 1, 0);
	close(fd);
	unlink(path);
	out[n > 0 ? n : 0] = 0;
	return n > 0 ? n : 0;
}

static void set_op(struct client *c)
{
	static const int ok[] = { 0, -1 };
	static char value[MAXLEN + 64];
	char *argv[] = { (char *)tool_path("mpvar"), "set", VV, value, NULL };
	struct tres t;

	make_value(value, c->id * 1000000 + c->seq++, rnd_below(MAXLEN + 1), sabotage);
	run_tool(c, argv, -1, &t);
	expect(c, &t, argv, ok);
}

static void get_op(struct client *c)
{
	static const int ok[] = { 0, -1 };
	static char out[MAXLEN + 128];
	char *argv[] = { (char *)tool_path("mpvar"), "get", VV, NULL };
	struct tres t;
	ssize_t n = run_capture(c, argv, &t, out, sizeof out);

	if (n < 0 || t.killed || !expect(c, &t, argv, ok))
		return;	/* a get killed midway may have printed part of it */
	__atomic_add_fetch(&S->stat[K_VAR][ST_GETS], 1, __ATOMIC_SEQ_CST);
	if (!well_formed(out, (size_t)n))
		violation(K_VAR, "'mpvar get %s' exited 0 and printed a torn value (%zd bytes): "
			  "%.80s", VV, n, out);
}

static void incr_op(struct client *c)
{
	static const int ok[] = { 0, -1 };
	char *mpvar = (char *)tool_path("mpvar");
	char *incr[] = { mpvar, "incr", VC, NULL };
	char *get[] = { mpvar, "get", VC, NULL };
	char out[64], num[32], *end;
	struct tres t;

	__atomic_add_fetch(&S->stat[K_VAR][ST_ATTEMPTED], 1, __ATOMIC_SEQ_CST);
	if (sabotage) {
		/* read, then write: not atomic */
		char *set[] = { mpvar, "set", VC, num, NULL };
		if (run_capture(c, get, &t, out, sizeof out) < 0 || t.killed || t.status)
			return;
		snprintf(num, sizeof num, "%lld", strtoll(out, NULL, 10) + 1);
		run_tool(c, set, -1, &t);
	} else if (run_capture(c, incr, &t, out, sizeof out) >= 0 && !t.killed &&
		   expect(c, &t, incr, ok) && (strtoll(out, &end, 10) <= 0 || *end != '\n')) {
		violation(K_VAR, "'mpvar incr %s' exited 0 and printed '%.40s'", VC, out);
	}
	if (!t.killed && t.status == 0)
		__atomic_add_fetch(&S->stat[K_VAR][ST_CONFIRMED], 1, __ATOMIC_SEQ_CST);
}

static void wait_op(struct client *c)
{
	static const int ok[] = { 0, -1 };
	char n[32];
	char *argv[] = { (char *)tool_path("mpvar"), "wait", VC, "--ge", n, "-t", "10", NULL };
	struct tres t;

	snprintf(n, sizeof n, "%llu", (unsigned long long)__atomic_load_n(
			 &S->stat[K_VAR][ST_CONFIRMED], __ATOMIC_SEQ_CST));
	run_tool(c, argv, -1, &t);
	if (!t.killed && t.status == 124 && !sabotage)
		violation(K_VAR, "'mpvar wait %s --ge %s' timed out though the counter was there "
			  "already", VC, n);
	else if (!sabotage)
		expect(c, &t, argv, ok);
	__atomic_add_fetch(&S->stat[K_VAR][ST_WAITS], 1, __ATOMIC_SEQ_CST);
}

static void var_op(struct client *c)
{
	uint32_t r = rnd_below(100);

	if (r < 35)
		set_op(c);
	else if (r < 65)
		get_op(c);
	else if (r < 95)
		incr_op(c);
	else
		wait_op(c);
}

static void var_setup(void)
{
	char value[64];
	char *mpvar = (char *)tool_path("mpvar");
	char *set[] = { mpvar, "set", VV, value, NULL };
	char *zero[] = { mpvar, "set", VC, "0", NULL };

	make_value(value, 0, 10, 0);
	if (run_check(set, NULL, 0) != 0 || run_check(zero, NULL, 0) != 0)
		violation(K_VAR, "mpvar set failed before any client ran");
}

/* Every client is dead: the value is whole, the counter in bounds. */
static void var_check(int final)
{
	static char out[MAXLEN + 128];
	char *mpvar = (char *)tool_path("mpvar");
	char *getv[] = { mpvar, "get", VV, NULL };
	char *getc[] = { mpvar, "get", VC, NULL };
	uint64_t lo = __atomic_load_n(&S->stat[K_VAR][ST_CONFIRMED], __ATOMIC_SEQ_CST);
	uint64_t hi = __atomic_load_n(&S->stat[K_VAR][ST_ATTEMPTED], __ATOMIC_SEQ_CST);
	long long v;
	int st;

	(void)final;
	st = run_check(getv, out, sizeof out);
	if (st != 0 || !well_formed(out, strlen(out)))
		violation(K_VAR, "with every client killed, 'mpvar get %s' exited %d: %.80s", VV,
			  st, out);
	st = run_check(getc, out, sizeof out);
	v = strtoll(out, NULL, 10);
	if (st != 0 || v < 0 || (uint64_t)v < lo || (uint64_t)v > hi)
		violation(K_VAR, "with every client killed, the counter is %lld (exit %d): %llu "
			  "incr exited 0 and %llu were tried", v, st, (unsigned long long)lo,
			  (unsigned long long)hi);
}

static void var_report(void)
{
	printf("var: %llu gets of whole values; counter within [%llu incr that exited 0, "
	       "%llu tried]; %llu waits\n",
	       (unsigned long long)S->stat[K_VAR][ST_GETS],
	       (unsigned long long)S->stat[K_VAR][ST_CONFIRMED],
	       (unsigned long long)S->stat[K_VAR][ST_ATTEMPTED],
	       (unsigned long long)S->stat[K_VAR][ST_WAITS]);
}

const struct kind kind_var = {
	"var", { "mpvar" }, 6, var_setup, var_op, var_check, var_report,
};
