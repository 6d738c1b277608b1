/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mutex-word.h - the word of a pthread mutex that holds its owner's thread
 * id, for tests that fake or read an owner.  It is glibc's private layout
 * (the tools are built with glibc only): the first int, __data.__lock, with
 * a waiter and a dead owner marked in the top bits. */
#ifndef MP_TEST_MUTEX_WORD_H
#define MP_TEST_MUTEX_WORD_H

#include <pthread.h>

static inline volatile int *mutex_owner_word(pthread_mutex_t *m)
{
	return (volatile int *)m;
}

/* The thread id that holds m, 0 if none. */
static inline int mutex_owner_tid(pthread_mutex_t *m)
{
	return *mutex_owner_word(m) & 0x3fffffff;
}

#endif
