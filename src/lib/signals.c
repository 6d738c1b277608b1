/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* signals.c - the signals that end waits; see signals.h. */
#include "config.h"

#include "signals.h"

#include <string.h>

volatile sig_atomic_t mp_signal_pending;
const int mp_term_signals[3] = { SIGINT, SIGTERM, SIGHUP };
sigset_t mp_signals_ignored;

static void on_term_signal(int sig)
{
	mp_signal_pending = sig;
}

void mp_signals_install(void)
{
	static const int end_waits[] = { SIGINT, SIGTERM };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: a blocked wait must return EINTR */
	sigemptyset(&mp_signals_ignored);
	/* An ignored signal is remembered so that a wrapped command inherits
	 * it, as it would without us (a shell starts `cmd &` with INT
	 * ignored).  INT and TERM still end our waits, as DESIGN §4 promises:
	 * one call sets the handler and reads the old one. */
	for (size_t i = 0; i < sizeof end_waits / sizeof *end_waits; i++)
		if (sigaction(end_waits[i], &sa, &old) == 0 && old.sa_handler == SIG_IGN)
			sigaddset(&mp_signals_ignored, end_waits[i]);
	/* HUP stays ignored for us too (nohup): looked at before it is set. */
	if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
		sigaddset(&mp_signals_ignored, SIGHUP);
	else
		sigaction(SIGHUP, &sa, NULL);
}

void mp_signals_block(sigset_t *old)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	sigprocmask(SIG_BLOCK, &s, old);
}

void mp_signals_restore(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}
