/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clock.c - the clocks; see clock.h. */
#include "config.h"

#include "clock.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The first few clock reads go to the kernel.  The first vDSO call of a
 * static binary looks the vDSO up and faults in its pages: 3 page faults,
 * ~30 us on a VM, against ~1 us for the system call.  A one-shot tool
 * reads the clock two or three times; a long wait or a stream reads it
 * thousands of times, and from the 9th read on it gets the vDSO. */
int64_t mp_clock_ns(clockid_t id)
{
	static unsigned reads;
	struct timespec ts;

	if (reads < 8) {
		reads++;
		if (syscall(SYS_clock_gettime, id, &ts) == 0)
			return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t mp_now_ns(void)
{
	return mp_clock_ns(CLOCK_MONOTONIC);
}

int64_t mp_realtime_ns(void)
{
	return mp_clock_ns(CLOCK_REALTIME);
}

int64_t mp_deadline(int64_t timeout_ns)
{
	return timeout_ns < 0 ? 0 : mp_now_ns() + timeout_ns;
}

/* The inode of the initial time namespace (include/linux/proc_ns.h). */
#define TIME_INIT_INO	0xEFFFFFFAULL

int64_t mp_timens_offset_ns(clockid_t id)
{
	static int64_t mono, boot;
	static int have;

	if (!have) {
		struct stat st;
		char buf[256], *line, *save = NULL;
		ssize_t n;
		int fd;

		have = 1;
		/* one stat in the initial namespace (no /proc: no offsets) */
		if (stat("/proc/self/ns/time", &st) < 0 || (uint64_t)st.st_ino == TIME_INIT_INO)
			goto done;
		fd = open("/proc/self/timens_offsets", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			goto done;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			goto done;
		buf[n] = 0;
		/* "monotonic SECS NSECS\nboottime SECS NSECS\n" (or clock ids) */
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char name[32];
			long long sec, nsec;

			if (sscanf(line, "%31s %lld %lld", name, &sec, &nsec) != 3)
				continue;
			if (!strcmp(name, "monotonic") || !strcmp(name, "1"))
				mono = sec * 1000000000LL + nsec;
			else if (!strcmp(name, "boottime") || !strcmp(name, "7"))
				boot = sec * 1000000000LL + nsec;
		}
	}
done:
	return id == CLOCK_BOOTTIME ? boot : id == CLOCK_MONOTONIC ? mono : 0;
}

int64_t mp_shared_ns(void)
{
	return mp_now_ns() - mp_timens_offset_ns(CLOCK_MONOTONIC);
}
