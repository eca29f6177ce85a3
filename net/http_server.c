/* net/http_server.c — libmicrohttpd driven by the event loop; see the header. */
#include "net/http_server.h"

#include "base/alloc.h"
#include "net/http_request.h"
#include "net/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

/* A source address, IPv4-mapped IPv6 taken as IPv4. */
struct addr_key {
	uint8_t len; /* 4 or 16; 0: not an IP address */
	uint8_t b[16];
};

struct addr_count {
	struct addr_key key;
	unsigned n;
	struct addr_count *next;
};
#define ADDR_BUCKETS 256

/* One generation of TLS credentials: what a connection started with stays
 * with it, whatever httpd_set_tls() installs later. */
struct tls_gen {
	unsigned refs;
	struct tls_creds *creds;
	struct tls_creds *trust[2]; /* [TRUST_CLIENT], [TRUST_PEER]; NULL: none */
};
enum { TRUST_CLIENT, TRUST_PEER };

enum conn_phase {
	PHASE_HEAD, /* waiting for a whole request head */
	PHASE_BODY, /* head in, reading its body */
	PHASE_BUSY, /* request in: the handler, a suspended wait, the response */
};

/* One accepted connection, MHD's socket context. */
struct httpd_conn {
	int fd;
	struct addr_key addr;
	bool member;     /* from a member's address */
	bool peer_budget; /* counted in the peers' budget, else the clients' */
	bool per_addr;   /* counted in its address's count */
	bool started;    /* MHD took it (NOTIFY_CONNECTION started) */
	bool closing;    /* shut down for a deadline */
	enum conn_phase phase;
	uint64_t phase_ns;
	uint64_t requests; /* completed on this connection */
	struct tls_gen *tls; /* NULL: plain HTTP */
	struct tls_identity *ids[2]; /* per trust, computed on first use */
	/* A TLS handshake waiting for the client is parked (see park_blocked) */
	struct httpd *server;
	struct MHD_Connection *mhd_conn;
	gnutls_session_t session;
	bool hs_done;    /* a request head arrived: the handshake is over */
	bool hs_blocked; /* on the server's blocked list */
	bool hs_parked;  /* suspended in MHD until poll_op completes */
	bool waiting;    /* not handed to MHD yet: poll_op waits for its first byte */
	bool dead;       /* closed while poll_op was in flight: its completion frees it */
	unsigned polls;  /* SQEs of poll_op and cancel_op the kernel holds */
	struct uring_op poll_op, cancel_op;
	struct sockaddr_storage sa; /* for MHD_add_connection */
	socklen_t sa_len;
	struct httpd_conn *blocked_next;
	struct httpd_conn *prev, *next;
};

struct httpd_request {
	struct httpd *server;
	struct MHD_Connection *conn;
	struct httpd_conn *hc;  /* NULL only if MHD gave no socket context */
	uint64_t max_body;      /* the route's, or max_stranger_body */
	uint64_t reserved;      /* of max_body_memory */
	const struct httpd_route *route;
	const char *method; /* MHD's, valid for the request's life */
	char *target;       /* the request target as sent: path and query, escaped */
	char *path;         /* its path decoded (url_unescape), may hold NUL bytes */
	size_t path_len;
	bool started;       /* on_request has seen it */
	uint8_t *body;
	size_t body_len, body_cap;
	int body_err; /* append_body()'s first failure: the body is dropped */
	bool handled;       /* the handler has seen it */
	bool suspended;
	bool active;        /* counted in its route's active requests */
	bool queue_now;     /* a response from first_call() goes out before the body */
	struct MHD_Response *response; /* answered, waiting to be queued */
	unsigned status;
	uint64_t start_ns;  /* head received, for its route's duration */
	void *user;
	struct httpd_request *prev, *next; /* on the suspended list */
};

/* libmicrohttpd gives every connection one memory pool of the daemon's
 * size for the request's head and the response's, and zeroes the whole
 * pool after each request of a keep-alive connection. A pool that holds
 * goraft's longest head (a 1 MiB key in the URL) would cost that memset on
 * every request. So there are two daemons: connections whose first request
 * line is within SHORT_LINE bytes go to one with SHORT_HEAD pools; the
 * others (or, when the line is not all there yet, the unsure) to one with
 * the configured max_head. A later request on a short-pool connection with
 * a longer head gets libmicrohttpd's 414 or 431 and is served on a new
 * connection. TLS connections cannot be read before libmicrohttpd decrypts
 * them: they all get short pools. */
#define SHORT_HEAD (64 * 1024)
#define SHORT_LINE (SHORT_HEAD / 2)
enum { MHD_SHORT, MHD_LONG };

struct httpd {
	struct loop *loop;
	struct MHD_Daemon *mhd[2]; /* [MHD_LONG] NULL: one daemon does */
	const struct httpd_route *routes;
	size_t n_routes;
	unsigned *active; /* per route: requests between head and response sent */
	struct httpd_route_stats *route_stats; /* per route, and one for no route */
	struct httpd_config cfg;
	int listen_fd;
	bool own_listen_fd; /* not the one we were given (socket activation) */
	struct loop_poll listen_poll;
	struct loop_timer sweep;       /* head and body deadlines */
	struct httpd_conn *conns;      /* every open connection */
	struct httpd_conn *adding;     /* for NOTIFY_CONNECTION inside MHD_add_connection */
	struct addr_count *per_addr[ADDR_BUCKETS];
	struct addr_key *peer_addrs;
	size_t n_peer_addrs;
	struct loop_poll poll, poll_long;
	struct loop_timer timer;
	struct loop_hook hook;
	bool need_run; /* a suspended request was answered */
	bool stopping; /* in httpd_stop: nothing may arm a timer again */
	struct httpd_request *suspended;
	struct tls_gen *tls; /* for new connections; NULL: plain HTTP */
	struct httpd_conn *blocked; /* handshakes that got EAGAIN in this MHD_run */
	unsigned conn_polls; /* SQEs of the connections' poll_op, cancel_op the kernel holds */
	struct httpd_stats stats;
	char last_error[256];
};

#define SERVER_OF(ptr, member) ((struct httpd *)((char *)(ptr) - offsetof(struct httpd, member)))

static void park_blocked(struct httpd *server);

static void run_mhd(struct httpd *server)
{
	/* httpd_stop runs MHD itself; a timer armed now would outlive it. */
	if (server->stopping)
		return;
	server->need_run = false;
	bool any = false;
	MHD_UNSIGNED_LONG_LONG timeout_ms = 0;
	for (int i = MHD_SHORT; i <= MHD_LONG; i++) {
		MHD_UNSIGNED_LONG_LONG t;
		if (!server->mhd[i])
			continue;
		MHD_run(server->mhd[i]);
		if (MHD_get_timeout(server->mhd[i], &t) == MHD_YES && (!any || t < timeout_ms)) {
			timeout_ms = t;
			any = true;
		}
	}
	park_blocked(server);
	if (any)
		loop_timer_arm(server->loop, &server->timer, timeout_ms);
	else
		loop_timer_cancel(server->loop, &server->timer);
}

static void on_epoll_ready(struct loop_poll *poll, int res)
{
	(void)res;
	run_mhd(SERVER_OF(poll, poll));
}

static void on_epoll_long_ready(struct loop_poll *poll, int res)
{
	(void)res;
	run_mhd(SERVER_OF(poll, poll_long));
}

static void on_timer(struct loop_timer *timer)
{
	run_mhd(SERVER_OF(timer, timer));
}

static void on_idle(struct loop_hook *hook)
{
	struct httpd *server = SERVER_OF(hook, hook);
	if (server->need_run)
		run_mhd(server);
}

/* --- TLS credentials -------------------------------------------------------- */

static struct tls_gen *tls_gen_new(const struct httpd_tls *tls)
{
	struct tls_gen *g = base_calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->refs = 1;
	g->creds = tls_creds_ref(tls->creds);
	g->trust[TRUST_CLIENT] = tls->client_trust ? tls_creds_ref(tls->client_trust) : NULL;
	g->trust[TRUST_PEER] = tls->peer_trust ? tls_creds_ref(tls->peer_trust) : NULL;
	return g;
}

static void tls_gen_unref(struct tls_gen *g)
{
	if (!g || --g->refs)
		return;
	tls_creds_unref(g->creds);
	tls_creds_unref(g->trust[TRUST_CLIENT]);
	tls_creds_unref(g->trust[TRUST_PEER]);
	free(g);
}

int httpd_set_tls(struct httpd *server, const struct httpd_tls *tls)
{
	/* MHD decides TLS or not for the whole daemon when it starts */
	if (!server->tls || !tls || !tls_creds_has_cert(tls->creds))
		return -EINVAL;
	struct tls_gen *g = tls_gen_new(tls);
	if (!g)
		return -ENOMEM;
	tls_gen_unref(server->tls);
	server->tls = g;
	return 0;
}

/* MHD's own credentials must hold a certificate source for it to start;
 * every session gets the connection's generation instead (tls_session_init),
 * so this is never asked, and refuses if it were. */
static int no_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		   const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
		   unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	(void)session, (void)req_ca_rdn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
	(void)pcert, (void)pcert_length, (void)privkey;
	return -1;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len);
static ssize_t tls_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt);

/* The session MHD just made for c, before any byte of its handshake:
 * our credentials and priority in place of MHD's. Returns false if the
 * session could not be set up (the caller closes the connection). */
static bool tls_session_init(struct MHD_Connection *conn, struct httpd_conn *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	gnutls_session_t s = ci->tls_session;
	const struct tls_gen *g = c->tls;
	if (gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(g->creds)) < 0 ||
	    gnutls_priority_set(s, tls_creds_priority(g->creds)) < 0)
		return false;
	c->mhd_conn = conn;
	c->session = s;
	gnutls_transport_set_ptr(s, c);
	gnutls_transport_set_pull_function(s, tls_pull);
	gnutls_transport_set_vec_push_function(s, tls_push);
	if (g->trust[TRUST_CLIENT] || g->trust[TRUST_PEER]) {
		/* requested, never required: without one the caller
		 * answers 401 with a reason, which a failed handshake
		 * could not carry */
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
		/* no list of acceptable CAs: clients then send the
		 * certificate they have, and one of another CA is refused
		 * with that reason rather than looking like none */
		gnutls_certificate_send_x509_rdn_sequence(s, 1);
	}
	return true;
}

/* libmicrohttpd 0.9.75 keeps a connection whose handshake returned
 * EAGAIN marked ready (only its record reads clear the mark), so
 * MHD_get_timeout() says 0 and the server would spin for as long as a
 * client leaves a handshake half done. Our transport functions see the
 * EAGAIN; after MHD_run() such a connection is suspended in MHD and a
 * one-shot poll of ours resumes it when the client moves. */
static void mark_blocked(struct httpd_conn *c)
{
	if (c->hs_done || c->hs_blocked)
		return;
	c->hs_blocked = true;
	c->blocked_next = c->server->blocked;
	c->server->blocked = c;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct httpd_conn *c = ptr;
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		mark_blocked(c);
	return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct httpd_conn *c = ptr;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		mark_blocked(c);
	return n;
}

static void unlink_blocked(struct httpd *server, struct httpd_conn *c)
{
	struct httpd_conn **pp = &server->blocked;
	while (*pp && *pp != c)
		pp = &(*pp)->blocked_next;
	if (*pp)
		*pp = c->blocked_next;
	c->hs_blocked = false;
}

static void on_hs_ready(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct httpd_conn *c = (struct httpd_conn *)((char *)op - offsetof(struct httpd_conn, poll_op));
	(void)cqe;
	c->polls--;
	c->server->conn_polls--;
	if (c->dead) {
		if (!c->polls)
			free(c);
		return;
	}
	if (!c->hs_parked) /* httpd_stop() resumed it already */
		return;
	c->hs_parked = false;
	MHD_resume_connection(c->mhd_conn);
	c->server->need_run = true;
}

static void on_hs_cancelled(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct httpd_conn *c = (struct httpd_conn *)((char *)op - offsetof(struct httpd_conn, cancel_op));
	(void)cqe;
	c->polls--;
	c->server->conn_polls--;
	if (!c->polls)
		free(c);
}

/* One poll of c's socket; done() runs when it is ready. */
static int poll_conn(struct httpd *server, struct httpd_conn *c, unsigned events,
		     void (*done)(struct uring_op *, const struct io_uring_cqe *))
{
	struct io_uring_sqe *sqe = loop_sqe(server->loop);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, c->fd, events);
	c->poll_op.complete = done;
	uring_op_set(sqe, &c->poll_op);
	c->polls++;
	server->conn_polls++;
	return 0;
}

/* Suspends the handshakes that wait for the client and polls their
 * sockets; one that cannot be polled stays as it was (MHD runs it again). */
static void park_blocked(struct httpd *server)
{
	while (server->blocked) {
		struct httpd_conn *c = server->blocked;
		server->blocked = c->blocked_next;
		c->hs_blocked = false;
		if (c->hs_done || c->hs_parked || !c->session)
			continue;
		unsigned events = gnutls_record_get_direction(c->session) ? POLLOUT : POLLIN;
		if (poll_conn(server, c, events, on_hs_ready) < 0)
			continue;
		c->hs_parked = true;
		MHD_suspend_connection(c->mhd_conn);
	}
}

/* c is closed: false if a poll of it (a parked handshake, the wait for
 * its first byte) is still in flight; its completion then frees it. */
static bool release_polls(struct httpd *server, struct httpd_conn *c)
{
	if (c->hs_blocked)
		unlink_blocked(server, c);
	if (!c->polls)
		return true;
	c->dead = true;
	struct io_uring_sqe *sqe = loop_sqe(server->loop);
	if (sqe) {
		io_uring_prep_cancel64(sqe, (__u64)(uintptr_t)&c->poll_op, 0);
		c->cancel_op.complete = on_hs_cancelled;
		uring_op_set(sqe, &c->cancel_op);
		c->polls++;
		server->conn_polls++;
	}
	return false;
}

static const struct tls_identity plain_identity = { .verdict = TLS_PLAIN };
static const struct tls_identity oom_identity = { .verdict = TLS_REFUSED, .reason = "out of memory" };

const struct tls_identity *httpd_identity(struct httpd_request *req)
{
	struct httpd_conn *hc = req->hc;
	if (!hc || !hc->tls)
		return hc || !req->server->tls ? &plain_identity : &oom_identity;
	int t = req->route && req->route->peer ? TRUST_PEER : TRUST_CLIENT;
	if (hc->ids[t])
		return hc->ids[t];
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	struct tls_identity *id = base_malloc(sizeof(*id));
	if (!id || !ci || !ci->tls_session) {
		free(id);
		return &oom_identity;
	}
	tls_identify(ci->tls_session, hc->tls->trust[t], id);
	hc->ids[t] = id;
	return id;
}

/* --- connections --------------------------------------------------------------- */

static struct addr_key addr_key_of(const struct sockaddr_storage *sa)
{
	struct addr_key k = { 0 };
	if (sa->ss_family == AF_INET) {
		k.len = 4;
		memcpy(k.b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			k.len = 4;
			memcpy(k.b, &a->s6_addr[12], 4);
		} else {
			k.len = 16;
			memcpy(k.b, a->s6_addr, 16);
		}
	}
	return k;
}

static bool addr_eq(const struct addr_key *a, const struct addr_key *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static struct addr_count **addr_slot(struct httpd *server, const struct addr_key *k)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (unsigned i = 0; i < k->len; i++)
		h = (h ^ k->b[i]) * 16777619u;
	struct addr_count **pp = &server->per_addr[h % ADDR_BUCKETS];
	while (*pp && !addr_eq(&(*pp)->key, k))
		pp = &(*pp)->next;
	return pp;
}

static unsigned addr_count(struct httpd *server, const struct addr_key *k)
{
	struct addr_count *c = *addr_slot(server, k);
	return c ? c->n : 0;
}

static bool addr_count_add(struct httpd *server, const struct addr_key *k)
{
	struct addr_count **pp = addr_slot(server, k);
	if (!*pp) {
		*pp = base_calloc(1, sizeof(**pp));
		if (!*pp)
			return false;
		(*pp)->key = *k;
	}
	(*pp)->n++;
	return true;
}

static void addr_count_drop(struct httpd *server, const struct addr_key *k)
{
	struct addr_count **pp = addr_slot(server, k), *c = *pp;
	if (c && --c->n == 0) {
		*pp = c->next;
		free(c);
	}
}

static bool is_member_addr(const struct httpd *server, const struct addr_key *k)
{
	for (size_t i = 0; i < server->n_peer_addrs; i++)
		if (addr_eq(&server->peer_addrs[i], k))
			return true;
	return false;
}

void httpd_set_peer_addrs(struct httpd *server, const struct sockaddr_storage *addrs, size_t n)
{
	struct addr_key *keys = n ? base_calloc(n, sizeof(*keys)) : NULL;
	if (n && !keys)
		return; /* keeps the previous set */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct addr_key key = addr_key_of(&addrs[i]);
		bool dup = !key.len;
		for (size_t j = 0; j < k && !dup; j++)
			dup = addr_eq(&keys[j], &key);
		if (!dup)
			keys[k++] = key;
	}
	free(server->peer_addrs);
	server->peer_addrs = keys;
	server->n_peer_addrs = k;
}

/* Answers a connection we will not serve and closes it, without reading
 * its request: the socket is new, so the reply fits its send buffer. What
 * already arrived is read away first, or close() would reset the
 * connection and the client could lose the answer. */
static void refuse_connection(int fd, bool tls)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Connection: close\r\n"
				   "Retry-After: 1\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Length: 28\r\n"
				   "\r\n"
				   "too many connections; retry\n";
	char sink[4096];
	if (!tls) /* plain text is noise to a TLS client, and no handshake is worth its cost here */
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

static void conn_unlink(struct httpd *server, struct httpd_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		server->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->peer_budget)
		server->stats.conns_peers--;
	else
		server->stats.conns_clients--;
	if (c->per_addr)
		addr_count_drop(server, &c->addr);
	tls_gen_unref(c->tls);
	free(c->ids[TRUST_CLIENT]);
	free(c->ids[TRUST_PEER]);
	if (release_polls(server, c))
		free(c);
}

static void arm_sweep_for(struct httpd *server, const struct httpd_conn *c);

/* long_head: a plain connection's first request line is longer than a
 * short pool takes, or not all there yet (see SHORT_HEAD). */
static void hand_to_mhd(struct httpd *server, struct httpd_conn *c, bool long_head)
{
	long_head = long_head && server->mhd[MHD_LONG] && !c->tls;
	if (long_head)
		server->stats.conns_long_head++;
	server->adding = c;
	enum MHD_Result r = MHD_add_connection(server->mhd[long_head ? MHD_LONG : MHD_SHORT], c->fd,
					       (const struct sockaddr *)&c->sa, c->sa_len);
	server->adding = NULL;
	/* MHD closes the socket when it fails; the context goes with
	 * NOTIFY_CONNECTION closed if it was started */
	if (r != MHD_YES && !c->started)
		conn_unlink(server, c);
}

/* The other protocol than this port's: a 400 in plain text (which a TLS
 * client shows as a handshake failure) and closed. */
static void refuse_protocol(int fd, bool tls)
{
	static const char to_tls[] = "HTTP/1.1 400 Bad Request\r\n"
				     "Connection: close\r\n"
				     "Content-Type: text/plain; charset=utf-8\r\n"
				     "Content-Length: 40\r\n"
				     "\r\n"
				     "this port speaks TLS: use https:// URLs\n";
	static const char to_plain[] = "HTTP/1.1 400 Bad Request\r\n"
				       "Connection: close\r\n"
				       "Content-Type: text/plain; charset=utf-8\r\n"
				       "Content-Length: 46\r\n"
				       "\r\n"
				       "this port speaks plain HTTP: use http:// URLs\n";
	char sink[4096];
	(void)!send(fd, tls ? to_tls : to_plain, tls ? sizeof(to_tls) - 1 : sizeof(to_plain) - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

static void on_first_byte(struct uring_op *op, const struct io_uring_cqe *cqe);

/* A connection goes to MHD once its first byte is there, so that TLS to a
 * plain port (whose ClientHello MHD would take for a request line that
 * never ends) and plain HTTP to a TLS port (which GnuTLS would drop
 * without a word) are answered at once. The wait counts in the budgets
 * and the head deadline as the head itself does. */
static void first_byte(struct httpd *server, struct httpd_conn *c)
{
	/* as much of the first request line as a short pool's connection
	 * may have (see SHORT_HEAD): one peek for the protocol and the pool */
	static uint8_t line[SHORT_LINE]; /* one thread */
	ssize_t n = recv(c->fd, line, c->tls ? 1 : sizeof(line), MSG_PEEK | MSG_DONTWAIT);
	uint8_t b = n > 0 ? line[0] : 0;
	bool again = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
	if (again && poll_conn(server, c, POLLIN, on_first_byte) == 0) {
		c->waiting = true;
		return;
	}
	if (!again && n <= 0) { /* gone before a byte, or past its deadline */
		close(c->fd);
		conn_unlink(server, c);
		return;
	}
	/* 0x16: a TLS handshake record; a letter: an HTTP method */
	bool tls = c->tls != NULL;
	if (n >= 1 && (tls ? (b >= 'A' && b <= 'Z') : b == 0x16)) {
		server->stats.wrong_protocol++;
		refuse_protocol(c->fd, tls);
		conn_unlink(server, c);
		return;
	}
	hand_to_mhd(server, c, n > 0 && !memchr(line, '\n', (size_t)n));
}

static void on_first_byte(struct uring_op *op, const struct io_uring_cqe *cqe)
{
	struct httpd_conn *c = (struct httpd_conn *)((char *)op - offsetof(struct httpd_conn, poll_op));
	struct httpd *server = c->server;
	(void)cqe;
	c->polls--;
	server->conn_polls--;
	if (c->dead) {
		if (!c->polls)
			free(c);
		return;
	}
	c->waiting = false;
	first_byte(server, c);
	run_mhd(server);
}

/* A new connection: into a budget, or refused with 503 (see the header). */
static void admit(struct httpd *server, int fd, const struct sockaddr_storage *sa, socklen_t len)
{
	const struct httpd_config *cfg = &server->cfg;
	bool tls = server->tls != NULL;
	struct httpd_conn *c = base_calloc(1, sizeof(*c));
	if (!c) {
		refuse_connection(fd, tls);
		return;
	}
	c->fd = fd;
	c->addr = addr_key_of(sa);
	c->member = is_member_addr(server, &c->addr);
	if (c->member && server->stats.conns_peers < cfg->peer_connections) {
		c->peer_budget = true;
	} else if (server->stats.conns_clients >= cfg->max_connections ||
		   (!c->member && cfg->max_per_address && addr_count(server, &c->addr) >= cfg->max_per_address)) {
		server->stats.conn_refused++;
		free(c);
		refuse_connection(fd, tls);
		return;
	} else if (!c->member && cfg->max_per_address) {
		if (!addr_count_add(server, &c->addr)) {
			free(c);
			refuse_connection(fd, tls);
			return;
		}
		c->per_addr = true;
	}
	if (c->peer_budget)
		server->stats.conns_peers++;
	else
		server->stats.conns_clients++;
	c->phase = PHASE_HEAD;
	c->phase_ns = loop_now_ns(server->loop);
	c->server = server;
	if (tls) {
		c->tls = server->tls;
		c->tls->refs++;
	}
	c->next = server->conns;
	if (c->next)
		c->next->prev = c;
	server->conns = c;

	memcpy(&c->sa, sa, len < sizeof(c->sa) ? len : sizeof(c->sa));
	c->sa_len = len < sizeof(c->sa) ? len : sizeof(c->sa);
	arm_sweep_for(server, c);
	first_byte(server, c);
}

static void on_listen_ready(struct loop_poll *poll, int res)
{
	struct httpd *server = SERVER_OF(poll, listen_poll);
	(void)res;
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(server->listen_fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EAGAIN; or out of fds (EMFILE...): the connection
			 * waits in the backlog until one closes */
			break;
		}
		admit(server, fd, &sa, len);
	}
	run_mhd(server);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *server = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct httpd_conn *c = server->adding;
		if (c)
			c->started = true;
		*socket_context = c;
		/* MHD's stand-in credentials refuse every handshake, so a
		 * session left without ours fails closed; the socket is shut
		 * down so that it does not wait for its deadline */
		if (c && c->tls && !tls_session_init(conn, c))
			shutdown(c->fd, SHUT_RDWR);
	} else if (*socket_context) {
		conn_unlink(server, *socket_context);
		*socket_context = NULL;
	}
}

static uint64_t deadline_ns(const struct httpd *server, const struct httpd_conn *c)
{
	uint64_t s = 0;
	/* A kept-alive connection may wait idle for its next request as long
	 * as the idle timeout allows; the first head gets head_timeout_s. */
	if (c->phase == PHASE_HEAD && c->requests && server->cfg.connection_timeout_s > server->cfg.head_timeout_s)
		s = server->cfg.connection_timeout_s;
	else if (c->phase == PHASE_HEAD)
		s = server->cfg.head_timeout_s;
	else if (c->phase == PHASE_BODY)
		s = server->cfg.body_timeout_s;
	return s && !c->closing ? c->phase_ns + s * 1000000000ull : UINT64_MAX;
}

/* Moves the sweep earlier for c's deadline; on_sweep finds the next one. */
static void arm_sweep_for(struct httpd *server, const struct httpd_conn *c)
{
	/* MHD_stop_daemon completes the requests it closes: no sweep then */
	if (server->stopping)
		return;
	uint64_t d = deadline_ns(server, c);
	if (d != UINT64_MAX && (!loop_timer_armed(&server->sweep) || server->sweep.deadline_ns > d))
		loop_timer_arm_at(server->loop, &server->sweep, d);
}

static void arm_sweep(struct httpd *server)
{
	if (server->stopping)
		return;
	uint64_t next = UINT64_MAX;
	for (struct httpd_conn *c = server->conns; c; c = c->next) {
		uint64_t d = deadline_ns(server, c);
		if (d < next)
			next = d;
	}
	if (next == UINT64_MAX)
		loop_timer_cancel(server->loop, &server->sweep);
	else if (!loop_timer_armed(&server->sweep) || server->sweep.deadline_ns > next)
		loop_timer_arm_at(server->loop, &server->sweep, next);
}

/* Closes connections past their head or body deadline. MHD has no call to
 * close a connection of its own accord, so the socket is shut down under
 * it: its next read sees the end and it closes the connection. */
static void on_sweep(struct loop_timer *timer)
{
	static const char timeout[] = "HTTP/1.1 408 Request Timeout\r\n"
				      "Connection: close\r\n"
				      "Content-Length: 0\r\n"
				      "\r\n";
	struct httpd *server = SERVER_OF(timer, sweep);
	uint64_t now = loop_now_ns(server->loop);
	bool closed = false;
	for (struct httpd_conn *c = server->conns; c; c = c->next) {
		if (deadline_ns(server, c) > now)
			continue;
		if (c->phase == PHASE_HEAD) {
			/* 408 only on a connection that never had an answer:
			 * on a kept-alive one a client sending its next request
			 * meanwhile could take the 408 for that request's */
			if (!c->requests && !c->tls)
				(void)!send(c->fd, timeout, sizeof(timeout) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			server->stats.head_timeouts++;
		} else {
			server->stats.body_timeouts++;
		}
		shutdown(c->fd, SHUT_RDWR);
		c->closing = true;
		closed = true;
	}
	arm_sweep(server);
	if (closed)
		run_mhd(server);
}

static struct httpd_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void set_phase(struct httpd *server, struct httpd_conn *c, enum conn_phase phase)
{
	if (!c)
		return;
	c->phase = phase;
	c->phase_ns = loop_now_ns(server->loop);
	arm_sweep_for(server, c);
}

/* --- replies ---------------------------------------------------------------- */

static void unlink_suspended(struct httpd_request *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		req->server->suspended = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

static int finish_reply(struct httpd_request *req, unsigned status, struct MHD_Response *resp,
			const char *content_type, const char *const *extra_headers)
{
	int rv = 0;
	if (resp && content_type &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES)
		rv = -ENOMEM;
	for (size_t i = 0; resp && rv == 0 && extra_headers && extra_headers[i]; i += 2)
		if (MHD_add_response_header(resp, extra_headers[i], extra_headers[i + 1]) != MHD_YES)
			rv = -ENOMEM;
	if (!resp || rv < 0) {
		if (resp)
			MHD_destroy_response(resp);
		/* An empty 500 needs no allocation of ours; MHD may still fail. */
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		rv = -ENOMEM;
	}
	req->response = resp;
	req->status = status;
	if (status / 100 < 6)
		req->server->stats.responses_by_class[status / 100]++;
	if (req->suspended) {
		req->suspended = false;
		unlink_suspended(req);
		req->server->stats.suspended_now--;
		MHD_resume_connection(req->conn);
		req->server->need_run = true;
	}
	return rv;
}

int httpd_reply(struct httpd_request *req, unsigned status, const char *content_type, const void *body,
		size_t len, const char *const *extra_headers)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	return finish_reply(req, status, resp, content_type, extra_headers);
}

int httpd_reply_fd(struct httpd_request *req, unsigned status, const char *content_type, int fd,
		   uint64_t size, const char *const *extra_headers)
{
	/* MHD closes fd when the response is destroyed, or now on failure. */
	struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
	return finish_reply(req, status, resp, content_type, extra_headers);
}

int httpd_reply_text(struct httpd_request *req, unsigned status, const char *text)
{
	static const char *const error_headers[] = { "X-Content-Type-Options", "nosniff", NULL };
	size_t len = strlen(text);
	char *body = base_malloc(len + 2);
	if (!body)
		return httpd_reply(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "", 0, NULL);
	memcpy(body, text, len);
	body[len] = '\n';
	/* goraft's http.Error: text/plain, nosniff, a trailing newline. */
	int rv = httpd_reply(req, status, "text/plain; charset=utf-8", body, len + 1,
			     status >= 400 ? error_headers : NULL);
	free(body);
	return rv;
}

/* Hands a ready response to MHD. MHD keeps its own reference. */
static enum MHD_Result queue_reply(struct httpd_request *req)
{
	enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->response);
	MHD_destroy_response(req->response);
	req->response = NULL;
	return r;
}

/* --- request flow ------------------------------------------------------------ */

static const struct httpd_route *find_route(const struct httpd *server, const char *method,
					    const char *path, size_t len, bool *ret_path_known)
{
	*ret_path_known = false;
	for (size_t i = 0; i < server->n_routes; i++) {
		const struct httpd_route *r = &server->routes[i];
		size_t plen = strlen(r->path);
		bool match = r->prefix ? len > plen && memcmp(path, r->path, plen) == 0
				       : len == plen && memcmp(path, r->path, plen) == 0;
		if (!match)
			continue;
		*ret_path_known = true;
		if (!r->method || strcmp(r->method, method) == 0)
			return r;
	}
	return NULL;
}

/* 0, -E2BIG (over the route's limit) or -ENOMEM */
static int append_body(struct httpd_request *req, const char *data, size_t len)
{
	if (req->body_len + len > req->max_body)
		return -E2BIG;
	if (req->body_len + len > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 4096;
		/* The Content-Length was admitted against the body budget: take
		 * it in one allocation, whose pages fill as the bytes arrive,
		 * rather than doubling, which holds two copies while it moves
		 * and leaves the old ones to the allocator. */
		if (!req->body_cap && req->reserved > cap && req->reserved <= req->max_body)
			cap = (size_t)req->reserved;
		while (cap < req->body_len + len)
			cap *= 2;
		if (cap > req->max_body)
			cap = req->max_body;
		uint8_t *grown = base_realloc(req->body, cap);
		if (!grown)
			return -ENOMEM;
		req->body = grown;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	return 0;
}

static enum MHD_Result add_framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
					    const char *value)
{
	(void)kind;
	http_framing_add(cls, key, value ? value : "");
	return MHD_YES;
}

static void reply_busy(struct httpd_request *req, const char *why)
{
	static const char *const retry[] = { "Retry-After", "1", NULL };
	httpd_reply(req, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", why, strlen(why), retry);
}

/* The head is in, no byte of the body read: answers now (queue_now) what
 * is refused. Returns whether the body is to be read. */
static bool first_call(struct httpd *server, struct httpd_request *req, const char *method)
{
	struct httpd_conn *hc = req->hc;
	const struct httpd_config *cfg = &server->cfg;
	req->queue_now = true;

	/* See net/http_request.h. */
	struct http_framing framing = { 0 };
	const char *why;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_framing_header, &framing);
	unsigned refuse = http_framing_verdict(&framing, &why);
	if (refuse) {
		server->stats.bad_framing++;
		httpd_reply_text(req, refuse, why);
		return false;
	}

	bool path_known;
	req->route = find_route(server, method, req->path, req->path_len, &path_known);
	/* The peers' budget is for peer RPCs only. */
	if (hc && hc->peer_budget && !(req->route && req->route->peer)) {
		if (server->stats.conns_clients >= cfg->max_connections) {
			server->stats.conn_refused++;
			reply_busy(req, "too many connections; retry\n");
			return false;
		}
		hc->peer_budget = false;
		server->stats.conns_peers--;
		server->stats.conns_clients++;
	}
	if (!req->route) {
		/* Answered once the request is read: a response queued
		 * earlier makes MHD close a keep-alive connection. */
		req->queue_now = false;
		httpd_reply_text(req, path_known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
				 path_known ? "405 method not allowed" : "404 page not found");
		return true;
	}
	size_t ri = (size_t)(req->route - server->routes);
	if (req->route->max_active && server->active[ri] >= req->route->max_active) {
		server->stats.route_busy++;
		reply_busy(req, "busy: too many of these requests at once; retry\n");
		return false;
	}
	server->active[ri]++;
	req->active = true;

	/* A body we would refuse anyway is not worth reading. A peer RPC
	 * from an address that is not a member's gets little room: the
	 * sender's name is only in the body. */
	req->max_body = req->route->max_body;
	bool stranger = req->route->peer && hc && !hc->member && server->n_peer_addrs && cfg->max_stranger_body &&
			cfg->max_stranger_body < req->max_body;
	if (stranger)
		req->max_body = cfg->max_stranger_body;
	const char *clen = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
	uint64_t len = clen ? strtoull(clen, NULL, 10) : 0;
	if (len > req->max_body) {
		if (stranger)
			server->stats.stranger_refused++;
		else
			server->stats.body_too_large++;
		httpd_reply_text(req, MHD_HTTP_CONTENT_TOO_LARGE,
				 stranger ? "request body too large for a sender that is not a member"
					  : "request body too large");
		return false;
	}
	/* Room for the whole body now, or none: bodies are only read into
	 * memory that is there for them. */
	if (cfg->max_body_memory && len > cfg->max_body_memory - server->stats.body_bytes) {
		server->stats.memory_refused++;
		reply_busy(req, "busy: too many request bodies being read; retry\n");
		return false;
	}
	req->reserved = len;
	server->stats.body_bytes += len;
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct httpd *server = cls;
	struct httpd_request *req = *con_cls;

	if (!req || !req->started) {
		/* on_uri made req, or could not: MHD's own path (url) ends at
		 * a %00 and would name another key, so no request is served
		 * without on_uri's */
		if (!req)
			return MHD_NO; /* MHD closes the connection */
		req->started = true;
		req->server = server;
		req->conn = conn;
		req->hc = conn_of(conn);
		req->method = method;
		req->start_ns = hist_now_ns();
		(void)url;
		*con_cls = req;
		server->stats.requests++;
		set_phase(server, req->hc, PHASE_BODY);
		if (!first_call(server, req, method))
			set_phase(server, req->hc, PHASE_BUSY);
		return req->response && req->queue_now ? queue_reply(req) : MHD_YES;
	}

	if (*upload_data_size) {
		if (!req->response && !req->body_err)
			req->body_err = append_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole request is in. */
	set_phase(server, req->hc, PHASE_BUSY);
	if (req->response)
		return queue_reply(req);
	if (req->body_err == -E2BIG) {
		server->stats.body_too_large++;
		httpd_reply_text(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
		return queue_reply(req);
	}
	if (req->body_err) {
		/* not the client's fault: a 413 would tell it to shrink a body
		 * that fits */
		reply_busy(req, "busy: out of memory reading the request body; retry\n");
		return queue_reply(req);
	}
	if (req->handled)
		return MHD_YES; /* a wake-up while still waiting */
	req->handled = true;
	/* httpd_stop's last run of MHD: a handler could park it, and nothing
	 * would answer it any more. */
	if (server->stopping) {
		httpd_reply_text(req, MHD_HTTP_SERVICE_UNAVAILABLE, "raftd is shutting down");
		return queue_reply(req);
	}
	req->route->handler(req, req->route->data);
	if (req->response)
		return queue_reply(req);

	/* Answered later: park the connection. */
	MHD_suspend_connection(conn);
	req->suspended = true;
	req->next = server->suspended;
	if (req->next)
		req->next->prev = req;
	server->suspended = req;
	server->stats.suspended_now++;
	return MHD_YES;
}

/* Its route's duration and status code: no allocation, a short scan. */
static void count_answered(struct httpd *server, const struct httpd_request *req)
{
	struct httpd_route_stats *rs =
		&server->route_stats[req->route ? (size_t)(req->route - server->routes) : server->n_routes];
	hist_observe(&rs->duration, hist_now_ns() - req->start_ns);
	unsigned i = 0;
	while (i < HTTPD_CODES - 1 && rs->codes[i].code && rs->codes[i].code != req->status)
		i++;
	if (i < HTTPD_CODES - 1 && !rs->codes[i].code)
		rs->codes[i].code = req->status;
	rs->codes[i].count++;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct httpd *server = cls;
	struct httpd_request *req = *con_cls;
	/* the next request on a kept-alive connection gets its own head deadline */
	struct httpd_conn *hc = conn_of(conn);
	if (hc)
		hc->requests++;
	set_phase(server, hc, PHASE_HEAD);
	if (!req)
		return;
	if (req->active)
		server->active[req->route - server->routes]--;
	if (req->status)
		count_answered(server, req);
	server->stats.body_bytes -= req->reserved;
	if (req->response)
		MHD_destroy_response(req->response);
	free(req->body);
	free(req->target);
	free(req->path);
	free(req);
	*con_cls = NULL;
}

/* MHD's first look at a request, before it decodes the path: the target
 * as sent is kept, and its path decoded here with its length, since MHD's
 * decoded path ends at the first %00. What this returns is the request's
 * context in on_request (NULL, out of memory: the connection is closed). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	struct httpd_conn *hc = conn_of(conn);
	if (hc) /* a request line came through: no handshake to park any more */
		hc->hs_done = true;
	struct httpd_request *req = base_calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	size_t plen = strcspn(uri, "?");
	req->target = base_strdup(uri);
	req->path = base_malloc(plen + 1);
	if (req->path) {
		memcpy(req->path, uri, plen);
		req->path[plen] = '\0';
	}
	if (!req->target || !req->path) {
		free(req->target);
		free(req->path);
		free(req);
		return NULL;
	}
	req->path_len = url_unescape(req->path);
	return req;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *server = cls;
	vsnprintf(server->last_error, sizeof(server->last_error), fmt, ap);
	/* MHD ends its messages with a newline. */
	size_t n = strlen(server->last_error);
	if (n && server->last_error[n - 1] == '\n')
		server->last_error[n - 1] = '\0';
}

/* --- lifecycle --------------------------------------------------------------- */

/* Our own listening socket: connections are accepted here, counted, and
 * handed to MHD (MHD_USE_NO_LISTEN_SOCKET) or refused. */
static int open_listener(struct httpd *server, const struct httpd_config *cfg, char *err, size_t err_len)
{
	if (cfg->listen_fd >= 0) {
		int fl = fcntl(cfg->listen_fd, F_GETFL);
		if (fl < 0 || fcntl(cfg->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			snprintf(err, err_len, "listening socket %d: %s", cfg->listen_fd, strerror(errno));
			return -errno;
		}
		server->listen_fd = cfg->listen_fd;
		return 0;
	}
	struct sockaddr_storage addr = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
	socklen_t len = sizeof(*in4);
	in4->sin_family = AF_INET; /* every IPv4 address, as goraft's default */
	in4->sin_port = htons(cfg->port);
	if (cfg->listen_host && *cfg->listen_host) {
		if (inet_pton(AF_INET, cfg->listen_host, &in4->sin_addr) == 1) {
			/* as set above */
		} else if (inet_pton(AF_INET6, cfg->listen_host, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(cfg->port);
			len = sizeof(*in6);
		} else {
			snprintf(err, err_len, "listen address '%s' is not a numeric IPv4 or IPv6 address",
				 cfg->listen_host);
			return -EINVAL;
		}
	}
	int one = 1, rv = 0;
	int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		rv = -errno;
		snprintf(err, err_len, "cannot listen on %s:%u: %s",
			 cfg->listen_host && *cfg->listen_host ? cfg->listen_host : "*", cfg->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rv;
	}
	server->listen_fd = fd;
	server->own_listen_fd = true;
	return 0;
}

/* Every connection the budgets allow needs an fd; the usual soft limit
 * (1024) is below them. */
static void raise_fd_limit(const struct httpd_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections + cfg->peer_connections + 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int httpd_start(struct loop *loop, const struct httpd_config *cfg, struct httpd **ret, char *err,
		size_t err_len)
{
	int rv;
	struct httpd *server = base_calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->loop = loop;
	server->routes = cfg->routes;
	server->n_routes = cfg->n_routes;
	server->cfg = *cfg;
	if (!server->cfg.max_connections)
		server->cfg.max_connections = 1024;
	if (!server->cfg.connection_timeout_s)
		server->cfg.connection_timeout_s = 60;
	if (!server->cfg.head_timeout_s)
		server->cfg.head_timeout_s = server->cfg.connection_timeout_s;
	server->listen_fd = -1;
	if (cfg->tls && !tls_creds_has_cert(cfg->tls->creds)) {
		snprintf(err, err_len, "TLS needs a certificate and its key");
		free(server);
		return -EINVAL;
	}
	server->active = base_calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*server->active));
	server->route_stats = base_calloc(cfg->n_routes + 1, sizeof(*server->route_stats));
	for (size_t i = 0; server->route_stats && i < cfg->n_routes; i++)
		server->route_stats[i].route = &cfg->routes[i];
	server->tls = cfg->tls ? tls_gen_new(cfg->tls) : NULL;
	if (!server->active || !server->route_stats || (cfg->tls && !server->tls)) {
		tls_gen_unref(server->tls);
		free(server->active);
		free(server->route_stats);
		free(server);
		return -ENOMEM;
	}
	loop_timer_init(&server->timer, on_timer);
	loop_timer_init(&server->sweep, on_sweep);
	server->hook.run = on_idle;
	raise_fd_limit(&server->cfg);
	rv = open_listener(server, cfg, err, err_len);
	if (rv < 0)
		goto fail;

	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
	struct MHD_OptionItem opts[12];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, server };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, server };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, server };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, server };
	/* our budgets decide; MHD's own limit is only a backstop */
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
					     server->cfg.max_connections + server->cfg.peer_connections + 16, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, server->cfg.connection_timeout_s, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL };
	size_t limit_at = n; /* the pool size: SHORT_HEAD or max_head (see SHORT_HEAD) */
	size_t max_head = server->cfg.max_head;
	bool two = max_head > SHORT_HEAD && !server->tls;
	if (max_head)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
						     (intptr_t)(max_head > SHORT_HEAD ? SHORT_HEAD : max_head),
						     NULL };
	if (server->tls) {
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)(intptr_t)no_cert };
		/* what a session gets before ours replace it: never older than 1.2 */
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_DEFAULT_PRIORITY };
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	for (int i = MHD_SHORT; i <= (two ? MHD_LONG : MHD_SHORT); i++) {
		if (i == MHD_LONG)
			opts[limit_at].value = (intptr_t)max_head;
		server->mhd[i] = MHD_start_daemon(flags, 0, NULL, NULL, on_request, server, MHD_OPTION_ARRAY,
						  opts, MHD_OPTION_END);
		if (!server->mhd[i]) {
			snprintf(err, err_len, "cannot start the HTTP server: %s",
				 server->last_error[0] ? server->last_error : "libmicrohttpd refused to start");
			rv = -EADDRNOTAVAIL;
			goto fail_mhd;
		}
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->mhd[i], MHD_DAEMON_INFO_EPOLL_FD);
		struct loop_poll *poll = i == MHD_LONG ? &server->poll_long : &server->poll;
		rv = loop_poll_start(loop, poll, info->epoll_fd, POLLIN,
				     i == MHD_LONG ? on_epoll_long_ready : on_epoll_ready);
		if (rv < 0) {
			snprintf(err, err_len, "cannot poll the HTTP server: %s", strerror(-rv));
			MHD_stop_daemon(server->mhd[i]);
			server->mhd[i] = NULL;
			goto fail_mhd;
		}
	}
	rv = loop_poll_start(loop, &server->listen_poll, server->listen_fd, POLLIN, on_listen_ready);
	if (rv < 0) {
		snprintf(err, err_len, "cannot poll the listening socket: %s", strerror(-rv));
		goto fail_mhd;
	}
	loop_add_hook(loop, &server->hook);
	*ret = server;
	return 0;

fail_mhd:
	for (int i = MHD_SHORT; i <= MHD_LONG; i++) {
		struct loop_poll *poll = i == MHD_LONG ? &server->poll_long : &server->poll;
		if (!server->mhd[i])
			continue;
		loop_poll_cancel(loop, poll);
		loop_drain(loop, &poll->inflight, 1000);
		MHD_stop_daemon(server->mhd[i]);
	}
fail:
	if (server->own_listen_fd)
		close(server->listen_fd);
	tls_gen_unref(server->tls);
	free(server->active);
	free(server->route_stats);
	/* see httpd_stop: the kernel may still complete into a poll */
	if (!server->poll.inflight && !server->poll_long.inflight)
		free(server);
	return rv;
}

uint16_t httpd_port(const struct httpd *server)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	if (getsockname(server->listen_fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	if (sa.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
	return 0;
}

const struct httpd_stats *httpd_stats(const struct httpd *server)
{
	return &server->stats;
}

const struct httpd_route_stats *httpd_route_stats(const struct httpd *server, size_t *ret_n)
{
	*ret_n = server->n_routes + 1;
	return server->route_stats;
}

static void remove_hook(struct loop *loop, struct loop_hook *hook)
{
	for (struct loop_hook **p = &loop->hooks; *p; p = &(*p)->next) {
		if (*p == hook) {
			*p = hook->next;
			return;
		}
	}
}

int httpd_stop(struct httpd *server)
{
	if (!server)
		return 0;
	int rv = 0;
	server->stopping = true;
	while (server->suspended)
		httpd_reply_text(server->suspended, MHD_HTTP_SERVICE_UNAVAILABLE, "raftd is shutting down");
	/* MHD_stop_daemon() aborts the process while any connection is
	 * suspended: the handshakes parked for their clients too. Their
	 * polls stay in flight and are cancelled when MHD closes them. */
	for (struct httpd_conn *c = server->conns; c; c = c->next)
		if (c->hs_parked) {
			c->hs_parked = false;
			MHD_resume_connection(c->mhd_conn);
		}
	/* Let MHD deliver what was just answered (and take the resumed
	 * handshakes back) before it closes everything. */
	for (int i = MHD_SHORT; i <= MHD_LONG; i++)
		if (server->mhd[i])
			MHD_run(server->mhd[i]);
	loop_poll_cancel(server->loop, &server->poll);
	if (server->mhd[MHD_LONG])
		loop_poll_cancel(server->loop, &server->poll_long);
	loop_poll_cancel(server->loop, &server->listen_poll);
	/* The kernel still holds the polls until their cancellation completes. */
	loop_drain(server->loop, &server->poll.inflight, 1000);
	loop_drain(server->loop, &server->poll_long.inflight, 1000);
	loop_drain(server->loop, &server->listen_poll.inflight, 1000);
	remove_hook(server->loop, &server->hook);
	/* the ones not handed to MHD yet are ours to close */
	for (struct httpd_conn *c = server->conns, *next; c; c = next) {
		next = c->next;
		if (c->waiting) {
			close(c->fd);
			conn_unlink(server, c);
		}
	}
	for (int i = MHD_SHORT; i <= MHD_LONG; i++)
		if (server->mhd[i])
			MHD_stop_daemon(server->mhd[i]); /* closes the connections: their contexts go */
	/* the polls of parked handshakes point into their connections */
	loop_drain(server->loop, &server->conn_polls, 1000);
	/* After MHD_stop_daemon: what it completed could have armed them. */
	loop_timer_cancel(server->loop, &server->timer);
	loop_timer_cancel(server->loop, &server->sweep);
	if (server->own_listen_fd) {
		/* The ring may hold the socket a little longer than our fd
		 * (its poll's last reference goes asynchronously): shut it
		 * down so that it stops listening now, and a restart in the
		 * same process can bind the port again. */
		shutdown(server->listen_fd, SHUT_RDWR);
		close(server->listen_fd);
	}
	for (size_t i = 0; i < ADDR_BUCKETS; i++)
		while (server->per_addr[i]) {
			struct addr_count *c = server->per_addr[i];
			server->per_addr[i] = c->next;
			free(c);
		}
	free(server->peer_addrs);
	tls_gen_unref(server->tls);
	free(server->active);
	free(server->route_stats);
	/* A poll the kernel may still complete into must stay allocated: a
	 * leak, not a write into freed memory. */
	if (server->poll.inflight || server->poll_long.inflight || server->listen_poll.inflight || server->conn_polls)
		rv = -ETIMEDOUT;
	else
		free(server);
	return rv;
}

/* --- request accessors ----------------------------------------------------- */

const char *httpd_method(const struct httpd_request *req)
{
	return req->method;
}

const char *httpd_path(const struct httpd_request *req)
{
	return req->path;
}

const char *httpd_path_n(const struct httpd_request *req, size_t *ret_len)
{
	*ret_len = req->path_len;
	return req->path;
}

const char *httpd_target(const struct httpd_request *req)
{
	return req->target ? req->target : req->path;
}

const char *httpd_query(const struct httpd_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *httpd_header(const struct httpd_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const uint8_t *httpd_body(const struct httpd_request *req, size_t *ret_len)
{
	*ret_len = req->body_len;
	return req->body ? req->body : (const uint8_t *)"";
}

void httpd_set_user(struct httpd_request *req, void *user)
{
	req->user = user;
}

void *httpd_user(const struct httpd_request *req)
{
	return req->user;
}

bool httpd_request_gone(const struct httpd_request *req)
{
	/* a suspended connection is not polled by MHD: its socket is asked
	 * directly (a FIN or a reset; bytes the client sent meanwhile are
	 * left for MHD) */
	if (!req->suspended || !req->hc || req->hc->fd < 0)
		return false;
	struct pollfd p = { .fd = req->hc->fd, .events = POLLRDHUP };
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}
