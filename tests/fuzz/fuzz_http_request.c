/* tests/fuzz/fuzz_http_request.c — libFuzzer target for the framing checks
 * raftd's HTTP server makes on a request head before libmicrohttpd reads
 * a body (net/http_request.c).
 *
 * The input is a request head as it comes off the socket: lines split at
 * LF (a CR before it dropped, as libmicrohttpd does), the first line the
 * request line, then "name: value" fields with blanks around the value
 * trimmed, up to an empty line. Each field goes to http_framing_add().
 *
 * Properties: no crash or UB; the verdict is 0, 400 or 411, with a reason
 * when not 0; a head the check lets through has at most one
 * Content-Length, made of digits only, and no Transfer-Encoding (names in
 * any case) — so no body the server reads can be framed two ways; a head
 * with a Transfer-Encoding is never let through.
 *
 *   clang -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -I. tests/fuzz/fuzz_http_request.c \
 *     net/http_request.c -o fuzz_http_request
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "net/http_request.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char head[4096];
	if (size >= sizeof(head))
		return 0;
	memcpy(head, data, size);
	head[size] = '\0';
	if (strlen(head) != size)
		return 0; /* MHD stops at a NUL */

	struct http_framing f = { 0 };
	unsigned n_length = 0, n_encoding = 0;
	bool length_digits = true;
	char *line = head, *next;
	bool first = true;
	for (; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (first) {
			first = false;
			continue;
		}
		if (!len)
			break;
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t vlen = strlen(v);
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			v[--vlen] = '\0';
		http_framing_add(&f, line, v);
		if (!strcasecmp(line, "Content-Length")) {
			n_length++;
			if (!*v)
				length_digits = false;
			for (const char *c = v; *c; c++)
				if (!isdigit((unsigned char)*c))
					length_digits = false;
		} else if (!strcasecmp(line, "Transfer-Encoding")) {
			n_encoding++;
		}
	}

	const char *why = NULL;
	unsigned verdict = http_framing_verdict(&f, &why);
	CHECK(verdict == 0 || verdict == 400 || verdict == 411);
	CHECK(verdict == 0 || (why && *why));
	if (verdict == 0)
		CHECK(n_length <= 1 && length_digits && n_encoding == 0);
	if (n_encoding)
		CHECK(verdict != 0);
	if (n_length > 1)
		CHECK(verdict == 400);
	return 0;
}
