/* net/http_request.c — framing checks on a request head; see the header. */
#include "net/http_request.h"

#include <strings.h>

void http_framing_add(struct http_framing *f, const char *name, const char *value)
{
	if (!strcasecmp(name, "Content-Length")) {
		f->n_length++;
		const char *c = value;
		while (*c >= '0' && *c <= '9')
			c++;
		if (c == value || *c)
			f->length_bad = true;
	} else if (!strcasecmp(name, "Transfer-Encoding")) {
		f->n_encoding++;
		if (strcasecmp(value, "chunked"))
			f->encoding_bad = true;
	}
}

unsigned http_framing_verdict(const struct http_framing *f, const char **why)
{
	if (f->n_length > 1) {
		*why = "more than one Content-Length";
		return 400;
	}
	if (f->length_bad) {
		*why = "Content-Length is not a number";
		return 400;
	}
	if (f->n_encoding && f->n_length) {
		*why = "both Transfer-Encoding and Content-Length";
		return 400;
	}
	if (f->n_encoding > 1 || f->encoding_bad) {
		*why = "Transfer-Encoding other than chunked";
		return 400;
	}
	if (f->n_encoding) {
		*why = "chunked request bodies are not accepted; send Content-Length";
		return 411;
	}
	return 0;
}
