# tests/layout: the include rules between the folders (base/ at the bottom,
# then proto/, then wal/ and net/, then src/*; issue 21), checked on the
# sources as they stand. The rules are at the top of the script. And the
# hardening the programs were built with, read from the binaries.
# And that raftd configures without Check (without-check.sh).
TESTS += tests/layout/check-includes.sh tests/layout/check-hardening.sh tests/layout/without-check.sh
EXTRA_DIST += tests/layout/check-includes.sh tests/layout/check-hardening.sh tests/layout/without-check.sh
