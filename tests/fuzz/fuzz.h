/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz.h - what the fuzz targets share (tests/fuzz/harness.c).
 *
 * Each target defines LLVMFuzzerTestOneInput().  Built with --enable-fuzzing
 * it is a libFuzzer binary; otherwise harness.c supplies a main() that
 * runs the target once on each file named on the command line (and on each
 * file of a directory named there), so `make check` replays the corpus
 * with any compiler.
 *
 * The object targets write the input as the object file DIR/KIND.x of a
 * private store, open it through the library and, if it validates, run
 * the operations that read (and a few that change) a mapped object.  A
 * clean error is fine; a crash, a hang, a sanitizer report or an access
 * outside the object is a bug.  To make that last one visible, the
 * targets are linked with -Wl,--wrap=mmap,--wrap=munmap: the library's
 * shared file mappings become exact-size heap copies, whose bounds
 * AddressSanitizer checks (a real mapping is rounded up to pages, and
 * reading past the end of the object would go unseen).
 *
 * What the harness changes in the input before writing it (the header
 * layout is store.h's):
 *   - the robust mutex (bytes 152..191) is replaced by a fresh one: its
 *     bytes are glibc's, which answers garbage with EINVAL (the object is
 *     refused, 65: tested in tests/fuzz.bats) or, when they read as a
 *     mutex held by a thread that is gone, with a 10 s wait (70);
 *   - boot_id[0] even: the boot id becomes this boot's, so the owners,
 *     waiters and journals in the input are used as they are; odd: it is
 *     made different, so mp_obj_lock() runs the kind's reset();
 *   - boot_id[1] odd: a thread takes the mutex and exits, so the first
 *     lock gets EOWNERDEAD and runs the kind's repair();
 *   - boot_id[2] even: total_size is set to the input's size, so that
 *     truncated and extended objects reach the kind's validator.
 */
#ifndef MP_FUZZ_H
#define MP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "lib/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The private store: created on first use in $TMPDIR and removed at
 * exit, or the existing directory $FUZZ_STORE, kept. */
struct mp_store *fz_store(void);

/* Writes data as the object file KIND.x of the store, adjusted as told
 * above (also when it is too short to be an object: opening it must then
 * fail cleanly).  Returns 0, or 1 when $FUZZ_PREPARE_ONLY is set: the
 * target stops there, and tests/fuzz.bats runs the real tools on the
 * file. */
int fz_write_object(const char *kind, const uint8_t *data, size_t size);

/* Called after a successful open: makes the mutex owner-dead if the input
 * asks for it (see above). */
void fz_after_open(struct mp_obj *o, const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (free() it). */
char *fz_strndup(const uint8_t *data, size_t size);

#endif
