/* tests/fault/nofsync.h — forced into the WAL's sources (-include) for the
 * negative control tests/fault/raftd-nofsync: every fsync and fdatasync the
 * WAL asks for, on the ring or by syscall, succeeds without doing anything,
 * and its RWF_DSYNC writes (the default durable write) are plain writes.
 * The WAL then reports entries durable that are only in the page cache; a
 * power failure (tests/fault/run.sh, --disk loop) must show it as lost
 * acknowledged writes. Nothing of wal/ is edited for this. */
#ifndef RAFTD_TESTS_FAULT_NOFSYNC_H
#define RAFTD_TESTS_FAULT_NOFSYNC_H

#include <fcntl.h>
#include <linux/fs.h>
#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

static inline int fault_nofsync(int fd)
{
	(void)fd;
	return 0;
}

#define fsync(fd) fault_nofsync(fd)
#define fdatasync(fd) fault_nofsync(fd)
/* IORING_OP_NOP completes with 0, as a successful fsync would */
#define io_uring_prep_fsync(sqe, fd, flags) ((void)(fd), (void)(flags), io_uring_prep_nop(sqe))
/* every header that defines it is in, and guarded: later includes keep this */
#undef RWF_DSYNC
#define RWF_DSYNC 0

#endif
