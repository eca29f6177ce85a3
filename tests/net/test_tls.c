/* tests/net/test_tls.c — TLS credentials and identities (net/tls), with
 * certificates made at test time by tests/lib/mkcerts.sh and handshakes
 * done in-process over a socketpair. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "net/tls.h"
#include "tests/lib/certs.h"
#include "tests/lib/check_main.h"

/* DIR/NAME.pem, or DIR/NAME-key.pem; NULL for NULL. Rotates through
 * buffers so that one call can take several. */
static const char *pem(const char *name, bool key)
{
	static char bufs[8][256];
	static unsigned next;
	if (!name)
		return NULL;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof(bufs[0]), "%s/%s%s.pem", certs_dir(), name, key ? "-key" : "");
	return b;
}

static int load_err(const char *cert, const char *key, const char *ca, const char *prio, char *err,
		    size_t err_len)
{
	struct tls_files f = { cert, key, ca, prio };
	struct tls_creds *c = NULL;
	err[0] = '\0';
	int rv = tls_creds_load(&f, &c, err, err_len);
	tls_creds_unref(c);
	return rv;
}

/* --- loading ------------------------------------------------------------------- */

START_TEST(test_errors_name_the_file)
{
	char err[256], want[512], junk[256];
	snprintf(junk, sizeof(junk), "%s/junk.pem", certs_dir());
	FILE *f = fopen(junk, "w");
	fputs("not a certificate\n", f);
	fclose(f);

	ck_assert_int_eq(load_err(pem("nope", false), pem("n1", true), NULL, NULL, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "cannot read %s/nope.pem: No such file or directory", certs_dir());
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(load_err(pem("n1", false), pem("n1", false), NULL, NULL, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/n1.pem: not a PEM private key", certs_dir());
	ck_assert_msg(!strncmp(err, want, strlen(want)), "got: %s", err);

	ck_assert_int_eq(load_err(junk, pem("n1", true), NULL, NULL, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a PEM certificate", junk);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "got: %s", err);

	ck_assert_int_eq(load_err(pem("n1", false), pem("n2", true), NULL, NULL, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/n2-key.pem does not match %s/n1.pem", certs_dir(), certs_dir());
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(load_err(NULL, NULL, junk, NULL, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a PEM CA certificate", junk);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "got: %s", err);

	ck_assert_int_eq(load_err(NULL, NULL, pem("nada", false), NULL, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "nada.pem"));

	ck_assert_int_eq(load_err(pem("n1", false), pem("n1", true), NULL, "SECURE:+NONSENSE", err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "priority string 'SECURE:+NONSENSE': invalid at '+NONSENSE'");

	/* the string parses, but brings back TLS 1.1 */
	ck_assert_int_eq(load_err(NULL, NULL, NULL, "NORMAL:+VERS-TLS1.1", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "priority string 'NORMAL:+VERS-TLS1.1': enables a protocol older than TLS 1.2");

	ck_assert_int_eq(load_err(pem("n1", false), NULL, NULL, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "n1.pem"));
}
END_TEST

/* Fail the 1st, 2nd, ... allocation of the load: -ENOMEM, nothing leaked
 * (ASan), until the load needs no more. GnuTLS's own are not counted. */
START_TEST(test_load_out_of_memory)
{
	char err[256];
	unsigned long nth;
	for (nth = 1;; nth++) {
		struct tls_files f = { pem("n1", false), pem("n1", true), pem("ca", false), NULL };
		struct tls_creds *c = NULL;
		alloc_fail_nth(nth);
		int rv = tls_creds_load(&f, &c, err, sizeof(err));
		bool fired = alloc_failed();
		alloc_fail_nth(0);
		tls_creds_unref(c);
		if (!fired) {
			ck_assert_int_eq(rv, 0);
			break;
		}
		ck_assert_msg(rv == -ENOMEM, "allocation %lu: %d %s", nth, rv, err);
	}
	ck_assert_uint_gt(nth, 3);
}
END_TEST

START_TEST(test_creds_flags_and_default_priority)
{
	struct tls_creds *server = certs_load("n1", NULL, NULL), *client = certs_load(NULL, "ca", NULL);
	ck_assert(tls_creds_has_cert(server));
	ck_assert(!tls_creds_has_trust(server));
	ck_assert(!tls_creds_has_cert(client));
	ck_assert(tls_creds_has_trust(client));
	ck_assert(!tls_creds_has_cert(NULL) && !tls_creds_has_trust(NULL));
	const unsigned *protos;
	int n = gnutls_priority_protocol_list(tls_creds_priority(server), &protos);
	ck_assert_int_ge(n, 1);
	for (int i = 0; i < n; i++)
		ck_assert_msg(protos[i] == GNUTLS_TLS1_2 || protos[i] == GNUTLS_TLS1_3, "protocol %s offered",
			      gnutls_protocol_get_name(protos[i]));
	ck_assert_ptr_eq(tls_creds_ref(client), client);
	tls_creds_unref(client);
	tls_creds_unref(client);
	tls_creds_unref(server);
	tls_creds_unref(NULL);
}
END_TEST

/* --- handshakes over a socketpair ------------------------------------------------ */

struct pair {
	gnutls_session_t s, c;
	int fds[2];
	int s_rv, c_rv;
};

/* The server requests (never requires) a client certificate; client_prio
 * NULL: the client's creds' priority. Both sides run non-blocking in turn
 * until both are done or one failed. */
static void handshake(struct pair *p, const struct tls_creds *server, const struct tls_creds *client,
		      const char *client_prio)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fds), 0);
	ck_assert_int_eq(gnutls_init(&p->s, GNUTLS_SERVER | GNUTLS_NONBLOCK), 0);
	ck_assert_int_eq(gnutls_init(&p->c, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
	gnutls_credentials_set(p->s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(server));
	gnutls_credentials_set(p->c, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(client));
	ck_assert_int_eq(gnutls_priority_set(p->s, tls_creds_priority(server)), 0);
	if (client_prio)
		ck_assert_int_eq(gnutls_priority_set_direct(p->c, client_prio, NULL), 0);
	else
		ck_assert_int_eq(gnutls_priority_set(p->c, tls_creds_priority(client)), 0);
	gnutls_certificate_server_set_request(p->s, GNUTLS_CERT_REQUEST);
	gnutls_transport_set_int(p->s, p->fds[0]);
	gnutls_transport_set_int(p->c, p->fds[1]);
	p->s_rv = p->c_rv = GNUTLS_E_AGAIN;
	for (int i = 0; i < 1000; i++) {
		if (p->s_rv == GNUTLS_E_AGAIN || p->s_rv == GNUTLS_E_INTERRUPTED)
			p->s_rv = gnutls_handshake(p->s);
		if (p->c_rv == GNUTLS_E_AGAIN || p->c_rv == GNUTLS_E_INTERRUPTED)
			p->c_rv = gnutls_handshake(p->c);
		bool s_done = p->s_rv != GNUTLS_E_AGAIN && p->s_rv != GNUTLS_E_INTERRUPTED;
		bool c_done = p->c_rv != GNUTLS_E_AGAIN && p->c_rv != GNUTLS_E_INTERRUPTED;
		/* one side failed: the other waits for bytes that never come */
		if ((s_done && c_done) || (s_done && p->s_rv < 0) || (c_done && p->c_rv < 0))
			return;
	}
	ck_abort_msg("handshake did not finish");
}

static void pair_free(struct pair *p)
{
	gnutls_deinit(p->s);
	gnutls_deinit(p->c);
	close(p->fds[0]);
	close(p->fds[1]);
}

/* The identity the n1-serving server sees for a client presenting NAME
 * (NULL: none), verified against the CA file trust. */
static void identify_client(const char *name, const char *trust_ca, struct tls_identity *id)
{
	struct tls_creds *server = certs_load("n1", NULL, NULL), *client = certs_load(name, "ca", NULL);
	struct tls_creds *trust = trust_ca ? certs_load(NULL, trust_ca, NULL) : NULL;
	struct pair p;
	handshake(&p, server, client, NULL);
	ck_assert_msg(p.s_rv == 0 && p.c_rv == 0, "handshake: %s / %s", gnutls_strerror(p.s_rv),
		      gnutls_strerror(p.c_rv));
	tls_identify(p.s, trust, id);
	pair_free(&p);
	tls_creds_unref(trust);
	tls_creds_unref(client);
	tls_creds_unref(server);
}

static bool has_name(const struct tls_identity *id, const char *name)
{
	for (size_t i = 0; i < id->n_names; i++)
		if (!strcmp(id->names[i], name))
			return true;
	return false;
}

START_TEST(test_identity_of_a_node)
{
	struct tls_identity id;
	identify_client("n1", "ca", &id);
	ck_assert_msg(id.verdict == TLS_VERIFIED, "verdict %d: %s", id.verdict, id.reason);
	ck_assert_str_eq(id.cn, "n1");
	ck_assert_uint_eq(id.n_names, 13);
	ck_assert(has_name(&id, "n1") && has_name(&id, "localhost") && has_name(&id, "127.0.0.1"));
	ck_assert(has_name(&id, "::1") && has_name(&id, "10.0.0.9"));
	ck_assert(tls_identity_has(&id, "n1"));
	ck_assert(tls_identity_has(&id, "LocalHost"));
	ck_assert(tls_identity_has(&id, "0:0::1"));
	ck_assert(tls_identity_has(&id, "::ffff:127.0.0.1"));
	ck_assert(tls_identity_has(&id, "10.0.0.9"));
	ck_assert(!tls_identity_has(&id, "10.0.0.10"));
	ck_assert(!tls_identity_has(&id, "n2"));
	ck_assert(!tls_identity_has(&id, "n"));
	ck_assert(!tls_identity_has(&id, ""));
}
END_TEST

START_TEST(test_identity_of_a_client)
{
	struct tls_identity id;
	identify_client("writer", "ca", &id);
	ck_assert_msg(id.verdict == TLS_VERIFIED, "verdict %d: %s", id.verdict, id.reason);
	ck_assert_str_eq(id.cn, "writer");
	ck_assert_uint_eq(id.n_names, 0);
	ck_assert(tls_identity_has(&id, "writer"));
	ck_assert(!tls_identity_has(&id, "reader"));
}
END_TEST

START_TEST(test_expired_is_refused)
{
	struct tls_identity id;
	identify_client("expired", "ca", &id);
	ck_assert_int_eq(id.verdict, TLS_REFUSED);
	ck_assert_str_eq(id.reason, "expired");
	ck_assert_str_eq(id.cn, "expired"); /* for the log */
	ck_assert(!tls_identity_has(&id, "expired"));
}
END_TEST

/* A certificate made for servers only is no client's identity: etcd asks
 * for the client-auth key purpose too. */
START_TEST(test_server_only_cert_is_no_client)
{
	struct tls_identity id;
	identify_client("serveronly", "ca", &id);
	ck_assert_int_eq(id.verdict, TLS_REFUSED);
	ck_assert_str_eq(id.reason, "not for TLS client use (its extended key usage)");
	ck_assert(!tls_identity_has(&id, "serveronly"));
}
END_TEST

START_TEST(test_other_ca_is_refused)
{
	struct tls_identity id;
	identify_client("other", "ca", &id);
	ck_assert_int_eq(id.verdict, TLS_REFUSED);
	ck_assert_str_eq(id.reason, "signed by an unknown authority");
	/* it says it is n1: that proves nothing */
	ck_assert_str_eq(id.cn, "n1");
	ck_assert(!tls_identity_has(&id, "n1"));
	/* verified against the other CA, the same certificate is fine */
	identify_client("other", "other-ca", &id);
	ck_assert_int_eq(id.verdict, TLS_VERIFIED);
	/* and against no CA at all, nothing is */
	identify_client("n1", NULL, &id);
	ck_assert_int_eq(id.verdict, TLS_REFUSED);
	ck_assert_str_eq(id.reason, "no CA configured to verify it");
}
END_TEST

START_TEST(test_no_cert)
{
	struct tls_identity id;
	identify_client(NULL, "ca", &id);
	ck_assert_int_eq(id.verdict, TLS_NO_CERT);
	ck_assert(!tls_identity_has(&id, "n1"));
}
END_TEST

/* Only TLS 1.2 and 1.3 with the default priority: a client limited to 1.1
 * gets nowhere, one limited to 1.2 gets 1.2. */
START_TEST(test_default_priority_refuses_tls11)
{
	struct tls_creds *server = certs_load("n1", NULL, NULL), *client = certs_load(NULL, "ca", NULL);
	struct pair p;
	handshake(&p, server, client, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
	ck_assert_int_eq(p.s_rv, 0);
	ck_assert_int_eq(p.c_rv, 0);
	ck_assert_int_eq(gnutls_protocol_get_version(p.s), GNUTLS_TLS1_2);
	pair_free(&p);
	handshake(&p, server, client, "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0");
	ck_assert(p.s_rv < 0 || p.c_rv < 0);
	pair_free(&p);
	tls_creds_unref(client);
	tls_creds_unref(server);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_add_unchecked_fixture(tc, certs_make, certs_remove);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_errors_name_the_file);
	tcase_add_test(tc, test_creds_flags_and_default_priority);
	tcase_add_test(tc, test_load_out_of_memory);
	tcase_add_test(tc, test_identity_of_a_node);
	tcase_add_test(tc, test_identity_of_a_client);
	tcase_add_test(tc, test_expired_is_refused);
	tcase_add_test(tc, test_server_only_cert_is_no_client);
	tcase_add_test(tc, test_other_ca_is_refused);
	tcase_add_test(tc, test_no_cert);
	tcase_add_test(tc, test_default_priority_refuses_tls11);
	suite_add_tcase(s, tc);
	return s;
}
