dist_man_MANS += man/mptools.7 man/mplock.1
