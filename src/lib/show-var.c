/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* show-var.c - info, ls and dump of variables; see show.h. */
#include "config.h"

#include "show.h"
#include "cli.h"
#include "clock.h"
#include "obj.h"
#include "parse.h"
#include "var.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of the value shown by text info and ls. */
#define PREVIEW	60

/* The length of the UTF-8 sequence at p (at most n bytes), 0 if it is not
 * one (overlong forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void mp_show_var_json_value(int is_set, const void *v, size_t len)
{
	const unsigned char *p = v;
	int64_t n;
	char num[24];

	if (!is_set) {
		fputs("null", stdout);
		return;
	}
	/* A canonical integer is a JSON number ("007" and "+1" stay strings:
	 * as numbers they would not print back the same). */
	if (!mp_var_parse_int(v, len, &n) && mp_var_format_int(n, num) == len &&
	    !memcmp(num, v, len)) {
		fwrite(v, 1, len, stdout);
		return;
	}
	putchar('"');
	for (size_t i = 0; i < len;) {
		size_t k = utf8_len(p + i, len - i);

		if (p[i] == '"' || p[i] == '\\') {
			printf("\\%c", p[i]);
		} else if (p[i] == '\n') {
			fputs("\\n", stdout);
		} else if (p[i] == '\t') {
			fputs("\\t", stdout);
		} else if (p[i] < 0x20 || p[i] == 0x7f || k == 0) {
			/* bytes that are not UTF-8 show as the code point of
			 * the same number: JSON has no other way */
			printf("\\u%04x", p[i]);
		} else {
			fwrite(p + i, 1, k, stdout);
			i += k;
			continue;
		}
		i++;
	}
	putchar('"');
}

/* The value for people: printable ASCII as it is, the rest escaped, cut
 * after max bytes. */
static void print_preview(FILE *f, const unsigned char *p, size_t len, size_t max)
{
	for (size_t i = 0; i < len && i < max; i++) {
		if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] == '\t')
			fputs("\\t", f);
		else if (p[i] == '\\')
			fputs("\\\\", f);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			fprintf(f, "\\x%02x", p[i]);
		else
			putc(p[i], f);
	}
	if (len > max)
		fputs("...", f);
}

void mp_show_var_text_value(const void *v, size_t len)
{
	print_preview(stdout, v, len, len);
}

static void json_time(const char *key, int64_t ns)
{
	char t[40];

	printf(",\"%s\":", key);
	if (ns)
		mp_json_str(stdout, mp_format_time(ns, t, sizeof t));
	else
		printf("null");
}

static void print_json(struct mp_obj *o, const struct mp_var_info *vi, const void *buf)
{
	printf("{\"name\":");
	mp_json_str(stdout, o->name);
	printf(",\"kind\":\"var\",\"path\":");
	mp_json_str(stdout, mp_obj_path(o));
	printf(",\"state\":\"%s\",\"set\":%s,\"value\":", vi->st.is_set ? "set" : "unset",
	       vi->st.is_set ? "true" : "false");
	mp_show_var_json_value(vi->st.is_set != 0, buf, vi->st.len);
	printf(",\"length\":%llu,\"max_size\":%llu,\"version\":%llu",
	       (unsigned long long)vi->st.len, (unsigned long long)vi->max_size,
	       (unsigned long long)vi->st.version);
	json_time("changed", vi->st.set_ns);
	printf(",\"waiters\":%u,\"generation\":%llu", vi->nwaiting,
	       (unsigned long long)vi->generation);
	json_time("created", vi->created_ns);
	putchar('}');
}

static void print_text(struct mp_obj *o, const struct mp_var_info *vi, const void *buf)
{
	int64_t rt = mp_realtime_ns();
	char t[40], d[32];

	printf("name:     %s\n", o->name);
	printf("kind:     var\n");
	if (vi->st.is_set) {
		printf("value:    ");
		print_preview(stdout, buf, vi->st.len, PREVIEW);
		printf("\nlength:   %llu bytes (at most %llu)\n", (unsigned long long)vi->st.len,
		       (unsigned long long)vi->max_size);
	} else {
		printf("value:    (unset)\n");
		printf("length:   at most %llu bytes\n", (unsigned long long)vi->max_size);
	}
	printf("version:  %llu", (unsigned long long)vi->st.version);
	if (vi->st.set_ns)
		printf(", changed %s (%s ago)", mp_format_time(vi->st.set_ns, t, sizeof t),
		       mp_format_duration(mp_ns_diff(rt, vi->st.set_ns), d, sizeof d));
	printf("\nwaiters:  %u\n", vi->nwaiting);
	printf("created:  %s\n", mp_format_time(vi->created_ns, t, sizeof t));
	printf("file:     %s\n", mp_obj_path(o));
}

/* Reads o's state and value into a buffer the caller frees. */
static int read_info(struct mp_obj *o, struct mp_var_info *vi, void **buf)
{
	size_t cap = (size_t)mp_var_max_size(o);
	int rc;

	*buf = malloc(cap ? cap : 1);
	if (!*buf)
		return -ENOMEM;
	rc = mp_var_info(o, vi, *buf, cap);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

int mp_show_var_info(struct mp_obj *o, int json)
{
	struct mp_var_info vi;
	void *buf;
	int rc = read_info(o, &vi, &buf);

	if (rc < 0)
		return rc;
	if (json)
		print_json(o, &vi, buf);
	else
		print_text(o, &vi, buf);
	free(buf);
	return 0;
}

int mp_show_var_row(struct mp_obj *o, int json, const char *lead)
{
	struct mp_var_info vi;
	void *buf;
	int rc = read_info(o, &vi, &buf);

	if (rc < 0)
		return rc;
	(void)json;	/* the text of ls is mp_show_table's */
	fputs(lead, stdout);
	print_json(o, &vi, buf);
	free(buf);
	return 0;
}

int mp_show_var_sum(struct mp_obj *o, struct mp_show_sum *s)
{
	struct mp_var_info vi;
	void *buf;
	int rc = read_info(o, &vi, &buf);

	if (rc < 0)
		return rc;
	if (!vi.st.is_set) {
		snprintf(s->state, sizeof s->state, "unset");
	} else {
		/* the value's first bytes, as text info shows them */
		char *p = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&p, &len);

		if (f) {
			print_preview(f, buf, vi.st.len, 30);
			fclose(f);
			snprintf(s->state, sizeof s->state, "= %s", p ? p : "");
			free(p);
		}
	}
	s->waiters = vi.nwaiting;
	s->created_ns = vi.created_ns;
	s->used_ns = vi.st.set_ns;
	s->in_use = vi.nwaiting != 0;
	free(buf);
	return 0;
}
