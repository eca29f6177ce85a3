/* src/raftctl/raftctl_loadgen.h — the load generator behind `bench` and `check
 * perf`.
 *
 * N client connections to one node, one request in flight on each
 * (HTTP/1.1 keep-alive, closed loop), all driven by one thread with epoll:
 * a thousand clients cost a thousand sockets, not a thousand threads. With
 * a rate, request i may start no earlier than start + i/rate (the clients
 * share one schedule, as etcd's rate limiter does); latency is measured from
 * when a request is sent to when its response is complete.
 *
 * Keys are PREFIX0 .. PREFIX(keys-1), taken in turn; values are value_size
 * printable bytes. A response other than 2xx, a connection error or a
 * request older than timeout_ms is a failed request (the connection is then
 * opened anew).
 *
 * With find_leader set, the load follows the leader: a request the target
 * refuses as not the leader (goraft's 400 "Not current leader", a 307 to
 * the leader, a 503 that says retry, a 500 "command failed to be
 * committed" from a leader deposed meanwhile) or whose connection fails is not counted but sent again to
 * the leader find_leader() names, once it names one (within timeout_ms).
 *
 * An https:// target gets TLS on every connection (rc_tls_session: the
 * same verification and client certificate as the other commands); the
 * handshakes are done before the clock starts, and again, inside the
 * measured time, for a connection that broke.
 */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_LOADGEN_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/raftctl/raftctl_http.h"

enum lg_op { LG_PUT, LG_GET, LG_DELETE };

struct lg_config {
	struct url target;
	enum lg_op op;
	unsigned clients;
	uint64_t requests;      /* stop after this many (0: only the duration) */
	uint64_t duration_ms;   /* stop starting requests after this (0: none) */
	double rate;            /* requests/s for all clients together; 0: unlimited */
	uint64_t keys;          /* key space */
	size_t value_size;
	const char *prefix;
	bool consistent;        /* GET ?consistent=true */
	int timeout_ms;
	/* the leader now (blocking is fine); 0 or a negative errno, err set */
	int (*find_leader)(void *arg, struct url *ret, char *err, size_t err_len);
	void *find_leader_arg;
};

struct lg_result {
	uint64_t ok, failed;
	uint64_t connect_errors;   /* failed to connect or the connection broke */
	uint64_t timeouts;
	uint64_t status_4xx, status_5xx;
	uint64_t issued;           /* keys PREFIX0 .. PREFIX(min(issued, keys)-1) were touched */
	unsigned leader_changes;   /* times the load moved to another node */
	char first_error[256];     /* the first failure's words, "" if none */
	double elapsed_s;          /* first request sent to last response */
	double throughput;         /* ok / elapsed_s */
	/* latencies of successful requests, milliseconds */
	double p50, p90, p99, max, mean, stddev;
};

/* Runs the load; 0 (the result says how it went, failures included), or a
 * negative errno with err set when it could not run at all (no memory, no
 * epoll, too many clients for the file descriptor limit). */
int lg_run(const struct lg_config *cfg, struct lg_result *ret, char *err, size_t err_len);

const char *lg_op_name(enum lg_op op);

#endif
