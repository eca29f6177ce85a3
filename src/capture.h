/* tests/vectors.h — the captured goraft exchanges in $GORAFT_WIRE_DIR
 * (index.json plus NAME.req / NAME.resp bodies), loaded for tests. */
#ifndef RAFTD_TESTS_VECTORS_H
#define RAFTD_TESTS_VECTORS_H

#include <stddef.h>
#include <stdint.h>

struct vector {
	char *name;
	char *method;
	char *path;
	int status;           /* HTTP status code, e.g. 200 */
	char *request_text;   /* decoded text from index.json, NULL if none */
	char *response_text;
	uint8_t *req;         /* raw request body */
	size_t req_len;
	uint8_t *resp;        /* raw response body */
	size_t resp_len;
};

struct vectors {
	struct vector *v;
	size_t n;
	char *dir;
};

/* Loads every exchange. Returns 0, or -errno with a message on stderr that
 * names the file (GORAFT_WIRE_DIR unset or wrong, bad JSON, missing body). */
int vectors_load(struct vectors *ret);
void vectors_free(struct vectors *vs);
const struct vector *vectors_find(const struct vectors *vs, const char *name);

#endif
