/* src/raftctl/raftctl_restore.c — `raftctl snapshot restore FILE DATA_DIR`:
 * a new single-member cluster's data directory from a saved snapshot, as
 * `etcdctl snapshot restore` makes one.
 *
 * DATA_DIR gets snap/snapshot-T-I (FILE's key-value state, verified, at its
 * index and term, with the member list replaced by this one node) and name.
 * The WAL is not written here: raftd starts a fresh one after the snapshot
 * at its first start, as for a node whose log was compacted. The old
 * cluster's members are dropped, so the restored node elects itself; the
 * others join it as new members (-join).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/url.h"
#include "src/kv/kv.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_v3snap.h"

#define CMD "snapshot"

/* 0 when dir is missing or empty (then it exists, made here), else why not. */
static int prepare_dir(const char *dir, char *err, size_t err_len)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		if (errno != ENOENT) {
			raftctl_setf(err, err_len, "%s: %s", dir, strerror(errno));
			return -errno;
		}
		if (mkdir(dir, 0700) < 0) {
			raftctl_setf(err, err_len, "cannot create %s: %s", dir, strerror(errno));
			return -errno;
		}
		return 0;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			break;
	closedir(d);
	if (e) {
		/* a node's data would be mixed with the snapshot's */
		raftctl_setf(err, err_len, "%s exists and is not empty: restore into a new directory", dir);
		return -EEXIST;
	}
	return 0;
}

static int write_durable(const char *dir, const char *file, const char *text)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	int rv = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	if (rv == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		rv = fsync(fd) < 0 ? -errno : 0;
		close(fd);
	}
	return rv;
}

int raftctl_snapshot_restore(int argc, char **argv)
{
	static const struct option opts[] = { { "name", required_argument, NULL, 'n' },
					      { "advertise", required_argument, NULL, 'a' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *name = NULL, *url = "http://localhost:4001";
	struct kv_snapshot_meta meta = { 0 };
	struct kv *kv = NULL;
	char err[4600], snapdir[4200];
	struct url u;
	int c, rv;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'a': url = optarg; break;
		case 'h':
			fputs("usage: raftctl snapshot restore --name NAME [--advertise URL] FILE DATA_DIR\n"
			      "\n"
			      "A new one-member cluster's data directory from snapshot FILE (of snapshot\n"
			      "save): its keys, and NAME at URL (default http://localhost:4001) as the only\n"
			      "member. DATA_DIR must be missing or empty. Start raftd on it with the same\n"
			      "--advertise; the other nodes then join it.\n",
			      stdout);
			return 0;
		default: return raftctl_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return raftctl_usage_error(CMD, "restore needs FILE and DATA_DIR");
	if (!name || !*name || strchr(name, '\n') || strchr(name, '/'))
		return raftctl_usage_error(CMD, "restore needs --name NAME (the new node's name)");
	if (url_parse(url, URL_HTTPS, &u) < 0)
		return raftctl_usage_error(CMD, "--advertise '%s' must be http://HOST:PORT or https://HOST:PORT", url);
	const char *file = argv[optind], *dir = argv[optind + 1];

	/* read and verify it all before anything is created */
	rv = raftctl_snapshot_load(file, &kv, &meta, err, sizeof(err)); /* also etcdctl snapshot save's */
	if (rv < 0)
		return raftctl_fail(CMD, "restore: %s", err[0] ? err : strerror(-rv));
	rv = prepare_dir(dir, err, sizeof(err));
	if (rv == 0) {
		struct kv_member self = { .name = { (char *)name, strlen(name) },
					  .connection_string = { (char *)url, strlen(url) } };
		struct kv_snapshot_meta one = { .last_index = meta.last_index, .last_term = meta.last_term,
						.n_members = 1, .members = &self };
		snprintf(snapdir, sizeof(snapdir), "%s/snap", dir);
		if (mkdir(snapdir, 0700) < 0) {
			rv = -errno;
			raftctl_setf(err, sizeof(err), "cannot create %s: %s", snapdir, strerror(errno));
		} else if ((rv = kv_snapshot_save(snapdir, kv, &one, err, sizeof(err))) < 0) {
			;
		} else if ((rv = write_durable(dir, "name", name)) < 0) {
			raftctl_setf(err, sizeof(err), "%s/name: %s", dir, strerror(-rv));
		}
	}
	size_t keys = kv_count(kv);
	kv_free(kv);
	if (rv < 0) {
		kv_snapshot_meta_free(&meta);
		return raftctl_fail(CMD, "restore: %s", err);
	}
	if (raftctl_g.json)
		rv = rc_emit(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "file", file, "data_dir", dir, "name",
				       name, "url", url, "index", (json_int_t)meta.last_index, "term",
				       (json_int_t)meta.last_term, "keys", (json_int_t)keys));
	else
		rv = printf("restored %s (index %" PRIu64 ", term %" PRIu64 ", %zu keys) into %s: a one-member "
			    "cluster, %s at %s\nstart it with: raftd --advertise %s %s\n",
			    file, meta.last_index, meta.last_term, keys, dir, name, url, url, dir) < 0 ||
		     fflush(stdout);
	kv_snapshot_meta_free(&meta);
	return rv ? 1 : 0;
}
