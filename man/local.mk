# SPDX-License-Identifier: LGPL-2.1-or-later
dist_man_MANS += man/mptools.7
dist_man_MANS += man/mptools.3
