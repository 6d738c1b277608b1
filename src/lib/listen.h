/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* listen.h - the server socket of `mpspawn --listen`: the address grammar,
 * opening the socket, a connection's peer, and the environment a handler
 * gets (tcpserver's names).
 *
 * Functions return 0 or -errno with the reason in mp_errmsg() (or in why
 * for the parser), never print or exit.  None is async-signal-safe.
 */
#ifndef MP_LISTEN_H
#define MP_LISTEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "spawn.h"

struct mp_listen_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	int family;		/* AF_INET, AF_INET6, AF_UNIX */
	const char *path;	/* AF_UNIX: the socket's path (points into the spec) */
};

/* ADDR := [HOST:]PORT | '[' IPV6 ']:' PORT | unix:PATH
 * HOST := a numeric IPv4 or IPv6 address, or "localhost"; default 127.0.0.1
 * (listening on every address is asked for: 0.0.0.0:PORT or [::]:PORT).
 * PORT := 0..65535; 0 lets the kernel pick a free one.
 * PATH := 1..107 bytes.  Returns 0 or -EINVAL (the reason in why). */
int mp_listen_parse(const char *spec, struct mp_listen_addr *a, char *why, size_t whylen);

/* Opens a non-blocking, close-on-exec socket listening on a with the
 * given backlog in *fd.  A Unix socket's path that exists is reused only
 * when it is a socket nobody listens on (a stale one is replaced).
 * Returns 0, -EADDRINUSE, -EACCES/-EPERM, or -errno (reason in
 * mp_errmsg(), with the address). */
int mp_listen_open(const struct mp_listen_addr *a, int backlog, int *fd);

/* "HOST:PORT" ("[V6]:PORT") of the local address of socket fd, or
 * "unix:PATH"; writes to buf.  Returns buf. */
char *mp_listen_local(int fd, char *buf, size_t len);

/* The peer of connection conn (accepted from sa/salen) for the record. */
void mp_listen_peer(int conn, const struct sockaddr *sa, socklen_t salen,
		    struct mp_spawn_peer *peer);

/* A peer for display: "1.2.3.4:5678", "[::1]:5678", "uid 1000 pid 42". */
char *mp_listen_peer_str(const struct mp_spawn_peer *peer, char *buf, size_t len);

/* tcpserver's environment for connection conn: PROTO, TCPREMOTEIP,
 * TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT (Unix: PROTO=UNIX,
 * UNIXREMOTEUID, UNIXREMOTEPID, UNIXREMOTEGID), written as "NAME=VALUE"
 * into env[0..MP_LISTEN_NENV) (each MP_LISTEN_ENVLEN bytes); unused
 * entries are empty strings.  Returns how many were written. */
#define MP_LISTEN_NENV		5
#define MP_LISTEN_ENVLEN	80
int mp_listen_env(int conn, const struct mp_spawn_peer *peer,
		  char env[MP_LISTEN_NENV][MP_LISTEN_ENVLEN]);

/* 1 if the environment entry e is one mp_listen_env() sets (or one a
 * tcpserver around us set), so the handlers do not inherit it. */
int mp_listen_env_ours(const char *e);

#endif
