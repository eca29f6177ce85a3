/* src/raftctl/raftctl_v3snap.c — snapshot files as etcdctl saves them from
 * raftd (format: raftctl_v3snap.h), and raftd's own. */
#include "src/raftctl/raftctl_v3snap.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512
#define SHA 32

int raftctl_v3snap_inner(const uint8_t *buf, size_t len, size_t *ret_len, char *err, size_t err_len)
{
	uint8_t sha[SHA];
	uint64_t inner;
	*ret_len = len;
	/* A raftd file of such a size ends with its trailer chunk's CRC, not
	 * with a hash of the rest: only a matching hash makes it etcdctl's. */
	if (len < SECTOR + SHA || len % SECTOR != SHA ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, len - SHA, sha) < 0 || memcmp(sha, buf + len - SHA, SHA) != 0)
		return 0;
	memcpy(&inner, buf + len - SHA - 8, 8);
	inner = le64toh(inner);
	if (inner > len - SHA - 8 || len - SHA - 8 - inner >= SECTOR) {
		snprintf(err, err_len, "an etcd v3 snapshot whose trailer gives a length of %llu bytes in %zu",
			 (unsigned long long)inner, len);
		return -EBADMSG;
	}
	for (size_t i = (size_t)inner; i < len - SHA - 8; i++) {
		if (buf[i]) {
			snprintf(err, err_len, "an etcd v3 snapshot with a nonzero byte at offset %zu of its padding", i);
			return -EBADMSG;
		}
	}
	*ret_len = (size_t)inner;
	return 0;
}

int raftctl_snapshot_load(const char *path, struct kv **ret_kv, struct kv_snapshot_meta *ret_meta, char *err,
			  size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rv;
	struct stat st;
	void *map = MAP_FAILED;
	size_t inner;

	err[0] = '\0';
	if (fd < 0 || fstat(fd, &st) < 0) {
		rv = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size == 0) {
		/* mmap refuses an empty file: the loader says what is wrong */
		rv = kv_snapshot_decode("", 0, path, ret_kv, ret_meta, err, err_len);
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rv = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	rv = raftctl_v3snap_inner(map, (size_t)st.st_size, &inner, err, err_len);
	if (rv == 0)
		rv = kv_snapshot_decode(map, inner, path, ret_kv, ret_meta, err, err_len);
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	return rv;
}
