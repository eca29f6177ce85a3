# src/kv: the key-value state machine and its snapshot files (src/kv.h).
# Programs that link libkv.a also link base/libbase.a (CRC32C).
noinst_LIBRARIES += src/libkv.a
src_libkv_a_SOURCES = src/kv.c src/kv.h src/kv_snapshot.c
