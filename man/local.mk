dist_man_MANS += man/mptools.7
