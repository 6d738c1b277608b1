/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* obj.h - an object: one file of the store, and the sync state in its header.
 *
 * An object is the file DIR/KIND.NAME (e.g. lock.db).  It starts with a
 * struct mp_hdr and a kind-specific body, and is mapped MAP_SHARED by
 * every process that uses it.  Creation is atomic: the file is made
 * nameless (O_TMPFILE, or a dot-file where that is unsupported), allocated
 * with posix_fallocate (a full store fails now with -ENOSPC instead of
 * SIGBUS later), initialised, stamped with the magic last, and only then
 * linked under its name.  Opening checks, before anything is trusted:
 * no symlink (O_NOFOLLOW), a regular file owned by us (or by our group in a
 * group store), no write bits for others, size == header size, magic,
 * version, kind, ABI tag, and the kind's own bounds (mp_kind.validate).
 *
 * Errors (returned as -errno; the reason is in mp_errmsg()):
 *   -ENOENT      no such object (without MP_OPEN_CREATE)
 *   -EACCES      refused for safety or permission (symlink, foreign owner)
 *   -EBADMSG     corrupt or truncated object
 *   -EMEDIUMTYPE the file holds another kind of object
 *   -ENOSPC etc. creation failed (store full, read-only)
 *
 * The mutex in mp_hdr is robust and process-shared, and is held only for
 * O(1) bookkeeping, never while blocking.  A holder killed at any
 * instruction makes the next mp_obj_lock() run the kind's repair() and
 * mark the mutex consistent.  Blocking is a FUTEX_WAIT_BITSET on a 32-bit
 * sequence word with an absolute CLOCK_MONOTONIC deadline (no PRIVATE
 * flag: the word is shared between processes).  Process-shared condvars
 * are not used: a waiter killed inside one hangs every later signaller
 * (glibc < 2.41, see notes/ipc-pitfalls.md).
 *
 * A disk store outlives a reboot but its mutex words do not: when the boot
 * id recorded in the header differs from this boot's, mp_obj_lock() first
 * re-initialises the sync state under flock(2) and calls the kind's reset().
 */
#ifndef MP_OBJ_H
#define MP_OBJ_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"

#define MP_MAGIC	0x31534c4f4f54504dULL	/* "MPTOOLS1" little-endian */
#define MP_VERSION	1
#define MP_HDR_SIZE	256

enum mp_kind_id {
	MP_KIND_LOCK = 1,
	MP_KIND_SEM = 2,
	MP_KIND_EVENT = 3,
	MP_KIND_QUEUE = 4,
	MP_KIND_SPAWN = 5,
	MP_KIND_VAR = 6,
};

/* Page 0 of every object.  The layout is the on-disk format: append only. */
struct mp_hdr {
	uint64_t magic;		/* MP_MAGIC, stored last at creation */
	uint32_t version;	/* MP_VERSION */
	uint32_t hdr_size;	/* MP_HDR_SIZE: the body starts here */
	uint32_t kind;		/* enum mp_kind_id */
	uint32_t flags;
	uint64_t total_size;	/* == file size, allocated at creation */
	char abi[16];		/* libc, arch and mutex size, see mp_abi_tag() */
	uint8_t boot_id[16];	/* boot the sync state below belongs to */
	uint64_t generation;	/* bumped when the sync state is re-initialised */
	int64_t created_ns;	/* CLOCK_REALTIME */
	int64_t changed_ns;	/* CLOCK_REALTIME of the last change of state */
	uint32_t seq;		/* futex word: bumped on every change of state */
	uint32_t nwait;		/* processes sleeping on seq (a hint: may be high) */
	uint32_t removed;	/* set by rm before the unlink: waiters leave */
	uint32_t seq2;		/* second futex word for kinds that want one */
	uint32_t nwait2;
	uint8_t machine_id[16];	/* host of boot_id (/etc/machine-id); 0: unknown */
	uint32_t reserved[7];
	pthread_mutex_t mu;	/* robust, process-shared; O(1) holds only */
	uint8_t pad[MP_HDR_SIZE - 152 - sizeof(pthread_mutex_t)];
};

struct mp_obj;

/* What a kind (lock, sem, ...) tells the store about its body. */
struct mp_kind {
	enum mp_kind_id id;
	const char *name;	/* file prefix and user-visible kind: "lock" */
	/* Bounds-checks the body of a mapped object whose size is known to be
	 * total_size; copies the geometry it needs into o->geom so it is never
	 * read from shared memory again.  Returns 0 or -EBADMSG. */
	int (*validate)(struct mp_obj *o);
	/* Called with the mutex held after EOWNERDEAD: finish or undo what the
	 * dead holder was doing.  NULL if every mutation is one store. */
	void (*repair)(struct mp_obj *o);
	/* Called with the object re-initialised after a reboot (boot id
	 * changed): drop every owner, waiter and in-flight mark. */
	void (*reset)(struct mp_obj *o);
};

/* Kind-specific numbers copied out of shared memory at open (validated). */
struct mp_geom {
	uint64_t a, b, c, d;
};

struct mp_store_ops;

/* An open object.  ops is its store's (store.h: the seam); the fields
 * after it belong to the shared-memory store. */
struct mp_obj {
	const struct mp_store_ops *ops;
	int fd;
	size_t size;
	struct mp_hdr *hdr;
	void *body;		/* (char *)hdr + MP_HDR_SIZE */
	size_t body_size;
	const struct mp_kind *kind;
	struct mp_geom geom;
	char name[MP_NAME_MAX + 1];
	const char *dir;	/* the store's directory, for messages */
	int volatile_fs;	/* the store's: no boot id check needed */
	int64_t lease_ns;	/* the store's --lease (0: the default) */
	void *impl;		/* another store's own state */
	void (*close)(struct mp_obj *o);	/* another store's mp_obj_close */
	int readonly;		/* a private copy of a file on a read-only
				 * filesystem (mp_obj_allow_readonly) */
};

/* The handle of an open store, filled by mp_store_open() (store.h).  It is
 * declared here, below the store, because an object is opened in a store
 * and reads the directory, its group and its filesystem from it.
 * Small on purpose: a one-shot tool's whole data segment fits in a page
 * or two, and each page it touches is a page fault (~10 us on a VM). */
struct mp_store {
	const struct mp_store_ops *ops;	/* the store's implementation */
	void *impl;		/* another store's own state */
	int64_t lease_ns;	/* --lease: holds on a shared server, and
				 * holds from pid namespaces (lease.c) */
	const char *dir;	/* dir_buf, or the caller's string (which must
				 * outlive the store) */
	int dirfd;
	int group;		/* setgid group store: files 0660 */
	gid_t gid;		/* the store directory's group */
	int volatile_fs;	/* tmpfs/ramfs: cannot outlive a boot */
	char dir_buf[32];	/* the default, /dev/shm/mptools-UID */
};

/* The path of o's file, for messages: "DIR/KIND.NAME".  The text is in a
 * buffer that the next call overwrites. */
const char *mp_obj_path(const struct mp_obj *o);

/* Opens object NAME of kind k.  With create != NULL the object is created
 * when missing: body_size bytes, initialised by create(body, arg) before it
 * becomes visible.  *created tells whether this call made it.  A file
 * still under the name but marked removed (an rm killed before its unlink)
 * counts as missing: its removal is finished first.
 * Returns 0 or -errno (see the top of this file). */
int mp_obj_open(struct mp_store *s, const struct mp_kind *k, const char *name,
		size_t body_size, void (*create)(void *body, size_t size, const void *arg),
		const void *arg, int *created, struct mp_obj *o);

/* For the verbs that only show (info, ls, status): a later mp_obj_open()
 * without create of an object on a read-only filesystem maps a private
 * copy of it (o->readonly) instead of failing with -EROFS; its lock is a
 * no-op and nothing it changes reaches the file. */
void mp_obj_allow_readonly(int allow);

/* Unmaps and closes. */
void mp_obj_close(struct mp_obj *o);

/* rm: marks the object removed (waiters wake and leave with -EIDRM), then
 * unlinks it.  It does not wait for a stopped or stuck holder of the
 * mutex (200 ms at most for a running one): the mark and the unlink need
 * no lock.  Returns 0, -EINTR or -errno. */
int mp_obj_remove(struct mp_store *s, struct mp_obj *o);

/* Re-initialises o's sync state if it was made in another boot (a disk
 * store after a reboot).  Called by mp_obj_lock(). Returns 0 or -errno. */
int mp_obj_check_boot(struct mp_obj *o);

/* "glibc-x86_64-m40": objects made by another libc or arch are refused. */
const char *mp_abi_tag(void);

/* Locks o's mutex.  Its holds are short, but a process stopped inside
 * one (SIGSTOP, Ctrl-Z) holds it until it goes on: the wait for it ends
 * with -EINTR on a termination signal (mp_signal_pending), -ETIMEDOUT at
 * the deadline and -EAGAIN (when the holder is stopped) under nonblock of
 * mp_obj_patience(), -EIDRM when rm removed the object meanwhile (it
 * need not wait for the mutex), and -EDEADLK when a holder that is not stopped kept
 * it 10 s (a broken invariant).  Returns 0 or one of those, or
 * -ENOTRECOVERABLE, -EBADMSG (the mutex's words are garbage). */
int mp_obj_lock(struct mp_obj *o);

/* Makes a Ctrl-Z (SIGTSTP) that comes while this process holds an
 * object's mutex stop it only once it unlocks: for the tools that stream
 * (put from stdin, get --follow), which hold it often.  Does nothing when
 * SIGTSTP is ignored. */
void mp_obj_defer_tstp(void);

/* Sets how long mp_obj_lock() waits for a stopped holder: until
 * deadline_ns (CLOCK_MONOTONIC, 0: no deadline); nonblock: not at all.
 * The CLI sets it from -n/-t. */
void mp_obj_patience(int64_t deadline_ns, int nonblock);
/* Its deadline (0: none, or nonblock): on a Redis store, how long a call
 * awaits a reply past the usual 3 s (a slow or stopped server). */
int64_t mp_obj_patience_deadline(void);
void mp_obj_unlock(struct mp_obj *o);

/* Marks a change of state: bumps seq and changed_ns.  Call locked, then
 * mp_obj_wake() after unlocking. */
void mp_obj_changed(struct mp_obj *o);

/* Wakes every process sleeping on o's seq (if the hint says any). */
void mp_obj_wake(struct mp_obj *o);

/* Waits on the object as a blocked operation does: called locked with the
 * seq value seen while locked; registers in nwait, unlocks, sleeps until
 * woken, min(deadline, now + slice) or a signal, relocks.
 * Returns 0 (woken or slice over: re-check), -ETIMEDOUT (deadline passed),
 * -EINTR (a termination signal arrived, see mp_signal_pending) or the
 * error of relocking.  *slice_over tells whether the slice ran out (time
 * to look for dead owners). */
int mp_obj_wait(struct mp_obj *o, uint32_t *word, uint32_t *nwait, int64_t deadline_ns,
		int64_t slice_ns, int *slice_over);

/* Checks that o's file is still the object we mapped: -EBADMSG if its size
 * changed (the next access could raise SIGBUS), -EIDRM if it was unlinked
 * behind our back (rm -f, systemd-logind's RemoveIPC), else 0.  Long waits
 * call it after every wake. */
int mp_obj_check_file(struct mp_obj *o);

/* How often a blocked waiter looks for dead owners. */
#define MP_REAP_SLICE_NS	(100 * 1000000LL)

#endif
