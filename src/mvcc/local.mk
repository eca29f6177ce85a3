# src/mvcc/: the MVCC store of etcd's v3 API (src/mvcc/mvcc.h). Pure: no
# I/O, no clock. Programs that link libmvcc.a also link base/libbase.a
# (the allocation seam).
noinst_LIBRARIES += src/mvcc/libmvcc.a
src_mvcc_libmvcc_a_SOURCES = src/mvcc/mvcc.c src/mvcc/mvcc.h src/mvcc/mvcc_int.h src/mvcc/index.c \
	src/mvcc/check.c src/mvcc/history.c src/mvcc/lease.c
