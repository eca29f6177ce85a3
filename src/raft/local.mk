# src/raft/: the Raft core, a pure state machine (no I/O, no clock).
noinst_LIBRARIES += src/raft/libraft.a
src_raft_libraft_a_SOURCES = src/raft/raft.c src/raft/raft.h
