/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* api.h - what the files of libmptools (src/api/) share: a handle's
 * store and object, the error message of the calling thread, deadlines
 * and the identity of this process.
 *
 * libmptools is the public face of the seam (src/lib/seam.c): every
 * operation calls the kind's public function there, so a handle works on
 * whatever store it was opened in, exactly as the tools do.  Nothing here
 * prints, exits or installs a signal handler.
 */
#ifndef MP_API_H
#define MP_API_H

#include <stdint.h>

#include "lib/obj.h"
#include "lib/owner.h"

/* Every handle starts with this. */
struct mpt_base {
	struct mp_store s;
	struct mp_obj o;
	int is_open;		/* o is open */
	const char *what;	/* "lock", for messages */
	char name[MP_NAME_MAX + 1];
};

/* Closes b's object and store. */
void mp_api_close(struct mpt_base *b);

/* Records rc's reason for mpt_errmsg(): "KIND 'NAME': reason" (the
 * library's own sentence, else strerror).  Returns rc. */
int mp_api_fail(int rc, const char *what, const char *name);
/* Starts a call: forgets the last reason. */
void mp_api_begin(void);

/* A timeout in seconds as the library takes it: < 0 forever (deadline 0),
 * 0 nonblock, > 0 an absolute CLOCK_MONOTONIC deadline.  0 or -EINVAL
 * (NaN). */
int mp_api_deadline(double timeout, int64_t *deadline_ns, int *nonblock);

/* This process as an owner, read from /proc once per process (a fork
 * reads it again).  0 or -errno. */
int mp_api_self(struct mp_owner *o);

/* mpt_X_open: checks the name, allocates a handle of size bytes (zeroed,
 * a struct mpt_base first), opens the store (NULL/"": the environment's)
 * and calls open_obj(b, arg) to open the object into b->o.  0 with *h
 * set, or -errno (the message set, *h NULL). */
int mp_api_open(void **h, size_t size, const char *store, const char *what,
		const char *name, int (*open_obj)(struct mpt_base *b, const void *arg),
		const void *arg);
/* mp_api_fail for a handle's object. */
int mp_api_fail_obj(int rc, const struct mpt_base *b);

#endif
