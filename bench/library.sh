# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/run's section "library" (sourced by bench/run): libmptools from C
# and mptools.py from Python, per call, in one process, against the peers
# a program would use instead: flock(2) on a file (C and Python),
# multiprocessing.Lock (only between related processes), and for the
# queue multiprocessing.Queue and posix_ipc.MessageQueue (when the module
# exists: Debian bookworm has no python3-posix-ipc).  bench/libcall.c and
# bench/py-objects time the loops; each prints the mean of one pair.
# The library is the build tree's ($BINDIR/../.libs/libmptools.so.0).

# lib_sample ID CMD...: records CMD's printed figure as one sample of ID.
lib_sample() {
	local id=$1 v
	shift
	if v=$(timeout -k 5 "$LIMIT" "$@" 2>>"$LOG") && [[ $v =~ ^[0-9.]+$ ]]; then
		record "$id" cmd0 "$v"
	else
		STATE[$id]=${STATE[$id]:-"FAIL (see results.log)"}
	fi
}

sec_library() {
	local top=$BINDIR/.. so py libcall=$WORK/libcall
	so=$top/.libs/libmptools.so.0
	if [ ! -f "$so" ]; then
		note_row library "library: libmptools" "not built ($so missing)"
		return 0
	fi
	if ! ${TOOLS_CC:-cc} -O2 -I"$ROOT/include" "$BENCH/libcall.c" -o "$libcall" \
		-L"$top/.libs" -lmptools -Wl,-rpath,"$top/.libs" 2>>"$LOG"; then
		note_row library "library: libmptools" "bench/libcall.c did not build; see results.log"
		return 0
	fi
	py=$(command -v /usr/bin/python3 || command -v python3)
	export MPTOOLS_LIB=$so PYTHONPATH=$ROOT/python
	local n=$N_LIB pn=$N_PYLIB runs=(l_mpt l_flock l_mq)
	l_mpt() { lib_sample lib.mpt "$libcall" mpt-lock "$n"; }
	l_flock() { lib_sample lib.flock "$libcall" flock "$n"; }
	l_mq() { lib_sample lib.mptq "$libcall" mpt-queue "$n"; }
	p_lock() { lib_sample py.lock "$py" "$BENCH/py-objects" lock "$pn"; }
	p_flock() { lib_sample py.flock "$py" "$BENCH/py-objects" flock "$pn"; }
	p_mplock() { lib_sample py.mplock "$py" "$BENCH/py-objects" mp-lock "$pn"; }
	p_queue() { lib_sample py.queue "$py" "$BENCH/py-objects" queue "$pn"; }
	p_mpqueue() { lib_sample py.mpqueue "$py" "$BENCH/py-objects" mp-queue "$pn"; }
	p_posix() { lib_sample py.posix "$py" "$BENCH/py-objects" posix-ipc "$pn"; }
	[ -n "$py" ] && runs+=(p_lock p_flock p_mplock p_queue p_mpqueue)
	if [ -n "$py" ] && "$py" -c 'import posix_ipc' 2>/dev/null; then
		runs+=(p_posix)
	else
		STATE[py.posix]="missing (no posix_ipc module; not in Debian bookworm)"
	fi
	run_rounds "$ROUNDS" "${runs[@]}"
	cmp_row library "library: C \`mpt_lock_acquire\` + \`mpt_lock_release\`, per pair" ns \
		lib.mpt cmd0 "flock(2) LOCK_EX + LOCK_UN" lib.flock cmd0 "ratio<=2" "" \
		"$n pairs per round, one process, uncontended"
	cmp_row library "library: C \`mpt_queue_put\` + \`mpt_queue_get\` (16 bytes), per pair" ns \
		lib.mptq cmd0 "flock(2) pair (scale)" lib.flock cmd0 "" "" \
		"$n pairs per round"
	[ -n "$py" ] || { note_row library "library: Python" "no python3"; return 0; }
	cmp_row library "library: Python \`mptools.Lock\` acquire + release" us \
		py.lock cmd0 "fcntl.flock LOCK_EX + LOCK_UN" py.flock cmd0 "" "" \
		"$pn pairs per round"
	cmp_row library "library: Python \`mptools.Lock\` acquire + release" us \
		py.lock cmd0 "multiprocessing.Lock (related processes only)" py.mplock cmd0 "" "" \
		"$pn pairs per round"
	cmp_row library "library: Python \`mptools.Queue\` put + get (16 bytes)" us \
		py.queue cmd0 "multiprocessing.Queue" py.mpqueue cmd0 "" "" \
		"$pn pairs per round; multiprocessing.Queue pickles and puts through a feeder thread"
	cmp_row library "library: Python \`mptools.Queue\` put + get (16 bytes)" us \
		py.queue cmd0 "posix_ipc.MessageQueue" py.posix cmd0 "" "" \
		"$pn pairs per round"
}
