/* src/raftd/auth.c — 401/403 decisions; see auth.h. */
#include "src/raftd/auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/url.h"

static const char *const class_names[] = {
	[AUTH_READ] = "read", [AUTH_WRITE] = "write", [AUTH_ADMIN] = "admin", [AUTH_JOIN] = "admin",
	[AUTH_PEER] = "peer",
};

const char *auth_class_name(enum auth_class cls)
{
	return class_names[cls];
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

enum auth_class auth_classify(const char *method, const char *path)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	if (has_prefix(path, "/db/"))
		return get ? AUTH_READ : AUTH_WRITE;
	if (get && (!strcmp(path, "/status") || !strcmp(path, "/metrics") || !strcmp(path, "/health")))
		return AUTH_READ;
	if (!strcmp(path, "/join"))
		return AUTH_JOIN;
	/* raftd's admin endpoints share /raftd/ with the peer RPCs: named
	 * here one by one, so that a new /raftd/ path is a peer path only
	 * when it is meant to be */
	if (!strcmp(path, "/raftd/snapshot") || !strcmp(path, "/raftd/transfer") || !strcmp(path, "/raftd/promote"))
		return AUTH_ADMIN;
	if (has_prefix(path, "/raft/") || has_prefix(path, "/raftd/"))
		return AUTH_PEER;
	return AUTH_ADMIN;
}

void auth_policy_init(struct auth_policy *p, const struct config *cfg)
{
	*p = (struct auth_policy){
		.client_cert_auth = cfg->client_cert_auth,
		.peer_cert_auth = cfg->peer_client_cert_auth,
		.roles = cfg->roles,
		.n_roles = cfg->n_roles,
		.allowed_cn = cfg->peer_allowed_cn,
		.allowed_hostname = cfg->peer_allowed_hostname,
	};
}

static unsigned refuse(unsigned status, char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return status;
}

/* 0 for a verified certificate, else 401 with what was wrong. */
static unsigned need_verified(const struct tls_identity *id, const char *whose, const char *setting, char *why,
			      size_t why_len)
{
	switch (id->verdict) {
	case TLS_VERIFIED: return 0;
	case TLS_PLAIN:
		return refuse(401, why, why_len, "%s certificate required (%s), but this connection is plain HTTP",
			      whose, setting);
	case TLS_NO_CERT:
		return refuse(401, why, why_len, "no %s certificate: this node requires one (%s)", whose, setting);
	case TLS_REFUSED:
		return refuse(401, why, why_len, "%s certificate refused: %s", whose, id->reason);
	}
	return refuse(401, why, why_len, "%s certificate not verified", whose);
}

enum config_role_level auth_role(const struct auth_policy *p, const struct tls_identity *id,
				 const char **ret_name)
{
	enum config_role_level level = CONFIG_ROLE_NONE, any = CONFIG_ROLE_NONE;
	const char *name = id->cn[0] ? id->cn : id->n_names ? id->names[0] : "(unnamed)";
	bool named = false;
	if (id->verdict == TLS_VERIFIED) {
		for (size_t i = 0; i < p->n_roles; i++) {
			const struct config_role *r = &p->roles[i];
			if (!strcmp(r->identity, "*")) {
				any = r->level;
			} else if (tls_identity_has(id, r->identity) && r->level > level) {
				level = r->level;
				name = r->identity;
				named = true;
			}
		}
		/* "*" is for certificates no line names: a line that names
		 * one decides, even when it gives less */
		if (!named && any != CONFIG_ROLE_NONE)
			level = any;
	}
	if (ret_name)
		*ret_name = name;
	return level;
}

unsigned auth_client(const struct auth_policy *p, enum auth_class cls, const char *what,
		     const struct tls_identity *id, char *why, size_t why_len)
{
	if (!p->client_cert_auth)
		return 0;
	unsigned status = need_verified(id, "client", "client-cert-auth", why, why_len);
	if (status)
		return status;
	static const enum config_role_level needs[] = {
		[AUTH_READ] = CONFIG_ROLE_READ, [AUTH_WRITE] = CONFIG_ROLE_WRITE, [AUTH_ADMIN] = CONFIG_ROLE_ADMIN,
		[AUTH_JOIN] = CONFIG_ROLE_ADMIN, [AUTH_PEER] = CONFIG_ROLE_ADMIN + 1,
	};
	const char *name;
	enum config_role_level level = auth_role(p, id, &name);
	if (level >= needs[cls])
		return 0;
	if (cls == AUTH_PEER)
		return refuse(403, why, why_len, "%s is a peer path: clients' roles do not reach it", what);
	if (level == CONFIG_ROLE_NONE)
		return refuse(403, why, why_len, "identity %s has no role; %s needs %s", name, what,
			      config_role_name(needs[cls]));
	return refuse(403, why, why_len, "identity %s has role %s; %s needs %s", name, config_role_name(level), what,
		      config_role_name(needs[cls]));
}

/* Whether a comma-separated list holds an entry `match` accepts. */
static bool list_any(const char *list, bool (*match)(const struct tls_identity *id, const char *entry),
		     const struct tls_identity *id)
{
	char entry[TLS_NAME_MAX];
	for (const char *s = list; *s;) {
		size_t len = strcspn(s, ",");
		const char *e = s;
		size_t l = len;
		while (l && (*e == ' ' || *e == '\t'))
			e++, l--;
		while (l && (e[l - 1] == ' ' || e[l - 1] == '\t'))
			l--;
		if (l && l < sizeof(entry)) {
			memcpy(entry, e, l);
			entry[l] = '\0';
			if (match(id, entry))
				return true;
		}
		s += len + (s[len] == ',');
	}
	return false;
}

static bool cn_is(const struct tls_identity *id, const char *cn)
{
	return !strcmp(id->cn, cn);
}

unsigned auth_peer(const struct auth_policy *p, const struct tls_identity *id, char *why, size_t why_len)
{
	if (!p->peer_cert_auth)
		return 0;
	unsigned status = need_verified(id, "peer", "peer-client-cert-auth", why, why_len);
	if (status)
		return status;
	if (p->allowed_cn && !list_any(p->allowed_cn, cn_is, id))
		return refuse(403, why, why_len, "peer certificate CN \"%s\" is not one of peer-allowed-cn (%s)", id->cn,
			      p->allowed_cn);
	if (p->allowed_hostname && !list_any(p->allowed_hostname, tls_identity_has, id))
		return refuse(403, why, why_len,
			      "peer certificate (CN \"%s\") names none of peer-allowed-hostname (%s)", id->cn,
			      p->allowed_hostname);
	return 0;
}

/* The host of a member's URL, or false. */
static bool url_host(const char *url, struct url *u)
{
	return url && url_parse(url, URL_HTTPS | URL_SLASH, u) == 0;
}

/* A member other than `self` the certificate names, or NULL. */
static const char *names_member(const struct tls_identity *id, const char *self, const struct auth_member *members,
				size_t n_members)
{
	for (size_t i = 0; i < n_members; i++)
		if (strcmp(members[i].name, self) != 0 && tls_identity_has(id, members[i].name))
			return members[i].name;
	return NULL;
}

unsigned auth_peer_claim(const struct auth_policy *p, const struct tls_identity *id, const char *claimed,
			 const struct auth_member *members, size_t n_members, char *why, size_t why_len)
{
	if (!p->peer_cert_auth)
		return 0;
	const struct auth_member *m = NULL;
	for (size_t i = 0; i < n_members && !m; i++)
		if (!strcmp(members[i].name, claimed))
			m = &members[i];
	if (!m && n_members)
		return refuse(403, why, why_len, "certificate of %s speaks for %s, which is not a member", id->cn,
			      claimed);
	if (!m || tls_identity_has(id, claimed))
		return 0;
	const char *other = names_member(id, claimed, members, n_members);
	if (other)
		return refuse(403, why, why_len, "certificate of member %s speaks for member %s: refused", other,
			      claimed);
	struct url u;
	if (url_host(m->url, &u) && tls_identity_has(id, u.host))
		return 0;
	return refuse(403, why, why_len,
		      "certificate of %s names neither member %s nor its host %s: it cannot speak for %s", id->cn,
		      claimed, url_host(m->url, &u) ? u.host : "(no URL)", claimed);
}

unsigned auth_join(const struct auth_policy *p, const struct tls_identity *id, const char *joiner,
		   const char *joiner_url, const struct auth_member *members, size_t n_members, char *why,
		   size_t why_len)
{
	if (!p->client_cert_auth && !p->peer_cert_auth)
		return 0;
	unsigned status = need_verified(id, "client", p->client_cert_auth ? "client-cert-auth" : "peer-client-cert-auth",
					why, why_len);
	if (status)
		return status;
	const char *name;
	enum config_role_level level = auth_role(p, id, &name);
	if (p->client_cert_auth && level >= CONFIG_ROLE_ADMIN)
		return 0;
	struct url u;
	const char *other = names_member(id, joiner, members, n_members);
	if (p->peer_cert_auth && auth_peer(p, id, why, why_len) == 0 &&
	    (tls_identity_has(id, joiner) ||
	     (!other && url_host(joiner_url, &u) && tls_identity_has(id, u.host))))
		return 0;
	if (p->peer_cert_auth && other)
		return refuse(403, why, why_len, "certificate of member %s cannot join %s: a member joins with its own "
						 "certificate",
			      other, joiner);
	if (!p->peer_cert_auth)
		return refuse(403, why, why_len, "identity %s has role %s; POST /join needs admin", name,
			      config_role_name(level));
	return refuse(403, why, why_len,
		      "identity %s has role %s; POST /join needs admin, or a member certificate naming the joiner %s "
		      "(or the host of %s)",
		      name, config_role_name(level), joiner, joiner_url ? joiner_url : "its URL");
}
