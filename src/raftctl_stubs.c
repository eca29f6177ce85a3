#include "src/raftctl_cmds.h"
int raftctl_logs(int argc, char **argv) { return 1; }
int raftctl_bench(int argc, char **argv) { return 1; }
int raftctl_check(int argc, char **argv) { return 1; }
