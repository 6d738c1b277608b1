/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* t-store - drives src/lib/store.c and obj.c where the tools cannot.
 *   t-store reboot NAME       makes lock NAME look as if it came from
 *                             another boot, with its mutex held by a thread
 *                             of that boot (a stale TID)
 *   t-store old-boot NAME     changes only the boot id of lock NAME's header
 *   t-store other-host NAME   makes lock NAME's header look as if another
 *                             host (machine id and boot id) last used it
 *   t-store fs-table          prints "shared NAME" or "local NAME" for the
 *                             filesystem types a store may be on
 *   t-store die-locked NAME   a child takes lock NAME's internal mutex and
 *                             is SIGKILLed holding it
 *   t-store fake-owner NAME PID DELTA
 *                             takes lock NAME for PID with its start time
 *                             shifted by DELTA ticks (DELTA 0: the real one)
 *   t-store fill-waiters NAME PID
 *                             fills every free entry of lock NAME's waiting
 *                             line with process PID, as if that many
 *                             processes waited
 *   t-store stop-locked KIND NAME
 *                             takes the internal mutex of object NAME of
 *                             KIND (lock, sem, event, queue, spawn, var),
 *                             prints "stopped" and stops itself (SIGSTOP)
 *                             holding it; unlocks when continued
 *   t-store stuck-mutex KIND NAME
 *                             makes the internal mutex of NAME look held by
 *                             pid 1 (alive, never stopped, never ours)
 * Uses $MP_DIR as the store. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mutex-word.h"
#include "lib/err.h"
#include "lib/event.h"
#include "lib/gate.h"
#include "lib/lock.h"
#include "lib/obj.h"
#include "lib/owner.h"
#include "lib/queue.h"
#include "lib/sem.h"
#include "lib/spawn.h"
#include "lib/var.h"
#include "lib/store.h"

static void open_or_die(struct mp_store *s, struct mp_obj *o, const char *name)
{
	int rc = mp_store_open(s, NULL);
	if (!rc)
		rc = mp_lock_open(s, name, 1, o);
	if (rc) {
		fprintf(stderr, "t-store: %s (%s)\n", strerror(-rc), mp_errmsg());
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct mp_store s;
	struct mp_obj o;

	if (argc == 3 && !strcmp(argv[1], "reboot")) {
		open_or_die(&s, &o, argv[2]);
		memset(o.hdr->boot_id, 0xab, sizeof o.hdr->boot_id);
		/* the mutex's owner word holds a TID: pid 1 is alive and
		 * never ours, so without re-initialisation we would block. */
		*mutex_owner_word(&o.hdr->mu) = 1;
		mp_obj_close(&o);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "old-boot")) {
		open_or_die(&s, &o, argv[2]);
		memset(o.hdr->boot_id, 0xab, sizeof o.hdr->boot_id);
		mp_obj_close(&o);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "other-host")) {
		open_or_die(&s, &o, argv[2]);
		memset(o.hdr->boot_id, 0xab, sizeof o.hdr->boot_id);
		memset(o.hdr->machine_id, 0xcd, sizeof o.hdr->machine_id);
		mp_obj_close(&o);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "fs-table")) {
		static const struct {
			unsigned long magic;
			const char *name;
		} fs[] = {
			{ 0x6969, "nfs" }, { 0xff534d42, "cifs" }, { 0xfe534d42, "smb2" },
			{ 0x517b, "smb" }, { 0x00c36400, "ceph" }, { 0x0bd00bd0, "lustre" },
			{ 0x01021997, "9p" }, { 0x65735546, "fuse" }, { 0x6b414653, "afs" },
			{ 0x01161970, "gfs2" }, { 0x7461636f, "ocfs2" }, { 0x73757245, "coda" },
			{ 0x01021994, "tmpfs" }, { 0xef53, "ext4" }, { 0x58465342, "xfs" },
			{ 0x9123683e, "btrfs" },
		};

		for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) {
			const char *n = mp_store_shared_fs(fs[i].magic);

			if (n && strcmp(n, fs[i].name))
				printf("wrong %s (%s)\n", fs[i].name, n);
			else
				printf("%s %s\n", n ? "shared" : "local", fs[i].name);
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "die-locked")) {
		pid_t pid;
		int st;

		open_or_die(&s, &o, argv[2]);
		pid = fork();
		if (pid == 0) {
			if (mp_obj_lock(&o))
				_exit(3);
			raise(SIGKILL);
			_exit(4);
		}
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			return 2;
		puts("killed holding the mutex");
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "fake-owner")) {
		struct mp_gate_req r = { .weight = MP_LOCK_MAX_SHARED, .nonblock = 1 };
		uint64_t token;
		int idx, rc;

		open_or_die(&s, &o, argv[2]);
		if (mp_owner_of(atoi(argv[3]), &r.owner))
			return 2;
		r.owner.start += strtoull(argv[4], NULL, 10);
		rc = mp_gate_acquire(&o, &r, &token, &idx);
		if (rc) {
			fprintf(stderr, "t-store: %s\n", strerror(-rc));
			return 1;
		}
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "fill-waiters")) {
		struct mp_gate *g;
		struct mp_waiter *w;

		open_or_die(&s, &o, argv[2]);
		g = o.body;
		w = (struct mp_waiter *)((char *)o.body + sizeof *g +
					 g->nholds * sizeof(struct mp_hold));
		if (mp_obj_lock(&o))
			return 2;
		for (uint32_t i = 0; i < g->nwaiters; i++) {
			if (w[i].ticket)
				continue;
			if (mp_owner_of(atoi(argv[3]), &w[i].who))
				return 2;
			w[i].weight = 1;
			w[i].ticket = ++g->last_ticket;
		}
		mp_obj_unlock(&o);
		return 0;
	}
	if (argc == 4 && (!strcmp(argv[1], "stop-locked") || !strcmp(argv[1], "stuck-mutex"))) {
		static const struct mp_kind *kinds[] = { &mp_lock_kind, &mp_sem_kind,
			&mp_event_kind, &mp_queue_kind, &mp_spawn_kind, &mp_var_kind };
		const struct mp_kind *k = NULL;
		int rc;

		for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
			if (!strcmp(kinds[i]->name, argv[2]))
				k = kinds[i];
		if (!k)
			return 2;
		rc = mp_store_open(&s, NULL);
		if (!rc)
			rc = mp_obj_open(&s, k, argv[3], 0, NULL, NULL, NULL, &o);
		if (!rc && !strcmp(argv[1], "stuck-mutex")) {
			*mutex_owner_word(&o.hdr->mu) = 1;
			return 0;
		}
		if (!rc)
			rc = mp_obj_lock(&o);
		if (rc) {
			fprintf(stderr, "t-store: %s (%s)\n", strerror(-rc), mp_errmsg());
			return 2;
		}
		puts("stopped");
		fflush(stdout);
		raise(SIGSTOP);
		mp_obj_unlock(&o);
		return 0;
	}
	fprintf(stderr, "usage: t-store reboot|die-locked NAME | fake-owner NAME PID DELTA | "
		"stop-locked|stuck-mutex KIND NAME | fill-waiters NAME PID\n");
	return 2;
}
