/* tests/fault/hostile.c — a hostile peer for the fault suite (run.sh's
 * hvote, hae, hsnap, hflood, hslow and hbody faults): forged goraft RPCs
 * encoded with the project's own codec (proto/wire.h, proto/command.h,
 * src/kv/kv.h for a snapshot's State), connection floods and huge bodies.
 *
 *   fault-hostile rv HOST:PORT --term N --name NAME [--last-index N] [--last-term N]
 *       RequestVoteRequest; prints "rv term T granted 0|1"
 *   fault-hostile ae HOST:PORT --term N --leader NAME --prev-index N [--prev-term N]
 *       [--set KEY=VALUE]... [--probe]
 *       AppendEntriesRequest whose entries write each KEY=VALUE after
 *       PrevLogIndex, with CommitIndex covering them. --probe: on refusal,
 *       try again after the follower's reported last index, then with a
 *       lower PrevLogTerm, down to 0 (a stranger does not know the log's
 *       terms, but can guess them). Prints "ae term T index I commit C success 0|1".
 *   fault-hostile snap HOST:PORT --leader NAME --last-index N --last-term N
 *       [--member NAME=URL]... [--set KEY=VALUE]...
 *       SnapshotRequest, then SnapshotRecoveryRequest whose State is a
 *       snapshot holding only the KEY=VALUE pairs. Prints both answers.
 *   fault-hostile flood HOST:PORT --conns N --seconds S [--slowloris]
 *       N connections held S seconds: idle, or (--slowloris) each sending a
 *       request head one header line a second, never finishing it.
 *       Prints how many connected.
 *   fault-hostile body HOST:PORT --conns N --mib M [--seconds S]
 *       N connections each POSTing M MiB to /raft/appendEntries as fast as
 *       the node reads, for at most S seconds (default 30). Prints the bytes
 *       sent and the answers.
 *
 * Every command takes --from ADDR: connect from that local address (on
 * loopback, 127.0.0.2: a flood from another source than the clients, as a
 * limit per source address would see it).
 *
 * Exit 0 when the requests went out (whatever the node answered), 1 when
 * the node could not be reached, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/http_parse.h"
#include "proto/command.h"
#include "proto/wire.h"
#include "src/kv/kv.h"

#define MAX_SETS 16
#define MAX_MEMBERS 16
#define IO_TIMEOUT_S 5

static struct sockaddr_in target, source;
static bool have_source;
static char target_text[64];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_target(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(target_text))
		return -1;
	char host[64];
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &target.sin_addr) != 1)
		return -1;
	snprintf(target_text, sizeof(target_text), "%s", s);
	return 0;
}

/* A blocking connection with IO_TIMEOUT_S on every send and receive, or -1. */
static int dial(bool nonblock)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (have_source && bind(fd, (const struct sockaddr *)&source, sizeof(source)) < 0) {
		close(fd);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&target, sizeof(target)) < 0) {
		close(fd);
		return -1;
	}
	if (nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static bool send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Reads one response into body (up to cap), with the project's response
 * parser. Returns the HTTP status, or -1; a connection that ends once the
 * head is in still gives its status, as a refusal may close early. */
static int read_response(int fd, uint8_t *body, size_t cap, size_t *ret_len)
{
	static uint8_t buf[65536];
	size_t have = 0, used = 0;
	int status = -1;
	struct http_parser p;
	http_parser_init(&p, NULL);
	*ret_len = 0;
	for (;;) {
		struct http_event ev;
		long n = http_parse(&p, buf + used, have - used, &ev);
		if (n < 0)
			return -1;
		used += (size_t)n;
		if (ev.kind == HTTP_EV_HEAD) {
			status = p.status;
		} else if (ev.kind == HTTP_EV_BODY) {
			size_t take = ev.len < cap - *ret_len ? ev.len : cap - *ret_len;
			memcpy(body + *ret_len, ev.data, take);
			*ret_len += take;
		} else if (ev.kind == HTTP_EV_DONE) {
			return status;
		} else {
			memmove(buf, buf + used, have - used);
			have -= used;
			used = 0;
			if (have == sizeof(buf))
				return -1;
			ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r == 0 && http_parse_eof(&p, &ev) == 0 ? p.status : status;
			have += (size_t)r;
		}
	}
}

/* POST body to path; the response's body into resp. HTTP status, or -1. */
static int post(const char *path, const uint8_t *body, size_t len, uint8_t *resp, size_t cap, size_t *ret_len)
{
	int fd = dial(false);
	if (fd < 0)
		return -1;
	char head[512];
	int h = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/protobuf\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 path, target_text, len);
	int status = -1;
	*ret_len = 0;
	if (send_all(fd, head, (size_t)h) && send_all(fd, body, len))
		status = read_response(fd, resp, cap, ret_len);
	close(fd);
	return status;
}

static void usage(void)
{
	fprintf(stderr, "usage: fault-hostile rv|ae|snap|flood|body HOST:PORT [options] (see hostile.c)\n");
	exit(2);
}

struct opts {
	uint64_t term, last_index, last_term, prev_index, prev_term;
	bool have_term;
	const char *name, *leader;
	bool probe, slowloris;
	const char *sets[MAX_SETS];
	size_t n_sets;
	const char *members[MAX_MEMBERS];
	size_t n_members;
	long conns, seconds, mib;
};

static uint64_t num(const char *s)
{
	char *end;
	errno = 0;
	uint64_t v = strtoull(s, &end, 10);
	if (errno || *end || *s == '-')
		usage();
	return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--probe")) {
			o->probe = true;
			continue;
		}
		if (!strcmp(a, "--slowloris")) {
			o->slowloris = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--term")) {
			o->term = num(v);
			o->have_term = true;
		} else if (!strcmp(a, "--name")) {
			o->name = v;
		} else if (!strcmp(a, "--leader")) {
			o->leader = v;
		} else if (!strcmp(a, "--last-index")) {
			o->last_index = num(v);
		} else if (!strcmp(a, "--last-term")) {
			o->last_term = num(v);
		} else if (!strcmp(a, "--prev-index")) {
			o->prev_index = num(v);
		} else if (!strcmp(a, "--prev-term")) {
			o->prev_term = num(v);
		} else if (!strcmp(a, "--set") && o->n_sets < MAX_SETS && strchr(v, '=')) {
			o->sets[o->n_sets++] = v;
		} else if (!strcmp(a, "--member") && o->n_members < MAX_MEMBERS && strchr(v, '=')) {
			o->members[o->n_members++] = v;
		} else if (!strcmp(a, "--conns")) {
			o->conns = (long)num(v);
		} else if (!strcmp(a, "--seconds")) {
			o->seconds = (long)num(v);
		} else if (!strcmp(a, "--mib")) {
			o->mib = (long)num(v);
		} else if (!strcmp(a, "--from")) {
			source.sin_family = AF_INET;
			if (inet_pton(AF_INET, v, &source.sin_addr) != 1)
				usage();
			have_source = true;
		} else {
			usage();
		}
	}
}

static struct wire_bytes bytes_of(const char *s)
{
	return (struct wire_bytes){ (const uint8_t *)s, strlen(s) };
}

/* --- rv ------------------------------------------------------------------- */

static int do_rv(const struct opts *o)
{
	if (!o->have_term || !o->name)
		usage();
	struct wire_rv_req m = { o->term, o->last_index, o->last_term, bytes_of(o->name) };
	uint8_t buf[256], resp[256];
	long n = wire_encode(WIRE_RV_REQ, &m, buf, sizeof(buf));
	size_t rlen;
	if (n < 0)
		return 2;
	int st = post("/raft/requestVote", buf, (size_t)n, resp, sizeof(resp), &rlen);
	struct wire_rv_resp r;
	if (st == 200 && wire_decode(WIRE_RV_RESP, resp, rlen, &r, NULL) == 0)
		printf("rv term %" PRIu64 " granted %d\n", r.term, r.vote_granted);
	else
		printf("rv HTTP %d\n", st);
	return st < 0;
}

/* --- ae ------------------------------------------------------------------- */

/* The write commands of --set, encoded as LogEntries from index first. */
static size_t encode_entries(const struct opts *o, uint64_t first, uint64_t term, uint8_t *buf, size_t cap,
			     struct wire_bytes *ret)
{
	size_t used = 0;
	for (size_t i = 0; i < o->n_sets; i++) {
		const char *eq = strchr(o->sets[i], '=');
		struct cmd c = { .type = CMD_WRITE,
				 .key = cmd_str_ref(o->sets[i], (size_t)(eq - o->sets[i])),
				 .value = cmd_str_ref(eq + 1, strlen(eq + 1)) };
		long n = cmd_entry_encode(first + i, term, &c, buf + used, cap - used);
		if (n < 0)
			usage();
		ret[i] = (struct wire_bytes){ buf + used, (size_t)n };
		used += (size_t)n;
	}
	return o->n_sets;
}

static int do_ae(const struct opts *o)
{
	if (!o->have_term || !o->leader)
		usage();
	uint64_t prev = o->prev_index, pterm = o->prev_term;
	int tries = o->probe ? 24 : 1, st = -1;
	for (int t = 0; t < tries; t++) {
		static uint8_t ebuf[65536], buf[131072];
		struct wire_bytes ents[MAX_SETS];
		size_t n = encode_entries(o, prev + 1, o->term, ebuf, sizeof(ebuf), ents);
		struct wire_ae_req m = { .term = o->term,
					 .prev_log_index = prev,
					 .prev_log_term = pterm,
					 .commit_index = prev + n,
					 .leader_name = bytes_of(o->leader),
					 .entries = { n, ents } };
		long len = wire_encode(WIRE_AE_REQ, &m, buf, sizeof(buf));
		if (len < 0)
			return 2;
		uint8_t resp[256];
		size_t rlen;
		struct wire_ae_resp r;
		st = post("/raft/appendEntries", buf, (size_t)len, resp, sizeof(resp), &rlen);
		if (st != 200 || wire_decode(WIRE_AE_RESP, resp, rlen, &r, NULL) != 0) {
			printf("ae prev %" PRIu64 "/%" PRIu64 ": HTTP %d\n", prev, pterm, st);
			if (st < 0)
				break;
			continue;
		}
		printf("ae prev %" PRIu64 "/%" PRIu64 ": term %" PRIu64 " index %" PRIu64 " commit %" PRIu64
		       " success %d\n",
		       prev, pterm, r.term, r.index, r.commit_index, r.success);
		/* success with a longer log: our entries fell on committed ones
		 * and were skipped; aim after its end */
		if (r.success && r.index == prev + n)
			break;
		/* guess again: right after the follower's last entry (a
		 * committed entry is not overwritten; once it has our term, the
		 * real leader's appends stop), then one term lower */
		if (r.index != prev) {
			prev = r.index;
			pterm = o->prev_term;
		} else if (pterm > 0) {
			pterm--;
		} else {
			break;
		}
	}
	return st < 0;
}

/* --- snap ----------------------------------------------------------------- */

static int do_snap(const struct opts *o)
{
	if (!o->leader)
		usage();
	int rc = 1;
	struct kv *kv = kv_new();
	struct kv_member mem[MAX_MEMBERS] = { 0 }; /* voters: learner false */
	struct wire_peer peers[MAX_MEMBERS];
	struct wire_bytes peer_enc[MAX_MEMBERS];
	static uint8_t pbuf[MAX_MEMBERS][1024];
	uint8_t *state = NULL, *req = NULL;
	size_t state_len = 0;
	if (!kv)
		goto out;
	for (size_t i = 0; i < o->n_sets; i++) {
		const char *eq = strchr(o->sets[i], '=');
		if (kv_put(kv, o->sets[i], (size_t)(eq - o->sets[i]), eq + 1, strlen(eq + 1)) < 0)
			goto out;
	}
	for (size_t i = 0; i < o->n_members; i++) {
		const char *eq = strchr(o->members[i], '=');
		mem[i].name = cmd_str_ref(o->members[i], (size_t)(eq - o->members[i]));
		mem[i].connection_string = cmd_str_ref(eq + 1, strlen(eq + 1));
		peers[i].name = (struct wire_bytes){ (const uint8_t *)o->members[i], mem[i].name.len };
		peers[i].connection_string = bytes_of(eq + 1);
		long n = wire_encode(WIRE_SNAPREC_PEER, &peers[i], pbuf[i], sizeof(pbuf[i]));
		if (n < 0)
			goto out;
		peer_enc[i] = (struct wire_bytes){ pbuf[i], (size_t)n };
	}
	kv_set_applied_index(kv, o->last_index);
	struct kv_snapshot_meta meta = { o->last_index, o->last_term, o->n_members, mem };
	if (kv_snapshot_encode(kv, &meta, &state, &state_len) < 0)
		goto out;

	uint8_t buf[1024], resp[256];
	size_t rlen;
	struct wire_snap_req sr = { bytes_of(o->leader), o->last_index, o->last_term };
	long n = wire_encode(WIRE_SNAP_REQ, &sr, buf, sizeof(buf));
	if (n < 0)
		goto out;
	int st = post("/raft/snapshot", buf, (size_t)n, resp, sizeof(resp), &rlen);
	struct wire_snap_resp r1;
	if (st == 200 && wire_decode(WIRE_SNAP_RESP, resp, rlen, &r1, NULL) == 0)
		printf("snapshot success %d\n", r1.success);
	else
		printf("snapshot HTTP %d\n", st);

	struct wire_snaprec_req rr = { .leader_name = bytes_of(o->leader),
				       .last_index = o->last_index,
				       .last_term = o->last_term,
				       .peers = { o->n_members, peer_enc },
				       .state = { state, state_len } };
	size_t cap = wire_encoded_size(WIRE_SNAPREC_REQ, &rr);
	req = malloc(cap);
	if (!req || wire_encode(WIRE_SNAPREC_REQ, &rr, req, cap) < 0)
		goto out;
	int st2 = post("/raft/snapshotRecovery", req, cap, resp, sizeof(resp), &rlen);
	struct wire_snaprec_resp r2;
	if (st2 == 200 && wire_decode(WIRE_SNAPREC_RESP, resp, rlen, &r2, NULL) == 0)
		printf("snapshotRecovery term %" PRIu64 " success %d commit %" PRIu64 "\n", r2.term, r2.success,
		       r2.commit_index);
	else
		printf("snapshotRecovery HTTP %d\n", st2);
	rc = st < 0 && st2 < 0;
out:
	free(req);
	free(state);
	kv_free(kv);
	return rc;
}

/* --- flood ---------------------------------------------------------------- */

static void raise_nofile(long want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)want + 64 ? rl.rlim_max : (rlim_t)want + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int do_flood(const struct opts *o)
{
	if (o->conns <= 0 || o->seconds <= 0)
		usage();
	raise_nofile(o->conns);
	int *fds = calloc((size_t)o->conns, sizeof(int));
	if (!fds)
		return 1;
	long up = 0;
	int64_t end = now_ms() + o->seconds * 1000;
	for (long i = 0; i < o->conns && now_ms() < end; i++) {
		fds[i] = dial(true);
		if (fds[i] >= 0) {
			up++;
			if (o->slowloris) {
				char l[128];
				int n = snprintf(l, sizeof(l), "POST /db/slowloris%ld HTTP/1.1\r\nHost: %s\r\n", i,
						 target_text);
				(void)!send(fds[i], l, (size_t)n, MSG_NOSIGNAL);
			}
		}
	}
	printf("flood: %ld of %ld connections open%s\n", up, o->conns, o->slowloris ? " (slowloris)" : "");
	fflush(stdout);
	/* a header line a second on each: a deadline on idleness alone never
	 * fires */
	for (long k = 0; now_ms() < end; k++) {
		for (long i = 0; o->slowloris && i < o->conns; i++) {
			if (fds[i] < 0)
				continue;
			char l[64];
			int n = snprintf(l, sizeof(l), "X-Slow-%ld: %ld\r\n", k, i);
			if (send(fds[i], l, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
				close(fds[i]);
				fds[i] = -1;
				up--;
			}
		}
		usleep(1000000);
	}
	printf("flood: %ld connections still open at the end\n", up);
	for (long i = 0; i < o->conns; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}

/* --- body ----------------------------------------------------------------- */

static int do_body(const struct opts *o)
{
	if (o->conns <= 0 || o->mib <= 0)
		usage();
	long secs = o->seconds > 0 ? o->seconds : 30;
	int64_t end = now_ms() + secs * 1000;
	size_t total = (size_t)o->mib << 20;
	int *fds = calloc((size_t)o->conns, sizeof(int));
	size_t *sent = calloc((size_t)o->conns, sizeof(size_t));
	static uint8_t chunk[1 << 16];
	int rc = 1;
	if (!fds || !sent)
		goto out;
	/* field 1 (Term), varint 0x7f repeated: a well-formed start, and bytes
	 * a streaming decoder cannot reject early */
	for (size_t i = 0; i < sizeof(chunk); i += 2) {
		chunk[i] = 0x08;
		chunk[i + 1] = 0x7f;
	}
	for (long i = 0; i < o->conns; i++) {
		fds[i] = dial(true);
		if (fds[i] < 0)
			continue;
		char head[256];
		int h = snprintf(head, sizeof(head),
				 "POST /raft/appendEntries HTTP/1.1\r\nHost: %s\r\n"
				 "Content-Type: application/protobuf\r\nContent-Length: %zu\r\n\r\n",
				 target_text, total);
		(void)!send(fds[i], head, (size_t)h, MSG_NOSIGNAL);
	}
	size_t done = 0;
	for (;;) {
		struct pollfd p[64];
		long idx[64], np = 0;
		for (long i = 0; i < o->conns && np < 64; i++) {
			if (fds[i] < 0 || sent[i] >= total)
				continue;
			p[np] = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
			idx[np++] = i;
		}
		if (!np || now_ms() >= end)
			break;
		if (poll(p, (nfds_t)np, 200) < 0 && errno != EINTR)
			break;
		for (long k = 0; k < np; k++) {
			long i = idx[k];
			if (p[k].revents & (POLLERR | POLLHUP)) {
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			if (!(p[k].revents & POLLOUT))
				continue;
			size_t want = total - sent[i] < sizeof(chunk) ? total - sent[i] : sizeof(chunk);
			ssize_t w = send(fds[i], chunk, want, MSG_NOSIGNAL);
			if (w > 0) {
				sent[i] += (size_t)w;
				done += (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	printf("body: %zu MiB sent on %ld connections\n", done >> 20, o->conns);
	for (long i = 0; i < o->conns; i++) {
		if (fds[i] < 0)
			continue;
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) & ~O_NONBLOCK);
		uint8_t resp[256];
		size_t rlen;
		int st = sent[i] >= total ? read_response(fds[i], resp, sizeof(resp), &rlen) : -1;
		printf("body: connection %ld: %zu MiB sent, HTTP %d\n", i, sent[i] >> 20, st);
		close(fds[i]);
	}
	rc = 0;
out:
	free(fds);
	free(sent);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3 || parse_target(argv[2]) < 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	struct opts o = { 0 };
	parse_opts(argc - 3, argv + 3, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "rv"))
		return do_rv(&o);
	if (!strcmp(argv[1], "ae"))
		return do_ae(&o);
	if (!strcmp(argv[1], "snap"))
		return do_snap(&o);
	if (!strcmp(argv[1], "flood"))
		return do_flood(&o);
	if (!strcmp(argv[1], "body"))
		return do_body(&o);
	usage();
	return 2;
}
