/* src/raftctl/raftctl_watch.c — `raftctl watch KEY`: etcd's Watch, one line
 * per event as it comes, until interrupted or the server cancels.
 *
 * A connection that breaks is opened again (any gRPC endpoint) and the
 * watch goes on from the revision after the last one printed, as etcd's
 * clients do: no event is printed twice or skipped.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/grpc_client.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_session.h"

static void usage(FILE *out)
{
	fputs("usage: raftctl watch [--prefix] [--rev N] [--prev-kv] [-v] KEY\n"
	      "\n"
	      "Prints every change of KEY (etcd's Watch), one line per event as it\n"
	      "comes, until interrupted (exit 0) or the server cancels the watch\n"
	      "(exit 1, and why):\n"
	      "  PUT KEY VALUE\n"
	      "  DELETE KEY\n"
	      "--prefix   every key that starts with KEY (\"\": all)\n"
	      "--rev N    from revision N on (history first; a compacted N is an\n"
	      "           error naming the oldest revision left); default: from now\n"
	      "--prev-kv  the value before each event too: \"PUT KEY VALUE (was OLD)\",\n"
	      "           \"DELETE KEY (was OLD)\"\n"
	      "-v         each line starts with the event's revision\n"
	      "-o json    one JSON object a line: type, key, value, revisions, lease,\n"
	      "           prev_kv\n"
	      "A broken connection is opened again and the watch goes on after the\n"
	      "last revision printed.\n",
	      out);
}

static json_t *kv_json(const Mvccpb__KeyValue *kv, bool value)
{
	char lease[24];
	snprintf(lease, sizeof(lease), "%016" PRIx64, (uint64_t)kv->lease);
	json_t *o = json_pack("{s:o, s:I, s:I, s:I}", "key", rc_v3_bytes_json(kv->key), "create_revision",
			      (json_int_t)kv->create_revision, "mod_revision", (json_int_t)kv->mod_revision, "version",
			      (json_int_t)kv->version);
	if (o && value)
		json_object_set_new(o, "value", rc_v3_bytes_json(kv->value));
	if (o && kv->lease)
		json_object_set_new(o, "lease", json_string(lease));
	return o;
}

static int print_event(const Mvccpb__Event *ev, bool verbose)
{
	const Mvccpb__KeyValue *kv = ev->kv;
	bool put = ev->type == MVCCPB__EVENT__EVENT_TYPE__PUT;
	if (!kv)
		return 0;
	if (raftctl_g.json) {
		json_t *o = json_pack("{s:s}", "type", put ? "PUT" : "DELETE"), *k = kv_json(kv, put);
		if (o && k && json_object_update(o, k) == 0 && ev->prev_kv)
			json_object_set_new(o, "prev_kv", kv_json(ev->prev_kv, true));
		json_decref(k);
		/* one object a line, for line readers (the revision of a
		 * delete is its mod_revision) */
		char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!line)
			return 1;
		puts(line);
		free(line);
		return fflush(stdout) ? 1 : 0;
	}
	if (verbose)
		printf("%" PRId64 " ", kv->mod_revision);
	fputs(put ? "PUT " : "DELETE ", stdout);
	fwrite(kv->key.data, 1, kv->key.len, stdout);
	if (put) {
		putchar(' ');
		fwrite(kv->value.data, 1, kv->value.len, stdout);
	}
	if (ev->prev_kv) {
		fputs(" (was ", stdout);
		fwrite(ev->prev_kv->value.data, 1, ev->prev_kv->value.len, stdout);
		putchar(')');
	}
	putchar('\n');
	return fflush(stdout) ? 1 : 0;
}

struct watch_args {
	const char *key;
	bool prefix, prev_kv, verbose;
	int64_t rev;
};

/* One watch on one connection: 0 interrupted, 1 the server cancelled
 * (said why), -EAGAIN the connection broke (err: why), other failures as
 * the exit status (> 0) after saying why. *next: the revision to go on
 * from. */
static int watch_once(struct rc_v3 *v, const struct watch_args *a, int64_t *next, char *err, size_t err_len)
{
	uint8_t *end = malloc(strlen(a->key) + 2);
	struct grpcc_stream *st = NULL;
	ProtobufCBinaryData k = { strlen(a->key), (uint8_t *)a->key }, e = { 0, NULL };
	int rv;

	if (!end)
		return raftctl_fail("watch", "out of memory");
	if (a->prefix) {
		if (!*a->key)
			k = (ProtobufCBinaryData){ 1, (uint8_t *)"" };
		e = rc_v3_prefix_end(a->key, end);
	}
	rv = rc_watch_open(v, k, e, *next, a->prev_kv, &st, err, err_len);
	if (rv < 0) {
		rv = -EAGAIN;
		goto out;
	}
	for (;;) {
		Etcdserverpb__WatchResponse *wr = NULL;
		rv = rc_watch_next(st, 1000000, &wr, err, err_len);
		if (rv == -ETIMEDOUT)
			continue;
		if (rv == -EINTR) {
			if (rc_signals_take() != 0) {
				rv = 0;
				break;
			}
			continue;
		}
		if (rv == -EPIPE) {
			/* the server ended the call: a member stopping says
			 * UNAVAILABLE; anything else is its verdict */
			if (strstr(err, "UNAVAILABLE")) {
				rv = -EAGAIN;
				break;
			}
			rv = raftctl_fail("watch", "%s: %s", v->url.base, err);
			break;
		}
		if (rv < 0) {
			rv = rv == -EBADMSG ? raftctl_fail("watch", "%s: %s", v->url.base, err) : -EAGAIN;
			break;
		}
		if (wr->canceled) {
			if (wr->compact_revision)
				rv = raftctl_fail("watch",
						  "revision %" PRId64 " is compacted: the history starts at revision %" PRId64
						  " (watch from --rev %" PRId64 " or later)",
						  *next, wr->compact_revision, wr->compact_revision);
			else
				rv = raftctl_fail("watch", "%s: the server cancelled the watch: %s", v->url.base,
						  wr->cancel_reason && *wr->cancel_reason ? wr->cancel_reason : "(no reason given)");
			etcdserverpb__watch_response__free_unpacked(wr, NULL);
			break;
		}
		if (*next == 0 && wr->header)
			*next = wr->header->revision + 1; /* from now: what follows its creation */
		rv = 0;
		for (size_t i = 0; i < wr->n_events && rv == 0; i++) {
			rv = print_event(wr->events[i], a->verbose);
			if (wr->events[i]->kv && wr->events[i]->kv->mod_revision >= *next)
				*next = wr->events[i]->kv->mod_revision + 1;
		}
		etcdserverpb__watch_response__free_unpacked(wr, NULL);
		if (rv)
			break;
	}
out:
	grpcc_stream_free(st);
	free(end);
	return rv;
}

int raftctl_watch(int argc, char **argv)
{
	static const struct option opts[] = { { "prefix", no_argument, NULL, 'p' },
					      { "rev", required_argument, NULL, 'r' },
					      { "prev-kv", no_argument, NULL, 'P' },
					      { "verbose", no_argument, NULL, 'v' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct watch_args a = { 0 };
	unsigned long long num;
	char err[2048], why[2048];
	int c, rv;

	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': a.prefix = true; break;
		case 'P': a.prev_kv = true; break;
		case 'v': a.verbose = true; break;
		case 'r':
			if (raftctl_parse_u64(optarg, &num) < 0 || num == 0 || num > INT64_MAX)
				return raftctl_usage_error("watch", "bad --rev '%s' (a positive revision)", optarg);
			a.rev = (int64_t)num;
			break;
		case 'h': usage(stdout); return 0;
		default: return raftctl_usage_error("watch", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return raftctl_usage_error("watch", "needs one KEY");
	a.key = argv[optind];
	if (!*a.key && !a.prefix)
		return raftctl_usage_error("watch", "bad key (\"\" only with --prefix)");

	int64_t next = a.rev;
	/* a broken connection: again (any endpoint) for as long as one
	 * connects within a minute; the first must connect at once */
	time_t give_up = 0;
	bool connected = false;
	for (;;) {
		struct rc_v3 v;
		rv = rc_v3_open(NULL, &v, err, sizeof(err));
		if (rv < 0 && (rv == -EINVAL || !connected))
			return rc_v3_fail("watch", rv, err);
		if (rv == 0) {
			connected = true;
			give_up = 0;
			if ((rv = rc_signals_init(&v, false)) < 0)
				snprintf(err, sizeof(err), "signals: %s", strerror(-rv));
		}
		if (rv == 0) {
			rv = watch_once(&v, &a, &next, why, sizeof(why));
			if (rv == -EAGAIN)
				snprintf(err, sizeof(err), "%s", why);
		}
		rc_v3_close(&v);
		if (rv >= 0)
			return rv;
		if (rc_signals_take())
			return 0;
		if (!give_up)
			give_up = time(NULL) + 60;
		if (time(NULL) >= give_up)
			return raftctl_fail("watch", "%s", err);
		usleep(200 * 1000);
	}
}
