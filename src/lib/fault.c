/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fault.c - test-only fault points; see fault.h.  Empty in a normal build. */
#include "config.h"

#include "fault.h"

#ifdef MP_FAULT_INJECTION

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SPECS	16

struct spec {
	char pat[64];
	size_t len;		/* bytes to compare; prefix when star */
	int star;		/* pattern ended in '*' */
	uint64_t threshold;	/* fire when a draw < threshold (2^64 - 1: always) */
};

static struct spec specs[MAX_SPECS];
static int nspecs;
static const char *log_path;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread uint64_t rng;

static void parse_env(void)
{
	const char *env = getenv("MP_FAULT");
	char buf[1024], *save = NULL, *tok;

	log_path = getenv("MP_FAULT_LOG");
	if (!env || !*env)
		return;
	snprintf(buf, sizeof buf, "%s", env);
	for (tok = strtok_r(buf, ",", &save); tok && nspecs < MAX_SPECS;
	     tok = strtok_r(NULL, ",", &save)) {
		struct spec *s = &specs[nspecs];
		char *colon = strrchr(tok, ':');
		double p = 1.0;

		if (colon) {
			*colon = 0;
			p = strtod(colon + 1, NULL);
		}
		if (!*tok || p <= 0)
			continue;
		snprintf(s->pat, sizeof s->pat, "%s", tok);
		s->len = strlen(s->pat);
		if (s->len && s->pat[s->len - 1] == '*') {
			s->star = 1;
			s->len--;
		}
		s->threshold = p >= 1.0 ? UINT64_MAX : (uint64_t)(p * 18446744073709551616.0);
		nspecs++;
	}
}

static uint64_t draw(void)
{
	if (!rng) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		rng = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
		      ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)&ts;
		rng |= 1;
	}
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

void mp_fault_point(const char *name)
{
	pthread_once(&once, parse_env);
	for (int i = 0; i < nspecs; i++) {
		const struct spec *s = &specs[i];

		if (s->star ? strncmp(name, s->pat, s->len) : strcmp(name, s->pat))
			continue;
		if (s->threshold != UINT64_MAX && draw() >= s->threshold)
			return;
		if (log_path) {
			char line[128];
			int n = snprintf(line, sizeof line, "%s %d\n", name, (int)getpid());
			int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
			if (fd >= 0) {
				ssize_t w = write(fd, line, (size_t)n);
				(void)w;
				close(fd);
			}
		}
		kill(getpid(), SIGKILL);
		/* The init of a pid namespace (unshare -pf, a container's
		 * first process) ignores a SIGKILL sent from inside it: end
		 * the same way, with no user-space clean-up. */
		_exit(128 + SIGKILL);
	}
}

#else

/* ISO C wants something in a translation unit. */
typedef int mp_fault_unused;

#endif
