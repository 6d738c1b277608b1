/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parse.c - see parse.h for the grammars. */
#include "config.h"

#include "parse.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int is_name_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int mp_parse_name(const char *s, char *why, size_t whylen)
{
	size_t i;

	if (!s || !*s)
		return fail(why, whylen, "a name cannot be empty");
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= MP_NAME_MAX)
			return fail(why, whylen, "name is longer than %d bytes", MP_NAME_MAX);
		if (!is_name_byte(c)) {
			if (c == '/')
				return fail(why, whylen, "character '/' at position %zu is not allowed "
					    "(names are [A-Za-z0-9._-])", i + 1);
			if (c > 0x20 && c < 0x7f)
				return fail(why, whylen, "character '%c' at position %zu is not allowed "
					    "(names are [A-Za-z0-9._-])", c, i + 1);
			return fail(why, whylen, "byte 0x%02x at position %zu is not allowed "
				    "(names are [A-Za-z0-9._-])", c, i + 1);
		}
	}
	if (s[0] == '.')
		return fail(why, whylen, "a name cannot start with '.'");
	return 0;
}

/* Reads DIGITS ['.' DIGITS] into an integer part and a fraction scaled to
 * 1e9; returns the number of bytes read, 0 if there is no number. */
static size_t read_decimal(const char *s, uint64_t *ip, uint64_t *frac_e9, int *overflow)
{
	size_t i = 0, nd = 0;
	uint64_t v = 0, f = 0, scale = 100000000;

	*overflow = 0;
	while (s[i] >= '0' && s[i] <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			*overflow = 1;
		else
			v = v * 10 + (uint64_t)(s[i] - '0');
		i++, nd++;
	}
	if (s[i] == '.') {
		size_t j = i + 1, fd = 0;
		while (s[j] >= '0' && s[j] <= '9') {
			f += (uint64_t)(s[j] - '0') * scale;
			scale /= 10;
			j++, fd++;
		}
		if (fd == 0 && nd == 0)
			return 0;
		if (fd == 0)	/* "1." is not a number here */
			return 0;
		i = j;
		nd += fd;
	}
	if (nd == 0)
		return 0;
	*ip = v;
	*frac_e9 = f;
	return i;
}

int mp_parse_duration(const char *s, int64_t *ns, char *why, size_t whylen)
{
	static const int64_t max_ns = (int64_t)100 * 365 * 86400 * 1000000000LL;
	uint64_t ip, fr;
	int64_t unit;
	int ovf;
	size_t n;
	const char *suf;

	if (!s || !*s)
		return fail(why, whylen, "a duration cannot be empty");
	n = read_decimal(s, &ip, &fr, &ovf);
	if (n == 0)
		return fail(why, whylen, "'%s' is not a duration (try 10, 1.5, 250ms, 2m, 1h, 1d)", s);
	suf = s + n;
	if (!*suf || !strcmp(suf, "s"))
		unit = 1000000000LL;
	else if (!strcmp(suf, "ms"))
		unit = 1000000LL;
	else if (!strcmp(suf, "m"))
		unit = 60LL * 1000000000LL;
	else if (!strcmp(suf, "h"))
		unit = 3600LL * 1000000000LL;
	else if (!strcmp(suf, "d"))
		unit = 86400LL * 1000000000LL;
	else
		return fail(why, whylen, "'%s' has an unknown unit '%s' (use ms, s, m, h or d)", s, suf);
	if (ovf || ip > (uint64_t)(max_ns / unit))
		return fail(why, whylen, "'%s' is too long (at most 100 years)", s);
	/* fr is the fraction in units of 1e-9; unit/1e9 may be < 1 (ms), so
	 * scale in a way that keeps precision and cannot overflow. */
	*ns = (int64_t)ip * unit + (int64_t)((unsigned __int128)fr * (uint64_t)unit / 1000000000u);
	/* not zero, but below a nanosecond (0.0000000001): a nanosecond, so
	 * that only a real 0 means "do not wait" */
	if (*ns == 0 && strcspn(s, "123456789") < n)
		*ns = 1;
	if (*ns > max_ns)
		return fail(why, whylen, "'%s' is too long (at most 100 years)", s);
	return 0;
}

int mp_parse_size(const char *s, uint64_t *bytes, char *why, size_t whylen)
{
	const uint64_t max = 1ULL << 40;
	uint64_t v = 0, mult = 1;
	size_t i = 0;

	if (!s || !*s)
		return fail(why, whylen, "a size cannot be empty");
	while (s[i] >= '0' && s[i] <= '9') {
		if (v > max)
			return fail(why, whylen, "'%s' is too large (at most 1T)", s);
		v = v * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i == 0)
		return fail(why, whylen, "'%s' is not a size (try 4096, 64K, 16M, 1G)", s);
	switch (s[i]) {
	case 'k': case 'K': mult = 1ULL << 10; i++; break;
	case 'm': case 'M': mult = 1ULL << 20; i++; break;
	case 'g': case 'G': mult = 1ULL << 30; i++; break;
	case 't': case 'T': mult = 1ULL << 40; i++; break;
	}
	if (s[i] == 'i' && s[i + 1] == 'B' && mult > 1)
		i += 2;
	else if (s[i] == 'B' || s[i] == 'b')
		i++;
	if (s[i])
		return fail(why, whylen, "'%s' has an unknown unit (use K, M or G)", s);
	if (v > max / mult)
		return fail(why, whylen, "'%s' is too large (at most 1T)", s);
	*bytes = v * mult;
	return 0;
}

int mp_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		   char *why, size_t whylen)
{
	uint64_t v = 0;
	size_t i = 0;

	if (!s || !*s)
		return fail(why, whylen, "a number cannot be empty");
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(why, whylen, "'%s' is not a whole number", s);
		if (v > (UINT64_MAX - 9) / 10)
			return fail(why, whylen, "'%s' is out of range %llu-%llu", s,
				    (unsigned long long)min, (unsigned long long)max);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return fail(why, whylen, "'%s' is out of range %llu-%llu", s,
			    (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

int64_t mp_ns_diff(int64_t a, int64_t b)
{
	int64_t d;

	if (__builtin_sub_overflow(a, b, &d))
		return a < b ? INT64_MIN : INT64_MAX;
	return d;
}

char *mp_format_duration(int64_t ns, char *buf, size_t len)
{
	int64_t ms = ns / 1000000, s = ns / 1000000000;

	if (ns < 0)
		ns = 0, ms = 0, s = 0;
	if (ns < 1000000000LL)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (s < 60)
		snprintf(buf, len, "%lld.%llds", (long long)s, (long long)((ms % 1000) / 100));
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	return buf;
}

/* The standard signals of Linux, as sigabbrev_np(3) names them (a glibc
 * function that other C libraries lack). */
static const struct {
	int sig;
	const char *name;
} signal_names[] = {
	{ SIGHUP, "HUP" }, { SIGINT, "INT" }, { SIGQUIT, "QUIT" }, { SIGILL, "ILL" },
	{ SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" }, { SIGBUS, "BUS" }, { SIGFPE, "FPE" },
	{ SIGKILL, "KILL" }, { SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
	{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" }, { SIGSTKFLT, "STKFLT" },
	{ SIGCHLD, "CHLD" }, { SIGCONT, "CONT" }, { SIGSTOP, "STOP" }, { SIGTSTP, "TSTP" },
	{ SIGTTIN, "TTIN" }, { SIGTTOU, "TTOU" }, { SIGURG, "URG" }, { SIGXCPU, "XCPU" },
	{ SIGXFSZ, "XFSZ" }, { SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" },
	{ SIGWINCH, "WINCH" }, { SIGIO, "IO" }, { SIGPWR, "PWR" }, { SIGSYS, "SYS" },
};

const char *mp_signal_name(int sig)
{
	for (size_t i = 0; i < sizeof signal_names / sizeof *signal_names; i++)
		if (signal_names[i].sig == sig)
			return signal_names[i].name;
	return NULL;
}

int mp_parse_signal(const char *s)
{
	uint64_t n;

	if (mp_parse_count(s, 1, 64, &n, NULL, 0) == 0)
		return (int)n;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof signal_names / sizeof *signal_names; i++)
		if (!strcasecmp(s, signal_names[i].name))
			return signal_names[i].sig;
	return -1;
}
