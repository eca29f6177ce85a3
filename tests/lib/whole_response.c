/* tests/lib/whole_response.c — see whole_response.h. */
#include "tests/lib/whole_response.h"

#include <stdint.h>

#include "net/http_parse.h"

bool whole_response(const char *buf, size_t len, int *status)
{
	struct http_parser p;
	size_t off = 0;
	http_parser_init(&p, NULL);
	for (;;) {
		struct http_event ev;
		long n = http_parse(&p, (const uint8_t *)buf + off, len - off, &ev);
		if (n < 0)
			return false;
		off += (size_t)n;
		if (ev.kind == HTTP_EV_HEAD)
			*status = p.status;
		else if (ev.kind == HTTP_EV_DONE)
			return true;
		else if (ev.kind == HTTP_EV_NEED_MORE)
			return false;
	}
}
