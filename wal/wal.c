/* wal/wal.c — appending, group commit, truncation, compaction and meta.
 *
 * ON-DISK FORMAT (version 2; version 1 is read too). All integers
 * little-endian.
 *
 * A WAL directory holds
 *   SSSSSSSSSSSSSSSS-IIIIIIIIIIIIIIII.seg   segment files (seq S, first index I,
 *                                          both 16 lowercase hex digits, so
 *                                          `ls` sorts them in sequence order)
 *   SSSSSSSSSSSSSSSS-IIIIIIIIIIIIIIII.spare a removed segment kept for reuse:
 *                                          not part of the log, contents
 *                                          meaningless
 *   meta                                   currentTerm and votedFor
 *   seg.tmp                                a segment being created (ignored
 *                                          and removed by recovery)
 *
 * Segment file: preallocated (fallocate) to the segment size, which is a
 * multiple of 4096, or a spare renamed into place. Block 0 (bytes 0..4095)
 * is the header, zero after byte 52 (version 1: after byte 48):
 *   0   8  magic "RAFTDWAL"
 *   8   4  format version, 2 (1: no flags, no tag)
 *   12  4  block size, 4096
 *   16  8  sequence number (unique, increasing with creation order)
 *   24  8  first index: index of the first entry that may follow
 *   32  8  segment size in bytes as preallocated
 *   40  4  flags: 1 = recycled (the file held an older segment, whose
 *          records may follow this one's)
 *   44  4  CRC32C of bytes 0..43 then 48..51 (version 1: of 0..43)
 *   48  4  tag: random, not 0, drawn when the segment is created
 * Records follow from byte 4096, each starting at an 8-byte aligned offset:
 *   0   4  CRC32C of bytes 4 .. 32+len-1 (rest of this header and payload)
 *   4   4  len: payload length
 *   8   8  index (1, 2, 3... consecutive), or 0 for a padding record
 *   16  8  term
 *   24  4  batch block: offset / 4096 of the first record of the batch
 *          (the write) this record was written in
 *   28  4  tag: the segment's (0 in version 1), so that a recycled file's
 *          older records never pass for new ones. It is random because
 *          payloads are clients' bytes: a value could carry a well-formed
 *          record, with a predictable tag, to where a recycled file's tail
 *          is read
 *   32  len payload: a goraft LogEntry exactly as encoded or received
 *          (zero bytes for padding), then 0..7 zero bytes to realign.
 * A batch is one write: whole 4096-byte blocks starting at a block boundary,
 * ending with a padding record that fills the last block (a padding record
 * is at least 32 bytes, so it may spill into one more block). Bytes of a
 * segment once written are never written again: a later batch starts in a
 * fresh block, so a torn write can only ever damage the batch being written.
 * After the last record the preallocated space reads as zeros (unwritten,
 * or zeros written ahead: zero_ahead()), or, in a recycled segment, as
 * whatever the file held before (records with another tag). A version 1 segment is appended to in version 1. A binary that
 * knows only version 1 refuses version 2 segments ("bad segment header").
 *
 * Truncation ("drop entries >= i") never touches existing segments: it
 * creates a new segment whose first index is i. A segment whose sequence
 * number is higher supersedes every entry >= its first index in all older
 * segments (and older segments whose first index is >= it entirely).
 *
 * Meta file: two 4096-byte slots at offsets 0 and 4096; slot (seq & 1) is
 * written with seq = previous seq + 1, so the current slot is never touched:
 *   0   4  CRC32C of bytes 4 .. 32+vote_len-1
 *   4   4  vote_len (0: voted for nobody), at most 255
 *   8   8  seq
 *   16  8  currentTerm
 *   24  8  magic "RAFTMETA"
 *   32  vote_len bytes: votedFor
 * The valid slot with the higher seq wins; none valid means term 0, no vote.
 *
 * RECOVERY (recover.c). Segments are taken in sequence order and the
 * superseded ones dropped. Each remaining segment is read record by record,
 * checking CRC, length and index continuity, up to the first index its
 * successor starts at; it must reach exactly that index, else the log has a
 * gap or a bad record: corruption, open fails naming file and offset. In the
 * last segment the first bad record ends the log (a torn tail: the write in
 * flight at the crash) unless a later batch starts after it, or a record of
 * its own batch (with the tag and its batch block) verifies after it: the
 * batch was written completely, so the bad record had been acknowledged:
 * corruption again. A torn tail is cut
 * off (ftruncate, fdatasync) and reported; the segment is then sealed and
 * the next append starts a new one, so the cut block is never written again.
 * In a recycled last segment the log ends at the first record without the
 * segment's tag too (the file's older contents): the segment is sealed
 * there, so that the next append starts a new one and no record of a torn
 * batch can ever follow new ones. Only a record with the tag that does not
 * verify, or has the wrong index, is a torn tail (cut, and reported, with
 * the rest of its batch as far as the record headers show); a later batch
 * with the tag is corruption as above.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "wal/wal_int.h"

static void kick(struct wal *w);

/* --- small helpers ------------------------------------------------------ */

int wal_set_error(struct wal_error *e, int err, bool fatal, const char *op, const char *file,
		  uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return err;
	memset(e, 0, sizeof(*e));
	e->err = err;
	e->fatal = fatal;
	e->op = op;
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->offset = offset;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
		va_end(ap);
	}
	return err;
}

int wal_error_format(const struct wal_error *e, char *buf, size_t len)
{
	char where[WAL_NAME_MAX + 40] = "";

	if (e->file[0])
		snprintf(where, sizeof(where), " %s offset %" PRIu64, e->file, e->offset);
	return snprintf(buf, len, "%s%s%s%s: %s", e->op ? e->op : "wal", where,
			e->detail[0] ? ": " : "", e->detail, strerror(-e->err));
}

void wal_seg_name(char *buf, uint64_t seq, uint64_t first)
{
	snprintf(buf, WAL_NAME_MAX, "%016" PRIx64 "-%016" PRIx64 ".seg", seq, first);
}

void wal_spare_name(char *buf, const char *seg_name)
{
	snprintf(buf, WAL_NAME_MAX, "%.33s" SPARE_SUFFIX, seg_name);
}

void wal_seg_header(uint8_t *b, uint32_t version, uint64_t seq, uint64_t first,
		    uint64_t seg_size, uint32_t flags, uint32_t tag)
{
	uint32_t bs = WAL_BLOCK_SIZE, crc;

	memset(b, 0, WAL_BLOCK_SIZE);
	memcpy(b, SEG_MAGIC, 8);
	memcpy(b + 8, &version, 4);
	memcpy(b + 12, &bs, 4);
	memcpy(b + 16, &seq, 8);
	memcpy(b + 24, &first, 8);
	memcpy(b + 32, &seg_size, 8);
	memcpy(b + 40, &flags, 4);
	crc = wal_crc32c(0, b, 44);
	if (version > 1) {
		memcpy(b + 48, &tag, 4);
		crc = wal_crc32c(crc, b + 48, 4);
	}
	memcpy(b + 44, &crc, 4);
}

struct wal_seg *wal_seg_new(void)
{
	struct wal_seg *s = base_calloc(1, sizeof(*s));

	if (s) {
		s->refs = 1;
		s->fd = -1;
	}
	return s;
}

void wal_seg_ref(struct wal_seg *s)
{
	s->refs++;
}

void wal_seg_unref(struct wal_seg *s)
{
	if (!s || --s->refs)
		return;
	if (s->map)
		munmap(s->map, s->map_len);
	if (s->fd >= 0)
		close(s->fd);
	free(s->offs);
	free(s);
}

int wal_seg_push(struct wal_seg *s, uint32_t off)
{
	size_t n = s->last + 1 - s->first;

	/* records follow the header block, in file order */
	assert(off >= WAL_BLOCK_SIZE && (n == 0 || off > s->offs[n - 1]));
	if (n == s->offs_cap) {
		size_t cap = s->offs_cap ? 2 * s->offs_cap : 1024;
		uint32_t *o = base_realloc(s->offs, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		s->offs = o;
		s->offs_cap = cap;
	}
	s->offs[n] = off;
	s->last++;
	return 0;
}

int wal_segs_add(struct wal *w, struct wal_seg *s)
{
	/* segments in sequence order, each log taking up where the one
	 * before ends (a truncation shortened that one first) */
	assert(!w->nsegs || (s->seq > w->segs[w->nsegs - 1]->seq &&
			     s->first == w->segs[w->nsegs - 1]->last + 1));
	if (w->nsegs == w->segs_cap) {
		size_t cap = w->segs_cap ? 2 * w->segs_cap : 16;
		struct wal_seg **v = base_realloc(w->segs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->segs = v;
		w->segs_cap = cap;
	}
	w->segs[w->nsegs++] = s;
	return 0;
}

static struct wal_seg *active_seg(struct wal *w)
{
	return w->nsegs ? w->segs[w->nsegs - 1] : NULL;
}

/* Queue a segment for removal; call before dropping the WAL's reference.
 * It becomes a spare if there is room and nothing else maps it: a pinned
 * mapping may still be read by a send, and a spare is soon overwritten. */
static int doom_name(struct wal *w, const char *name, bool recycle)
{
	struct wal_doomed *d;

	if (w->ndoomed == w->doomed_cap) {
		size_t cap = w->doomed_cap ? 2 * w->doomed_cap : 8;
		struct wal_doomed *v = base_realloc(w->doomed, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->doomed = v;
		w->doomed_cap = cap;
	}
	d = &w->doomed[w->ndoomed++];
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->recycle = recycle;
	if (recycle)
		w->spares_coming++;
	assert(w->nspares + w->spares_coming <= WAL_MAX_SPARES);
	return 0;
}

static int doom_add(struct wal *w, const struct wal_seg *s)
{
	return doom_name(w, s->name,
			 s->refs == 1 && !s->cut && s->map_len == w->seg_size &&
				 w->nspares + w->spares_coming < w->max_spares);
}

/* The completion of any SQE the WAL submits. */
static void op_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct wal_op *o = (struct wal_op *)op;

	*o->res = cqe->res;
	if (--*o->pending == 0)
		o->done(o->w);
}

static void op_init(struct wal_op *o, struct wal *w, int *res, int *pending,
		    void (*done)(struct wal *w))
{
	o->op.complete = op_complete;
	o->w = w;
	o->res = res;
	o->pending = pending;
	o->done = done;
}

/* n SQEs, or NULL. Submits what is queued to make room: a full SQ ring must
 * not stall the log. */
static bool sq_room(struct wal *w, unsigned n)
{
	if (io_uring_sq_space_left(w->cfg.ring) >= n)
		return true;
	io_uring_submit(w->cfg.ring);
	return io_uring_sq_space_left(w->cfg.ring) >= n;
}

/* sq_room() was checked for the whole group, so this cannot fail. */
static struct io_uring_sqe *sqe_get(struct wal *w)
{
	return io_uring_get_sqe(w->cfg.ring);
}

/* Mark a prepared SQE as o's and link it to the next one (flags). Must come
 * after io_uring_prep_*(), which zeroes sqe->flags: a link flag set before
 * it is silently lost, and the "linked" fdatasync then runs concurrently
 * with the write it was meant to follow. */
static void sqe_own(struct io_uring_sqe *sqe, struct wal_op *o, unsigned flags)
{
	uring_op_set(sqe, &o->op);
	sqe->flags |= flags;
}

/* Enter the failed state (fsyncgate: no retry, the caller must restart). */
static void fail(struct wal *w, int err, const char *op, const char *file, uint64_t off,
		 const char *detail)
{
	if (w->failed)
		return;
	w->failed = err;
	wal_set_error(&w->fail_err, err, true, op, file, off, "%s", detail ? detail : "");
	if (w->cfg.on_error)
		w->cfg.on_error(w->cfg.ctx, &w->fail_err);
}

/* --- batch buffers ------------------------------------------------------ */

static struct wal_buf *buf_new(size_t cap, bool huge)
{
	struct wal_buf *b = base_calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	if (huge)
		cap = HUGE_BUF_SIZE;
	if (base_memalign((void **)&b->data, huge ? HUGE_BUF_SIZE : WAL_BLOCK_SIZE, cap)) {
		free(b);
		return NULL;
	}
	/* Before the first touch; where THP is off this changes nothing. */
	if (huge)
		(void)madvise(b->data, cap, MADV_HUGEPAGE);
	b->cap = cap;
	b->huge = huge;
	b->refs = 1;
	return b;
}

/* A batch buffer of at least cap bytes: from a pool if it has the size. */
static struct wal_buf *buf_get(struct wal *w, size_t cap, bool huge)
{
	struct buf_pool *pool = huge ? &w->hpool : &w->pool;
	struct wal_buf *b = pool->head;

	if (cap > pool->cap || !b)
		return buf_new(cap > w->batch_size ? cap : w->batch_size, huge);
	pool->head = b->next;
	pool->n--;
	b->refs = 1;
	b->closed = b->sealed = false;
	b->used = b->crc_pos = 0;
	b->first = b->last = 0;
	b->noffs = 0;
	b->next = NULL;
	return b;
}

/* Drop the WAL's reference to b; keep b for reuse if that was the last one.
 * A buffer someone else still holds (wal_buf_ref) is never reused. */
static void buf_put(struct wal *w, struct wal_buf *b)
{
	struct buf_pool *pool = b->huge ? &w->hpool : &w->pool;

	if (b->refs == 1 && b->cap == pool->cap && pool->n < pool->max) {
		b->next = pool->head;
		pool->head = b;
		pool->n++;
		return;
	}
	wal_buf_unref(b);
}

static void pool_free(struct buf_pool *pool)
{
	while (pool->head) {
		struct wal_buf *b = pool->head;
		pool->head = b->next;
		wal_buf_unref(b);
	}
	pool->n = 0;
}

void wal_buf_ref(struct wal_buf *b)
{
	b->refs++;
}

/* b's entries are durable: keep it for reading back, dropping the oldest. */
static void recent_push(struct wal *w, struct wal_buf *b)
{
	if (w->nrecent == WAL_RECENT) {
		buf_put(w, w->recent[0]);
		memmove(w->recent, w->recent + 1, (WAL_RECENT - 1) * sizeof(*w->recent));
		w->nrecent--;
	}
	b->refs++;
	w->recent[w->nrecent++] = b;
}

/* Forget kept batches holding entries >= i (all of them: i = 0). */
static void recent_cut(struct wal *w, uint64_t i)
{
	while (w->nrecent && w->recent[w->nrecent - 1]->last >= i)
		buf_put(w, w->recent[--w->nrecent]);
}

void wal_buf_unref(struct wal_buf *b)
{
	if (!b || --b->refs)
		return;
	free(b->data);
	free(b->offs);
	free(b);
}

static int buf_push(struct wal_buf *b, uint64_t index, uint32_t off)
{
	/* a batch holds consecutive indexes, in buffer order */
	assert(!b->noffs || (index == b->last + 1 && off > b->offs[b->noffs - 1]));
	assert(off < b->cap);
	if (b->noffs == b->offs_cap) {
		size_t cap = b->offs_cap ? 2 * b->offs_cap : 64;
		uint32_t *o = base_realloc(b->offs, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		b->offs = o;
		b->offs_cap = cap;
	}
	if (!b->noffs)
		b->first = index;
	b->offs[b->noffs++] = off;
	b->last = index;
	return 0;
}

/* Pad to a block boundary with one padding record. */
static void buf_seal(struct wal_buf *b)
{
	size_t r = round_up(b->used, WAL_BLOCK_SIZE) - b->used;
	struct rec_hdr h = { 0 };

	b->closed = true;
	if (b->sealed)
		return;
	b->sealed = true;
	if (!r)
		return;
	if (r < WAL_RECORD_HEADER)
		r += WAL_BLOCK_SIZE;
	h.len = (uint32_t)(r - WAL_RECORD_HEADER);
	memset(b->data + b->used, 0, r);
	rec_put(b->data + b->used, &h);
	b->used += r;
}

/* Early CRCs for every record from crc_pos on: their payloads are complete
 * (wal_reserve's contract) whenever wal_flush() is called. */
static void buf_crc_payloads(struct wal_buf *b)
{
	while (b->crc_pos < b->used) {
		uint8_t *p = b->data + b->crc_pos;
		uint32_t len, crc;

		memcpy(&len, p + 4, 4);
		if (len >= WAL_EARLY_CRC_MIN) {
			crc = wal_crc32c(0, p + WAL_RECORD_HEADER, len);
			memcpy(p, &crc, 4);
		}
		b->crc_pos += rec_size(len);
	}
}

/* Fill in the batch block, tag and CRC of every record: only now are the
 * batch block and the segment known. */
static void buf_finish(struct wal_buf *b, uint32_t batch_blk, uint32_t tag)
{
	for (size_t pos = 0; pos < b->used;) {
		uint8_t *p = b->data + pos;
		struct rec_hdr h;
		bool early = pos < b->crc_pos;

		rec_get(p, &h);
		h.batch_blk = batch_blk;
		h.tag = tag;
		rec_put(p, &h);
		if (early && h.len >= WAL_EARLY_CRC_MIN)
			h.crc = wal_crc32c_combine(wal_crc32c(0, p + 4, WAL_RECORD_HEADER - 4),
						   h.crc, h.len);
		else
			h.crc = rec_crc(p, h.len);
		memcpy(p, &h.crc, 4);
		pos += rec_size(h.len);
	}
}

static void gather_drop_all(struct wal *w)
{
	while (w->gather_head) {
		struct wal_buf *b = w->gather_head;
		w->gather_head = b->next;
		buf_put(w, b);
	}
	w->gather_tail = NULL;
}

/* Cut buffer b before entry i. If anyone else holds b, its bytes must not
 * change (a zero-copy send may be reading them): copy the kept part. */
static int buf_cut(struct wal *w, struct wal_buf **bp, uint64_t i)
{
	struct wal_buf *b = *bp, *nb;
	size_t keep = i - b->first;
	size_t used = b->offs[keep];

	if (b->refs > 1) {
		nb = buf_get(w, b->cap, b->huge);
		if (!nb)
			return -ENOMEM;
		if (nb->offs_cap < keep) {
			uint32_t *o = base_realloc(nb->offs, keep * sizeof(*o));
			if (!o) {
				wal_buf_unref(nb);
				return -ENOMEM;
			}
			nb->offs = o;
			nb->offs_cap = keep;
		}
		memcpy(nb->data, b->data, used);
		memcpy(nb->offs, b->offs, keep * sizeof(*nb->offs));
		nb->first = b->first;
		nb->next = b->next;
		wal_buf_unref(b);
		*bp = b = nb;
	}
	b->used = used;
	if (b->crc_pos > used)
		b->crc_pos = used;
	b->noffs = keep;
	b->last = i - 1;
	b->closed = true;
	b->sealed = false;
	return 0;
}

/* Forget gathered entries >= i. */
static int gather_cut(struct wal *w, uint64_t i)
{
	struct wal_buf **bp = &w->gather_head, *prev = NULL;
	int rv;

	while (*bp) {
		struct wal_buf *b = *bp;
		if (b->first >= i) {
			*bp = NULL;
			while (b) {
				struct wal_buf *n = b->next;
				buf_put(w, b);
				b = n;
			}
			break;
		}
		if (b->last >= i) {
			rv = buf_cut(w, bp, i);
			if (rv < 0)
				return rv;
		}
		prev = *bp;
		bp = &(*bp)->next;
	}
	w->gather_tail = prev;
	return 0;
}

/* --- appending ---------------------------------------------------------- */

int wal_reserve(struct wal *w, uint64_t index, uint64_t term, size_t len, uint8_t **ret_ptr,
		struct wal_buf **ret_buf)
{
	struct wal_buf *b = w->gather_tail;
	struct rec_hdr h = { 0 };
	uint64_t rec = rec_size(len);
	uint8_t *p;
	int rv;

	if (w->failed)
		return w->failed;
	if (w->cfg.readonly)
		return -EROFS;
	if (len > w->max_entry)
		return -EMSGSIZE;
	if (!index || (w->anchored && index != w->last + 1))
		return -EINVAL;
	if (!b || b->closed || b->used + rec + PAD_MAX > b->cap) {
		size_t need = round_up(rec + PAD_MAX, WAL_BLOCK_SIZE);
		/* Large entries, or a batch that already filled a buffer; and
		 * like every buffer, one must fit in an empty segment 4 times. */
		bool huge = (len >= HUGE_ENTRY_MIN || b) && need <= HUGE_BUF_SIZE &&
			    HUGE_BUF_SIZE <= w->seg_size / 4;
		struct wal_buf *nb = buf_get(w, need, huge);
		/* Linked only with its first entry: no empty buffer in the list. */
		rv = nb ? buf_push(nb, index, 0) : -ENOMEM;
		if (rv < 0) {
			wal_buf_unref(nb);
			return rv;
		}
		if (b)
			b->closed = true, b->next = nb;
		else
			w->gather_head = nb;
		w->gather_tail = b = nb;
	} else {
		rv = buf_push(b, index, (uint32_t)b->used);
		if (rv < 0)
			return rv;
	}
	if (!w->anchored) {
		/* A new, empty WAL starts wherever the caller starts (e.g. after a
		 * snapshot). */
		w->anchored = true;
		w->first = index;
		w->written = w->durable = index - 1;
	}
	p = b->data + b->used;
	h.len = (uint32_t)len;
	h.index = index;
	h.term = term;
	rec_put(p, &h);
	/* Alignment bytes go to disk too: never leak uninitialised memory. */
	memset(p + WAL_RECORD_HEADER + len, 0, rec - WAL_RECORD_HEADER - len);
	b->used += rec;
	w->last = index;
	assert(b->used + PAD_MAX <= b->cap); /* room left to seal it */
	assert(w->durable <= w->written && w->written <= w->last);
	*ret_ptr = p + WAL_RECORD_HEADER;
	if (ret_buf)
		*ret_buf = b;
	return 0;
}

int wal_append(struct wal *w, uint64_t index, uint64_t term, const void *data, size_t len)
{
	struct wal_buf *b;
	uint8_t *p;
	int rv = wal_reserve(w, index, term, len, &p, &b);

	if (rv == 0 && len) {
		memcpy(p, data, len);
		/* Only if every record before it is complete: one reserved
		 * before may still be being filled. */
		if ((size_t)(p - b->data) == b->crc_pos + WAL_RECORD_HEADER)
			buf_crc_payloads(b);
	}
	return rv;
}

int wal_flush(struct wal *w)
{
	if (w->failed)
		return w->failed;
	for (struct wal_buf *b = w->gather_head; b; b = b->next)
		buf_crc_payloads(b);
	kick(w);
	return w->failed;
}

bool wal_nospace(const struct wal *w)
{
	return w->nospace;
}

int wal_resume(struct wal *w)
{
	if (w->failed)
		return w->failed;
	if (w->nospace) {
		w->nospace = false;
		for (struct wal_buf *b = w->gather_head; b; b = b->next)
			buf_crc_payloads(b);
		kick(w);
	}
	return w->failed;
}

/* --- the batch write ---------------------------------------------------- */

/* A new segment is preallocated with fallocate(): unwritten extents. A
 * write into them converts them, a metadata change, so the fdatasync after
 * it waits for a journal commit; over blocks already written it only
 * flushes the data. So a small batch that reaches past the written part of
 * its segment takes the next WAL_ZERO_AHEAD bytes with it, as zeros: one
 * conversion per WAL_ZERO_AHEAD bytes of log instead of one per batch. The
 * zeros read as the unwritten space did (the end of the log, recover.c);
 * they are not waited for by the fdatasync, and never written over a
 * record: the next batch is written only once they have completed. Large
 * batches convert enough on their own. */
#define WAL_ZERO_AHEAD (1024 * 1024)

static void zero_ahead(struct wal *w, struct wal_write_io *io)
{
	struct wal_seg *seg = io->seg;
	uint64_t end = io->off + io->total;

	io->zero_len = 0;
	if (end <= seg->zeroed)
		return;
	if (w->direct && io->total < WAL_ZERO_AHEAD && end < seg->map_len) {
		if (!w->zeros) {
			void *z = mmap(NULL, WAL_ZERO_AHEAD, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			w->zeros = z == MAP_FAILED ? NULL : z;
		}
		if (w->zeros) {
			io->zero_off = end;
			io->zero_len = seg->map_len - end < WAL_ZERO_AHEAD ? seg->map_len - end : WAL_ZERO_AHEAD;
		}
	}
	seg->zeroed = end + io->zero_len;
}

static void write_done(struct wal *w);
static void write_release(struct wal *w);

static void write_submit(struct wal *w)
{
	struct wal_write_io *io = &w->wr;
	struct io_uring_sqe *sqe;
	unsigned n = (w->cfg.sync == WAL_SYNC_FSYNC ? 2 : 1) + (io->zero_len ? 1 : 0);

	if (!sq_room(w, n)) {
		fail(w, -EBUSY, "submit", io->seg->name, io->off, "io_uring SQ ring full");
		write_release(w);
		return;
	}
	io->pending = (int)n;
	io->res[1] = 0;
	if (io->zero_len) {
		/* once, not again with the rest of a short write; its result
		 * does not matter (unwritten space reads as zeros too) */
		sqe = sqe_get(w);
		io_uring_prep_write(sqe, io->seg->fd, w->zeros, (unsigned)io->zero_len, io->zero_off);
		sqe_own(sqe, &io->ops[2], 0);
		io->zero_len = 0;
	}
	sqe = sqe_get(w);
	io_uring_prep_writev(sqe, io->seg->fd, io->iov + io->iov_first, io->nbufs - io->iov_first,
			     io->off + io->done);
	sqe_own(sqe, &io->ops[0], w->cfg.sync == WAL_SYNC_FSYNC ? IOSQE_IO_LINK : 0);
	if (w->cfg.sync == WAL_SYNC_DSYNC) {
		sqe->rw_flags = RWF_DSYNC;
	} else {
		sqe = sqe_get(w);
		io_uring_prep_fsync(sqe, io->seg->fd, IORING_FSYNC_DATASYNC);
		sqe_own(sqe, &io->ops[1], 0);
	}
}

static void write_start(struct wal *w, struct wal_seg *seg)
{
	struct wal_write_io *io = &w->wr;

	io->seg = seg;
	io->off = seg->wpos;
	io->nbufs = 0;
	io->iov_first = 0;
	io->total = io->done = 0;
	io->start_ns = hist_now_ns();
	while (w->gather_head && io->nbufs < WAL_MAX_IOV &&
	       seg->wpos + io->total + w->gather_head->used <= seg->map_len) {
		struct wal_buf *b = w->gather_head;
		/* O_DIRECT: whole blocks; one write, one run of indexes */
		assert(b->sealed && b->used % WAL_BLOCK_SIZE == 0 && b->used <= b->cap);
		assert(io->nbufs == 0 || b->first == io->last + 1);
		w->gather_head = b->next;
		b->next = NULL;
		buf_finish(b, (uint32_t)(io->off / WAL_BLOCK_SIZE), seg->tag);
		io->bufs[io->nbufs] = b;
		io->iov[io->nbufs].iov_base = b->data;
		io->iov[io->nbufs].iov_len = b->used;
		io->nbufs++;
		io->total += b->used;
		io->last = b->last;
	}
	if (!w->gather_head)
		w->gather_tail = NULL;
	assert(io->nbufs > 0 && io->off % WAL_BLOCK_SIZE == 0 && io->off + io->total <= seg->map_len);
	w->written = io->last;
	w->busy = BUSY_WRITE;
	zero_ahead(w, io);
	op_init(&io->ops[0], w, &io->res[0], &io->pending, write_done);
	op_init(&io->ops[1], w, &io->res[1], &io->pending, write_done);
	op_init(&io->ops[2], w, &io->res[2], &io->pending, write_done);
	write_submit(w);
}

static void write_release(struct wal *w)
{
	struct wal_write_io *io = &w->wr;

	for (unsigned i = 0; i < io->nbufs; i++)
		buf_put(w, io->bufs[i]);
	io->nbufs = 0;
	w->busy = BUSY_NONE;
}

/* ENOSPC: the batch that failed starts at `from`; drop it and everything
 * gathered after it. A truncation made while the batch was in flight may
 * have cut below `from`, and the entries appended after that cut are in the
 * gather list: the log now ends before the lowest of these. A truncation
 * still waiting for its segment then cuts there, so that the next index
 * goes into a segment that starts with it. Reports the error (not fatal). */
static void nospace(struct wal *w, uint64_t from, const char *op, const char *file, uint64_t off)
{
	struct wal_error e;

	if (w->gather_head && w->gather_head->first < from)
		from = w->gather_head->first;
	if (w->last + 1 < from)
		from = w->last + 1;
	gather_drop_all(w);
	recent_cut(w, from);
	w->last = w->written = from - 1;
	if (w->durable > w->last)
		w->durable = w->last;
	if (w->create_pending && w->create_first > from)
		w->create_first = from;
	wal_set_error(&e, -ENOSPC, false, op, file, off, "batch from index %" PRIu64 " dropped",
		      from);
	e.dropped_from = from;
	if (w->cfg.on_error)
		w->cfg.on_error(w->cfg.ctx, &e);
	kick(w);
}

/* hold_on_nospace: keep everything gathered and write nothing until
 * wal_resume(). */
static void nospace_hold(struct wal *w, const char *op, const char *file, uint64_t off)
{
	struct wal_error e;

	w->nospace = true;
	wal_set_error(&e, -ENOSPC, false, op, file, off, "batch from index %" PRIu64 " held",
		      w->gather_head ? w->gather_head->first : w->last + 1);
	e.held = true;
	if (w->cfg.on_error)
		w->cfg.on_error(w->cfg.ctx, &e);
}

/* ENOSPC on a batch write: nothing of it is acknowledged; the segment is
 * sealed so the next append starts a new one whose first index supersedes
 * whatever part of the batch reached the disk. */
static void write_nospace(struct wal *w)
{
	struct wal_write_io *io = &w->wr;
	uint64_t from = io->bufs[0]->first;

	io->seg->sealed = true;
	/* Held: the batch goes back to the front of the gather list, to be
	 * written into the next segment (batch block, tag and CRCs again).
	 * Unless a truncation cut it while it was in flight: then it is
	 * dropped as without hold_on_nospace. */
	if (w->cfg.hold_on_nospace && io->last == io->bufs[io->nbufs - 1]->last &&
	    !w->create_pending) {
		for (unsigned i = io->nbufs; i-- > 0;) {
			struct wal_buf *b = io->bufs[i];
			b->crc_pos = 0;
			b->next = w->gather_head;
			w->gather_head = b;
			if (!w->gather_tail)
				w->gather_tail = b;
		}
		io->nbufs = 0;
		w->busy = BUSY_NONE;
		w->written = from - 1;
		nospace_hold(w, "write", io->seg->name, io->off);
		return;
	}
	write_release(w);
	nospace(w, from, "write", io->seg->name, io->off);
}

/* Point the iovecs at the batch from byte io->done on. */
static void iov_seek(struct wal_write_io *io)
{
	size_t skip = io->done;

	for (unsigned i = 0; i < io->nbufs; i++) {
		struct wal_buf *b = io->bufs[i];
		if (skip >= b->used) {
			skip -= b->used;
			continue;
		}
		io->iov_first = i;
		io->iov[i].iov_base = b->data + skip;
		io->iov[i].iov_len = b->used - skip;
		return;
	}
}

static void write_done(struct wal *w)
{
	struct wal_write_io *io = &w->wr;
	int wres = wal_fp_filter(WAL_FP_WRITE, io->res[0]);
	uint64_t off = io->off;
	int fres;

	if (w->failed) {
		write_release(w);
		return;
	}
	/* -EAGAIN and short writes are not success: write the rest, and sync
	 * again (the linked fsync was cancelled by the short write). */
	if (wres == -EAGAIN) {
		write_submit(w);
		return;
	}
	if (wres == -ENOSPC) {
		write_nospace(w);
		return;
	}
	if (wres <= 0) {
		fail(w, wres ? wres : -EIO, "write", io->seg->name, io->off + io->done,
		     wres ? NULL : "write returned 0");
		write_release(w);
		return;
	}
	io->done += (size_t)wres;
	if (io->done < io->total) {
		/* Resume at a block boundary: O_DIRECT needs aligned offsets, and
		 * rewriting the start of a block of this same, unacknowledged
		 * batch is harmless. */
		io->done -= io->done % WAL_BLOCK_SIZE;
		iov_seek(io);
		write_submit(w);
		return;
	}
	if (w->cfg.sync == WAL_SYNC_FSYNC) {
		fres = wal_fp_filter(WAL_FP_FSYNC, io->res[1]);
		if (fres < 0) {
			fail(w, fres, "fsync", io->seg->name, io->off, NULL);
			write_release(w);
			return;
		}
	}
	/* Durable: index the entries for read-back from the mapping. */
	for (unsigned i = 0; i < io->nbufs; i++) {
		struct wal_buf *b = io->bufs[i];
		for (size_t k = 0; k < b->noffs && b->first + k <= io->last; k++) {
			if (wal_seg_push(io->seg, (uint32_t)(off + b->offs[k])) < 0) {
				fail(w, -ENOMEM, "index", io->seg->name, off, NULL);
				write_release(w);
				return;
			}
		}
		off += b->used;
	}
	hist_observe(&w->write_hist, hist_now_ns() - io->start_ns);
	io->seg->wpos += io->total;
	assert(io->seg->wpos <= io->seg->map_len);
	if (io->last > w->durable)
		w->durable = io->last;
	/* A truncation during the write may have dropped its tail (io->last):
	 * such a batch is not kept, its stale entries must not be read. */
	for (unsigned i = 0; i < io->nbufs; i++)
		if (io->bufs[i]->noffs && io->bufs[i]->last <= io->last)
			recent_push(w, io->bufs[i]);
	write_release(w);
	if (w->cfg.on_durable)
		w->cfg.on_durable(w->cfg.ctx, w->durable);
	kick(w);
}

/* --- segment creation --------------------------------------------------- */

static void create_done(struct wal *w);

static void create_open(struct wal *w)
{
	struct wal_create_io *io = &w->cr;
	int oflags = O_RDWR | O_CLOEXEC | (io->recycled ? 0 : O_CREAT | O_TRUNC);
	struct io_uring_sqe *sqe = sqe_get(w);

	io->direct = w->direct;
	io->pending = 1;
	io_uring_prep_openat(sqe, w->dirfd, io->src, oflags | (io->direct ? O_DIRECT : 0), 0644);
	sqe_own(sqe, &io->ops[0], 0);
}

/* A segment's tag: random and not 0 (version 1 records have 0). */
static uint32_t new_tag(uint64_t seq)
{
	uint32_t tag = 0;

	if (getrandom(&tag, sizeof(tag), GRND_NONBLOCK) != sizeof(tag)) {
		/* Early boot: unpredictable enough, and never repeats a seq's. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		tag = (uint32_t)(seq * 0x9e3779b97f4a7c15ull) ^ (uint32_t)ts.tv_nsec ^
		      (uint32_t)getpid() << 16;
	}
	return tag ? tag : 1;
}

/* The next segment reuses a spare if there is one (and use_spare). */
static void create_pick_source(struct wal *w, bool use_spare)
{
	struct wal_create_io *io = &w->cr;

	io->recycled = use_spare && w->nspares > 0;
	snprintf(io->src, sizeof(io->src), "%s", io->recycled ? w->spares[--w->nspares] : TMP_FILE);
	io->tag = new_tag(io->seq);
	wal_seg_header(io->hdr, SEG_VERSION, io->seq, io->first, w->seg_size,
		       io->recycled ? SEG_FLAG_RECYCLED : 0, io->tag);
}

static void create_start(struct wal *w)
{
	struct wal_create_io *io = &w->cr;

	if (!sq_room(w, 1)) {
		fail(w, -EBUSY, "submit", TMP_FILE, 0, "io_uring SQ ring full");
		return;
	}
	io->first = w->create_first;
	io->for_trunc = w->create_for_trunc;
	w->create_pending = false;
	io->seq = w->next_seq++;
	wal_seg_name(io->name, io->seq, io->first);
	create_pick_source(w, true);
	io->stage = 0;
	io->fd = -1;
	w->busy = BUSY_CREATE;
	for (unsigned i = 0; i < 6; i++)
		op_init(&io->ops[i], w, &io->res[i], &io->pending, create_done);
	create_open(w);
}

/* Linked: preallocate (a spare already is), header, fsync, rename into
 * place, fsync directory. The segment appears under its real name only
 * complete and synced; until then a spare is still just a spare. */
static void create_chain(struct wal *w)
{
	struct wal_create_io *io = &w->cr;
	unsigned n = io->recycled ? 4 : 5;
	struct io_uring_sqe *sqe;

	if (!sq_room(w, n)) {
		fail(w, -EBUSY, "submit", io->src, 0, "io_uring SQ ring full");
		close(io->fd);
		io->fd = -1;
		w->busy = BUSY_NONE;
		return;
	}
	io->stage = 1;
	io->pending = (int)n;
	io->res[1] = 0;
	if (!io->recycled) {
		sqe = sqe_get(w);
		io_uring_prep_fallocate(sqe, io->fd, 0, 0, (off_t)w->seg_size);
		sqe_own(sqe, &io->ops[1], IOSQE_IO_LINK);
	}
	sqe = sqe_get(w);
	io_uring_prep_write(sqe, io->fd, io->hdr, WAL_BLOCK_SIZE, 0);
	sqe_own(sqe, &io->ops[2], IOSQE_IO_LINK);
	sqe = sqe_get(w);
	io_uring_prep_fsync(sqe, io->fd, 0);
	sqe_own(sqe, &io->ops[3], IOSQE_IO_LINK);
	sqe = sqe_get(w);
	io_uring_prep_renameat(sqe, w->dirfd, io->src, w->dirfd, io->name, 0);
	sqe_own(sqe, &io->ops[4], IOSQE_IO_LINK);
	sqe = sqe_get(w);
	io_uring_prep_fsync(sqe, w->dirfd, 0);
	sqe_own(sqe, &io->ops[5], 0);
}

/* The first real error of the chain (cancelled links are consequences). */
static int create_error(struct wal_create_io *io, const char **ret_op)
{
	static const struct {
		enum wal_fp fp;
		const char *op;
	} steps[6] = {
		{ WAL_FP_COUNT, "open" },      { WAL_FP_FALLOCATE, "fallocate" },
		{ WAL_FP_WRITE, "write" },     { WAL_FP_FSYNC, "fsync" },
		{ WAL_FP_RENAME, "rename" },   { WAL_FP_FSYNC, "fsync" },
	};
	int err = 0;

	for (int i = 1; i < 6; i++) {
		int r = io->res[i];
		if (r == -ECANCELED)
			continue;
		r = wal_fp_filter(steps[i].fp, r);
		if (i == 2 && r >= 0 && r != (int)WAL_BLOCK_SIZE)
			r = -EIO; /* short header write: never happens on a fresh file */
		if (r < 0 && !err) {
			err = r;
			*ret_op = steps[i].op;
		}
	}
	if (!err && io->res[1] == -ECANCELED) {
		err = -ECANCELED;
		*ret_op = "fallocate";
	}
	return err;
}

/* ENOSPC before the segment exists under its name: the batch waiting for
 * it is dropped cleanly (a truncation's segment cannot be dropped: that is
 * fatal, the old tail is still on disk). */
static void create_nospace(struct wal *w, const char *op)
{
	struct wal_create_io *io = &w->cr;
	/* io_uring does not cancel the rest of the chain after a failed
	 * fallocate (seen on 6.18): the rename may have put the empty segment
	 * under its name. Held, the WAL goes on, and that segment would
	 * outlive the newer one with the same first index that replaces it
	 * (after a compaction): recovery would find a gap. It is removed.
	 * (Dropped, the caller restarts, and recovery takes it for an empty
	 * last segment, or a superseded one.) */
	bool renamed = io->stage && io->res[4] == 0 && w->cfg.hold_on_nospace;

	w->busy = BUSY_NONE;
	if (renamed && doom_name(w, io->name, false) < 0) {
		fail(w, -ENOMEM, op, io->name, 0, "creating segment");
		return;
	}
	if (w->cfg.hold_on_nospace) {
		/* The segment is made again on wal_resume(); a spare it was
		 * to come from stays one. */
		if (io->recycled && !renamed && w->nspares < WAL_MAX_SPARES)
			snprintf(w->spares[w->nspares++], WAL_NAME_MAX, "%s", io->src);
		nospace_hold(w, op, io->name, 0);
		return;
	}
	nospace(w, io->first, op, io->name, 0);
}

static void create_done(struct wal *w)
{
	struct wal_create_io *io = &w->cr;
	const char *op = "open";
	struct wal_seg *s = NULL;
	int err;

	if (io->stage == 0) {
		err = io->res[0];
		if (err == -EINVAL && io->direct && !w->failed && sq_room(w, 1)) {
			/* No O_DIRECT on this file system: buffered from now on. */
			w->direct = false;
			create_open(w);
			return;
		}
		if (err < 0 && io->recycled && !w->failed && sq_room(w, 1)) {
			/* The spare is gone or unusable (it stays where it is
			 * until the next recovery): a new file instead. */
			create_pick_source(w, false);
			create_open(w);
			return;
		}
		if (err >= 0) {
			io->fd = err;
			if (!w->failed) {
				create_chain(w);
				return;
			}
		}
	} else {
		err = create_error(io, &op);
	}
	if (w->failed) {
		err = w->failed; /* already reported: just clean up */
		goto out;
	}
	if (err == -ENOSPC && !io->for_trunc &&
	    (!strcmp(op, "open") || !strcmp(op, "fallocate") || !strcmp(op, "write"))) {
		close(io->fd);
		io->fd = -1;
		create_nospace(w, op);
		return;
	}
	if (err < 0)
		goto out;
	op = "create";
	s = wal_seg_new();
	if (!s) {
		err = -ENOMEM;
		goto out;
	}
	s->fd = io->fd;
	io->fd = -1;
	s->seq = io->seq;
	s->tag = io->tag;
	s->first = io->first;
	s->last = io->first - 1;
	s->wpos = WAL_BLOCK_SIZE;
	s->map_len = w->seg_size;
	/* a spare was written through when it was a segment: no zeros ahead */
	s->zeroed = io->recycled ? s->map_len : WAL_BLOCK_SIZE;
	snprintf(s->name, sizeof(s->name), "%s", io->name);
	s->map = mmap(NULL, s->map_len, PROT_READ, MAP_SHARED, s->fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		err = -errno;
		op = "mmap";
		goto out;
	}
	/* The new segment is durable under its name: it now supersedes every
	 * older entry >= its first index, on disk and here. */
	while (w->nsegs && w->segs[w->nsegs - 1]->first >= s->first) {
		struct wal_seg *d = w->segs[--w->nsegs];
		err = doom_add(w, d);
		wal_seg_unref(d);
		if (err < 0)
			goto out;
	}
	if (w->nsegs && w->segs[w->nsegs - 1]->last >= s->first)
		w->segs[w->nsegs - 1]->last = s->first - 1;
	if (w->nsegs)
		w->segs[w->nsegs - 1]->sealed = true;
	err = wal_segs_add(w, s);
	if (err < 0)
		goto out;
	if (w->segs[0] == s)
		w->first = s->first;
	s = NULL;
out:
	wal_seg_unref(s);
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	w->busy = BUSY_NONE;
	if (err < 0)
		fail(w, err, op, io->stage ? io->name : io->src, 0, "creating segment");
	else
		kick(w);
}

/* --- removing segments -------------------------------------------------- */

static void unlink_done(struct wal *w);

static void unlink_start(struct wal *w)
{
	struct wal_unlink_io *io = &w->ul;
	unsigned n = w->ndoomed < UNLINK_BATCH ? (unsigned)w->ndoomed : UNLINK_BATCH;
	struct io_uring_sqe *sqe;

	if (!sq_room(w, n + 1)) {
		fail(w, -EBUSY, "submit", w->doomed[0].name, 0, "io_uring SQ ring full");
		return;
	}
	io->n = n;
	io->pending = (int)n + 1;
	w->busy = BUSY_UNLINK;
	for (unsigned i = 0; i <= n; i++)
		op_init(&io->ops[i], w, &io->res[i], &io->pending, unlink_done);
	for (unsigned i = 0; i < n; i++) {
		/* The kernel reads the paths at submission, after we return:
		 * keep copies that no realloc of the doomed list can move. */
		memcpy(io->names[i], w->doomed[i].name, WAL_NAME_MAX);
		io->spares[i][0] = 0;
		sqe = sqe_get(w);
		if (w->doomed[i].recycle) {
			wal_spare_name(io->spares[i], io->names[i]);
			io_uring_prep_renameat(sqe, w->dirfd, io->names[i], w->dirfd, io->spares[i], 0);
		} else {
			io_uring_prep_unlinkat(sqe, w->dirfd, io->names[i], 0);
		}
		/* Hard links: one that fails (-ENOENT is fine, see unlink_done)
		 * must not cancel the others or the directory sync, which still
		 * comes after all of them. */
		sqe_own(sqe, &io->ops[i], IOSQE_IO_HARDLINK);
	}
	sqe = sqe_get(w);
	io_uring_prep_fsync(sqe, w->dirfd, 0);
	sqe_own(sqe, &io->ops[n], 0);
}

static void unlink_done(struct wal *w)
{
	struct wal_unlink_io *io = &w->ul;

	w->busy = BUSY_NONE;
	if (w->failed)
		return;
	for (unsigned i = 0; i <= io->n; i++) {
		int r = io->res[i];
		bool spare = i < io->n && io->spares[i][0];
		if (spare)
			w->spares_coming--;
		if (r == -ECANCELED)
			continue;
		r = wal_fp_filter(i == io->n ? WAL_FP_FSYNC : spare ? WAL_FP_RENAME : WAL_FP_UNLINK, r);
		/* Already gone (e.g. left by a failed creation): that is the goal. */
		if (r < 0 && !(i < io->n && r == -ENOENT)) {
			fail(w, r, i == io->n ? "fsync" : spare ? "rename" : "unlink",
			     i < io->n ? io->names[i] : ".", 0, "removing segment");
			return;
		}
		if (spare && r >= 0) {
			assert(w->nspares < WAL_MAX_SPARES);
			memcpy(w->spares[w->nspares++], io->spares[i], WAL_NAME_MAX);
		}
	}
	w->ndoomed -= io->n;
	memmove(w->doomed, w->doomed + io->n, w->ndoomed * sizeof(*w->doomed));
	if (!w->ndoomed && w->compact_notify) {
		w->compact_notify = false;
		if (w->cfg.on_compacted)
			w->cfg.on_compacted(w->cfg.ctx, w->first);
	}
	kick(w);
}

/* --- the scheduler: one log operation in flight at a time --------------- */

static void kick(struct wal *w)
{
	struct wal_seg *seg;
	struct wal_buf *b;

	if (w->failed || w->busy != BUSY_NONE || w->cfg.readonly)
		return;
	/* A truncation's new segment goes first: no later batch may be
	 * acknowledged before the removal is durable. */
	if (w->create_pending) {
		create_start(w);
		return;
	}
	if (w->ndoomed) {
		unlink_start(w);
		return;
	}
	if (!w->gather_head || w->nospace)
		return;
	for (b = w->gather_head; b; b = b->next)
		buf_seal(b);
	seg = active_seg(w);
	b = w->gather_head;
	/* map_len: a segment from before a change of segment_size keeps its
	 * own size. */
	if (!seg || seg->sealed || seg->wpos + b->used > seg->map_len) {
		w->create_first = b->first;
		w->create_for_trunc = false;
		create_start(w);
		return;
	}
	write_start(w, seg);
}

/* --- truncation and compaction ------------------------------------------ */

int wal_truncate(struct wal *w, uint64_t index)
{
	int rv;

	if (w->failed)
		return w->failed;
	if (w->cfg.readonly)
		return -EROFS;
	if (index == w->last + 1)
		return 0;
	if (!w->anchored || index > w->last + 1 || index < w->first)
		return -ERANGE;
	rv = gather_cut(w, index);
	if (rv < 0)
		return rv;
	recent_cut(w, index);
	if (index <= w->written) {
		/* Some of the tail is on disk, or being written: supersede it
		 * with a new segment before anything else is acknowledged. */
		w->create_pending = true;
		w->create_for_trunc = true;
		w->create_first = index;
		w->written = index - 1;
		if (w->busy == BUSY_WRITE && w->wr.last > index - 1)
			w->wr.last = index - 1;
		kick(w);
	}
	w->last = index - 1;
	if (w->durable > index - 1)
		w->durable = index - 1;
	return 0;
}

int wal_compact(struct wal *w, uint64_t index)
{
	size_t n = 0;
	int rv = 0;

	if (w->failed)
		return w->failed;
	if (w->cfg.readonly)
		return -EROFS;
	while (n + 1 < w->nsegs && w->segs[n]->last < index) {
		rv = doom_add(w, w->segs[n]);
		if (rv < 0)
			break;
		wal_seg_unref(w->segs[n]);
		n++;
	}
	memmove(w->segs, w->segs + n, (w->nsegs - n) * sizeof(*w->segs));
	w->nsegs -= n;
	if (n) {
		w->first = w->segs[0]->first;
		w->compact_notify = true;
		kick(w);
	}
	return rv < 0 ? rv : (int)n;
}

int wal_drop_spares(struct wal *w)
{
	unsigned n = 0;
	int rv;

	if (w->failed)
		return w->failed;
	if (w->cfg.readonly)
		return -EROFS;
	while (w->nspares) {
		rv = doom_name(w, w->spares[w->nspares - 1], false);
		if (rv < 0)
			return rv;
		w->nspares--;
		n++;
	}
	if (n)
		kick(w);
	return (int)n;
}

/* --- reading back -------------------------------------------------------- */

static int entry_from_buf(struct wal_buf *b, uint64_t index, struct wal_entry *ret)
{
	struct rec_hdr h;
	const uint8_t *p = b->data + b->offs[index - b->first];

	rec_get(p, &h);
	ret->index = index;
	ret->term = h.term;
	ret->data = p + WAL_RECORD_HEADER;
	ret->len = h.len;
	ret->buf = b;
	ret->seg = NULL;
	return 0;
}

int wal_entry_get(struct wal *w, uint64_t index, struct wal_entry *ret)
{
	size_t lo = 0, hi = w->nsegs;
	struct wal_seg *s;
	struct rec_hdr h;
	const uint8_t *p;

	if (!w->anchored || index < w->first || index > w->last)
		return -ENOENT;
	/* Newest first: after a truncation, stale copies of an index may
	 * still sit in the batch in flight or in a segment to be cut. */
	for (struct wal_buf *b = w->gather_head; b; b = b->next)
		if (b->noffs && index >= b->first && index <= b->last)
			return entry_from_buf(b, index, ret);
	if (w->busy == BUSY_WRITE && index <= w->wr.last)
		for (unsigned i = 0; i < w->wr.nbufs; i++) {
			struct wal_buf *b = w->wr.bufs[i];
			if (b->noffs && index >= b->first && index <= b->last)
				return entry_from_buf(b, index, ret);
		}
	for (unsigned i = w->nrecent; i-- > 0;) {
		struct wal_buf *b = w->recent[i];
		if (index >= b->first && index <= b->last)
			return entry_from_buf(b, index, ret);
	}
	while (lo < hi) { /* last segment with first <= index */
		size_t mid = (lo + hi) / 2;
		if (w->segs[mid]->first <= index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	s = w->segs[lo - 1];
	if (index > s->last)
		return -ENOENT;
	p = s->map + s->offs[index - s->first];
	rec_get(p, &h);
	ret->index = index;
	ret->term = h.term;
	ret->data = p + WAL_RECORD_HEADER;
	ret->len = h.len;
	ret->buf = NULL;
	ret->seg = s;
	return 0;
}

void wal_release(struct wal *w, uint64_t upto)
{
	long page = sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < w->nsegs; i++) {
		struct wal_seg *s = w->segs[i];
		if (s->first > upto || !s->map)
			break;
		/* the bytes before the first record not released: the next
		 * entry's record, or the segment's end once all of it is */
		size_t end;
		if (upto < s->last)
			end = s->offs[upto + 1 - s->first];
		else if (s->sealed)
			end = s->map_len;
		else
			end = s->last >= s->first ? s->offs[s->last - s->first] : 0;
		end -= end % (size_t)page;
		bool whole = s->sealed && end == s->map_len; /* a sealed segment's last step */
		if (end <= s->released || (end - s->released < WAL_RELEASE_STEP && !whole))
			continue;
		/* From the start: pages read again since the last step (a
		 * lagging follower's entries) go too. Pages already out cost
		 * only the walk over empty page tables. */
		if (madvise(s->map, end, MADV_DONTNEED) == 0)
			s->released = end;
	}
}

uint64_t wal_first_index(const struct wal *w)
{
	return w->first;
}

uint64_t wal_last_index(const struct wal *w)
{
	return w->last;
}

const struct hist *wal_write_hist(const struct wal *w)
{
	return &w->write_hist;
}

uint64_t wal_durable_index(const struct wal *w)
{
	return w->durable;
}

bool wal_direct_io(const struct wal *w)
{
	return w->direct;
}

bool wal_busy(const struct wal *w)
{
	return w->busy != BUSY_NONE || w->meta_busy;
}

/* --- currentTerm and votedFor -------------------------------------------- */

static void meta_done(struct wal *w);

static void meta_submit(struct wal *w)
{
	struct wal_meta_io *io = &w->mt;
	uint64_t off = (io->seq & 1) * WAL_BLOCK_SIZE;
	struct io_uring_sqe *sqe;

	if (!sq_room(w, 2)) {
		w->meta_busy = false;
		fail(w, -EBUSY, "submit", META_FILE, off, "io_uring SQ ring full");
		return;
	}
	io->pending = 2;
	sqe = sqe_get(w);
	io_uring_prep_write(sqe, w->metafd, io->slot + io->done, WAL_BLOCK_SIZE - (unsigned)io->done,
			    off + io->done);
	sqe_own(sqe, &io->ops[0], IOSQE_IO_LINK);
	sqe = sqe_get(w);
	io_uring_prep_fsync(sqe, w->metafd, IORING_FSYNC_DATASYNC);
	sqe_own(sqe, &io->ops[1], 0);
}

static void meta_start(struct wal *w)
{
	struct wal_meta_io *io = &w->mt;
	uint32_t vlen = (uint32_t)strlen(w->pend_vote), crc;

	io->seq = w->meta_seq + 1;
	io->term = w->pend_term;
	memcpy(io->vote, w->pend_vote, sizeof(io->vote));
	memset(io->slot, 0, WAL_BLOCK_SIZE);
	memcpy(io->slot + 4, &vlen, 4);
	memcpy(io->slot + 8, &io->seq, 8);
	memcpy(io->slot + 16, &io->term, 8);
	memcpy(io->slot + 24, META_MAGIC, 8);
	memcpy(io->slot + 32, io->vote, vlen);
	crc = wal_crc32c(0, io->slot + 4, 28 + vlen);
	memcpy(io->slot, &crc, 4);
	io->done = 0;
	w->meta_pending = false;
	w->meta_busy = true;
	op_init(&io->ops[0], w, &io->res[0], &io->pending, meta_done);
	op_init(&io->ops[1], w, &io->res[1], &io->pending, meta_done);
	meta_submit(w);
}

static void meta_done(struct wal *w)
{
	struct wal_meta_io *io = &w->mt;
	uint64_t off = (io->seq & 1) * WAL_BLOCK_SIZE;
	int wres = wal_fp_filter(WAL_FP_WRITE, io->res[0]), fres;

	if (w->failed) {
		w->meta_busy = false;
		return;
	}
	if (wres == -EAGAIN || (wres > 0 && io->done + (size_t)wres < WAL_BLOCK_SIZE)) {
		io->done += wres > 0 ? (size_t)wres : 0;
		meta_submit(w);
		return;
	}
	if (wres <= 0) {
		w->meta_busy = false;
		fail(w, wres ? wres : -EIO, "write", META_FILE, off, NULL);
		return;
	}
	fres = wal_fp_filter(WAL_FP_FSYNC, io->res[1]);
	if (fres < 0) {
		w->meta_busy = false;
		fail(w, fres, "fsync", META_FILE, off, NULL);
		return;
	}
	w->meta_busy = false;
	w->meta_seq = io->seq;
	w->meta_term = io->term;
	memcpy(w->meta_vote, io->vote, sizeof(w->meta_vote));
	if (w->cfg.on_meta)
		w->cfg.on_meta(w->cfg.ctx, w->meta_term, w->meta_vote);
	if (w->meta_pending && !w->failed && !w->meta_busy)
		meta_start(w);
}

int wal_meta_set(struct wal *w, uint64_t term, const char *voted_for)
{
	size_t vlen = voted_for ? strlen(voted_for) : 0;
	uint64_t cur = w->meta_pending ? w->pend_term : w->meta_busy ? w->mt.term : w->meta_term;

	if (w->failed)
		return w->failed;
	if (w->cfg.readonly)
		return -EROFS;
	if (vlen > WAL_MAX_VOTE || term < cur)
		return -EINVAL;
	w->pend_term = term;
	memcpy(w->pend_vote, voted_for ? voted_for : "", vlen + 1);
	w->meta_pending = true;
	if (!w->meta_busy)
		meta_start(w);
	return w->failed;
}

uint64_t wal_meta_term(const struct wal *w)
{
	return w->meta_term;
}

const char *wal_meta_vote(const struct wal *w)
{
	return w->meta_vote;
}

/* --- open and close ------------------------------------------------------ */

void wal_close(struct wal *w)
{
	if (!w)
		return;
	if (wal_busy(w))
		abort(); /* the kernel still owns our buffers: see wal.h */
	gather_drop_all(w);
	recent_cut(w, 0);
	pool_free(&w->pool);
	pool_free(&w->hpool);
	for (size_t i = 0; i < w->nsegs; i++)
		wal_seg_unref(w->segs[i]);
	free(w->segs);
	free(w->doomed);
	free(w->cr.hdr);
	free(w->mt.slot);
	if (w->zeros)
		munmap((void *)w->zeros, WAL_ZERO_AHEAD);
	if (w->dirfd >= 0)
		close(w->dirfd);
	if (w->metafd >= 0)
		close(w->metafd);
	free(w->dir);
	free(w);
}

int wal_open(const struct wal_config *cfg, struct wal **ret_wal, struct wal_recovery *ret_rec,
	     struct wal_error *ret_err)
{
	struct wal_recovery rec = { 0 };
	struct wal_error dummy;
	struct wal *w = NULL;
	int rv;

	if (!ret_err)
		ret_err = &dummy;
	if (!cfg || !cfg->dir || (!cfg->readonly && !cfg->ring)) {
		rv = wal_set_error(ret_err, -EINVAL, false, "open", NULL, 0, "bad configuration");
		goto err;
	}
	w = base_calloc(1, sizeof(*w));
	if (!w) {
		rv = wal_set_error(ret_err, -ENOMEM, false, "open", NULL, 0, NULL);
		goto err;
	}
	w->cfg = *cfg;
	w->dirfd = w->metafd = -1;
	w->seg_size = cfg->segment_size ? cfg->segment_size : WAL_DEFAULT_SEGMENT_SIZE;
	w->batch_size = cfg->batch_size ? cfg->batch_size : WAL_DEFAULT_BATCH_SIZE;
	if (w->seg_size % WAL_BLOCK_SIZE || w->seg_size < WAL_MIN_SEGMENT_SIZE ||
	    w->seg_size > WAL_MAX_SEGMENT_SIZE) {
		rv = wal_set_error(ret_err, -EINVAL, false, "open", NULL, 0, "bad segment size");
		goto err;
	}
	/* A batch buffer must always fit in an empty segment. */
	w->batch_size = round_up(w->batch_size, WAL_BLOCK_SIZE);
	if (w->batch_size > w->seg_size / 4)
		w->batch_size = w->seg_size / 4;
	w->pool = (struct buf_pool){ .max = BUF_POOL_MAX, .cap = w->batch_size };
	w->hpool = (struct buf_pool){ .max = HUGE_POOL_MAX, .cap = HUGE_BUF_SIZE };
	w->max_entry = w->seg_size - WAL_BLOCK_SIZE - 2 * PAD_MAX;
	w->dir = base_strdup(cfg->dir);
	if (!w->dir || base_memalign((void **)&w->cr.hdr, WAL_BLOCK_SIZE, WAL_BLOCK_SIZE) ||
	    base_memalign((void **)&w->mt.slot, WAL_BLOCK_SIZE, WAL_BLOCK_SIZE)) {
		rv = wal_set_error(ret_err, -ENOMEM, false, "open", NULL, 0, NULL);
		goto err;
	}
	w->cr.fd = -1;
	w->next_seq = 1;
	w->max_spares = cfg->spare_segments < 0    ? 0
			: cfg->spare_segments == 0 ? WAL_DEFAULT_SPARES
						   : (unsigned)cfg->spare_segments;
	if (w->max_spares > WAL_MAX_SPARES)
		w->max_spares = WAL_MAX_SPARES;
	w->direct = !cfg->buffered && !cfg->readonly;
	rv = wal_recover(w, &rec, ret_err);
	if (rv < 0)
		goto err;
	w->anchored = w->nsegs > 0;
	if (!w->anchored)
		w->first = 1;
	w->written = w->durable = w->last;
	if (ret_rec)
		*ret_rec = rec;
	*ret_wal = w;
	return 0;
err:
	wal_close(w);
	return rv;
}
