/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spawn.h - the spawn kind: the status table of a group of workers.
 *
 * One object per group (spawn.NAME).  The supervisor of the group (the
 * "keeper", see supervise.h) is its only writer, apart from two words a
 * worker may touch itself: its heartbeat and, in pool mode, its message
 * counters; `mpspawn kill` posts a request (kill_seq, kill_sig) and
 * signals the keeper, which does the killing.
 *
 * The table is a record, not a lock: nothing is held, so nothing needs to
 * be taken back from the dead.  Each field is meaningful on its own and
 * written by one store, so a writer killed at any instruction leaves an
 * older but readable state; what may be stale is judged by the reader:
 * a group still marked running whose front and keeper are both dead was
 * killed (its workers died with them, see supervise.h) and is shown as
 * "lost".
 *
 * The number of workers fixes the size of the object.  Starting a group
 * under a name whose last group has ended reuses the object (or replaces
 * it when the size differs); `run` changes with every reuse, so a late
 * `beat` of an old worker never stamps the new group.
 *
 * Functions return 0 or -errno (the reason in mp_errmsg()), never print
 * or exit, and are not async-signal-safe.
 */
#ifndef MP_SPAWN_H
#define MP_SPAWN_H

#include <signal.h>
#include <stdint.h>

#include "owner.h"
#include "store.h"

#define MP_SPAWN_MAX_WORKERS	65536
#define MP_SPAWN_CMD_MAX	256

enum mp_spawn_gstate {
	MP_SPAWN_G_RUNNING = 1,
	MP_SPAWN_G_STOPPING = 2,	/* signals sent, waiting for the workers */
	MP_SPAWN_G_DONE = 3,
};

/* Why a group ended (or is stopping). */
enum mp_spawn_reason {
	MP_SPAWN_R_NONE = 0,		/* all workers ended by themselves */
	MP_SPAWN_R_FAILED = 1,		/* --fail-fast after a failure */
	MP_SPAWN_R_SIGNAL = 2,		/* a signal to mpspawn or `mpspawn kill` */
	MP_SPAWN_R_TIMEOUT = 3,		/* --timeout */
	MP_SPAWN_R_CALLER = 4,		/* --daemon: the calling process exited */
	MP_SPAWN_R_LOST = 5,		/* the supervisor was killed */
	MP_SPAWN_R_FRONT = 6,		/* mpspawn (the front) was killed */
};

enum mp_spawn_wstate {
	MP_SPAWN_W_WAITING = 0,		/* not started yet */
	MP_SPAWN_W_RUNNING = 1,
	MP_SPAWN_W_RESTARTING = 2,	/* failed; starts again after a delay */
	MP_SPAWN_W_EXITED = 3,		/* status is its exit status */
	MP_SPAWN_W_KILLED = 4,		/* status is 128 + the signal */
	MP_SPAWN_W_NOSTART = 5,		/* could not be started (126, 127, 71) */
};

#define MP_SPAWN_F_DAEMON	0x01u
#define MP_SPAWN_F_TAG		0x02u
#define MP_SPAWN_F_POOL		0x04u
#define MP_SPAWN_F_RESTART	0x08u
#define MP_SPAWN_F_FAILFAST	0x10u
#define MP_SPAWN_F_UNNAMED	0x20u	/* spawn-PID: removed when it ends */
#define MP_SPAWN_F_LISTEN	0x40u	/* --listen: a worker is a connection */
#define MP_SPAWN_F_ORDER	0x80u	/* --keep-order */

/* --listen: who is at the other end of a connection. */
struct mp_spawn_peer {
	uint16_t family;	/* AF_INET, AF_INET6 or AF_UNIX; 0: none */
	uint16_t port;		/* TCP: the peer's port */
	uint32_t uid;		/* AF_UNIX: the peer's uid (SO_PEERCRED) */
	uint8_t addr[16];	/* AF_INET: 4 bytes, AF_INET6: 16, AF_UNIX: pid (int32) */
};

struct mp_spawn_worker {
	int32_t pid;		/* current (or last) process; 0: never started */
	uint32_t state;		/* enum mp_spawn_wstate */
	uint64_t start_ticks;	/* start time of pid (its identity) */
	int64_t started_ns;	/* CLOCK_REALTIME of the current start */
	int64_t started_mono_ns;	/* CLOCK_MONOTONIC of the current start */
	int64_t ended_ns;	/* CLOCK_REALTIME of the last end; 0: none */
	int32_t status;		/* last exit status (128+N: signal N); -1: none */
	uint32_t restarts;
	int64_t beat_ns;	/* CLOCK_MONOTONIC of the last `beat`; 0: never */
	uint64_t done;		/* pool: messages processed */
	uint64_t failed;	/* pool: of which the command failed;
				 * --listen: connections of the slot, failed */
	uint64_t conn;		/* --listen: number of the current connection */
	struct mp_spawn_peer peer;	/* --listen: its peer */
	uint64_t reserved[2];
};

struct mp_spawn_group {
	uint32_t nworkers;	/* entries in w[], fixed at creation */
	uint32_t state;		/* enum mp_spawn_gstate */
	uint64_t run;		/* changes with every group that uses the object */
	struct mp_owner front;	/* the mpspawn process that was started */
	struct mp_owner keeper;	/* the supervisor: parent of the workers */
	struct mp_owner caller;	/* --daemon: the group ends when it exits */
	int64_t started_ns;	/* CLOCK_REALTIME */
	int64_t ended_ns;	/* CLOCK_REALTIME; 0 while running */
	int32_t status;		/* the group's exit status; -1 while running */
	uint32_t flags;		/* MP_SPAWN_F_* */
	uint32_t reason;	/* enum mp_spawn_reason */
	int32_t end_sig;	/* the signal that ended it (MP_SPAWN_R_SIGNAL) */
	int64_t heartbeat_ns;	/* --heartbeat; 0: none */
	int64_t timeout_ns;	/* --timeout; 0: none */
	uint32_t kill_seq;	/* bumped by every `mpspawn kill` request */
	int32_t kill_sig;	/* the signal of the last request */
	uint32_t kill_reason;	/* enum mp_spawn_reason of the last request */
	uint32_t max_restarts;
	int32_t msg_status;	/* pool: status of the first failed message; 0: none */
	uint32_t pad;
	uint64_t reserved[7];
	char command[MP_SPAWN_CMD_MAX];	/* for display; NUL-terminated */
	union {
		char queue[MP_NAME_MAX + 8];	/* pool: the queue's name */
		char listen[MP_NAME_MAX + 8];	/* --listen: the address */
	};
	/* struct mp_spawn_worker w[nworkers]; */
};

extern const struct mp_kind mp_spawn_kind;

/* Body size of a group of n workers. */
size_t mp_spawn_size(uint32_t n);

/* What a new group records about itself. */
struct mp_spawn_params {
	uint32_t nworkers;
	uint32_t flags;
	uint32_t max_restarts;
	int64_t heartbeat_ns, timeout_ns;
	struct mp_owner front;
	struct mp_owner caller;
	const char *command;	/* shown by status; truncated */
	const char *queue;	/* NULL unless pool mode */
	const char *listen;	/* --listen: the address, for display */
};

/* Makes object NAME the record of a new group: creates it, or reuses it
 * when the group that had the name has ended (a group is over when it is
 * marked done, or when its front and keeper are both dead).  Returns 0
 * with o open, -EBUSY (a live group has that name; *busy_pid is its
 * front), or -errno. */
int mp_spawn_claim(struct mp_store *s, const char *name, const struct mp_spawn_params *p,
		   struct mp_obj *o, pid_t *busy_pid);

/* Opens the record of group NAME (never creates).  0 or -errno. */
int mp_spawn_open(struct mp_store *s, const char *name, struct mp_obj *o);

/* The run id of the record (what MP_SPAWN_RUN carries). */
uint64_t mp_spawn_run_id(struct mp_obj *o);

/* ---- written by the supervisor ---- */

/* Records who the front or the keeper is (after a fork). */
int mp_spawn_set_front(struct mp_obj *o, const struct mp_owner *front);
int mp_spawn_set_keeper(struct mp_obj *o, const struct mp_owner *keeper);

/* Worker id has started as pid (start ticks from /proc, 0 if unknown). */
void mp_spawn_worker_started(struct mp_obj *o, uint32_t id, pid_t pid, uint64_t start_ticks);

/* --listen: slot id (started) serves connection number conn from peer. */
void mp_spawn_conn_started(struct mp_obj *o, uint32_t id, uint64_t conn,
			   const struct mp_spawn_peer *peer);

/* Worker id has ended with status (128+N for signal N) in state
 * (MP_SPAWN_W_EXITED, _KILLED, _NOSTART or _RESTARTING). */
void mp_spawn_worker_ended(struct mp_obj *o, uint32_t id, int status, enum mp_spawn_wstate state);

/* The group is stopping (signals sent) for reason. */
void mp_spawn_stopping(struct mp_obj *o, enum mp_spawn_reason reason, int sig);

/* The group is over: final status and reason.  Wakes `wait`. */
void mp_spawn_finish(struct mp_obj *o, int status, enum mp_spawn_reason reason, int sig);

/* Reads a request posted by mp_spawn_kill_request() since *seen: returns 1
 * (and the signal and reason) if there is a new one, else 0. */
int mp_spawn_take_request(struct mp_obj *o, uint32_t *seen, int *sig, enum mp_spawn_reason *reason);

/* ---- used by the workers ---- */

/* Stamps worker id's heartbeat, if the record still belongs to run.
 * Returns 0, -ESTALE (the group is over or the name was reused), -ERANGE
 * (no such worker id) or -errno. */
int mp_spawn_beat(struct mp_obj *o, uint64_t run, uint32_t id);

/* Removes the records of unnamed groups (MP_SPAWN_F_UNNAMED) that are
 * over: their mpspawn was killed before it could remove them.  The
 * shared-memory store's only: on a Redis store such a record expires
 * some leases after its supervisor stopped renewing it. */
void mp_spawn_sweep_unnamed(struct mp_store *s);

/* Pool mode: counts one message of worker id, which the command ended with
 * status (0: success); the first failure's status is the group's. */
void mp_spawn_count_message(struct mp_obj *o, uint32_t id, int status);

/* ---- read by the verbs ---- */

struct mp_spawn_snap {
	struct mp_spawn_group g;	/* strings NUL-terminated */
	struct mp_spawn_worker *w;	/* g.nworkers entries (malloc'd) */
	int lost;		/* marked running, but front and keeper are dead */
	int foreign;		/* marked running by a supervisor of another pid
				 * namespace: its pids are not ours, its
				 * liveness cannot be judged from here */
	int stale;		/* --heartbeat: a running worker has not beaten in time */
	uint32_t nrunning;	/* workers running or about to restart */
	int64_t now_ns, now_mono_ns;	/* when the snapshot was taken */
	char host[160];		/* Redis store: the host id of the group's
				 * supervisor; "" on the local store */
	char hostname[64];	/* Redis store: its name (MP_HOST_ID, else
				 * gethostname), for display */
	int elsewhere;		/* that host is not this one: its pids are
				 * not ours, its liveness is its lease's */
};

/* Copies the record under its lock and judges it.  Returns 0 or -errno
 * (-EBADMSG for a state no writer makes).  Free with mp_spawn_snap_free. */
int mp_spawn_snapshot(struct mp_obj *o, struct mp_spawn_snap *s);
void mp_spawn_snap_free(struct mp_spawn_snap *s);

/* For a store's snapshot: counts s->nrunning and sets s->stale from the
 * copied record (s->lost and the clocks already set). */
void mp_spawn_snap_judge(struct mp_spawn_snap *s);

/* A new run id (never 0). */
uint64_t mp_spawn_new_run_id(void);

/* Worker i of a snapshot has not beaten in time (--heartbeat). */
int mp_spawn_worker_stale(const struct mp_spawn_snap *s, uint32_t i);

/* Names of states and reasons, for status. */
const char *mp_spawn_gstate_name(const struct mp_spawn_snap *s);
const char *mp_spawn_wstate_name(uint32_t state);
const char *mp_spawn_reason_name(uint32_t reason);

/* Waits until the group is over (done, or lost).  Returns 0 with *status
 * the group's exit status, -ETIMEDOUT, -EAGAIN (nonblock and running),
 * -EXDEV (running, started in another pid namespace: see mp_spawn_kill_request),
 * -EINTR, -EIDRM (removed meanwhile) or -errno. */
int mp_spawn_wait(struct mp_obj *o, int64_t deadline_ns, int nonblock, int *status);

/* Asks the keeper of a running group to send sig to every worker (and,
 * for a signal that ends the group (mp_spawn_sig_ends_group), to end it:
 * no restarts, SIGKILL after --kill-after).  Returns 0, -ESRCH (the group
 * is not running), -EXDEV (its supervisor was started in another pid
 * namespace: its pid names another process here, or none; nothing is
 * signalled) or -errno. */
int mp_spawn_kill_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason);

/* Posts a request for the keeper without signalling it, even when the
 * record was removed (the front, which signals its child itself). */
void mp_spawn_post_request(struct mp_obj *o, int sig, enum mp_spawn_reason reason);

/* The signal the keeper takes requests on. */
#define MP_SPAWN_SIG_REQUEST	SIGUSR1

/* Nonzero for the signals that end a group when sent with kill: TERM,
 * INT, HUP, QUIT and KILL.  Others (USR1, WINCH, STOP, CONT...) are only
 * passed on, so a worker may use them for itself (reload, status). */
int mp_spawn_sig_ends_group(int sig);


/* The operations above, as a store implements them (store.h: the seam).
 * The functions above call the store's; mp_shm_spawn_ops is the
 * shared-memory store's. */
struct mp_spawn_ops {
	int (*claim)(struct mp_store *s, const char *name, const struct mp_spawn_params *p, struct mp_obj *o, pid_t *busy_pid);
	int (*open)(struct mp_store *s, const char *name, struct mp_obj *o);
	uint64_t (*run_id)(struct mp_obj *o);
	int (*set_front)(struct mp_obj *o, const struct mp_owner *front);
	int (*set_keeper)(struct mp_obj *o, const struct mp_owner *keeper);
	void (*worker_started)(struct mp_obj *o, uint32_t id, pid_t pid, uint64_t start_ticks);
	void (*conn_started)(struct mp_obj *o, uint32_t id, uint64_t conn, const struct mp_spawn_peer *peer);
	void (*worker_ended)(struct mp_obj *o, uint32_t id, int status, enum mp_spawn_wstate state);
	void (*stopping)(struct mp_obj *o, enum mp_spawn_reason reason, int sig);
	void (*finish)(struct mp_obj *o, int status, enum mp_spawn_reason reason, int sig);
	int (*take_request)(struct mp_obj *o, uint32_t *seen, int *sig, enum mp_spawn_reason *reason);
	int (*beat)(struct mp_obj *o, uint64_t run, uint32_t id);
	void (*count_message)(struct mp_obj *o, uint32_t id, int status);
	int (*snapshot)(struct mp_obj *o, struct mp_spawn_snap *s);
	int (*wait)(struct mp_obj *o, int64_t deadline_ns, int nonblock, int *status);
	int (*kill_request)(struct mp_obj *o, int sig, enum mp_spawn_reason reason);
	void (*post_request)(struct mp_obj *o, int sig, enum mp_spawn_reason reason);
};

extern const struct mp_spawn_ops mp_shm_spawn_ops;

#endif
