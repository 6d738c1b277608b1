/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* signals.h - the termination signals that end a wait.
 *
 * A tool that blocks installs flag-setting handlers without SA_RESTART, so
 * that a blocked wait returns -EINTR and the tool exits 128+signal; from
 * the commit of a change until exit the signals are blocked instead.
 */
#ifndef MP_SIGNALS_H
#define MP_SIGNALS_H

#include <signal.h>

/* Set by the termination-signal handler that mp_signals_install() installs
 * (INT, TERM, HUP; no SA_RESTART): the number of the signal, or 0. */
extern volatile sig_atomic_t mp_signal_pending;

/* SIGINT, SIGTERM, SIGHUP: the signals that end a wait. */
extern const int mp_term_signals[3];

/* Of those, the ones this process inherited as ignored (set by
 * mp_signals_install): a wrapped command gets them ignored too. */
extern sigset_t mp_signals_ignored;

/* Installs flag-setting handlers for SIGINT, SIGTERM and SIGHUP (SIGHUP
 * only if not inherited as ignored, as under nohup). */
void mp_signals_install(void);

/* Blocks (and later restores) INT, TERM and HUP: from the commit of a
 * change until exit, so that "exit 0" means "the change was made". */
void mp_signals_block(sigset_t *old);
void mp_signals_restore(const sigset_t *old);

#endif
