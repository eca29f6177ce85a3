/* GET /metrics: Prometheus' text format, written by hand into one growing
 * buffer because no Debian-packaged C client library for it exists; the
 * names and labels are the project's interface (raftd.8). */
#include "src/raftd/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "src/raftd/log.h"
#include "src/raftd/v3.h"

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int l = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (l < 0 || b->oom)
			return;
		if (b->p && b->len + (size_t)l < b->cap) {
			b->len += (size_t)l;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + (size_t)l + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A label value as the text format wants it: member names may hold '"',
 * '\\' and newlines, which would end the value or the line. */
static void blabel(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			bprintf(b, "\\%c", *v);
		else if (*v == '\n')
			bprintf(b, "\\n");
		else
			bprintf(b, "%c", *v);
	}
}

/* One histogram family's series (HELP and TYPE are the caller's). */
static void bhist(struct buf *b, const char *name, const char *labels, const struct hist *h)
{
	char tmp[4096];
	int l = hist_format(h, name, labels, tmp, sizeof(tmp));
	if (l < 0 || (size_t)l >= sizeof(tmp)) {
		b->oom = true; /* cannot happen with our names and labels; never a torn series */
		return;
	}
	bprintf(b, "%s", tmp);
}

/* The process_* metrics every Prometheus client library exports, from
 * getrusage(), /proc/self and the start time kept at start-up. */
static void process_metrics(struct node *n, struct buf *b)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		uint64_t us = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
			      (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
		bprintf(b, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
			   "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %" PRIu64 ".%06" PRIu64 "\n",
			us / 1000000, us % 1000000);
	}
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size, resident;
	if (f && fscanf(f, "%llu %llu", &size, &resident) == 2) {
		unsigned long long page = (unsigned long long)sysconf(_SC_PAGESIZE);
		bprintf(b, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
			   "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
			   "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			   "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
			size * page, resident * page);
	}
	if (f)
		fclose(f);
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		unsigned long fds = 0;
		for (struct dirent *e; (e = readdir(d));)
			fds += e->d_name[0] != '.';
		closedir(d);
		bprintf(b, "# HELP process_open_fds Number of open file descriptors.\n"
			   "# TYPE process_open_fds gauge\nprocess_open_fds %lu\n",
			fds ? fds - 1 : 0); /* not the one reading the directory */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		bprintf(b, "# HELP process_max_fds Maximum number of open file descriptors.\n"
			   "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
			(unsigned long long)rl.rlim_cur);
	bprintf(b, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		   "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %" PRIu64 ".%03" PRIu64 "\n",
		n->start_time_ns / 1000000000, n->start_time_ns % 1000000000 / 1000000);
}

/* raftd_http_requests_total and raftd_http_request_duration_seconds, by the
 * route's method and path as the route table spells them ("other" for a
 * request that matched none): never a client's own path or method. */
static void http_metrics(struct node *n, struct buf *b)
{
	size_t n_stats;
	const struct httpd_route_stats *rs = httpd_route_stats(n->http, &n_stats);
	char labels[160];
	bprintf(b, "# HELP raftd_http_requests_total HTTP requests answered, by route and status code.\n"
		   "# TYPE raftd_http_requests_total counter\n");
	for (size_t i = 0; i < n_stats; i++) {
		const struct httpd_route *r = rs[i].route;
		snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\"",
			 !r ? "other" : r->method ? r->method : "any", r ? r->path : "other");
		for (size_t k = 0; k < HTTPD_CODES; k++) {
			char code[16] = "other";
			if (!rs[i].codes[k].count)
				continue;
			if (rs[i].codes[k].code)
				snprintf(code, sizeof(code), "%u", rs[i].codes[k].code);
			bprintf(b, "raftd_http_requests_total{%s,code=\"%s\"} %" PRIu64 "\n", labels, code,
				rs[i].codes[k].count);
		}
	}
	bprintf(b, "# HELP raftd_http_request_duration_seconds HTTP requests from head received to response sent, by route.\n"
		   "# TYPE raftd_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < n_stats; i++) {
		const struct httpd_route *r = rs[i].route;
		if (!rs[i].duration.count)
			continue;
		snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\"",
			 !r ? "other" : r->method ? r->method : "any", r ? r->path : "other");
		bhist(b, "raftd_http_request_duration_seconds", labels, &rs[i].duration);
	}
}

void on_metrics(struct httpd_request *req, void *data)
{
	struct node *n = data;
	struct buf b = { 0 };
	const struct httpd_stats *hs = httpd_stats(n->http);
#define GAUGE(name, help, v) bprintf(&b, "# HELP raftd_" name " " help "\n# TYPE raftd_" name " gauge\nraftd_" name " %" PRIu64 "\n", (uint64_t)(v))
#define COUNTER(name, help, v) bprintf(&b, "# HELP raftd_" name " " help "\n# TYPE raftd_" name " counter\nraftd_" name " %" PRIu64 "\n", (uint64_t)(v))
	GAUGE("term", "Current Raft term.", raft_current_term(n->r));
	GAUGE("is_leader", "1 if this node is the leader.", raft_role(n->r) == RAFT_LEADER);
	GAUGE("commit_index", "Highest committed log index.", raft_commit_index(n->r));
	GAUGE("applied_index", "Highest log index applied to the key-value store.", kv_applied_index(n->kv));
	GAUGE("last_index", "Last log index.", raft_last_index(n->r));
	GAUGE("durable_index", "Last log index durable on this node's disk.", wal_durable_index(n->wal));
	GAUGE("keys", "Keys in the store.", kv_count(n->kv));
	GAUGE("kv_bytes", "Bytes of keys and values in the store.", kv_bytes(n->kv));
	GAUGE("members", "Cluster members.", raft_n_members(n->r));
	GAUGE("has_leader", "1 if this node knows a leader of its current term.", raft_leader(n->r)[0] != '\0');
	COUNTER("leader_changes_seen_total", "Leaders this node has seen take over (one per term that had one).",
		n->leader_changes);
	GAUGE("wal_stalled", "1 while a WAL write has been pending longer than wal-stall-ms.", n->disk_stalled);
	bprintf(&b, "# HELP raftd_build_info The running raftd's version; always 1.\n# TYPE raftd_build_info gauge\n"
		    "raftd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	COUNTER("wal_batches_total", "WAL batches made durable (one write and one fdatasync each).", n->wal_batches);
	COUNTER("writes_applied_total", "Client writes answered 200 after apply.", n->writes_applied);
	COUNTER("writes_failed_total", "Client writes that failed or timed out.", n->writes_failed);
	COUNTER("reads_local_total", "Local (possibly stale) reads.", n->reads_local);
	COUNTER("reads_consistent_total", "Linearizable (ReadIndex) reads.", n->reads_consistent);
	if (n->grpc) {
		/* etcd's v3 API (--grpc-listen) */
		const struct grpc_stats *g = grpc_stats(n->grpc);
		COUNTER("grpc_connections_accepted_total", "gRPC connections accepted.", g->conns_accepted);
		COUNTER("grpc_connections_refused_total", "gRPC connections closed at accept (max connections).",
			g->conns_refused);
		GAUGE("grpc_connections", "gRPC connections open.", g->conns_open);
		COUNTER("grpc_calls_started_total", "gRPC calls started.", g->calls_started);
		COUNTER("grpc_calls_finished_total", "gRPC calls answered with a status.", g->calls_finished);
		COUNTER("grpc_calls_cancelled_total", "gRPC calls gone before their answer (reset, deadline, "
			"connection closed).", g->calls_cancelled);
		COUNTER("grpc_protocol_errors_total", "gRPC connections closed for bad HTTP/2 or a failed TLS handshake.",
			g->protocol_errors);
		COUNTER("grpc_tls_refused_total", "gRPC TLS handshakes refused for the certificate or ALPN.",
			g->tls_refused);
	}
	{
		/* watchers (v3_watch.c): gRPC Watch streams and GET /db?wait */
		struct v3_watch_stats ws;
		v3_watch_stats(n, &ws);
		GAUGE("watch_streams", "gRPC Watch streams open.", ws.streams);
		GAUGE("watchers", "Watchers open (gRPC watches and GET /db?wait=true).", ws.watchers);
		GAUGE("watchers_unsynced", "Watchers behind the store's revision (catching up from its history: "
		      "a past start revision, or a client slow to read).", ws.unsynced);
		GAUGE("watch_memory_bytes", "Bytes held for watchers, their streams and held control responses.",
		      ws.bytes);
		COUNTER("watch_events_sent_total", "Watch events queued to clients.", ws.events);
		COUNTER("watch_responses_sent_total", "WatchResponses queued to clients.", ws.responses);
		COUNTER("watch_stream_full_total", "Times a Watch stream's output was full (its watchers fell behind).",
			ws.blocked);
		COUNTER("watch_compacted_total", "Watchers canceled with compact_revision (their next revision was "
			"compacted).", ws.compacted);
		COUNTER("watch_fanout_deferred_total", "Loop passes whose fan-out of new events to synced watchers "
			"stopped at its budget and went on in a later pass.", ws.fanout_deferred);
		COUNTER("watch_fanout_dropped_total", "Times the queue of revisions waiting for their fan-out was full "
			"(the watchers behind it caught up from the history).", ws.fanout_dropped);
	}
	COUNTER("rpcs_received_total", "Raft RPC requests received.", n->rpcs_in);
	COUNTER("rpcs_sent_total", "Raft RPC requests sent.", n->rpcs_out);
	COUNTER("append_entries_sent_total", "Log entries sent in AppendEntries requests.", n->ae_entries_out);
	COUNTER("append_entry_bytes_sent_total", "Encoded entry bytes sent in AppendEntries requests.", n->entry_bytes_out);
	COUNTER("http_requests_received_total", "HTTP requests received (answered or not).", hs->requests);
	COUNTER("http_connections_refused_total", "Connections answered 503 at once: over a connection budget.",
		hs->conn_refused);
	COUNTER("http_head_timeouts_total", "Connections closed: no whole request head within --request-head-timeout.",
		hs->head_timeouts);
	COUNTER("http_body_timeouts_total", "Connections closed: no whole body within --request-body-timeout.",
		hs->body_timeouts);
	COUNTER("http_bad_framing_total", "Requests refused for ambiguous Content-Length/Transfer-Encoding.",
		hs->bad_framing);
	COUNTER("http_stranger_bodies_refused_total", "/raft requests over --max-stranger-body from non-members.",
		hs->stranger_refused);
	COUNTER("http_body_memory_refused_total", "Requests answered 503: their body did not fit --max-body-memory.",
		hs->memory_refused);
	COUNTER("http_busy_total", "Requests answered 503: too many of their kind at once.", hs->route_busy);
	GAUGE("http_connections_clients", "Open connections on the clients' budget.", hs->conns_clients);
	GAUGE("http_connections_peers", "Open connections on the peers' budget.", hs->conns_peers);
	GAUGE("http_body_bytes", "Bytes reserved by request bodies being read or held.", hs->body_bytes);
	uint64_t zc = 0, zc_copied = 0, copied = 0, sent_bytes = 0;
	for (struct npeer *p = n->peers; p; p = p->next) {
		const struct peer_stats *s = peer_stats(p->p);
		zc += s->bytes_zc;
		zc_copied += s->bytes_zc_copied;
		copied += s->bytes_copied;
		sent_bytes += s->bytes_zc + s->bytes_copied;
	}
	COUNTER("peer_bytes_zerocopy_total", "Bytes sent to peers with SENDMSG_ZC.", zc);
	COUNTER("peer_bytes_zerocopy_kernel_copied_total",
		"Of the zero-copy bytes, those the kernel reported it copied anyway (loopback does).", zc_copied);
	COUNTER("peer_bytes_copied_total", "Bytes sent to peers with plain sendmsg.", copied);
	bprintf(&b, "# HELP raftd_peer_up 1 while the peer answers.\n# TYPE raftd_peer_up gauge\n");
	for (struct npeer *p = n->peers; p; p = p->next) {
		bprintf(&b, "raftd_peer_up{peer=\"");
		blabel(&b, p->name);
		bprintf(&b, "\"} %d\n", !p->unreachable);
	}
	(void)sent_bytes;
	bprintf(&b, "# HELP raftd_wal_write_duration_seconds A WAL batch from its write's submission to its fdatasync's success.\n"
		    "# TYPE raftd_wal_write_duration_seconds histogram\n");
	bhist(&b, "raftd_wal_write_duration_seconds", NULL, wal_write_hist(n->wal));
	bprintf(&b, "# HELP raftd_commit_duration_seconds A client write on the leader from its proposal to its commit.\n"
		    "# TYPE raftd_commit_duration_seconds histogram\n");
	bhist(&b, "raftd_commit_duration_seconds", NULL, &n->commit_hist);
	bprintf(&b, "# HELP raftd_apply_duration_seconds Applying one slice of committed entries to the key-value store.\n"
		    "# TYPE raftd_apply_duration_seconds histogram\n");
	bhist(&b, "raftd_apply_duration_seconds", NULL, &n->apply_hist);
	http_metrics(n, &b);
	process_metrics(n, &b);
#undef GAUGE
#undef COUNTER
	if (b.oom || !b.p)
		httpd_reply_text(req, 500, "out of memory");
	else
		httpd_reply(req, 200, "text/plain; version=0.0.4", b.p, b.len, NULL);
	free(b.p);
}
