/* tests/lib/certs.h — the certificates of the TLS unit tests:
 * tests/lib/mkcerts.sh (see its header for the names) run once per program
 * into a temporary directory, and credentials loaded from it.
 *
 * certs_make() and certs_remove() are Check's unchecked fixture
 * (tcase_add_unchecked_fixture): they run in the parent process, so the
 * forked tests share one directory. A program that uses them defines
 * MKCERTS (the script's path) in its CPPFLAGS and adds $(CERTS) to its
 * sources.
 */
#ifndef RAFTD_TESTS_LIB_CERTS_H
#define RAFTD_TESTS_LIB_CERTS_H

#include "net/tls.h"

void certs_make(void);
void certs_remove(void);
/* The directory certs_make() filled. */
const char *certs_dir(void);
/* NAME's certificate and key (NULL: none), CA's certificate as the trust
 * (NULL: none), a priority string (NULL: the default); a failure to load
 * fails the test. */
struct tls_creds *certs_load(const char *name, const char *ca, const char *priority);

#endif
