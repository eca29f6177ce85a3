# src/kv: the key-value state machine and its snapshot files (src/kv.h).
# libkv.a uses wal/crc32c.c (CRC32C) without a copy of its own: programs
# that link libkv.a also link wal/libwal.a (only crc32c.o is pulled from it).
noinst_LIBRARIES += src/libkv.a
src_libkv_a_SOURCES = src/kv.c src/kv.h src/kv_snapshot.c
