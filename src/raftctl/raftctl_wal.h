/* src/raftctl/raftctl_wal.h — `raftctl wal ...`; argv[0] is "wal". */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_WAL_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_WAL_H

int raftctl_wal(int argc, char **argv);

#endif
