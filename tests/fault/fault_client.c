/* tests/fault/fault_client.c — concurrent clients for fault runs, and the
 * end-of-run reads. Writes history.h records.
 *
 *   fault-client run --nodes A,B,.. --out FILE [--seconds 20] [--clients 6]
 *       [--seed 1] [--hot 4] [--epoch-ms 4000] [--mix 35,25,15,25]
 *       [--timeout-ms 2000] [--think-us 500] [--grpc GA,GB,..]
 *   fault-client final --nodes A,B,.. --history FILE --out FILE [--wait-s 60]
 *   fault-client status --nodes A,B,..     one line per node
 *   fault-client leader --nodes A,B,..     the leader's index, or exit 1
 *
 * Every mode takes --cacert FILE [--cert FILE --key FILE]: HTTPS to every
 * node, the server's certificate verified against the CA (chain and the
 * node's address), the client certificate presented (net/tls loads the
 * files). A failed handshake is a request that was not sent;
 * FAULT_CLIENT_DEBUG=1 prints GnuTLS's reason on stderr.
 *
 * Nodes are IPv4 HOST:PORT. run: --clients threads, each one operation at
 * a time, for --seconds or until SIGUSR1/SIGTERM/SIGINT (then the operations
 * in flight finish or time out, and the history is written). --mix gives the weights of: writes to hot keys,
 * consistent reads of hot keys (at the presumed leader), local reads of hot
 * keys (at a random node), writes of keys written once. Hot keys are
 * "h<epoch>.<i>": a new set every --epoch-ms, which keeps each key's history
 * short for the checker. Every written value is unique ("<seed>.<client>.<n>").
 * --value-pad N (run and final, up to 131072) appends "-" and N characters
 * derived from that token to every value written, and a read gives back the
 * token only if the padding is exactly that: long values make long log
 * entries (batches of several, zero-copy sends of large bodies), and any
 * damage to them reads as a value no write had.
 * A client sends writes and consistent reads to the node it believes leads
 * and moves to the next node on 400/503/timeout/connection error.
 *
 * --grpc GA,GB,..: the nodes' gRPC ports (etcd's v3 API, in --nodes'
 * order), and --mix takes four more weights (default then
 * 12,12,8,8,15,15,15,15): v3 Puts of hot keys, linearizable v3 Ranges of
 * hot keys, and compare-and-swaps: a Range, then a Txn that puts a new
 * value if the key's value (or its mod_revision) is still what the Range
 * saw (mod_revision 0 when the key was absent: etcd's value compare on a
 * missing key always fails). All on the same hot keys as the /db
 * operations: one store, one history (history.h's P, G, C, M records).
 * Through net/grpc_client, one connection per node and client, each call
 * with --timeout-ms. Outcomes: status OK is ok (a Txn's succeeded says
 * swapped or compare failed); a connection that could not be made, or
 * was gone before the call, is fail; any other status (UNAVAILABLE: no
 * leader, request timed out, leader failure), a deadline, a connection
 * lost mid-call is info for a write, fail for a read.
 *
 * Outcomes: 200 is ok. A write that got 400 (not the leader), 500 "failed to
 * be committed" or connection refused certainly did not happen: fail. A
 * timeout, 503 or lost connection after the request went out: info (may
 * have happened). Invocation and completion are CLOCK_MONOTONIC ns.
 *
 * final: waits until every node answers, one leads, and all have applied
 * the leader's commit index (twice in a row), then reads every hot key
 * consistently at the leader (appended to the history as client 1000) and
 * every key written in the history locally on every node (F records to
 * --out). Exits 1 when the cluster does not converge within --wait-s (the
 * reads are made anyway, from the nodes that answer) or a node does not
 * answer them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "etcd/rpc.pb-c.h"
#include "net/grpc_client.h"
#include "net/http_parse.h"
#include "net/tls.h"
#include "net/url.h"

#define MAX_NODES 9
#define FINAL_CLIENT 1000

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- a blocking HTTP/1.1 client with deadlines ------------------------------- */

struct addr {
	char text[URL_HOSTPORT_MAX];
	char host[URL_HOSTPORT_MAX];
	struct sockaddr_in sa;
};

struct conn {
	int fd;
	const struct addr *a;
	gnutls_session_t tls; /* NULL: plain HTTP */
};

static struct tls_creds *tls_creds; /* --cacert: every connection speaks TLS */

enum outcome {
	SENT_ANSWERED, /* a response was read */
	NOT_SENT,      /* the request certainly did not reach the server */
	SENT_UNKNOWN,  /* it may have: timeout or connection lost */
};

#define MAX_VALUE_PAD 131072
static size_t value_pad; /* --value-pad */

struct resp {
	int status;
	char body[4096 + MAX_VALUE_PAD];
	size_t len;
	bool truncated;
};

static void conn_close(struct conn *c)
{
	/* no close_notify: the server learns of the close from TCP, as it
	 * does of a client that was killed */
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = ev };
		int r = poll(&p, 1, (int)(left / 1000000) + 1);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int tls_open(struct conn *c, int64_t deadline);

static int conn_open(struct conn *c, int64_t deadline)
{
	if (c->fd >= 0) {
		/* a kept-alive connection the server closed meanwhile: reopen
		 * rather than send into it */
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, 0) == 0)
			return 0;
		conn_close(c);
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&c->a->sa, sizeof(c->a->sa)) < 0) {
		if (errno != EINPROGRESS) {
			int e = -errno;
			conn_close(c);
			return e;
		}
		int r = wait_fd(c->fd, POLLOUT, deadline), err = 0;
		socklen_t l = sizeof(err);
		if (r == 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err)
			r = -err;
		if (r < 0) {
			conn_close(c);
			return r;
		}
	}
	return tls_creds ? tls_open(c, deadline) : 0;
}

/* the handshake on c's connected socket, verifying the node's certificate
 * against the CA and its address */
static int tls_open(struct conn *c, int64_t deadline)
{
	int r = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
	if (r < 0) {
		c->tls = NULL;
		goto fail;
	}
	if ((r = gnutls_priority_set(c->tls, tls_creds_priority(tls_creds))) < 0 ||
	    (r = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(tls_creds))) < 0)
		goto fail;
	gnutls_session_set_verify_cert(c->tls, c->a->host, 0);
	gnutls_transport_set_int(c->tls, c->fd);
	gnutls_handshake_set_timeout(c->tls, 0);
	while ((r = gnutls_handshake(c->tls)) < 0) {
		if (gnutls_error_is_fatal(r))
			goto fail;
		if (wait_fd(c->fd, gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN, deadline) < 0)
			goto fail;
	}
	return 0;
fail:
	if (r < 0 && getenv("FAULT_CLIENT_DEBUG"))
		fprintf(stderr, "fault-client: TLS to %s: %s\n", c->a->text, gnutls_strerror(r));
	conn_close(c);
	return -EPROTO;
}

/* send/recv on the connection, TLS or not: > 0 bytes, 0 end of stream,
 * -EAGAIN (wait for io_events(c)), other -errno */
static ssize_t io_send(struct conn *c, const char *p, size_t n)
{
	if (!c->tls) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		return w >= 0 ? w : errno == EINTR ? -EAGAIN : -errno;
	}
	ssize_t w = gnutls_record_send(c->tls, p, n);
	return w >= 0 ? w : w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED ? -EAGAIN : -EPIPE;
}

static ssize_t io_recv(struct conn *c, char *p, size_t n)
{
	if (!c->tls) {
		ssize_t g = recv(c->fd, p, n, 0);
		return g >= 0 ? g : errno == EINTR ? -EAGAIN : -errno;
	}
	ssize_t g = gnutls_record_recv(c->tls, p, n);
	if (g >= 0)
		return g;
	if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	/* a TCP close without close_notify ends the stream as for plain
	 * HTTP (a body until close is then as trustworthy as without TLS) */
	return g == GNUTLS_E_PREMATURE_TERMINATION ? 0 : -EIO;
}

/* what to wait for after -EAGAIN: GnuTLS may need to write while reading */
static short io_events(struct conn *c, short want)
{
	if (!c->tls)
		return want;
	return gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN;
}

static enum outcome http(struct conn *c, const char *method, const char *path, const char *body,
			 int timeout_ms, struct resp *r)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
	static __thread char req[1024 + 64 + MAX_VALUE_PAD], buf[16384 + MAX_VALUE_PAD];
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n\r\n%s", method,
			 path, c->a->text, blen, body ? body : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		return NOT_SENT;
	if (conn_open(c, deadline) < 0)
		return NOT_SENT;
	size_t sent = 0;
	while (sent < (size_t)n) {
		ssize_t w = io_send(c, req + sent, (size_t)n - sent);
		if (w > 0) {
			sent += (size_t)w;
		} else if (w == -EAGAIN || w == -EWOULDBLOCK) {
			if (wait_fd(c->fd, io_events(c, POLLOUT), deadline) < 0)
				break;
		} else {
			break;
		}
	}
	if (sent < (size_t)n) {
		conn_close(c);
		return sent ? SENT_UNKNOWN : NOT_SENT;
	}
	/* The response through net/http_parse, as every other client of the
	 * project reads one; only the stream is buffered here, the body goes
	 * straight into r (cut to its size: r->truncated). */
	struct http_limits lim = { .max_body = 64u << 20 };
	struct http_parser p;
	size_t have = 0, used = 0;
	uint64_t body_len = 0;
	http_parser_init(&p, &lim);
	r->status = 0;
	for (;;) {
		struct http_event ev;
		long took = http_parse(&p, (const uint8_t *)buf + used, have - used, &ev);
		if (took < 0)
			goto lost;
		used += (size_t)took;
		if (ev.kind == HTTP_EV_HEAD) {
			r->status = p.status;
			continue;
		}
		if (ev.kind == HTTP_EV_BODY) {
			if (body_len < sizeof(r->body) - 1) {
				size_t room = sizeof(r->body) - 1 - (size_t)body_len;
				memcpy(r->body + body_len, ev.data, ev.len < room ? ev.len : room);
			}
			body_len += ev.len;
			continue;
		}
		if (ev.kind == HTTP_EV_DONE)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
		used = 0;
		if (have == sizeof(buf))
			goto lost;
		ssize_t got = io_recv(c, buf + have, sizeof(buf) - have);
		if (got > 0) {
			have += (size_t)got;
		} else if (got == 0) {
			if (have == 0 && http_parse_eof(&p, &ev) == 0 && ev.kind == HTTP_EV_DONE)
				break; /* body until close */
			goto lost;
		} else if (got == -EAGAIN || got == -EWOULDBLOCK) {
			if (wait_fd(c->fd, io_events(c, POLLIN), deadline) < 0)
				goto lost;
		} else {
			goto lost;
		}
	}
	r->truncated = body_len >= sizeof(r->body);
	r->len = r->truncated ? sizeof(r->body) - 1 : (size_t)body_len;
	r->body[r->len] = 0;
	/* bytes after the response: the server is confused; close as well */
	if (!p.keep_alive || used < have)
		conn_close(c);
	return SENT_ANSWERED;
lost:
	conn_close(c);
	return SENT_UNKNOWN;
}

/* --- options and nodes ------------------------------------------------------ */

static struct addr nodes[MAX_NODES];
static int nnodes;

static int parse_addrs(const char *list, struct addr *out, int *n)
{
	char *copy = strdup(list), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_NODES)
			goto bad;
		struct addr *a = &out[(*n)++];
		struct url u;
		if (!strchr(t, ':') || url_parse(t, URL_SHORT, &u) < 0 || u.v6)
			goto bad;
		snprintf(a->text, sizeof(a->text), "%s", u.hostport);
		snprintf(a->host, sizeof(a->host), "%s", u.host);
		a->sa.sin_family = AF_INET;
		a->sa.sin_port = htons((uint16_t)atoi(u.port));
		if (inet_pton(AF_INET, u.host, &a->sa.sin_addr) != 1)
			goto bad;
	}
	free(copy);
	return *n ? 0 : -1;
bad:
	free(copy);
	return -1;
}

/* --- status --------------------------------------------------------------------- */

struct nstatus {
	bool up;
	char role[16];
	uint64_t term, commit, applied;
	long keys;
};

static uint64_t json_u64(json_t *o, const char *field)
{
	json_int_t v = json_integer_value(json_object_get(o, field));
	return v > 0 ? (uint64_t)v : 0;
}

static void get_status(int i, struct nstatus *s, int timeout_ms)
{
	struct conn c = { -1, &nodes[i], NULL };
	struct resp r;
	memset(s, 0, sizeof(*s));
	if (http(&c, "GET", "/status", NULL, timeout_ms, &r) == SENT_ANSWERED && r.status == 200 && !r.truncated) {
		json_t *j = json_loadb(r.body, r.len, 0, NULL);
		const char *role = json_string_value(json_object_get(j, "role"));
		s->up = true;
		snprintf(s->role, sizeof(s->role), "%s", role ? role : "");
		s->term = json_u64(j, "term");
		s->commit = json_u64(j, "commit_index");
		s->applied = json_u64(j, "applied_index");
		s->keys = (long)json_u64(j, "keys");
		json_decref(j);
	}
	conn_close(&c);
}

/* the leader with the highest term among those that answer, or -1 */
static int find_leader(struct nstatus *st, int timeout_ms)
{
	int leader = -1;
	for (int i = 0; i < nnodes; i++) {
		get_status(i, &st[i], timeout_ms);
		if (st[i].up && !strcmp(st[i].role, "leader") && (leader < 0 || st[i].term > st[leader].term))
			leader = i;
	}
	return leader;
}

/* --- records ---------------------------------------------------------------------- */

struct rec {
	int client;
	char kind;
	char key[48];
	char value[48];
	char expect[48]; /* C, M: the value compared with */
	char cas;        /* C, M: 't', 'f' or '-' */
	const char *st;
	int64_t call, ret;
	int node;
};

struct recs {
	struct rec *r;
	size_t n, cap;
};

static struct rec *recs_add(struct recs *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4096;
		struct rec *p = realloc(v->r, cap * sizeof(*p));
		if (!p) {
			fprintf(stderr, "fault-client: out of memory\n");
			exit(2);
		}
		v->r = p;
		v->cap = cap;
	}
	memset(&v->r[v->n], 0, sizeof(*v->r));
	return &v->r[v->n++];
}

static void print_rec(FILE *f, const struct rec *r)
{
	if (r->cas)
		fprintf(f, "O %d %c %s %s>%s>%c %s %" PRId64 " %" PRId64 " %d\n", r->client, r->kind, r->key, r->expect,
			r->value, r->cas, r->st, r->call, r->ret, r->node);
	else
		fprintf(f, "O %d %c %s %s %s %" PRId64 " %" PRId64 " %d\n", r->client, r->kind, r->key, r->value, r->st,
			r->call, r->ret, r->node);
}

/* The k-th padding character of a value whose token is `token`. */
static char pad_char(uint64_t token_hash, size_t k)
{
	static const char set[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	return set[(token_hash + k * 7 + (k >> 9)) % 62];
}

static uint64_t token_hash(const char *t, size_t len)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)t[i]) * 1099511628211ull;
	return h;
}

/* The body written for a value token: the token, or the token, "-" and its
 * padding (--value-pad). */
static const char *value_body(const char *token)
{
	static __thread char body[64 + MAX_VALUE_PAD + 2];
	size_t tl = strlen(token);
	if (!value_pad)
		return token;
	uint64_t h = token_hash(token, tl);
	memcpy(body, token, tl);
	body[tl] = '-';
	for (size_t k = 0; k < value_pad; k++)
		body[tl + 1 + k] = pad_char(h, k);
	body[tl + 1 + value_pad] = 0;
	return body;
}

/* A value read: "-" when empty; anything that is not one of our tokens
 * (with exactly its padding, under --value-pad) becomes a token no write
 * has, so the checker flags it. */
static void value_from_bytes(char *out, size_t len, const char *body, size_t blen, bool truncated)
{
	if (blen == 0) {
		snprintf(out, len, "-");
		return;
	}
	size_t tl = blen;
	bool ok = !truncated && body[0] != '-';
	if (ok && value_pad) {
		const char *dash = memchr(body, '-', blen);
		tl = dash ? (size_t)(dash - body) : blen;
		ok = dash && blen - tl - 1 == value_pad;
		uint64_t h = ok ? token_hash(body, tl) : 0;
		for (size_t k = 0; ok && k < value_pad; k++)
			ok = dash[1 + k] == pad_char(h, k);
	}
	ok = ok && tl < len;
	for (size_t i = 0; ok && i < tl; i++)
		ok = strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._", body[i]) != NULL;
	if (ok) {
		memcpy(out, body, tl);
		out[tl] = 0;
	} else {
		snprintf(out, len, "?unexpected:%zu", blen);
	}
}

static void value_from_body(char *out, size_t len, const struct resp *r)
{
	value_from_bytes(out, len, r->body, r->len, r->truncated);
}

/* --- run ---------------------------------------------------------------------------- */

static struct {
	int seconds, clients, hot, epoch_ms, timeout_ms, think_us;
	unsigned mix[8];
	int nmix; /* 4, or 8 with --grpc */
	uint64_t seed;
	int64_t start;
	volatile int64_t end; /* SIGUSR1 or SIGTERM: stop now (graceful) */
} cfg = { 20, 6, 4, 4000, 2000, 500, { 35, 25, 15, 25 }, 4, 1, 0, 0 };

/* --grpc: the nodes' gRPC ports, in --nodes' order */
static struct addr gnodes[MAX_NODES];
static int ngnodes;

struct client {
	int id;
	uint64_t rng;
	struct conn conns[MAX_NODES];
	struct grpcc *g[MAX_NODES];
	int leader_guess;
	uint64_t seq;
	struct recs recs;
	pthread_t th;
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* --- v3 (gRPC) ------------------------------------------------------------------- */

/* One unary call to node's gRPC port on the client's connection to it
 * (made again when gone). SENT_ANSWERED with *status and, for OK, the
 * response in *resp (the caller frees). */
static enum outcome v3_call(struct client *c, int node, const char *path, const ProtobufCMessage *req,
			    uint8_t **resp, size_t *resp_len, int *status)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len + 1);
	char msg[256];
	enum outcome out = NOT_SENT;
	int rv = -ENOTCONN;
	if (!buf)
		return NOT_SENT;
	protobuf_c_message_pack(req, buf);
	/* a connection the node closed (a restart) is seen before sending:
	 * make a new one, once */
	for (int attempt = 0; attempt < 2 && rv == -ENOTCONN; attempt++) {
		if (c->g[node] && !grpcc_usable(c->g[node])) {
			grpcc_close(c->g[node]);
			c->g[node] = NULL;
		}
		if (!c->g[node] &&
		    grpcc_connect(gnodes[node].host, ntohs(gnodes[node].sa.sin_port), cfg.timeout_ms, &c->g[node]) < 0)
			break;
		rv = grpcc_call(c->g[node], path, buf, len, resp, resp_len, status, msg, sizeof(msg), cfg.timeout_ms);
	}
	if (rv == 0)
		out = SENT_ANSWERED;
	else if (rv == -ENOTCONN || rv == -EAGAIN)
		out = NOT_SENT;
	else
		out = SENT_UNKNOWN;
	if (rv < 0 && rv != -ETIMEDOUT && rv != -EAGAIN && c->g[node]) {
		grpcc_close(c->g[node]);
		c->g[node] = NULL;
	}
	if (rv == 0 && *status != 0 && getenv("FAULT_CLIENT_DEBUG"))
		fprintf(stderr, "fault-client: %s at node %d: status %d %s\n", path, node, *status, msg);
	free(buf);
	return out;
}

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

static void v3_put(struct client *c, struct rec *r)
{
	Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
	uint8_t *resp = NULL;
	size_t rlen;
	int status;
	r->kind = 'P';
	req.key = bin(r->key);
	req.value = bin(value_body(r->value));
	r->call = now_ns();
	enum outcome out = v3_call(c, r->node, "/etcdserverpb.KV/Put", &req.base, &resp, &rlen, &status);
	r->ret = now_ns();
	r->st = out == NOT_SENT ? "fail" : out == SENT_ANSWERED && status == 0 ? "ok" : "info";
	free(resp);
}

/* A linearizable Range of r->key: r->value the value (or "-"), *mod its
 * mod_revision (0: absent). false when it did not answer OK. */
static bool v3_range(struct client *c, struct rec *r, int64_t *mod)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	uint8_t *resp = NULL;
	size_t rlen = 0;
	int status;
	r->kind = 'G';
	req.key = bin(r->key);
	r->call = now_ns();
	enum outcome out = v3_call(c, r->node, "/etcdserverpb.KV/Range", &req.base, &resp, &rlen, &status);
	r->ret = now_ns();
	r->st = "fail"; /* a read that did not answer changed nothing */
	snprintf(r->value, sizeof(r->value), "-");
	*mod = 0;
	if (out == SENT_ANSWERED && status == 0) {
		Etcdserverpb__RangeResponse *rr = etcdserverpb__range_response__unpack(NULL, rlen, resp);
		if (rr && rr->n_kvs <= 1) {
			r->st = "ok";
			if (rr->n_kvs == 1) {
				const Mvccpb__KeyValue *kv = rr->kvs[0];
				value_from_bytes(r->value, sizeof(r->value), (const char *)kv->value.data, kv->value.len,
						 false);
				*mod = kv->mod_revision;
			}
		} else {
			/* an answer that does not parse: a value no write had */
			r->st = "ok";
			snprintf(r->value, sizeof(r->value), "?unparsable");
		}
		etcdserverpb__range_response__free_unpacked(rr, NULL);
	}
	free(resp);
	return !strcmp(r->st, "ok");
}

/* Txn: if the key's value is r->expect (by_mod: its mod_revision is mod),
 * put r->value. r->cas: 't' swapped, 'f' compare failed, '-' unknown. */
static void v3_cas(struct client *c, struct rec *r, bool by_mod, int64_t mod)
{
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare *cmps[1] = { &cmp };
	char *expect_body = NULL;
	Etcdserverpb__RequestOp *ops[1] = { &op };
	uint8_t *resp = NULL;
	size_t rlen = 0;
	int status;
	/* etcd fails a value compare on a missing key: absent is mod 0 */
	by_mod = by_mod || !strcmp(r->expect, "-");
	r->kind = by_mod ? 'M' : 'C';
	cmp.key = bin(r->key);
	cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
	if (by_mod) {
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
		cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
		cmp.mod_revision = mod;
	} else {
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
		cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
		/* value_body()'s buffer is the thread's: the new value takes it next */
		expect_body = strdup(value_body(r->expect));
		if (expect_body)
			cmp.value = bin(expect_body);
	}
	put.key = bin(r->key);
	put.value = bin(value_body(r->value));
	op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op.request_put = &put;
	req.n_compare = 1;
	req.compare = cmps;
	req.n_success = 1;
	req.success = ops;
	r->cas = '-';
	r->call = now_ns();
	enum outcome out = by_mod || expect_body
				   ? v3_call(c, r->node, "/etcdserverpb.KV/Txn", &req.base, &resp, &rlen, &status)
				   : NOT_SENT;
	r->ret = now_ns();
	r->st = out == NOT_SENT ? "fail" : "info";
	if (out == SENT_ANSWERED && status == 0) {
		Etcdserverpb__TxnResponse *tr = etcdserverpb__txn_response__unpack(NULL, rlen, resp);
		if (tr) {
			r->st = "ok";
			r->cas = tr->succeeded ? 't' : 'f';
		}
		etcdserverpb__txn_response__free_unpacked(tr, NULL);
	}
	free(expect_body);
	free(resp);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	unsigned total = 0;
	for (int i = 0; i < cfg.nmix; i++)
		total += cfg.mix[i];
	while (now_ns() < cfg.end) {
		unsigned pick = (unsigned)(rnd(&c->rng) % total);
		int op = 0;
		while (pick >= cfg.mix[op])
			pick -= cfg.mix[op++];
		int64_t epoch = (now_ns() - cfg.start) / ((int64_t)cfg.epoch_ms * 1000000);
		struct rec *r = recs_add(&c->recs);
		r->client = c->id;
		int node = op == 2 ? (int)(rnd(&c->rng) % (uint64_t)nnodes) : c->leader_guess;
		r->node = node;
		if (op == 3)
			snprintf(r->key, sizeof(r->key), "u%" PRIu64 ".%d.%" PRIu64, cfg.seed, c->id, c->seq);
		else
			snprintf(r->key, sizeof(r->key), "h%" PRId64 ".%d", epoch,
				 (int)(rnd(&c->rng) % (uint64_t)cfg.hot));
		char path[128];
		struct resp resp;
		enum outcome out;
		if (op == 4) {
			snprintf(r->value, sizeof(r->value), "%" PRIu64 ".%d.%" PRIu64, cfg.seed, c->id, c->seq++);
			v3_put(c, r);
		} else if (op == 5) {
			int64_t mod;
			v3_range(c, r, &mod);
		} else if (op == 6 || op == 7) {
			/* the Range is an operation of the history too */
			int64_t mod;
			bool seen = v3_range(c, r, &mod);
			if (seen) {
				struct rec *t = recs_add(&c->recs);
				r = &c->recs.r[c->recs.n - 2]; /* recs_add may move them */
				*t = (struct rec){ .client = c->id, .node = node };
				memcpy(t->key, r->key, sizeof(t->key));
				memcpy(t->expect, r->value, sizeof(t->expect));
				snprintf(t->value, sizeof(t->value), "%" PRIu64 ".%d.%" PRIu64, cfg.seed, c->id, c->seq++);
				v3_cas(c, t, op == 7, mod);
				r = t;
			}
		} else if (op == 0 || op == 3) {
			r->kind = 'W';
			snprintf(r->value, sizeof(r->value), "%" PRIu64 ".%d.%" PRIu64, cfg.seed, c->id, c->seq++);
			snprintf(path, sizeof(path), "/db/%s", r->key);
			r->call = now_ns();
			out = http(&c->conns[node], "POST", path, value_body(r->value), cfg.timeout_ms, &resp);
			r->ret = now_ns();
			if (out == NOT_SENT) {
				r->st = "fail";
			} else if (out == SENT_UNKNOWN) {
				r->st = "info";
			} else if (resp.status == 200) {
				r->st = "ok";
			} else if (resp.status == 400 ||
				   (resp.status == 500 && strstr(resp.body, "failed to be committed"))) {
				r->st = "fail";
			} else {
				r->st = "info";
			}
		} else {
			r->kind = op == 1 ? 'R' : 'L';
			snprintf(path, sizeof(path), "/db/%s%s", r->key, op == 1 ? "?consistent=true" : "");
			r->call = now_ns();
			out = http(&c->conns[node], "GET", path, NULL, cfg.timeout_ms, &resp);
			r->ret = now_ns();
			if (out == SENT_ANSWERED && resp.status == 200) {
				r->st = "ok";
				value_from_body(r->value, sizeof(r->value), &resp);
			} else {
				r->st = "fail"; /* a read that did not answer changed nothing */
				snprintf(r->value, sizeof(r->value), "-");
			}
		}
		if (!strcmp(r->st, "info"))
			r->ret = -1;
		if (op != 2 && strcmp(r->st, "ok") != 0) {
			c->leader_guess = (c->leader_guess + 1) % nnodes;
			/* no leader, or not this one: do not spin on quick refusals */
			usleep(10000 + (useconds_t)(rnd(&c->rng) % 20000));
		}
		if (cfg.think_us)
			usleep((useconds_t)(rnd(&c->rng) % (uint64_t)cfg.think_us));
	}
	for (int i = 0; i < nnodes; i++) {
		conn_close(&c->conns[i]);
		grpcc_close(c->g[i]);
	}
	return NULL;
}

static void on_stop(int sig)
{
	(void)sig;
	cfg.end = 0;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	return x->call < y->call ? -1 : x->call > y->call;
}

static int do_run(const char *out_path)
{
	FILE *out = fopen(out_path, "we");
	if (!out) {
		perror(out_path);
		return 2;
	}
	struct client *cl = calloc((size_t)cfg.clients, sizeof(*cl));
	cfg.start = now_ns();
	cfg.end = cfg.start + (int64_t)cfg.seconds * 1000000000;
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < cfg.clients; i++) {
		cl[i].id = i;
		cl[i].rng = cfg.seed * 1000003 + (uint64_t)i;
		cl[i].leader_guess = i % nnodes;
		for (int k = 0; k < nnodes; k++)
			cl[i].conns[k] = (struct conn){ -1, &nodes[k], NULL };
		pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
	}
	struct recs all = { 0 };
	for (int i = 0; i < cfg.clients; i++) {
		pthread_join(cl[i].th, NULL);
		for (size_t k = 0; k < cl[i].recs.n; k++)
			*recs_add(&all) = cl[i].recs.r[k];
		free(cl[i].recs.r);
	}
	double secs = (double)(now_ns() - cfg.start) / 1e9;
	qsort(all.r, all.n, sizeof(*all.r), cmp_rec);
	size_t count[3][3] = { { 0 } }, v3[4] = { 0 };
	fprintf(out, "# fault-client run seed %" PRIu64 " clients %d nodes %d seconds %.1f\n", cfg.seed, cfg.clients,
		nnodes, secs);
	for (size_t i = 0; i < all.n; i++) {
		const struct rec *r = &all.r[i];
		print_rec(out, r);
		int k = strchr("WPCM", r->kind) ? 0 : strchr("RG", r->kind) ? 1 : 2;
		if (r->cas != 'f') /* a compare that failed wrote nothing */
			count[k][r->st[0] == 'o' ? 0 : r->st[0] == 'f' ? 1 : 2]++;
		v3[0] += r->kind == 'P' && r->st[0] == 'o';
		v3[1] += r->cas == 't';
		v3[2] += r->cas == 'f';
		v3[3] += r->kind == 'G' && r->st[0] == 'o';
	}
	int rv = fclose(out) == 0 ? 0 : 2;
	fprintf(stderr,
		"fault-client: %zu ops in %.1f s: writes %zu ok / %zu failed / %zu unknown, consistent reads %zu ok / "
		"%zu failed, local reads %zu ok / %zu failed%s",
		all.n, secs, count[0][0], count[0][1], count[0][2], count[1][0], count[1][1], count[2][0],
		count[2][1], ngnodes ? "" : "\n");
	if (ngnodes)
		fprintf(stderr, "; v3: puts %zu ok, txns %zu swapped / %zu compare failed, ranges %zu ok\n", v3[0], v3[1],
			v3[2], v3[3]);
	free(all.r);
	free(cl);
	return rv;
}

/* --- final ------------------------------------------------------------------------- */

struct keyset {
	char **k;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct final_job {
	int node;
	struct keyset *keys;
	char **values;
	int failures;
	pthread_t th;
};

static void *final_node(void *arg)
{
	struct final_job *j = arg;
	struct conn c = { -1, &nodes[j->node], NULL };
	for (size_t i = 0; i < j->keys->n; i++) {
		char path[128], v[48];
		struct resp r;
		snprintf(path, sizeof(path), "/db/%s", j->keys->k[i]);
		int tries = 0;
		/* a node that stopped answering is not waited for key after key */
		int max_tries = j->failures >= 3 ? 1 : 5;
		while (http(&c, "GET", path, NULL, 2000, &r) != SENT_ANSWERED || r.status != 200) {
			if (++tries == max_tries)
				break;
			usleep(100000);
		}
		if (tries == max_tries) {
			j->failures++;
			j->values[i] = NULL; /* no F record: the node did not answer */
			continue;
		}
		value_from_body(v, sizeof(v), &r);
		j->values[i] = strdup(v);
	}
	conn_close(&c);
	return NULL;
}

static int do_final(const char *hist_path, const char *out_path, int wait_s)
{
	/* the keys written (and read) in the history */
	FILE *h = fopen(hist_path, "re");
	if (!h) {
		perror(hist_path);
		return 2;
	}
	struct keyset ks = { 0 }, hot = { 0 };
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, h) > 0) {
		char key[128], kind;
		if (sscanf(line, "O %*d %c %127s", &kind, key) != 2)
			continue;
		struct keyset *s = &ks;
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 1024;
			s->k = realloc(s->k, s->cap * sizeof(*s->k));
		}
		s->k[s->n++] = strdup(key);
	}
	free(line);
	fclose(h);
	if (ks.n)
		qsort(ks.k, ks.n, sizeof(*ks.k), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < ks.n; i++) {
		if (u && !strcmp(ks.k[u - 1], ks.k[i])) {
			free(ks.k[i]);
			continue;
		}
		ks.k[u++] = ks.k[i];
		if (ks.k[i][0] == 'h') {
			if (hot.n == hot.cap) {
				hot.cap = hot.cap ? hot.cap * 2 : 64;
				hot.k = realloc(hot.k, hot.cap * sizeof(*hot.k));
			}
			hot.k[hot.n++] = ks.k[i];
		}
	}
	ks.n = u;

	/* converged: one leader, every node applied its commit index, twice */
	struct nstatus st[MAX_NODES], prev[MAX_NODES];
	int64_t deadline = now_ns() + (int64_t)wait_s * 1000000000;
	int leader = -1, stable = 0;
	while (now_ns() < deadline) {
		leader = find_leader(st, 500);
		bool ok = leader >= 0;
		for (int i = 0; ok && i < nnodes; i++)
			ok = st[i].up && st[i].applied == st[leader].commit && st[i].commit == st[leader].commit;
		if (ok && stable && !memcmp(st, prev, sizeof(st)))
			break;
		stable = ok;
		memcpy(prev, st, sizeof(st));
		usleep(200000);
	}
	bool converged = now_ns() < deadline;
	if (!converged) {
		/* read what there is anyway: the checks say what went wrong */
		fprintf(stderr, "fault-client final: no convergence in %d s:", wait_s);
		for (int i = 0; i < nnodes; i++)
			fprintf(stderr, " [%d %s %s term %" PRIu64 " commit %" PRIu64 " applied %" PRIu64 "]", i,
				st[i].up ? "up" : "down", st[i].role, st[i].term, st[i].commit, st[i].applied);
		fputc('\n', stderr);
	}

	/* consistent reads of the hot keys: the end of each key's history */
	FILE *ha = fopen(hist_path, "ae");
	struct conn c = { -1, &nodes[leader < 0 ? 0 : leader], NULL };
	size_t creads = 0;
	for (size_t i = 0; ha && leader >= 0 && i < hot.n; i++) {
		char path[128];
		struct resp r;
		struct rec rec = { .client = FINAL_CLIENT, .kind = 'R', .st = "ok", .node = leader };
		snprintf(rec.key, sizeof(rec.key), "%s", hot.k[i]);
		snprintf(path, sizeof(path), "/db/%s?consistent=true", hot.k[i]);
		rec.call = now_ns();
		enum outcome o = http(&c, "GET", path, NULL, 2000, &r);
		rec.ret = now_ns();
		if (o != SENT_ANSWERED || r.status != 200)
			continue;
		value_from_body(rec.value, sizeof(rec.value), &r);
		print_rec(ha, &rec);
		creads++;
	}
	conn_close(&c);
	if (!ha || fclose(ha) != 0) {
		perror(hist_path);
		return 2;
	}

	/* every key on every node, in parallel */
	struct final_job jobs[MAX_NODES];
	for (int i = 0; i < nnodes; i++) {
		jobs[i] = (struct final_job){ .node = i, .keys = &ks, .values = calloc(ks.n + 1, sizeof(char *)) };
		pthread_create(&jobs[i].th, NULL, final_node, &jobs[i]);
	}
	FILE *out = fopen(out_path, "we");
	if (!out) {
		perror(out_path);
		return 2;
	}
	fprintf(out, "# fault-client final: leader %d,", leader);
	for (int i = 0; i < nnodes; i++)
		fprintf(out, " node %d applied %" PRIu64 " keys %ld;", i, st[i].applied, st[i].keys);
	fputc('\n', out);
	int failures = 0;
	for (int i = 0; i < nnodes; i++) {
		pthread_join(jobs[i].th, NULL);
		failures += jobs[i].failures;
		for (size_t k = 0; k < ks.n; k++) {
			if (jobs[i].values[k])
				fprintf(out, "F %d %s %s\n", i, ks.k[k], jobs[i].values[k]);
			free(jobs[i].values[k]);
		}
		if (jobs[i].failures)
			fprintf(out, "# node %d did not answer %d reads\n", i, jobs[i].failures);
		free(jobs[i].values);
	}
	long keys0 = st[0].keys;
	bool same_count = true;
	for (int i = 1; i < nnodes; i++)
		same_count = same_count && st[i].keys == keys0;
	fprintf(stderr, "fault-client final: %s at index %" PRIu64 " (leader %d), %zu keys read on %d nodes, "
		"%zu consistent reads; key counts %s\n",
		converged ? "converged" : "NOT converged", leader >= 0 ? st[leader].commit : 0, leader, ks.n, nnodes,
		creads, same_count ? "equal" : "DIFFER");
	if (!same_count)
		fprintf(out, "# key counts differ between nodes\n");
	if (fclose(out) != 0)
		return 2;
	for (size_t i = 0; i < ks.n; i++)
		free(ks.k[i]);
	free(ks.k);
	free(hot.k);
	return failures || !same_count || !converged ? 1 : 0;
}

/* --- main ------------------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: fault-client run|final|status|leader --nodes HOST:PORT,... [options] "
			"(see tests/fault/fault_client.c)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1], *out = NULL, *hist = NULL;
	struct tls_files tf = { 0 };
	int wait_s = 60, mix_n = 0;
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(o, "--nodes")) {
			if (parse_addrs(v, nodes, &nnodes) < 0)
				usage();
		} else if (!strcmp(o, "--grpc")) {
			if (parse_addrs(v, gnodes, &ngnodes) < 0)
				usage();
		} else if (!strcmp(o, "--out")) {
			out = v;
		} else if (!strcmp(o, "--history")) {
			hist = v;
		} else if (!strcmp(o, "--seconds")) {
			cfg.seconds = atoi(v);
		} else if (!strcmp(o, "--clients")) {
			cfg.clients = atoi(v);
		} else if (!strcmp(o, "--seed")) {
			cfg.seed = strtoull(v, NULL, 10);
		} else if (!strcmp(o, "--hot")) {
			cfg.hot = atoi(v);
		} else if (!strcmp(o, "--epoch-ms")) {
			cfg.epoch_ms = atoi(v);
		} else if (!strcmp(o, "--timeout-ms")) {
			cfg.timeout_ms = atoi(v);
		} else if (!strcmp(o, "--think-us")) {
			cfg.think_us = atoi(v);
		} else if (!strcmp(o, "--value-pad")) {
			char *end;
			unsigned long pad = strtoul(v, &end, 10);
			if (*end || pad > MAX_VALUE_PAD)
				usage();
			value_pad = pad;
		} else if (!strcmp(o, "--cacert")) {
			tf.trusted_ca_file = v;
		} else if (!strcmp(o, "--cert")) {
			tf.cert_file = v;
		} else if (!strcmp(o, "--key")) {
			tf.key_file = v;
		} else if (!strcmp(o, "--wait-s")) {
			wait_s = atoi(v);
		} else if (!strcmp(o, "--mix")) {
			mix_n = sscanf(v, "%u,%u,%u,%u,%u,%u,%u,%u", &cfg.mix[0], &cfg.mix[1], &cfg.mix[2], &cfg.mix[3],
				       &cfg.mix[4], &cfg.mix[5], &cfg.mix[6], &cfg.mix[7]);
			if (mix_n != 4 && mix_n != 8)
				usage();
		} else {
			usage();
		}
	}
	if (ngnodes) {
		static const unsigned v3_mix[8] = { 12, 12, 8, 8, 15, 15, 15, 15 };
		if (ngnodes != nnodes || mix_n == 4)
			usage();
		if (!mix_n)
			memcpy(cfg.mix, v3_mix, sizeof(v3_mix));
		cfg.nmix = 8;
	} else if (mix_n == 8) {
		usage(); /* v3 weights without --grpc */
	}
	unsigned mix_total = 0;
	for (int i = 0; i < cfg.nmix; i++)
		mix_total += cfg.mix[i];
	if (!nnodes || cfg.clients < 1 || cfg.hot < 1 || cfg.epoch_ms < 1 || mix_total == 0)
		usage();
	if (tf.trusted_ca_file) {
		char err[256];
		if (!tf.cert_file != !tf.key_file)
			usage();
		if (tls_creds_load(&tf, &tls_creds, err, sizeof(err)) < 0) {
			fprintf(stderr, "fault-client: %s\n", err);
			return 2;
		}
	} else if (tf.cert_file || tf.key_file) {
		usage();
	}
	if (!strcmp(mode, "run")) {
		if (!out)
			usage();
		return do_run(out);
	}
	if (!strcmp(mode, "final")) {
		if (!out || !hist)
			usage();
		return do_final(hist, out, wait_s);
	}
	struct nstatus st[MAX_NODES];
	int leader = find_leader(st, 500);
	if (!strcmp(mode, "leader")) {
		if (leader < 0)
			return 1;
		printf("%d\n", leader);
		return 0;
	}
	if (!strcmp(mode, "status")) {
		for (int i = 0; i < nnodes; i++)
			printf("%d %s %s term %" PRIu64 " commit %" PRIu64 " applied %" PRIu64 " keys %ld\n", i,
			       st[i].up ? "up" : "down", st[i].up ? st[i].role : "-", st[i].term, st[i].commit,
			       st[i].applied, st[i].keys);
		return 0;
	}
	usage();
	return 2;
}
