/* src/raftctl/raftctl_cmds.h — the entry point of each raftctl command (one
 * file each, src/raftctl/raftctl_<name>.c); argv[0] is the command's name. */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_CMDS_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_CMDS_H

#include "src/raftctl/raftctl_wal.h"
#include "src/raftctl/raftctl_wire.h"

int raftctl_status(int argc, char **argv);
int raftctl_members(int argc, char **argv);
int raftctl_get(int argc, char **argv);
int raftctl_put(int argc, char **argv);
int raftctl_delete(int argc, char **argv);
int raftctl_compact(int argc, char **argv);
int raftctl_watch(int argc, char **argv);
int raftctl_lease(int argc, char **argv);
/* lock and elect: src/raftctl/raftctl_lock.c */
int raftctl_lock(int argc, char **argv);
int raftctl_elect(int argc, char **argv);
int raftctl_snapshot(int argc, char **argv);
/* `snapshot restore ...`, argv[0] "restore" (src/raftctl/raftctl_restore.c) */
int raftctl_snapshot_restore(int argc, char **argv);
int raftctl_leader(int argc, char **argv);
int raftctl_endpoint(int argc, char **argv);
int raftctl_logs(int argc, char **argv);
int raftctl_bench(int argc, char **argv);
int raftctl_check(int argc, char **argv);
int raftctl_import_goraft(int argc, char **argv);

#endif
