/* src/raftd/security.c — the node's certificates and what it says about
 * them: loaded at start (a file that cannot be used stops the node, named),
 * handed to both listeners and to the members' clients, reloaded on SIGHUP
 * (all or nothing: a bad file keeps every old one), and the start-up warning
 * when a listener serves without TLS or without authentication. Who may do
 * what is auth.c's; the sessions are net/http_server's and net/peer's.
 */
#include "src/raftd/node_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "src/raftd/log.h"

void node_tls_free(struct node_tls *t)
{
	tls_creds_unref(t->client);
	tls_creds_unref(t->client_trust);
	tls_creds_unref(t->peer);
	tls_creds_unref(t->peer_trust);
	tls_creds_unref(t->peer_client);
	memset(t, 0, sizeof(*t));
}

/* Every certificate, key and CA file cfg names, all or none: the reason
 * (tls_creds_load()'s) names the file. */
int node_tls_load(const struct config *cfg, struct node_tls *ret, char *err, size_t err_len)
{
	struct node_tls t = { 0 };
	const char *prio = cfg->tls_priority;
	int rv = 0;
	if (config_client_tls(cfg)) {
		/* on one port without --cert-file, the peer certificate is the port's */
		bool own = cfg->cert_file != NULL;
		struct tls_files f = { own ? cfg->cert_file : cfg->peer_cert_file,
				       own ? cfg->key_file : cfg->peer_key_file, NULL, prio };
		rv = tls_creds_load(&f, &t.client, err, err_len);
	}
	if (rv == 0 && cfg->trusted_ca_file) {
		struct tls_files f = { NULL, NULL, cfg->trusted_ca_file, prio };
		rv = tls_creds_load(&f, &t.client_trust, err, err_len);
	}
	if (rv == 0 && cfg->peer_port && cfg->peer_cert_file) {
		struct tls_files f = { cfg->peer_cert_file, cfg->peer_key_file, NULL, prio };
		rv = tls_creds_load(&f, &t.peer, err, err_len);
	}
	if (rv == 0 && cfg->peer_trusted_ca_file) {
		struct tls_files f = { NULL, NULL, cfg->peer_trusted_ca_file, prio };
		rv = tls_creds_load(&f, &t.peer_trust, err, err_len);
	}
	if (rv == 0 && config_peer_tls(cfg)) {
		/* towards members: our peer certificate (the port's on one
		 * port without one), and the CAs that verify theirs */
		bool own = cfg->peer_cert_file != NULL;
		struct tls_files f = { own ? cfg->peer_cert_file : cfg->cert_file,
				       own ? cfg->peer_key_file : cfg->key_file, cfg->peer_trusted_ca_file, prio };
		rv = tls_creds_load(&f, &t.peer_client, err, err_len);
	}
	if (rv < 0) {
		node_tls_free(&t);
		return rv;
	}
	*ret = t;
	return 0;
}

/* What a listener is given: NULL when it speaks plain HTTP. */
const struct httpd_tls *listener_tls(const struct node_tls *t, bool peer_listener, struct httpd_tls *buf)
{
	*buf = (struct httpd_tls){
		.creds = peer_listener ? t->peer : t->client,
		.client_trust = peer_listener ? NULL : t->client_trust,
		.peer_trust = t->peer_trust,
	};
	return buf->creds ? buf : NULL;
}

/* SIGHUP: new certificates for the connections from now on; on any
 * failure the old ones stay, all of them (false). */
bool reload_tls(struct node *n, struct config *fresh)
{
	char err[512];
	struct node_tls t;
	struct httpd_tls a, b;
	if (config_client_tls(fresh) != config_client_tls(&n->cfg) || config_peer_tls(fresh) != config_peer_tls(&n->cfg) ||
	    fresh->peer_port != n->cfg.peer_port) {
		log_error("reload: turning TLS on or off, or moving the peer port, needs a restart (certificates "
			  "unchanged)");
		return false;
	}
	if (!config_client_tls(fresh) && !config_peer_tls(fresh))
		return true;
	if (node_tls_load(fresh, &t, err, sizeof(err)) < 0) {
		log_error("reload: %s (the certificates and keys in use stay)", err);
		return false;
	}
	const struct httpd_tls *ct = listener_tls(&t, false, &a), *pt = listener_tls(&t, true, &b);
	int rv = ct ? httpd_set_tls(n->http, ct) : 0;
	if (rv == 0 && n->peer_http && pt)
		rv = httpd_set_tls(n->peer_http, pt);
	if (rv < 0) {
		log_error("reload: new certificates not installed: %s (the ones in use stay)", strerror(-rv));
		node_tls_free(&t);
		return false;
	}
	node_tls_free(&n->tls);
	n->tls = t;
	peers_renew_tls(n);
	log_info("reload: certificates and keys re-read; new connections use them");
	return true;
}

/* Without TLS raftd is goraft raftd, open to anyone who can reach it: it
 * says so, once, where an operator looks (issue 18). */
void warn_unprotected(struct node *n)
{
	const struct config *c = &n->cfg;
	char addr[300], paddr[300], msg[1024] = "";
	snprintf(addr, sizeof(addr), "%s:%u", c->listen && *c->listen ? c->listen : "*", (unsigned)httpd_port(n->http));
	if (n->peer_http)
		snprintf(paddr, sizeof(paddr), "%s:%u", c->peer_listen && *c->peer_listen ? c->peer_listen : "*",
			 (unsigned)httpd_port(n->peer_http));
	bool ctls = config_client_tls(c), ptls = config_peer_tls(c);
	size_t l = 0;
#define ADD(...) l += (size_t)snprintf(msg + l, l < sizeof(msg) ? sizeof(msg) - l : 0, __VA_ARGS__)
	if (!n->peer_http && !ctls)
		ADD("clients and peers on %s without TLS or authentication", addr);
	else if (!ctls)
		ADD("clients on %s without TLS or authentication", addr);
	else if (!c->client_cert_auth)
		ADD("clients on %s with TLS but without authentication (no --client-cert-auth)", addr);
	if (n->peer_http && !ptls)
		ADD("%speers on %s without TLS or authentication", l ? "; " : "", paddr);
	else if (ptls && !c->peer_client_cert_auth)
		ADD("%speers on %s with TLS but without authentication (no --peer-client-cert-auth)", l ? "; " : "",
		    n->peer_http ? paddr : addr);
#undef ADD
	if (l)
		log_msg(LOG_WARNING, LOG_ID_NO_TLS, NULL,
			"serving %s: whoever reaches the port can read and write every key and change the cluster "
			"(SECURITY in README.md, raftd(8))",
			msg);
}
