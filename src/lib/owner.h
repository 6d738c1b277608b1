/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* owner.h - who holds something: a process named by pid + start time.
 *
 * A pid alone is recycled; the start time (field 22 of /proc/PID/stat,
 * clock ticks since boot) is not, for the life of one boot.  An owner is
 * alive when /proc/PID/stat exists, its start time matches and its state
 * is not Z (zombie) or X (dead): kill(pid, 0) succeeds on zombies, so it
 * is not used.
 *
 * Namespaces (containers sharing a store).  A pid is a number in one pid
 * namespace, recorded with it; a start time is read as the initial time
 * namespace reads it (this one's boottime offset taken off), so every
 * namespace compares the same number.  A process that can see the
 * owner's pid namespace (its own, or a descendant: the owner's pid is
 * found through the NSpid lines of /proc/N/status) judges it from /proc.
 * One that cannot (a sibling container) cannot tell, and relies on the
 * owner's lease: a time, on the shared clock (mp_shared_ns), until which
 * the holding side has promised the owner lived; the holder renews it
 * (lease.c).  No lease: it counts as alive.  "Cannot see" (hidepid,
 * EACCES, another namespace) never means "dead".
 */
#ifndef MP_OWNER_H
#define MP_OWNER_H

#include <stdint.h>
#include <sys/types.h>

struct mp_owner {
	int32_t pid;		/* 0: no owner ("--owner none") */
	uint32_t flags;		/* reserved, 0 */
	uint64_t start;		/* start time in clock ticks since boot, as the
				 * initial time namespace reads it */
	uint64_t pidns;		/* inode of the pid namespace pid is numbered in */
	int64_t lease_ns;	/* mp_shared_ns() until which the owner counts as
				 * alive to whoever cannot see it; 0: no lease */
};

/* The inode of the initial pid namespace (include/linux/proc_ns.h): every
 * process is visible from it. */
#define MP_PIDNS_INIT	0xEFFFFFFCULL

/* Fills o with the identity of process pid (0 = this process).
 * Returns 0, -ESRCH if there is no such live process (gone or zombie),
 * -ENOSYS if /proc is not usable (the reason, with what to mount, is in
 * mp_errmsg()), or another -errno. */
int mp_owner_of(pid_t pid, struct mp_owner *o);

/* The CLOCK_BOOTTIME now, in the clock ticks of a start time; 0 when the
 * clock cannot say.  Async-signal-safe once called outside a handler. */
uint64_t mp_boot_ticks(void);

/* As mp_owner_of() for a child of ours whose start time was pinned by the
 * clock around its fork (start, 0 when not): then without reading /proc. */
int mp_owner_of_child(pid_t pid, uint64_t start, struct mp_owner *o);

/* Returns 1 if o is alive, or cannot be judged and its lease (if any) has
 * not run out; 0 if it is certainly dead or its lease ran out while it
 * could not be seen.  o->pid == 0 (no owner) is alive. */
int mp_owner_alive(const struct mp_owner *o);

/* Nonzero when o lives in a pid namespace that some process sharing the
 * store may be unable to see (any but the initial one): its holds then
 * need a lease. */
int mp_owner_needs_lease(const struct mp_owner *o);

/* As mp_owner_alive(), for a waiter: 0 also when o is stopped (SIGSTOP,
 * Ctrl-Z, a debugger), which cannot take what it waits for. */
int mp_owner_waiting(const struct mp_owner *o);

/* Reads state char and start time of pid from /proc/PID/stat, parsing
 * after the last ')' (a comm may contain ") R 1 (").  Returns 0 or -errno
 * (-ESRCH when the process does not exist). */
int mp_proc_stat(pid_t pid, char *state, uint64_t *start);

/* For a child between vfork/fork and exec, after its
 * prctl(PR_SET_PDEATHSIG): nonzero when the parent's thread tid (of
 * process pid) has begun to exit, so the death signal may never come.
 * getppid() cannot tell: when the thread that forked dies in a process
 * with other threads (a lease renewer), the child is handed to one of
 * them, whose pid is the same, and the death signal was sent before it
 * was set.  0 when /proc cannot say.  Calls only open, read, close. */
int mp_parent_thread_gone(pid_t pid, pid_t tid);

/* geteuid(), asked once. */
uid_t mp_euid(void);

/* Nonzero when two identities name the same process (the lease is not
 * part of the identity). */
int mp_owner_same(const struct mp_owner *a, const struct mp_owner *b);

/* Converts a start time in ticks since boot to CLOCK_REALTIME ns (for
 * display only). */
int64_t mp_owner_start_realtime_ns(uint64_t start_ticks);

#endif
