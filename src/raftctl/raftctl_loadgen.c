/* src/raftctl/raftctl_loadgen.c — see raftctl_loadgen.h.
 *
 * One epoll set, level-triggered; each client's interest follows its state
 * (EPOLLOUT while connecting or while a request does not fit the socket
 * buffer, EPOLLIN otherwise; in a TLS handshake, the direction GnuTLS
 * asks for). Every client is connected (and its TLS handshake done) before
 * the clock starts, so that the first requests do not pay for handshakes.
 */
#include "src/raftctl/raftctl_loadgen.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum cstate { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_SENDING, C_READING };

struct client {
	int fd;
	gnutls_session_t tls; /* an https:// target's connection; else NULL */
	enum cstate st;
	bool ready;        /* connected (before the clock starts) */
	char *out;
	size_t out_len, out_off;
	struct rc_reader rd;
	int64_t sent_ns;
	uint32_t events;   /* current epoll interest */
	unsigned gen;      /* g->gen when connected: to which target */
	uint64_t key;      /* of the request in flight */
};

struct lg {
	const struct lg_config *cfg;
	struct lg_result *res;
	struct url target;    /* cfg->target, or the leader found since */
	unsigned gen;         /* counts target changes */
	bool lost_leader;     /* stop sending until find_leader() names one */
	int64_t lost_ns;
	int64_t last_ok_ns;   /* redo gives up timeout_ms after the last success */
	uint64_t *redo;       /* keys to send again, before new ones */
	unsigned n_redo;
	int ep;
	struct client *c;
	unsigned *idle;    /* stack of idle client indexes */
	unsigned n_idle;
	unsigned inflight;
	uint64_t issued;
	bool stop;         /* no more requests are started */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *value;
	uint32_t *lat_us;
	size_t n_lat, cap_lat;
	int64_t start_ns, last_done_ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *lg_op_name(enum lg_op op)
{
	return op == LG_PUT ? "put" : op == LG_GET ? "get" : "delete";
}

static void note_error(struct lg *g, const char *what, int err)
{
	if (!g->res->first_error[0])
		snprintf(g->res->first_error, sizeof(g->res->first_error), "%s: %s", what, strerror(err));
}

static void note_text(struct lg *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_text(struct lg *g, const char *fmt, ...)
{
	va_list ap;
	if (g->res->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(g->res->first_error, sizeof(g->res->first_error), fmt, ap);
	va_end(ap);
}

/* What GnuTLS waits for, after an E_AGAIN */
static uint32_t tls_interest(const struct client *c)
{
	return gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN;
}

static int set_interest(struct lg *g, unsigned i, uint32_t ev)
{
	struct client *c = &g->c[i];
	if (c->events == ev)
		return 0;
	struct epoll_event e = { .events = ev, .data.u32 = i };
	if (epoll_ctl(g->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) < 0)
		return -errno;
	c->events = ev;
	return 0;
}

static void drop_conn(struct lg *g, unsigned i)
{
	struct client *c = &g->c[i];
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->events = 0;
	c->ready = false;
	rc_reader_free(&c->rd);
}

static int start_connect(struct lg *g, unsigned i)
{
	struct client *c = &g->c[i];
	c->fd = socket(g->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->gen = g->gen;
	rc_reader_init(&c->rd, 1 << 20);
	if (connect(c->fd, (struct sockaddr *)&g->addr, g->addr_len) < 0 && errno != EINPROGRESS) {
		int e = -errno;
		drop_conn(g, i);
		return e;
	}
	c->st = C_CONNECTING;
	return set_interest(g, i, EPOLLOUT);
}

static void make_idle(struct lg *g, unsigned i)
{
	g->c[i].st = C_IDLE;
	g->idle[g->n_idle++] = i;
}

/* The request ended (ok or not). */
static void finish(struct lg *g, unsigned i, bool ok, int64_t t)
{
	struct client *c = &g->c[i];
	g->inflight--;
	g->last_done_ns = t;
	if (ok) {
		g->res->ok++;
		g->last_ok_ns = t;
		if (g->n_lat == g->cap_lat) {
			size_t cap = g->cap_lat ? g->cap_lat * 2 : 65536;
			uint32_t *p = realloc(g->lat_us, cap * sizeof(*p));
			if (p) {
				g->lat_us = p;
				g->cap_lat = cap;
			}
		}
		int64_t us = (t - c->sent_ns) / 1000;
		if (g->n_lat < g->cap_lat)
			g->lat_us[g->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	} else {
		g->res->failed++;
	}
	make_idle(g, i);
}

/* The target is not (or no longer) the leader: the request is sent again
 * once the leader is known, as if not sent yet (issued counts it again). */
static bool redo_request(struct lg *g, unsigned i)
{
	int64_t t = now_ns();
	if (t - g->last_ok_ns > (int64_t)g->cfg->timeout_ms * 1000000)
		return false; /* not a passing leader change: a failure */
	if (g->c[i].gen == g->gen && !g->lost_leader) {
		g->lost_leader = true;
		g->lost_ns = t;
	}
	drop_conn(g, i);
	g->inflight--;
	g->redo[g->n_redo++] = g->c[i].key;
	g->stop = false; /* the loop decides again */
	make_idle(g, i);
	return true;
}

static void fail_request(struct lg *g, unsigned i, const char *what, int err, int64_t t)
{
	/* the node went away (a leader killed or restarted) */
	bool gone = err == ECONNREFUSED || err == ECONNRESET || err == EPIPE || err == ECONNABORTED ||
		    err == EHOSTUNREACH || err == ENETUNREACH;
	if (g->cfg->find_leader && gone && redo_request(g, i))
		return;
	g->res->connect_errors++;
	note_error(g, what, err);
	drop_conn(g, i);
	finish(g, i, false, t);
}

static int try_send(struct lg *g, unsigned i)
{
	struct client *c = &g->c[i];
	while (c->out_off < c->out_len && c->tls) {
		ssize_t n = gnutls_record_send(c->tls, c->out + c->out_off, c->out_len - c->out_off);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return set_interest(g, i, tls_interest(c));
		if (n < 0) {
			note_text(g, "send: %s", gnutls_strerror((int)n));
			return n == GNUTLS_E_PUSH_ERROR ? -EPIPE : -EPROTO;
		}
		c->out_off += (size_t)n;
	}
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return set_interest(g, i, EPOLLOUT);
		if (n < 0)
			return -errno;
		c->out_off += (size_t)n;
	}
	c->st = C_READING;
	return set_interest(g, i, EPOLLIN);
}

static void start_request(struct lg *g, unsigned i, int64_t t)
{
	const struct lg_config *cfg = g->cfg;
	struct client *c = &g->c[i];
	char path[600];
	uint64_t k;
	const char *method = cfg->op == LG_PUT ? "POST" : cfg->op == LG_GET ? "GET" : "DELETE";
	size_t body = cfg->op == LG_PUT ? cfg->value_size : 0;

	if (g->n_redo) {
		k = g->redo[--g->n_redo];
	} else {
		k = g->issued % cfg->keys;
		g->res->issued = ++g->issued;
	}
	c->key = k;
	snprintf(path, sizeof(path), "/db/%s%llu%s", cfg->prefix, (unsigned long long)k,
		 cfg->op == LG_GET && cfg->consistent ? "?consistent=true" : "");
	g->inflight++;
	c->sent_ns = t;
	int hl = rc_head_format(c->out, 1024, &g->target, method, path,
				body ? "application/octet-stream" : NULL, body);
	if (hl < 0) {
		fail_request(g, i, "request", ENOBUFS, t);
		return;
	}
	memcpy(c->out + hl, g->value, body);
	c->out_len = (size_t)hl + body;
	c->out_off = 0;
	rc_reader_next(&c->rd);
	int rv;
	if (c->fd < 0) { /* broken earlier: a new connection, sent when it is up */
		rv = start_connect(g, i);
		if (rv < 0)
			fail_request(g, i, "connect", -rv, t);
		return;
	}
	c->st = C_SENDING;
	rv = try_send(g, i);
	if (rv < 0)
		fail_request(g, i, "send", -rv, t);
}

/* The connection is up (TCP, and TLS when it is https://). */
static void connected(struct lg *g, unsigned i, int64_t t)
{
	struct client *c = &g->c[i];
	int rv;

	c->ready = true;
	if (!g->start_ns) {
		c->st = C_IDLE;
		set_interest(g, i, EPOLLIN);
		return;
	}
	c->st = C_SENDING;
	if ((rv = try_send(g, i)) < 0)
		fail_request(g, i, "send", -rv, t);
}

/* A connection that could not be made (before the clock: no request). */
static void not_connected(struct lg *g, unsigned i, const char *what, int err, int64_t t)
{
	if (!g->start_ns) {
		note_error(g, what, err);
		drop_conn(g, i);
		g->c[i].st = C_IDLE;
		return;
	}
	fail_request(g, i, what, err, t);
}

static void handshake(struct lg *g, unsigned i, int64_t t)
{
	struct client *c = &g->c[i];
	int rv = gnutls_handshake(c->tls);

	if (rv == 0) {
		connected(g, i, t);
	} else if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(rv)) {
		set_interest(g, i, tls_interest(c));
	} else {
		/* rc_find_leader() checked this server's certificate with the
		 * blocking client, which says in detail why it is refused */
		bool io = rv == GNUTLS_E_PULL_ERROR || rv == GNUTLS_E_PUSH_ERROR;
		note_text(g, "TLS handshake: %s", gnutls_strerror(rv));
		not_connected(g, i, "TLS handshake", io ? ECONNRESET : EPROTO, t);
	}
}

static void on_event(struct lg *g, unsigned i, uint32_t ev, int64_t t)
{
	struct client *c = &g->c[i];
	int rv;

	if (c->st == C_HANDSHAKE) {
		handshake(g, i, t);
		return;
	}
	if (c->st == C_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			not_connected(g, i, "connect", soerr, t);
			return;
		}
		if (g->target.tls) {
			char why[256];
			rv = rc_tls_session(&g->target, c->fd, &c->tls, why, sizeof(why));
			if (rv < 0) {
				c->tls = NULL;
				note_text(g, "%s", why);
				not_connected(g, i, "TLS", -rv, t);
				return;
			}
			c->st = C_HANDSHAKE;
			handshake(g, i, t);
			return;
		}
		connected(g, i, t);
		return;
	}
	if (c->st == C_SENDING) {
		if ((rv = try_send(g, i)) < 0)
			fail_request(g, i, "send", -rv, t);
		return;
	}
	if (c->st == C_IDLE && c->tls) {
		/* a TLS 1.3 session ticket (GnuTLS takes it, nothing to read), or
		 * the server closed an idle connection */
		char b[64];
		ssize_t n = gnutls_record_recv(c->tls, b, sizeof(b));
		if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			drop_conn(g, i);
		return;
	}
	if (c->st == C_IDLE) { /* the server closed an idle connection */
		char b[64];
		if (recv(c->fd, b, sizeof(b), 0) <= 0)
			drop_conn(g, i);
		return;
	}
	/* C_READING */
	for (;;) {
		if (rc_reader_room(&c->rd, 4096) < 0) {
			fail_request(g, i, "receive", ENOMEM, t);
			return;
		}
		ssize_t n;
		if (c->tls) {
			n = gnutls_record_recv(c->tls, c->rd.buf + c->rd.len, c->rd.cap - c->rd.len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				set_interest(g, i, tls_interest(c));
				return;
			}
			if (n == GNUTLS_E_PREMATURE_TERMINATION) /* HTTP's framing judges */
				n = 0;
			if (n < 0) {
				note_text(g, "receive: %s", gnutls_strerror((int)n));
				fail_request(g, i, "receive", n == GNUTLS_E_PULL_ERROR ? ECONNRESET : EPROTO, t);
				return;
			}
		} else {
			n = recv(c->fd, c->rd.buf + c->rd.len, c->rd.cap - c->rd.len, 0);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			fail_request(g, i, "receive", errno, t);
			return;
		}
		c->rd.len += (size_t)n;
		rv = rc_reader_parse(&c->rd, n == 0);
		if (rv == 0 && n > 0)
			continue;
		if (rv <= 0) {
			fail_request(g, i, n == 0 ? "connection closed by the server" : "bad response",
				     rv == 0 ? EPIPE : -rv, t);
			return;
		}
		int status = c->rd.status;
		bool ok = status >= 200 && status < 300;
		static const char not_leader[] = "raft.Server: Not current leader";
		bool body_says_retry = c->rd.body && memmem(c->rd.body, c->rd.body_len, "retry", 5);
		/* goraft's words for a write the old leader took but could not
		 * commit: the load's puts and deletes may be sent again */
		static const char lost[] = "command failed to be committed";
		bool lost_write = c->rd.body && memmem(c->rd.body, c->rd.body_len, lost, sizeof(lost) - 1);
		if (g->cfg->find_leader &&
		    (status == 307 || (status == 503 && body_says_retry) || (status == 500 && lost_write) ||
		     (status == 400 && c->rd.body && c->rd.body_len >= sizeof(not_leader) - 1 &&
		      !memcmp(c->rd.body, not_leader, sizeof(not_leader) - 1))) &&
		    redo_request(g, i))
			return;
		if (!ok) {
			if (status >= 500)
				g->res->status_5xx++;
			else
				g->res->status_4xx++;
			if (!g->res->first_error[0]) {
				char line[128] = "";
				for (size_t k = 0; c->rd.body && k < c->rd.body_len && k + 1 < sizeof(line); k++) {
					if (c->rd.body[k] == '\n')
						break;
					line[k] = c->rd.body[k];
					line[k + 1] = '\0';
				}
				snprintf(g->res->first_error, sizeof(g->res->first_error), "HTTP %d: %s", status, line);
			}
		}
		if (!c->rd.keep_alive || c->rd.len)
			drop_conn(g, i);
		finish(g, i, ok, t);
		return;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t k = (size_t)ceil(p / 100.0 * (double)n);
	return (double)v[k ? k - 1 : 0] / 1000.0;
}

static void summarise(struct lg *g)
{
	struct lg_result *r = g->res;
	int64_t end = g->last_done_ns ? g->last_done_ns : now_ns();
	r->elapsed_s = (double)(end - g->start_ns) / 1e9;
	r->throughput = r->elapsed_s > 0 ? (double)r->ok / r->elapsed_s : 0;
	qsort(g->lat_us, g->n_lat, sizeof(*g->lat_us), cmp_u32);
	double sum = 0, sq = 0;
	for (size_t k = 0; k < g->n_lat; k++)
		sum += g->lat_us[k] / 1000.0;
	r->mean = g->n_lat ? sum / (double)g->n_lat : 0;
	for (size_t k = 0; k < g->n_lat; k++) {
		double d = g->lat_us[k] / 1000.0 - r->mean;
		sq += d * d;
	}
	r->stddev = g->n_lat ? sqrt(sq / (double)g->n_lat) : 0;
	r->p50 = pct(g->lat_us, g->n_lat, 50);
	r->p90 = pct(g->lat_us, g->n_lat, 90);
	r->p99 = pct(g->lat_us, g->n_lat, 99);
	r->max = g->n_lat ? g->lat_us[g->n_lat - 1] / 1000.0 : 0;
}

/* Resolves the target and connects once, to learn an address that works. */
static int resolve(struct lg *g, char *err, size_t err_len)
{
	int fd = rc_connect(&g->target, g->cfg->timeout_ms, err, err_len);
	if (fd < 0)
		return fd;
	g->addr_len = sizeof(g->addr);
	int rv = getpeername(fd, (struct sockaddr *)&g->addr, &g->addr_len) < 0 ? -errno : 0;
	close(fd);
	if (rv < 0)
		snprintf(err, err_len, "getpeername: %s", strerror(-rv));
	return rv;
}

static int connect_all(struct lg *g, char *err, size_t err_len)
{
	const struct lg_config *cfg = g->cfg;
	struct epoll_event evs[256];
	int64_t deadline = now_ns() + (int64_t)cfg->timeout_ms * 1000000;
	unsigned pending = 0;

	for (unsigned i = 0; i < cfg->clients; i++) {
		int rv = start_connect(g, i);
		if (rv < 0) {
			snprintf(err, err_len, "%s: connect: %s", cfg->target.base, strerror(-rv));
			return rv;
		}
		pending++;
	}
	while (pending) {
		int n = epoll_wait(g->ep, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int k = 0; k < n; k++) {
			unsigned i = evs[k].data.u32;
			if (g->c[i].st == C_IDLE) {
				/* up already: a TLS 1.3 session ticket to take (level-
				 * triggered, it would wake us until read), or a close */
				on_event(g, i, evs[k].events, now_ns());
				continue;
			}
			if (g->c[i].st != C_CONNECTING && g->c[i].st != C_HANDSHAKE)
				continue;
			on_event(g, i, evs[k].events, now_ns());
			if (g->c[i].ready) {
				pending--;
			} else if (g->c[i].fd < 0) {
				snprintf(err, err_len, "%s: %s", cfg->target.base, g->res->first_error);
				return -ECONNREFUSED;
			}
		}
		if (now_ns() > deadline) {
			snprintf(err, err_len, "%s: %u of %u connections not up within %d ms", cfg->target.base, pending,
				 cfg->clients, cfg->timeout_ms);
			return -ETIMEDOUT;
		}
	}
	for (unsigned i = 0; i < cfg->clients; i++)
		make_idle(g, cfg->clients - 1 - i);
	return 0;
}

static int raise_fd_limit(unsigned clients, char *err, size_t err_len)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)clients + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want) {
		snprintf(err, err_len, "%u clients need %llu file descriptors, the limit is %llu (ulimit -n)", clients,
			 (unsigned long long)want, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	return 0;
}

/* Asks for the leader again: 0 when the load goes on (to it, or still
 * waiting for one), or -ETIMEDOUT after timeout_ms without a leader (the
 * requests waiting for it then count as failed). */
static int follow_leader(struct lg *g, int64_t t)
{
	struct url u;
	char why[160];
	int rv = g->cfg->find_leader(g->cfg->find_leader_arg, &u, why, sizeof(why));
	bool moved = rv == 0 && strcmp(u.base, g->target.base) != 0;
	if (rv == 0) {
		g->target = u;
		rv = resolve(g, why, sizeof(why));
	}
	if (rv == 0) {
		g->gen++;
		g->lost_leader = false;
		g->res->leader_changes += moved;
		/* idle connections go to the old target */
		for (unsigned i = 0; i < g->cfg->clients; i++)
			if (g->c[i].st == C_IDLE && g->c[i].fd >= 0)
				drop_conn(g, i);
		return 0;
	}
	if (t - g->lost_ns <= (int64_t)g->cfg->timeout_ms * 1000000)
		return 0;
	snprintf(g->res->first_error, sizeof(g->res->first_error), "no leader within %d ms: %s", g->cfg->timeout_ms,
		 why);
	/* what was not sent counts as failed */
	uint64_t want = g->cfg->requests ? g->cfg->requests : g->issued;
	g->res->failed += (want > g->issued ? want - g->issued : 0) + g->n_redo;
	if (!g->res->failed)
		g->res->failed = 1;
	return -ETIMEDOUT;
}

int lg_run(const struct lg_config *cfg, struct lg_result *ret, char *err, size_t err_len)
{
	struct lg g = { .cfg = cfg, .res = ret, .ep = -1, .target = cfg->target };
	struct epoll_event evs[256];
	int rv;

	memset(ret, 0, sizeof(*ret));
	if (!cfg->clients || !cfg->keys || (!cfg->requests && !cfg->duration_ms)) {
		snprintf(err, err_len, "clients, keys and requests or duration must be positive");
		return -EINVAL;
	}
	if ((rv = raise_fd_limit(cfg->clients, err, err_len)) < 0)
		return rv;
	g.c = calloc(cfg->clients, sizeof(*g.c));
	g.idle = calloc(cfg->clients, sizeof(*g.idle));
	g.redo = calloc(cfg->clients, sizeof(*g.redo));
	g.value = malloc(cfg->value_size + 1);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	rv = -ENOMEM;
	if (!g.c || !g.idle || !g.redo || !g.value || g.ep < 0) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < cfg->value_size; k++)
		g.value[k] = (char)('a' + k % 26);
	for (unsigned i = 0; i < cfg->clients; i++) {
		g.c[i].fd = -1;
		g.c[i].out = malloc(1024 + cfg->value_size);
		if (!g.c[i].out) {
			snprintf(err, err_len, "out of memory");
			goto out;
		}
	}
	if ((rv = resolve(&g, err, err_len)) < 0 || (rv = connect_all(&g, err, err_len)) < 0)
		goto out;

	g.start_ns = g.last_ok_ns = now_ns();
	int64_t last_sweep = g.start_ns;
	for (;;) {
		int64_t t = now_ns();
		if (g.lost_leader && (rv = follow_leader(&g, t)) < 0)
			break;
		if (cfg->duration_ms && t - g.start_ns >= (int64_t)cfg->duration_ms * 1000000)
			g.stop = true;
		if (cfg->requests && g.issued >= cfg->requests && !g.n_redo)
			g.stop = true;
		int wait_ms = g.lost_leader ? 50 : 100;
		while (!g.stop && !g.lost_leader && g.n_idle) {
			if (cfg->rate > 0) {
				int64_t due = g.start_ns + (int64_t)((double)g.issued * 1e9 / cfg->rate);
				if (due > t) {
					int64_t ms = (due - t + 999999) / 1000000;
					wait_ms = ms < wait_ms ? (int)ms : wait_ms;
					break;
				}
			}
			start_request(&g, g.idle[--g.n_idle], t);
			if (cfg->requests && g.issued >= cfg->requests && !g.n_redo)
				g.stop = true;
		}
		if (g.stop && g.inflight == 0 && !g.lost_leader)
			break;
		int n = epoll_wait(g.ep, evs, 256, wait_ms);
		if (n < 0 && errno != EINTR) {
			rv = -errno;
			snprintf(err, err_len, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		t = now_ns();
		for (int k = 0; k < n; k++)
			on_event(&g, evs[k].data.u32, evs[k].events, t);
		if (t - last_sweep > 100000000) { /* requests past the timeout */
			last_sweep = t;
			for (unsigned i = 0; i < cfg->clients; i++) {
				struct client *c = &g.c[i];
				if (c->st != C_IDLE && t - c->sent_ns > (int64_t)cfg->timeout_ms * 1000000) {
					ret->timeouts++;
					ret->connect_errors--; /* counted as a timeout instead */
					fail_request(&g, i, "no answer in time", ETIMEDOUT, t);
				}
			}
		}
	}
	summarise(&g);
	rv = 0;
out:
	for (unsigned i = 0; g.c && i < cfg->clients; i++) {
		if (g.c[i].tls)
			gnutls_deinit(g.c[i].tls);
		if (g.c[i].fd >= 0)
			close(g.c[i].fd);
		rc_reader_free(&g.c[i].rd);
		free(g.c[i].out);
	}
	if (g.ep >= 0)
		close(g.ep);
	free(g.c);
	free(g.idle);
	free(g.redo);
	free(g.value);
	free(g.lat_us);
	return rv;
}
