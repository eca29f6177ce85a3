# tests/raft: the Raft core's unit tests (Check); the simulator is in
# tests/sim/local.mk.
check_PROGRAMS += tests/raft/test_raft
TESTS += tests/raft/test_raft
tests_raft_test_raft_SOURCES = $(CHECK_MAIN) $(CORE_FIXTURE) tests/raft/test_raft.c
tests_raft_test_raft_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
# default for GORAFT_WIRE_DIR: ../shared/goraft-wire beside the source tree
tests_raft_test_raft_CPPFLAGS = $(AM_CPPFLAGS) -DRAFT_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_raft_test_raft_LDADD = src/raft/libraft.a proto/libwire.a $(CHECK_LIBS)
