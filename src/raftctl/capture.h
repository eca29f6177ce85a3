/* src/raftctl/capture.h — captured goraft HTTP exchanges: a directory holding
 * index.json (method, path, status, decoded text of each exchange) and the raw
 * NAME.req / NAME.resp bodies, as in shared/goraft-wire. Used by the tests and
 * by `raftctl wire vectors`. */
#ifndef RAFTD_SRC_RAFTCTL_CAPTURE_H
#define RAFTD_SRC_RAFTCTL_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct capture_exchange {
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

struct capture {
	struct capture_exchange *ex;
	size_t n;
	char *dir;
};

/* Loads every exchange from dir, or when dir is NULL from $GORAFT_WIRE_DIR,
 * or ../shared/goraft-wire. Returns 0, or -errno with a message on stderr
 * that names the file (bad JSON, missing body). */
int capture_load(const char *dir, struct capture *ret);
void capture_free(struct capture *vs);
const struct capture_exchange *capture_find(const struct capture *vs, const char *name);

#endif
