/* src/raftd/peers.c — the peers: one HTTP client per member, kept to the
 * core's configuration; outgoing RPCs; kind probes and their saved hints;
 * joining a cluster (-join).
 */
#include "src/raftd/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "net/url.h"
#include "src/raftd/log.h"

#define PROBE_RETRY_MS 250 /* a joining goraft node serves once its join commits */
/* A goraft member is asked again this often: `raftctl import-goraft`
 * replaces goraft nodes by raftd nodes in place (same name and URL), and a
 * follower, which sends the replaced node nothing, would never notice. */
#define KIND_RECHECK_MS 1000
#define JOIN_RETRY_MS 1000
#define REMOVED_PEER_KEEP_MS 5000

static struct npeer *npeer_add(struct node *n, const char *name, const char *url);

/* ---- peers ------------------------------------------------------------------------ */

struct npeer *npeer_find(struct node *n, const char *name)
{
	for (struct npeer *p = n->peers; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

/* One outgoing request; freed when the peer releases its buffers. */
struct out_req {
	struct node *node;
	enum raft_msg_type type;
	bool pre_vote; /* the goraft response body does not say; we know */
	uint64_t req_id;
	char peer[RAFT_NAME_MAX];
	size_t n_bufs, n_segs;
	struct wal_buf **bufs;  /* WAL batch buffers pinned until release */
	struct wal_seg **segs;  /* and WAL segment mappings */
	struct iovec *iov;
	size_t iovcnt;
	uint8_t *scratch;       /* encoded header and prefixes, or the body */
};

static void out_release(void *arg)
{
	struct out_req *o = arg;
	for (size_t i = 0; i < o->n_bufs; i++)
		wal_buf_unref(o->bufs[i]);
	for (size_t i = 0; i < o->n_segs; i++)
		wal_seg_unref(o->segs[i]);
	free(o);
}

static void peer_reachable(struct npeer *p, bool ok, int res)
{
	char field[96];
	snprintf(field, sizeof(field), "RAFT_PEER=%s", p->name);
	if (!ok && !p->unreachable) {
		p->unreachable = true;
		/* a TLS failure says which (expired, unknown authority, wrong
		 * name...): the operator's next step depends on it */
		const char *tls_why = res == -EKEYREJECTED || res == -EPROTO ? peer_tls_error(p->p) : NULL;
		log_msg(LOG_WARNING, LOG_ID_PEER_UNREACHABLE, field, "peer %s (%s) unreachable: %s%s%s", p->name, p->url,
			res < 0 ? strerror(-res) : "bad response", tls_why && *tls_why ? ": " : "",
			tls_why ? tls_why : "");
	} else if (ok && p->unreachable) {
		p->unreachable = false;
		p->recheck = true; /* it may be another program now */
		log_msg(LOG_INFO, LOG_ID_PEER_BACK, field, "peer %s (%s) is back", p->name, p->url);
	}
}

static void out_done(void *arg, int res, const uint8_t *body, size_t len)
{
	struct out_req *o = arg;
	struct node *n = o->node;
	struct npeer *p = npeer_find(n, o->peer);
	/* cancelled: its client was made again with a reload's certificates
	 * (peers_renew_tls()), which says nothing about the peer */
	if (p && res != -ECANCELED)
		peer_reachable(p, res == 200 || res > 0, res);
	if (res != 200 || n->stopping) {
		log_debug("%s to %s: no response (%d)", rpc_path(&(struct raft_msg){ .type = o->type }), o->peer, res);
		return; /* no response (docs/goraft-protocol.md §2.2): the core retries */
	}
	struct raft_msg m;
	char err[160];
	if (rpc_decode_response(o->type, body, len, o->req_id, &m, err, sizeof(err)) < 0) {
		log_debug("response from %s: %s", o->peer, err);
		return;
	}
	if (m.type == RAFT_MSG_RV_RESP)
		m.rv_resp.pre_vote = o->pre_vote;
	struct raft_event ev = { .type = RAFT_EV_RECV, .recv.from = o->peer, .recv.msg = m };
	step(n, &ev, NULL);
}

static int build_ae(struct node *n, const struct raft_msg *m, struct out_req **ret)
{
	size_t cnt = m->ae.n_entries;
	struct wire_ae_req hdr;
	rpc_ae_header(m, n->name, &hdr);
	size_t scratch_cap = wire_ae_scratch_size(&hdr, cnt);
	size_t iov_cap = wire_ae_iov_count(cnt);
	size_t sz = sizeof(struct out_req) + cnt * sizeof(struct wal_buf *) + cnt * sizeof(struct wal_seg *) +
		    iov_cap * sizeof(struct iovec) + cnt * sizeof(struct wire_bytes) + scratch_cap;
	struct out_req *o = calloc(1, sz);
	if (!o)
		return -ENOMEM;
	o->bufs = (struct wal_buf **)(o + 1);
	o->segs = (struct wal_seg **)(o->bufs + cnt);
	o->iov = (struct iovec *)(o->segs + cnt);
	struct wire_bytes *ents = (struct wire_bytes *)(o->iov + iov_cap);
	o->scratch = (uint8_t *)(ents + cnt);
	for (size_t k = 0; k < cnt; k++) {
		struct wal_entry we;
		if (wal_entry_get(n->wal, m->ae.prev_index + 1 + k, &we) < 0) {
			out_release(o);
			return -ENOENT;
		}
		ents[k] = (struct wire_bytes){ we.data, we.len };
		/* Pin the bytes until the zero-copy notification: the request
		 * may wait behind another while a snapshot's compaction drops
		 * their segment. */
		if (we.buf && (!o->n_bufs || o->bufs[o->n_bufs - 1] != we.buf)) {
			wal_buf_ref(we.buf);
			o->bufs[o->n_bufs++] = we.buf;
		}
		if (we.seg && (!o->n_segs || o->segs[o->n_segs - 1] != we.seg)) {
			wal_seg_ref(we.seg);
			o->segs[o->n_segs++] = we.seg;
		}
		n->entry_bytes_out += we.len;
	}
	size_t total;
	int rv = wire_ae_encode_iov(&hdr, ents, cnt, o->scratch, scratch_cap, o->iov, iov_cap, &o->iovcnt, &total);
	if (rv < 0) {
		out_release(o);
		return rv;
	}
	n->ae_entries_out += cnt;
	*ret = o;
	return 0;
}

void send_request(struct node *n, const char *to, const struct raft_msg *m)
{
	struct npeer *p = npeer_find(n, to);
	struct out_req *o = NULL;
	int rv;
	log_debug("send %s to %s (req %" PRIu64 ")", rpc_path(m), to, m->req_id);
	if (!p && raft_is_member(n->r, to)) {
		sync_peers(n); /* a member appended in this very update */
		p = npeer_find(n, to);
	}
	/* a removed member whose client went before this node led */
	const char *url = p ? NULL : raft_departing_url(n->r, to);
	if (url)
		p = npeer_add(n, to, url);
	if (!p || !p->p)
		return; /* not a member we know how to reach: lost, as on a network */
	if (m->type == RAFT_MSG_AE_REQ) {
		rv = build_ae(n, m, &o);
	} else {
		struct wire_bytes state = { 0 };
		void *map = MAP_FAILED;
		if (m->type == RAFT_MSG_SNAPREC_REQ) {
			if (n->snap_state_fd < 0 || n->snap_state_index != m->snaprec.last_index || !n->snap_state_len)
				return; /* no snapshot at that index: the core retries */
			map = mmap(NULL, n->snap_state_len, PROT_READ, MAP_SHARED, n->snap_state_fd, 0);
			if (map == MAP_FAILED) {
				log_warning("snapshot %" PRIu64 ": mmap: %s", n->snap_state_index, strerror(errno));
				return; /* the core retries */
			}
			(void)madvise(map, n->snap_state_len, MADV_SEQUENTIAL);
			state = (struct wire_bytes){ map, n->snap_state_len };
		}
		size_t cap = 1024 + state.len;
		o = calloc(1, sizeof(*o) + sizeof(struct iovec) + cap);
		long len = -ENOMEM;
		if (o) {
			o->iov = (struct iovec *)(o + 1);
			o->scratch = (uint8_t *)(o->iov + 1);
			len = rpc_encode_request(m, n->name, state, o->scratch, cap);
		}
		if (map != MAP_FAILED)
			munmap(map, n->snap_state_len);
		if (len < 0) {
			free(o);
			return;
		}
		o->iov[0] = (struct iovec){ o->scratch, (size_t)len };
		o->iovcnt = 1;
		rv = 0;
	}
	if (rv < 0)
		return;
	o->node = n;
	o->type = m->type;
	o->pre_vote = m->type == RAFT_MSG_RV_REQ && m->rv.pre_vote;
	o->req_id = m->req_id;
	snprintf(o->peer, sizeof(o->peer), "%s", to);
	struct peer_request req = {
		.method = "POST",
		.path = rpc_path(m),
		.iov = o->iov,
		.iovcnt = o->iovcnt,
		.zero_copy = m->type == RAFT_MSG_AE_REQ && m->ae.n_entries > 0,
		.done = out_done,
		.release = out_release,
		.arg = o,
	};
	rv = peer_submit(p->p, &req);
	if (rv < 0) {
		peer_reachable(p, false, rv);
		out_release(o);
		return;
	}
	n->rpcs_out++;
}

/* DATA_DIR/peer-kinds: {"NAME":{"url":URL,"kind":"raftd"|"goraft"},...}. A
 * hint only: lost or stale, the peer is probed again. */
void hints_load(struct node *n)
{
	json_error_t jerr;
	json_t *root = json_load_file(n->hints_path, 0, &jerr);
	const char *name;
	json_t *v;
	if (!root)
		return;
	json_object_foreach(root, name, v) {
		const char *url = json_string_value(json_object_get(v, "url"));
		const char *kind = json_string_value(json_object_get(v, "kind"));
		struct kind_hint *h = realloc(n->hints, (n->n_hints + 1) * sizeof(*h));
		if (!url || !kind || strlen(name) >= RAFT_NAME_MAX || strlen(url) >= RAFT_URL_MAX || !h) {
			if (h)
				n->hints = h;
			continue;
		}
		n->hints = h;
		h += n->n_hints++;
		snprintf(h->name, sizeof(h->name), "%s", name);
		snprintf(h->url, sizeof(h->url), "%s", url);
		h->goraft = strcmp(kind, "raftd") != 0;
	}
	json_decref(root);
}

static void hints_save(struct node *n)
{
	json_t *root = json_object();
	char tmp[4300];
	for (size_t i = 0; root && i < n->n_hints; i++)
		json_object_set_new(root, n->hints[i].name,
				    json_pack("{s:s, s:s}", "url", n->hints[i].url, "kind",
					      n->hints[i].goraft ? "goraft" : "raftd"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", n->hints_path);
	if (!root || json_dump_file(root, tmp, JSON_COMPACT) < 0 || rename(tmp, n->hints_path) < 0)
		log_warning("%s: cannot save the peers' kinds", n->hints_path);
	json_decref(root);
}

static const struct kind_hint *hint_find(const struct node *n, const char *name)
{
	for (size_t i = 0; i < n->n_hints; i++)
		if (!strcmp(n->hints[i].name, name))
			return &n->hints[i];
	return NULL;
}

static void hint_set(struct node *n, const struct npeer *p)
{
	struct kind_hint *h = (struct kind_hint *)hint_find(n, p->name);
	if (h && !strcmp(h->url, p->url) && h->goraft == p->goraft)
		return;
	if (!h) {
		h = realloc(n->hints, (n->n_hints + 1) * sizeof(*h));
		if (!h)
			return;
		n->hints = h;
		h += n->n_hints++;
	}
	snprintf(h->name, sizeof(h->name), "%s", p->name);
	snprintf(h->url, sizeof(h->url), "%s", p->url);
	h->goraft = p->goraft;
	hints_save(n);
}

static void set_kind(struct node *n, struct npeer *p, bool goraft)
{
	p->kind_known = true;
	p->goraft = goraft;
	peer_set_max_pipeline(p->p, goraft ? 1 : n->cfg.max_inflight_appends);
	struct raft_event ev = { .type = RAFT_EV_PEER_KIND, .peer_kind.name = p->name, .peer_kind.goraft = goraft };
	step(n, &ev, NULL);
	log_info("peer %s (%s) is a %s node", p->name, p->url, goraft ? "goraft" : "raftd");
	hint_set(n, p);
}

struct probe {
	struct node *node;
	char peer[RAFT_NAME_MAX];
};

static void probe_done(void *arg, int res, const uint8_t *body, size_t len)
{
	struct probe *pr = arg;
	struct node *n = pr->node;
	struct npeer *p = npeer_find(n, pr->peer);
	if (!p || n->stopping)
		return;
	p->probing = false;
	/* goraft's mux answers 404 for every path it does not know; anything
	 * else but 200 (a raftd node answering 503 while it stops, say) says
	 * nothing yet: ask again. Found by the fault suite: a stopping raftd
	 * peer was recorded as goraft for good, which stopped snapshots. */
	if (res != 200 && res != 404) {
		p->probe_at_ms = now_ms(n) + PROBE_RETRY_MS;
		return;
	}
	p->recheck = false;
	if (!p->kind_known || p->goraft != (res == 404))
		set_kind(n, p, res == 404);
	/* a raftd peer's gRPC URL, for MemberList (v3_cluster.c) */
	p->grpc_url[0] = '\0';
	json_t *j = res == 200 && body ? json_loadb((const char *)body, len, 0, NULL) : NULL;
	const char *grpc = json_string_value(json_object_get(j, "grpc"));
	if (grpc && strlen(grpc) < sizeof(p->grpc_url))
		snprintf(p->grpc_url, sizeof(p->grpc_url), "%s", grpc);
	json_decref(j);
	p->probe_at_ms = now_ms(n) + KIND_RECHECK_MS;
}

static void probe_release(void *arg)
{
	free(arg);
}

/* Learns whether a peer is a goraft or a raftd node. Until then it counts
 * as goraft: the safe assumption (no extensions, one request in flight).
 * Known kinds are learnt again: a goraft member's periodically, any
 * member's once it is back after being unreachable. Each node decides for
 * itself, from what the peer answers now: what depends on it (raftd-only
 * commands, snapshots, extensions) is each node's own decision, refused or
 * deferred while it believes a goraft node is a member, and the answers
 * converge (docs/goraft-protocol.md §11.13). */
static void probe_peers(struct node *n)
{
	for (struct npeer *p = n->peers; p; p = p->next) {
		if (p->probing || now_ms(n) < p->probe_at_ms)
			continue;
		if (p->kind_known && !p->goraft && !p->recheck)
			continue;
		struct probe *pr = calloc(1, sizeof(*pr));
		if (!pr)
			return;
		pr->node = n;
		snprintf(pr->peer, sizeof(pr->peer), "%s", p->name);
		struct peer_request req = {
			.method = "GET", .path = RAFTD_PATH_VERSION, .done = probe_done, .release = probe_release,
			.arg = pr,
		};
		if (peer_submit(p->p, &req) < 0) {
			free(pr);
			p->probe_at_ms = now_ms(n) + PROBE_RETRY_MS;
			continue;
		}
		p->probing = true;
	}
}

void npeer_gone(void *arg)
{
	struct node *n = arg;
	n->peers_alive--;
}

/* Where to connect to a member at `url`: a member whose URL in the log is
 * http:// (the cluster ran without TLS before) is reached over https://
 * once this node's peers speak TLS, so that a cluster turns TLS on by
 * restarting every node with it, without changing members' URLs. */
static const char *npeer_dial_url(struct node *n, const char *url, char *buf, size_t len)
{
	if (!config_peer_tls(&n->cfg) || strncmp(url, "http://", 7) != 0)
		return url;
	snprintf(buf, len, "https://%s", url + 7);
	return buf;
}

static struct peer_config npeer_config(struct node *n)
{
	/* Reconnect at least once a heartbeat, as goraft's leader does
	 * (it dials again on every tick): a goraft follower coming back
	 * after a long absence must hear from us within its election
	 * timeout, or, having no pre-vote, it campaigns and deposes us.
	 * A refused connect on a LAN costs next to nothing. */
	unsigned hb = n->cfg.heartbeat_ms ? n->cfg.heartbeat_ms : RAFT_GORAFT_HEARTBEAT_MS;
	if (hb > RAFT_GORAFT_HEARTBEAT_MS)
		hb = RAFT_GORAFT_HEARTBEAT_MS; /* a goraft follower times out after 150 ms */
	struct peer_config pc = {
		.response_timeout_ms = 200, /* goraft's ResponseHeaderTimeout */
		.backoff_min_ms = hb < 10 ? hb : 10,
		.backoff_max_ms = hb,
		.max_queue = 64,
		.max_pipeline = 1,
		.max_response_body = 64 << 10,
		.tls = n->tls.peer_client, /* for https:// members; the latest a reload loaded */
	};
	return pc;
}

/* The client of a member at `url`, with the node's current settings and
 * certificates. 0 or -errno (peer_create()). */
static int npeer_client(struct node *n, const char *url, struct peer **ret)
{
	struct peer_config pc = npeer_config(n);
	char tls_url[RAFT_URL_MAX + 8];
	const char *dial = npeer_dial_url(n, url, tls_url, sizeof(tls_url));
	int rv = peer_create(&n->loop.ring, dial, &pc, ret);
	log_debug("peer_create %s: %d", dial, rv);
	return rv;
}

/* A client for the peer `name` at `url`, or NULL. */
static struct npeer *npeer_add(struct node *n, const char *name, const char *url)
{
	struct npeer *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->url, sizeof(p->url), "%s", url);
	p->node = n;
	int rv = npeer_client(n, url, &p->p);
	if (rv < 0) {
		log_warning("peer %s: cannot use URL '%s': %s", name, url, strerror(-rv));
		free(p);
		return NULL;
	}
	n->peers_alive++;
	p->next = n->peers;
	n->peers = p;
	/* goraft until the probe says otherwise, unless it was probed
	 * before we restarted; the core learns it once the current
	 * update is carried out (report_deferred) */
	const struct kind_hint *h = hint_find(n, name);
	p->goraft = true;
	if (h && !strcmp(h->url, url)) {
		p->kind_known = true;
		p->goraft = h->goraft;
		peer_set_max_pipeline(p->p, h->goraft ? 1 : n->cfg.max_inflight_appends);
	}
	p->kind_unreported = true;
	log_debug("peer %s at %s", name, url);
	return p;
}

void peers_renew_tls(struct node *n)
{
	if (!config_peer_tls(&n->cfg))
		return;
	for (struct npeer *p = n->peers; p; p = p->next) {
		struct peer *fresh;
		int rv = npeer_client(n, p->url, &fresh);
		if (rv < 0) {
			log_warning("peer %s: keeps its certificates: a client with the new ones: %s", p->name,
				    strerror(-rv));
			continue;
		}
		peer_set_max_pipeline(fresh, p->kind_known && !p->goraft ? n->cfg.max_inflight_appends : 1);
		n->peers_alive++;
		struct peer *old = p->p;
		p->p = fresh;
		peer_destroy(old, npeer_gone, n);
	}
	share_peer_addrs(n);
}

/* The HTTP server takes connections from the members' addresses (and the
 * -join target's, whose leader sends a new member its first log) as
 * peers'. Resolved once per peer, when its client is made. */
void share_peer_addrs(struct node *n)
{
	struct sockaddr_storage addrs[64];
	size_t k = 0;
	if (!n->http)
		return;
	for (struct npeer *p = n->peers; p; p = p->next) {
		size_t m;
		const struct sockaddr_storage *a = peer_addrs(p->p, &m);
		for (size_t i = 0; i < m && k < sizeof(addrs) / sizeof(addrs[0]); i++)
			if (!p->removed_at_ms)
				addrs[k++] = a[i];
	}
	if (n->join_peer) {
		size_t m;
		const struct sockaddr_storage *a = peer_addrs(n->join_peer, &m);
		for (size_t i = 0; i < m && k < sizeof(addrs) / sizeof(addrs[0]); i++)
			addrs[k++] = a[i];
	}
	httpd_set_peer_addrs(n->http, addrs, k);
	if (n->peer_http)
		httpd_set_peer_addrs(n->peer_http, addrs, k);
}

/* Makes our peer table the core's configuration. */
void sync_peers(struct node *n)
{
	size_t m = raft_n_members(n->r);
	for (size_t i = 0; i < m; i++) {
		const char *name = raft_member_name(n->r, i), *url = raft_member_url(n->r, i);
		if (!strcmp(name, n->name))
			continue;
		struct npeer *p = npeer_find(n, name);
		if (p && strcmp(p->url, url) != 0) {
			/* a name that came back under another URL */
			p->kind_known = false;
		}
		if (p && p->left) {
			/* added again: perhaps another node under the name,
			 * perhaps not started yet */
			p->left = false;
			p->recheck = true;
		}
		if (p)
			p->removed_at_ms = 0;
		else
			npeer_add(n, name, url);
	}
	/* A removed member is still sent its raft:leave while the core tells
	 * it of its removal (raft_departing_url()); its client goes a few
	 * seconds after that. */
	for (struct npeer **pp = &n->peers; *pp;) {
		struct npeer *p = *pp;
		if (!raft_is_member(n->r, p->name) && !p->left) {
			/* not a member's client URL any more (MemberList) */
			p->grpc_url[0] = '\0';
			p->left = true;
		}
		if (raft_is_member(n->r, p->name) || raft_departing_url(n->r, p->name)) {
			pp = &p->next;
			continue;
		}
		if (!p->removed_at_ms)
			p->removed_at_ms = now_ms(n);
		if (n->stopping || now_ms(n) - p->removed_at_ms < REMOVED_PEER_KEEP_MS) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		peer_destroy(p->p, npeer_gone, n);
		free(p);
	}
	share_peer_addrs(n);
	probe_peers(n);
}

/* ---- joining a cluster (-join) ----------------------------------------------------- */

static void join_release(void *arg)
{
	(void)arg;
}

#define JOIN_MAX_HOPS 3 /* leader hints followed before -join's address is asked again */

int join_peer_create(struct node *n, const char *url)
{
	/* the leader answers once the join is committed: no 200 ms here
	 * (goraft's joiner has no timeout at all) */
	struct peer_config jc = { .response_timeout_ms = 10000, .tls = n->tls.peer_client };
	int rv = peer_create(&n->loop.ring, url, &jc, &n->join_peer);
	if (rv == 0)
		snprintf(n->join_url, sizeof(n->join_url), "%s", url);
	return rv;
}

/* The leader a raftd follower names in its refusal (api.c
 * join_not_leader()): the URL on the "leader: " line, or false. */
static bool join_hint(const uint8_t *body, size_t len, char *url, size_t url_len)
{
	static const char tag[] = "\n" JOIN_LEADER_HINT;
	const char *b = (const char *)body, *end = b + len, *h = NULL;
	for (const char *p = b; body && p + sizeof(tag) - 1 <= end; p++) {
		if (!memcmp(p, tag, sizeof(tag) - 1)) {
			h = p + sizeof(tag) - 1;
			break;
		}
	}
	if (!h)
		return false;
	const char *e = memchr(h, '\n', (size_t)(end - h));
	size_t l = (size_t)((e ? e : end) - h);
	if (l == 0 || l >= url_len)
		return false;
	memcpy(url, h, l);
	url[l] = '\0';
	struct url u;
	return url_parse(url, 0, &u) == 0;
}

static void join_done(void *arg, int res, const uint8_t *body, size_t len)
{
	struct node *n = arg;
	char hint[RAFT_URL_MAX];
	n->join_inflight = false;
	if (res == 200) {
		n->joined = true;
		log_info("joined the cluster through %s", n->join_url);
		return;
	}
	n->join_at_ms = now_ms(n) + JOIN_RETRY_MS;
	if (res > 0 && join_hint(body, len, hint, sizeof(hint)) && strcmp(hint, n->join_url) != 0 &&
	    n->join_hops < JOIN_MAX_HOPS) {
		/* a follower named its leader: ask it now */
		log_info("join through %s: not the leader; asking the leader at %s", n->join_url, hint);
		snprintf(n->join_next, sizeof(n->join_next), "%s", hint);
		n->join_hops++;
		n->join_at_ms = now_ms(n);
		return;
	}
	size_t line = 0;
	while (body && line < len && line < 200 && body[line] != '\n')
		line++;
	if (res > 0)
		log_warning("join through %s: HTTP %d: %.*s", n->join_url, res, (int)line,
			    body ? (const char *)body : "");
	else
		log_warning("join through %s: %s (retrying)", n->join_url, strerror(-res));
	/* a leader that went away, or hints that led nowhere: the -join
	 * address again, which knows the leader of the day */
	if (strcmp(n->join_url, n->join_home) != 0) {
		snprintf(n->join_next, sizeof(n->join_next), "%s", n->join_home);
		n->join_hops = 0;
	}
}

void join_try(struct node *n)
{
	if (!n->join_peer || n->joined || n->join_inflight || now_ms(n) < n->join_at_ms)
		return;
	/* A log means the leader's entries reached us: we are in. */
	if (raft_last_index(n->r) > 0) {
		n->joined = true;
		return;
	}
	if (n->join_next[0]) {
		struct peer *old = n->join_peer;
		if (join_peer_create(n, n->join_next) < 0) {
			n->join_peer = old;
			n->join_at_ms = now_ms(n) + JOIN_RETRY_MS;
			return;
		}
		n->join_next[0] = '\0';
		n->peers_alive++; /* npeer_gone() counts it down */
		peer_destroy(old, npeer_gone, n);
		share_peer_addrs(n);
	}
	n->join_iov = (struct iovec){ n->join_body, strlen(n->join_body) };
	struct peer_request req = {
		.method = "POST", .path = "/join?raftd=1", .content_type = "application/json",
		.iov = &n->join_iov, .iovcnt = 1, .done = join_done, .release = join_release, .arg = n,
	};
	if (peer_submit(n->join_peer, &req) < 0) {
		n->join_at_ms = now_ms(n) + JOIN_RETRY_MS;
		return;
	}
	n->join_inflight = true;
}
