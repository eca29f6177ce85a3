/* wal/wal.h — the write-ahead log: segment files written through io_uring.
 *
 * What it is
 *   An append-only log of opaque entries (raftd stores goraft LogEntry bytes)
 *   numbered by consecutive indexes, each with a term, kept in preallocated
 *   segment files in one directory, plus a tiny "meta" file for Raft's
 *   currentTerm and votedFor. The on-disk format is documented byte by byte at
 *   the top of wal/wal.c. The WAL knows nothing of Raft roles or of HTTP.
 *
 * Threading and I/O
 *   Single-threaded, no locks. Every disk operation after wal_open() goes
 *   through the caller's io_uring: the WAL only *prepares* SQEs (each carries
 *   a struct uring_op, see base/uring_op.h); the caller's event loop submits
 *   them and dispatches completions. Nothing in the append path blocks.
 *   wal_open() itself does ordinary blocking I/O (recovery).
 *
 * Group commit
 *   Appends gather in memory. wal_flush() starts the gathered batch: one
 *   writev that is durable when it completes, by RWF_DSYNC (the default) or
 *   by a linked fdatasync (wal_config.sync). While that is in flight, new
 *   appends gather into the next batch, which the WAL starts by itself when
 *   the previous one is durable. After each batch the on_durable callback
 *   says "durable up to index N".
 *
 * Callbacks
 *   Called from completions, i.e. from the caller's event loop (on_error
 *   also from wal_flush() in the one case that the SQ ring cannot take the
 *   WAL's SQEs). They may call any wal_ function except wal_close().
 *
 * Writes are batches of whole 4 KiB blocks at block-aligned offsets, with
 *   O_DIRECT by default (wal_config.buffered): a batch never shares a block
 *   with acknowledged bytes, so a torn write can only hurt the batch being
 *   written.
 *
 * Errors
 *   Functions return 0 (or a count) or a negative errno. The WAL never logs:
 *   struct wal_error says what failed, where (file, offset) and whether it is
 *   fatal, so the caller can log it once (wal_error_format()).
 *   A failed write or fdatasync is never retried (fsyncgate): the WAL enters
 *   the failed state, every later call that writes returns that error, and
 *   the daemon is expected to exit so that recovery reads what is really on
 *   disk. ENOSPC while writing a batch or creating a segment is not fatal:
 *   the batch and everything gathered after it are dropped (nothing of it is
 *   acknowledged), on_error reports it with fatal = false and dropped_from,
 *   and the log stays readable and appendable from dropped_from. With
 *   wal_config.hold_on_nospace the batch is kept instead: on_error reports
 *   held = true, nothing more is written (appends still gather in memory)
 *   until wal_resume() tries again, and the caller's view of the log stays
 *   true: nothing is dropped, only not yet durable.
 *
 * Failpoints
 *   libwal.a has none. wal/libwal_test.a is the same code compiled with
 *   -DWAL_FAILPOINTS, which adds wal_failpoint_arm(): it turns the result of
 *   the Nth completed write/fsync/fallocate/rename/unlink of the process into
 *   an error (io_uring never passes through libc, so LD_PRELOAD can't do it).
 */
#ifndef RAFTD_WAL_WAL_H
#define RAFTD_WAL_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <liburing.h>

#include "base/histogram.h"

#define WAL_BLOCK_SIZE 4096u              /* write and padding granularity */
#define WAL_RECORD_HEADER 32u             /* bytes before each entry's payload */
#define WAL_RECENT_BATCHES 8u /* latest durable batches kept in memory for reading */
#define WAL_DEFAULT_SEGMENT_SIZE (64u << 20)
#define WAL_DEFAULT_BATCH_SIZE (1u << 20)
#define WAL_MIN_SEGMENT_SIZE (64u << 10)
#define WAL_MAX_SEGMENT_SIZE (1u << 30)
#define WAL_DEFAULT_SPARES 4
#define WAL_MAX_SPARES 16u
#define WAL_MAX_VOTE 255u                 /* longest votedFor name */
#define WAL_NAME_MAX 64u                  /* longest file name the WAL creates */

struct wal;
struct wal_buf;

/* How a batch is made durable. Both are safe: the batch is reported only
 * once the kernel says its data, and the metadata needed to read it back,
 * are on stable storage. The default measured fastest (README, "Write-ahead
 * log"; tests/wal/bench_wal.c): a write into preallocated space is handed
 * to an io_uring worker either way, and a linked fsync is a second
 * hand-off after it. */
enum wal_sync {
	WAL_SYNC_DSYNC = 0, /* writev with RWF_DSYNC (default) */
	WAL_SYNC_FSYNC,     /* writev + linked IORING_OP_FSYNC(DATASYNC) */
};

struct wal_error {
	int err;              /* negative errno (-EBADMSG for corruption) */
	bool fatal;           /* the WAL is now in the failed state */
	const char *op;       /* static: "write", "fsync", "recover", ... */
	char file[WAL_NAME_MAX]; /* file name inside the directory, or "" */
	uint64_t offset;      /* byte offset in that file, when it applies */
	uint64_t dropped_from; /* non-fatal batch failure: first index dropped */
	bool held;            /* ENOSPC with hold_on_nospace: nothing dropped,
			       * writing waits for wal_resume() */
	char detail[160];     /* human words, e.g. "gap: entries 5..9 missing ..." */
};

/* One line such as "recover 0000000000000001-0000000000000001.seg offset
 * 8192: bad record (after index 41): Bad message". Returns what snprintf
 * returns. */
int wal_error_format(const struct wal_error *e, char *buf, size_t len);

struct wal_config {
	const char *dir;         /* created (one level) if missing, unless readonly */
	struct io_uring *ring;   /* required unless readonly; >= 8 SQ entries */
	uint64_t segment_size;   /* 0 = default; multiple of WAL_BLOCK_SIZE */
	size_t batch_size;       /* 0 = default; bytes per batch buffer (at most
				  * segment_size / 4; a larger entry gets a
				  * buffer of its own) */
	enum wal_sync sync;
	/* false (default): segments are written with O_DIRECT where the file
	 * system supports it (silently buffered where it does not), which
	 * measured fastest, and keeps recovery after a failed write from
	 * trusting pages the kernel could not write (fsyncgate).
	 * true: buffered writes through the page cache. */
	bool buffered;
	/* Segments removed by compaction or truncation are kept, up to this
	 * many, under a spare name and reused by the next new segments instead
	 * of unlinked (when nothing pins them). Writing into blocks a file
	 * already owns skips the allocation, and the extent conversion when
	 * they were written before, which measured much faster (README,
	 * "Write-ahead log"). Each costs a segment of disk space.
	 * 0 = WAL_DEFAULT_SPARES; negative = none; at most WAL_MAX_SPARES. */
	int spare_segments;
	/* ENOSPC holds the batch (and what gathers after it) instead of
	 * dropping it: see Errors above. */
	bool hold_on_nospace;
	bool readonly;           /* offline inspection: never writes, deletes or
				  * truncates anything, no ring needed */
	void *ctx;               /* passed to every callback */
	/* Every entry <= index is durable (monotonic, except that it drops to
	 * i - 1 after wal_truncate(i)). */
	void (*on_durable)(void *ctx, uint64_t index);
	/* term and voted_for ("" = none) as now durable in the meta file. */
	void (*on_meta)(void *ctx, uint64_t term, const char *voted_for);
	/* Segments removed by wal_compact() are gone durably; the log now
	 * starts at first_index. */
	void (*on_compacted)(void *ctx, uint64_t first_index);
	/* A batch failed (fatal = false: see ENOSPC above) or the WAL failed. */
	void (*on_error)(void *ctx, const struct wal_error *err);
};

/* What recovery found. first_index > last_index when the log is empty. */
struct wal_recovery {
	uint64_t first_index;
	uint64_t last_index;
	uint64_t entries;
	unsigned segments;
	uint64_t bytes;          /* bytes of records scanned (CRC-checked) */
	unsigned stale_files;    /* leftover temp or superseded segments
				  * (removed, unless readonly) */
	bool torn;               /* the last segment had a torn tail, cut off */
	char torn_file[WAL_NAME_MAX];
	uint64_t torn_offset;    /* where the log now ends in torn_file */
	uint64_t torn_bytes;     /* non-zero bytes dropped after torn_offset */
	uint64_t term;           /* durable meta */
	char voted_for[WAL_MAX_VOTE + 1];
};

/* Open (and recover) the WAL in cfg->dir. Every record of every segment is
 * CRC-checked. A torn or zero-filled tail of the last segment is cut off and
 * reported in *ret_rec (readonly: reported only). A bad record anywhere
 * else, or a gap in the indexes, is corruption: returns -EBADMSG with *ret_err
 * naming file and offset, and nothing is deleted or modified. A second
 * read-write opener of the same directory gets -EBUSY. ret_rec and ret_err
 * may be NULL. On success *ret_wal owns the open files and mappings. */
int wal_open(const struct wal_config *cfg, struct wal **ret_wal, struct wal_recovery *ret_rec,
	     struct wal_error *ret_err);

/* True if segments are written with O_DIRECT (see wal_config.buffered). */
bool wal_direct_io(const struct wal *w);

/* True while the WAL has SQEs in flight. */
bool wal_busy(const struct wal *w);

/* Frees everything. Must not be called while wal_busy() (the kernel would
 * write into freed memory): drain the ring first, or simply exit. Batch
 * buffers still pinned by wal_buf_ref() stay valid until their last unref. */
void wal_close(struct wal *w);

/* --- appending --------------------------------------------------------- */

/* Copy `len` bytes as entry `index` (must be wal_last_index() + 1; the first
 * append to an empty new WAL may use any index >= 1) into the current batch
 * (the follower path). Returns 0, -EINVAL (index out of order), -EMSGSIZE
 * (entry larger than a segment can hold), -ENOMEM, -EROFS, or the error that
 * put the WAL in the failed state. Nothing reaches disk before wal_flush(). */
int wal_append(struct wal *w, uint64_t index, uint64_t term, const void *data, size_t len);

/* Zero-copy variant (the leader path): reserve `len` payload bytes for entry
 * `index` in the current batch buffer and return a pointer to them in
 * *ret_ptr. The caller encodes the entry there and must finish writing all
 * `len` bytes before calling wal_flush() or returning to the event loop: the
 * payload's CRC is computed then (wal_flush) or when the batch starts.
 *
 * Ownership: the bytes live in *ret_buf (may be NULL if not wanted). The WAL
 * holds one reference until the batch's write and sync have completed (or
 * the batch failed). To keep the bytes longer — e.g. while a
 * sendmsg_zc points iovecs at them, until the zero-copy notification — take
 * a reference with wal_buf_ref() before returning to the event loop and drop
 * it with wal_buf_unref(). The bytes never move and are never rewritten
 * while a reference is held, even if the entry is truncated. */
int wal_reserve(struct wal *w, uint64_t index, uint64_t term, size_t len, uint8_t **ret_ptr,
		struct wal_buf **ret_buf);
void wal_buf_ref(struct wal_buf *b);
/* Frees the buffer at the last reference. Works after wal_close(). */
void wal_buf_unref(struct wal_buf *b);

/* Start the gathered batch if no batch is in flight (otherwise it starts by
 * itself when the current one is durable). Only prepares SQEs; the caller
 * submits. Returns 0 or the failed-state error. */
int wal_flush(struct wal *w);

/* Held for ENOSPC (hold_on_nospace): is writing waiting for wal_resume()? */
bool wal_nospace(const struct wal *w);
/* Try the held batch again (a no-op when nothing is held); a new ENOSPC
 * reports on_error again. Returns 0 or the failed-state error. */
int wal_resume(struct wal *w);

/* --- reading back --------------------------------------------------------- */

struct wal_entry {
	uint64_t index;
	uint64_t term;
	const uint8_t *data;
	size_t len;
	/* Where the bytes are, exactly one of:
	 * buf: in this batch buffer (a batch not yet durable, or one of the
	 * latest durable ones, kept in memory);
	 * seg: in this segment file's mapping.
	 * Either way they are valid until control returns to the event loop,
	 * and for as long as the caller holds a reference taken with
	 * wal_buf_ref() or wal_seg_ref() (a zero-copy send queued behind
	 * another must not see a segment compacted or superseded meanwhile
	 * unmapped, or its address range reused). */
	struct wal_buf *buf;
	struct wal_seg *seg;
};

/* Keep a segment's mapping (and open file) after the WAL drops it; frees at
 * the last unref, which also works after wal_close(). */
void wal_seg_ref(struct wal_seg *s);
void wal_seg_unref(struct wal_seg *s);

/* Look up entry `index` (whether durable or not). 0 or -ENOENT. */
int wal_entry_get(struct wal *w, uint64_t index, struct wal_entry *ret);
/* Entries <= upto will seldom be read again (applied, say): the pages of
 * the segment maps that hold only such entries leave this process's memory
 * (MADV_DONTNEED: the bytes stay in the file and the page cache, and a later
 * wal_entry_get() reads them back). Without it every entry read, recovery
 * included, stays in the process's RSS until its segment is compacted.
 * Acts only in steps of WAL_RELEASE_STEP bytes, so calling it after every
 * apply costs a comparison; each step also releases the pages read again
 * since the last one. Never fails: a failed madvise() keeps the pages. */
#define WAL_RELEASE_STEP (2u << 20)
void wal_release(struct wal *w, uint64_t upto);
/* Index range of the log (first > last when empty), and durable index. */
uint64_t wal_first_index(const struct wal *w);
uint64_t wal_last_index(const struct wal *w);
uint64_t wal_durable_index(const struct wal *w);
/* How long each batch took, from its write's submission to its fdatasync's
 * success (a retried short write included), for /metrics. */
const struct hist *wal_write_hist(const struct wal *w);

/* --- Raft log maintenance ------------------------------------------------- */

/* Remove entries >= index (Raft conflict resolution, index >= first index).
 * Immediately, wal_last_index() becomes index - 1 and the durable index at
 * most that; the removal is made durable (a new segment starting at index
 * supersedes the old tail) before any later append is reported durable.
 * index == last + 1 does nothing. A cut of entries still gathered in memory
 * does no I/O; a cut reaching the disk starts its own I/O (prepares SQEs).
 * Returns 0, -ERANGE or the failed error. */
int wal_truncate(struct wal *w, uint64_t index);

/* Drop every whole segment whose entries are all < index (after a snapshot).
 * The active segment is never dropped. Returns the number of segments
 * dropped (their entries are gone from wal_entry_get() at once; on_compacted
 * reports when the files are durably removed), or a negative errno. */
int wal_compact(struct wal *w, uint64_t index);

/* Remove the spare segments (wal_config.spare_segments) kept for reuse,
 * e.g. when the disk is too full for a snapshot: they hold the space of
 * segments already compacted away. Returns how many are being removed (the
 * unlinks and a directory fsync follow, like a compaction's), or a negative
 * errno. Later compactions keep spares again. */
int wal_drop_spares(struct wal *w);

/* --- currentTerm and votedFor -------------------------------------------- */

/* Store term and voted_for (NULL or "" = none; at most WAL_MAX_VOTE bytes)
 * durably. Two checksummed slots are written alternately, so a crash at any
 * instant leaves the old or the new value. Act on them only after on_meta
 * reports them. The term may not go down (-EINVAL). Sets issued while one is
 * in flight coalesce: on_meta reports the newest. */
int wal_meta_set(struct wal *w, uint64_t term, const char *voted_for);
/* The durable values (as recovered, or as last reported by on_meta). */
uint64_t wal_meta_term(const struct wal *w);
const char *wal_meta_vote(const struct wal *w);

/* --- rebase: a new log in place of the old one (wal/rebase.c) ------------ */

/* Replaces the closed log in dir with an empty one that keeps the durable
 * term and vote (the meta file, copied and synced), e.g. when the log ends
 * before a snapshot and so cannot continue after it. The swap goes through
 * dir.new and dir.old beside dir and syncs dir's parent; a crash at any point
 * leaves either log whole, or only dir.new, which wal_rebase_repair() takes.
 * Leftover dir.new / dir.old of an earlier attempt are removed first. 0 or a
 * negative errno (dir is then still the old log, or see wal_rebase_repair()). */
int wal_rebase(const char *dir);
/* Before wal_open(): finishes a swap a crash interrupted between its two
 * renames (dir absent, dir.new present: dir.new becomes dir). 1 when it
 * did, 0 when nothing was to do, or rename's negative errno. */
int wal_rebase_repair(const char *dir);

/* --- failpoints (test builds: libwal_test.a) ----------------------------- */

enum wal_fp {
	WAL_FP_WRITE,
	WAL_FP_FSYNC,
	WAL_FP_FALLOCATE,
	WAL_FP_RENAME,
	WAL_FP_UNLINK,
	WAL_FP_COUNT
};

#ifdef WAL_FAILPOINTS
/* From now on, the result of the nth (1-based) completion of kind `fp` is
 * replaced by `res`: a negative errno, or for WAL_FP_WRITE a small positive
 * byte count to fake a short write. One shot; counts are per process and
 * restart at each arm; cancelled linked operations are not counted.
 * wal_failpoint_reset() disarms all. */
void wal_failpoint_arm(enum wal_fp fp, unsigned nth, int res);
void wal_failpoint_reset(void);
#endif

#endif
