/* tests/lib/certs.c — see certs.h. */
#include "tests/lib/certs.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[64];

void certs_make(void)
{
	char cmd[512];
	snprintf(dir, sizeof(dir), "/tmp/raftd-certs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", MKCERTS, dir);
	ck_assert_int_eq(system(cmd), 0);
}

void certs_remove(void)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

const char *certs_dir(void)
{
	return dir;
}

struct tls_creds *certs_load(const char *name, const char *ca, const char *priority)
{
	char cert[256], key[256], cafile[256];
	snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name ? name : "");
	snprintf(key, sizeof(key), "%s/%s-key.pem", dir, name ? name : "");
	snprintf(cafile, sizeof(cafile), "%s/%s.pem", dir, ca ? ca : "");
	struct tls_files f = { name ? cert : NULL, name ? key : NULL, ca ? cafile : NULL, priority };
	struct tls_creds *c = NULL;
	char err[256] = "";
	int rv = tls_creds_load(&f, &c, err, sizeof(err));
	ck_assert_msg(rv == 0, "load %s: %s", name ? name : "-", err);
	return c;
}
