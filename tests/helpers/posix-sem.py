# SPDX-License-Identifier: LGPL-2.1-or-later
"""posix-sem.py - Python calling glibc's sem_open(3) through ctypes, as a
Python program would without mptools (posix_ipc does the same calls), to
show that `mpsem --posix` works on the same named semaphores.

  python3 posix-sem.py create NAME VALUE  sem_open(O_CREAT|O_EXCL, 0600, VALUE)
  python3 posix-sem.py post NAME          sem_post
  python3 posix-sem.py wait NAME [MS]     sem_wait, or at most MS milliseconds
                                          (sem_timedwait; exit 3 when timed out)
  python3 posix-sem.py trywait NAME       sem_trywait (exit 3 when busy)
  python3 posix-sem.py value NAME         sem_getvalue, printed on stdout
  python3 posix-sem.py unlink NAME        sem_unlink

NAME is given without the leading '/'; glibc opens /dev/shm/sem.NAME.
Exit 2 on any other error, with the errno on stderr.
"""
import ctypes
import errno
import os
import sys
import time

O_CREAT = 0o100
O_EXCL = 0o200


def libc_with_sem_open():
    """sem_open is in libc since glibc 2.34, in libpthread before."""
    for name in (None, "libc.so.6", "libpthread.so.0"):
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            lib.sem_open  # pylint: disable=pointless-statement
            return lib
        except (OSError, AttributeError):
            continue
    sys.exit("posix-sem.py: no sem_open in libc or libpthread")


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def die(what, name):
    e = ctypes.get_errno()
    sys.stderr.write("posix-sem.py: %s /%s: %s\n" % (what, name, os.strerror(e)))
    sys.exit(2)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: posix-sem.py create|post|wait|trywait|value|unlink NAME [N]")
    op, name = sys.argv[1], sys.argv[2]
    path = ("/" + name).encode()
    lib = libc_with_sem_open()
    lib.sem_open.restype = ctypes.c_void_p
    lib.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int]  # then variadic
    for f in ("sem_post", "sem_wait", "sem_trywait", "sem_close"):
        getattr(lib, f).argtypes = [ctypes.c_void_p]
    lib.sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    lib.sem_timedwait.argtypes = [ctypes.c_void_p, ctypes.POINTER(Timespec)]
    lib.sem_unlink.argtypes = [ctypes.c_char_p]

    if op == "unlink":
        if lib.sem_unlink(path) < 0:
            die("sem_unlink", name)
        return 0
    if op == "create":
        # the variadic mode_t and unsigned int, as ints (promoted anyway)
        s = lib.sem_open(path, O_CREAT | O_EXCL, ctypes.c_uint(0o600),
                         ctypes.c_uint(int(sys.argv[3])))
    else:
        s = lib.sem_open(path, 0)
    if not s:  # glibc's SEM_FAILED is a null pointer
        die("sem_open", name)

    if op == "post":
        if lib.sem_post(s) < 0:
            die("sem_post", name)
    elif op == "wait" and len(sys.argv) > 3:
        deadline = time.time() + int(sys.argv[3]) / 1000.0
        ts = Timespec(int(deadline), int((deadline % 1) * 1e9))
        sys.stdout.write("waiting\n")
        sys.stdout.flush()
        while lib.sem_timedwait(s, ctypes.byref(ts)) < 0:
            if ctypes.get_errno() == errno.ETIMEDOUT:
                return 3
            if ctypes.get_errno() != errno.EINTR:
                die("sem_timedwait", name)
    elif op == "wait":
        sys.stdout.write("waiting\n")
        sys.stdout.flush()
        while lib.sem_wait(s) < 0:
            if ctypes.get_errno() != errno.EINTR:
                die("sem_wait", name)
    elif op == "trywait":
        if lib.sem_trywait(s) < 0:
            if ctypes.get_errno() == errno.EAGAIN:
                return 3
            die("sem_trywait", name)
    elif op == "value":
        v = ctypes.c_int()
        if lib.sem_getvalue(s, ctypes.byref(v)) < 0:
            die("sem_getvalue", name)
        print(v.value)
    elif op != "create":
        sys.exit("posix-sem.py: unknown operation " + op)
    lib.sem_close(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
