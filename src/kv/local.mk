# src/kv/: the key-value state machine and its snapshot files (src/kv/kv.h),
# over the MVCC store of src/mvcc/, whose objects libkv.a carries too, so
# that programs linking libkv.a need not know. They also link
# base/libbase.a (CRC32C, the allocation seam).
noinst_LIBRARIES += src/kv/libkv.a
src_kv_libkv_a_SOURCES = src/kv/kv.c src/kv/kv.h src/kv/kv_snapshot.c
src_kv_libkv_a_LIBADD = $(src_mvcc_libmvcc_a_OBJECTS)
src_kv_libkv_a_DEPENDENCIES = $(src_mvcc_libmvcc_a_OBJECTS)
