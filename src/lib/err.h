/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* err.h - the error channel: why the last library call failed.
 *
 * A library function returns 0 or -errno and never prints; where it has
 * more to say than the errno (which file, which bound), it leaves a
 * sentence here for the CLI to print (mp_fail).  One buffer per process:
 * the next failure overwrites it.
 */
#ifndef MP_ERR_H
#define MP_ERR_H

/* Buffers that only errors and messages use go after all other data (gcc on
 * x86-64 places .lbss last): in the hot pages between they would push the
 * C library's own variables onto one more page, one more page fault for
 * every call of a one-shot tool. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define COLD_BSS __attribute__((section(".lbss")))
#else
#define COLD_BSS
#endif

/* The size of the reason's buffer, its NUL included: longer is cut. */
#define MP_ERRMSG_MAX	512

/* The reason of the last failure of a library call, "" if none given. */
const char *mp_errmsg(void);
/* Sets the reason, printf-style (stdio: call it only on an error). */
void mp_errmsg_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mp_errmsg_clear(void);

#endif
