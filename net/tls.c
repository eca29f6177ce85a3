/* net/tls.c — TLS credentials and peer identities (GnuTLS); see the header. */
#include "net/tls.h"

#include "base/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct tls_creds {
	unsigned refs;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t priority;
	bool has_cert;
	bool has_trust;
};

/* Certificates and keys are small; anything larger is not one. */
#define TLS_FILE_MAX (1u << 20)
#define TLS_CHAIN_MAX 16

/* Reads a whole file, so that a read error is reported with its errno
 * (GnuTLS's own file loading only says "file error"). */
static int read_file(const char *path, gnutls_datum_t *out, char *err, size_t err_len)
{
	int rv = 0;
	struct stat st;
	unsigned char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rv = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TLS_FILE_MAX) {
		rv = S_ISDIR(st.st_mode) ? -EISDIR : -EFBIG;
		goto out;
	}
	buf = base_malloc((size_t)st.st_size + 1);
	if (!buf) {
		rv = -ENOMEM;
		goto out;
	}
	size_t len = 0;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rv = n < 0 ? -errno : -EIO;
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	out->data = buf;
	out->size = (unsigned)len;
	buf = NULL;
out:
	if (rv < 0)
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(-rv));
	free(buf);
	if (fd >= 0)
		close(fd);
	return rv;
}

/* Parses the certificate and the key on their own first, so that the
 * message names the file that is wrong; GnuTLS then checks they match. */
static int load_key_pair(struct tls_creds *c, const char *cert_file, const char *key_file, char *err,
			 size_t err_len)
{
	gnutls_datum_t cert = { 0 }, key = { 0 };
	gnutls_x509_crt_t *list = NULL;
	unsigned n_list = 0;
	gnutls_x509_privkey_t pk = NULL;
	int rv = read_file(cert_file, &cert, err, err_len);
	if (rv == 0)
		rv = read_file(key_file, &key, err, err_len);
	if (rv < 0)
		goto out;
	int g = gnutls_x509_crt_list_import2(&list, &n_list, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0 || n_list == 0) {
		snprintf(err, err_len, "%s: not a PEM certificate (%s)", cert_file,
			 g < 0 ? gnutls_strerror(g) : "none found");
		rv = g == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		goto out;
	}
	g = gnutls_x509_privkey_init(&pk);
	if (g == 0)
		g = gnutls_x509_privkey_import2(pk, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0) {
		snprintf(err, err_len, "%s: not a PEM private key (%s)", key_file, gnutls_strerror(g));
		rv = g == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		goto out;
	}
	g = gnutls_certificate_set_x509_key_mem2(c->cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
		snprintf(err, err_len, "%s does not match %s", key_file, cert_file);
		rv = -EINVAL;
	} else if (g < 0) {
		snprintf(err, err_len, "%s, %s: %s", cert_file, key_file, gnutls_strerror(g));
		rv = g == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
	}
	c->has_cert = rv == 0;
out:
	for (unsigned i = 0; i < n_list; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	if (pk)
		gnutls_x509_privkey_deinit(pk);
	if (key.data) /* a private key does not linger in freed memory */
		gnutls_memset(key.data, 0, key.size);
	free(key.data);
	free(cert.data);
	return rv;
}

static int load_trust(struct tls_creds *c, const char *ca_file, char *err, size_t err_len)
{
	gnutls_datum_t ca = { 0 };
	int rv = read_file(ca_file, &ca, err, err_len);
	if (rv < 0)
		goto out;
	int g = gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM);
	if (g <= 0) {
		snprintf(err, err_len, "%s: not a PEM CA certificate (%s)", ca_file,
			 g < 0 ? gnutls_strerror(g) : "none found");
		rv = g == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		goto out;
	}
	c->has_trust = true;
out:
	free(ca.data);
	return rv;
}

/* The issue asks for TLS 1.2 and 1.3 only: a configured priority string
 * may choose ciphers, never bring back an older protocol. */
static int load_priority(struct tls_creds *c, const char *prio, char *err, size_t err_len)
{
	const char *errpos = NULL;
	const unsigned *protos = NULL;
	bool modern = false, old = false;
	int g = gnutls_priority_init2(&c->priority, prio, &errpos, 0);
	if (g < 0) {
		c->priority = NULL;
		if (errpos && *errpos)
			snprintf(err, err_len, "priority string '%s': invalid at '%s'", prio, errpos);
		else
			snprintf(err, err_len, "priority string '%s': %s", prio, gnutls_strerror(g));
		return g == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
	}
	int n = gnutls_priority_protocol_list(c->priority, &protos);
	for (int i = 0; i < n; i++) {
		if (protos[i] == GNUTLS_TLS1_2 || protos[i] == GNUTLS_TLS1_3)
			modern = true;
		else if (protos[i] == GNUTLS_SSL3 || protos[i] == GNUTLS_TLS1_0 || protos[i] == GNUTLS_TLS1_1)
			old = true;
	}
	if (old || !modern) {
		snprintf(err, err_len, "priority string '%s': %s", prio,
			 old ? "enables a protocol older than TLS 1.2" : "enables neither TLS 1.2 nor TLS 1.3");
		return -EINVAL;
	}
	return 0;
}

int tls_creds_load(const struct tls_files *files, struct tls_creds **ret, char *err, size_t err_len)
{
	int rv = -ENOMEM;
	struct tls_creds *c = base_calloc(1, sizeof(*c));
	if (!c || gnutls_certificate_allocate_credentials(&c->cred) < 0) {
		snprintf(err, err_len, "out of memory loading TLS credentials");
		goto fail;
	}
	c->refs = 1;
	if (!files->cert_file != !files->key_file) {
		snprintf(err, err_len, "a certificate needs its key and a key its certificate (%s)",
			 files->cert_file ? files->cert_file : files->key_file);
		rv = -EINVAL;
		goto fail;
	}
	rv = files->cert_file ? load_key_pair(c, files->cert_file, files->key_file, err, err_len) : 0;
	if (rv == 0 && files->trusted_ca_file)
		rv = load_trust(c, files->trusted_ca_file, err, err_len);
	if (rv == 0)
		rv = load_priority(c, files->priority ? files->priority : TLS_DEFAULT_PRIORITY, err, err_len);
	if (rv < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	tls_creds_unref(c);
	return rv;
}

struct tls_creds *tls_creds_ref(struct tls_creds *c)
{
	/* the peer client and the server may run on other threads */
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void tls_creds_unref(struct tls_creds *c)
{
	if (!c || (c->refs && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0))
		return;
	if (c->priority)
		gnutls_priority_deinit(c->priority);
	if (c->cred)
		gnutls_certificate_free_credentials(c->cred);
	free(c);
}

gnutls_certificate_credentials_t tls_creds_gnutls(const struct tls_creds *c)
{
	return c->cred;
}

gnutls_priority_t tls_creds_priority(const struct tls_creds *c)
{
	return c->priority;
}

bool tls_creds_has_cert(const struct tls_creds *c)
{
	return c && c->has_cert;
}

bool tls_creds_has_trust(const struct tls_creds *c)
{
	return c && c->has_trust;
}

/* --- identities ------------------------------------------------------------ */

static const char *reason_of(unsigned status)
{
	/* the cause an operator can act on first: an unknown CA also fails
	 * every later check */
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
		return "signed by an unknown authority";
	if (status & GNUTLS_CERT_REVOKED)
		return "revoked";
	if (status & GNUTLS_CERT_EXPIRED)
		return "expired";
	if (status & GNUTLS_CERT_NOT_ACTIVATED)
		return "not yet valid";
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		return "insecure algorithm";
	if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
		return "bad signature";
	if (status & GNUTLS_CERT_SIGNER_NOT_CA)
		return "signed by a certificate that is not a CA";
	if (status & GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE)
		return "outside its signer's constraints";
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		return "not for TLS client use (its extended key usage)";
	return "did not verify";
}

/* A name with a NUL inside (a CA tricked into signing "good\0.evil")
 * would compare as its prefix: such a name is dropped, not cut. */
static void add_name(struct tls_identity *id, const char *name, size_t len)
{
	if (id->n_names == TLS_MAX_NAMES || len >= TLS_NAME_MAX || memchr(name, '\0', len))
		return;
	memcpy(id->names[id->n_names], name, len);
	id->names[id->n_names][len] = '\0';
	id->n_names++;
}

static void read_names(gnutls_x509_crt_t crt, struct tls_identity *id)
{
	char buf[TLS_NAME_MAX];
	size_t size = sizeof(buf);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) == 0 &&
	    size < sizeof(buf) && !memchr(buf, '\0', size)) {
		memcpy(id->cn, buf, size);
		id->cn[size] = '\0';
	}
	for (unsigned seq = 0;; seq++) {
		size = sizeof(buf);
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		char ip[INET6_ADDRSTRLEN];
		if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_URI)
			add_name(id, buf, size);
		else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16) &&
			 inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, ip, sizeof(ip)))
			add_name(id, ip, strlen(ip));
		/* anything else (too long, e-mail, other types) names no peer */
	}
}

void tls_identify(gnutls_session_t session, const struct tls_creds *trust, struct tls_identity *id)
{
	gnutls_x509_crt_t chain[TLS_CHAIN_MAX];
	unsigned n_raw = 0, n = 0, status = 0;
	memset(id, 0, sizeof(*id));
	const gnutls_datum_t *raw = gnutls_certificate_get_peers(session, &n_raw);
	if (!raw || n_raw == 0) {
		id->verdict = TLS_NO_CERT;
		return;
	}
	id->verdict = TLS_REFUSED;
	for (; n < n_raw && n < TLS_CHAIN_MAX; n++) {
		if (gnutls_x509_crt_init(&chain[n]) < 0)
			goto out;
		if (gnutls_x509_crt_import(chain[n], &raw[n], GNUTLS_X509_FMT_DER) < 0) {
			n++;
			snprintf(id->reason, sizeof(id->reason), "not an X.509 certificate");
			goto out;
		}
	}
	read_names(chain[0], id);
	if (!tls_creds_has_trust(trust)) {
		snprintf(id->reason, sizeof(id->reason), "no CA configured to verify it");
		goto out;
	}
	/* the trust's own credentials hold its CAs, whatever credentials
	 * the session runs with. Only the server side verifies with this
	 * (the peer client lets GnuTLS check the server), so the other side
	 * is a client: a certificate made for servers only is not one, as
	 * etcd holds too. */
	gnutls_x509_trust_list_t tl;
	gnutls_certificate_get_trust_list(trust->cred, &tl);
	gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
					  .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT };
	if (gnutls_x509_trust_list_verify_crt2(tl, chain, n, &purpose, 1, 0, &status, NULL) < 0) {
		snprintf(id->reason, sizeof(id->reason), "could not be verified");
		goto out;
	}
	if (status) {
		snprintf(id->reason, sizeof(id->reason), "%s", reason_of(status));
		goto out;
	}
	id->verdict = TLS_VERIFIED;
out:
	if (id->verdict == TLS_REFUSED && !id->reason[0])
		snprintf(id->reason, sizeof(id->reason), "out of memory verifying it");
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(chain[i]);
}

/* An address as 4 or 16 bytes, IPv4-mapped IPv6 taken as IPv4; 0: not one. */
static size_t parse_ip(const char *s, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) != 1)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)out)) {
		memmove(out, out + 12, 4);
		return 4;
	}
	return 16;
}

static bool name_eq(const char *have, const char *want)
{
	unsigned char a[16], b[16];
	size_t la = parse_ip(have, a), lb = parse_ip(want, b);
	if (la || lb)
		return la == lb && memcmp(a, b, la) == 0;
	/* a URI has a scheme and a colon; DNS names have neither */
	if (strchr(have, ':'))
		return strcmp(have, want) == 0;
	return strcasecmp(have, want) == 0;
}

bool tls_identity_has(const struct tls_identity *id, const char *name)
{
	if (id->verdict != TLS_VERIFIED || !name || !*name)
		return false;
	if (id->cn[0] && strcmp(id->cn, name) == 0)
		return true;
	for (size_t i = 0; i < id->n_names; i++)
		if (name_eq(id->names[i], name))
			return true;
	return false;
}
