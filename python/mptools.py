# SPDX-License-Identifier: LGPL-2.1-or-later
"""mptools: multiprocessing's Lock, Semaphore, Event, Queue and
JoinableQueue across unrelated processes, shared with shell scripts.

The objects are the named objects of mplock, mpsem, mpevent, mpqueue and
mpvar: a Python program and a shell script that use the same name in the
same store use one object.  ctypes over libmptools (mptools(3)); no build
step.  The library is found through $MPTOOLS_LIB, then a build tree next
to this file, then the system's (ctypes.util.find_library).

    import mptools
    with mptools.Lock("db"):            # excludes `mplock run db -- ...`
        ...
    q = mptools.Queue("jobs")           # `mpqueue put jobs a b` feeds it
    for job in q:                       # until `mpqueue close jobs`
        print(job)

Differences from multiprocessing: objects are named and outlive the
process (`mpqueue rm NAME` removes them); holds are owned by the process
and given back when it dies, even by SIGKILL; queue messages are bytes or
text (str is sent as UTF-8; a Queue returns str unless binary=True), not
pickles; Queue.close() closes the queue for everyone (getters then drain
it and get Closed, as `mpqueue close`).  A signal does not end a blocked
call (Ctrl-C takes effect when it returns): give long waits a timeout.
A child made by fork is an owner of its own: it can neither release nor
free what its parent holds.
"""
import ctypes
import ctypes.util
import errno
import os
import queue as _queue

__all__ = ["Lock", "Semaphore", "Event", "Queue", "JoinableQueue", "Var",
           "Closed", "Full", "Empty", "Error", "library"]

Full = _queue.Full
Empty = _queue.Empty


class Closed(EOFError):
    """The queue is closed (and, for a get, drained)."""


class Error(OSError):
    """A failure of the library: errno and mptools' message."""


_EXISTING = 1
_SHARED = 1


def _find_library():
    env = os.environ.get("MPTOOLS_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "..", ".libs"),
              os.path.join(here, "..", "build", ".libs")):
        p = os.path.join(d, "libmptools.so.0")
        if os.path.exists(p):
            return p
    return ctypes.util.find_library("mptools") or "libmptools.so.0"


_lib = None


def library():
    """The loaded libmptools (ctypes.CDLL), loaded on first use."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(_find_library(), use_errno=True)
        c_p, c_pp = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
        s, u, d = ctypes.c_char_p, ctypes.c_uint, ctypes.c_double
        u64, i64, sz = ctypes.c_uint64, ctypes.c_int64, ctypes.c_size_t
        szp, u64p, i64p = (ctypes.POINTER(sz), ctypes.POINTER(u64),
                           ctypes.POINTER(i64))
        sigs = {
            "mpt_errmsg": (s, []), "mpt_version": (s, []),
            "mpt_lock_open": (ctypes.c_int, [c_pp, s, s, u]),
            "mpt_lock_acquire": (ctypes.c_int, [c_p, u, d]),
            "mpt_lock_release": (ctypes.c_int, [c_p]),
            "mpt_lock_is_locked": (ctypes.c_int, [c_p]),
            "mpt_lock_token": (u64, [c_p]),
            "mpt_lock_free": (None, [c_p]),
            "mpt_sem_open": (ctypes.c_int, [c_pp, s, s, u, u]),
            "mpt_sem_acquire": (ctypes.c_int, [c_p, d]),
            "mpt_sem_release": (ctypes.c_int, [c_p]),
            "mpt_sem_value": (ctypes.c_int, [c_p]),
            "mpt_sem_free": (None, [c_p]),
            "mpt_event_open": (ctypes.c_int, [c_pp, s, s, u]),
            "mpt_event_set": (ctypes.c_int, [c_p]),
            "mpt_event_clear": (ctypes.c_int, [c_p]),
            "mpt_event_is_set": (ctypes.c_int, [c_p]),
            "mpt_event_wait": (ctypes.c_int, [c_p, d]),
            "mpt_event_free": (None, [c_p]),
            "mpt_queue_open": (ctypes.c_int, [c_pp, s, s, u64, u64, u64, u]),
            "mpt_queue_max_msg": (u64, [c_p]),
            "mpt_queue_max_items": (u64, [c_p]),
            "mpt_queue_put": (ctypes.c_int, [c_p, c_p, sz, d]),
            "mpt_queue_get": (ctypes.c_int, [c_p, c_p, sz, szp, d]),
            "mpt_queue_get_lease": (ctypes.c_int, [c_p, c_p, sz, szp, d, u64p]),
            "mpt_queue_ack": (ctypes.c_int, [c_p, u64]),
            "mpt_queue_task_done": (ctypes.c_int, [c_p]),
            "mpt_queue_join": (ctypes.c_int, [c_p, d]),
            "mpt_queue_close": (ctypes.c_int, [c_p]),
            "mpt_queue_size": (i64, [c_p]),
            "mpt_queue_full": (ctypes.c_int, [c_p]),
            "mpt_queue_free": (None, [c_p]),
            "mpt_var_open": (ctypes.c_int, [c_pp, s, s, u64, u]),
            "mpt_var_max_size": (u64, [c_p]),
            "mpt_var_get": (ctypes.c_int, [c_p, c_p, sz, szp]),
            "mpt_var_set": (ctypes.c_int, [c_p, c_p, sz]),
            "mpt_var_unset": (ctypes.c_int, [c_p]),
            "mpt_var_add": (ctypes.c_int, [c_p, i64, i64p]),
            "mpt_var_wait": (ctypes.c_int, [c_p, ctypes.c_int, c_p, sz, i64, d]),
            "mpt_var_free": (None, [c_p]),
        }
        for name, (res, args) in sigs.items():
            f = getattr(lib, name)
            f.restype, f.argtypes = res, args
        _lib = lib
    return _lib


def _error(rc):
    msg = library().mpt_errmsg().decode("utf-8", "replace")
    return Error(-rc, msg or os.strerror(-rc))


def _check(rc):
    if rc < 0:
        raise _error(rc)
    return rc


def _timeout(block, timeout):
    """multiprocessing's (block, timeout) as the library's seconds."""
    if not block:
        return 0.0
    if timeout is None:
        return -1.0
    return max(float(timeout), 0.0)


def _busy(rc):
    return rc in (-errno.EAGAIN, -errno.ETIMEDOUT)


def _enc(s):
    return None if s is None else os.fsencode(s)


class _Handle:
    _kind = None

    def __init__(self, name, store, opener, *args):
        self._h = None
        self.name = name
        self.store = store
        h = ctypes.c_void_p()
        _check(opener(ctypes.byref(h), _enc(store), _enc(name), *args))
        self._h = h
        self._free = getattr(library(), "mpt_%s_free" % self._kind)

    def __del__(self):
        if getattr(self, "_h", None):
            self._free(self._h)
            self._h = None

    def __repr__(self):
        return "<mptools.%s %r>" % (type(self).__name__, self.name)

    # objects are named: a child process opens the same name again
    def __getstate__(self):
        return self._state()

    def __setstate__(self, state):
        self.__init__(**state)


class Lock(_Handle):
    """A named lock (mplock).  Held by this process; given back if it dies.
    shared=True takes a shared (read) hold, as `mplock -s`."""
    _kind = "lock"

    def __init__(self, name, store=None, shared=False, existing=False):
        self._shared = shared
        self._flags = _SHARED if shared else 0
        super().__init__(name, store, library().mpt_lock_open,
                         _EXISTING if existing else 0)
        # bound once: a call through library() costs as much as the lock
        self._acq, self._rel = library().mpt_lock_acquire, library().mpt_lock_release

    def _state(self):
        return dict(name=self.name, store=self.store, shared=self._shared)

    def acquire(self, block=True, timeout=None):
        rc = self._acq(self._h, self._flags,
                       -1.0 if block and timeout is None else _timeout(block, timeout))
        if rc == 0:
            return True
        # held already by this process: multiprocessing would wait in vain
        # (for ever without a timeout, which raises here instead)
        if _busy(rc) or (rc == -errno.EDEADLK and (not block or timeout is not None)):
            return False
        _check(rc)
        return True

    def release(self):
        rc = self._rel(self._h)
        if rc == 0:
            return
        if rc == -errno.ENOLCK:
            raise ValueError("lock '%s' is not held by this object" % self.name)
        _check(rc)

    def locked(self):
        return bool(_check(library().mpt_lock_is_locked(self._h)))

    @property
    def token(self):
        """The fencing token of the hold (0 when not held)."""
        return library().mpt_lock_token(self._h)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class Semaphore(_Handle):
    """A named counting semaphore (mpsem) of `value` slots (fixed when it is
    created).  Slots are held by this process and given back if it dies."""
    _kind = "sem"

    def __init__(self, name, value=1, store=None, existing=False):
        if value < 1:
            raise ValueError("a semaphore has at least one slot")
        self._value = value
        super().__init__(name, store, library().mpt_sem_open, value,
                         _EXISTING if existing else 0)

    def _state(self):
        return dict(name=self.name, store=self.store, value=self._value)

    def acquire(self, block=True, timeout=None):
        rc = library().mpt_sem_acquire(self._h, _timeout(block, timeout))
        if _busy(rc) or (rc == -errno.EDEADLK and (not block or timeout is not None)):
            return False
        _check(rc)
        return True

    def release(self):
        rc = library().mpt_sem_release(self._h)
        if rc == -errno.ENOLCK:
            raise ValueError("semaphore '%s' released too many times" % self.name)
        _check(rc)

    def get_value(self):
        return _check(library().mpt_sem_value(self._h))

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class Event(_Handle):
    """A named event (mpevent)."""
    _kind = "event"

    def __init__(self, name, store=None, existing=False):
        super().__init__(name, store, library().mpt_event_open,
                         _EXISTING if existing else 0)

    def _state(self):
        return dict(name=self.name, store=self.store)

    def set(self):
        _check(library().mpt_event_set(self._h))

    def clear(self):
        _check(library().mpt_event_clear(self._h))

    def is_set(self):
        return bool(_check(library().mpt_event_is_set(self._h)))

    def wait(self, timeout=None):
        rc = library().mpt_event_wait(self._h, _timeout(True, timeout))
        if _busy(rc):
            return False
        _check(rc)
        return True


class Queue(_Handle):
    """A named bounded queue (mpqueue) of text (or, binary=True, bytes)
    messages.  maxsize: the item limit when it is created (0: mpqueue's
    default)."""
    _kind = "queue"

    def __init__(self, name, maxsize=0, store=None, binary=False, existing=False,
                 max_bytes=0, max_msg=0):
        self._args = dict(maxsize=maxsize, binary=binary, max_bytes=max_bytes,
                          max_msg=max_msg)
        self._binary = binary
        super().__init__(name, store, library().mpt_queue_open, maxsize,
                         max_bytes, max_msg, _EXISTING if existing else 0)
        self._cap = library().mpt_queue_max_msg(self._h)
        self._buf = ctypes.create_string_buffer(max(self._cap, 1))

    def _state(self):
        return dict(name=self.name, store=self.store, **self._args)

    def put(self, obj, block=True, timeout=None):
        data = obj.encode("utf-8", "surrogateescape") if isinstance(obj, str) else bytes(obj)
        rc = library().mpt_queue_put(self._h, data, len(data), _timeout(block, timeout))
        if _busy(rc):
            raise Full
        if rc == -errno.ESHUTDOWN:
            raise Closed("queue '%s' is closed" % self.name)
        _check(rc)

    def put_nowait(self, obj):
        return self.put(obj, False)

    def _out(self, n):
        data = self._buf.raw[:n]
        return data if self._binary else data.decode("utf-8", "surrogateescape")

    def _got(self, rc):
        if _busy(rc):
            raise Empty
        if rc == -errno.ENODATA:
            raise Closed("queue '%s' is closed and drained" % self.name)
        _check(rc)

    def get(self, block=True, timeout=None):
        n = ctypes.c_size_t()
        self._got(library().mpt_queue_get(self._h, self._buf, self._cap, ctypes.byref(n),
                                          _timeout(block, timeout)))
        return self._out(n.value)

    def get_nowait(self):
        return self.get(False)

    def lease(self, block=True, timeout=None):
        """get, but the message stays in flight, owned by this process,
        until ack(token) (if the process dies first it is delivered
        again).  Returns (message, token)."""
        n, tok = ctypes.c_size_t(), ctypes.c_uint64()
        self._got(library().mpt_queue_get_lease(self._h, self._buf, self._cap,
                                                ctypes.byref(n), _timeout(block, timeout),
                                                ctypes.byref(tok)))
        return self._out(n.value), tok.value

    def ack(self, token):
        _check(library().mpt_queue_ack(self._h, token))

    def qsize(self):
        return _check(library().mpt_queue_size(self._h))

    def empty(self):
        return self.qsize() == 0

    def full(self):
        return bool(_check(library().mpt_queue_full(self._h)))

    def close(self):
        """Closes the queue for everyone (`mpqueue close`)."""
        _check(library().mpt_queue_close(self._h))

    def join_thread(self):
        pass

    def cancel_join_thread(self):
        pass

    def __iter__(self):
        """The messages, until the queue is closed and drained."""
        while True:
            try:
                yield self.get()
            except Closed:
                return


class JoinableQueue(Queue):
    """A Queue with task_done() and join() (`mpqueue done`, `mpqueue join`)."""

    def task_done(self):
        rc = library().mpt_queue_task_done(self._h)
        if rc == -errno.ERANGE:
            raise ValueError("task_done() called too many times")
        _check(rc)

    def join(self, timeout=None):
        """Waits until every message put was marked done; with a timeout,
        returns False if it ran out first."""
        rc = library().mpt_queue_join(self._h, _timeout(True, timeout))
        if _busy(rc):
            return False
        _check(rc)
        return True


class Var(_Handle):
    """A named shared value (mpvar): get/set/unset bytes or text, add to
    an integer."""
    _kind = "var"

    def __init__(self, name, store=None, max_size=0, existing=False):
        super().__init__(name, store, library().mpt_var_open, max_size,
                         _EXISTING if existing else 0)
        self._cap = library().mpt_var_max_size(self._h)
        self._buf = ctypes.create_string_buffer(max(self._cap, 1))

    def _state(self):
        return dict(name=self.name, store=self.store)

    def get(self, default=None):
        n = ctypes.c_size_t()
        if not _check(library().mpt_var_get(self._h, self._buf, self._cap, ctypes.byref(n))):
            return default
        return self._buf.raw[:n.value].decode("utf-8", "surrogateescape")

    def set(self, value):
        data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) \
            else str(value).encode() if isinstance(value, int) else bytes(value)
        _check(library().mpt_var_set(self._h, data, len(data)))

    def unset(self):
        _check(library().mpt_var_unset(self._h))

    def add(self, n=1):
        r = ctypes.c_int64()
        _check(library().mpt_var_add(self._h, n, ctypes.byref(r)))
        return r.value

    _OPS = {"eq": 0, "ne": 1, "ge": 2, "gt": 3, "le": 4, "lt": 5, "set": 6, "unset": 7}

    def wait(self, op="set", value=None, timeout=None):
        """Waits until the value is `op` value (eq, ne: text or bytes; ge,
        gt, le, lt: integers; set, unset: no value), as `mpvar wait`.
        Returns False if the timeout ran out first."""
        data, n = b"", 0
        if op in ("eq", "ne"):
            data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) \
                else str(value).encode() if isinstance(value, int) else bytes(value)
        elif op not in ("set", "unset"):
            n = int(value)
        rc = library().mpt_var_wait(self._h, self._OPS[op], data, len(data), n,
                                    _timeout(True, timeout))
        if _busy(rc):
            return False
        _check(rc)
        return True
