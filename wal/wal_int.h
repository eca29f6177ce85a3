/* wal/wal_int.h — what wal.c and recover.c share; not part of the API. */
#ifndef RAFTD_WAL_INT_H
#define RAFTD_WAL_INT_H

#include <stdarg.h>
#include <string.h>
#include <sys/uio.h>

#include "base/alloc.h"
#include "base/uring_op.h"
#include "base/crc32c.h"
#include "wal/wal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the on-disk format is little-endian and wal/ reads it with memcpy"
#endif

#define SEG_MAGIC "RAFTDWAL"
#define SEG_VERSION 2u          /* written; version 1 segments are still read */
#define SEG_FLAG_RECYCLED 1u    /* header flags: the file held an older segment */
#define SEG_HDR_LEN 52u        /* used bytes of the header block (version 1: 48) */
#define META_MAGIC "RAFTMETA"
#define META_FILE "meta"
#define TMP_FILE "seg.tmp"
#define SPARE_SUFFIX ".spare"
#define PAD_MAX (WAL_BLOCK_SIZE + 32u) /* worst-case padding after a batch */
#define WAL_MAX_IOV 64u
#define WAL_RECENT WAL_RECENT_BATCHES
#define UNLINK_BATCH 8u
#define BUF_POOL_MAX 8u /* idle batch buffers kept for reuse */
#define HUGE_POOL_MAX 4u /* ... and idle huge ones */
/* Huge batch buffers: 2 MiB aligned, with MADV_HUGEPAGE. For batches of
 * large entries: an O_DIRECT write from physically contiguous memory pins
 * one page instead of 512 and reaches the device in fewer, larger
 * segments (on the virtio disk measured, 2 MiB writes from huge pages ran
 * at 2.7-3.1 GB/s, from 4 KiB pages at 1.0-1.4). Small entries never get
 * one: a huge page is resident as a whole. */
#define HUGE_BUF_SIZE (2u << 20)
#define HUGE_ENTRY_MIN (16u << 10)

static inline uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* A record header, decoded. */
struct rec_hdr {
	uint32_t crc;
	uint32_t len;
	uint64_t index; /* 0: padding */
	uint64_t term;
	uint32_t batch_blk;
	uint32_t tag;      /* the segment's tag (0 in version 1) */
};

static inline void rec_get(const uint8_t *p, struct rec_hdr *h)
{
	memcpy(&h->crc, p, 4);
	memcpy(&h->len, p + 4, 4);
	memcpy(&h->index, p + 8, 8);
	memcpy(&h->term, p + 16, 8);
	memcpy(&h->batch_blk, p + 24, 4);
	memcpy(&h->tag, p + 28, 4);
}

static inline void rec_put(uint8_t *p, const struct rec_hdr *h)
{
	memcpy(p, &h->crc, 4);
	memcpy(p + 4, &h->len, 4);
	memcpy(p + 8, &h->index, 8);
	memcpy(p + 16, &h->term, 8);
	memcpy(p + 24, &h->batch_blk, 4);
	memcpy(p + 28, &h->tag, 4);
}

/* Bytes a record with this payload occupies (8-byte aligned). */
static inline uint64_t rec_size(uint64_t len)
{
	return round_up(WAL_RECORD_HEADER + len, 8);
}

/* The CRC covers everything after the CRC field up to the payload's end. */
static inline uint32_t rec_crc(const uint8_t *p, uint32_t len)
{
	return wal_crc32c(0, p + 4, WAL_RECORD_HEADER - 4 + (size_t)len);
}

/* Payloads at least this long get their CRC as soon as they are complete
 * (while still in the cache, and while the previous batch is being
 * written), kept in the record's CRC field until the batch starts, and
 * then combined with the header's CRC. For shorter ones, checksumming the
 * whole record at the start costs less than combining. */
#define WAL_EARLY_CRC_MIN 4096u

struct wal_buf {
	unsigned refs;
	bool closed;       /* takes no more entries */
	bool sealed;       /* padded to a block boundary */
	bool huge;         /* HUGE_BUF_SIZE-aligned, MADV_HUGEPAGE */
	uint8_t *data;     /* WAL_BLOCK_SIZE-aligned (O_DIRECT) */
	size_t cap, used;
	size_t crc_pos;    /* records below this have their early CRC */
	uint64_t first, last; /* valid when noffs > 0 */
	uint32_t *offs;    /* record offset of entry first + i */
	size_t noffs, offs_cap;
	struct wal_buf *next; /* gather list */
};

/* Idle batch buffers of one size, kept for reuse (up to max). */
struct buf_pool {
	struct wal_buf *head;
	unsigned n, max;
	size_t cap;
};

struct wal_seg {
	unsigned refs;     /* the WAL's own (while in w->segs), and wal_seg_ref()s */
	uint64_t seq, first, last; /* last = first - 1 when empty */
	int fd;
	uint8_t *map;
	size_t map_len;
	uint64_t wpos;     /* next write offset, block-aligned */
	uint32_t tag;      /* every record's tag: random, in the header */
	bool sealed;       /* never appended to again */
	uint64_t zeroed;   /* blocks below this were written (none is an unwritten extent) */
	bool cut;          /* shortened by recovery: not reused as a spare */
	uint32_t *offs;    /* record offset of entry first + i */
	size_t offs_cap;
	size_t released;   /* map bytes below this were released (wal_release) */
	char name[WAL_NAME_MAX];
};

/* One SQE's completion: stores the result and finishes its I/O group when
 * the group's last CQE arrives. */
struct wal_op {
	struct uring_op op;
	struct wal *w;
	int *res;
	int *pending;
	void (*done)(struct wal *w);
};

enum wal_busy_kind { BUSY_NONE, BUSY_WRITE, BUSY_CREATE, BUSY_UNLINK };

struct wal_write_io {
	struct wal_op ops[3]; /* the batch's write, its fdatasync, zeros ahead */
	int res[3], pending;
	uint64_t zero_off; /* zeros ahead of the batch to write with it (0 bytes: none) */
	size_t zero_len;
	struct wal_seg *seg;
	struct wal_buf *bufs[WAL_MAX_IOV];
	unsigned nbufs;
	struct iovec iov[WAL_MAX_IOV];
	unsigned iov_first;
	uint64_t off;
	size_t total, done;
	uint64_t last;     /* reported durable on success (clamped by truncation) */
	uint64_t start_ns; /* for write_hist */
};

struct wal_create_io {
	struct wal_op ops[6]; /* openat; fallocate, header, fsync, rename, dir fsync */
	int res[6], pending, stage;
	uint8_t *hdr;
	int fd;
	uint64_t first, seq;
	uint32_t tag;
	bool for_trunc;
	bool direct;          /* this attempt opens with O_DIRECT */
	bool recycled;        /* from a spare: no fallocate, renamed from src */
	char src[WAL_NAME_MAX]; /* TMP_FILE or the spare's name */
	char name[WAL_NAME_MAX];
};

/* A segment to remove: unlinked, or renamed to a spare for reuse. */
struct wal_doomed {
	char name[WAL_NAME_MAX];
	bool recycle;
};

struct wal_unlink_io {
	struct wal_op ops[UNLINK_BATCH + 1];
	int res[UNLINK_BATCH + 1], pending;
	unsigned n;
	char names[UNLINK_BATCH][WAL_NAME_MAX];
	char spares[UNLINK_BATCH][WAL_NAME_MAX]; /* "" : unlinked */
};

struct wal_meta_io {
	struct wal_op ops[2];
	int res[2], pending;
	uint8_t *slot;
	size_t done;
	uint64_t seq, term;
	char vote[WAL_MAX_VOTE + 1];
};

struct wal {
	struct wal_config cfg;
	char *dir;
	int dirfd, metafd;
	uint64_t seg_size, max_entry;
	size_t batch_size;
	bool direct;         /* O_DIRECT: wanted and (so far) supported */
	const uint8_t *zeros; /* WAL_ZERO_AHEAD bytes of zeros (never touched: the zero page), or NULL */
	int failed;          /* 0, or the negative errno that failed the WAL */
	bool nospace;        /* hold_on_nospace: ENOSPC, writing waits for wal_resume() */
	struct wal_error fail_err;
	struct hist write_hist;

	struct wal_seg **segs; /* by index (and sequence) order; last = active */
	size_t nsegs, segs_cap;
	uint64_t next_seq;
	bool anchored;       /* false only for a new WAL before its first append */
	uint64_t first, last, durable;
	uint64_t written;    /* last index handed to the kernel */

	struct wal_buf *gather_head, *gather_tail;
	/* Batch buffers of batch_size that nobody references any more, kept
	 * for the next batches: a freshly allocated buffer costs a page fault
	 * and a page clearing per 4 KiB, more than copying the entries in. */
	struct buf_pool pool, hpool; /* batch_size and HUGE_BUF_SIZE buffers */
	/* The latest durable batches, oldest first, kept for wal_entry_get():
	 * with O_DIRECT the page cache does not hold what was just written,
	 * and reading an entry back through the mapping to apply or send it
	 * would fault it in from the disk, stalling the event loop. */
	struct wal_buf *recent[WAL_RECENT];
	unsigned nrecent;

	enum wal_busy_kind busy;
	bool create_pending, create_for_trunc;
	uint64_t create_first;
	struct wal_doomed *doomed;
	size_t ndoomed, doomed_cap;
	/* Removed segments kept under a spare name (SPARE_SUFFIX) for the next
	 * segments to reuse: on a disk that allocates blocks lazily (thin
	 * provisioning, a discard-mounted SSD or VM image), writing into blocks a
	 * file already owns is much faster than into newly allocated ones. */
	char spares[WAL_MAX_SPARES][WAL_NAME_MAX];
	unsigned nspares, max_spares, spares_coming;
	bool compact_notify;

	struct wal_write_io wr;
	struct wal_create_io cr;
	struct wal_unlink_io ul;
	struct wal_meta_io mt;

	bool meta_busy, meta_pending;
	uint64_t meta_seq, meta_term, pend_term;
	char meta_vote[WAL_MAX_VOTE + 1], pend_vote[WAL_MAX_VOTE + 1];
};

/* Fill *e (if not NULL) and return err. */
int wal_set_error(struct wal_error *e, int err, bool fatal, const char *op, const char *file,
		  uint64_t offset, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* refs 1: the WAL's own, dropped with wal_seg_unref() (the segment lives
 * on while pinned). */
struct wal_seg *wal_seg_new(void);
int wal_seg_push(struct wal_seg *s, uint32_t off);
int wal_segs_add(struct wal *w, struct wal_seg *s);
void wal_seg_header(uint8_t *block, uint32_t version, uint64_t seq, uint64_t first,
		    uint64_t seg_size, uint32_t flags, uint32_t tag);
void wal_seg_name(char *buf, uint64_t seq, uint64_t first);
/* A spare's name: the segment's name with SPARE_SUFFIX for ".seg". */
void wal_spare_name(char *buf, const char *seg_name);

/* recover.c: recovery at open, meta read. */
int wal_recover(struct wal *w, struct wal_recovery *rec, struct wal_error *err);

#ifdef WAL_FAILPOINTS
int wal_fp_filter(enum wal_fp fp, int res);
#else
static inline int wal_fp_filter(enum wal_fp fp, int res)
{
	(void)fp;
	return res;
}
#endif

#endif
