/* src/raftctl/raftctl_lease.c — `raftctl lease grant | revoke | keep-alive |
 * list | ttl`: etcd's Lease service. IDs are printed and taken in hex, and
 * the lines are etcdctl's, so that scripts written for one read the other.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/grpc_client.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_session.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl lease grant TTL\n"
	      "       raftctl lease revoke ID\n"
	      "       raftctl lease keep-alive [--once] ID\n"
	      "       raftctl lease list\n"
	      "       raftctl lease ttl [--keys] ID     (also: timetolive)\n"
	      "\n"
	      "etcd's leases (v3 API): a key put with --lease ID is deleted when the\n"
	      "lease expires (no keep-alive for TTL seconds) or is revoked. IDs are\n"
	      "hex, as etcdctl prints them.\n"
	      "grant       a new lease of TTL seconds (the server may raise it to its\n"
	      "            minimum)\n"
	      "revoke      ends the lease now; its keys are deleted\n"
	      "keep-alive  renews the lease a third of its TTL after each renewal,\n"
	      "            printing each, until interrupted (exit 0) or the lease is\n"
	      "            gone (exit 1); --once: one renewal\n"
	      "list        every lease\n"
	      "ttl         its granted TTL and the seconds left; --keys: its keys\n",
	      out);
}

static int lease_call(const char *path, const ProtobufCMessage *req, uint8_t **resp, size_t *len)
{
	char err[2048];
	int status;
	struct rc_v3 v;
	int rv = rc_v3_open(NULL, &v, err, sizeof(err));
	if (rv == 0)
		rv = rc_v3_call(&v, path, req, false, resp, len, &status, err, sizeof(err));
	rc_v3_close(&v);
	return rv < 0 ? rc_v3_fail(NULL, rv, err) : 0;
}

static int id_arg(int argc, char **argv, int i, int64_t *id)
{
	if (argc - i != 1)
		return raftctl_usage_error("lease", "%s needs one lease ID", argv[0]);
	if (rc_v3_parse_lease(argv[i], id) < 0)
		return raftctl_usage_error("lease", "bad lease ID '%s' (hex, as lease grant prints it)", argv[i]);
	return 0;
}

static char *hex(int64_t id, char *buf)
{
	sprintf(buf, "%016" PRIx64, (uint64_t)id);
	return buf;
}

static int grant(int argc, char **argv)
{
	Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseGrantResponse *r;
	unsigned long long ttl;
	uint8_t *resp = NULL;
	size_t len = 0;
	char h[24];
	if (argc != 2 || raftctl_parse_u64(argv[1], &ttl) < 0 || ttl > INT64_MAX)
		return raftctl_usage_error("lease", "grant needs one TTL (seconds)");
	req.ttl = (int64_t)ttl;
	int rv = lease_call("/etcdserverpb.Lease/LeaseGrant", &req.base, &resp, &len);
	if (rv)
		return rv;
	r = etcdserverpb__lease_grant_response__unpack(NULL, len, resp);
	free(resp);
	if (!r)
		return raftctl_fail("lease", "a LeaseGrantResponse that does not parse");
	if (r->error && *r->error)
		rv = raftctl_fail("lease", "grant: %s", r->error);
	else if (raftctl_g.json)
		rv = rc_emit(json_pack("{s:s, s:I}", "id", hex(r->id, h), "ttl", (json_int_t)r->ttl));
	else
		rv = printf("lease %s granted with TTL(%" PRId64 "s)\n", hex(r->id, h), r->ttl) < 0 || fflush(stdout);
	etcdserverpb__lease_grant_response__free_unpacked(r, NULL);
	return rv;
}

static int lease_revoke(int argc, char **argv)
{
	Etcdserverpb__LeaseRevokeRequest req = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
	uint8_t *resp = NULL;
	size_t len = 0;
	char h[24];
	int rv = id_arg(argc, argv, 1, &req.id);
	if (rv)
		return rv;
	rv = lease_call("/etcdserverpb.Lease/LeaseRevoke", &req.base, &resp, &len);
	free(resp);
	if (rv)
		return rv;
	if (raftctl_g.json)
		return rc_emit(json_pack("{s:s, s:s}", "id", hex(req.id, h), "result", "revoked"));
	printf("lease %s revoked\n", hex(req.id, h));
	return fflush(stdout) ? 1 : 0;
}

static int print_ttl(int64_t id, int64_t ttl)
{
	char h[24];
	if (raftctl_g.json)
		return rc_emit(json_pack("{s:s, s:I}", "id", hex(id, h), "ttl", (json_int_t)ttl));
	printf("lease %s keepalived with TTL(%" PRId64 ")\n", hex(id, h), ttl);
	return fflush(stdout) ? 1 : 0;
}

static int keep_alive(int argc, char **argv)
{
	bool once = false;
	int64_t id;
	char err[2048];
	int i = 1, rv;
	struct rc_v3 v;
	struct grpcc_stream *st = NULL;

	if (argc > 1 && !strcmp(argv[1], "--once")) {
		once = true;
		i++;
	} else if (argc > 2 && !strcmp(argv[2], "--once")) {
		once = true;
		argv[2] = argv[1];
		i++;
	}
	if ((rv = id_arg(argc, argv, i, &id)))
		return rv;
	rv = rc_v3_open(NULL, &v, err, sizeof(err));
	if (rv < 0)
		return rc_v3_fail(NULL, rv, err);
	if ((rv = rc_signals_init(&v, false)) < 0) {
		rc_v3_close(&v);
		return raftctl_fail("lease", "signals: %s", strerror(-rv));
	}
	rv = grpcc_stream_open(v.c, "/etcdserverpb.Lease/LeaseKeepAlive", &st);
	int64_t next = 0; /* keep-alives: one now, then a third of the TTL after each answer */
	while (rv == 0) {
		Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
		uint8_t buf[32], *msg = NULL;
		size_t len = 0;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now >= next) {
			req.id = id;
			len = etcdserverpb__lease_keep_alive_request__pack(&req, buf);
			if ((rv = grpcc_stream_send(st, buf, len, raftctl_g.timeout_ms)) < 0)
				break;
			/* no answer: again in a second, until the TTL is out */
			next = now + (once ? raftctl_g.timeout_ms : 1000);
			continue;
		}
		rv = grpcc_stream_recv(st, &msg, &len, (int)(next - now));
		if (rv == -ETIMEDOUT) {
			if (once) {
				snprintf(err, sizeof(err), "%s: no answer within --timeout", v.url.base);
				rv = -EPROTO;
				break;
			}
			rv = 0;
			continue;
		}
		if (rv == -EINTR) {
			rv = rc_signals_take() ? 1 : 0;
			continue;
		}
		if (rv == 1) {
			char m[256];
			int s = grpcc_stream_status(st, m, sizeof(m));
			snprintf(err, sizeof(err), "%s: the server ended the keep-alives: %s: %s", v.url.base,
				 s >= 0 && s <= 16 ? rc_v3_status_names[s] : "status", m);
			rv = -EPROTO;
			break;
		}
		if (rv < 0)
			break;
		Etcdserverpb__LeaseKeepAliveResponse *r = etcdserverpb__lease_keep_alive_response__unpack(NULL, len, msg);
		free(msg);
		if (!r) {
			snprintf(err, sizeof(err), "%s: a LeaseKeepAliveResponse that does not parse", v.url.base);
			rv = -EPROTO;
			break;
		}
		int64_t ttl = r->ttl;
		etcdserverpb__lease_keep_alive_response__free_unpacked(r, NULL);
		if (ttl <= 0) {
			snprintf(err, sizeof(err), "lease %016" PRIx64 " expired or revoked", (uint64_t)id);
			rv = -EPROTO;
			break;
		}
		if ((rv = print_ttl(id, ttl)) != 0 || once) {
			rv = rv ? rv : 1;
			break;
		}
		next = now + ttl * 1000 / 3;
	}
	grpcc_stream_free(st);
	rc_v3_close(&v);
	if (rv == -EPROTO)
		return raftctl_fail("lease", "%s", err);
	if (rv < 0)
		return raftctl_fail("lease", "%s: keep-alive: %s", v.url.base, strerror(-rv));
	/* 1: interrupted, or --once done */
	return 0;
}

static int list(int argc, char **argv)
{
	Etcdserverpb__LeaseLeasesRequest req = ETCDSERVERPB__LEASE_LEASES_REQUEST__INIT;
	Etcdserverpb__LeaseLeasesResponse *r;
	uint8_t *resp = NULL;
	size_t len = 0;
	char h[24];
	(void)argv;
	if (argc != 1)
		return raftctl_usage_error("lease", "list takes no argument");
	int rv = lease_call("/etcdserverpb.Lease/LeaseLeases", &req.base, &resp, &len);
	if (rv)
		return rv;
	r = etcdserverpb__lease_leases_response__unpack(NULL, len, resp);
	free(resp);
	if (!r)
		return raftctl_fail("lease", "a LeaseLeasesResponse that does not parse");
	if (raftctl_g.json) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_leases; i++)
			json_array_append_new(a, json_string(hex(r->leases[i]->id, h)));
		rv = rc_emit(json_pack("{s:o}", "leases", a));
	} else {
		printf("found %zu leases\n", r->n_leases);
		for (size_t i = 0; i < r->n_leases; i++)
			printf("%s\n", hex(r->leases[i]->id, h));
		rv = fflush(stdout) ? 1 : 0;
	}
	etcdserverpb__lease_leases_response__free_unpacked(r, NULL);
	return rv;
}

static int ttl(int argc, char **argv)
{
	Etcdserverpb__LeaseTimeToLiveRequest req = ETCDSERVERPB__LEASE_TIME_TO_LIVE_REQUEST__INIT;
	Etcdserverpb__LeaseTimeToLiveResponse *r;
	uint8_t *resp = NULL;
	size_t len = 0;
	char h[24];
	int i = 1, rv;
	if (argc > 1 && !strcmp(argv[1], "--keys")) {
		req.keys = true;
		i++;
	} else if (argc > 2 && !strcmp(argv[2], "--keys")) {
		req.keys = true;
		argv[2] = argv[1];
		i++;
	}
	if ((rv = id_arg(argc, argv, i, &req.id)))
		return rv;
	rv = lease_call("/etcdserverpb.Lease/LeaseTimeToLive", &req.base, &resp, &len);
	if (rv)
		return rv;
	r = etcdserverpb__lease_time_to_live_response__unpack(NULL, len, resp);
	free(resp);
	if (!r)
		return raftctl_fail("lease", "a LeaseTimeToLiveResponse that does not parse");
	bool gone = r->grantedttl == 0 && r->ttl == -1;
	if (raftctl_g.json) {
		json_t *o = json_pack("{s:s, s:I, s:I}", "id", hex(req.id, h), "granted_ttl", (json_int_t)r->grantedttl,
				      "ttl", (json_int_t)r->ttl);
		if (o && req.keys) {
			json_t *a = json_array();
			for (size_t k = 0; k < r->n_keys; k++)
				json_array_append_new(a, rc_v3_bytes_json(r->keys[k]));
			json_object_set_new(o, "keys", a);
		}
		rv = rc_emit(o);
	} else if (gone) {
		printf("lease %s already expired\n", hex(req.id, h));
	} else {
		printf("lease %s granted with TTL(%" PRId64 "s), remaining(%" PRId64 "s)", hex(req.id, h), r->grantedttl,
		       r->ttl);
		if (req.keys) {
			fputs(", attached keys([", stdout);
			for (size_t k = 0; k < r->n_keys; k++) {
				if (k)
					putchar(' ');
				fwrite(r->keys[k].data, 1, r->keys[k].len, stdout);
			}
			fputs("])", stdout);
		}
		putchar('\n');
	}
	if (!raftctl_g.json)
		rv = fflush(stdout) ? 1 : 0;
	/* etcd answers an unknown lease with TTL -1: not an error there, but
	 * a script asking wants to know */
	if (rv == 0 && gone)
		rv = 1;
	etcdserverpb__lease_time_to_live_response__free_unpacked(r, NULL);
	return rv;
}

int raftctl_lease(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} subs[] = { { "grant", grant }, { "revoke", lease_revoke }, { "keep-alive", keep_alive },
		     { "keepalive", keep_alive }, { "list", list }, { "ttl", ttl }, { "timetolive", ttl } };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	}
	if (argc < 2)
		return raftctl_usage_error("lease", "needs a subcommand: grant, revoke, keep-alive, list or ttl");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	return raftctl_usage_error("lease", "unknown subcommand '%s'", argv[1]);
}
