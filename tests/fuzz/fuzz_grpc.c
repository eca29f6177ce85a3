/* tests/fuzz/fuzz_grpc.c — libFuzzer target for the gRPC server's front
 * end (net/grpc.c): the input is everything a client sends on one
 * connection (the HTTP/2 preface, frames, HPACK, gRPC messages), written
 * into a socketpair the server adopts, on the real loop; the end of the
 * input is the end of the client's sending.
 *
 * Methods: an echo, a streaming echo, one that holds its call (answered
 * when the next input starts, or cancelled by a reset, a deadline or the
 * close), and one that answers asynchronously.
 *
 * Properties: no crash, UB or leak; after the client's end of input and a
 * closed reading side the server closes the connection within a bounded
 * number of loop passes; a held call is cancelled exactly when its
 * connection goes; the server keeps serving the next input.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "net/grpc.h"
#include "tests/fuzz/fuzz.h"

static struct loop loop;
static struct grpc_server *server;
static struct grpc_call *held;
static uint8_t sink[65536];

static void h_echo(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	grpc_reply(call, msg, len);
}

static void h_stream(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	/* a refusal (-ENOBUFS) is the budget at work: end the call */
	if (grpc_send(call, msg, len) < 0)
		grpc_finish(call, GRPC_RESOURCE_EXHAUSTED, "slow down");
}

static void h_stream_end(struct grpc_call *call)
{
	grpc_finish(call, GRPC_OK, NULL);
}

static void h_hold(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	(void)msg;
	(void)len;
	if (held)
		grpc_finish(held, GRPC_ABORTED, "replaced");
	held = call;
}

static void on_cancel(struct grpc_call *call)
{
	CHECK(call == held);
	held = NULL;
}

static const struct grpc_method methods[] = {
	{ .path = "/a.B/Echo", .kind = GRPC_UNARY, .handle = h_echo },
	{ .path = "/a.B/Stream", .kind = GRPC_STREAMING, .handle = h_stream, .on_half_close = h_stream_end },
	{ .path = "/a.B/Hold", .kind = GRPC_UNARY, .handle = h_hold, .on_cancel = on_cancel },
};

static void setup(void)
{
	char err[256];
	struct grpc_config cfg = {
		.no_listen = true,
		.methods = methods,
		.n_methods = sizeof(methods) / sizeof(methods[0]),
		/* small limits, so that inputs reach them */
		.max_streams = 8,
		.max_recv_msg = 4096,
		.call_out_budget = 8192,
		.conn_out_budget = 16384,
		.conn_in_budget = 16384,
		.max_header_bytes = 2048,
	};
	if (loop_init(&loop, 64) < 0 || grpc_start(&loop, &cfg, &server, err, sizeof(err)) < 0)
		abort();
}

static void drain(int fd)
{
	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!server)
		setup();
	if (size > 65536)
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	int sz = 262144;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(sv[1], data + off, size - off);
		if (n <= 0)
			break; /* what does not fit is not sent */
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	CHECK(grpc_adopt(server, sv[0]) == 0);
	/* the client reads what the server answers, then stops: the server
	 * sees the end of its input and must close */
	for (int i = 0; i < 200 && grpc_stats(server)->conns_open; i++) {
		CHECK(loop_run_once(&loop, i < 100 ? 0 : 1) >= 0);
		drain(sv[1]);
	}
	CHECK(grpc_stats(server)->conns_open == 0);
	CHECK(held == NULL);
	close(sv[1]);
	/* the zombies' polls end */
	for (int i = 0; i < 4; i++)
		loop_run_once(&loop, 0);
	return 0;
}
