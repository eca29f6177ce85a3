/* src/raftd/auth.h — who may do what (issue 18): the 401/403 decisions
 * for a request, from its route's class and what its connection's
 * certificate proves (struct tls_identity, net/tls.h). Pure: no I/O, no
 * allocation; the node logs and answers.
 *
 * Clients (--client-cert-auth): the identity is the certificate's CN or
 * any SAN; the config file's [roles] give it read, write or admin (each
 * including the ones before), "*" any verified certificate no line names.
 * An identity named by several lines gets the highest of their roles.
 *
 * Peers (--peer-client-cert-auth): Raft RPCs and /raftd/ peer paths need a
 * certificate the peer CA verifies, allowed by --peer-allowed-cn or
 * --peer-allowed-hostname when set, and naming the member the request
 * speaks for (auth_peer_claim()): a member cannot speak for another.
 *
 * POST /join is admin-or-peer: an identity with the admin role, or (with
 * --peer-client-cert-auth) a member certificate that names the joiner
 * itself, so that `raftd -join` needs no admin certificate and a member
 * cannot add anyone but itself.
 *
 * Every answer other than 0 comes with a one-line reason for the client.
 */
#ifndef RAFTD_SRC_RAFTD_AUTH_H
#define RAFTD_SRC_RAFTD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "net/tls.h"
#include "src/raftd/config.h"

enum auth_class {
	AUTH_READ,  /* GET /db/, /status, /metrics, /health */
	AUTH_WRITE, /* POST, PUT, DELETE /db/ */
	AUTH_ADMIN, /* /leave, /raftd/snapshot, /raftd/transfer, /raftd/promote */
	AUTH_JOIN,  /* POST /join: admin, or the joiner's own member certificate */
	AUTH_PEER,  /* /raft/..., and /raftd/... but the admin paths above */
};

/* The class of a request by its method and path (the path a route
 * matched; anything raftd does not know is AUTH_ADMIN, the strictest). */
enum auth_class auth_classify(const char *method, const char *path);
const char *auth_class_name(enum auth_class cls);

struct auth_policy {
	bool client_cert_auth;
	bool peer_cert_auth;
	const struct config_role *roles; /* the config's; not copied */
	size_t n_roles;
	const char *allowed_cn;          /* comma-separated, or NULL */
	const char *allowed_hostname;    /* comma-separated, or NULL */
};

/* The policy of cfg; points into it. */
void auth_policy_init(struct auth_policy *p, const struct config *cfg);

/* The role of a verified identity, and in *ret_name the identity that
 * gave it (a [roles] line's name, "*", or the CN when none). */
enum config_role_level auth_role(const struct auth_policy *p, const struct tls_identity *id,
				 const char **ret_name);

/* A client route of class READ, WRITE or ADMIN; `what` names it in the
 * reason ("POST /db"). Returns 0 (allowed), 401 or 403, with the reason
 * in why. */
unsigned auth_client(const struct auth_policy *p, enum auth_class cls, const char *what,
		     const struct tls_identity *id, char *why, size_t why_len);

/* A peer route, by its certificate alone: 0, 401 or 403. */
unsigned auth_peer(const struct auth_policy *p, const struct tls_identity *id, char *why, size_t why_len);

/* A member as the node's configuration has it. */
struct auth_member {
	const char *name;
	const char *url; /* http(s)://HOST:PORT */
};

/* A peer request that speaks for member `claimed` (LeaderName,
 * CandidateName), its certificate accepted by auth_peer(): the
 * certificate must name `claimed`, or the host of its URL while naming no
 * other member (several members on one host share that name). A name that
 * is not a member is refused, unless the configuration is empty (a joiner
 * before its first log: nothing to speak for). 0 or 403. */
unsigned auth_peer_claim(const struct auth_policy *p, const struct tls_identity *id, const char *claimed,
			 const struct auth_member *members, size_t n_members, char *why, size_t why_len);

/* POST /join for member `joiner` at `joiner_url`: 0, 401 or 403. A
 * certificate naming a current member other than the joiner joins no one
 * by its host (that member's certificate cannot add a member). */
unsigned auth_join(const struct auth_policy *p, const struct tls_identity *id, const char *joiner,
		   const char *joiner_url, const struct auth_member *members, size_t n_members, char *why,
		   size_t why_len);

#endif
