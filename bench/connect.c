/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* connect.c - a concurrent client for bench/listen.
 *
 *   connect HOST PORT N C     N connections, C at a time: each sends
 *                             "hello\n", closes its side and reads the
 *                             echo to EOF.  Prints "SECONDS FAILED".
 *   connect HOST PORT N idle  opens N connections, sends nothing, prints
 *                             "ready" once all are accepted (a byte each),
 *                             and holds them until stdin is closed.
 *
 * Non-blocking sockets and one poll loop, so the client costs little next
 * to the servers it measures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in sa;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int start(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

enum { CONNECTING, READING };

static int run(int n, int c)
{
	struct pollfd *pf = calloc((size_t)c, sizeof *pf);
	int *state = calloc((size_t)c, sizeof *state), *got = calloc((size_t)c, sizeof *got);
	int started = 0, done = 0, failed = 0, active = 0;
	double t0 = now();
	char buf[256];

	for (int i = 0; i < c; i++)
		pf[i].fd = -1;
	while (done < n) {
		for (int i = 0; i < c && started < n; i++) {
			if (pf[i].fd >= 0)
				continue;
			pf[i].fd = start();
			started++;
			if (pf[i].fd < 0) {
				failed++, done++;
				continue;
			}
			pf[i].events = POLLOUT;
			state[i] = CONNECTING;
			got[i] = 0;
			active++;
		}
		if (!active)
			continue;
		if (poll(pf, (nfds_t)c, 10000) <= 0) {
			fprintf(stderr, "connect: no progress for 10 s\n");
			return 1;
		}
		for (int i = 0; i < c; i++) {
			int end = 0;

			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			if (state[i] == CONNECTING) {
				int err = 0;
				socklen_t l = sizeof err;
				getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &l);
				if (err || write(pf[i].fd, "hello\n", 6) != 6) {
					end = 2;
				} else {
					shutdown(pf[i].fd, SHUT_WR);
					state[i] = READING;
					pf[i].events = POLLIN;
				}
			} else {
				ssize_t r = read(pf[i].fd, buf, sizeof buf);
				if (r > 0)
					got[i] += (int)r;
				else if (r == 0)
					end = got[i] == 6 ? 1 : 2;
				else if (errno != EAGAIN)
					end = 2;
			}
			if (end) {
				close(pf[i].fd);
				pf[i].fd = -1;
				active--;
				done++;
				if (end == 2)
					failed++;
			}
		}
	}
	printf("%.6f %d\n", now() - t0, failed);
	return 0;
}

static int idle(int n)
{
	int *fds = calloc((size_t)n, sizeof *fds);
	char b;

	for (int i = 0; i < n; i++) {
		struct pollfd p;
		fds[i] = start();
		if (fds[i] < 0)
			return 1;
		p = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
		poll(&p, 1, 10000);
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, &b, 1) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		return fprintf(stderr, "usage: connect HOST PORT N C|idle\n"), 2;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return fprintf(stderr, "connect: bad host\n"), 2;
	if (!strcmp(argv[4], "idle"))
		return idle(atoi(argv[3]));
	return run(atoi(argv[3]), atoi(argv[4]));
}
