/* tests/daemon/test_auth.c — who may do what: route classes, roles, peer
 * certificates and the members they speak for, /join (src/raftd/auth.h). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "src/raftd/auth.h"
#include "tests/lib/check_main.h"

static char why[256];

/* A verified identity with CN cn and the SANs given (NULL-terminated). */
static struct tls_identity ident(enum tls_verdict verdict, const char *cn, ...)
{
	struct tls_identity id = { .verdict = verdict };
	snprintf(id.cn, sizeof(id.cn), "%s", cn);
	va_list ap;
	va_start(ap, cn);
	for (const char *s; (s = va_arg(ap, const char *)) && id.n_names < TLS_MAX_NAMES;)
		snprintf(id.names[id.n_names++], TLS_NAME_MAX, "%s", s);
	va_end(ap);
	if (verdict == TLS_REFUSED)
		snprintf(id.reason, sizeof(id.reason), "expired");
	return id;
}

/* Every route of api.c's routes_for(), by method and path. */
static const struct {
	const char *method, *path;
	enum auth_class cls;
} routes[] = {
	{ "GET", "/db/k", AUTH_READ },
	{ "POST", "/db/k", AUTH_WRITE },
	{ "PUT", "/db/k", AUTH_WRITE },
	{ "DELETE", "/db/k", AUTH_WRITE },
	{ "GET", "/status", AUTH_READ },
	{ "GET", "/metrics", AUTH_READ },
	{ "GET", "/health", AUTH_READ },
	{ "POST", "/join", AUTH_JOIN },
	{ "POST", "/leave", AUTH_ADMIN },
	{ "POST", "/raftd/snapshot", AUTH_ADMIN },
	{ "GET", "/raftd/snapshot", AUTH_ADMIN },
	{ "POST", "/raftd/transfer", AUTH_ADMIN },
	{ "POST", "/raftd/promote", AUTH_ADMIN },
	{ "POST", "/raft/appendEntries", AUTH_PEER },
	{ "POST", "/raft/requestVote", AUTH_PEER },
	{ "POST", "/raft/snapshot", AUTH_PEER },
	{ "POST", "/raft/snapshotRecovery", AUTH_PEER },
	{ "POST", "/raftd/preVote", AUTH_PEER },
	{ "POST", "/raftd/propose", AUTH_PEER }, /* a follower's v3 write, forwarded */
	{ "POST", "/raftd/timeoutNow", AUTH_PEER },
	{ "POST", "/raftd/transferVote", AUTH_PEER },
	{ "POST", "/raftd/readIndex", AUTH_PEER },
	{ "GET", "/raftd/version", AUTH_PEER },
	/* what raftd does not know gets the strictest class */
	{ "GET", "/debug", AUTH_ADMIN },
	{ "POST", "/status", AUTH_ADMIN },
};

START_TEST(test_classes)
{
	ck_assert_msg(auth_classify(routes[_i].method, routes[_i].path) == routes[_i].cls, "%s %s", routes[_i].method,
		      routes[_i].path);
}
END_TEST

static const struct config_role roles[] = {
	{ "reader", CONFIG_ROLE_READ },
	{ "writer", CONFIG_ROLE_WRITE },
	{ "admin", CONFIG_ROLE_ADMIN },
	{ "ops.example.com", CONFIG_ROLE_ADMIN },
};

static struct auth_policy client_policy(void)
{
	return (struct auth_policy){ .client_cert_auth = true, .roles = roles, .n_roles = 4 };
}

START_TEST(test_roles)
{
	struct auth_policy p = client_policy();
	struct tls_identity reader = ident(TLS_VERIFIED, "reader", NULL), writer = ident(TLS_VERIFIED, "writer", NULL),
			    admin = ident(TLS_VERIFIED, "admin", NULL);
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /db", &reader, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_client(&p, AUTH_WRITE, "POST /db", &reader, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "identity reader has role read; POST /db needs write");
	ck_assert_uint_eq(auth_client(&p, AUTH_WRITE, "POST /db", &writer, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_client(&p, AUTH_ADMIN, "POST /leave", &writer, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "identity writer has role write; POST /leave needs admin");
	ck_assert_uint_eq(auth_client(&p, AUTH_ADMIN, "POST /leave", &admin, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /status", &admin, why, sizeof(why)), 0);
	/* a client role never reaches a peer path */
	ck_assert_uint_eq(auth_client(&p, AUTH_PEER, "POST /raft/", &admin, why, sizeof(why)), 403);

	/* a SAN is an identity too (DNS names case-insensitively) */
	struct tls_identity ops = ident(TLS_VERIFIED, "someone", "OPS.example.com", NULL);
	ck_assert_uint_eq(auth_client(&p, AUTH_ADMIN, "POST /raftd/transfer", &ops, why, sizeof(why)), 0);
	/* a verified certificate no line names has no role */
	struct tls_identity stranger = ident(TLS_VERIFIED, "mallory", NULL);
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /db", &stranger, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "identity mallory has no role; GET /db needs read");
	/* several lines: the highest role */
	struct tls_identity both = ident(TLS_VERIFIED, "reader", "writer", NULL);
	ck_assert_uint_eq(auth_client(&p, AUTH_WRITE, "DELETE /db", &both, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_wildcard_role)
{
	const struct config_role r[] = { { "*", CONFIG_ROLE_READ }, { "lowly", CONFIG_ROLE_NONE },
					 { "writer", CONFIG_ROLE_WRITE } };
	struct auth_policy p = { .client_cert_auth = true, .roles = r, .n_roles = 3 };
	struct tls_identity anyone = ident(TLS_VERIFIED, "anyone", NULL), writer = ident(TLS_VERIFIED, "writer", NULL);
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /db", &anyone, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_client(&p, AUTH_WRITE, "POST /db", &anyone, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "identity anyone has role read; POST /db needs write");
	ck_assert_uint_eq(auth_client(&p, AUTH_WRITE, "POST /db", &writer, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_unauthenticated)
{
	struct auth_policy p = client_policy();
	struct tls_identity none = ident(TLS_NO_CERT, "", NULL), refused = ident(TLS_REFUSED, "", NULL),
			    plain = ident(TLS_PLAIN, "", NULL);
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /db", &none, why, sizeof(why)), 401);
	ck_assert_str_eq(why, "no client certificate: this node requires one (client-cert-auth)");
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /db", &refused, why, sizeof(why)), 401);
	ck_assert_str_eq(why, "client certificate refused: expired");
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /db", &plain, why, sizeof(why)), 401);
	/* a refused certificate has no role, whatever its CN says */
	struct tls_identity forged = ident(TLS_REFUSED, "admin", NULL);
	ck_assert_uint_eq(auth_client(&p, AUTH_READ, "GET /db", &forged, why, sizeof(why)), 401);
	ck_assert_int_eq(auth_role(&p, &forged, NULL), CONFIG_ROLE_NONE);

	/* without client-cert-auth: as goraft, everyone may do everything */
	p.client_cert_auth = false;
	ck_assert_uint_eq(auth_client(&p, AUTH_ADMIN, "POST /leave", &plain, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_peer(&p, &plain, why, sizeof(why)), 0);
}
END_TEST

static const struct auth_member members[] = {
	{ "n1", "https://host1.example:4001" },
	{ "n2", "https://host2.example:4001" },
	{ "n3", "https://[::1]:4003" },
};

START_TEST(test_peers)
{
	struct auth_policy p = { .peer_cert_auth = true };
	struct tls_identity n1 = ident(TLS_VERIFIED, "n1", "n1", "host1.example", NULL);
	ck_assert_uint_eq(auth_peer(&p, &n1, why, sizeof(why)), 0);
	struct tls_identity none = ident(TLS_NO_CERT, "", NULL), expired = ident(TLS_REFUSED, "n1", NULL);
	ck_assert_uint_eq(auth_peer(&p, &none, why, sizeof(why)), 401);
	ck_assert_str_eq(why, "no peer certificate: this node requires one (peer-client-cert-auth)");
	ck_assert_uint_eq(auth_peer(&p, &expired, why, sizeof(why)), 401);
	ck_assert_str_eq(why, "peer certificate refused: expired");

	p.allowed_cn = "n1, n2,n3";
	ck_assert_uint_eq(auth_peer(&p, &n1, why, sizeof(why)), 0);
	struct tls_identity reader = ident(TLS_VERIFIED, "reader", NULL);
	ck_assert_uint_eq(auth_peer(&p, &reader, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "peer certificate CN \"reader\" is not one of peer-allowed-cn (n1, n2,n3)");
	p.allowed_cn = NULL;
	p.allowed_hostname = "HOST1.example";
	ck_assert_uint_eq(auth_peer(&p, &n1, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_peer(&p, &reader, why, sizeof(why)), 403);
}
END_TEST

/* A member cannot speak for another: the certificate names the member the
 * request claims, or its URL's host. */
START_TEST(test_peer_claims)
{
	struct auth_policy p = { .peer_cert_auth = true };
	struct tls_identity n1 = ident(TLS_VERIFIED, "n1", "n1", "localhost", NULL);
	ck_assert_uint_eq(auth_peer_claim(&p, &n1, "n1", members, 3, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_peer_claim(&p, &n1, "n2", members, 3, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "certificate of member n1 speaks for member n2: refused");
	/* by the URL's host: a certificate for the machine */
	struct tls_identity host2 = ident(TLS_VERIFIED, "host2.example", "host2.example", NULL);
	ck_assert_uint_eq(auth_peer_claim(&p, &host2, "n2", members, 3, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_peer_claim(&p, &host2, "n1", members, 3, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "certificate of host2.example names neither member n1 nor its host host1.example: it "
			      "cannot speak for n1");
	/* IPv6 hosts by value */
	struct tls_identity v6 = ident(TLS_VERIFIED, "box", "0:0::1", NULL);
	ck_assert_uint_eq(auth_peer_claim(&p, &v6, "n3", members, 3, why, sizeof(why)), 0);
	/* a host name shared with another member's name does not let n1
	 * speak for n3 */
	struct tls_identity n1v6 = ident(TLS_VERIFIED, "n1", "::1", NULL);
	ck_assert_uint_eq(auth_peer_claim(&p, &n1v6, "n3", members, 3, why, sizeof(why)), 403);
	/* an invented leader (the forged AppendEntries) */
	ck_assert_uint_eq(auth_peer_claim(&p, &n1, "ghost", members, 3, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "certificate of n1 speaks for ghost, which is not a member");
	/* a joiner before its first log knows no members */
	ck_assert_uint_eq(auth_peer_claim(&p, &n1, "n1", NULL, 0, why, sizeof(why)), 0);
	/* off: anything goes, as with goraft */
	p.peer_cert_auth = false;
	ck_assert_uint_eq(auth_peer_claim(&p, &n1, "ghost", members, 3, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_join)
{
	struct auth_policy p = client_policy();
	p.peer_cert_auth = true;
	struct tls_identity admin = ident(TLS_VERIFIED, "admin", NULL), n4 = ident(TLS_VERIFIED, "n4", "n4", NULL),
			    reader = ident(TLS_VERIFIED, "reader", NULL), none = ident(TLS_NO_CERT, "", NULL);
	ck_assert_uint_eq(auth_join(&p, &admin, "n5", "https://h5:1", NULL, 0, why, sizeof(why)), 0);
	/* the joiner itself, by name or by its URL's host */
	ck_assert_uint_eq(auth_join(&p, &n4, "n4", "https://h4:1", NULL, 0, why, sizeof(why)), 0);
	struct tls_identity h4 = ident(TLS_VERIFIED, "machine", "h4", NULL);
	ck_assert_uint_eq(auth_join(&p, &h4, "n4", "https://h4:1", NULL, 0, why, sizeof(why)), 0);
	/* but not anyone else */
	ck_assert_uint_eq(auth_join(&p, &n4, "n5", "https://h5:1", NULL, 0, why, sizeof(why)), 403);
	ck_assert_msg(strstr(why, "needs admin, or a member certificate naming the joiner n5"), "%s", why);
	ck_assert_uint_eq(auth_join(&p, &reader, "reader", "https://evil:1", NULL, 0, why, sizeof(why)), 0);
	/* a member's certificate adds no one else, even on a host it names */
	struct tls_identity n1 = ident(TLS_VERIFIED, "n1", "n1", "h4", NULL);
	ck_assert_uint_eq(auth_join(&p, &n1, "n4", "https://h4:1", members, 3, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "certificate of member n1 cannot join n4: a member joins with its own certificate");
	ck_assert_uint_eq(auth_join(&p, &n1, "n1", "https://h4:1", members, 3, why, sizeof(why)), 0);
	/* a member certificate the peer policy does not allow may not join */
	p.allowed_cn = "n1,n2,n3,n4,n5";
	ck_assert_uint_eq(auth_join(&p, &reader, "reader", "https://evil:1", NULL, 0, why, sizeof(why)), 403);
	ck_assert_uint_eq(auth_join(&p, &n4, "n4", "https://h4:1", NULL, 0, why, sizeof(why)), 0);
	ck_assert_uint_eq(auth_join(&p, &none, "n4", "https://h4:1", NULL, 0, why, sizeof(why)), 401);
	/* clients only: admin */
	p.peer_cert_auth = false;
	ck_assert_uint_eq(auth_join(&p, &n4, "n4", "https://h4:1", NULL, 0, why, sizeof(why)), 403);
	ck_assert_str_eq(why, "identity n4 has role none; POST /join needs admin");
	ck_assert_uint_eq(auth_join(&p, &admin, "n4", "https://h4:1", NULL, 0, why, sizeof(why)), 0);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_loop_test(tc, test_classes, 0, sizeof(routes) / sizeof(routes[0]));
	tcase_add_test(tc, test_roles);
	tcase_add_test(tc, test_wildcard_role);
	tcase_add_test(tc, test_unauthenticated);
	tcase_add_test(tc, test_peers);
	tcase_add_test(tc, test_peer_claims);
	tcase_add_test(tc, test_join);
	suite_add_tcase(s, tc);
	return s;
}
