/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* listen.c - the server socket of `mpspawn --listen`; see listen.h. */
#include "config.h"

#include "listen.h"
#include "err.h"
#include "parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int bad(char *why, size_t whylen, const char *fmt, const char *arg)
{
	if (why)
		snprintf(why, whylen, fmt, arg);
	return -EINVAL;
}

int mp_listen_parse(const char *spec, struct mp_listen_addr *a, char *why, size_t whylen)
{
	char host[64];
	const char *port = spec, *colon;
	uint64_t pn;
	size_t hl;

	memset(a, 0, sizeof *a);
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
		size_t n = strlen(spec + 5);

		if (n == 0 || n >= sizeof un->sun_path)
			return bad(why, whylen, "'%s': a Unix socket's path has 1 to 107 bytes", spec);
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, spec + 5, n + 1);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		a->family = AF_UNIX;
		a->path = spec + 5;
		return 0;
	}
	strcpy(host, "127.0.0.1");
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':')
			return bad(why, whylen, "'%s': an IPv6 address is written [ADDRESS]:PORT", spec);
		hl = (size_t)(close - spec - 1);
		if (hl >= sizeof host)
			return bad(why, whylen, "'%s': the address is too long", spec);
		memcpy(host, spec + 1, hl);
		host[hl] = 0;
		port = close + 2;
	} else if ((colon = strrchr(spec, ':'))) {
		hl = (size_t)(colon - spec);
		if (hl == 0 || hl >= sizeof host || memchr(spec, ':', hl))
			return bad(why, whylen, "'%s' is not [HOST:]PORT, [IPV6]:PORT or unix:PATH "
				   "(write an IPv6 address in brackets)", spec);
		memcpy(host, spec, hl);
		host[hl] = 0;
		port = colon + 1;
	}
	if (mp_parse_count(port, 0, 65535, &pn, NULL, 0))
		return bad(why, whylen, "'%s': the port is not a number from 0 to 65535", spec);
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (spec[0] != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return bad(why, whylen, "'%s': HOST is not a numeric IPv4 address, "
				   "[IPV6] or localhost", spec);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)pn);
		a->len = sizeof *in;
		a->family = AF_INET;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return bad(why, whylen, "'%s': not a numeric IPv6 address in the brackets", spec);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)pn);
		a->len = sizeof *in6;
		a->family = AF_INET6;
	}
	return 0;
}

/* A Unix socket path that exists: a socket nobody accepts on is stale
 * and goes; anything else is in use.  0 or -errno. */
static int clear_stale(const struct mp_listen_addr *a)
{
	struct stat sb;
	int fd, rc;

	if (lstat(a->path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode)) {
		mp_errmsg_set("cannot listen on 'unix:%s': it exists and is not a socket", a->path);
		return -EADDRINUSE;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)&a->sa, a->len);
	close(fd);
	if (rc == 0) {
		mp_errmsg_set("cannot listen on 'unix:%s': a server is listening there", a->path);
		return -EADDRINUSE;
	}
	if (errno == ECONNREFUSED && unlink(a->path) == 0)
		return 0;
	return 0;	/* bind says why */
}

int mp_listen_open(const struct mp_listen_addr *a, int backlog, int *fd)
{
	char shown[160];
	int s, one = 1, rc;

	if (a->family == AF_UNIX) {
		rc = clear_stale(a);
		if (rc)
			return rc;
	}
	s = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		rc = -errno;
		mp_errmsg_set("socket: %s", strerror(errno));
		return rc;
	}
	if (a->family != AF_UNIX)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (a->family == AF_INET6)	/* [::] is IPv6 only; 0.0.0.0 is the IPv4 one */
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(s, (const struct sockaddr *)&a->sa, a->len) < 0 || listen(s, backlog) < 0) {
		rc = -errno;
		if (a->family == AF_UNIX) {
			snprintf(shown, sizeof shown, "unix:%s", a->path);
		} else {
			char ip[INET6_ADDRSTRLEN];
			const struct sockaddr_in *in = (const void *)&a->sa;
			const struct sockaddr_in6 *in6 = (const void *)&a->sa;
			if (a->family == AF_INET)
				snprintf(shown, sizeof shown, "%s:%u",
					 inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip), ntohs(in->sin_port));
			else
				snprintf(shown, sizeof shown, "[%s]:%u",
					 inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip),
					 ntohs(in6->sin6_port));
		}
		mp_errmsg_set("cannot listen on '%s': %s", shown, strerror(-rc));
		close(s);
		return rc;
	}
	*fd = s;
	return 0;
}

char *mp_listen_local(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char ip[INET6_ADDRSTRLEN] = "?";

	buf[0] = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return buf;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)&ss;
		snprintf(buf, len, "unix:%.*s", (int)(sl - offsetof(struct sockaddr_un, sun_path)),
			 un->sun_path);
	}
	return buf;
}

void mp_listen_peer(int conn, const struct sockaddr *sa, socklen_t salen,
		    struct mp_spawn_peer *peer)
{
	memset(peer, 0, sizeof *peer);
	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		peer->family = AF_INET;
		peer->port = ntohs(in->sin_port);
		memcpy(peer->addr, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		peer->family = AF_INET6;
		peer->port = ntohs(in6->sin6_port);
		memcpy(peer->addr, &in6->sin6_addr, 16);
	} else if (sa->sa_family == AF_UNIX) {
		struct ucred cr;
		socklen_t cl = sizeof cr;
		peer->family = AF_UNIX;
		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
			int32_t pid = cr.pid;
			peer->uid = cr.uid;
			peer->port = 0;
			memcpy(peer->addr, &pid, sizeof pid);
			memcpy(peer->addr + 4, &cr.gid, sizeof cr.gid);
		}
	}
}

static const char *ip_of(const struct mp_spawn_peer *peer, char *ip, size_t len)
{
	if (inet_ntop(peer->family, peer->addr, ip, (socklen_t)len) == NULL)
		snprintf(ip, len, "?");
	return ip;
}

char *mp_listen_peer_str(const struct mp_spawn_peer *peer, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int32_t pid;

	if (peer->family == AF_INET)
		snprintf(buf, len, "%s:%u", ip_of(peer, ip, sizeof ip), peer->port);
	else if (peer->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip_of(peer, ip, sizeof ip), peer->port);
	else if (peer->family == AF_UNIX) {
		memcpy(&pid, peer->addr, sizeof pid);
		snprintf(buf, len, "uid %u pid %d", peer->uid, (int)pid);
	} else
		snprintf(buf, len, "-");
	return buf;
}

int mp_listen_env(int conn, const struct mp_spawn_peer *peer,
		  char env[MP_LISTEN_NENV][MP_LISTEN_ENVLEN])
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct mp_spawn_peer local;
	char ip[INET6_ADDRSTRLEN];
	int32_t pid;
	uint32_t gid;

	for (int i = 0; i < MP_LISTEN_NENV; i++)
		env[i][0] = 0;
	if (peer->family == AF_UNIX) {
		memcpy(&pid, peer->addr, sizeof pid);
		memcpy(&gid, peer->addr + 4, sizeof gid);
		snprintf(env[0], MP_LISTEN_ENVLEN, "PROTO=UNIX");
		snprintf(env[1], MP_LISTEN_ENVLEN, "UNIXREMOTEUID=%u", peer->uid);
		snprintf(env[2], MP_LISTEN_ENVLEN, "UNIXREMOTEGID=%u", gid);
		snprintf(env[3], MP_LISTEN_ENVLEN, "UNIXREMOTEPID=%d", (int)pid);
		return 4;
	}
	snprintf(env[0], MP_LISTEN_ENVLEN, "PROTO=TCP");
	snprintf(env[1], MP_LISTEN_ENVLEN, "TCPREMOTEIP=%s", ip_of(peer, ip, sizeof ip));
	snprintf(env[2], MP_LISTEN_ENVLEN, "TCPREMOTEPORT=%u", peer->port);
	if (getsockname(conn, (struct sockaddr *)&ss, &sl) < 0)
		return 3;
	mp_listen_peer(conn, (struct sockaddr *)&ss, sl, &local);
	snprintf(env[3], MP_LISTEN_ENVLEN, "TCPLOCALIP=%s", ip_of(&local, ip, sizeof ip));
	snprintf(env[4], MP_LISTEN_ENVLEN, "TCPLOCALPORT=%u", local.port);
	return 5;
}

int mp_listen_env_ours(const char *e)
{
	static const char *const names[] = { "PROTO=", "TCPREMOTE", "TCPLOCAL", "UNIXREMOTE",
					     "UNIXLOCAL" };

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strncmp(e, names[i], strlen(names[i])))
			return 1;
	return 0;
}
