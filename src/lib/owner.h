/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* owner.h - who holds something: a process named by pid + start time.
 *
 * A pid alone is recycled; the start time (field 22 of /proc/PID/stat,
 * clock ticks since boot) is not, for the life of one boot.  An owner is
 * alive when /proc/PID/stat exists, its start time matches and its state
 * is not Z (zombie) or X (dead): kill(pid, 0) succeeds on zombies, so it
 * is not used.  Owners recorded in another pid namespace cannot be judged
 * from here and count as alive (use a --ttl lease there).
 */
#ifndef MP_OWNER_H
#define MP_OWNER_H

#include <stdint.h>
#include <sys/types.h>

struct mp_owner {
	int32_t pid;		/* 0: no owner ("--owner none") */
	uint32_t flags;		/* reserved, 0 */
	uint64_t start;		/* start time in clock ticks since boot */
	uint64_t pidns;		/* inode of /proc/self/ns/pid of the recorder */
	uint64_t reserved;
};

/* Fills o with the identity of process pid (0 = this process).
 * Returns 0, -ESRCH if there is no such live process (gone or zombie),
 * -ENOSYS if /proc is not usable, or another -errno. */
int mp_owner_of(pid_t pid, struct mp_owner *o);

/* The CLOCK_BOOTTIME now, in the clock ticks of a start time; 0 when the
 * clock cannot say.  Async-signal-safe once called outside a handler. */
uint64_t mp_boot_ticks(void);

/* As mp_owner_of() for a child of ours whose start time was pinned by the
 * clock around its fork (start, 0 when not): then without reading /proc. */
int mp_owner_of_child(pid_t pid, uint64_t start, struct mp_owner *o);

/* Returns 1 if o is alive (or cannot be judged: other namespace, /proc
 * missing), 0 if it is certainly dead.  o->pid == 0 (no owner) is alive. */
int mp_owner_alive(const struct mp_owner *o);

/* As mp_owner_alive(), for a waiter: 0 also when o is stopped (SIGSTOP,
 * Ctrl-Z, a debugger), which cannot take what it waits for. */
int mp_owner_waiting(const struct mp_owner *o);

/* Reads state char and start time of pid from /proc/PID/stat, parsing
 * after the last ')' (a comm may contain ") R 1 (").  Returns 0 or -errno
 * (-ESRCH when the process does not exist). */
int mp_proc_stat(pid_t pid, char *state, uint64_t *start);

/* Nonzero when two identities name the same process. */
/* geteuid(), asked once. */
uid_t mp_euid(void);

int mp_owner_same(const struct mp_owner *a, const struct mp_owner *b);

/* Converts a start time in ticks since boot to CLOCK_REALTIME ns (for
 * display only). */
int64_t mp_owner_start_realtime_ns(uint64_t start_ticks);

#endif
