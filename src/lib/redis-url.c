/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-url.c - the URL of a Redis store: redis://[USER:PASSWORD@]HOST
 * [:PORT][/DB][?prefix=P] or unix:///PATH[?db=N&prefix=P]; see redis.h. */
#include "config.h"

#include "redis.h"
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad_url(const char *url, const char *why)
{
	const char *at = strrchr(url, '@'), *scheme = strstr(url, "://");
	int head = scheme ? (int)(scheme - url) + 3 : 0;

	/* never the password: the part before '@' is shown as *** */
	if (at && scheme && at > scheme)
		mp_errmsg_set("store '%.*s***%.200s': %s (redis://[USER:PASSWORD@]HOST[:PORT][/DB]"
			      "[?prefix=P] or unix:///PATH[?db=N&prefix=P])", head, url, at, why);
	else
		mp_errmsg_set("store '%.200s': %s (redis://[USER:PASSWORD@]HOST[:PORT][/DB]"
			      "[?prefix=P] or unix:///PATH[?db=N&prefix=P])", url, why);
	return -EINVAL;
}

/* ?db=N&prefix=P */
static int parse_query(struct mp_redis *r, const char *url, char *q)
{
	for (char *kv = strtok(q, "&"); kv; kv = strtok(NULL, "&")) {
		char *v = strchr(kv, '='), *end;

		if (!v)
			return bad_url(url, "a query part without '='");
		*v++ = 0;
		if (!strcmp(kv, "db")) {
			errno = 0;
			r->db = (int)strtol(v, &end, 10);
			if (errno || *end || end == v || r->db < 0)
				return bad_url(url, "db is not a number");
		} else if (!strcmp(kv, "prefix")) {
			if (!*v || strlen(v) >= sizeof r->prefix || strpbrk(v, "{}"))
				return bad_url(url, "prefix must be 1-63 characters without { or }");
			strcpy(r->prefix, v);
		} else {
			return bad_url(url, "unknown query parameter");
		}
	}
	return 0;
}

/* redis://[USER:PASSWORD@]HOST[:PORT][/DB] — user and password go to r,
 * never to r->url. */
static int parse_tcp(struct mp_redis *r, const char *url, char *rest)
{
	char *at = strrchr(rest, '@'), *slash, *colon, *end;

	if (at) {
		char *c = strchr(rest, ':');
		*at = 0;
		if (c && c < at) {
			*c = 0;
			snprintf(r->pass, sizeof r->pass, "%s", c + 1);
		} else {
			snprintf(r->pass, sizeof r->pass, "%.255s", rest);
			rest[0] = 0;
		}
		snprintf(r->user, sizeof r->user, "%.63s", rest);
		rest = at + 1;
	}
	slash = strchr(rest, '/');
	if (slash) {
		*slash++ = 0;
		if (*slash) {
			errno = 0;
			r->db = (int)strtol(slash, &end, 10);
			if (errno || *end || r->db < 0)
				return bad_url(url, "the database is not a number");
		}
	}
	r->port = 6379;
	colon = strrchr(rest, ':');
	if (colon && !strchr(colon, ']')) {
		*colon++ = 0;
		errno = 0;
		r->port = (int)strtol(colon, &end, 10);
		if (errno || *end || r->port <= 0 || r->port > 65535)
			return bad_url(url, "the port is not a number");
	}
	if (rest[0] == '[') {		/* [::1] */
		size_t n = strlen(rest);
		if (n < 3 || rest[n - 1] != ']')
			return bad_url(url, "a bad IPv6 address");
		rest[n - 1] = 0;
		rest++;
	}
	if (!*rest || strlen(rest) >= sizeof r->host)
		return bad_url(url, "no host");
	strcpy(r->host, rest);
	snprintf(r->url, sizeof r->url, "redis://%s%s%s:%d/%d", r->user[0] || r->pass[0] ? "***@" : "",
		 strchr(r->host, ':') ? "[" : "", r->host, r->port, r->db);
	if (strchr(r->host, ':'))
		snprintf(r->url, sizeof r->url, "redis://%s[%s]:%d/%d",
			 r->user[0] || r->pass[0] ? "***@" : "", r->host, r->port, r->db);
	return 0;
}

int mp_redis_parse_url(struct mp_redis *r, const char *url)
{
	char buf[1024], *q;
	int rc;

	if (strlen(url) >= sizeof buf)
		return bad_url(url, "too long");
	strcpy(buf, url);
	strcpy(r->prefix, "mptools");
	q = strchr(buf, '?');
	if (q)
		*q++ = 0;
	if (!strncmp(buf, "rediss://", 9))
		return bad_url(url, "TLS is not supported by this build (hiredis without TLS): "
			       "use a Unix socket or a tunnel");
	if (!strncmp(buf, "unix://", 7)) {
		if (buf[7] != '/' || strlen(buf + 7) >= sizeof r->path)
			return bad_url(url, "unix:// needs an absolute path");
		strcpy(r->path, buf + 7);
		rc = 0;
	} else {
		rc = parse_tcp(r, url, buf + 8);
	}
	if (!rc && q)
		rc = parse_query(r, url, q);
	if (!rc && r->path[0])
		snprintf(r->url, sizeof r->url, "unix://%s?db=%d", r->path, r->db);
	if (!rc) {
		size_t n = strlen(r->url);
		snprintf(r->url + n, sizeof r->url - n, "%sprefix=%s", r->path[0] ? "&" : "?",
			 r->prefix);
	}
	/* A password from the environment does not show in ps. */
	if (!rc && !r->pass[0] && getenv("MP_REDIS_PASSWORD"))
		snprintf(r->pass, sizeof r->pass, "%.255s", getenv("MP_REDIS_PASSWORD"));
	return rc;
}
