# mpspawn: everything the build knows about it (program, library module,
# tests, man page, completions).  Included from Makefile.am.
