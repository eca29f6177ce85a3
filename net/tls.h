/* net/tls.h — TLS credentials and what a peer's certificate proves.
 *
 * The one place that loads certificates, keys, CA files and priority
 * strings (GnuTLS), so that the HTTP server (net/http_server.c), the peer
 * client (net/peer.c) and the daemon report the same reasons for the same
 * files. A struct tls_creds is immutable once loaded and reference
 * counted: a connection keeps the credentials it started with while a
 * reload (SIGHUP) installs new ones for the connections after it.
 *
 * tls_identify() says what the other side's certificate proves, verified
 * against a given set of CAs; what that identity may do is the caller's
 * decision (src/raftd: 401/403).
 */
#ifndef RAFTD_NET_TLS_H
#define RAFTD_NET_TLS_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>

/* "SECURE" restricted to TLS 1.3 and 1.2 (the owner checks the exact
 * string is accepted by GnuTLS 3.7 and offers nothing older). */
#define TLS_DEFAULT_PRIORITY "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct tls_files {
	const char *cert_file;       /* PEM certificate (chain); NULL: present none */
	const char *key_file;        /* PEM key of cert_file; NULL iff cert_file is NULL */
	const char *trusted_ca_file; /* PEM CAs that verify the other side; NULL: none */
	const char *priority;        /* GnuTLS priority string; NULL: TLS_DEFAULT_PRIORITY */
};

struct tls_creds; /* reference counted, immutable once loaded */

/* Loads and checks (key matches certificate, CA file parses, priority
 * string valid). Returns 0, or -errno with a one-line reason in err that
 * names the file: "cannot read /x/n1.pem: No such file or directory",
 * "/x/n1-key.pem: not a PEM private key", "/x/n1-key.pem does not match
 * /x/n1.pem", "priority string 'X': ...". A priority string that enables
 * any protocol older than TLS 1.2 is refused too (-EINVAL). */
int tls_creds_load(const struct tls_files *files, struct tls_creds **ret, char *err, size_t err_len);
struct tls_creds *tls_creds_ref(struct tls_creds *c);
void tls_creds_unref(struct tls_creds *c);   /* NULL is fine */
gnutls_certificate_credentials_t tls_creds_gnutls(const struct tls_creds *c);
gnutls_priority_t tls_creds_priority(const struct tls_creds *c);
bool tls_creds_has_cert(const struct tls_creds *c);
bool tls_creds_has_trust(const struct tls_creds *c);

/* What the other side's certificate proves. */
enum tls_verdict {
	TLS_PLAIN,    /* no TLS on this connection */
	TLS_NO_CERT,  /* TLS, but the other side sent no certificate */
	TLS_VERIFIED, /* chain verified against the trust given; names below are the identity */
	TLS_REFUSED,  /* sent one, it did not verify: reason says why */
};
#define TLS_MAX_NAMES 16
#define TLS_NAME_MAX 256
struct tls_identity {
	enum tls_verdict verdict;
	char reason[128];  /* TLS_REFUSED: "expired", "signed by an unknown authority",
			    * "not yet valid", "revoked", "insecure algorithm", ... */
	char cn[TLS_NAME_MAX];                   /* subject CN, "" if none */
	size_t n_names;
	char names[TLS_MAX_NAMES][TLS_NAME_MAX]; /* SANs: DNS names, IP addresses as text
						  * (inet_ntop form), URIs */
};

/* Verifies the session's peer certificate chain against trust's CAs (no
 * hostname check: identities are matched by the caller) and fills *id.
 * The names are filled whenever the certificate parses, also when it is
 * refused (for the log); they are an identity only with TLS_VERIFIED.
 * The other side is a client: a certificate whose extended key usage
 * leaves out TLS client authentication is refused. trust NULL or without
 * CAs refuses every certificate. */
void tls_identify(gnutls_session_t session, const struct tls_creds *trust, struct tls_identity *id);

/* The CN or any SAN equals name: DNS names case-insensitively, IP
 * addresses by value (so "::1" matches "0:0::1"), URIs exactly. False
 * unless id is TLS_VERIFIED. */
bool tls_identity_has(const struct tls_identity *id, const char *name);

#endif
