/* net/grpc_tls.h — TLS for the gRPC server: a struct grpc_io (net/grpc.h)
 * whose connections are GnuTLS server sessions over non-blocking sockets.
 *
 * Only net/grpc.c uses this header; callers configure TLS through
 * grpc_config.tls, grpc_set_tls() and grpc_call_identity() (net/grpc.h).
 *
 * Each connection takes the credentials generation current when it was
 * accepted (its certificate, its trust, client_cert_auth) and keeps it, so
 * that a reload (grpc_tls_set) changes only the connections after it. The
 * handshake offers ALPN "h2" alone and refuses a client that does not pick
 * it, as grpc-go does: with an alert when the client offered other
 * protocols, closed after the handshake when it offered none.
 */
#ifndef RAFTD_NET_GRPC_TLS_H
#define RAFTD_NET_GRPC_TLS_H

#include "net/grpc.h"
#include "net/tls.h"

/* Fills *io with the TLS transport; io->io_data holds a reference to the
 * credentials (freed by grpc_tls_free). Returns 0, -EINVAL (no
 * certificate in tls->creds, or client_cert_auth without client_trust) or
 * -ENOMEM. */
int grpc_tls_init(struct grpc_io *io, const struct grpc_tls *tls);
/* New credentials for the connections accepted from now on; the same
 * errors, and the old ones stay on error. */
int grpc_tls_set(struct grpc_io *io, const struct grpc_tls *tls);
void grpc_tls_free(struct grpc_io *io);
/* The client certificate's identity on a connection of this transport
 * (its io context), verified against the connection's trust; computed once. */
const struct tls_identity *grpc_tls_identity(void *ctx);

#endif
