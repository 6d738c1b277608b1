/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queues.h - what mptorture's queue clients (queues.c) and checks
 * (queue-check.c) share. */
#ifndef MPT_QUEUES_H
#define MPT_QUEUES_H

#include <stddef.h>
#include <stdint.h>

#define Q		"q"
#define MAXLEN		300

/* The kinds of getters, as logged: 0 get (--count, --all), 1 get --lease
 * then ack, 2 a pool, 3 the checker's drain, 4 get --follow (ends 124
 * once idle: what it printed was acknowledged). */
enum { G_GET, G_LEASE, G_POOL, G_DRAIN, G_FOLLOW };

/* MP_HOST_ID=... of the two hosts on a Redis store */
extern const char *const hosts[2];

/* Is the store a Redis server (MP_STORE=redis://... or unix://...)? */
int on_redis(void);
uint64_t mix(uint64_t x);
/* Parses and checks a line (without its newline).  0 if intact. */
int msg_check(const char *line, size_t n, uint64_t *cid, uint64_t *seq);
/* Appends to WORK/q/log. */
void qlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* queue-check.c: the kind's check and report */
void queue_check(int final);
void queue_report(void);

#endif
