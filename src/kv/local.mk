# src/kv/: the key-value state machine and its snapshot files (src/kv/kv.h).
# Programs that link libkv.a also link base/libbase.a (CRC32C).
noinst_LIBRARIES += src/kv/libkv.a
src_kv_libkv_a_SOURCES = src/kv/kv.c src/kv/kv.h src/kv/kv_snapshot.c
