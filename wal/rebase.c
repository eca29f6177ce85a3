/* wal/rebase.c — a new, empty log in place of an old one, keeping the
 * durable term and vote (the meta file), and the repair of a swap a crash
 * interrupted. See wal_rebase() in wal/wal.h.
 *
 * DIR.new is built beside DIR (meta copied and synced), then DIR -> DIR.old,
 * DIR.new -> DIR, the parent synced and DIR.old removed. A crash:
 *   before the first rename   DIR intact, DIR.new garbage (the next rebase
 *                             removes it);
 *   between the renames       only DIR.new (and DIR.old): wal_rebase_repair()
 *                             renames DIR.new to DIR;
 *   after the second          DIR is the new log, DIR.old garbage (the next
 *                             rebase removes it).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal/wal.h"
#include "wal/wal_int.h"

#define REBASE_DIR_MAX 4096 /* dir's own length, below */

static int copy_file_synced(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rv = 0;
	uint8_t buf[8192];
	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		rv = -errno;
		goto out;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));
		if (r < 0) {
			rv = -errno;
			goto out;
		}
		if (!r)
			break;
		if (write(out, buf, (size_t)r) != r) {
			rv = -EIO;
			goto out;
		}
	}
	if (fsync(out) < 0)
		rv = -errno;
out:
	if (out >= 0)
		close(out);
	close(in);
	return rv;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rv = fd < 0 || fsync(fd) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	return rv;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes one of our own DIR.old / DIR.new directories. */
static int remove_tree(const char *dir)
{
	if (nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* DIR's parent, where the renames happen. */
static void parent_of(const char *dir, char *out, size_t len)
{
	const char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(out, len, ".");
	else if (slash == dir)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - dir), dir);
}

int wal_rebase(const char *dir)
{
	char fresh[4200], old[4200], from[4300], to[4300], parent[4200];
	if (strlen(dir) >= REBASE_DIR_MAX)
		return -ENAMETOOLONG;
	snprintf(fresh, sizeof(fresh), "%s.new", dir);
	snprintf(old, sizeof(old), "%s.old", dir);
	snprintf(from, sizeof(from), "%s/" META_FILE, dir);
	snprintf(to, sizeof(to), "%s/" META_FILE, fresh);
	parent_of(dir, parent, sizeof(parent));
	/* a DIR.old left by an earlier rebase that stopped before removing
	 * it is garbage (that swap was done): rename() needs the name free */
	int rv = remove_tree(old);
	if (rv == 0)
		rv = remove_tree(fresh);
	if (rv == 0 && mkdir(fresh, 0700) < 0)
		rv = -errno;
	if (rv == 0)
		rv = copy_file_synced(from, to);
	if (rv == 0)
		rv = sync_dir(fresh);
	if (rv == 0 && rename(dir, old) < 0)
		rv = -errno;
	if (rv == 0 && rename(fresh, dir) < 0)
		rv = -errno;
	if (rv == 0)
		rv = sync_dir(parent);
	if (rv == 0)
		remove_tree(old);
	return rv;
}

int wal_rebase_repair(const char *dir)
{
	char fresh[4200];
	struct stat st;
	if (strlen(dir) >= REBASE_DIR_MAX)
		return -ENAMETOOLONG;
	snprintf(fresh, sizeof(fresh), "%s.new", dir);
	if (stat(dir, &st) < 0 && errno == ENOENT && stat(fresh, &st) == 0)
		return rename(fresh, dir) < 0 ? -errno : 1;
	return 0;
}
