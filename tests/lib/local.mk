# tests/lib: what the unit tests share. CHECK_MAIN is the one main() of the
# Check programs (each defines test_suite()); add it to a new program's
# _SOURCES.
CHECK_MAIN = tests/lib/check_main.c tests/lib/check_main.h
# CORE_FIXTURE builds and drives Raft cores the same way everywhere (one
# core by hand, or a few on a message bus); plain C, so the simulator and
# the fuzzers may use it too. Link src/raft/libraft.a beside it.
CORE_FIXTURE = tests/lib/core_fixture.c tests/lib/core_fixture.h

# The fixture's own tests (its cluster: election, commit, lost messages).
check_PROGRAMS += tests/lib/test_core_fixture
TESTS += tests/lib/test_core_fixture
tests_lib_test_core_fixture_SOURCES = $(CHECK_MAIN) $(CORE_FIXTURE) tests/lib/test_core_fixture.c
tests_lib_test_core_fixture_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_lib_test_core_fixture_LDADD = src/raft/libraft.a $(CHECK_LIBS)

# Certificates for the TLS tests, made at test time (never committed).
EXTRA_DIST += tests/lib/mkcerts.sh
# CERTS runs it once per unit-test program and loads credentials from it
# (certs.h); the program defines MKCERTS, the script's path.
CERTS = tests/lib/certs.c tests/lib/certs.h

# WHOLE_RESPONSE: whether a raw socket's bytes hold a whole HTTP response
# (tests of the HTTP server; link net/libnet.a).
WHOLE_RESPONSE = tests/lib/whole_response.c tests/lib/whole_response.h
