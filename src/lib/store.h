/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store.h - the store: the directory that holds the objects (obj.h).
 *
 * One directory per user by default (/dev/shm/mptools-UID), or the one
 * --dir or $MP_DIR names; a setgid directory of a group is a group store.
 * Objects are files in it named KIND.NAME; this module checks the
 * directory, lists its objects and removes them by name, and opens none
 * but through obj.h.
 */
#ifndef MP_STORE_H
#define MP_STORE_H

#include "obj.h"

/* Resolves and checks the store: dir (from --dir) or $MP_DIR or
 * /dev/shm/mptools-UID.  The default is created mode 0700 and must then be
 * a directory (not a symlink) owned by us with mode 0700, else -EACCES
 * (someone else claimed the name).  A chosen directory is created if
 * missing; it must be a directory we own, or a setgid directory of one of
 * our groups that others cannot write (a group store).  A directory on a
 * filesystem other hosts may mount (NFS, CIFS, FUSE, ...) is refused with
 * -EREMOTE.  Returns 0 or -errno. */
int mp_store_open(struct mp_store *s, const char *dir);
/* (where: a directory, or redis://[USER:PASSWORD@]HOST[:PORT][/DB][?prefix=P]
 * or unix:///PATH[?db=N&prefix=P] for a Redis server, redis.h; NULL or "":
 * $MP_STORE, else $MP_DIR, else the default.  A server that cannot be
 * reached or refuses the login: -ENOTCONN.) */

/* rm NAME: opens and removes object NAME of kind k as mp_obj_remove does;
 * a file under that name that is not a valid object of kind k (corrupt,
 * truncated, another kind, a symlink) is unlinked as it is, and *damaged
 * is set, so that a broken object can always be cleared.
 * Returns 0, -ENOENT or -errno. */
int mp_store_remove(struct mp_store *s, const struct mp_kind *k, const char *name, int *damaged);

/* Calls fn(name, arg) for each object of kind k in the store, sorted by
 * name.  Returns 0 or -errno. */
int mp_store_list(struct mp_store *s, const struct mp_kind *k,
		  int (*fn)(const char *name, void *arg), void *arg);

/* ---- the storage seam ----
 *
 * Everything a tool does to an object goes through its store's tables:
 * one per kind (struct mp_gate_ops in gate.h, mp_lock_ops, mp_sem_ops,
 * mp_event_ops, mp_queue_ops, mp_spawn_ops, mp_var_ops), each kind's public functions
 * calling the store's through o->ops or s->ops (seam.c).  mp_store_open()
 * chooses the store; the shared-memory store (obj.c, this file's store.c,
 * and each kind's .c files) is mp_shm_store_ops.  A second store fills in
 * its own tables. */
struct mp_gate_ops;
struct mp_lock_ops;
struct mp_sem_ops;
struct mp_event_ops;
struct mp_queue_ops;
struct mp_spawn_ops;
struct mp_var_ops;

struct mp_store_ops {
	const char *name;	/* "shm", "redis" */
	/* Opens object NAME of kind k if it exists (info, ls, rm): 0,
	 * -ENOENT or -errno. */
	int (*find)(struct mp_store *s, const struct mp_kind *k, const char *name,
		    struct mp_obj *o);
	int (*list)(struct mp_store *s, const struct mp_kind *k,
		    int (*fn)(const char *name, void *arg), void *arg);
	int (*remove)(struct mp_store *s, const struct mp_kind *k, const char *name,
		      int *damaged);
	void (*close)(struct mp_obj *o);
	const struct mp_gate_ops *gate;
	const struct mp_lock_ops *lock;
	const struct mp_sem_ops *sem;
	const struct mp_event_ops *event;
	const struct mp_queue_ops *queue;
	const struct mp_spawn_ops *spawn;
	const struct mp_var_ops *var;
};

extern const struct mp_store_ops mp_shm_store_ops;

/* Opens object NAME of kind k without creating it, in whatever store s
 * is: 0, -ENOENT or -errno (seam.c). */
int mp_store_find(struct mp_store *s, const struct mp_kind *k, const char *name,
		  struct mp_obj *o);

/* The shared-memory store's own (store.c): what mp_store_open(),
 * mp_store_list() and mp_store_remove() call for a directory. */
int mp_shm_store_open(struct mp_store *s, const char *dir);
int mp_shm_store_list(struct mp_store *s, const struct mp_kind *k,
		      int (*fn)(const char *name, void *arg), void *arg);
int mp_shm_store_remove(struct mp_store *s, const struct mp_kind *k, const char *name,
			int *damaged);

/* The name of a network or cluster filesystem (statfs f_type) that more
 * than one host may mount, NULL for another.  mp_shm_store_open refuses a
 * store on one with -EREMOTE. */
const char *mp_store_shared_fs(unsigned long f_type);

#endif
