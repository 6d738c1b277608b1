# The test-only fault points (src/lib/fault.h, compiled in by
# --enable-fault-injection) and the kill -9 torture harness.
src_lib_libmp_a_SOURCES += src/lib/fault.c src/lib/fault.h
