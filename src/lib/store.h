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
 * our groups (a group store).  Returns 0 or -errno. */
int mp_store_open(struct mp_store *s, const char *dir);

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

#endif
