# src/raft*: the Raft core, a pure state machine (no I/O, no clock).
noinst_LIBRARIES += src/libraft.a
src_libraft_a_SOURCES = src/raft.c src/raft.h
