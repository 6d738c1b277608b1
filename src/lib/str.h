/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* str.h - building short strings without stdio.
 *
 * The one-shot tools' hot path stays out of stdio: vfprintf's frame alone
 * is two pages of stack (HACKING.md, "The hot path of a one-shot call").
 */
#ifndef MP_STR_H
#define MP_STR_H

#include <stddef.h>

/* Copies a, then sep (unless 0), then b into buf of size bytes, cut to
 * fit and NUL-terminated.  Not snprintf: see above. */
static inline void mp_str_join(char *buf, size_t size, const char *a, char sep, const char *b)
{
	size_t n = 0;

	for (; *a && n + 1 < size; a++)
		buf[n++] = *a;
	if (sep && n + 1 < size)
		buf[n++] = sep;
	for (; *b && n + 1 < size; b++)
		buf[n++] = *b;
	buf[n] = 0;
}

/* Writes the decimal digits of v to buf (at least 12 bytes). */
static inline void mp_str_utoa(char *buf, unsigned long v)
{
	char tmp[24];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*buf++ = tmp[--n];
	*buf = 0;
}

#endif
