/* tests/wal/mklog.c — write a WAL of real goraft LogEntries for the raftctl
 * tests: mklog DIR N [SEGMENT_SIZE]. Entry 1 is a raft:join, every 10th a
 * raft:nop (no command), the others `write` commands; term = 1 + index/50.
 * Entries are encoded straight into the batch buffer (wal_reserve), as the
 * leader does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "tests/wal/ring.h"
#include "wal/wal.h"

static int append(struct wal *w, uint64_t index)
{
	char name[32], cmd[128];
	struct wire_log_entry le = { .index = index, .term = 1 + index / 50 };
	uint8_t *p;
	size_t len;
	int rv;

	if (index == 1) {
		snprintf(name, sizeof(name), "raft:join");
		snprintf(cmd, sizeof(cmd), "{\"name\":\"n1\",\"connectionString\":\"http://127.0.0.1:4001\"}\n");
	} else if (index % 10 == 0) {
		snprintf(name, sizeof(name), "raft:nop");
		cmd[0] = 0;
	} else {
		snprintf(name, sizeof(name), "write");
		snprintf(cmd, sizeof(cmd), "{\"key\":\"k%" PRIu64 "\",\"value\":\"v%" PRIu64 "\"}\n",
			 index, index);
	}
	le.command_name = (struct wire_bytes){ (const uint8_t *)name, strlen(name) };
	le.has_command = index % 10 != 0;
	le.command = (struct wire_bytes){ (const uint8_t *)cmd, strlen(cmd) };
	len = wire_encoded_size(WIRE_LOG_ENTRY, &le);
	rv = wal_reserve(w, index, le.term, len, &p, NULL);
	if (rv < 0)
		return rv;
	return wire_encode(WIRE_LOG_ENTRY, &le, p, len) == (long)len ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	struct io_uring ring;
	struct wal *w;
	struct wal_error err;
	struct wal_config cfg = { 0 };
	char msg[512];
	uint64_t n;

	if (argc < 3) {
		fprintf(stderr, "usage: mklog DIR N [SEGMENT_SIZE]\n");
		return 2;
	}
	n = strtoull(argv[2], NULL, 10);
	if (io_uring_queue_init(64, &ring, 0) < 0)
		return 1;
	cfg.dir = argv[1];
	cfg.ring = &ring;
	cfg.segment_size = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
	if (wal_open(&cfg, &w, NULL, &err) < 0) {
		wal_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "mklog: %s\n", msg);
		return 1;
	}
	for (uint64_t i = wal_last_index(w) + 1; i <= n; i++) {
		if (append(w, i) < 0 || wal_flush(w) < 0 || ring_drain(&ring, w) < 0) {
			fprintf(stderr, "mklog: append %" PRIu64 " failed\n", i);
			return 1;
		}
	}
	if (wal_meta_set(w, 1 + n / 50, "n1") < 0 || ring_drain(&ring, w) < 0)
		return 1;
	wal_close(w);
	io_uring_queue_exit(&ring);
	return 0;
}
