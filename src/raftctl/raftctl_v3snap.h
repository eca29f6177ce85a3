/* src/raftctl/raftctl_v3snap.h — reading a snapshot file as `raftctl
 * snapshot restore` takes it: raftd's own (GET /raftd/snapshot, a data
 * directory's snap/) or the one `etcdctl snapshot save` writes from raftd's
 * etcd v3 Maintenance.Snapshot stream (src/raftd/v3_maint.c):
 *
 *   raftd's snapshot file | zero bytes | le64 its length | SHA-256 of all before
 *
 * where the zero bytes make all before the hash a multiple of 512 bytes
 * (etcdctl 3.4 checks that the size is 32 more than one).
 */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_V3SNAP_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_V3SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "src/kv/kv.h"

/* The length of the raftd snapshot inside buf: len for a plain file, the
 * length its trailer gives for an etcdctl one (its hash verified). -EBADMSG
 * with err filled when the trailer is there but wrong (a damaged file). */
int raftctl_v3snap_inner(const uint8_t *buf, size_t len, size_t *ret_len, char *err, size_t err_len);

/* kv_snapshot_load() for either kind of file. Same returns. */
int raftctl_snapshot_load(const char *path, struct kv **ret_kv, struct kv_snapshot_meta *ret_meta, char *err,
			  size_t err_len);

#endif
