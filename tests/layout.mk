# tests/layout: the include rules between the folders (base/ at the bottom,
# then proto/, then wal/ and net/, then src/*; issue 21), checked on the
# sources as they stand. The rules are at the top of the script.
TESTS += tests/layout/check-includes.sh
EXTRA_DIST += tests/layout/check-includes.sh
