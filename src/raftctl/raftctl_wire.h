/* src/raftctl/raftctl_wire.h — `raftctl wire ...`; argv[0] is "wire". */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_WIRE_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_WIRE_H

int raftctl_wire(int argc, char **argv);

#endif
