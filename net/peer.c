/* net/peer.c — see peer.h for the contract.
 *
 * Object model. A peer owns:
 *   - max_queue request slots, allocated once (no allocation per request);
 *     a slot is FREE, QUEUED (accepted, not written), SENDING, SENT (written,
 *     awaiting its response) or DONE (done called, but the kernel may still
 *     hold the body: a send CQE or zero-copy notifications outstanding);
 *   - the pending FIFO: [on the wire (SENDING/SENT) ...][QUEUED ...], in
 *     submission order, which is also response order (HTTP/1.1 pipelining);
 *   - at most one connection: DISCONNECTED, CONNECTING, CONNECTED, or
 *     DRAINING (shut down, waiting for the CQEs of ops that still reference
 *     the fd; the fd is closed only after them, so that an SQE not yet
 *     submitted never names a closed or reused fd number);
 *   - one timer (IORING_OP_TIMEOUT, absolute CLOCK_MONOTONIC) armed at the
 *     earliest deadline, re-armed lazily: when it fires it re-checks the
 *     deadlines, and it is only moved (timeout update) when a deadline
 *     earlier than the armed one appears. That avoids a cancel per request.
 *
 * Every CQE source is counted (connect/recv/send in flight, notifications,
 * timer, cancel/update ops), and the peer is freed only when all are zero
 * and no handler is running (dispatch depth), so callbacks may destroy the
 * peer from anywhere.
 *
 * One send at a time per connection keeps bytes in order. SENDMSG_ZC posts
 * two CQEs: the result (IORING_CQE_F_MORE set when a notification will
 * follow) and the notification (IORING_CQE_F_NOTIF) when the kernel has
 * dropped its last reference to the pages. Both carry the slot's user_data;
 * the slot counts notifications owed and is released only when none is.
 */
#include "net/peer.h"
#include "net/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/tls.h>

#include "net/http_parse.h"
#include "net/ktls.h"
#include "base/alloc.h"
#include "base/uring_op.h"

/* Not in liburing 2.3's headers; kernel 6.2+ (older kernels answer -EINVAL,
 * and we retry without it). */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

/* Tests only (tests/net/test_peer_fallback): an undefined zero-copy flag,
 * which the kernel refuses with -EINVAL exactly as at prep time on a kernel
 * without SENDMSG_ZC, so the step-down and fallback paths run for real. */
#ifdef PEER_TEST_FORCE_ZC_EINVAL
#define PEER_ZC_TEST_FLAGS (1U << 15)
#else
#define PEER_ZC_TEST_FLAGS 0U
#endif

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define PEER_HEAD_MAX 512     /* request line + Host + Content-Type + Content-Length */
#define PEER_SEND_IOV 256     /* iovecs per sendmsg; longer bodies go in several */
#define PEER_MAX_URL 512
#define PEER_MAX_ADDRS 4
/* User-space TLS buffers. TX holds ciphertext being written; a record is
 * only encrypted when TLS_TX_ROOM bytes are free, so the push function
 * never runs out of room and the buffer never moves under a send in
 * flight. RX holds more than one largest record. */
#define TLS_STAGE (16 * 1024)            /* plaintext per record */
#define TLS_TX_CAP (128 * 1024)
#define TLS_TX_ROOM (TLS_STAGE + 1024)   /* a record's worst case: header, tag, padding */
#define TLS_RX_CAP (34 * 1024)

enum slot_state { S_FREE, S_QUEUED, S_SENDING, S_SENT, S_DONE };
enum conn_state { C_DISCONNECTED, C_CONNECTING, C_HANDSHAKE, C_CONNECTED, C_DRAINING };
enum zc_mode { ZC_OFF, ZC_PLAIN, ZC_REPORT };

struct slot {
	struct uring_op send_op; /* result and notification CQEs of this slot's sends */
	struct peer *peer;
	TAILQ_ENTRY(slot) link;  /* pending FIFO or free list */
	enum slot_state state;
	const struct iovec *iov; /* caller's; index 0 of the send space is head[] */
	size_t iovcnt;
	bool zero_copy;
	peer_done_fn *done;
	peer_release_fn *release;
	void *arg;
	size_t head_len;
	size_t total;            /* head + body bytes */
	size_t sent;
	size_t cur_idx;          /* send cursor: 0 = head, i = iov[i - 1] */
	size_t cur_off;
	uint64_t deadline;       /* ns, CLOCK_MONOTONIC; SENDING: write, SENT: response */
	bool send_inflight;
	bool last_zc;            /* the send in flight is a SENDMSG_ZC */
	unsigned zc_notifs;      /* notifications still owed by the kernel */
	uint64_t zc_bytes;
	bool zc_copied;
	uint64_t tls_end;        /* user-space TLS: tx_made when its last record was made */
	char head[PEER_HEAD_MAX];
};

TAILQ_HEAD(slot_list, slot);

struct peer {
	struct io_uring *ring;
	struct peer_config cfg;
	char url[PEER_MAX_URL];
	char hostport[URL_HOSTPORT_MAX]; /* the Host header */
	/* Addresses from peer_create()'s resolution; a failed connection
	 * attempt moves to the next one (Go's dialer also tries them all:
	 * "localhost" may give ::1 first to a node listening on 127.0.0.1). */
	struct sockaddr_storage addrs[PEER_MAX_ADDRS];
	socklen_t addrlens[PEER_MAX_ADDRS];
	unsigned n_addrs, addr_idx;

	struct slot *slots;
	struct slot_list free_list;
	struct slot_list pending;
	unsigned n_pending;       /* accepted, done not yet called */
	unsigned n_wire;          /* SENDING + SENT */
	unsigned n_used;          /* slots not FREE */
	unsigned max_pipeline;

	enum conn_state cstate;
	int fd;
	struct uring_op connect_op, recv_op, timer_op, aux_op;
	bool connect_inflight, recv_inflight, send_inflight;
	bool last_response;       /* the response being read ends the connection */
	uint64_t connect_deadline;
	enum zc_mode zc;

	uint8_t *rbuf;
	size_t rcap, rlen;
	uint8_t *body;
	size_t body_len;
	struct http_parser parser;
	struct http_limits limits;

	struct iovec win[PEER_SEND_IOV];
	struct msghdr msg;

	bool timer_armed;
	uint64_t timer_at;
	struct __kernel_timespec timer_ts, update_ts;
	unsigned aux_pending;     /* cancel and timeout-update ops in flight */

	unsigned backoff_ms;
	uint64_t retry_at;
	int last_err;

	bool closing;
	unsigned depth;           /* completion handlers / callbacks running */
	void (*destroyed)(void *arg);
	void *destroyed_arg;

	/* https: one GnuTLS session per connection (C_HANDSHAKE on). Records
	 * go through tx/rx (the transport functions), which the ring writes
	 * and fills; or, once the kernel took a direction over (ktls_tx/rx),
	 * plaintext goes through the socket as for http. */
	struct tls_creds *tls;
	char tls_host[URL_HOST_MAX];
	bool tls_host_is_name;   /* SNI is for DNS names only (RFC 6066 §3) */
	gnutls_session_t sess;
	bool ktls_tx, ktls_rx;
	bool ktls_tx_pending;    /* kernel TX waits for the handshake's last bytes to go out */
	bool ktls_unavailable;   /* the tls ULP was refused once: never tried again */
	int tls_broken;          /* an error waiting for our recv's completion (tls_break) */
	struct slot *enc_slot;   /* the request being encrypted */
	uint8_t *tx, *rx, *stage;
	size_t tx_off, tx_len, rx_off, rx_len;
	uint64_t tx_made, tx_sent; /* ciphertext bytes made and written, over the connection */
	struct uring_op tls_send_op;
	struct msghdr rmsg;      /* kernel RX: the record type comes as a cmsg */
	struct iovec riov;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(unsigned char))];
	} rcmsg;
	char tls_err[URL_HOST_MAX + 64];

	struct peer_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t ms_ns(unsigned ms)
{
	return (uint64_t)ms * 1000000u;
}

/* An SQE, making room once by submitting when the SQ ring is full. */
static struct io_uring_sqe *get_sqe(struct peer *p)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(p->ring);
	if (!sqe) {
		io_uring_submit(p->ring);
		sqe = io_uring_get_sqe(p->ring);
	}
	return sqe;
}

static void conn_shutdown(struct peer *p, int err, bool graceful);
static void kick(struct peer *p);
static void tls_kick(struct peer *p);
static void post_recv(struct peer *p);
static bool process_input(struct peer *p);
static void handle_eof(struct peer *p);
static void conn_maybe_drained(struct peer *p);
static bool tls_handshake_step(struct peer *p);
static bool tls_input(struct peer *p);
static void tls_start(struct peer *p);
static bool ktls_record_ok(struct peer *p, int res);
static void timer_arm(struct peer *p);
static void maybe_free(struct peer *p);

/* --- slots ---------------------------------------------------------------- */

/* Give the slot back once done was called and the kernel holds nothing. */
static void slot_maybe_free(struct peer *p, struct slot *s)
{
	if (s->state != S_DONE || s->send_inflight || s->zc_notifs)
		return;
	if (s->zc_copied)
		p->st.bytes_zc_copied += s->zc_bytes;
	peer_release_fn *release = s->release;
	void *arg = s->arg;
	s->state = S_FREE;
	s->iov = NULL;
	s->done = NULL;
	s->release = NULL;
	TAILQ_INSERT_TAIL(&p->free_list, s, link);
	p->n_used--;
	if (release)
		release(arg);
}

/* s is already off the pending list. */
static void slot_finish(struct peer *p, struct slot *s, int res, const uint8_t *body, size_t len)
{
	s->state = S_DONE;
	p->n_pending--;
	if (res < 0)
		p->st.failures++;
	else
		p->st.responses++;
	p->depth++;
	s->done(s->arg, res, res < 0 ? NULL : body, res < 0 ? 0 : len);
	p->depth--;
	slot_maybe_free(p, s);
}

/* Fail pending requests: the ones on the wire, and the queued ones too
 * unless keep_queued. Callbacks run after the list is consistent, since they
 * may submit or destroy. */
static void fail_pending(struct peer *p, int err, bool keep_queued)
{
	struct slot_list dead = TAILQ_HEAD_INITIALIZER(dead);
	struct slot *s, *next;
	for (s = TAILQ_FIRST(&p->pending); s; s = next) {
		next = TAILQ_NEXT(s, link);
		if (s->state == S_QUEUED && keep_queued)
			continue;
		if (s->state != S_QUEUED)
			p->n_wire--;
		TAILQ_REMOVE(&p->pending, s, link);
		TAILQ_INSERT_TAIL(&dead, s, link);
	}
	while ((s = TAILQ_FIRST(&dead))) {
		TAILQ_REMOVE(&dead, s, link);
		slot_finish(p, s, err, NULL, 0);
	}
}

/* --- sending -------------------------------------------------------------- */

static size_t seg_len(const struct slot *s, size_t idx)
{
	return idx == 0 ? s->head_len : s->iov[idx - 1].iov_len;
}

static void *seg_base(const struct slot *s, size_t idx)
{
	return idx == 0 ? (void *)s->head : s->iov[idx - 1].iov_base;
}

static void cursor_advance(struct slot *s, size_t n)
{
	while (n > 0 && s->cur_idx <= s->iovcnt) { /* the kernel never reports more than asked */
		size_t left = seg_len(s, s->cur_idx) - s->cur_off;
		if (n < left) {
			s->cur_off += n;
			return;
		}
		n -= left;
		s->cur_idx++;
		s->cur_off = 0;
	}
}

/* Submit the next piece of s: up to PEER_SEND_IOV iovecs from the cursor.
 * p->win and p->msg stay untouched until the CQE (one send per peer). */
static int send_piece(struct peer *p, struct slot *s)
{
	size_t k = 0;
	for (size_t idx = s->cur_idx; idx <= s->iovcnt && k < PEER_SEND_IOV; idx++) {
		size_t off = idx == s->cur_idx ? s->cur_off : 0;
		size_t len = seg_len(s, idx);
		if (len - off == 0) {
			if (idx == s->cur_idx) { /* skip empty segments at the cursor */
				s->cur_idx++;
				s->cur_off = 0;
			}
			continue;
		}
		p->win[k].iov_base = (char *)seg_base(s, idx) + off;
		p->win[k].iov_len = len - off;
		k++;
	}
	struct io_uring_sqe *sqe = get_sqe(p);
	if (!sqe)
		return -EBUSY;
	memset(&p->msg, 0, sizeof(p->msg));
	p->msg.msg_iov = p->win;
	p->msg.msg_iovlen = k;
	s->last_zc = s->zero_copy && p->zc != ZC_OFF;
	if (s->last_zc) {
		io_uring_prep_sendmsg_zc(sqe, p->fd, &p->msg, MSG_NOSIGNAL);
		sqe->ioprio |= PEER_ZC_TEST_FLAGS;
		if (p->zc == ZC_REPORT)
			sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
	} else {
		io_uring_prep_sendmsg(sqe, p->fd, &p->msg, MSG_NOSIGNAL);
	}
	uring_op_set(sqe, &s->send_op);
	s->send_inflight = true;
	p->send_inflight = true;
	return 0;
}

static void send_result(struct peer *p, struct slot *s, int res)
{
	/* Bytes count as sent even when the connection broke meanwhile: the
	 * kernel took them (and, for zero-copy, still owes a notification). */
	if (res > 0 && s->last_zc) {
		p->st.bytes_zc += (uint64_t)res;
		s->zc_bytes += (uint64_t)res;
	} else if (res > 0) {
		p->st.bytes_copied += (uint64_t)res;
	}
	if (s->state != S_SENDING || p->cstate != C_CONNECTED)
		return; /* the connection broke meanwhile; s was failed already */
	if (res < 0) {
		if (s->last_zc && (res == -EOPNOTSUPP || res == -EINVAL)) {
			/* Zero-copy refused (pre-6.0 kernel, a socket type
			 * without it, or 6.0/6.1 not knowing REPORT_USAGE):
			 * step down once and resend the same bytes. */
			if (p->zc == ZC_REPORT && res == -EINVAL) {
				p->zc = ZC_PLAIN;
			} else {
				p->zc = ZC_OFF;
				p->st.zc_fallbacks = 1;
			}
			res = send_piece(p, s);
			if (res == 0)
				return;
		}
		conn_shutdown(p, res, false);
		return;
	}
	if (res == 0) {
		conn_shutdown(p, -EPIPE, false);
		return;
	}
	s->sent += (size_t)res;
	cursor_advance(s, (size_t)res);
	if (s->sent < s->total) {
		int r = send_piece(p, s); /* short send: the rest, from the cursor */
		if (r < 0)
			conn_shutdown(p, r, false);
		return;
	}
	s->state = S_SENT;
	s->deadline = now_ns() + ms_ns(p->cfg.response_timeout_ms);
	kick(p);
	timer_arm(p);
}

static void peer_leave(struct peer *p);

static void send_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct slot *s = container_of(op, struct slot, send_op);
	struct peer *p = s->peer;
	p->depth++;
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		s->zc_notifs--;
		if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
			s->zc_copied = true;
	} else {
		s->send_inflight = false;
		p->send_inflight = false;
		if (cqe->flags & IORING_CQE_F_MORE)
			s->zc_notifs++;
		send_result(p, s, cqe->res);
	}
	slot_maybe_free(p, s);
	peer_leave(p);
}

/* Start writing the next queued request if the pipeline has room. */
static void kick(struct peer *p)
{
	/* After a response that ends the connection nothing more goes out on
	 * it; a done callback submitting then queues for the next one. */
	if (p->cstate != C_CONNECTED || p->closing || p->last_response)
		return;
	if (p->sess && !p->ktls_tx) {
		tls_kick(p);
		return;
	}
	if (p->send_inflight)
		return;
	if (p->n_wire >= p->max_pipeline)
		return;
	struct slot *s;
	TAILQ_FOREACH(s, &p->pending, link)
		if (s->state == S_QUEUED)
			break;
	if (!s)
		return;
	s->state = S_SENDING;
	p->n_wire++;
	s->deadline = now_ns() + ms_ns(p->cfg.send_timeout_ms);
	int r = send_piece(p, s);
	if (r < 0) {
		conn_shutdown(p, r, false);
		return;
	}
	timer_arm(p);
}

/* --- timer ---------------------------------------------------------------- */

static uint64_t next_deadline(const struct peer *p)
{
	uint64_t d = UINT64_MAX;
	if (p->cstate == C_CONNECTING || p->cstate == C_HANDSHAKE)
		d = p->connect_deadline; /* the handshake counts as connecting */
	if (p->cstate == C_CONNECTED) {
		const struct slot *s;
		TAILQ_FOREACH(s, &p->pending, link) {
			if (s->state == S_QUEUED)
				break;
			if (s->deadline < d)
				d = s->deadline;
		}
	}
	return d;
}

static void ns_to_ts(uint64_t ns, struct __kernel_timespec *ts)
{
	ts->tv_sec = (long long)(ns / 1000000000u);
	ts->tv_nsec = (long long)(ns % 1000000000u);
}

static void timer_arm(struct peer *p)
{
	if (p->closing)
		return;
	uint64_t d = next_deadline(p);
	if (d == UINT64_MAX)
		return;
	if (p->timer_armed && d >= p->timer_at)
		return; /* it fires first and re-checks */
	struct io_uring_sqe *sqe = get_sqe(p);
	if (!sqe)
		return; /* cannot happen after a submit; the next event re-arms */
	if (!p->timer_armed) {
		ns_to_ts(d, &p->timer_ts);
		io_uring_prep_timeout(sqe, &p->timer_ts, 0, IORING_TIMEOUT_ABS);
		uring_op_set(sqe, &p->timer_op);
		p->timer_armed = true;
	} else {
		ns_to_ts(d, &p->update_ts);
		io_uring_prep_timeout_update(sqe, &p->update_ts, (uint64_t)(uintptr_t)&p->timer_op,
					     IORING_TIMEOUT_ABS);
		uring_op_set(sqe, &p->aux_op);
		p->aux_pending++;
	}
	p->timer_at = d;
}

static void timer_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct peer *p = container_of(op, struct peer, timer_op);
	p->depth++;
	p->timer_armed = false;
	if (!p->closing) {
		uint64_t d = next_deadline(p);
		if (d <= now_ns()) {
			p->st.timeouts++;
			if (p->cstate == C_CONNECTING) {
				p->st.connect_failures++;
				p->addr_idx = (p->addr_idx + 1) % p->n_addrs;
			} else if (p->cstate == C_HANDSHAKE) {
				p->st.connect_failures++;
				snprintf(p->tls_err, sizeof(p->tls_err), "TLS handshake timed out");
			}
			conn_shutdown(p, -ETIMEDOUT, false);
		}
		timer_arm(p);
	}
	peer_leave(p);
}

static void aux_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct peer *p = container_of(op, struct peer, aux_op);
	p->depth++;
	p->aux_pending--;
	peer_leave(p);
}

/* --- TLS ------------------------------------------------------------------ */

/* GnuTLS's transport, over our buffers: push appends ciphertext to tx (the
 * ring writes it, see tls_flush), pull takes what a ring RECV put in rx.
 * Neither ever blocks; an empty rx is EAGAIN, and GnuTLS resumes where it
 * stopped when called again after the next RECV. */
static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct peer *p = ptr;
	if (TLS_TX_CAP - p->tx_len < len && !p->send_inflight && p->tx_off) {
		memmove(p->tx, p->tx + p->tx_off, p->tx_len - p->tx_off);
		p->tx_len -= p->tx_off;
		p->tx_off = 0;
	}
	if (TLS_TX_CAP - p->tx_len < len) {
		/* Cannot happen: records are made only with TLS_TX_ROOM free. */
		gnutls_transport_set_errno(p->sess, ENOBUFS);
		return -1;
	}
	memcpy(p->tx + p->tx_len, data, len);
	p->tx_len += len;
	p->tx_made += len;
	return (ssize_t)len;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct peer *p = ptr;
	size_t have = p->rx_len - p->rx_off;
	if (have == 0) {
		gnutls_transport_set_errno(p->sess, EAGAIN);
		return -1;
	}
	if (len > have)
		len = have;
	memcpy(data, p->rx + p->rx_off, len);
	p->rx_off += len;
	return (ssize_t)len;
}

/* End the connection with err. tls_kick() runs inside peer_submit(),
 * which must not call back: with our recv in flight (always, on a live
 * connection outside its own completion), wake it instead and end the
 * connection from its completion. */
static void tls_break(struct peer *p, int err)
{
	if (p->recv_inflight) {
		if (!p->tls_broken)
			p->tls_broken = err;
		(void)shutdown(p->fd, SHUT_RDWR);
		return;
	}
	conn_shutdown(p, err, false);
}

/* Write what is in tx: one IORING_OP_SEND at a time, of our own buffer.
 * Not SENDMSG_ZC: the ciphertext is already a copy, and zero-copy would
 * pin tx until the kernel's notification, so we could not append to it
 * meanwhile (double buffers, notification bookkeeping) for no saving. */
static void tls_flush(struct peer *p)
{
	if (p->send_inflight || p->tx_off == p->tx_len ||
	    (p->cstate != C_HANDSHAKE && p->cstate != C_CONNECTED))
		return;
	struct io_uring_sqe *sqe = get_sqe(p);
	if (!sqe) {
		tls_break(p, -EBUSY);
		return;
	}
	io_uring_prep_send(sqe, p->fd, p->tx + p->tx_off, p->tx_len - p->tx_off, MSG_NOSIGNAL);
	uring_op_set(sqe, &p->tls_send_op);
	p->send_inflight = true;
}

/* A one-line reason for the log, and the errno the requests fail with. */
static int tls_fail(struct peer *p, int gerr)
{
	int err = -EPROTO;
	if (gerr == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR || gerr == GNUTLS_E_CERTIFICATE_ERROR) {
		unsigned st = gnutls_session_get_verify_cert_status(p->sess);
		const char *why = NULL;
		err = -EKEYREJECTED;
		if (st & GNUTLS_CERT_SIGNER_NOT_FOUND)
			why = "signed by an unknown authority";
		else if (st & GNUTLS_CERT_EXPIRED)
			why = "expired";
		else if (st & GNUTLS_CERT_NOT_ACTIVATED)
			why = "not yet valid";
		else if (st & GNUTLS_CERT_REVOKED)
			why = "revoked";
		else if (st & GNUTLS_CERT_INSECURE_ALGORITHM)
			why = "signed with an insecure algorithm";
		else if (st & GNUTLS_CERT_SIGNER_NOT_CA)
			why = "signed by a certificate that is no CA";
		if (why) {
			snprintf(p->tls_err, sizeof(p->tls_err), "server certificate %s", why);
		} else if (st & GNUTLS_CERT_UNEXPECTED_OWNER) {
			snprintf(p->tls_err, sizeof(p->tls_err), "name %s not in the server certificate",
				 p->tls_host);
		} else {
			gnutls_datum_t out = { 0 };
			if (gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &out, 0) == 0) {
				snprintf(p->tls_err, sizeof(p->tls_err), "server certificate refused: %s",
					 (const char *)out.data);
				gnutls_free(out.data);
			} else {
				snprintf(p->tls_err, sizeof(p->tls_err), "server certificate refused");
			}
		}
	} else if (gerr == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		gnutls_alert_description_t a = gnutls_alert_get(p->sess);
		const char *name = gnutls_alert_get_name(a);
		switch ((int)a) {
		case GNUTLS_A_CERTIFICATE_REQUIRED:
		case GNUTLS_A_BAD_CERTIFICATE:
		case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
		case GNUTLS_A_CERTIFICATE_REVOKED:
		case GNUTLS_A_CERTIFICATE_EXPIRED:
		case GNUTLS_A_CERTIFICATE_UNKNOWN:
		case GNUTLS_A_UNKNOWN_CA:
		case GNUTLS_A_ACCESS_DENIED:
			err = -EKEYREJECTED;
			if (!tls_creds_has_cert(p->tls))
				snprintf(p->tls_err, sizeof(p->tls_err),
					 "the server wants a client certificate (alert: %s)",
					 name ? name : "?");
			else
				snprintf(p->tls_err, sizeof(p->tls_err),
					 "the server refused our certificate (alert: %s)", name ? name : "?");
			break;
		default:
			snprintf(p->tls_err, sizeof(p->tls_err), "the server ended TLS (alert: %s)",
				 name ? name : "?");
		}
	} else {
		snprintf(p->tls_err, sizeof(p->tls_err), "TLS %s failed: %s",
			 p->cstate == C_HANDSHAKE ? "handshake" : "session", gnutls_strerror(gerr));
	}
	if (p->cstate == C_HANDSHAKE)
		p->st.connect_failures++;
	return err;
}

/* Encrypt queued requests into tx while it has room and the pipeline
 * allows, then write. A request is SENT once tx_sent passes its last
 * record (tls_send_complete). */
static void tls_kick(struct peer *p)
{
	while (!p->ktls_tx_pending) {
		struct slot *s = p->enc_slot;
		if (!s) {
			if (p->n_wire >= p->max_pipeline)
				break;
			TAILQ_FOREACH(s, &p->pending, link)
				if (s->state == S_QUEUED)
					break;
			if (!s)
				break;
			s->state = S_SENDING;
			p->n_wire++;
			s->deadline = now_ns() + ms_ns(p->cfg.send_timeout_ms);
			p->enc_slot = s;
		}
		if (TLS_TX_CAP - p->tx_len < TLS_TX_ROOM) {
			if (p->send_inflight || p->tx_off == 0)
				break; /* room comes back with the send's completion */
			memmove(p->tx, p->tx + p->tx_off, p->tx_len - p->tx_off);
			p->tx_len -= p->tx_off;
			p->tx_off = 0;
			continue;
		}
		/* One record: straight from a segment holding a whole record's
		 * worth, else gathered from the segments into stage (request
		 * bodies are many small iovecs: a record each would cost a
		 * header, a tag and a cipher call per entry). */
		size_t max = gnutls_record_get_max_size(p->sess);
		if (max == 0 || max > TLS_STAGE)
			max = TLS_STAGE;
		size_t n = 0;
		const void *src = p->stage;
		if (s->cur_idx <= s->iovcnt && seg_len(s, s->cur_idx) - s->cur_off >= max) {
			src = (const char *)seg_base(s, s->cur_idx) + s->cur_off;
			n = max;
		} else {
			for (size_t idx = s->cur_idx, off = s->cur_off; idx <= s->iovcnt && n < max; idx++, off = 0) {
				size_t k = seg_len(s, idx) - off;
				if (k > max - n)
					k = max - n;
				memcpy(p->stage + n, (const char *)seg_base(s, idx) + off, k);
				n += k;
			}
		}
		if (n) {
			ssize_t r = gnutls_record_send(p->sess, src, n);
			if (r != (ssize_t)n) {
				tls_break(p, tls_fail(p, r < 0 ? (int)r : GNUTLS_E_INTERNAL_ERROR));
				return;
			}
			p->st.bytes_tls_copied += n;
			s->sent += n;
			cursor_advance(s, n);
		}
		if (s->sent >= s->total) {
			s->tls_end = p->tx_made;
			p->enc_slot = NULL;
		}
	}
	tls_flush(p);
	timer_arm(p);
}

/* Requests whose last record the kernel has taken now wait for responses. */
static void tls_mark_sent(struct peer *p)
{
	struct slot *s;
	TAILQ_FOREACH(s, &p->pending, link) {
		if (s->state == S_QUEUED)
			break;
		if (s->state == S_SENDING && s != p->enc_slot && s->tls_end <= p->tx_sent) {
			s->state = S_SENT;
			s->deadline = now_ns() + ms_ns(p->cfg.response_timeout_ms);
		}
	}
}

static void tls_try_ktls_tx(struct peer *p)
{
	p->ktls_tx_pending = false;
	if (ktls_set_keys(p->fd, p->sess, false) == 0) {
		p->ktls_tx = true;
		p->st.ktls = p->ktls_rx;
	}
}

static void tls_send_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct peer *p = container_of(op, struct peer, tls_send_op);
	p->depth++;
	p->send_inflight = false;
	if (p->cstate == C_HANDSHAKE || p->cstate == C_CONNECTED) {
		if (cqe->res <= 0) {
			if (p->cstate == C_HANDSHAKE) {
				p->st.connect_failures++;
				snprintf(p->tls_err, sizeof(p->tls_err),
					 "connection failed during the TLS handshake");
			}
			conn_shutdown(p, cqe->res < 0 ? cqe->res : -EPIPE, false);
		} else {
			p->tx_off += (size_t)cqe->res;
			p->tx_sent += (uint64_t)cqe->res;
			if (p->tx_off == p->tx_len)
				p->tx_off = p->tx_len = 0;
			tls_mark_sent(p);
			if (p->ktls_tx_pending && p->tx_len == 0)
				tls_try_ktls_tx(p);
			if (p->cstate == C_CONNECTED)
				kick(p);
			else
				tls_flush(p);
			timer_arm(p);
		}
	}
	conn_maybe_drained(p);
	peer_leave(p);
}

static void tls_start(struct peer *p)
{
	gnutls_session_t s = NULL;
	int r = gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (r < 0) {
		s = NULL;
		goto fail;
	}
	if ((r = gnutls_priority_set(s, tls_creds_priority(p->tls))) < 0 ||
	    (r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(p->tls))) < 0 ||
	    (p->tls_host_is_name &&
	     (r = gnutls_server_name_set(s, GNUTLS_NAME_DNS, p->tls_host, strlen(p->tls_host))) < 0))
		goto fail;
	/* Chain against the creds' CAs and the URL's host against the
	 * certificate: a DNS name against DNS SANs (CN only without SANs), an
	 * IP address against IP SANs (GnuTLS detects the numeric form). */
	gnutls_session_set_verify_cert(s, p->tls_host, 0);
	gnutls_transport_set_ptr(s, p);
	gnutls_transport_set_push_function(s, tls_push);
	gnutls_transport_set_pull_function(s, tls_pull);
	p->sess = s;
	p->cstate = C_HANDSHAKE;
	p->ktls_tx = p->ktls_rx = p->ktls_tx_pending = false;
	p->st.ktls = 0;
	p->enc_slot = NULL;
	p->tx_off = p->tx_len = p->rx_off = p->rx_len = 0;
	p->tx_made = p->tx_sent = 0;
	p->tls_broken = 0;
	tls_handshake_step(p);
	return;
fail:
	if (s)
		gnutls_deinit(s);
	p->st.connect_failures++;
	snprintf(p->tls_err, sizeof(p->tls_err), "TLS session setup failed: %s", gnutls_strerror(r));
	conn_shutdown(p, r == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EPROTO, false);
}

/* Hand the directions GnuTLS supports to the kernel if it offers the tls
 * ULP. Only at a record boundary with nothing buffered: ciphertext already
 * read into rx, or written to tx but not yet sent, would be lost to or
 * encrypted twice by the kernel. */
static void tls_try_ktls(struct peer *p)
{
	if (p->cfg.no_ktls || p->ktls_unavailable)
		return;
	if (p->rx_off != p->rx_len || gnutls_record_check_pending(p->sess) || p->recv_inflight)
		return;
	if (ktls_attach(p->fd) < 0) {
		/* No tls module (ENOENT), or a kernel without the ULP: user
		 * space for the rest of the peer's life, nothing logged per
		 * request. */
		p->ktls_unavailable = true;
		return;
	}
	/* RX first: kernel RX with GnuTLS writing is sound (post-handshake
	 * messages then reach us as control records, which end the
	 * connection); kernel TX with GnuTLS reading is not (GnuTLS would
	 * answer a KeyUpdate with its stale write keys). */
	if (ktls_set_keys(p->fd, p->sess, true) < 0)
		return;
	p->ktls_rx = true;
	if (p->tx_len == 0 && !p->send_inflight)
		tls_try_ktls_tx(p);
	else
		p->ktls_tx_pending = true;
}

/* Drive the handshake with what arrived; false when the connection ended. */
static bool tls_handshake_step(struct peer *p)
{
	int r;
	do
		r = gnutls_handshake(p->sess);
	while (r == GNUTLS_E_INTERRUPTED || (r < 0 && !gnutls_error_is_fatal(r) && r != GNUTLS_E_AGAIN));
	tls_flush(p); /* our next flight, or the alert of a failure */
	if (p->cstate != C_HANDSHAKE)
		return false; /* the flush failed: the session may be gone */
	if (r == GNUTLS_E_AGAIN) {
		if (!p->recv_inflight && p->rx_off == p->rx_len && p->cstate == C_HANDSHAKE)
			post_recv(p);
		return p->cstate == C_HANDSHAKE;
	}
	if (r < 0) {
		conn_shutdown(p, tls_fail(p, r), false);
		return false;
	}
	p->cstate = C_CONNECTED;
	p->st.connects++;
	p->tls_err[0] = '\0';
	tls_try_ktls(p);
	return true;
}

/* Ciphertext arrived in rx: feed the handshake, or decrypt into rbuf and
 * parse. Returns false when the connection ended (then nothing of it may be
 * touched: it may be drained and its session gone). */
static bool tls_input(struct peer *p)
{
	if (p->cstate == C_HANDSHAKE) {
		if (!tls_handshake_step(p))
			return false;
		if (p->cstate != C_CONNECTED)
			return false;
		kick(p);
		if (p->cstate != C_CONNECTED)
			return false;
		if (p->ktls_rx) {
			post_recv(p);
			return false; /* posted already, the kernel variant */
		}
	}
	for (;;) {
		if (p->rlen >= p->rcap) {
			conn_shutdown(p, -E2BIG, false);
			return false;
		}
		ssize_t n = gnutls_record_recv(p->sess, p->rbuf + p->rlen, p->rcap - p->rlen);
		if (n == GNUTLS_E_AGAIN)
			break;
		if (n == 0) { /* close_notify */
			handle_eof(p);
			return false;
		}
		if (n < 0) {
			if (!gnutls_error_is_fatal((int)n))
				continue; /* a warning alert, a session ticket */
			conn_shutdown(p, tls_fail(p, (int)n), false);
			return false;
		}
		p->rlen += (size_t)n;
		if (!process_input(p))
			return false;
	}
	tls_flush(p); /* an answer GnuTLS made while reading (a KeyUpdate) */
	return p->cstate == C_CONNECTED;
}

/* Kernel RX: a record that is not application data came (type in a
 * cmsg). A TLS 1.3 NewSessionTicket is dropped (we never resume); anything
 * else — an alert, a KeyUpdate (we could not re-key the kernel in step) —
 * ends the connection cleanly. Returns true for application data. */
static bool ktls_record_ok(struct peer *p, int res)
{
	unsigned char type = KTLS_RECORD_APPDATA;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&p->rmsg); c; c = CMSG_NXTHDR(&p->rmsg, c))
		if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE)
			type = *CMSG_DATA(c);
	if (type == KTLS_RECORD_APPDATA)
		return true;
	const uint8_t *rec = p->rbuf + p->rlen; /* not added to rlen: not HTTP */
	p->st.bytes_received += (uint64_t)res;
	if (type == KTLS_RECORD_HANDSHAKE && rec[0] == 4 /* new_session_ticket */) {
		post_recv(p);
	} else if (type == KTLS_RECORD_ALERT && res >= 2 && rec[1] == 0 /* close_notify */) {
		handle_eof(p);
	} else {
		snprintf(p->tls_err, sizeof(p->tls_err), "kernel TLS: record type %u (%u) not handled",
			 type, rec[0]);
		conn_shutdown(p, -EPROTO, false);
	}
	return false;
}

/* --- connection ----------------------------------------------------------- */

static void post_recv(struct peer *p)
{
	if (p->sess && !p->ktls_rx) {
		/* Ciphertext: GnuTLS emptied rx before we get here. */
		struct io_uring_sqe *sqe = get_sqe(p);
		if (!sqe) {
			conn_shutdown(p, -EBUSY, false);
			return;
		}
		p->rx_off = p->rx_len = 0;
		io_uring_prep_recv(sqe, p->fd, p->rx, TLS_RX_CAP, 0);
		uring_op_set(sqe, &p->recv_op);
		p->recv_inflight = true;
		return;
	}
	if (p->rlen >= p->rcap) {
		/* The parser refuses a line longer than max_line < rcap, so a
		 * full buffer means a bug; fail safe. */
		conn_shutdown(p, -E2BIG, false);
		return;
	}
	struct io_uring_sqe *sqe = get_sqe(p);
	if (!sqe) {
		conn_shutdown(p, -EBUSY, false);
		return;
	}
	if (p->ktls_rx) {
		/* recvmsg, not recv: a record other than application data
		 * comes with its type as a cmsg (without room for it the
		 * kernel fails the read with -EIO). */
		p->riov = (struct iovec){ p->rbuf + p->rlen, p->rcap - p->rlen };
		memset(&p->rmsg, 0, sizeof(p->rmsg));
		p->rmsg.msg_iov = &p->riov;
		p->rmsg.msg_iovlen = 1;
		p->rmsg.msg_control = p->rcmsg.buf;
		p->rmsg.msg_controllen = sizeof(p->rcmsg.buf);
		io_uring_prep_recvmsg(sqe, p->fd, &p->rmsg, 0);
	} else {
		io_uring_prep_recv(sqe, p->fd, p->rbuf + p->rlen, p->rcap - p->rlen, 0);
	}
	uring_op_set(sqe, &p->recv_op);
	p->recv_inflight = true;
}

static int conn_start(struct peer *p)
{
	/* Nonblocking: io_uring then arms its internal poll and never blocks a
	 * worker; the fd is never used with a blocking syscall. */
	const struct sockaddr_storage *addr = &p->addrs[p->addr_idx];
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	/* Small requests (votes, heartbeats) must not wait for Nagle. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct io_uring_sqe *sqe = get_sqe(p);
	if (!sqe) {
		close(fd);
		return -EBUSY;
	}
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)addr, p->addrlens[p->addr_idx]);
	uring_op_set(sqe, &p->connect_op);
	p->fd = fd;
	p->connect_inflight = true;
	p->cstate = C_CONNECTING;
	p->connect_deadline = now_ns() + ms_ns(p->cfg.connect_timeout_ms);
	p->rlen = 0;
	p->last_response = false;
	http_parser_init(&p->parser, &p->limits);
	timer_arm(p);
	return 0;
}

/* Close the fd once no op references it any more; then reconnect if
 * requests survived a graceful close. */
static void conn_maybe_drained(struct peer *p)
{
	if (p->cstate != C_DRAINING || p->connect_inflight || p->recv_inflight || p->send_inflight)
		return;
	close(p->fd);
	p->fd = -1;
	p->cstate = C_DISCONNECTED;
	if (p->sess) {
		gnutls_deinit(p->sess);
		p->sess = NULL;
	}
	if (p->closing || TAILQ_EMPTY(&p->pending))
		return;
	int r = now_ns() >= p->retry_at ? conn_start(p) : p->last_err;
	if (r < 0)
		fail_pending(p, r, false);
}

/* End the connection. graceful: the server closed or asked to (requests not
 * yet written survive); otherwise an error (everything fails, backoff). */
static void conn_shutdown(struct peer *p, int err, bool graceful)
{
	if (p->cstate == C_CONNECTING || p->cstate == C_HANDSHAKE || p->cstate == C_CONNECTED) {
		if (p->cstate == C_CONNECTED)
			p->st.disconnects++;
		if (!graceful) {
			/* Abort with RST: the kernel drops queued data at once,
			 * so zero-copy notifications come back promptly. */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			(void)setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		/* Wakes our recv (returns 0) and a blocked send (-EPIPE). */
		(void)shutdown(p->fd, SHUT_RDWR);
		if (p->connect_inflight) {
			struct io_uring_sqe *sqe = get_sqe(p);
			if (sqe) {
				io_uring_prep_cancel(sqe, &p->connect_op, 0);
				uring_op_set(sqe, &p->aux_op);
				p->aux_pending++;
			}
		}
		p->cstate = C_DRAINING;
		p->enc_slot = NULL; /* failed below, or kept queued to start over */
	}
	if (!graceful) {
		unsigned b = p->backoff_ms ? p->backoff_ms * 2 : p->cfg.backoff_min_ms;
		p->backoff_ms = b > p->cfg.backoff_max_ms ? p->cfg.backoff_max_ms : b;
		p->retry_at = now_ns() + ms_ns(p->backoff_ms);
		p->last_err = err;
	}
	fail_pending(p, graceful ? -ECONNRESET : err, graceful);
	conn_maybe_drained(p);
}

static void connect_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct peer *p = container_of(op, struct peer, connect_op);
	p->depth++;
	p->connect_inflight = false;
	if (p->cstate == C_CONNECTING) {
		if (cqe->res < 0) {
			p->st.connect_failures++;
			p->addr_idx = (p->addr_idx + 1) % p->n_addrs;
			conn_shutdown(p, cqe->res, false);
		} else if (p->tls) {
			tls_start(p);
		} else {
			p->cstate = C_CONNECTED;
			p->st.connects++;
			post_recv(p);
			kick(p);
		}
	}
	conn_maybe_drained(p);
	peer_leave(p);
}

/* The response at the head of the FIFO is complete. */
static void response_done(struct peer *p)
{
	struct slot *s = TAILQ_FIRST(&p->pending);
	TAILQ_REMOVE(&p->pending, s, link);
	p->n_wire--;
	p->backoff_ms = 0; /* a working server: next failure starts small */
	slot_finish(p, s, p->parser.status, p->body, p->body_len);
}

/* Parse what is in rbuf; returns false when the connection ended. */
static bool process_input(struct peer *p)
{
	size_t off = 0;
	bool alive = true;
	while (alive) {
		struct http_event ev;
		long n = http_parse(&p->parser, p->rbuf + off, p->rlen - off, &ev);
		if (n < 0) {
			conn_shutdown(p, n == -E2BIG ? -E2BIG : -EPROTO, false);
			return false;
		}
		off += (size_t)n;
		if (ev.kind == HTTP_EV_NEED_MORE)
			break;
		if (ev.kind == HTTP_EV_HEAD) {
			struct slot *s = TAILQ_FIRST(&p->pending);
			if (!s || s->state != S_SENT) {
				/* A response nobody asked for, or one that
				 * overtakes its own request: framing is lost. */
				conn_shutdown(p, -EPROTO, false);
				return false;
			}
			p->body_len = 0;
			p->last_response = !p->parser.keep_alive;
		} else if (ev.kind == HTTP_EV_BODY) {
			/* parser limit max_body == body buffer size */
			memcpy(p->body + p->body_len, ev.data, ev.len);
			p->body_len += ev.len;
		} else { /* HTTP_EV_DONE */
			bool keep = p->parser.keep_alive;
			response_done(p);
			if (p->cstate != C_CONNECTED)
				return false; /* the callback destroyed the peer */
			if (!keep) {
				conn_shutdown(p, -ECONNRESET, true);
				return false;
			}
			kick(p);
			if (p->cstate != C_CONNECTED)
				return false;
		}
	}
	memmove(p->rbuf, p->rbuf + off, p->rlen - off);
	p->rlen -= off;
	return true;
}

static void handle_eof(struct peer *p)
{
	struct http_event ev;
	int r = http_parse_eof(&p->parser, &ev);
	if (r == 0) { /* a body delimited by the close */
		response_done(p);
		conn_shutdown(p, -ECONNRESET, true);
	} else if (r == -ENODATA && p->rlen == 0) {
		conn_shutdown(p, -ECONNRESET, true);
	} else {
		conn_shutdown(p, -ECONNRESET, false);
	}
}

static void recv_complete(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct peer *p = container_of(op, struct peer, recv_op);
	p->depth++;
	p->recv_inflight = false;
	if (p->tls_broken && (p->cstate == C_HANDSHAKE || p->cstate == C_CONNECTED)) {
		conn_shutdown(p, p->tls_broken, false);
	} else if (p->sess && !p->ktls_rx && (p->cstate == C_HANDSHAKE || p->cstate == C_CONNECTED)) {
		if (cqe->res > 0) {
			uring_filled(p->rx, (size_t)cqe->res);
			p->rx_len = (size_t)cqe->res;
			p->st.bytes_received += (uint64_t)cqe->res;
			if (tls_input(p))
				post_recv(p);
		} else if (cqe->res == 0 && p->cstate == C_CONNECTED) {
			handle_eof(p);
		} else {
			if (p->cstate == C_HANDSHAKE) {
				p->st.connect_failures++;
				snprintf(p->tls_err, sizeof(p->tls_err),
					 "connection %s during the TLS handshake",
					 cqe->res == 0 ? "closed" : "failed");
			}
			conn_shutdown(p, cqe->res ? cqe->res : -ECONNRESET, false);
		}
	} else if (p->cstate == C_CONNECTED && p->ktls_rx && cqe->res > 0 && !ktls_record_ok(p, cqe->res)) {
		/* broken off or skipped in ktls_record_ok */
	} else if (p->cstate == C_CONNECTED) {
		if (cqe->res > 0) {
			uring_filled(p->rbuf + p->rlen, (size_t)cqe->res);
			p->rlen += (size_t)cqe->res;
			p->st.bytes_received += (uint64_t)cqe->res;
			if (process_input(p))
				post_recv(p);
		} else if (cqe->res == 0) {
			handle_eof(p);
		} else {
			conn_shutdown(p, cqe->res, false);
		}
	}
	conn_maybe_drained(p);
	peer_leave(p);
}

/* --- lifecycle ------------------------------------------------------------ */

static void peer_leave(struct peer *p)
{
	p->depth--;
	conn_maybe_drained(p);
	maybe_free(p);
}

static void maybe_free(struct peer *p)
{
	if (!p->closing || p->depth || p->timer_armed || p->aux_pending || p->n_used ||
	    p->cstate != C_DISCONNECTED)
		return;
	void (*destroyed)(void *) = p->destroyed;
	void *arg = p->destroyed_arg;
	free(p->slots);
	free(p->rbuf);
	free(p->body);
	free(p->tx);
	free(p->rx);
	free(p->stage);
	tls_creds_unref(p->tls);
	free(p);
	if (destroyed)
		destroyed(arg);
}

static unsigned def(unsigned v, unsigned d)
{
	return v ? v : d;
}

int peer_create(struct io_uring *ring, const char *url, const struct peer_config *cfg,
		struct peer **ret_peer)
{
	struct url u;
	struct peer *p = NULL;
	struct addrinfo *ai = NULL;
	int r;

	if (!ring || !url || !ret_peer || strlen(url) >= PEER_MAX_URL)
		return -EINVAL;
	p = base_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	r = url_parse(url, URL_SLASH | URL_HTTPS, &u);
	if (r < 0)
		goto fail;
	if (u.tls && (!cfg || !cfg->tls)) {
		r = -EINVAL; /* https needs at least the CAs to verify the server */
		goto fail;
	}
	snprintf(p->hostport, sizeof(p->hostport), "%s", u.hostport);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	if (getaddrinfo(u.host, u.port, &hints, &ai) != 0) {
		r = -EHOSTUNREACH;
		goto fail;
	}
	for (struct addrinfo *i = ai; i && p->n_addrs < PEER_MAX_ADDRS; i = i->ai_next) {
		if (i->ai_addrlen > sizeof(p->addrs[0]))
			continue;
		memcpy(&p->addrs[p->n_addrs], i->ai_addr, i->ai_addrlen);
		p->addrlens[p->n_addrs++] = i->ai_addrlen;
	}
	if (p->n_addrs == 0) {
		r = -EHOSTUNREACH;
		goto fail;
	}

	struct peer_config c = cfg ? *cfg : (struct peer_config){ 0 };
	c.connect_timeout_ms = def(c.connect_timeout_ms, 1000);
	c.send_timeout_ms = def(c.send_timeout_ms, 2000);
	c.response_timeout_ms = def(c.response_timeout_ms, 200);
	c.backoff_min_ms = def(c.backoff_min_ms, 50);
	c.backoff_max_ms = def(c.backoff_max_ms, 2000);
	if (c.backoff_max_ms < c.backoff_min_ms)
		c.backoff_max_ms = c.backoff_min_ms;
	c.max_queue = def(c.max_queue, 32);
	c.max_pipeline = def(c.max_pipeline, 1);
	if (!c.max_response_body)
		c.max_response_body = 64 * 1024;
	if (!c.max_head)
		c.max_head = 8 * 1024;
	if (c.max_queue > 65536 || c.max_response_body > (64u << 20) || c.max_head > (1u << 20) ||
	    c.max_head < 256) {
		r = -EINVAL;
		goto fail;
	}
	p->cfg = c;
	p->ring = ring;
	snprintf(p->url, sizeof(p->url), "%s", url);
	p->max_pipeline = c.max_pipeline;
	p->fd = -1;
	p->zc = ZC_REPORT;
	p->limits = (struct http_limits){
		.max_line = c.max_head < HTTP_DEFAULT_MAX_LINE ? c.max_head : HTTP_DEFAULT_MAX_LINE,
		.max_head = c.max_head,
		.max_headers = HTTP_DEFAULT_MAX_HEADERS,
		.max_body = c.max_response_body,
		.max_interim = HTTP_DEFAULT_MAX_INTERIM,
	};
	/* Twice a line: a full buffer with no complete line is always a
	 * line past the limit, which the parser reports first. */
	p->rcap = 2 * p->limits.max_line;
	p->rbuf = base_malloc(p->rcap);
	p->body = base_malloc(c.max_response_body);
	p->slots = base_calloc(c.max_queue, sizeof(*p->slots));
	if (!p->rbuf || !p->body || !p->slots) {
		r = -ENOMEM;
		goto fail;
	}
	TAILQ_INIT(&p->free_list);
	TAILQ_INIT(&p->pending);
	for (unsigned i = 0; i < c.max_queue; i++) {
		p->slots[i].peer = p;
		p->slots[i].send_op.complete = send_complete;
		TAILQ_INSERT_TAIL(&p->free_list, &p->slots[i], link);
	}
	if (u.tls) {
		struct in6_addr a6;
		p->tls = tls_creds_ref(cfg->tls);
		snprintf(p->tls_host, sizeof(p->tls_host), "%s", u.host);
		p->tls_host_is_name = inet_pton(AF_INET, u.host, &a6) != 1 &&
				      inet_pton(AF_INET6, u.host, &a6) != 1;
		p->tx = base_malloc(TLS_TX_CAP);
		p->rx = base_malloc(TLS_RX_CAP);
		p->stage = base_malloc(TLS_STAGE);
		if (!p->tx || !p->rx || !p->stage) {
			r = -ENOMEM;
			goto fail;
		}
		p->tls_send_op.complete = tls_send_complete;
	}
	p->connect_op.complete = connect_complete;
	p->recv_op.complete = recv_complete;
	p->timer_op.complete = timer_complete;
	p->aux_op.complete = aux_complete;
	freeaddrinfo(ai);
	*ret_peer = p;
	return 0;
fail:
	if (ai)
		freeaddrinfo(ai);
	if (p) {
		free(p->slots);
		free(p->rbuf);
		free(p->body);
		free(p->tx);
		free(p->rx);
		free(p->stage);
		tls_creds_unref(p->tls);
		free(p);
	}
	return r;
}

/* No CR, LF, space or control characters: they would let a caller's bug
 * inject headers. */
static bool head_safe(const char *s, bool allow_space)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (*s == ' ' && !allow_space))
			return false;
	return true;
}

int peer_submit(struct peer *p, const struct peer_request *req)
{
	if (p->closing)
		return -ESHUTDOWN;
	if (!req || !req->method || !req->path || !req->done || (req->iovcnt && !req->iov))
		return -EINVAL;
	const char *ctype = req->content_type ? req->content_type : "application/protobuf";
	if (!*req->method || req->path[0] != '/' || !head_safe(req->method, false) ||
	    !head_safe(req->path, false) || !head_safe(ctype, true))
		return -EINVAL;
	struct slot *s = TAILQ_FIRST(&p->free_list);
	if (!s)
		return -ENOBUFS;
	size_t body = 0;
	for (size_t i = 0; i < req->iovcnt; i++)
		body += req->iov[i].iov_len;
	int hl = snprintf(s->head, sizeof(s->head),
			  "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: raftd\r\n"
			  "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			  req->method, req->path, p->hostport, ctype, body);
	if (hl < 0 || (size_t)hl >= sizeof(s->head))
		return -EMSGSIZE;

	/* Every SQE this call may need (connect or send, plus the timer) is
	 * reserved up front, so that nothing below can fail and call back. */
	if (io_uring_sq_space_left(p->ring) < 3) {
		io_uring_submit(p->ring);
		if (io_uring_sq_space_left(p->ring) < 3)
			return -EBUSY;
	}
	if ((p->cstate == C_DISCONNECTED || p->cstate == C_DRAINING) && now_ns() < p->retry_at)
		return p->last_err; /* backing off after an error */
	if (p->cstate == C_DISCONNECTED) {
		int r = conn_start(p);
		if (r < 0)
			return r;
	}
	TAILQ_REMOVE(&p->free_list, s, link);
	p->n_used++;
	s->state = S_QUEUED;
	s->iov = req->iov;
	s->iovcnt = req->iovcnt;
	s->zero_copy = req->zero_copy;
	s->done = req->done;
	s->release = req->release;
	s->arg = req->arg;
	s->head_len = (size_t)hl;
	s->total = (size_t)hl + body;
	s->sent = 0;
	s->cur_idx = 0;
	s->cur_off = 0;
	s->send_inflight = false;
	s->last_zc = false;
	s->zc_notifs = 0;
	s->zc_bytes = 0;
	s->zc_copied = false;
	TAILQ_INSERT_TAIL(&p->pending, s, link);
	p->n_pending++;
	p->st.requests++;
	kick(p);
	return 0;
}

unsigned peer_pending(const struct peer *p)
{
	return p->n_pending;
}

void peer_set_max_pipeline(struct peer *p, unsigned n)
{
	p->max_pipeline = n ? n : 1;
	kick(p);
}

const struct peer_stats *peer_stats(const struct peer *p)
{
	return &p->st;
}

const struct sockaddr_storage *peer_addrs(const struct peer *p, size_t *ret_n)
{
	*ret_n = p->n_addrs;
	return p->addrs;
}

const char *peer_url(const struct peer *p)
{
	return p->url;
}

const char *peer_tls_error(const struct peer *p)
{
	return p->tls_err;
}

void peer_destroy(struct peer *p, void (*destroyed)(void *arg), void *arg)
{
	if (!p || p->closing)
		return;
	p->closing = true;
	p->destroyed = destroyed;
	p->destroyed_arg = arg;
	p->depth++;
	conn_shutdown(p, -ECANCELED, false);
	fail_pending(p, -ECANCELED, false);
	if (p->timer_armed) {
		struct io_uring_sqe *sqe = get_sqe(p);
		if (sqe) {
			io_uring_prep_cancel(sqe, &p->timer_op, 0);
			uring_op_set(sqe, &p->aux_op);
			p->aux_pending++;
		}
	}
	peer_leave(p);
}
