/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store.c - the store directory: open and check it, list and remove its
 * objects by name; see store.h. */
#include "config.h"

#include "store.h"
#include "err.h"
#include "obj.h"
#include "owner.h"
#include "parse.h"
#include "str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Filesystems that more than one host (or a host and its VMs) may mount
 * at once.  A store's objects are mapped memory with a mutex and futex
 * words inside: on these they are not shared between hosts (each has its
 * own page cache), so each host would take the same lock.  There is no
 * safe way to use one, so there is no override.  (statfs(2) f_type) */
static const struct {
	unsigned long magic;
	const char *name;
} shared_fs[] = {
	{ 0x6969, "nfs" },
	{ 0x517b, "smb" },
	{ 0xff534d42, "cifs" },
	{ 0xfe534d42, "smb2" },
	{ 0x00c36400, "ceph" },
	{ 0x0bd00bd0, "lustre" },
	{ 0x01021997, "9p" },		/* also VM shared folders (virtio-9p) */
	{ 0x65735546, "fuse" },		/* sshfs, glusterfs, virtiofs, s3fs, ... */
	{ 0x5346414f, "afs" },
	{ 0x6b414653, "afs" },
	{ 0x73757245, "coda" },
	{ 0x01161970, "gfs2" },
	{ 0x7461636f, "ocfs2" },
	{ 0x20030528, "orangefs" },
	{ 0x47504653, "gpfs" },
	{ 0x19830326, "beegfs" },
	{ 0x564c, "ncp" },
	{ 0x6e667364, "nfsd" },
	{ 0x786f4256, "vboxsf" },	/* VirtualBox shared folders */
};

const char *mp_store_shared_fs(unsigned long f_type)
{
	for (size_t i = 0; i < sizeof shared_fs / sizeof *shared_fs; i++)
		if (shared_fs[i].magic == (f_type & 0xffffffffUL))
			return shared_fs[i].name;
	return NULL;
}

/* Is every process that can use the store's group one of ours?  Only
 * a group the user is in: a setgid directory of someone else's group
 * would hand the user's objects to that group. */
static int in_group(gid_t gid)
{
	gid_t groups[256];
	int n;

	if (gid == getegid())
		return 1;
	n = getgroups(sizeof groups / sizeof *groups, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* Checks that fd (the store directory) is fit to hold our objects. */
static int check_dir(struct mp_store *s, int is_default)
{
	struct stat st;

	if (fstat(s->dirfd, &st) < 0) {
		mp_errmsg_set("cannot examine store '%s': %s", s->dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		mp_errmsg_set("store '%s' is not a directory", s->dir);
		return -ENOTDIR;
	}
	/* Ours with no bits for others, but not rwx for us: a restrictive
	 * umask (0277) took them when the directory was made (by us, or by
	 * an older mptools).  Give them back: refusing it would be for ever. */
	if (st.st_uid == mp_euid() && !(st.st_mode & 07077) && (st.st_mode & 0700) != 0700 &&
	    fchmod(s->dirfd, 0700) == 0)
		st.st_mode = (st.st_mode & ~07777) | 0700;
	if (is_default) {
		if (st.st_uid != mp_euid() || (st.st_mode & 07777) != 0700) {
			mp_errmsg_set("store '%s' is not a directory owned by uid %d with mode 0700 "
				      "(owner %d, mode %04o): refusing it; remove it or set MP_DIR",
				      s->dir, (int)mp_euid(), (int)st.st_uid, (unsigned)(st.st_mode & 07777));
			return -EACCES;
		}
		return 0;
	}
	s->gid = st.st_gid;
	if (st.st_mode & S_ISGID) {
		if (st.st_mode & S_IWOTH) {
			mp_errmsg_set("group store '%s' is writable by everybody (mode %04o): refusing "
				      "it; a group store is mode 2770", s->dir,
				      (unsigned)(st.st_mode & 07777));
			return -EACCES;
		}
		if (!in_group(st.st_gid)) {
			mp_errmsg_set("group store '%s' belongs to group %d, which you are not in: "
				      "refusing it (your objects would be that group's)", s->dir,
				      (int)st.st_gid);
			return -EACCES;
		}
		if (st.st_uid != mp_euid() && !(st.st_mode & S_IWGRP)) {
			mp_errmsg_set("group store '%s' is not writable by its group", s->dir);
			return -EACCES;
		}
		s->group = 1;
	} else if (st.st_uid != mp_euid()) {
		mp_errmsg_set("store '%s' belongs to uid %d, not to you (uid %d); "
			      "a shared store must be a setgid group directory",
			      s->dir, (int)st.st_uid, (int)mp_euid());
		return -EACCES;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		mp_errmsg_set("store '%s' is writable by everybody (mode %04o): refusing it",
			      s->dir, (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	return 0;
}

static int open_dir(struct mp_store *s, int is_default)
{
	/* The default store must not be a symlink someone planted; a chosen
	 * directory may be (the user named it).  openat, not open: musl's
	 * open(O_CLOEXEC) adds an fcntl for kernels older than 2.6.23. */
	return openat(AT_FDCWD, s->dir,
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_default ? O_NOFOLLOW : 0));
}

int mp_shm_store_open(struct mp_store *s, const char *dir)
{
	int is_default = 0, rc;
	struct statfs sf;

	memset(s, 0, sizeof *s);
	s->dirfd = -1;
	if (!dir || !*dir)
		dir = getenv("MP_DIR");
	if (!dir || !*dir) {
		/* Not derived from XDG_RUNTIME_DIR: cron, systemd units and login
		 * shells of one user must all find the same store. */
		char uid[24];

		mp_str_utoa(uid, (unsigned long)mp_euid());
		mp_str_join(s->dir_buf, sizeof s->dir_buf, "/dev/shm/mptools-", 0, uid);
		s->dir = s->dir_buf;
		is_default = 1;
	} else if (strlen(dir) >= PATH_MAX) {
		mp_errmsg_set("store path is too long");
		return -ENAMETOOLONG;
	} else {
		s->dir = dir;
	}
	/* Open first: the store exists on every call but the first.  When
	 * that fails, mkdir says why best (a file where a directory of the
	 * path should be), as it did before the open. */
	s->dirfd = open_dir(s, is_default);
	if (s->dirfd < 0) {
		if (mkdir(s->dir, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			mp_errmsg_set("cannot create store '%s': %s", s->dir, strerror(errno));
			return rc;
		}
		s->dirfd = open_dir(s, is_default);
	}
	if (s->dirfd < 0) {
		rc = -errno;
		if (errno == ELOOP || errno == ENOTDIR) {
			mp_errmsg_set("store '%s' is not a directory (a symlink or file?): refusing it",
				      s->dir);
			return -EACCES;
		}
		mp_errmsg_set("cannot open store '%s': %s", s->dir, strerror(errno));
		return rc;
	}
	rc = check_dir(s, is_default);
	if (rc) {
		close(s->dirfd);
		s->dirfd = -1;
		return rc;
	}
	/* A store on tmpfs is gone after a reboot: its objects need no boot
	 * id check (mp_obj_check_boot), which costs a /proc file per call. */
	if (fstatfs(s->dirfd, &sf) == 0) {
		const char *fs = mp_store_shared_fs((unsigned long)sf.f_type);

		if (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC)
			s->volatile_fs = 1;
		if (fs) {
			mp_errmsg_set("store '%s' is on a %s filesystem, which other hosts may share: "
				      "a store's locks hold on one host only; use a Redis store for "
				      "many hosts (--store redis://HOST)", s->dir, fs);
			close(s->dirfd);
			s->dirfd = -1;
			return -EREMOTE;
		}
	}
	return 0;
}

int mp_shm_store_remove(struct mp_store *s, const struct mp_kind *k, const char *name, int *damaged)
{
	char fname[MP_NAME_MAX + 16], why[MP_ERRMSG_MAX];
	struct mp_obj o;
	int rc;

	*damaged = 0;
	rc = mp_obj_open(s, k, name, 0, NULL, NULL, NULL, &o);
	if (rc == 0) {
		rc = mp_obj_remove(s, &o);
		mp_obj_close(&o);
		if (rc != -ENOTRECOVERABLE && rc != -EDEADLK && rc != -EBADMSG)
			return rc;
		/* its mutex is beyond repair: the file is all that is left */
	}
	/* damaged: garbage, truncated, another kind, a symlink, a FIFO; never
	 * a file of another user (that is refused, not removed) */
	if (rc != -EBADMSG && rc != -EMEDIUMTYPE &&
	    !(rc == -EACCES && (strstr(mp_errmsg(), "symbolic") ||
				strstr(mp_errmsg(), "not a regular file"))))
		return rc;
	snprintf(why, sizeof why, "%s", mp_errmsg());
	mp_str_join(fname, sizeof fname, k->name, '.', name);
	if (unlinkat(s->dirfd, fname, 0) < 0) {
		rc = -errno;
		mp_errmsg_set("cannot remove '%s/%s': %s", s->dir, fname, strerror(errno));
		return rc;
	}
	*damaged = 1;
	mp_errmsg_set("%s", why);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mp_shm_store_list(struct mp_store *s, const struct mp_kind *k,
		  int (*fn)(const char *name, void *arg), void *arg)
{
	size_t plen = strlen(k->name), n = 0, cap = 0;
	char **names = NULL;
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;

	dfd = dup(s->dirfd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		rc = -errno;
		mp_errmsg_set("cannot list '%s': %s", s->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (strncmp(nm, k->name, plen) || nm[plen] != '.' ||
		    mp_parse_name(nm + plen + 1, NULL, 0))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof *names);
			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(nm + plen + 1))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc && n)	/* names is NULL when n is 0: not for qsort */
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = fn(names[i], arg);
		free(names[i]);
	}
	free(names);
	return rc;
}
