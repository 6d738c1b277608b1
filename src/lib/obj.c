/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* obj.c - an object's file: atomic creation, validated open, removal, and
 * its sync state: robust mutex, waits, re-initialisation after a reboot;
 * see obj.h. */
#include "config.h"

#include "obj.h"
#include "clock.h"
#include "err.h"
#include "fault.h"
#include "futex.h"
#include "owner.h"
#include "signals.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct mp_hdr) == MP_HDR_SIZE, "header is one fixed block");
_Static_assert(offsetof(struct mp_hdr, mu) == 152, "on-disk layout");
_Static_assert(offsetof(struct mp_hdr, seq) % 4 == 0, "futex words are aligned");

#if defined(__x86_64__)
#define ABI_ARCH "x86_64"
#elif defined(__aarch64__)
#define ABI_ARCH "aarch64"
#elif defined(__i386__)
#define ABI_ARCH "i386"
#else
#define ABI_ARCH "other"
#endif
#if defined(__GLIBC__)
#define ABI_LIBC "glibc"
#elif defined(__UCLIBC__) || defined(__BIONIC__)
#define ABI_LIBC "libc"
#else
#define ABI_LIBC "musl"	/* which says nothing of itself */
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
_Static_assert(sizeof(pthread_mutex_t) == SIZEOF_PTHREAD_MUTEX_T, "configure's mutex size");

/* How long a caller waits for an object's internal mutex: set by the CLI
 * from -n/-t (mp_obj_patience). */
static struct {
	int64_t deadline_ns;	/* CLOCK_MONOTONIC; 0: none */
	int nonblock;
} patience;

/* mp_obj_defer_tstp: inside a section (mutex held) a Ctrl-Z waits for
 * the unlock. */
static volatile sig_atomic_t in_section, stop_deferred;

static void on_tstp(int sig)
{
	(void)sig;
	if (in_section)
		stop_deferred = 1;
	else
		raise(SIGSTOP);	/* the job stops, as by SIGTSTP's default */
}

void mp_obj_defer_tstp(void)
{
	struct sigaction sa, old;

	if (sigaction(SIGTSTP, NULL, &old) < 0 || old.sa_handler == SIG_IGN)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_tstp;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTSTP, &sa, NULL);
}

const char *mp_abi_tag(void)
{
	/* a constant: no page of data is touched to compare it */
	return ABI_LIBC "-" ABI_ARCH "-m" STR(SIZEOF_PTHREAD_MUTEX_T);
}

const char *mp_obj_path(const struct mp_obj *o)
{
	static char buf[PATH_MAX + 256] COLD_BSS;
	char fname[MP_NAME_MAX + 16];

	mp_str_join(fname, sizeof fname, o->kind ? o->kind->name : "?", '.', o->name);
	mp_str_join(buf, sizeof buf, o->dir ? o->dir : "?", '/', fname);
	return buf;
}

/* Reads the first 32 hex digits of a file (a boot or machine id) as 16
 * bytes; zeros when it cannot. */
static void read_hex_id(const char *path, uint8_t id[16])
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	int j = 0;

	if (fd >= 0)
		close(fd);
	memset(id, 0, 16);
	for (ssize_t i = 0; i < n && j < 32; i++) {
		int c = buf[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue;
		id[j / 2] |= (uint8_t)(j % 2 ? v : v << 4);
		j++;
	}
}

static void read_boot_id(uint8_t out[16])
{
	static uint8_t id[16];
	static int have;

	if (!have) {
		read_hex_id("/proc/sys/kernel/random/boot_id", id);
		have = 1;
	}
	memcpy(out, id, 16);
}

/* This host's machine id: read only when a header's boot id differs, and
 * when a disk store's object is made. */
static void read_machine_id(uint8_t out[16])
{
	static uint8_t id[16];
	static int have;

	if (!have) {
		read_hex_id("/etc/machine-id", id);
		if (!memcmp(id, (uint8_t[16]){ 0 }, 16))
			read_hex_id("/var/lib/dbus/machine-id", id);
		have = 1;
	}
	memcpy(out, id, 16);
}

/* Sets up the sync state of a fresh (or rebooted) header. */
static int init_sync(struct mp_hdr *h)
{
	pthread_mutexattr_t a;
	int rc;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	rc = pthread_mutex_init(&h->mu, &a);
	pthread_mutexattr_destroy(&a);
	h->seq = 0;
	h->nwait = 0;
	h->seq2 = 0;
	h->nwait2 = 0;
	read_boot_id(h->boot_id);
	read_machine_id(h->machine_id);
	return -rc;
}

/* Where the next object is mapped.  The kernel's own choice, just below
 * the stack's region, has no page tables yet in a fresh process: the first
 * touch of the object allocates a page middle directory and a page table,
 * which on a VM with shadow page tables costs ~80 us, more than all the
 * rest of `mplock acquire` (bench/README.md).  A little past the program's
 * data they exist already: they map the data.  A hint, not MAP_FIXED: if
 * the range is taken the kernel chooses as usual, and brk (malloc), which
 * grows from the end of the data, has 256 KiB before it could meet the
 * first object (then malloc uses mmap). */
static uintptr_t next_map;

static void *map_hint(size_t size)
{
	extern char _end[];	/* the end of the data, from the linker */
	uintptr_t at;

	if (!next_map)
		next_map = (((uintptr_t)_end + 4095) & ~(uintptr_t)4095) + (256 << 10);
	at = next_map;
	next_map += (size + 4095) & ~(size_t)4095;
	return (void *)at;
}

static int allow_readonly;

void mp_obj_allow_readonly(int allow)
{
	allow_readonly = allow;
}

static int map_fd(struct mp_obj *o, size_t size)
{
	/* a read-only object: a private copy, whose writes (the lock's,
	 * a reaping) never reach the file */
	void *p = mmap(map_hint(size), size, PROT_READ | PROT_WRITE,
		       o->readonly ? MAP_PRIVATE : MAP_SHARED, o->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	o->hdr = p;
	o->size = size;
	o->body = (char *)p + MP_HDR_SIZE;
	o->body_size = size - MP_HDR_SIZE;
	return 0;
}

/* Makes a new object file invisibly, then links it as path's basename.
 * Returns 0, -EEXIST (someone else won the race) or -errno. */
static int create_obj(struct mp_store *s, const struct mp_kind *k, const char *fname,
		      size_t body_size,
		      void (*init)(void *body, size_t size, const void *arg), const void *arg)
{
	mode_t mode = s->group ? 0660 : 0600;
	size_t size = MP_HDR_SIZE + body_size;
	char tmpname[64] = "";
	struct mp_obj o = { .fd = -1 };
	int fd, rc;

	fd = openat(s->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* No O_TMPFILE here: a dot-name no object can have, then link(2),
		 * as glibc's sem_open does. */
		for (int tries = 0; fd < 0 && tries < 100; tries++) {
			snprintf(tmpname, sizeof tmpname, ".tmp.%d.%u", (int)getpid(),
				 (unsigned)random());
			fd = openat(s->dirfd, tmpname, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
			if (fd < 0 && errno != EEXIST)
				break;
		}
	}
	if (fd < 0) {
		rc = -errno;
		mp_errmsg_set("cannot create '%s' in '%s': %s", fname, s->dir, strerror(errno));
		return rc;
	}
	fchmod(fd, mode);	/* umask may have taken bits (0277: even ours) */
	rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc) {
		mp_errmsg_set("cannot allocate %zu bytes for '%s' in '%s': %s", size, fname,
			      s->dir, strerror(rc));
		rc = -rc;
		goto out;
	}
	o.fd = fd;
	rc = map_fd(&o, size);
	if (rc) {
		mp_errmsg_set("cannot map '%s': %s", fname, strerror(-rc));
		goto out;
	}
	struct mp_hdr *h = o.hdr;
	h->version = MP_VERSION;
	h->hdr_size = MP_HDR_SIZE;
	h->kind = k->id;
	h->total_size = size;
	memcpy(h->abi, mp_abi_tag(), strnlen(mp_abi_tag(), sizeof h->abi));
	h->created_ns = h->changed_ns = mp_realtime_ns();
	rc = init_sync(h);
	if (!rc && init)
		init(o.body, o.body_size, arg);
	MP_FAULT_POINT("store.create.init");
	__atomic_store_n(&h->magic, MP_MAGIC, __ATOMIC_RELEASE);
	munmap(o.hdr, size);
	if (rc)
		goto out;
	if (tmpname[0]) {
		rc = linkat(s->dirfd, tmpname, s->dirfd, fname, 0) < 0 ? -errno : 0;
	} else {
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		rc = linkat(AT_FDCWD, proc, s->dirfd, fname, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
	}
	if (rc && rc != -EEXIST)
		mp_errmsg_set("cannot create '%s' in '%s': %s", fname, s->dir, strerror(-rc));
	if (!rc)
		MP_FAULT_POINT("store.create.linked");
out:
	if (tmpname[0])
		unlinkat(s->dirfd, tmpname, 0);
	close(fd);
	return rc;
}

/* Checks everything about an open object file before it is trusted. */
static int validate(struct mp_store *s, const struct mp_kind *k, struct mp_obj *o)
{
	struct stat st;
	struct mp_hdr h;
	int rc;

	if (fstat(o->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		mp_errmsg_set("'%s' is not a regular file: refusing it", mp_obj_path(o));
		return -EBADMSG;
	}
	if (st.st_uid != mp_euid() && !(s->group && st.st_gid == s->gid)) {
		mp_errmsg_set("'%s' belongs to uid %d, not to you: refusing it", mp_obj_path(o),
			      (int)st.st_uid);
		return -EACCES;
	}
	if (st.st_mode & S_IWOTH || (!s->group && (st.st_mode & S_IWGRP))) {
		mp_errmsg_set("'%s' is writable by others (mode %04o): refusing it", mp_obj_path(o),
			      (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	if ((size_t)st.st_size < MP_HDR_SIZE) {
		mp_errmsg_set("'%s' is corrupt: %lld bytes is too short for an object",
			      mp_obj_path(o), (long long)st.st_size);
		return -EBADMSG;
	}
	/* Read the header with pread first: mapping a file whose size lies
	 * would raise SIGBUS on access. */
	if (pread(o->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
		mp_errmsg_set("'%s' is corrupt: short read", mp_obj_path(o));
		return -EBADMSG;
	}
	if (h.magic != MP_MAGIC || h.hdr_size != MP_HDR_SIZE) {
		mp_errmsg_set("'%s' is not an mptools object (bad magic)", mp_obj_path(o));
		return -EBADMSG;
	}
	if (h.version != MP_VERSION) {
		mp_errmsg_set("'%s' has format version %u; this is version %u", mp_obj_path(o),
			      h.version, MP_VERSION);
		return -EBADMSG;
	}
	if (strncmp(h.abi, mp_abi_tag(), sizeof h.abi)) {
		mp_errmsg_set("'%s' was made for %.16s, this is %s", mp_obj_path(o), h.abi, mp_abi_tag());
		return -EBADMSG;
	}
	if (h.kind != (uint32_t)k->id) {
		static const char *names[] = { "?", "lock", "sem", "event", "queue", "spawn",
					       "var" };
		mp_errmsg_set("'%s' is a %s object, not a %s", mp_obj_path(o),
			      h.kind < 7 ? names[h.kind] : "unknown", k->name);
		return -EMEDIUMTYPE;
	}
	if (h.total_size != (uint64_t)st.st_size || h.total_size > (1ULL << 41)) {
		mp_errmsg_set("'%s' is corrupt or truncated: %lld bytes, header says %llu",
			      mp_obj_path(o), (long long)st.st_size, (unsigned long long)h.total_size);
		return -EBADMSG;
	}
	rc = map_fd(o, (size_t)h.total_size);
	if (rc) {
		mp_errmsg_set("cannot map '%s': %s", mp_obj_path(o), strerror(-rc));
		return rc;
	}
	rc = k->validate ? k->validate(o) : 0;
	if (rc) {
		if (!mp_errmsg()[0])
			mp_errmsg_set("'%s' is corrupt", mp_obj_path(o));
		munmap(o->hdr, o->size);
		o->hdr = NULL;
	}
	return rc;
}

/* Unlinks fname if it is still the file open as o. */
static void unlink_if_same(struct mp_store *s, struct mp_obj *o, const char *fname)
{
	struct stat a, b;

	if (fstat(o->fd, &a) == 0 && fstatat(s->dirfd, fname, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		unlinkat(s->dirfd, fname, 0);
}

int mp_obj_open(struct mp_store *s, const struct mp_kind *k, const char *name,
		size_t body_size, void (*create)(void *body, size_t size, const void *arg),
		const void *arg, int *created, struct mp_obj *o)
{
	char fname[MP_NAME_MAX + 16];
	int rc, tries, rounds = 0;

	memset(o, 0, sizeof *o);
	o->fd = -1;
	o->ops = s->ops;
	o->kind = k;
	if (created)
		*created = 0;
	o->dir = s->dir;
	o->volatile_fs = s->volatile_fs;
	o->lease_ns = s->lease_ns;
	mp_str_join(o->name, sizeof o->name, name, 0, "");
	mp_str_join(fname, sizeof fname, k->name, '.', name);
again:
	for (tries = 0; tries < 5; tries++) {
		o->fd = openat(s->dirfd, fname, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (o->fd < 0 && errno == EROFS && allow_readonly && !create) {
			o->fd = openat(s->dirfd, fname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			o->readonly = o->fd >= 0;
		}
		if (o->fd >= 0)
			break;
		if (errno == ELOOP) {
			mp_errmsg_set("'%s' is a symbolic link: refusing to follow it", mp_obj_path(o));
			return -EACCES;
		}
		if (errno == EACCES || errno == EPERM) {
			mp_errmsg_set("cannot open '%s': %s", mp_obj_path(o), strerror(errno));
			return -EACCES;
		}
		if (errno == EISDIR || errno == ENXIO) {
			mp_errmsg_set("'%s' is not a regular file: refusing it", mp_obj_path(o));
			return -EBADMSG;
		}
		if (errno != ENOENT) {
			rc = -errno;
			mp_errmsg_set("cannot open '%s': %s", mp_obj_path(o), strerror(errno));
			return rc;
		}
		if (!create) {
			mp_errmsg_set("no %s named '%s' (in %s)", k->name, name, s->dir);
			return -ENOENT;
		}
		rc = create_obj(s, k, fname, body_size, create, arg);
		if (rc == 0 && created)
			*created = 1;
		else if (rc && rc != -EEXIST)
			return rc;
		/* created, or lost the race to another creator: open it */
	}
	if (o->fd < 0) {
		mp_errmsg_set("cannot open '%s': it keeps disappearing", mp_obj_path(o));
		return -EAGAIN;
	}
	rc = validate(s, k, o);
	if (rc) {
		close(o->fd);
		o->fd = -1;
		return rc;
	}
	if (__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE) && rounds++ < 3) {
		/* rm marks an object removed, then unlinks it.  Found still
		 * under its name, it is an rm in progress, or one killed
		 * between the two that would leave the name unusable (every
		 * later call: "removed"): finish the removal (the rm's own
		 * unlink then finds nothing to do) and look again. */
		unlink_if_same(s, o, fname);
		mp_obj_close(o);
		if (created)
			*created = 0;
		goto again;
	}
	return 0;
}

void mp_obj_close(struct mp_obj *o)
{
	/* an object of another store closes its own way */
	if (o->close) {
		o->close(o);
		return;
	}
	if (o->hdr)
		munmap(o->hdr, o->size);
	if (o->fd >= 0)
		close(o->fd);
	o->hdr = NULL;
	o->fd = -1;
}

/* rm's lock: waits for a running holder a moment (200 ms), not for a
 * stopped one, nor the caller's -t.  0 (locked), -EINTR or another -errno
 * (not locked). */
static int lock_for_rm(struct mp_obj *o)
{
	int64_t dl = patience.deadline_ns;
	int nb = patience.nonblock, rc;

	patience.deadline_ns = mp_now_ns() + 200 * 1000000LL;
	patience.nonblock = 1;
	rc = mp_obj_lock(o);
	patience.deadline_ns = dl;
	patience.nonblock = nb;
	return rc;
}

int mp_obj_remove(struct mp_store *s, struct mp_obj *o)
{
	char fname[MP_NAME_MAX + 16];
	struct stat a, b;
	int rc, locked;

	mp_str_join(fname, sizeof fname, o->kind->name, '.', o->name);
	rc = lock_for_rm(o);
	if (rc == -EINTR)
		return rc;
	locked = !rc;
	/* Not locked (a stopped or stuck holder, garbage in the mutex): the
	 * mark, the bump and the wake below are single stores that need no
	 * lock; a waiter that misses the wake sees the mark after its slice. */
	__atomic_store_n(&o->hdr->removed, 1, __ATOMIC_RELEASE);
	MP_FAULT_POINT("store.remove.marked");
	mp_obj_changed(o);
	__atomic_add_fetch(&o->hdr->seq2, 1, __ATOMIC_RELEASE);
	/* Unlink only the file we marked: it may have been replaced since. */
	if (fstat(o->fd, &a) == 0 && fstatat(s->dirfd, fname, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		rc = unlinkat(s->dirfd, fname, 0) < 0 ? -errno : 0;
	else
		rc = 0;
	if (locked)
		mp_obj_unlock(o);
	mp_futex_wake(&o->hdr->seq);
	mp_futex_wake(&o->hdr->seq2);
	if (rc)
		mp_errmsg_set("cannot remove '%s': %s", mp_obj_path(o), strerror(-rc));
	return rc;
}

/* Re-initialises the sync state of an object from a previous boot.  Called
 * before the mutex is touched: after a reboot its words may name a thread
 * of the old boot, which would block us forever.  Only when every holder
 * recorded in it is certainly dead: the boot it names was this host's (the
 * same machine id, or none recorded), so its processes ended with it.  A
 * boot of another host (a store on a disk that two hosts mount, which
 * mp_shm_store_open refuses where it can tell) may have live holders: 65,
 * never a second holder. */
int mp_obj_check_boot(struct mp_obj *o)
{
	static const uint8_t unknown[16];
	uint8_t now[16], host[16];
	int rc = 0;

	if (o->volatile_fs || o->readonly)
		return 0;
	read_boot_id(now);
	if (!memcmp(now, o->hdr->boot_id, 16))
		return 0;
	/* flock is dropped by the kernel when its holder dies and does not
	 * survive a reboot: the right guard for this one-time repair. */
	if (flock(o->fd, LOCK_EX) < 0)
		return -errno;
	if (memcmp(now, o->hdr->boot_id, 16)) {
		read_machine_id(host);
		/* (a header overwritten with garbage is no other host's: it is
		 * re-initialised, and the callers find it corrupt, 65, with a
		 * mutex they can unlock) */
		if (o->hdr->magic == MP_MAGIC && memcmp(o->hdr->machine_id, unknown, 16) &&
		    memcmp(host, unknown, 16) && memcmp(o->hdr->machine_id, host, 16)) {
			mp_errmsg_set("'%s' was last used on another host (machine id %02x%02x%02x%02x…): "
				      "its holders there may be alive, so it is not re-initialised; a "
				      "store on disk is for one host (use --store redis://HOST for "
				      "many); if that host is gone, rm it", mp_obj_path(o),
				      o->hdr->machine_id[0], o->hdr->machine_id[1],
				      o->hdr->machine_id[2], o->hdr->machine_id[3]);
			rc = -EBADMSG;
		} else {
			init_sync(o->hdr);
			if (o->kind->reset)
				o->kind->reset(o);
			o->hdr->generation++;
			__atomic_thread_fence(__ATOMIC_RELEASE);
		}
	}
	flock(o->fd, LOCK_UN);
	return rc;
}

/* glibc checks the type word of a mutex and answers garbage there with
 * EINVAL; musl trusts it, and garbage makes it fail at random or hang.  So
 * with musl the word (its first int) must hold what pthread_mutex_init
 * writes there for our attributes, or that plus 8, musl's mark of a dead
 * owner not yet declared consistent. */
static int mutex_type_ok(pthread_mutex_t *mu)
{
#if defined(__GLIBC__)
	(void)mu;
	return 1;
#else
	static int want = -1;
	int w = *(volatile int *)mu;

	if (want < 0) {
		pthread_mutexattr_t a;
		pthread_mutex_t m;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
		pthread_mutex_init(&m, &a);
		pthread_mutexattr_destroy(&a);
		want = *(int *)&m;
	}
	return w == want || w == (want | 8);
#endif
}

void mp_obj_patience(int64_t deadline_ns, int nonblock)
{
	patience.deadline_ns = deadline_ns;
	patience.nonblock = nonblock;
}

int64_t mp_obj_patience_deadline(void)
{
	return patience.nonblock ? 0 : patience.deadline_ns;
}

/* The thread that holds mu, if it is stopped (SIGSTOP, Ctrl-Z, a
 * debugger); else 0.  glibc keeps the holder's thread id in the first word
 * of a robust mutex. */
static int stopped_holder(pthread_mutex_t *mu)
{
#if defined(__GLIBC__)
	int tid = *(volatile int *)mu & 0x3fffffff;
	uint64_t start;
	char st;

	if (tid > 0 && mp_proc_stat(tid, &st, &start) == 0 && (st == 'T' || st == 't'))
		return tid;
#else
	(void)mu;
#endif
	return 0;
}

#define LOCK_SLICE_NS	(50 * 1000000LL)	/* between looks at signals and the holder */
#define LOCK_LIMIT_NS	(10 * 1000000000LL)	/* a running holder: a broken invariant */

/* Locks mu.  Uncontended, no clock is read.  Contended, it waits in
 * slices, and between them gives up with EINTR on a termination signal,
 * ETIMEDOUT at the caller's deadline, EAGAIN (-n) when the holder is
 * stopped (its thread id in *tid), EIDRM when rm marked the object
 * removed meanwhile, ETIME when a holder that is not stopped kept it 10 s. */
static int lock_patiently(pthread_mutex_t *mu, const uint32_t *removed, int *tid)
{
	int rc = pthread_mutex_trylock(mu);
	int64_t now, until, since;
	struct timespec dl;

	if (rc != EBUSY)
		return rc;	/* 0, EOWNERDEAD, ENOTRECOVERABLE, ... */
	/* contended: the clock's cost no longer matters */
	since = now = mp_now_ns();
	for (;;) {
		until = now + LOCK_SLICE_NS;
		if (patience.deadline_ns && patience.deadline_ns < until)
			until = patience.deadline_ns > now ? patience.deadline_ns : now + 1;
#if HAVE_PTHREAD_MUTEX_CLOCKLOCK
		dl.tv_sec = (time_t)(until / 1000000000LL);
		dl.tv_nsec = (long)(until % 1000000000LL);
		rc = pthread_mutex_clocklock(mu, CLOCK_MONOTONIC, &dl);
#else
		/* musl: the wall clock only; a step of it moves a slice */
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += (long)(until - now);
		dl.tv_sec += dl.tv_nsec / 1000000000L;
		dl.tv_nsec %= 1000000000L;
		rc = pthread_mutex_timedlock(mu, &dl);
#endif
		if (rc != ETIMEDOUT)
			return rc;
		if (mp_signal_pending)
			return EINTR;
		if (__atomic_load_n(removed, __ATOMIC_ACQUIRE))
			return EIDRM;	/* rm went ahead without the mutex */
		now = mp_now_ns();
		if (patience.deadline_ns && now >= patience.deadline_ns)
			return ETIMEDOUT;
		*tid = stopped_holder(mu);
		if (*tid) {
			if (patience.nonblock)
				return EAGAIN;
			since = now;	/* waiting for a stopped process is not a bug */
		} else if (now - since >= LOCK_LIMIT_NS) {
			return ETIME;
		}
	}
}

static int hdr_intact(struct mp_obj *o);

int mp_obj_lock(struct mp_obj *o)
{
	int rc, tid = 0;

	if (o->readonly)
		return 0;	/* a private copy: nobody else locks it */
	rc = mp_obj_check_boot(o);
	if (rc)
		return rc;
	rc = mutex_type_ok(&o->hdr->mu) ? lock_patiently(&o->hdr->mu, &o->hdr->removed, &tid) : EINVAL;
	if (rc == EOWNERDEAD) {
		/* The last holder died inside its critical section: finish or
		 * undo its work, then declare the state consistent again.
		 * Unlocking without pthread_mutex_consistent() would make the
		 * mutex unusable (ENOTRECOVERABLE) for everybody, forever. */
		MP_FAULT_POINT("sync.repair.before");
		if (o->kind->repair)
			o->kind->repair(o);
		MP_FAULT_POINT("sync.repair.after");
		pthread_mutex_consistent(&o->hdr->mu);
		o->hdr->seq++;	/* wake waiters: state may have changed */
		rc = 0;
	}
	if (rc == 0)
		MP_FAULT_POINT("sync.locked");
	switch (rc) {
	case 0:
		in_section++;
		return 0;
	case ETIME:
		mp_errmsg_set("the internal lock of '%s' has been held for 10 s "
			      "(is a process stopped inside mptools?)", mp_obj_path(o));
		return -EDEADLK;
	case EAGAIN:
		mp_errmsg_set("'%s' is busy: process %d is stopped inside it (SIGSTOP or Ctrl-Z; "
			      "kill -CONT %d lets it go on)", mp_obj_path(o), tid, tid);
		return -EAGAIN;
	case ETIMEDOUT:
		if (tid)
			mp_errmsg_set("'%s' is busy: process %d is stopped inside it", mp_obj_path(o), tid);
		return -ETIMEDOUT;
	case EINTR:
		return -EINTR;
	case EIDRM:
		if (!hdr_intact(o))
			return -EBADMSG;
		mp_errmsg_set("'%s' was removed", mp_obj_path(o));
		return -EIDRM;
	case EINVAL:
		/* the deadline is well-formed: the mutex's own words are not */
		mp_errmsg_set("'%s' is corrupt: its internal lock is not a valid mutex", mp_obj_path(o));
		return -EBADMSG;
	default:
		mp_errmsg_set("cannot lock '%s': %s", mp_obj_path(o), strerror(rc));
		return -rc;
	}
}

void mp_obj_unlock(struct mp_obj *o)
{
	if (o->readonly)
		return;
	pthread_mutex_unlock(&o->hdr->mu);
	if (in_section && !--in_section && stop_deferred) {
		stop_deferred = 0;
		raise(SIGSTOP);	/* the Ctrl-Z that came inside */
	}
}

void mp_obj_changed(struct mp_obj *o)
{
	o->hdr->changed_ns = mp_realtime_ns();
	__atomic_add_fetch(&o->hdr->seq, 1, __ATOMIC_RELEASE);
}

void mp_obj_wake(struct mp_obj *o)
{
	if (__atomic_load_n(&o->hdr->nwait, __ATOMIC_ACQUIRE))
		mp_futex_wake(&o->hdr->seq);
}

/* Is the header still the one validated at open?  Garbage written over
 * the file (its size unchanged) would otherwise read as "removed". */
static int hdr_intact(struct mp_obj *o)
{
	const struct mp_hdr *h = o->hdr;

	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == MP_MAGIC &&
	    h->version == MP_VERSION && h->hdr_size == MP_HDR_SIZE &&
	    h->kind == (uint32_t)o->kind->id && h->total_size == (uint64_t)o->size)
		return 1;
	mp_errmsg_set("'%s' was overwritten while in use: it is corrupt", mp_obj_path(o));
	return 0;
}

int mp_obj_check_file(struct mp_obj *o)
{
	struct stat st;

	if (!hdr_intact(o))
		return -EBADMSG;
	if (fstat(o->fd, &st) < 0)
		return 0;
	if ((size_t)st.st_size != o->size) {
		mp_errmsg_set("'%s' changed size while in use: it is corrupt", mp_obj_path(o));
		return -EBADMSG;
	}
	if (st.st_nlink == 0 && !__atomic_load_n(&o->hdr->removed, __ATOMIC_ACQUIRE))
		return -EIDRM;
	return 0;
}

int mp_obj_wait(struct mp_obj *o, uint32_t *word, uint32_t *nwait, int64_t deadline_ns,
		int64_t slice_ns, int *slice_over)
{
	uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	int64_t now = mp_now_ns(), until = now + slice_ns;
	int rc, lrc;

	*slice_over = 0;
	if (deadline_ns && now >= deadline_ns)
		return -ETIMEDOUT;
	if (deadline_ns && deadline_ns < until)
		until = deadline_ns;
	__atomic_add_fetch(nwait, 1, __ATOMIC_ACQ_REL);
	MP_FAULT_POINT("sync.wait.registered");
	mp_obj_unlock(o);
	rc = mp_futex_wait(word, seen, until);
	MP_FAULT_POINT("sync.wait.woken");
	lrc = mp_obj_lock(o);
	/* A waiter killed here leaves nwait one too high: the hint only costs
	 * extra wake calls, and repair() of kinds may recount it. */
	if (*nwait)
		__atomic_sub_fetch(nwait, 1, __ATOMIC_ACQ_REL);
	if (lrc)
		return lrc;
	lrc = mp_obj_check_file(o);
	if (lrc)
		return lrc;
	if (rc == -ETIMEDOUT) {
		if (deadline_ns && mp_now_ns() >= deadline_ns)
			return -ETIMEDOUT;
		*slice_over = 1;
		return 0;
	}
	return rc;
}
