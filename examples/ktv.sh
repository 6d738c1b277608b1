#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2016 # '$1' and '$MP_WORKER_ID' are for the sh -c that runs them
# ktv.sh - the classic multiprocessing.Semaphore example with mpsem: a KTV
# (karaoke) room has 3 seats and 10 people want to sing.  Never more than
# 3 are inside at once, and everybody gets in.
#
# The Python original:
#
#     def sing(sem, person):
#         with sem:
#             print(f"person {person} enters"); time.sleep(1)
#             print(f"person {person} leaves")
#     sem = multiprocessing.Semaphore(3)
#     ps = [Process(target=sing, args=(sem, i)) for i in range(1, 11)]
#     for p in ps: p.start()
#     for p in ps: p.join()
#
# Each person is a separate process; `mpsem run ktv -j 3` holds one of the
# room's 3 seats while the person sings.  MP_SEM_SLOT tells which seat
# (0, 1 or 2): no two people inside ever have the same one.  If a singer
# is killed, even with kill -9, the seat is free again for the next in
# line at once.  Set KTV_SONG to change the length of a song (seconds).
set -eu

room=ktv-$$			# a fresh room for this run
song=${KTV_SONG:-1}

for person in 1 2 3 4 5 6 7 8 9 10; do
	mpsem run "$room" -j 3 -- sh -c '
		echo "person $1 enters, seat $MP_SEM_SLOT"
		sleep "$2"
		echo "person $1 leaves seat $MP_SEM_SLOT"' sh "$person" "$song" &
done
wait				# join: everybody has sung

# The same with mpsem's own background mode, then waiting for the room
# to empty (GNU parallel's sem --wait):
#
#     for person in ...; do mpsem run --bg "$room" -j 3 -- ./sing "$person"; done
#     mpsem drain "$room"

mpsem rm "$room"
