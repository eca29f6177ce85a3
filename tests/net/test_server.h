/* tests/net/test_server.h — a scripted HTTP/1.1 server on 127.0.0.1 for the
 * peer client tests. One thread, blocking sockets, one connection at a time;
 * it can answer well, in batches, chunked, or misbehave (stall, reset,
 * close mid-body, send garbage). */
#ifndef RAFTD_TESTS_NET_TEST_SERVER_H
#define RAFTD_TESTS_NET_TEST_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "net/tls.h"

enum ts_mode {
	TS_ECHO,        /* 200, body = request body, keep-alive */
	TS_BATCH,       /* wait for `batch` requests, answer them in one write */
	TS_BATCH_RECORDS, /* TS_BATCH, but over TLS each response is a record of its
			   * own: the records reach the client in one write */
	TS_STALL,       /* read requests, never answer */
	TS_CLOSE_EACH,  /* answer with Connection: close, then close */
	TS_CLOSE_IDLE,  /* answer keep-alive, then close the idle connection */
	TS_CHUNKED,     /* echo the body chunked, 3 bytes per chunk, with a trailer */
	TS_RESET,       /* read a request, close with RST */
	TS_MIDBODY,     /* Content-Length: 100, 10 bytes, close */
	TS_GARBAGE,     /* not HTTP */
	TS_HUGE,        /* a Content-Length past the client's limit */
	TS_SINK,        /* 200, body = 8-byte FNV-1a of the request body (any size) */
	TS_GO400,       /* Go's 400 for an undecodable body */
	TS_NOREAD,      /* accept, never read (the client's send blocks) */
	TS_EOF_BODY,    /* echo with neither length nor chunking: the close ends it */
	TS_DOUBLE,      /* answer every request twice (the second is unsolicited) */
	TS_CHAOS,       /* per request, a pseudo-random one of the behaviours above */
};

struct test_server {
	int lfd;
	int port;
	enum ts_mode mode;
	int batch;
	pthread_t thread;
	pthread_mutex_t lock;     /* guards conn_fd against close/shutdown races */
	int conn_fd;
	atomic_int stopping;
	atomic_int conns;           /* connections accepted */
	atomic_int reqs;            /* requests read completely */
	atomic_int max_outstanding; /* most requests seen unanswered at once */
	atomic_ullong bytes_in;     /* every byte read */
	unsigned seed;              /* TS_CHAOS */
	/* TLS (ts_start_tls): every connection is a GnuTLS server session on
	 * the blocking socket, the modes above then speak through it (but
	 * TS_NOREAD does not even handshake: a handshake that never ends). */
	struct tls_creds *tls;      /* our certificate; NULL: plain HTTP */
	struct tls_creds *trust;    /* verifies client certificates (may be NULL) */
	int client_cert;            /* 0: do not ask, 1: request, 2: require */
	atomic_int handshakes;      /* completed */
	atomic_int handshake_failures;
	struct tls_identity client; /* of the last handshake (guarded by lock) */
	char sni[256];              /* the server name the last client sent, "" if none (lock) */
};

/* Start listening on an ephemeral 127.0.0.1 port; returns 0 or -errno. */
int ts_start(struct test_server *s, enum ts_mode mode, int batch);
/* The same over TLS with creds (the server's certificate and key); trust
 * verifies client certificates; client_cert as in struct test_server. The
 * server takes references. */
int ts_start_tls(struct test_server *s, enum ts_mode mode, int batch, struct tls_creds *creds,
		 struct tls_creds *trust, int client_cert);
/* Stop and join; safe on a stalled connection. */
void ts_stop(struct test_server *s);
/* A 127.0.0.1 port with nothing listening (bound, then closed). */
int ts_dead_port(void);
uint64_t ts_fnv1a(uint64_t h, const uint8_t *p, size_t n);
#define TS_FNV_INIT 0xcbf29ce484222325ull

#endif
