/* net/ktls.h — handing an established GnuTLS session to the kernel's TLS
 * (the `tls` TCP ULP, Linux >= 4.13 TX, 4.17 RX, 5.1 TLS 1.3).
 *
 * After the handshake, the record keys, IVs and sequence numbers of one
 * direction are copied out of GnuTLS into the kernel; from then on the
 * socket takes and gives plaintext in that direction, so a SENDMSG_ZC of
 * the caller's buffers stays copy-free up to the kernel's encryption.
 * Received records that are not application data come with a cmsg
 * (SOL_TLS, TLS_GET_RECORD_TYPE); see peer.c for what is done with them.
 */
#ifndef RAFTD_NET_KTLS_H
#define RAFTD_NET_KTLS_H

#include <stdbool.h>
#include <gnutls/gnutls.h>

#define KTLS_RECORD_APPDATA 23
#define KTLS_RECORD_ALERT 21
#define KTLS_RECORD_HANDSHAKE 22

/* Attach the tls ULP to the connected TCP socket fd. Returns 0, or -errno:
 * -ENOENT when the kernel has no tls module (the common case: fall back to
 * user space), -EEXIST/-EBUSY when already attached. Without keys set the
 * socket keeps behaving as plain TCP. */
int ktls_attach(int fd);

/* Give the kernel the session's current keys for reading (rx) or writing
 * (!rx). The session's cipher must be AES-128-GCM, AES-256-GCM or
 * ChaCha20-Poly1305 under TLS 1.2 or 1.3, else -EOPNOTSUPP; -ENOMEM etc.
 * from the kernel. The caller must not use GnuTLS for that direction
 * afterwards (its sequence numbers are no longer advanced). */
int ktls_set_keys(int fd, gnutls_session_t session, bool rx);

#endif
