/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fault.h - test-only fault points: SIGKILL this process at a named place.
 *
 *   MP_FAULT_POINT("gate.take");
 *
 * In a normal build (no --enable-fault-injection) the macro expands to
 * nothing: not a call, not a branch, not a string in the binary.
 *
 * In a fault build (configure --enable-fault-injection, which defines
 * MP_FAULT_INJECTION) each point asks mp_fault_point() whether to die
 * here.  The environment decides:
 *
 *   MP_FAULT=SPEC[,SPEC...]   SPEC := PATTERN[:PROBABILITY]
 *       PATTERN is a point's name, a prefix ending in '*' ("gate.*"), or
 *       '*' (every point); PROBABILITY (default 1) is the chance, on each
 *       pass through a matching point, that the process SIGKILLs itself
 *       there.  The first SPEC that matches decides.
 *       e.g. MP_FAULT='*:0.002'  MP_FAULT='gate.take:1'  MP_FAULT='sync.*:0.05'
 *   MP_FAULT_LOG=FILE
 *       before dying, append "POINT PID\n" to FILE (O_APPEND, one write).
 *
 * The random numbers come from a per-thread xorshift generator seeded from
 * the pid, thread and clock, so every process of a torture run draws its
 * own sequence.  A point is safe anywhere a SIGKILL from outside could
 * arrive, which is everywhere: that is what the points are for.  Place
 * them where a death is most interesting: with the object's mutex held,
 * between the steps of a mutation, after a commit and before the exit
 * status is known, inside waits.
 */
#ifndef MP_FAULT_H
#define MP_FAULT_H

#ifdef MP_FAULT_INJECTION
/* Dies here (SIGKILL) if MP_FAULT selects the point; else returns. */
void mp_fault_point(const char *name);
#define MP_FAULT_POINT(name)	mp_fault_point(name)
#else
#define MP_FAULT_POINT(name)	((void)0)
#endif

#endif
