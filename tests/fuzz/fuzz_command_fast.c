/* tests/fuzz/fuzz_command_fast.c — libFuzzer target for goraft's JSON commands:
 * the fast decoder against jansson.
 *
 * cmd_decode() has a fast path for the flat object of strings and hands
 * everything else to jansson. Every input is decoded as a write and as a
 * join, by jansson alone and by the fast path alone (copying and
 * borrowing): where the fast path takes an input, its command must be
 * jansson's byte for byte, and the default decoder must give jansson's
 * verdict and error message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"

static void die(const char *what, const uint8_t *in, size_t len)
{
	fprintf(stderr, "fuzz_command_fast: %s\ninput: %.*s\n", what, (int)(len < 200 ? len : 200), (const char *)in);
	abort();
}

static bool same_str(const struct cmd_str *a, const struct cmd_str *b)
{
	return (a->ptr == NULL) == (b->ptr == NULL) && a->len == b->len &&
	       (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

static bool same_cmd(const struct cmd *a, const struct cmd *b)
{
	return a->type == b->type && same_str(&a->name, &b->name) &&
	       same_str(&a->connection_string, &b->connection_string) && same_str(&a->key, &b->key) &&
	       same_str(&a->value, &b->value);
}

static void check(const char *name, const uint8_t *in, size_t len)
{
	const uint8_t *n = (const uint8_t *)name;
	size_t nl = strlen(name);
	struct cmd ref, fast, view, dflt;
	char e_ref[300] = "", e_fast[300] = "", e_dflt[300] = "";
	int r_ref = cmd_decode_flags(n, nl, true, in, len, CMD_DECODE_JANSSON, &ref, e_ref, sizeof(e_ref));
	int r_fast = cmd_decode_flags(n, nl, true, in, len, CMD_DECODE_FAST_ONLY, &fast, e_fast, sizeof(e_fast));
	int r_view = cmd_decode_flags(n, nl, true, in, len, CMD_DECODE_FAST_ONLY | CMD_DECODE_BORROW, &view, e_fast,
				      sizeof(e_fast));
	int r_dflt = cmd_decode(n, nl, true, in, len, &dflt, e_dflt, sizeof(e_dflt));
	if (r_fast != r_view)
		die("copying and borrowing fast paths disagree", in, len);
	if (r_dflt != r_ref || strcmp(e_dflt, e_ref) != 0)
		die("cmd_decode() is not jansson's verdict", in, len);
	if (r_fast == 0 && (r_ref != 0 || !same_cmd(&ref, &fast) || !same_cmd(&ref, &view)))
		die("the fast path took an input and decoded it differently", in, len);
	if (r_ref == 0 && !same_cmd(&ref, &dflt))
		die("cmd_decode() decoded differently from jansson", in, len);
	cmd_free(&ref);
	cmd_free(&fast);
	cmd_free(&view);
	cmd_free(&dflt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so ASan sees any read past the payload */
	uint8_t *in = malloc(size ? size : 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	check("write", in, size);
	check("raft:join", in, size);
	free(in);
	return 0;
}
