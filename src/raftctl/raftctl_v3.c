/* src/raftctl/raftctl_v3.c — see raftctl_v3.h. Also `raftctl compact`. */
#include "src/raftctl/raftctl_v3.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd/rpc.pb-c.h"
#include "net/grpc_client.h"
#include "net/url.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"

#define GRPC_UNAVAILABLE 14

const char *const rc_v3_status_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

void rc_v3_close(struct rc_v3 *v)
{
	grpcc_close(v->c);
	v->c = NULL;
}

/* The "grpc" URL a node gives in /raftd/version, into out; -ENOENT when it
 * has none (--grpc-listen none, a goraft node, an older raftd). */
static int ask_grpc_url(struct rc_conn *conn, char *out, size_t cap, char *err, size_t err_len)
{
	struct rc_response r;
	int rv = rc_http(conn, &(struct rc_request){ .method = "GET", .path = "/raftd/version" }, &r, err, err_len);
	if (rv < 0) {
		rc_response_free(&r);
		return rv;
	}
	json_t *j = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	const char *g = json_string_value(json_object_get(j, "grpc"));
	rv = g && strlen(g) < cap ? 0 : -ENOENT;
	if (rv == 0)
		snprintf(out, cap, "%s", g);
	else
		snprintf(err, err_len, "%s: no gRPC port (not in its /raftd/version: --grpc-listen none, or a goraft node?)",
			 conn->url.base);
	json_decref(j);
	rc_response_free(&r);
	return rv;
}

/* grpcc's transport over a GnuTLS session (handshake done). */
static ssize_t tls_recv(void *ctx, void *buf, size_t len)
{
	ssize_t n = gnutls_record_recv(ctx, buf, len);
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	return n == GNUTLS_E_PREMATURE_TERMINATION ? 0 : -ECONNRESET;
}

static ssize_t tls_send(void *ctx, const void *buf, size_t len)
{
	ssize_t n = gnutls_record_send(ctx, buf, len);
	if (n >= 0)
		return n;
	return n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED ? -EAGAIN : -ECONNRESET;
}

/* GnuTLS may need to write while reading (a key update): its direction */
static short tls_events(void *ctx, short want)
{
	return (short)(want | (gnutls_record_get_direction(ctx) ? POLLOUT : POLLIN));
}

static void tls_close(void *ctx)
{
	gnutls_deinit(ctx);
}

/* Connects to one gRPC URL: cleartext HTTP/2 with prior knowledge, or for
 * https:// TLS with ALPN "h2" (as grpc-go), verified as every https://
 * request of raftctl is. */
static int v3_connect_url(const char *s, struct rc_v3 *v, char *err, size_t err_len)
{
	if (url_parse(s, URL_SHORT | URL_SLASH | URL_HTTPS, &v->url) < 0) {
		snprintf(err, err_len, "bad gRPC endpoint '%s' (expected HOST:PORT or http://HOST:PORT)", s);
		return -EINVAL;
	}
	if (v->url.tls) {
		gnutls_session_t tls;
		int fd, rv = rc_tls_dial(&v->url, raftctl_g.timeout_ms, "h2", &fd, &tls, err, err_len);
		if (rv < 0)
			return rv;
		struct grpcc_io io = { .recv = tls_recv, .send = tls_send, .events = tls_events, .close = tls_close,
				       .ctx = tls };
		rv = grpcc_adopt(fd, &io, v->url.hostport, &v->c);
		if (rv < 0)
			snprintf(err, err_len, "%s: %s", v->url.base, strerror(-rv));
		return rv;
	}
	unsigned long long port = strtoull(v->url.port, NULL, 10);
	int rv = grpcc_connect(v->url.host, (uint16_t)port, raftctl_g.timeout_ms, &v->c);
	if (rv < 0)
		snprintf(err, err_len, "%s: connect: %s", v->url.base, strerror(-rv));
	return rv;
}

/* err accumulates "A: why; B: why". */
static void add_reason(char *err, size_t err_len, const char *why)
{
	size_t l = strlen(err);
	if (l + 3 < err_len)
		snprintf(err + l, err_len - l, "%s%s", l ? "; " : "", why);
}

/* A gRPC connection: to --node's member, else the first of --grpc, else of
 * the endpoints' own gRPC URLs, that connects. */
int rc_v3_open(const char *node, struct rc_v3 *v, char *err, size_t err_len)
{
	char why[1024], url[RC_URL_MAX];
	int rv = -EHOSTUNREACH;

	memset(v, 0, sizeof(*v));
	err[0] = '\0';
	if (node) {
		struct rc_node n = RC_NODE_INIT;
		rv = rc_find_node(node, &n, err, err_len);
		if (rv == 0)
			rv = ask_grpc_url(&n.conn, url, sizeof(url), err, err_len);
		rc_node_free(&n);
		return rv < 0 ? rv : v3_connect_url(url, v, err, err_len);
	}
	if (raftctl_g.grpc) {
		char *copy = strdup(raftctl_g.grpc), *save = NULL;
		if (!copy)
			return -ENOMEM;
		for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			rv = v3_connect_url(t, v, why, sizeof(why));
			if (rv == 0 || rv == -ENOKEY || rv == -EINVAL) {
				if (rv < 0)
					snprintf(err, err_len, "%s", why);
				break;
			}
			add_reason(err, err_len, why);
		}
		free(copy);
		return rv;
	}
	for (size_t i = 0; i < raftctl_g.n_endpoints; i++) {
		struct rc_conn conn;
		struct url u;
		if (url_parse(raftctl_g.endpoints[i], RC_URL_FORMS, &u) < 0)
			continue;
		rc_conn_init(&conn, &u, raftctl_g.timeout_ms);
		rv = ask_grpc_url(&conn, url, sizeof(url), why, sizeof(why));
		rc_conn_close(&conn);
		if (rv == -ENOKEY) {
			snprintf(err, err_len, "%s", why);
			return rv;
		}
		if (rv == 0)
			rv = v3_connect_url(url, v, why, sizeof(why));
		if (rv == 0 || rv == -ENOKEY) { /* the TLS files: the same for every endpoint */
			if (rv < 0)
				snprintf(err, err_len, "%s", why);
			return rv;
		}
		add_reason(err, err_len, why);
	}
	return rv;
}

/* One call. 0 with *resp (free it) when the server answered OK; -EPROTO
 * with err "URL: CODE: message" when it answered an error (*status), other
 * -errno when it did not answer. Calls a member answers "no leader" (the
 * request was not applied) are tried again while an election may run. */
int rc_v3_call(struct rc_v3 *v, const char *path, const ProtobufCMessage *req, bool retry_unavailable,
		   uint8_t **resp, size_t *resp_len, int *status, char *err, size_t err_len)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len + 1);
	char msg[512];
	int rv = -ENOMEM;

	*resp = NULL;
	*status = -1;
	if (!v->c) { /* a failed reconnect left none */
		free(buf);
		snprintf(err, err_len, "%s: not connected", v->url.base);
		return -ENOTCONN;
	}
	if (!buf) {
		snprintf(err, err_len, "out of memory");
		return rv;
	}
	protobuf_c_message_pack(req, buf);
	for (int i = 0; i < 15; i++) {
		if (i)
			usleep(200 * 1000); /* an election takes a few hundred ms */
		free(*resp);
		*resp = NULL;
		msg[0] = '\0';
		rv = grpcc_call(v->c, path, buf, len, resp, resp_len, status, msg, sizeof(msg), raftctl_g.timeout_ms);
		if (rv < 0) {
			/* a TLS server drops a cleartext HTTP/2 preface */
			bool tls_port = !v->url.tls && (rv == -ECONNRESET || rv == -EPROTO || rv == -ENOTCONN);
			snprintf(err, err_len, "%s: %s%s", v->url.base,
				 rv == -ETIMEDOUT ? "no answer within --timeout" : strerror(-rv),
				 tls_port ? " (a TLS port? https://)" : "");
			break;
		}
		if (*status == 0)
			break;
		const char *name = *status < (int)(sizeof(rc_v3_status_names) / sizeof(rc_v3_status_names[0])) ? rc_v3_status_names[*status]
												   : "status";
		snprintf(err, err_len, "%s: %s: %s", v->url.base, name, msg[0] ? msg : "(no message)");
		rv = -EPROTO;
		if (*status != GRPC_UNAVAILABLE ||
		    !(retry_unavailable || !strcmp(msg, "etcdserver: no leader")))
			break;
	}
	free(buf);
	if (rv < 0) {
		free(*resp);
		*resp = NULL;
	}
	return rv;
}

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

/* The end of the range of keys that start with p (etcd's prefix end):
 * p with its last byte below 0xff incremented; "\0" (to the end) when there
 * is none. Into out (cap > strlen(p)). */
ProtobufCBinaryData rc_v3_prefix_end(const char *p, uint8_t *out)
{
	size_t n = strlen(p);
	memcpy(out, p, n);
	while (n > 0) {
		if (out[n - 1] < 0xff) {
			out[n - 1]++;
			return (ProtobufCBinaryData){ n, out };
		}
		n--;
	}
	out[0] = 0;
	return (ProtobufCBinaryData){ 1, out };
}

json_t *rc_v3_bytes_json(ProtobufCBinaryData b)
{
	json_t *s = json_stringn((const char *)b.data, b.len);
	return s ? s : json_null(); /* not UTF-8 */
}

int rc_v3_fail(const char *cmd, int rv, const char *err)
{
	if (rv == -EINVAL) /* a bad --grpc */
		return raftctl_usage_error(cmd, "%s", err);
	return raftctl_fail(cmd, "%s", err);
}

int rc_v3_get(const struct rc_v3_get *g)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RangeResponse *rr = NULL;
	bool many = g->prefix || g->from_key;
	char err[2048];
	uint8_t *resp = NULL, *end = malloc(strlen(g->key) + 1);
	size_t len = 0;
	int status, rv;
	struct rc_v3 v;

	if (!end)
		return raftctl_fail("get", "out of memory");
	req.key = bin(g->key);
	if (!*g->key && many)
		req.key = (ProtobufCBinaryData){ 1, (uint8_t *)"" }; /* "\0": every key */
	if (g->prefix)
		req.range_end = rc_v3_prefix_end(g->key, end);
	else if (g->from_key)
		req.range_end = (ProtobufCBinaryData){ 1, (uint8_t *)"" };
	req.limit = g->limit;
	req.revision = g->rev;
	req.keys_only = g->keys_only;
	req.serializable = g->local;
	rv = rc_v3_open(g->node, &v, err, sizeof(err));
	if (rv == 0)
		rv = rc_v3_call(&v, "/etcdserverpb.KV/Range", &req.base, true, &resp, &len, &status, err, sizeof(err));
	if (rv == 0 && !(rr = etcdserverpb__range_response__unpack(NULL, len, resp))) {
		snprintf(err, sizeof(err), "%s: a RangeResponse that does not parse", v.url.base);
		rv = -EBADMSG;
	}
	if (rv < 0) {
		rv = rc_v3_fail("get", rv, err);
		goto out;
	}
	if (raftctl_g.json) {
		json_t *kvs = json_array();
		for (size_t i = 0; i < rr->n_kvs; i++) {
			const Mvccpb__KeyValue *kv = rr->kvs[i];
			json_t *o = json_pack("{s:o, s:I, s:I, s:I}", "key", rc_v3_bytes_json(kv->key), "create_revision",
					      (json_int_t)kv->create_revision, "mod_revision", (json_int_t)kv->mod_revision,
					      "version", (json_int_t)kv->version);
			if (o && !g->keys_only)
				json_object_set_new(o, "value", rc_v3_bytes_json(kv->value));
			json_array_append_new(kvs, o);
		}
		rv = rc_emit(json_pack("{s:I, s:I, s:b, s:o}", "revision",
				       (json_int_t)(rr->header ? rr->header->revision : 0), "count", (json_int_t)rr->count,
				       "more", rr->more, "kvs", kvs));
		if (rv == 0 && !many && !rr->n_kvs)
			rv = raftctl_fail("get", "%s: not found", g->key);
		goto out;
	}
	if (!many && !rr->n_kvs) {
		rv = raftctl_fail("get", "%s: not found", g->key);
		goto out;
	}
	for (size_t i = 0; i < rr->n_kvs; i++) {
		const Mvccpb__KeyValue *kv = rr->kvs[i];
		/* one key: its value alone, as the plain get prints it */
		if (many || g->keys_only)
			fwrite(kv->key.data, 1, kv->key.len, stdout);
		if (many && !g->keys_only)
			putchar(' ');
		if (!g->keys_only)
			fwrite(kv->value.data, 1, kv->value.len, stdout);
		putchar('\n');
	}
	rv = fflush(stdout) ? 1 : 0;
out:
	etcdserverpb__range_response__free_unpacked(rr, NULL);
	free(resp);
	free(end);
	rc_v3_close(&v);
	return rv;
}

/* The revision a write got, as -v and -o json show it. */
static int print_write(const char *key, const char *result, int64_t rev, int64_t deleted, bool verbose)
{
	if (raftctl_g.json) {
		json_t *o = json_pack("{s:s, s:s, s:I}", "key", key, "result", result, "revision", (json_int_t)rev);
		if (o && deleted >= 0)
			json_object_set_new(o, "deleted", json_integer(deleted));
		return rc_emit(o);
	}
	if (deleted >= 0)
		printf("deleted %" PRId64 "\n", deleted);
	else
		puts("OK");
	if (verbose)
		printf("revision %" PRId64 "\n", rev);
	return fflush(stdout) ? 1 : 0;
}

/* KV.Put: 0 with *rev, or -errno with err set. */
static int plain_put(struct rc_v3 *v, Etcdserverpb__PutRequest *put, int64_t *rev, char *err, size_t err_len)
{
	Etcdserverpb__PutResponse *pr = NULL;
	uint8_t *resp = NULL;
	size_t len = 0;
	int status;
	int rv = rc_v3_call(v, "/etcdserverpb.KV/Put", &put->base, false, &resp, &len, &status, err, err_len);
	if (rv == 0 && !(pr = etcdserverpb__put_response__unpack(NULL, len, resp))) {
		snprintf(err, err_len, "%s: a PutResponse that does not parse", v->url.base);
		rv = -EBADMSG;
	}
	if (pr && pr->header)
		*rev = pr->header->revision;
	etcdserverpb__put_response__free_unpacked(pr, NULL);
	free(resp);
	return rv;
}

/* KV.Txn: put if the key's mod revision is if_mod_rev (0: if absent), else
 * read it. 0 with *rev and *ok (the compare held; if not, *now is the
 * key's mod revision, 0 absent), or -errno with err set. */
static int cas_put(struct rc_v3 *v, Etcdserverpb__PutRequest *put, int64_t if_mod_rev, int64_t *rev, bool *ok,
		   int64_t *now, char *err, size_t err_len)
{
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__RangeRequest range = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT, fop = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare *cmps[1] = { &cmp };
	Etcdserverpb__RequestOp *ops[1] = { &op }, *fops[1] = { &fop };
	Etcdserverpb__TxnResponse *tr = NULL;
	uint8_t *resp = NULL;
	size_t len = 0;
	int status, rv;

	/* etcd's idioms: absent is create_revision 0; else the mod_revision */
	cmp.key = put->key;
	cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
	if (if_mod_rev == 0) {
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
		cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
		cmp.create_revision = 0;
	} else {
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
		cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
		cmp.mod_revision = if_mod_rev;
	}
	op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op.request_put = put;
	/* on failure, the key as it is: the message says what it was */
	range.key = put->key;
	range.keys_only = true;
	fop.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	fop.request_range = &range;
	txn.n_compare = 1;
	txn.compare = cmps;
	txn.n_success = 1;
	txn.success = ops;
	txn.n_failure = 1;
	txn.failure = fops;
	rv = rc_v3_call(v, "/etcdserverpb.KV/Txn", &txn.base, false, &resp, &len, &status, err, err_len);
	if (rv == 0 && !(tr = etcdserverpb__txn_response__unpack(NULL, len, resp))) {
		snprintf(err, err_len, "%s: a TxnResponse that does not parse", v->url.base);
		rv = -EBADMSG;
	}
	if (tr) {
		*rev = tr->header ? tr->header->revision : 0;
		*ok = tr->succeeded;
		*now = 0;
		if (tr->n_responses == 1 &&
		    tr->responses[0]->response_case == ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE &&
		    tr->responses[0]->response_range->n_kvs == 1)
			*now = tr->responses[0]->response_range->kvs[0]->mod_revision;
	}
	etcdserverpb__txn_response__free_unpacked(tr, NULL);
	free(resp);
	return rv;
}

int rc_v3_parse_lease(const char *s, int64_t *ret)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 16);
	if (errno || *end || end == s || v > INT64_MAX)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

int rc_v3_put(const char *key, const char *value, size_t vlen, int64_t if_mod_rev, int64_t lease, bool verbose)
{
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
	char err[2048];
	int64_t rev = 0, now = 0;
	bool ok = true;
	struct rc_v3 v;

	put.key = bin(key);
	put.value = (ProtobufCBinaryData){ vlen, (uint8_t *)value };
	put.lease = lease;
	int rv = rc_v3_open(NULL, &v, err, sizeof(err));
	if (rv == 0)
		rv = if_mod_rev < 0 ? plain_put(&v, &put, &rev, err, sizeof(err))
				    : cas_put(&v, &put, if_mod_rev, &rev, &ok, &now, err, sizeof(err));
	rc_v3_close(&v);
	if (rv < 0)
		return rc_v3_fail("put", rv, err);
	if (ok)
		return print_write(key, "ok", rev, -1, verbose);
	if (raftctl_g.json)
		rc_emit(json_pack("{s:s, s:s, s:I, s:I}", "key", key, "result", "compare failed", "revision",
				  (json_int_t)rev, "mod_revision", (json_int_t)now));
	if (if_mod_rev == 0)
		return raftctl_fail("put", "%s: not written: it exists (mod revision %" PRId64 "), --if-mod-rev 0 wants it absent",
				    key, now);
	if (now == 0)
		return raftctl_fail("put", "%s: not written: it does not exist, --if-mod-rev %" PRId64 " wants mod revision %" PRId64,
				    key, if_mod_rev, if_mod_rev);
	return raftctl_fail("put", "%s: not written: its mod revision is %" PRId64 ", not %" PRId64 " (--if-mod-rev)",
			    key, now, if_mod_rev);
}

int rc_v3_delete(const char *key, bool prefix, bool verbose)
{
	Etcdserverpb__DeleteRangeRequest req = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__DeleteRangeResponse *dr = NULL;
	char err[2048];
	uint8_t *resp = NULL, *end = malloc(strlen(key) + 1);
	size_t len = 0;
	int status, rv;
	struct rc_v3 v = { 0 };

	if (!end)
		return raftctl_fail("delete", "out of memory");
	req.key = bin(key);
	if (prefix) {
		if (!*key)
			req.key = (ProtobufCBinaryData){ 1, (uint8_t *)"" };
		req.range_end = rc_v3_prefix_end(key, end);
	}
	rv = rc_v3_open(NULL, &v, err, sizeof(err));
	if (rv == 0)
		rv = rc_v3_call(&v, "/etcdserverpb.KV/DeleteRange", &req.base, false, &resp, &len, &status, err, sizeof(err));
	if (rv == 0 && !(dr = etcdserverpb__delete_range_response__unpack(NULL, len, resp))) {
		snprintf(err, sizeof(err), "%s: a DeleteRangeResponse that does not parse", v.url.base);
		rv = -EBADMSG;
	}
	if (rv < 0)
		rv = rc_v3_fail("delete", rv, err);
	else
		rv = print_write(key, "ok", dr->header ? dr->header->revision : 0, dr->deleted, verbose);
	etcdserverpb__delete_range_response__free_unpacked(dr, NULL);
	free(resp);
	free(end);
	rc_v3_close(&v);
	return rv;
}

int raftctl_compact(int argc, char **argv)
{
	static const struct option opts[] = { { "physical", no_argument, NULL, 'p' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	Etcdserverpb__CompactionRequest req = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
	unsigned long long rev;
	char err[2048];
	uint8_t *resp = NULL;
	size_t len = 0;
	int c, status, rv;
	struct rc_v3 v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': req.physical = true; break;
		case 'h':
			puts("usage: raftctl compact [--physical] REVISION\n"
			     "\n"
			     "Drops the etcd v3 history before REVISION on every member (etcd's\n"
			     "Compact): reads at older revisions fail from then on. --physical\n"
			     "returns once the compaction is applied.");
			return 0;
		default: return raftctl_usage_error("compact", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1 || raftctl_parse_u64(argv[optind], &rev) < 0 || rev == 0 || rev > INT64_MAX)
		return raftctl_usage_error("compact", "needs one REVISION (a positive number)");
	req.revision = (int64_t)rev;
	rv = rc_v3_open(NULL, &v, err, sizeof(err));
	if (rv == 0)
		rv = rc_v3_call(&v, "/etcdserverpb.KV/Compact", &req.base, false, &resp, &len, &status, err, sizeof(err));
	free(resp);
	rc_v3_close(&v);
	if (rv < 0)
		return rc_v3_fail("compact", rv, err);
	if (raftctl_g.json)
		return rc_emit(json_pack("{s:I}", "compacted", (json_int_t)rev));
	printf("compacted revision %llu\n", rev);
	return fflush(stdout) ? 1 : 0;
}
