/* tests/net/grpc_testd.c — net/grpc.c serving on its own, for real gRPC
 * clients (tests/net/grpc-clients.sh): grpcio calls /test.Echo/Unary, and
 * etcdctl talks to stand-ins of etcd's methods, which print the request
 * bytes they get ("CAPTURE <path> <hex>") and answer with empty responses
 * (every field at its default), so that the wire bytes a real client sends
 * can be held against protobuf-c's.
 *
 * Prints "port N" once listening on 127.0.0.1 (any free port); runs until
 * SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/loop.h"
#include "net/grpc.h"

static void echo(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	grpc_reply(call, msg, len);
}

static void capture(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	printf("CAPTURE %s ", grpc_call_method(call)->path);
	for (size_t i = 0; i < len; i++)
		printf("%02x", msg[i]);
	printf("\n");
	fflush(stdout);
	grpc_reply(call, NULL, 0);
}

static const struct grpc_method methods[] = {
	{ .path = "/test.Echo/Unary", .kind = GRPC_UNARY, .handle = echo },
	{ .path = "/etcdserverpb.KV/Range", .kind = GRPC_UNARY, .handle = capture },
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

int main(void)
{
	struct loop loop;
	struct grpc_server *server;
	char err[256];
	struct grpc_config cfg = {
		.listen_host = "127.0.0.1",
		.methods = methods,
		.n_methods = sizeof(methods) / sizeof(methods[0]),
	};
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
	printf("port %u\n", grpc_port(server));
	fflush(stdout);
	int rv = loop_run(&loop);
	grpc_stop(server);
	loop_fini(&loop);
	return rv < 0;
}
