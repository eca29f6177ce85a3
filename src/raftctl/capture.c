#include "src/raftctl/capture.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_file(const char *dir, const char *name, const char *ext, uint8_t **ret, size_t *ret_len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	FILE *f = fopen(path, "rbe");
	if (!f) {
		fprintf(stderr, "capture: cannot open %s: %s\n", path, strerror(errno));
		return -errno;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rv = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *n = realloc(buf, cap);
			if (!n) {
				rv = -ENOMEM;
				break;
			}
			buf = n;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (rv == 0 && ferror(f))
		rv = -EIO;
	fclose(f);
	if (rv < 0) {
		free(buf);
		return rv;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static char *dup_or_null(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? strdup(s) : NULL;
}

int capture_load(const char *dir, struct capture *ret)
{
	if (!dir)
		dir = getenv("GORAFT_WIRE_DIR");
	if (!dir || !*dir)
		dir = "../shared/goraft-wire";
	char path[4096];
	snprintf(path, sizeof(path), "%s/index.json", dir);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root || !json_is_array(root)) {
		fprintf(stderr, "capture: %s: %s (set GORAFT_WIRE_DIR to the goraft-wire directory)\n", path,
			root ? "not a JSON array" : jerr.text);
		json_decref(root);
		return -ENOENT;
	}
	struct capture vs = { calloc(json_array_size(root), sizeof(struct capture_exchange)), 0, strdup(dir) };
	int rv = 0;
	size_t i;
	json_t *e;
	json_array_foreach(root, i, e) {
		struct capture_exchange *v = &vs.ex[vs.n++];
		v->name = dup_or_null(e, "name");
		v->method = dup_or_null(e, "method");
		v->path = dup_or_null(e, "path");
		v->request_text = dup_or_null(e, "request_text");
		v->response_text = dup_or_null(e, "response_text");
		const char *status = json_string_value(json_object_get(e, "status"));
		v->status = status ? atoi(status) : 0;
		if (!v->name || !v->path || !v->status) {
			fprintf(stderr, "capture: %s: entry %zu lacks name, path or status\n", path, i);
			rv = -EINVAL;
			break;
		}
		if ((rv = read_file(dir, v->name, "req", &v->req, &v->req_len)) < 0 ||
		    (rv = read_file(dir, v->name, "resp", &v->resp, &v->resp_len)) < 0)
			break;
	}
	json_decref(root);
	if (rv < 0) {
		capture_free(&vs);
		return rv;
	}
	*ret = vs;
	return 0;
}

void capture_free(struct capture *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		struct capture_exchange *v = &vs->ex[i];
		free(v->name);
		free(v->method);
		free(v->path);
		free(v->request_text);
		free(v->response_text);
		free(v->req);
		free(v->resp);
	}
	free(vs->ex);
	free(vs->dir);
	*vs = (struct capture){ 0 };
}

const struct capture_exchange *capture_find(const struct capture *vs, const char *name)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strcmp(vs->ex[i].name, name) == 0)
			return &vs->ex[i];
	return NULL;
}
