# Fault-tolerance suite (tests/fault/README.md): real raftd clusters under
# partitions, crashes, pauses, membership changes and disk faults, with every
# client history checked for linearizability and lost writes.

# The checker (linz.c: WGL search; history.c: the checks of a run) and its
# unit tests on hand-made and generated histories.
check_LIBRARIES += tests/fault/libfaultcheck.a
tests_fault_libfaultcheck_a_SOURCES = tests/fault/linz.c tests/fault/linz.h \
	tests/fault/history.c tests/fault/history.h

check_PROGRAMS += tests/fault/test_linz
TESTS += tests/fault/test_linz
tests_fault_test_linz_SOURCES = tests/fault/test_linz.c
tests_fault_test_linz_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_fault_test_linz_LDADD = tests/fault/libfaultcheck.a $(CHECK_LIBS)

check_PROGRAMS += tests/fault/fault-check
tests_fault_fault_check_SOURCES = tests/fault/fault_check.c
tests_fault_fault_check_LDADD = tests/fault/libfaultcheck.a
