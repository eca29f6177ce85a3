/* src/raftctl/raftctl_lock.c — `raftctl lock NAME -- COMMAND` and `raftctl
 * elect NAME PROPOSAL | --listen`: etcd's clientv3/concurrency recipes
 * (Mutex, Election) step by step, so that raftctl and etcdctl (and every
 * etcd client library's lock) exclude each other:
 *
 *  - a session: a lease kept alive while the command runs; each
 *    contender's key is NAME/<lease ID in hex>, attached to it, so a
 *    contender that dies lets go within its TTL;
 *  - the key is created in a Txn only if absent (create_revision 0);
 *  - the holder is the key of NAME/ with the lowest create revision: a
 *    contender waits for the deletion of the key created last before its
 *    own (a watch), again until none is left (etcd's waitDeletes), so each
 *    waits on one key and a release wakes one contender;
 *  - an election's leader proclaims in the key's value.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/grpc_client.h"
#include "src/raftctl/raftctl.h"
#include "src/raftctl/raftctl_client.h"
#include "src/raftctl/raftctl_cmds.h"
#include "src/raftctl/raftctl_session.h"

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
}

/* KV.Txn with one compare; 0 with *ret, or -errno with err */
static int txn(struct rc_v3 *v, Etcdserverpb__Compare *cmp, Etcdserverpb__RequestOp **ok, size_t n_ok,
	       Etcdserverpb__RequestOp **fail, size_t n_fail, Etcdserverpb__TxnResponse **ret, char *err, size_t err_len)
{
	Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
	uint8_t *resp = NULL;
	size_t len = 0;
	int status;
	req.n_compare = 1;
	req.compare = &cmp;
	req.n_success = n_ok;
	req.success = ok;
	req.n_failure = n_fail;
	req.failure = fail;
	*ret = NULL;
	int rv = rc_v3_call(v, "/etcdserverpb.KV/Txn", &req.base, false, &resp, &len, &status, err, err_len);
	if (rv == 0 && !(*ret = etcdserverpb__txn_response__unpack(NULL, len, resp))) {
		snprintf(err, err_len, "%s: a TxnResponse that does not parse", v->url.base);
		rv = -EBADMSG;
	}
	free(resp);
	return rv;
}

/* compare: key's create_revision == rev (0: the key is absent) */
static void create_is(Etcdserverpb__Compare *cmp, const char *key, int64_t rev)
{
	cmp->key = bin(key);
	cmp->result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
	cmp->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
	cmp->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
	cmp->create_revision = rev;
}

static const Mvccpb__KeyValue *range_kv(const Etcdserverpb__TxnResponse *tr, size_t i)
{
	if (i >= tr->n_responses || tr->responses[i]->response_case != ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE ||
	    !tr->responses[i]->response_range->n_kvs)
		return NULL;
	return tr->responses[i]->response_range->kvs[0];
}

static int delete_key(struct rc_v3 *v, const char *key)
{
	Etcdserverpb__DeleteRangeRequest req = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	uint8_t *resp = NULL;
	size_t len;
	int status;
	char err[512];
	req.key = bin(key);
	int rv = rc_v3_call(v, "/etcdserverpb.KV/DeleteRange", &req.base, false, &resp, &len, &status, err, sizeof(err));
	free(resp);
	return rv;
}

/* --- lock ------------------------------------------------------------------- */

static void lock_usage(FILE *out)
{
	fputs("usage: raftctl lock [--ttl N] NAME [--] [COMMAND [ARGS...]]\n"
	      "\n"
	      "Takes the lock NAME (etcd's concurrency Mutex: raftctl and etcdctl\n"
	      "lock exclude each other), runs COMMAND while holding it, releases it\n"
	      "when COMMAND ends and exits with COMMAND's status. COMMAND gets\n"
	      "ETCD_LOCK_KEY and ETCD_LOCK_REV in its environment, as etcdctl's.\n"
	      "Without COMMAND: prints the lock's key and holds it until interrupted.\n"
	      "The lock is held through a lease of N seconds (default 10) kept alive\n"
	      "meanwhile: if raftctl dies, the lock goes N seconds later. If the lease\n"
	      "is lost anyway (no cluster for N seconds), COMMAND gets SIGTERM and\n"
	      "raftctl exits 1. Put \"--\" before a COMMAND that has options.\n",
	      out);
}

/* Runs argv with the lock's environment, keeping the session alive until
 * it exits: its exit status (128 + the signal that killed it), or the
 * failure's. SIGINT and SIGTERM are passed on to it. */
static int run_locked(struct rc_session *s, char **argv, const char *key, int64_t rev)
{
	char revs[32], err[1024];
	snprintf(revs, sizeof(revs), "%" PRId64, rev);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return raftctl_fail("lock", "fork: %s", strerror(errno));
	if (pid == 0) {
		setenv("ETCD_LOCK_KEY", key, 1);
		setenv("ETCD_LOCK_REV", revs, 1);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "raftctl lock: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	bool lost = false;
	for (;;) {
		int status;
		pid_t w = waitpid(pid, &status, lost ? 0 : WNOHANG);
		if (w == pid) {
			if (lost)
				return raftctl_fail("lock", "%s: the lock was lost while %s ran: %s", key, argv[0], err);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (w < 0 && errno != EINTR)
			return raftctl_fail("lock", "waitpid: %s", strerror(errno));
		if (lost)
			continue;
		int sig = rc_session_hold(s, err, sizeof(err));
		if (sig == -ESTALE) {
			/* no longer exclusive: the command must not go on as if it were */
			lost = true;
			kill(pid, SIGTERM);
		} else if (sig == SIGTERM) {
			/* (a terminal's SIGINT reaches the command itself) */
			kill(pid, sig);
		}
	}
}

/* etcd's Mutex.Lock: 0 with the key (free it) and the revision the lock
 * was taken at (ETCD_LOCK_REV); -EINTR (interrupted); -errno with err. The
 * key is gone again on failure. */
static int mutex_lock(struct rc_session *s, const char *name, char **ret_key, int64_t *ret_rev, char *err,
		      size_t err_len)
{
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__RangeRequest get = ETCDSERVERPB__RANGE_REQUEST__INIT, owner = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RequestOp op_put = ETCDSERVERPB__REQUEST_OP__INIT, op_get = ETCDSERVERPB__REQUEST_OP__INIT,
				op_owner = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__RequestOp *ok[2] = { &op_put, &op_owner }, *fail[2] = { &op_get, &op_owner };
	Etcdserverpb__TxnResponse *tr = NULL;
	size_t plen = strlen(name) + 1;
	char *pfx = malloc(plen + 1), *key = malloc(plen + 17);
	uint8_t *end = malloc(plen + 1);
	int sig, rv = -ENOMEM;

	*ret_key = NULL;
	if (!pfx || !key || !end) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	snprintf(pfx, plen + 1, "%s/", name);
	snprintf(key, plen + 17, "%s%" PRIx64, pfx, (uint64_t)s->id);
	create_is(&cmp, key, 0);
	put.key = bin(key);
	put.lease = s->id;
	op_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op_put.request_put = &put;
	get.key = bin(key);
	op_get.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	op_get.request_range = &get;
	/* clientv3's WithFirstCreate(): the holder */
	owner.key = bin(pfx);
	owner.range_end = rc_v3_prefix_end(pfx, end);
	owner.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__CREATE;
	owner.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__ASCEND;
	owner.limit = 1;
	op_owner.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	op_owner.request_range = &owner;
	rv = txn(s->v, &cmp, ok, 2, fail, 2, &tr, err, err_len);
	if (rv < 0)
		goto out;
	int64_t rev = tr->header ? tr->header->revision : 0, my = rev;
	const Mvccpb__KeyValue *mine = range_kv(tr, 0), *holder = range_kv(tr, 1);
	if (!tr->succeeded)
		my = mine ? mine->create_revision : 0;
	if (holder && holder->create_revision != my) {
		rv = rc_wait_deletes(s, pfx, my - 1, &rev, &sig, err, err_len);
	}
	if (rv < 0) {
		delete_key(s->v, key);
		goto out;
	}
	*ret_key = key;
	key = NULL;
	*ret_rev = rev;
out:
	etcdserverpb__txn_response__free_unpacked(tr, NULL);
	free(pfx);
	free(key);
	free(end);
	return rv;
}

static int print_key(const char *key, int64_t rev)
{
	if (raftctl_g.json)
		return rc_emit(json_pack("{s:s, s:I}", "key", key, "revision", (json_int_t)rev));
	printf("%s\n", key);
	return fflush(stdout) ? 1 : 0;
}

int raftctl_lock(int argc, char **argv)
{
	static const struct option opts[] = { { "ttl", required_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	unsigned long long num;
	int64_t ttl = 10, rev = 0;
	char err[2048], *key = NULL;
	struct rc_session s = { 0 };
	struct rc_v3 v = { 0 };
	int c, rv;

	optind = 1;
	/* '+': options stop at NAME; what follows is the command's */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (raftctl_parse_u64(optarg, &num) < 0 || num == 0 || num > INT32_MAX)
				return raftctl_usage_error("lock", "bad --ttl '%s' (seconds)", optarg);
			ttl = (int64_t)num;
			break;
		case 'h': lock_usage(stdout); return 0;
		default: return raftctl_usage_error("lock", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc || !*argv[optind] || !strcmp(argv[optind], "--"))
		return raftctl_usage_error("lock", "needs a lock NAME");
	const char *name = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	char **cmd = optind < argc ? argv + optind : NULL;

	rv = rc_v3_open(NULL, &v, err, sizeof(err));
	if (rv < 0)
		return rc_v3_fail("lock", rv, err);
	if ((rv = rc_signals_init(&v, cmd != NULL)) < 0) {
		snprintf(err, sizeof(err), "signals: %s", strerror(-rv));
		goto out;
	}
	if ((rv = rc_session_open(&v, ttl, &s, err, sizeof(err))) < 0)
		goto out;
	rv = mutex_lock(&s, name, &key, &rev, err, sizeof(err));
	if (rv == -EINTR) {
		snprintf(err, sizeof(err), "%s: interrupted before the lock was taken", name);
		goto out;
	}
	if (rv < 0)
		goto out;
	if (cmd) {
		rv = run_locked(&s, cmd, key, rev);
	} else {
		rv = print_key(key, rev);
		int sig = rv ? 0 : rc_session_hold(&s, err, sizeof(err));
		if (sig == -ESTALE)
			rv = raftctl_fail("lock", "%s: the lock was lost: %s", key, err);
	}
	/* etcd's Unlock: the key goes (the lease's revoke would take it too) */
	delete_key(&v, key);
out:
	rc_session_close(&s, true);
	rc_v3_close(&v);
	free(key);
	if (rv < 0)
		return raftctl_fail("lock", "%s", err);
	return rv;
}

/* --- elect ------------------------------------------------------------------ */

static void elect_usage(FILE *out)
{
	fputs("usage: raftctl elect [--ttl N] NAME PROPOSAL\n"
	      "       raftctl elect NAME --listen\n"
	      "\n"
	      "etcd's concurrency Election (raftctl and etcdctl elect take part in\n"
	      "the same elections). With PROPOSAL: campaigns, waits until elected,\n"
	      "prints \"KEY PROPOSAL\" (KEY is NAME/<lease ID>) and stays the leader\n"
	      "until interrupted (then resigns, exit 0) or its lease is lost (exit 1).\n"
	      "The candidacy lives on a lease of N seconds (default 60, as etcdctl's)\n"
	      "kept alive meanwhile: a candidate that dies is replaced N seconds\n"
	      "later. --listen (-l): prints \"KEY PROPOSAL\" for each new leader and\n"
	      "each new proclamation, until interrupted.\n",
	      out);
}

static int print_leader(const Mvccpb__KeyValue *kv)
{
	if (raftctl_g.json) {
		char lease[24];
		snprintf(lease, sizeof(lease), "%016" PRIx64, (uint64_t)kv->lease);
		/* one object a line: --listen goes on */
		json_t *o = json_pack("{s:o, s:o, s:I, s:I, s:s}", "key", rc_v3_bytes_json(kv->key), "value",
					 rc_v3_bytes_json(kv->value), "create_revision", (json_int_t)kv->create_revision,
					 "mod_revision", (json_int_t)kv->mod_revision, "lease", lease);
		char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!line)
			return 1;
		puts(line);
		free(line);
		return fflush(stdout) ? 1 : 0;
	}
	fwrite(kv->key.data, 1, kv->key.len, stdout);
	putchar(' ');
	fwrite(kv->value.data, 1, kv->value.len, stdout);
	putchar('\n');
	return fflush(stdout) ? 1 : 0;
}

/* etcd's Campaign, then hold, then Resign */
static int campaign(struct rc_session *s, const char *name, const char *val, char *err, size_t err_len)
{
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__RangeRequest get = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__RequestOp op_put = ETCDSERVERPB__REQUEST_OP__INIT, op_get = ETCDSERVERPB__REQUEST_OP__INIT,
				op_del = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__RequestOp *ok[1] = { &op_put }, *fail[1] = { &op_get }, *resign[1] = { &op_del };
	Etcdserverpb__TxnResponse *tr = NULL;
	size_t plen = strlen(name) + 1;
	char *pfx = malloc(plen + 1), *key = malloc(plen + 17);
	int64_t rev, at;
	int sig, rv = -ENOMEM;

	if (!pfx || !key) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	snprintf(pfx, plen + 1, "%s/", name);
	snprintf(key, plen + 17, "%s%" PRIx64, pfx, (uint64_t)s->id);
	create_is(&cmp, key, 0);
	put.key = bin(key);
	put.value = bin(val);
	put.lease = s->id;
	op_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op_put.request_put = &put;
	get.key = bin(key);
	op_get.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	op_get.request_range = &get;
	if ((rv = txn(s->v, &cmp, ok, 1, fail, 1, &tr, err, err_len)) < 0)
		goto out;
	rev = tr->header ? tr->header->revision : 0;
	if (!tr->succeeded) {
		/* our own session's key (a resumed candidacy): proclaim our value */
		const Mvccpb__KeyValue *kv = range_kv(tr, 0);
		rev = kv ? kv->create_revision : 0;
		if (!kv || kv->value.len != put.value.len || memcmp(kv->value.data, val, put.value.len)) {
			etcdserverpb__txn_response__free_unpacked(tr, NULL);
			tr = NULL;
			create_is(&cmp, key, rev);
			if ((rv = txn(s->v, &cmp, ok, 1, NULL, 0, &tr, err, err_len)) < 0)
				goto out;
			if (!tr->succeeded) {
				snprintf(err, err_len, "%s: election: not leader", key);
				rv = -ESTALE;
				goto out;
			}
		}
	}
	rv = rc_wait_deletes(s, pfx, rev - 1, &at, &sig, err, err_len);
	if (rv == 0) {
		Mvccpb__KeyValue kv = MVCCPB__KEY_VALUE__INIT;
		kv.key = put.key;
		kv.value = put.value;
		kv.create_revision = rev;
		kv.mod_revision = rev;
		kv.lease = s->id;
		rv = print_leader(&kv);
		sig = rv ? 0 : rc_session_hold(s, err, err_len);
		if (sig == -ESTALE)
			rv = -ESTALE;
	}
	if (rv != -ESTALE) {
		/* etcd's Resign: our key, if it is still the one we created */
		etcdserverpb__txn_response__free_unpacked(tr, NULL);
		tr = NULL;
		create_is(&cmp, key, rev);
		del.key = bin(key);
		op_del.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
		op_del.request_delete_range = &del;
		char why[256];
		txn(s->v, &cmp, resign, 1, NULL, 0, &tr, why, sizeof(why));
	}
	if (rv == -EINTR)
		rv = 0; /* interrupted while campaigning: resigned */
out:
	etcdserverpb__txn_response__free_unpacked(tr, NULL);
	free(pfx);
	free(key);
	return rv;
}

/* the next event of a watch, waiting for it; -EINTR on SIGINT or SIGTERM */
static int next_event(struct grpcc_stream *st, Etcdserverpb__WatchResponse **wr, char *err, size_t err_len)
{
	for (;;) {
		int rv = rc_watch_next(st, 1000000, wr, err, err_len);
		if (rv == 0 && (*wr)->canceled) {
			snprintf(err, err_len, "the server cancelled the watch: %s",
				 (*wr)->compact_revision ? "compacted" : (*wr)->cancel_reason);
			etcdserverpb__watch_response__free_unpacked(*wr, NULL);
			*wr = NULL;
			return -EPIPE;
		}
		if (rv == -EINTR && !rc_signals_take())
			continue;
		if (rv != -ETIMEDOUT)
			return rv;
	}
}

/* etcd's Election.Observe: each leader, and each of its proclamations */
static int observe(struct rc_v3 *v, const char *name, char *err, size_t err_len)
{
	size_t plen = strlen(name) + 1;
	char *pfx = malloc(plen + 1);
	uint8_t *end = malloc(plen + 1);
	int rv = -ENOMEM;
	if (!pfx || !end) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	snprintf(pfx, plen + 1, "%s/", name);
	for (;;) {
		Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
		Etcdserverpb__RangeResponse *rr = NULL;
		Etcdserverpb__WatchResponse *wr = NULL;
		struct grpcc_stream *st = NULL;
		Mvccpb__KeyValue *leader = NULL;
		uint8_t *resp = NULL;
		size_t len = 0;
		int status;
		int64_t from;

		req.key = bin(pfx);
		req.range_end = rc_v3_prefix_end(pfx, end);
		req.sort_target = ETCDSERVERPB__RANGE_REQUEST__SORT_TARGET__CREATE;
		req.sort_order = ETCDSERVERPB__RANGE_REQUEST__SORT_ORDER__ASCEND;
		req.limit = 1;
		rv = rc_v3_call(v, "/etcdserverpb.KV/Range", &req.base, true, &resp, &len, &status, err, err_len);
		if (rv == 0 && !(rr = etcdserverpb__range_response__unpack(NULL, len, resp))) {
			snprintf(err, err_len, "%s: a RangeResponse that does not parse", v->url.base);
			rv = -EBADMSG;
		}
		free(resp);
		if (rv < 0)
			goto out;
		from = (rr->header ? rr->header->revision : 0) + 1;
		if (rr->n_kvs) {
			leader = rr->kvs[0];
		} else {
			/* no leader: the first key put under the prefix */
			rv = rc_watch_open(v, req.key, req.range_end, from, false, &st, err, err_len);
			while (rv == 0 && !leader) {
				rv = next_event(st, &wr, err, err_len);
				for (size_t i = 0; rv == 0 && i < wr->n_events && !leader; i++)
					if (wr->events[i]->type == MVCCPB__EVENT__EVENT_TYPE__PUT)
						leader = wr->events[i]->kv;
				if (!leader && rv == 0) {
					etcdserverpb__watch_response__free_unpacked(wr, NULL);
					wr = NULL;
				}
			}
			grpcc_stream_free(st);
			st = NULL;
			if (leader)
				from = leader->mod_revision + 1;
		}
		char *key = leader ? strndup((const char *)leader->key.data, leader->key.len) : NULL;
		if (leader && (rv = print_leader(leader)) != 0)
			rv = -EIO;
		etcdserverpb__range_response__free_unpacked(rr, NULL);
		etcdserverpb__watch_response__free_unpacked(wr, NULL);
		wr = NULL;
		if (rv == 0 && !key)
			rv = -ENOMEM;
		/* its proclamations, until its key goes */
		if (rv == 0)
			rv = rc_watch_open(v, bin(key), (ProtobufCBinaryData){ 0, NULL }, from, false, &st, err, err_len);
		bool gone = false;
		while (rv == 0 && !gone) {
			rv = next_event(st, &wr, err, err_len);
			for (size_t i = 0; rv == 0 && i < wr->n_events && !gone; i++) {
				if (wr->events[i]->type == MVCCPB__EVENT__EVENT_TYPE__DELETE)
					gone = true;
				else if (print_leader(wr->events[i]->kv) != 0)
					rv = -EIO;
			}
			etcdserverpb__watch_response__free_unpacked(wr, NULL);
			wr = NULL;
		}
		grpcc_stream_free(st);
		free(key);
		if (rv < 0)
			goto out;
	}
out:
	free(pfx);
	free(end);
	return rv;
}

int raftctl_elect(int argc, char **argv)
{
	static const struct option opts[] = { { "ttl", required_argument, NULL, 't' },
					      { "listen", no_argument, NULL, 'l' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	unsigned long long num;
	int64_t ttl = 60;
	bool listen = false;
	char err[2048];
	struct rc_session s = { 0 };
	struct rc_v3 v = { 0 };
	int c, rv;

	optind = 1;
	while ((c = getopt_long(argc, argv, "lh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (raftctl_parse_u64(optarg, &num) < 0 || num == 0 || num > INT32_MAX)
				return raftctl_usage_error("elect", "bad --ttl '%s' (seconds)", optarg);
			ttl = (int64_t)num;
			break;
		case 'l': listen = true; break;
		case 'h': elect_usage(stdout); return 0;
		default: return raftctl_usage_error("elect", "unknown option '%s'", argv[optind - 1]);
		}
	}
	int n = argc - optind;
	if (n < 1 || n > 2 || !*argv[optind])
		return raftctl_usage_error("elect", "needs an election NAME and a PROPOSAL (or --listen)");
	if (listen == (n == 2))
		return raftctl_usage_error("elect", listen ? "a PROPOSAL or --listen, not both" : "needs a PROPOSAL (or --listen)");
	rv = rc_v3_open(NULL, &v, err, sizeof(err));
	if (rv < 0)
		return rc_v3_fail("elect", rv, err);
	if ((rv = rc_signals_init(&v, false)) < 0) {
		snprintf(err, sizeof(err), "signals: %s", strerror(-rv));
	} else if (listen) {
		rv = observe(&v, argv[optind], err, sizeof(err));
		if (rv == -EINTR)
			rv = 0;
	} else if ((rv = rc_session_open(&v, ttl, &s, err, sizeof(err))) == 0) {
		rv = campaign(&s, argv[optind], argv[optind + 1], err, sizeof(err));
	}
	rc_session_close(&s, true);
	rc_v3_close(&v);
	if (rv == -EIO)
		return 1;
	if (rv < 0)
		return raftctl_fail("elect", "%s", err);
	return rv;
}
