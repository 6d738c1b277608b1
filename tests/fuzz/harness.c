/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* harness.c - the private store, the exact-size mappings and the plain
 * driver shared by the fuzz targets; see fuzz.h. */
#include "config.h"

#include "fuzz.h"
#include "lib/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_MUTEX_OFF	152	/* offsetof(struct mp_hdr, mu), asserted in obj.c */
#define HDR_BOOT_OFF	offsetof(struct mp_hdr, boot_id)
#define HDR_SIZE_OFF	offsetof(struct mp_hdr, total_size)

/* ---- exact-size mappings (the library is linked with --wrap=mmap) ---- */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

static struct fzmap {
	void *p;
	size_t len;
	int fd;
} maps[16];

/* A shared mapping of a file at offset 0 becomes a heap copy of exactly
 * len bytes, written back to the file by munmap.  That is all the library
 * asks of a mapping in one process, and AddressSanitizer then sees every
 * access outside the object. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct fzmap *m = NULL;

	if (fd < 0 || addr || off || !(flags & MAP_SHARED))
		return __real_mmap(addr, len, prot, flags, fd, off);
	for (size_t i = 0; i < sizeof maps / sizeof *maps && !m; i++)
		if (!maps[i].p)
			m = &maps[i];
	if (!m || !len) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	m->p = malloc(len);
	if (!m->p) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	for (size_t got = 0; got < len;) {
		ssize_t n = pread(fd, (char *)m->p + got, len - got, (off_t)got);
		if (n <= 0) {
			/* past the end of the file: a real mapping would raise
			 * SIGBUS on access; the library must never ask for it */
			fprintf(stderr, "fuzz: mmap of %zu bytes past the end of the file\n", len);
			abort();
		}
		got += (size_t)n;
	}
	m->len = len;
	m->fd = (prot & PROT_WRITE) ? dup(fd) : -1;
	return m->p;
}

int __wrap_munmap(void *addr, size_t len)
{
	for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) {
		struct fzmap *m = &maps[i];
		if (m->p != addr)
			continue;
		if (len != m->len) {
			fprintf(stderr, "fuzz: munmap of %zu bytes of a %zu-byte mapping\n", len,
				m->len);
			abort();
		}
		if (m->fd >= 0) {
			if (pwrite(m->fd, m->p, m->len, 0) != (ssize_t)m->len)
				perror("fuzz: writing a mapping back");
			close(m->fd);
		}
		free(m->p);
		memset(m, 0, sizeof *m);
		return 0;
	}
	return __real_munmap(addr, len);
}

/* ---- the store ---- */

static struct mp_store store;
static char store_dir[4096];
static int ready;

static void remove_store(void)
{
	DIR *d = opendir(store_dir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(store_dir);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR"), *keep = getenv("FUZZ_STORE");

	if (ready)
		return;
	ready = 1;
	if (keep && *keep) {
		snprintf(store_dir, sizeof store_dir, "%s", keep);
	} else {
		snprintf(store_dir, sizeof store_dir, "%s/mptools-fuzz-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(store_dir)) {
			perror("fuzz: mkdtemp");
			exit(71);
		}
		atexit(remove_store);
	}
	if (mp_store_open(&store, store_dir)) {
		fprintf(stderr, "fuzz: %s\n", mp_errmsg());
		exit(71);
	}
	umask(077);
	/* The library's info and ls print; its warnings go to stderr, where
	 * libFuzzer keeps its own FILE (taken at startup) and the sanitizers
	 * write with write(2). */
	if (!freopen("/dev/null", "w", stdout))
		exit(71);
	if (!getenv("FUZZ_VERBOSE")) {
		FILE *null = fopen("/dev/null", "w");
		if (null)
			stderr = null;
	}
}

struct mp_store *fz_store(void)
{
	setup();
	return &store;
}

char *fz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

static void this_boot(uint8_t out[16])
{
	char buf[64];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	int j = 0;

	memset(out, 0, 16);
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n && j < 32; i++) {
		int c = buf[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue;
		out[j / 2] |= (uint8_t)(j % 2 ? v : v << 4);
		j++;
	}
}

int fz_write_object(const char *kind, const uint8_t *data, size_t size)
{
	static uint8_t boot[16];
	static pthread_mutex_t fresh;
	char name[sizeof store_dir + 16];
	uint8_t *buf;
	int fd;

	setup();
	if (!boot[0] && !boot[1]) {
		pthread_mutexattr_t a;
		this_boot(boot);
		pthread_mutexattr_init(&a);
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
		pthread_mutex_init(&fresh, &a);
		pthread_mutexattr_destroy(&a);
	}
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	if (size >= MP_HDR_SIZE) {
		uint8_t *bid = buf + HDR_BOOT_OFF;
		uint64_t total = size;

		memcpy(buf + HDR_MUTEX_OFF, &fresh, sizeof fresh);
		if (!(bid[2] & 1))
			memcpy(buf + HDR_SIZE_OFF, &total, sizeof total);
		if (!(bid[0] & 1)) {
			memcpy(bid, boot, 16);
		} else if (!memcmp(bid, boot, 16)) {
			bid[15] ^= 0x80;
		}
	}
	snprintf(name, sizeof name, "%s/%s.x", store_dir, kind);
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
		perror("fuzz: writing the object");
		exit(71);
	}
	close(fd);
	free(buf);
	return getenv("FUZZ_PREPARE_ONLY") ? 1 : 0;
}

static void *hold_and_die(void *mu)
{
	pthread_mutex_lock(mu);
	return NULL;	/* the thread ends holding it: the mutex is owner-dead */
}

void fz_after_open(struct mp_obj *o, const uint8_t *data, size_t size)
{
	pthread_t t;

	if (size < MP_HDR_SIZE || !(data[HDR_BOOT_OFF + 1] & 1) || (data[HDR_BOOT_OFF] & 1))
		return;
	if (pthread_create(&t, NULL, hold_and_die, &o->hdr->mu) == 0)
		pthread_join(t, NULL);
}

/* ---- the plain driver ---- */

#ifndef MP_LIBFUZZER
static int run_file(const char *path)
{
	struct stat st;
	uint8_t *data;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return -1;
	}
	data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!data)
		abort();
	n = read(fd, data, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, (size_t)n);
	free(data);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the target on each FILE, and on each file in each DIRECTORY, as a
 * libFuzzer binary does with files (options -x=y are ignored). */
int main(int argc, char **argv)
{
	int runs = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (argv[i][0] == '-')
			continue;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			struct dirent **names;
			int n = scandir(argv[i], &names, NULL, NULL);
			char **paths;

			if (n < 0) {
				perror(argv[i]);
				bad++;
				continue;
			}
			int m = 0;
			paths = calloc((size_t)n + 1, sizeof *paths);
			for (int j = 0; j < n; j++) {
				if (names[j]->d_name[0] != '.' &&
				    asprintf(&paths[m++], "%s/%s", argv[i], names[j]->d_name) < 0)
					abort();
				free(names[j]);
			}
			free(names);
			qsort(paths, (size_t)m, sizeof *paths, cmp_name);
			for (int j = 0; j < m; j++) {
				if (run_file(paths[j]) == 0)
					runs++;
				else
					bad++;
				free(paths[j]);
			}
			free(paths);
		} else if (run_file(argv[i]) == 0) {
			runs++;
		} else {
			bad++;
		}
	}
	dprintf(2, "%s: %d inputs run\n", argv[0], runs);
	return bad ? 66 : 0;
}
#endif
