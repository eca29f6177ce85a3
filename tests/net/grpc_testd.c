/* tests/net/grpc_testd.c — net/grpc.c serving on its own, for real gRPC
 * clients (tests/net/grpc-clients.sh): grpcio calls /test.Echo/Unary, and
 * etcdctl talks to stand-ins of etcd's methods, which print the request
 * bytes they get ("CAPTURE <path> <hex>") and answer with empty responses
 * (every field at its default), so that the wire bytes a real client sends
 * can be held against protobuf-c's. KV.Range answers with one key, foo =
 * bar, so that a client has something to print.
 *
 * --tls DIR (certificates of tests/lib/mkcerts.sh): TLS with n1's
 * certificate, clients' certificates required and verified by DIR/ca.pem;
 * /test.Echo/Whoami answers with the client certificate's CN.
 *
 * --quiet: captures are not printed (a load generator's calls, profiled).
 *
 * Prints "port N" once listening on 127.0.0.1 (any free port); runs until
 * SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/loop.h"
#include "net/grpc.h"

static void echo(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	grpc_reply(call, msg, len);
}

static bool quiet;

static void print_capture(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	if (quiet)
		return;
	printf("CAPTURE %s ", grpc_call_method(call)->path);
	for (size_t i = 0; i < len; i++)
		printf("%02x", msg[i]);
	printf("\n");
	fflush(stdout);
}

static void capture(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	print_capture(call, msg, len);
	grpc_reply(call, NULL, 0);
}

/* etcdserverpb.RangeResponse{header{1, 1, 1, 1}, kvs{foo = bar, revisions
 * 1, version 1}, count 1}, encoded by hand */
static const uint8_t range_answer[] = {
	0x0a, 0x08, 0x08, 0x01, 0x10, 0x01, 0x18, 0x01, 0x20, 0x01,
	0x12, 0x10, 0x0a, 0x03, 'f', 'o', 'o', 0x10, 0x01, 0x18, 0x01, 0x20, 0x01, 0x2a, 0x03, 'b', 'a', 'r',
	0x20, 0x01,
};

static void range(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	print_capture(call, msg, len);
	grpc_reply(call, range_answer, sizeof(range_answer));
}

static void whoami(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	const struct tls_identity *id = grpc_call_identity(call);
	const char *cn = id->verdict == TLS_VERIFIED ? id->cn : "";
	grpc_reply(call, (const uint8_t *)cn, strlen(cn));
}

static void on_refused(void *data, const char *reason)
{
	(void)data;
	fprintf(stderr, "grpc_testd: refused %s\n", reason);
}

static const struct grpc_method methods[] = {
	{ .path = "/test.Echo/Unary", .kind = GRPC_UNARY, .handle = echo },
	{ .path = "/test.Echo/Whoami", .kind = GRPC_UNARY, .handle = whoami },
	{ .path = "/etcdserverpb.KV/Range", .kind = GRPC_UNARY, .handle = range },
	{ .path = "/etcdserverpb.KV/Put", .kind = GRPC_UNARY, .handle = capture },
	{ .path = "/etcdserverpb.KV/DeleteRange", .kind = GRPC_UNARY, .handle = capture },
	{ .path = "/etcdserverpb.KV/Txn", .kind = GRPC_UNARY, .handle = capture },
	{ .path = "/etcdserverpb.KV/Compact", .kind = GRPC_UNARY, .handle = capture },
	{ .path = "/etcdserverpb.Cluster/MemberList", .kind = GRPC_UNARY, .handle = capture },
	{ .path = "/etcdserverpb.Maintenance/Status", .kind = GRPC_UNARY, .handle = capture },
};

static void on_signal(struct loop *loop, int signo, void *data)
{
	(void)signo;
	(void)data;
	loop_stop(loop);
}

static struct tls_creds *load(const char *dir, const char *cert, const char *ca)
{
	char c[512], k[512], a[512], err[512];
	snprintf(c, sizeof(c), "%s/%s.pem", dir, cert ? cert : "");
	snprintf(k, sizeof(k), "%s/%s-key.pem", dir, cert ? cert : "");
	snprintf(a, sizeof(a), "%s/%s.pem", dir, ca ? ca : "");
	struct tls_files f = { cert ? c : NULL, cert ? k : NULL, ca ? a : NULL, NULL };
	struct tls_creds *creds;
	if (tls_creds_load(&f, &creds, err, sizeof(err)) < 0) {
		fprintf(stderr, "grpc_testd: %s\n", err);
		exit(1);
	}
	return creds;
}

int main(int argc, char **argv)
{
	struct loop loop;
	struct grpc_server *server;
	char err[256];
	struct grpc_config cfg = {
		.listen_host = "127.0.0.1",
		.methods = methods,
		.n_methods = sizeof(methods) / sizeof(methods[0]),
	};
	struct grpc_tls tls = { .client_cert_auth = true, .on_refused = on_refused };
	if (argc >= 2 && !strcmp(argv[1], "--quiet")) {
		quiet = true;
		argc--;
		argv++;
	}
	if (argc == 3 && !strcmp(argv[1], "--tls")) {
		tls.creds = load(argv[2], "n1", NULL);
		tls.client_trust = load(argv[2], NULL, "ca");
		cfg.tls = &tls;
	} else if (argc != 1) {
		fprintf(stderr, "usage: grpc_testd [--quiet] [--tls CERTDIR]\n");
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (loop_init(&loop, 256) < 0 || loop_watch_signals(&loop, &set, on_signal, NULL) < 0) {
		fprintf(stderr, "grpc_testd: cannot set up the loop\n");
		return 1;
	}
	if (grpc_start(&loop, &cfg, &server, err, sizeof(err)) < 0) {
		fprintf(stderr, "grpc_testd: %s\n", err);
		return 1;
	}
	tls_creds_unref(tls.creds);
	tls_creds_unref(tls.client_trust);
	printf("port %u\n", grpc_port(server));
	fflush(stdout);
	int rv = loop_run(&loop);
	grpc_stop(server);
	loop_fini(&loop);
	return rv < 0;
}
