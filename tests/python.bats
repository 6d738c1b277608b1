#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# python/mptools.py: multiprocessing's objects over libmptools, with the
# system's python3 and no pytest, against the tools.
load helpers/common

setup() {
	mp_common_setup
	PY=$(command -v /usr/bin/python3 || command -v python3) || skip "no python3"
	# ASan's runtime must be the first library of the process: a python3
	# built without it cannot load an instrumented libmptools
	if grep -q '^CFLAGS = .*-fsanitize=address' "$MP_TOP_BUILDDIR/Makefile" 2>/dev/null; then
		skip "libmptools is built with ASan (--enable-sanitizers): python3 cannot load it"
	fi
	export MPTOOLS_LIB="$MP_TOP_BUILDDIR/.libs/libmptools.so.0"
	export PYTHONPATH="$MP_TOP_SRCDIR/python"
}

# py CODE: runs CODE with mptools imported.
py() {
	"$PY" -c "import mptools, sys
$1"
}

@test "a Python program gets what a shell script puts on a queue, and the reverse" {
	mpqueue put jobs a "b c"
	run -0 py 'q = mptools.Queue("jobs"); print(q.get()); print(q.get()); q.put("from python"); q.put(b"\x00bin")'
	[ "$output" = "$(printf 'a\nb c')" ]
	run -0 mpqueue get jobs
	[ "$output" = "from python" ]
	run -0 sh -c 'mpqueue get jobs --raw | od -An -c'
	[[ "$output" == *'\0   b   i   n'* ]]
}

@test "a Python getter blocked on an empty queue gets a shell's message; iteration ends at close" {
	start_bg sh -c "'$PY' -c 'import mptools
for m in mptools.Queue(\"jobs\"): print(m, flush=True)
print(\"end\")' >'$BATS_TEST_TMPDIR/out'"
	wait_until 10 eval 'mpqueue info jobs --json 2>/dev/null | grep -q "\"getters\":1"'
	mpqueue put jobs one two
	wait_until 10 lines_are "$BATS_TEST_TMPDIR/out" 2
	mpqueue close jobs
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" end
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "$(printf 'one\ntwo\nend')" ]
}

@test "Queue: Full and Empty as multiprocessing's, qsize, full, empty, Closed on put" {
	run -0 py '
q = mptools.Queue("small", maxsize=1)
assert q.empty() and not q.full() and q.qsize() == 0
q.put("x")
assert q.full() and q.qsize() == 1
try: q.put("y", timeout=0.05); sys.exit("put did not raise Full")
except mptools.Full: pass
try: q.put_nowait("y"); sys.exit("put_nowait did not raise Full")
except mptools.Full: pass
assert q.get_nowait() == "x"
try: q.get(True, 0.05); sys.exit("get did not raise Empty")
except mptools.Empty: pass
q.close()
try: q.put("z"); sys.exit("put on a closed queue")
except mptools.Closed: pass
print("ok")'
	[ "$output" = ok ]
	run -2 mpqueue get small
}

@test "a Python Lock excludes an mplock holder, and mplock waits for a Python holder" {
	mplock acquire db --owner none
	run -0 py 'l = mptools.Lock("db"); print(l.acquire(False), l.acquire(timeout=0.1), l.locked())'
	[ "$output" = "False False True" ]
	mplock release db --owner none
	start_bg "$PY" -c 'import mptools, time
l = mptools.Lock("db"); l.acquire(); print(l.token, flush=True); time.sleep(3600)'
	wait_until 10 mplock is-locked db
	run -75 mplock run db -n -- true
	# the holder dies: a waiter does not stay behind it
	kill -KILL "$BG_PID"
	wait_until 10 dead "$BG_PID"
	run -0 mplock run db -t 5 -- true
}

@test "a child forked from a Python holder neither releases the parent's lock nor frees it when it ends" {
	run -0 py '
import os
l = mptools.Lock("db")
l.acquire()
def child(fn):
    pid = os.fork()
    if pid == 0:
        os._exit(fn())
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
def releases():
    try:
        l.release()
        return 3
    except ValueError:
        pass
    # the child may wait for the lock itself: the parent holds it
    return 0 if l.acquire(timeout=0.1) is False else 4
def frees():
    global l
    del l
    return 0
print(child(releases), child(frees), l.locked())
del l
print(mptools.Lock("db").locked())'
	[ "$output" = "$(printf '0 0 True\nFalse')" ]
}

@test "a Python Lock is a context manager, release without a hold is ValueError" {
	run -0 py '
l = mptools.Lock("db")
with l:
    assert l.locked() and l.token > 0
assert not l.locked()
try: l.release(); sys.exit("no ValueError")
except ValueError: pass
print("ok")'
	[ "$output" = ok ]
	run -1 mplock is-locked db
}

@test "a Python Semaphore shares its slots with mpsem" {
	mpsem create pool -j 2
	mpsem acquire pool --owner none
	run -0 py '
s = mptools.Semaphore("pool", 2)
assert s.get_value() == 1
assert s.acquire(timeout=1)
assert not s.acquire(False)
assert s.get_value() == 0
s.release()
print(s.get_value())'
	[ "$output" = 1 ]
	run -0 mpsem value pool
	[ "$output" = 1 ]
}

@test "a Python Event waits for the set of a shell, and the shell sees its set" {
	start_bg sh -c "'$PY' -c 'import mptools
print(mptools.Event(\"go\").wait(60), flush=True)' >'$BATS_TEST_TMPDIR/out'"
	wait_until 10 eval 'mpevent info go --json 2>/dev/null | grep -q "\"waiters\":1"'
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	mpevent set go
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" True
	run -0 py 'e = mptools.Event("go"); e.clear(); print(e.is_set(), e.wait(0.05)); e.set()'
	[ "$output" = "False False" ]
	run -0 mpevent is-set go
}

@test "a Python JoinableQueue's join waits for a shell's mpqueue done" {
	run -0 py 'q = mptools.JoinableQueue("work"); q.put("a"); print(q.join(0.05))'
	[ "$output" = False ]
	start_bg sh -c "'$PY' -c 'import mptools
print(mptools.JoinableQueue(\"work\").join(), flush=True)' >'$BATS_TEST_TMPDIR/out'"
	wait_until 10 eval 'mpqueue info work --json | grep -q "\"waiters\":1"'
	mpqueue get work
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	mpqueue done work
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" True
	run -0 py 'q = mptools.JoinableQueue("work")
try: q.task_done()
except ValueError: print("ValueError")'
	[ "$output" = ValueError ]
}

@test "a message a Python process leased comes back to the shell when the process is killed" {
	mpqueue put jobs precious
	start_bg "$PY" -c 'import mptools, time
q = mptools.Queue("jobs"); m, t = q.lease(); print(m, flush=True); time.sleep(3600)'
	wait_until 10 eval 'mpqueue info jobs --json | grep -q "\"in_flight\":1"'
	run -75 mpqueue get jobs -n
	kill -KILL "$BG_PID"
	wait_until 10 dead "$BG_PID"
	run -0 mpqueue get jobs -t 10
	[ "$output" = precious ]
	run -0 py 'q = mptools.Queue("jobs"); q.put("x"); m, t = q.lease(); q.ack(t); print(q.qsize())
try: q.ack(t)
except mptools.Error as e: print(e.errno == 2)'
	[ "$output" = "$(printf '0\nTrue')" ]
}

@test "a Python Var is the value of mpvar" {
	mpvar set count 41
	run -0 py 'v = mptools.Var("count"); print(v.add(1)); v.set("hello")'
	[ "$output" = 42 ]
	run -0 mpvar get count
	[ "$output" = hello ]
}

@test "a Python Var waits for the value a shell sets" {
	run -0 py 'v = mptools.Var("n"); print(v.wait("ge", 3, timeout=0.05), v.wait("unset"))'
	[ "$output" = "False True" ]
	start_bg sh -c "'$PY' -c 'import mptools
v = mptools.Var(\"n\"); print(v.wait(\"ge\", 3), v.wait(\"eq\", \"done\", 60), flush=True)' >'$BATS_TEST_TMPDIR/out'"
	wait_until 10 eval 'mpvar info n --json | grep -q "\"waiters\":1"'
	mpvar set n 2
	mpvar incr n
	wait_until 10 eval 'mpvar info n --json | grep -q "\"waiters\":1"'
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	mpvar set n done
	wait_until 10 file_has "$BATS_TEST_TMPDIR/out" "True True"
}

@test "a shared Python Lock coexists with mplock -s holders and excludes an exclusive one" {
	mplock acquire db -s --owner none
	run -0 py 'r = mptools.Lock("db", shared=True); w = mptools.Lock("db")
print(r.acquire(False), w.acquire(False)); r.release(); print(w.acquire(False))'
	[ "$output" = "$(printf 'True False\nFalse')" ]
	mplock release db --owner none
	run -0 py 'w = mptools.Lock("db"); print(w.acquire(False))'
	[ "$output" = True ]
}

@test "mptools.py reports a bad name and a missing object with the library's message" {
	run -1 py 'mptools.Lock("no/slash")'
	[[ "$output" == *"Errno 22"*"lock 'no/slash': invalid name"* ]]
	run -1 py 'mptools.Event("absent", existing=True)'
	[[ "$output" == *"Errno 2"*"event 'absent': "* ]]
}

@test "mptools.py finds the library of a build tree next to it without MPTOOLS_LIB" {
	mkdir -p "$BATS_TEST_TMPDIR/tree/python"
	cp "$MP_TOP_SRCDIR/python/mptools.py" "$BATS_TEST_TMPDIR/tree/python/"
	ln -s "$MP_TOP_BUILDDIR/.libs" "$BATS_TEST_TMPDIR/tree/.libs"
	unset MPTOOLS_LIB
	run -0 env PYTHONPATH="$BATS_TEST_TMPDIR/tree/python" "$PY" -c 'import mptools
mptools.Event("e").set(); print(mptools.library()._name)'
	[[ "$output" == "$BATS_TEST_TMPDIR/tree/python/../.libs/libmptools.so.0" ]]
	run -0 mpevent is-set e
	# and MPTOOLS_LIB comes first
	run -1 env MPTOOLS_LIB=/nonexistent/libmptools.so PYTHONPATH="$BATS_TEST_TMPDIR/tree/python" "$PY" -c 'import mptools; mptools.Event("e")'
	[[ "$output" == */nonexistent/libmptools.so* ]]
}
