/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-spawn - arbitrary bytes as a spawn group's record: open +
 * validate, then status (the snapshot and everything status shows of it),
 * wait -n, a worker's heartbeat and the keeper's request check.  Nothing
 * that signals a process is called: the pids are the fuzzer's.  See
 * fuzz.h. */
#include "config.h"

#include "fuzz.h"
#include "lib/show.h"
#include "lib/spawn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_store *s = fz_store();
	struct mp_spawn_snap snap;
	enum mp_spawn_reason reason;
	struct mp_obj o;
	uint32_t seen = 0;
	int status, sig;

	if (fz_write_object("spawn", data, size))
		return 0;
	if (mp_spawn_open(s, "x", &o) != 0)
		return 0;
	fz_after_open(&o, data, size);
	if (mp_spawn_snapshot(&o, &snap) == 0) {
		(void)mp_spawn_gstate_name(&snap);
		(void)mp_spawn_reason_name(snap.g.reason);
		for (uint32_t i = 0; i < snap.g.nworkers; i++) {
			(void)mp_spawn_wstate_name(snap.w[i].state);
			(void)mp_spawn_worker_stale(&snap, i);
		}
		mp_spawn_snap_free(&snap);
	}
	mp_spawn_wait(&o, 0, 1, &status);
	mp_spawn_take_request(&o, &seen, &sig, &reason);
	mp_spawn_beat(&o, mp_spawn_run_id(&o), 0);
	mp_spawn_count_message(&o, 0, 1);
	mp_show_spawn_info(&o, 0);
	mp_show_spawn_info(&o, 1);
	mp_show_spawn_row(&o, 0, "");
	mp_show_spawn_row(&o, 1, ",");
	mp_obj_close(&o);
	return 0;
}
