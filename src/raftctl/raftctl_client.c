/* src/raftctl/raftctl_client.c — see raftctl_client.h. */
#include "src/raftctl/raftctl_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/raftctl/raftctl.h"

void rc_node_free(struct rc_node *n)
{
	rc_conn_close(&n->conn);
	json_decref(n->status);
	n->status = NULL;
}

const char *rc_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

long long rc_int(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

uint64_t rc_u64(json_t *o, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(o, key));
}

int rc_emit(json_t *j)
{
	int rv = rc_print_json(j);
	json_decref(j);
	return rv;
}

int rc_print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
	if (!s)
		return 1;
	puts(s);
	free(s);
	return fflush(stdout) ? 1 : 0;
}

/* The body's first line, printable, for error messages. */
static void first_line(const struct rc_response *r, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; r->body && i < r->len && n + 1 < cap; i++) {
		char ch = r->body[i];
		if (ch == '\n' || ch == '\r')
			break;
		out[n++] = ch >= 0x20 && ch < 0x7f ? ch : '?';
	}
	out[n] = '\0';
}

int rc_call(struct rc_node *n, const struct rc_request *req, struct rc_response *ret, char *err, size_t err_len)
{
	int rv = rc_http(&n->conn, req, ret, err, err_len);
	if (rv < 0)
		return rv;
	if (ret->status < 200 || ret->status > 299) {
		char line[256];
		first_line(ret, line, sizeof(line));
		/* a TLS server that asked for a certificate and got none */
		bool no_cert = ret->status == 401 && n->conn.url.tls && !rc_tls_has_cert();
		snprintf(err, err_len, "%s: HTTP %d%s%s%s", n->conn.url.base, ret->status, line[0] ? ": " : "", line,
			 no_cert ? " (--cert/--key?)" : "");
		return -EPROTO;
	}
	return 0;
}

int rc_node_open(const char *url, struct rc_node *ret, char *err, size_t err_len)
{
	struct url u;
	struct rc_response r;
	json_error_t je;
	int rv;

	memset(ret, 0, sizeof(*ret));
	ret->conn.fd = -1;
	if (url_parse(url, RC_URL_FORMS, &u) < 0) {
		snprintf(err, err_len, "bad URL '%s'", url);
		return -EINVAL;
	}
	rc_conn_init(&ret->conn, &u, raftctl_g.timeout_ms);
	rv = rc_call(ret, &(struct rc_request){ .method = "GET", .path = "/status" }, &r, err, err_len);
	if (rv == -EPROTO && r.status == 404) {
		/* goraft's raftd has no /status: a node all the same (whether it
		 * leads, only a raftd member can tell, see rc_find_leader) */
		rc_response_free(&r);
		ret->status = json_pack("{s:s, s:s, s:s, s:s}", "server", "goraft", "name", "", "role", "unknown",
					"url", u.base);
		return ret->status ? 0 : -ENOMEM;
	}
	if (rv < 0) {
		rc_response_free(&r);
		rc_node_free(ret);
		return rv;
	}
	ret->status = json_loadb(r.body, r.len, 0, &je);
	rc_response_free(&r);
	if (!json_is_object(ret->status)) {
		snprintf(err, err_len, "%s: /status is not a JSON object (not a raftd node?)", u.base);
		rc_node_free(ret);
		return -EBADMSG;
	}
	return 0;
}

/* err accumulates "A: why; B: why". */
static void add_reason(char *err, size_t err_len, const char *why)
{
	size_t l = strlen(err);
	if (l + 3 < err_len)
		snprintf(err + l, err_len - l, "%s%s", l ? "; " : "", why);
}

int rc_any_node(struct rc_node *ret, char *err, size_t err_len)
{
	char why[512];
	int rv = -EHOSTUNREACH;

	err[0] = '\0';
	for (size_t i = 0; i < raftctl_g.n_endpoints; i++) {
		rv = rc_node_open(raftctl_g.endpoints[i], ret, why, sizeof(why));
		if (rv == 0)
			return 0;
		if (rv == -ENOKEY) { /* the same for every endpoint */
			snprintf(err, err_len, "%s", why);
			return rv;
		}
		add_reason(err, err_len, why);
	}
	return rv;
}

/* The URL of member `name` in a node's status, or NULL. */
static const char *member_url(json_t *status, const char *name)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(status, "members"), i, m)
		if (!strcmp(rc_str(m, "name"), name))
			return rc_str(m, "url");
	return NULL;
}

int rc_find_leader(struct rc_node *ret, char *err, size_t err_len)
{
	char why[512], tried_leader[RC_URL_MAX] = "";
	bool answered = false;
	int rv = -EHOSTUNREACH;

	err[0] = '\0';
	for (size_t i = 0; i < raftctl_g.n_endpoints; i++) {
		struct rc_node n;
		rv = rc_node_open(raftctl_g.endpoints[i], &n, why, sizeof(why));
		if (rv == -ENOKEY) { /* the same for every endpoint */
			snprintf(err, err_len, "%s", why);
			return rv;
		}
		if (rv < 0) {
			add_reason(err, err_len, why);
			continue;
		}
		answered = true;
		if (!strcmp(rc_str(n.status, "role"), "leader")) {
			*ret = n;
			return 0;
		}
		const char *leader = rc_str(n.status, "leader");
		const char *url = leader[0] ? member_url(n.status, leader) : NULL;
		if (!url || !url[0] || !strcmp(url, tried_leader)) {
			if (!url && !strcmp(rc_str(n.status, "server"), "goraft"))
				raftctl_setf(why, sizeof(why),
					     "%s: a goraft node, which does not tell who leads (give a raftd member too)",
					     n.conn.url.base);
			else if (!url)
				raftctl_setf(why, sizeof(why), "%s: %s, knows no leader (term %" PRIu64 ")", n.conn.url.base,
					     rc_str(n.status, "role"), rc_u64(n.status, "term"));
			if (!url)
				add_reason(err, err_len, why);
			rc_node_free(&n);
			continue;
		}
		snprintf(tried_leader, sizeof(tried_leader), "%s", url);
		char url_copy[RC_URL_MAX], leader_copy[128];
		snprintf(url_copy, sizeof(url_copy), "%s", url);
		snprintf(leader_copy, sizeof(leader_copy), "%s", leader);
		struct rc_node l;
		rv = rc_node_open(url_copy, &l, why, sizeof(why));
		if (rv == -ENOKEY) {
			rc_node_free(&n);
			snprintf(err, err_len, "%s", why);
			return rv;
		}
		if (rv == 0 && !strcmp(rc_str(l.status, "server"), "goraft")) {
			/* a goraft leader: what the raftd follower knows of it */
			json_t *st = json_deep_copy(n.status);
			json_decref(l.status);
			l.status = st;
			json_object_set_new(st, "name", json_string(leader_copy));
			json_object_set_new(st, "url", json_string(url_copy));
			json_object_set_new(st, "role", json_string("leader"));
			json_object_set_new(st, "server", json_string("goraft"));
			json_object_set_new(st, "leader", json_string(leader_copy));
			static const char *const unknown[] = { "commit_index", "applied_index", "last_index",
							       "snapshot_index", "keys", "wal" };
			for (size_t u = 0; u < sizeof(unknown) / sizeof(unknown[0]); u++)
				json_object_del(st, unknown[u]);
			size_t k;
			json_t *m;
			json_array_foreach(json_object_get(st, "members"), k, m) {
				if (json_is_true(json_object_get(m, "self")))
					json_object_set_new(m, "kind", json_string("raftd"));
				else if (!strcmp(rc_str(m, "name"), leader_copy))
					json_object_set_new(m, "kind", json_string("goraft"));
				json_object_del(m, "self");
				json_object_del(m, "reachable"); /* as the follower saw it */
			}
			rc_node_free(&n);
			*ret = l;
			return 0;
		}
		rc_node_free(&n);
		if (rv == 0 && !strcmp(rc_str(l.status, "role"), "leader")) {
			*ret = l;
			return 0;
		}
		if (rv == 0) {
			raftctl_setf(why, sizeof(why), "%s: named leader but is %s", url_copy, rc_str(l.status, "role"));
			rc_node_free(&l);
		}
		add_reason(err, err_len, why);
	}
	if (answered) {
		char all[1024];
		snprintf(all, sizeof(all), "no leader (%s)", err[0] ? err : "an election is going on");
		snprintf(err, err_len, "%s", all);
		return -EAGAIN;
	}
	return rv;
}

int rc_find_node(const char *name_or_url, struct rc_node *ret, char *err, size_t err_len)
{
	struct rc_node any;
	struct url u;
	int rv;

	/* A URL: straight there. A name: through any endpoint's member list. */
	if (strstr(name_or_url, "://") || (strchr(name_or_url, ':') && url_parse(name_or_url, RC_URL_FORMS, &u) == 0))
		return rc_node_open(name_or_url, ret, err, err_len);
	rv = rc_any_node(&any, err, err_len);
	if (rv < 0)
		return rv;
	if (!strcmp(rc_str(any.status, "name"), name_or_url)) {
		*ret = any;
		return 0;
	}
	const char *url = member_url(any.status, name_or_url);
	if (!url) {
		snprintf(err, err_len, "no member named '%s' (ask raftctl members list)", name_or_url);
		rc_node_free(&any);
		return -ENOENT;
	}
	char copy[RC_URL_MAX];
	snprintf(copy, sizeof(copy), "%s", url);
	rc_node_free(&any);
	return rc_node_open(copy, ret, err, err_len);
}

int rc_leader_call(const struct rc_request *req, int tries, struct rc_response *ret, struct rc_node *ret_leader,
		   char *err, size_t err_len)
{
	int rv = -EAGAIN;

	memset(ret, 0, sizeof(*ret));
	for (int i = 0; i < tries; i++) {
		struct rc_node l;
		if (i)
			usleep(200 * 1000); /* an election takes a few hundred ms */
		rv = rc_find_leader(&l, err, err_len);
		if (rv < 0) {
			if (rv == -EAGAIN)
				continue;
			return rv;
		}
		rc_response_free(ret);
		rv = rc_call(&l, req, ret, err, err_len);
		bool moved = (rv == -EPROTO && ret->status == 400 && ret->body &&
			      strstr(ret->body, "Not current leader")) ||
			     (rv < 0 && rv != -EPROTO && rv != -ETIMEDOUT);
		if (!moved || i + 1 == tries) {
			if (ret_leader)
				*ret_leader = l;
			else
				rc_node_free(&l);
			return rv;
		}
		rc_node_free(&l);
	}
	return rv;
}

const char *rc_member_role(json_t *m, json_t *s, const char *leader)
{
	const char *role = s ? rc_str(s, "role") : "";
	if (leader && *leader && !strcmp(rc_str(m, "name"), leader))
		return "leader";
	if (json_is_false(json_object_get(m, "voter")))
		return "learner";
	if (*role)
		return role;
	return leader && *leader ? "follower" : "-";
}

const char *rc_member_kind(json_t *m, json_t *s)
{
	const char *server = s ? rc_str(s, "server") : "";
	if (*server)
		return !strcmp(server, "goraft") ? "goraft" : "raftd";
	if (json_is_true(json_object_get(m, "self")))
		return "raftd";
	return *rc_str(m, "kind") ? rc_str(m, "kind") : "unknown";
}
