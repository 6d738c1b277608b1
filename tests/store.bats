#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# The store: directory checks, atomic objects, validation (src/lib/store.c, src/lib/obj.c).
load helpers/common

@test "the default store is created mode 0700 in /dev/shm" {
	unset MP_DIR
	run -0 mplock create "t$$-$BATS_TEST_NUMBER"
	d=/dev/shm/mptools-$(id -u)
	[ "$(stat -c %a "$d")" = 700 ]
	[ "$(stat -c %u "$d")" = "$(id -u)" ]
	mplock rm "t$$-$BATS_TEST_NUMBER"
}

@test "a store directory that is not the user's own 0700 directory is refused: 69" {
	# The check for the default store is the same code with MP_DIR unset;
	# here a chosen directory writable by everybody must be refused, as
	# a store unavailable (DESIGN.md §4; tests/common.bats for every tool).
	mkdir -m 0777 "$BATS_TEST_TMPDIR/open"
	chmod 0777 "$BATS_TEST_TMPDIR/open"
	run -69 --separate-stderr mplock --dir "$BATS_TEST_TMPDIR/open" create x
	[[ $stderr == *"writable by everybody"* ]]
}

@test "a default store squatted by another user or with the wrong mode is refused: 69" {
	[ "$(id -u)" = 0 ] || skip "needs root to fake another uid"
	uid=$((40000 + RANDOM % 1000))
	tools_for_uid "$uid"
	d=/dev/shm/mptools-$uid
	rm -rf "$d"
	mkdir -m 0755 "$d"
	run -69 --separate-stderr setpriv --reuid "$uid" --regid "$uid" --clear-groups \
		env -u MP_DIR "$OTHER_BIN/mplock" create x
	[[ $stderr == *"not a directory owned by uid $uid with mode 0700"* ]]
	rm -rf "$d"
	ln -s /tmp "$d"
	run -69 setpriv --reuid "$uid" --regid "$uid" --clear-groups \
		env -u MP_DIR "$OTHER_BIN/mplock" create x
	rm -f "$d"
}

@test "a symlink planted where an object should be is refused, not followed" {
	mkdir -p "$MP_DIR" && chmod 700 "$MP_DIR"
	echo precious >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$MP_DIR/lock.trap"
	run -77 --separate-stderr mplock run trap true
	[[ $stderr == *"symbolic link"* ]]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = precious ]
}

@test "objects are created atomically: racing creators all see one whole object" {
	pids=()
	for i in $(seq 20); do
		mplock create race &
		pids+=($!)
	done
	wait "${pids[@]}"
	run -0 mplock info race --json
	[[ $output == *'"kind":"lock"'* ]]
	[ "$(ls "$MP_DIR" | wc -l)" = 1 ]
}

@test "a corrupt, truncated, wrong-kind or foreign object gives 65, never a crash" {
	mplock create good
	f=$MP_DIR/lock.good
	# truncated
	cp "$f" "$MP_DIR/lock.trunc" && truncate -s 1000 "$MP_DIR/lock.trunc"
	run -65 --separate-stderr mplock info trunc
	[[ $stderr == *"truncated"* ]]
	# shorter than a header
	head -c 10 "$f" >"$MP_DIR/lock.tiny"
	run -65 mplock -n run tiny true
	# garbage
	head -c "$(stat -c %s "$f")" /dev/urandom >"$MP_DIR/lock.junk"
	run -65 --separate-stderr mplock is-locked junk
	[[ $stderr == *"not an mptools object"* ]]
	# bad table sizes behind a valid header
	cp "$f" "$MP_DIR/lock.tables"
	printf '\xff\xff\xff\xff' | dd of="$MP_DIR/lock.tables" bs=1 seek=256 conv=notrunc status=none
	run -65 --separate-stderr mplock acquire tables
	[[ $stderr == *"corrupt"* ]]
	# another kind's file under a lock's name
	printf '\x03' | dd of="$MP_DIR/lock.good" bs=1 seek=16 conv=notrunc status=none
	run -65 --separate-stderr mplock info good
	[[ $stderr == *"is a event object, not a lock"* || $stderr == *"not a lock"* ]]
	# a directory
	mkdir "$MP_DIR/lock.dir"
	run -65 mplock info dir
	# rm clears every one of them, saying what it removed
	for n in trunc tiny junk tables good; do
		run -0 --separate-stderr mplock rm "$n"
		[[ $stderr == *"removed a damaged object"* ]]
		[ ! -e "$MP_DIR/lock.$n" ]
	done
}

@test "an object made by a build with another ABI tag is refused with 65; rm removes it" {
	# The header's ABI tag names the C library, arch and mutex size: a
	# build whose internal mutex is laid out differently (another libc,
	# another arch) must not lock the object.  The tools are glibc-only
	# now; a musl tag stands for any foreign build.
	mplock create other
	f=$MP_DIR/lock.other
	off=$(grep -obaE '(glibc|musl)-[a-z0-9_]+-m[0-9]+' "$f" | head -n 1)
	ours=${off#*:}
	off=${off%%:*}
	[ -n "$off" ]
	case $ours in
	glibc-*) theirs=musl-${ours#glibc-} ;;
	*) theirs=glibc-${ours#musl-} ;;
	esac
	# the field is 16 bytes: the tag, then zeros
	{ printf '%s' "$theirs"; head -c $((16 - ${#theirs})) /dev/zero; } |
		dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	run -65 --separate-stderr mplock acquire -n other --owner none
	[[ $stderr == *"was made for $theirs, this is $ours"* ]]
	run -65 mplock info other
	run -0 --separate-stderr mplock rm other
	[[ $stderr == *"removed a damaged object"* ]]
	run -0 mplock acquire -n other --owner none
}

@test "an object file writable by others is refused with 77" {
	mplock create shared
	chmod 0666 "$MP_DIR/lock.shared"
	run -77 --separate-stderr mplock info shared
	[[ $stderr == *"writable by others"* ]]
}

@test "a full store fails with 73 and leaves nothing half-made" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tiny tmpfs"
	d=$BATS_TEST_TMPDIR/tiny
	mkdir "$d"
	mount -t tmpfs -o size=8k,mode=0700 tmpfs "$d" || skip "cannot mount tmpfs here"
	run -73 --separate-stderr mplock --dir "$d" create big
	umount "$d" 2>/dev/null || true
	[[ $stderr == *"cannot allocate"* ]]
}

@test "a full store leaves no partial object behind" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tiny tmpfs"
	d=$BATS_TEST_TMPDIR/tiny2
	mkdir "$d"
	mount -t tmpfs -o size=8k,mode=0700 tmpfs "$d" || skip "cannot mount tmpfs here"
	mplock --dir "$d" create big 2>/dev/null || true
	n=$(ls -A "$d" | wc -l)
	umount "$d" 2>/dev/null || true
	[ "$n" = 0 ]
}

@test "a disk store from an earlier boot is re-initialised: stale owners and mutex cleared" {
	start_bg sleep 1000
	mplock acquire boot --owner "$BG_PID"
	run -75 mplock -n acquire boot --owner none
	t-store reboot boot
	run -0 mplock -t 5 acquire boot --owner none
	run -0 mplock info boot --json
	[[ $output == *'"generation":1'* ]]
}

@test "a store on tmpfs never takes an object for one from an earlier boot" {
	# tmpfs is emptied by a reboot: its objects need no boot id check
	# (which costs a /proc file per call), and get none.
	MP_DIR=$(mktemp -d /dev/shm/mp-test.XXXXXX)
	mplock create b
	t-store old-boot b
	run -0 mplock -t 5 acquire b --owner none
	run -0 mplock info b --json
	rm -rf "$MP_DIR"
	[[ $output == *'"generation":0'* ]]
	# on disk the same header is re-initialised once
	MP_DIR=$BATS_TEST_TMPDIR/store
	mplock create b
	t-store old-boot b
	run -0 mplock -t 5 acquire b --owner none
	run -0 mplock info b --json
	[[ $output == *'"generation":1'* ]]
}

# maps_gap PID NAME: bytes between the end of the program's own mappings
# and the mapping of the object file NAME.
maps_gap() {
	local exe range perms off dev ino path s e pend=0 ostart=0
	exe=$(readlink "/proc/$1/exe") || return 1
	while read -r range perms off dev ino path; do
		# a read while the process maps (ASan's start) may be torn
		[[ $range =~ ^[0-9a-f]+-[0-9a-f]+$ ]] || continue
		s=$((16#${range%-*})) e=$((16#${range#*-}))
		if [ "$path" = "$exe" ] && ((e > pend)); then pend=$e; fi
		if [[ $path == */"$2" ]]; then ostart=$s; fi
	done <"/proc/$1/maps"
	((ostart && pend)) && echo $((ostart - pend))
}

@test "objects are mapped just past the program's data, where page tables exist" {
	# The kernel's own place for a mapping has no page tables in a new
	# process; building them costs a one-shot tool ~80 us on a VM.
	mplock create m
	mplock acquire m --owner none
	start_bg mplock acquire m --owner none
	wait_until 5 maps_gap "$BG_PID" lock.m
	gap=$(maps_gap "$BG_PID" lock.m)
	echo "gap $gap"
	((gap >= 0 && gap < 16 * 1024 * 1024))
}

@test "a process killed while holding an object's internal mutex does not wedge it" {
	mplock create held
	run -0 t-store die-locked held
	run -0 mplock -t 5 run held true
	run -0 mplock -t 5 acquire held --owner none
	run -0 mplock release held --owner none
}

@test "a store on a read-only filesystem can be inspected (info, ls, status); changes exit 73" {
	local_store_only
	[ "$(id -u)" = 0 ] || skip "needs root (mount)"
	local d=$BATS_TEST_TMPDIR/ro
	mkdir "$d"
	mount -t tmpfs -o size=4m tmpfs "$d" || skip "cannot mount a tmpfs here"
	chmod 0700 "$d"
	export MP_DIR=$d
	mplock acquire L --owner none
	mpqueue put Q hello
	mpspawn --name G true
	mount -o remount,ro "$d"
	run -0 mplock info L
	[[ $output == *exclusive* ]]
	run -0 mplock ls
	run -0 mpqueue info Q --json
	[[ $output == *'"items":1'* ]]
	run -0 mpqueue ls
	run -0 mpspawn status G
	run -0 mpspawn ls
	run -73 mplock acquire L -n
	run -73 mplock release L --force
	run -73 mpqueue get Q
	umount "$d"
}

@test "a restrictive umask (0277) does not make the default store or its objects unusable" {
	[ "$(id -u)" = 0 ] || skip "needs root to fake another uid"
	uid=$((41000 + RANDOM % 1000))
	tools_for_uid "$uid"
	d=/dev/shm/mptools-$uid
	rm -rf "$d"
	as_uid() {
		setpriv --reuid "$uid" --regid "$uid" --clear-groups \
			sh -c 'umask 0277; exec env -u MP_DIR "$@"' sh "$@"
	}
	run -0 as_uid "$OTHER_BIN/mplock" acquire L --owner none
	[ "$(stat -c %a "$d")" = 700 ]
	[ "$(stat -c %a "$d/lock.L")" = 600 ]
	run -0 as_uid "$OTHER_BIN/mplock" is-locked L
	run -0 as_uid "$OTHER_BIN/mplock" release L
	# one made 0500 by an older version is mended, not refused for ever
	chmod 0500 "$d"
	run -0 as_uid "$OTHER_BIN/mpqueue" put Q x
	[ "$(stat -c %a "$d")" = 700 ]
	rm -rf "$d"
}

@test "a store on a network or cluster filesystem is refused (77), naming it and the Redis store" {
	# the table, through the check itself
	run -0 t-store fs-table
	echo "$output"
	for fs in nfs cifs smb2 ceph lustre 9p fuse afs gfs2 ocfs2 coda; do
		[[ $output == *"shared $fs"* ]]
	done
	for fs in tmpfs ext4 xfs btrfs; do
		[[ $output == *"local $fs"* ]]
	done
}

@test "a store on a FUSE mount is refused with 77 and a pointer to --store redis://" {
	local_store_only
	[ "$(id -u)" = 0 ] || skip "needs root to mount"
	command -v bindfs >/dev/null || skip "bindfs is not installed"
	src=$BATS_TEST_TMPDIR/under mnt=$BATS_TEST_TMPDIR/fuse
	mkdir -p "$src" "$mnt"
	bindfs "$src" "$mnt" 2>/dev/null || skip "cannot mount FUSE here"
	run -77 --separate-stderr mplock --dir "$mnt" acquire x --owner none
	run -77 --separate-stderr mpqueue --dir "$mnt/sub" put q m
	fusermount -u "$mnt" 2>/dev/null || umount "$mnt"
	echo "$stderr"
	[[ $stderr == *fuse* ]]
	[[ $stderr == *"--store redis://"* ]]
	[ -z "$(find "$src" -type f)" ]
}

@test "a disk store last used by another host is refused (65), never re-initialised under its holders" {
	local_store_only
	start_bg sleep 1000
	mplock acquire host --owner "$BG_PID"
	t-store other-host host
	run -65 --separate-stderr mplock -n acquire host --owner none
	[[ $stderr == *"another host"* ]]
	run -65 mplock info host
	# the holder's own host sees the same refusal; rm clears it
	run -0 mplock rm host
	run -0 mplock -n acquire host --owner none
}

@test "a store directory pre-made by another user as 3777 (sticky, setgid, world-writable) is refused" {
	local_store_only
	[ "$(id -u)" = 0 ] || skip "needs root to act as another uid"
	d=$BATS_TEST_TMPDIR/trap
	mkdir "$d"
	chown 65534:65534 "$d"
	chmod 3777 "$d"
	run -69 --separate-stderr mplock --dir "$d" create x
	[[ $stderr == *"$d"* ]]
	[ -z "$(ls -A "$d")" ]
	# a group the user is not in, even not writable by others
	chmod 2770 "$d"
	run -69 --separate-stderr mplock --dir "$d" create x
	[[ $stderr == *"group"* ]]
	# world-writable, of the user's own group: still refused
	chgrp 0 "$d"
	chmod 2777 "$d"
	run -69 mplock --dir "$d" create x
	# a proper group store: the user's group, not writable by others
	chmod 2770 "$d"
	run -0 mplock --dir "$d" create x
	[ "$(stat -c %a:%g "$d/lock.x")" = 660:0 ]
}

@test "in a group store, an object of another user is accepted only with the store's group" {
	local_store_only
	[ "$(id -u)" = 0 ] || skip "needs root to act as another uid"
	d=$BATS_TEST_TMPDIR/grp
	mkdir "$d"
	chgrp 0 "$d"
	chmod 2770 "$d"
	mplock --dir "$d" create mine
	cp "$d/lock.mine" "$d/lock.theirs"
	chown 65534:65534 "$d/lock.theirs"
	chmod 0660 "$d/lock.theirs"
	run -77 mplock --dir "$d" info theirs
	chgrp 0 "$d/lock.theirs"
	run -0 mplock --dir "$d" info theirs
}
