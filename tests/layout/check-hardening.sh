#!/bin/sh
# The programs carry the hardening configure asks for (--disable-hardening
# turns it off, and this test with it): position-independent, relocations
# resolved at start and read-only after (RELRO, BIND_NOW), stack canaries,
# and fortified libc calls (not in the sanitizer build, whose interceptors
# replace them). Read from the binaries, not from the flags, so that a flag
# lost on the way fails here.
b=${top_builddir:-.}
grep -q '^#define RAFTD_HARDENING 1' "$b/config.h" 2>/dev/null || { echo "SKIP: built with --disable-hardening"; exit 77; }
status=0
for prog in src/raftd/raftd src/raftctl/raftctl; do
	f=$b/$prog
	[ -x "$f" ] || { echo "FAIL: $f not built"; status=1; continue; }
	bad=""
	readelf -h "$f" | grep -q 'Type:[[:space:]]*DYN' || bad="$bad not PIE;"
	readelf -l "$f" | grep -q 'GNU_RELRO' || bad="$bad no RELRO;"
	readelf -d "$f" | grep -Eq 'BIND_NOW|FLAGS_1.*NOW' || bad="$bad no BIND_NOW;"
	syms=$(readelf --dyn-syms -W "$f")
	echo "$syms" | grep -q '__stack_chk_fail' || bad="$bad no stack protector;"
	# FORTIFY needs the optimizer: not in sanitizer and coverage builds
	if ! echo "$syms" | grep -q '__asan_init' && ! grep -q '^#define RAFTD_COVERAGE 1' "$b/config.h"; then
		echo "$syms" | grep -Eq ' __[a-z0-9_]+_chk(@|$)' || bad="$bad no fortified calls;"
	fi
	if [ -n "$bad" ]; then
		echo "FAIL: $prog:$bad"
		status=1
	else
		echo "ok: $prog is hardened"
	fi
done
exit $status
