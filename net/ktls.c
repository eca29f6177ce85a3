/* net/ktls.c — see ktls.h. */
#include "net/ktls.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/tls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

int ktls_attach(int fd)
{
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return -errno;
	return 0;
}

int ktls_set_keys(int fd, gnutls_session_t session, bool rx)
{
	gnutls_datum_t mac, iv, key;
	unsigned char seq[8];
	union {
		struct tls12_crypto_info_aes_gcm_128 g128;
		struct tls12_crypto_info_aes_gcm_256 g256;
		struct tls12_crypto_info_chacha20_poly1305 cc;
	} ci;
	size_t len;
	int r = 0;
	unsigned short version;

	memset(&ci, 0, sizeof(ci));
	switch (gnutls_protocol_get_version(session)) {
	case GNUTLS_TLS1_2:
		version = TLS_1_2_VERSION;
		break;
	case GNUTLS_TLS1_3:
		version = TLS_1_3_VERSION;
		break;
	default:
		return -EOPNOTSUPP;
	}
	/* read = 1 gives the keys the other side writes with. */
	if (gnutls_record_get_state(session, rx ? 1 : 0, &mac, &iv, &key, seq) < 0)
		return -EOPNOTSUPP;
	bool tls13 = version == TLS_1_3_VERSION;
	gnutls_cipher_algorithm_t c = gnutls_cipher_get(session);
	/* GCM: TLS 1.3 derives a 12-byte IV (salt = its first 4 bytes, the rest
	 * is XORed with the sequence number); TLS 1.2 has a 4-byte implicit
	 * salt and an explicit nonce, which GnuTLS sets to the sequence
	 * number, so the kernel continues from there. */
	if (c == GNUTLS_CIPHER_AES_128_GCM && key.size == TLS_CIPHER_AES_GCM_128_KEY_SIZE) {
		struct tls12_crypto_info_aes_gcm_128 *g = &ci.g128;
		g->info.version = version;
		g->info.cipher_type = TLS_CIPHER_AES_GCM_128;
		if (tls13 ? iv.size != 12 : iv.size < TLS_CIPHER_AES_GCM_128_SALT_SIZE)
			goto unsupported;
		memcpy(g->salt, iv.data, TLS_CIPHER_AES_GCM_128_SALT_SIZE);
		memcpy(g->iv, tls13 ? iv.data + 4 : seq, TLS_CIPHER_AES_GCM_128_IV_SIZE);
		memcpy(g->key, key.data, key.size);
		memcpy(g->rec_seq, seq, sizeof(g->rec_seq));
		len = sizeof(*g);
	} else if (c == GNUTLS_CIPHER_AES_256_GCM && key.size == TLS_CIPHER_AES_GCM_256_KEY_SIZE) {
		struct tls12_crypto_info_aes_gcm_256 *g = &ci.g256;
		g->info.version = version;
		g->info.cipher_type = TLS_CIPHER_AES_GCM_256;
		if (tls13 ? iv.size != 12 : iv.size < TLS_CIPHER_AES_GCM_256_SALT_SIZE)
			goto unsupported;
		memcpy(g->salt, iv.data, TLS_CIPHER_AES_GCM_256_SALT_SIZE);
		memcpy(g->iv, tls13 ? iv.data + 4 : seq, TLS_CIPHER_AES_GCM_256_IV_SIZE);
		memcpy(g->key, key.data, key.size);
		memcpy(g->rec_seq, seq, sizeof(g->rec_seq));
		len = sizeof(*g);
	} else if (c == GNUTLS_CIPHER_CHACHA20_POLY1305 &&
		   key.size == TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE &&
		   iv.size == TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE) {
		struct tls12_crypto_info_chacha20_poly1305 *g = &ci.cc;
		g->info.version = version;
		g->info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(g->iv, iv.data, iv.size);
		memcpy(g->key, key.data, key.size);
		memcpy(g->rec_seq, seq, sizeof(g->rec_seq));
		len = sizeof(*g);
	} else {
		goto unsupported;
	}
	if (setsockopt(fd, SOL_TLS, rx ? TLS_RX : TLS_TX, &ci, (socklen_t)len) < 0)
		r = -errno;
	goto out;
unsupported:
	r = -EOPNOTSUPP;
out:
	/* The keys are secrets: do not leave copies on the stack. */
	explicit_bzero(&ci, sizeof(ci));
	return r;
}
