/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* err.c - the error channel; see err.h. */
#include "config.h"

#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static char errbuf[MP_ERRMSG_MAX] COLD_BSS;

const char *mp_errmsg(void)
{
	return errbuf;
}

void mp_errmsg_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
}

void mp_errmsg_clear(void)
{
	errbuf[0] = 0;
}
