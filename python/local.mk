# SPDX-License-Identifier: LGPL-2.1-or-later
# mptools.py: ctypes over libmptools, no build step.  Shipped as it is;
# debian/ installs it as python3-mptools; tests/python.bats runs it.
EXTRA_DIST += python/mptools.py
