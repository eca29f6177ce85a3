/* tests/fuzz/fuzz_wire.c — libFuzzer target for one goraft decoder,
 * chosen at compile time with -DFUZZ_KIND=WIRE_xxx.
 *
 * Beyond "no crash, no out-of-bounds read" (ASan, UBSan), every input is
 * checked differentially: our decoder and protobuf-c must agree on whether
 * the bytes are a valid message (except where Go is stricter, see
 * pbc_oracle.h) and on every value read; and whatever we accept must
 * re-encode to a canonical form that decodes to the same values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "tests/proto/pbc_oracle.h"

#ifndef FUZZ_KIND
#error "build with -DFUZZ_KIND=WIRE_xxx"
#endif

#define MAX_ITEMS 4096

union any_msg {
	struct wire_log_entry le;
	struct wire_ae_req ae;
	struct wire_snaprec_req sr;
	uint8_t raw[256];
};

static void die(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "%s: %s\n--- ours ---\n%s\n--- protobuf-c ---\n%s\n", wire_kind_name(FUZZ_KIND),
		what, a ? a : "(refused)", b ? b : "(refused)");
	abort();
}

/* Repeated elements of a decoded message, as the encoder wants them. */
static size_t gather_items(union any_msg *m, struct wire_bytes *items, uint8_t *peer_buf, size_t cap)
{
	size_t n = 0, cursor = 0, used = 0;
	if (FUZZ_KIND == WIRE_AE_REQ) {
		while (n < MAX_ITEMS && wire_next_entry(&m->ae, &cursor, &items[n]))
			n++;
		m->ae.entries.items = items;
	} else if (FUZZ_KIND == WIRE_SNAPREC_REQ) {
		struct wire_peer peer;
		while (n < MAX_ITEMS && wire_next_peer(&m->sr, &cursor, &peer)) {
			long len = wire_encode(WIRE_SNAPREC_PEER, &peer, peer_buf + used, cap - used);
			if (len < 0)
				abort();
			items[n++] = (struct wire_bytes){ peer_buf + used, (size_t)len };
			used += (size_t)len;
		}
		m->sr.peers.items = items;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_error err;
	int has_nul = 0;
	char *ours = wire_decode_text(FUZZ_KIND, data, size, &err);
	char *oracle = pbc_decode_text(FUZZ_KIND, data, size, &has_nul);

	if (!ours) {
		char why[256];
		wire_error_format(&err, why, sizeof(why));
		if (err.offset > size)
			die("error offset past the input", why, oracle);
		if (oracle && !wire_stricter_than_pbc(err.status))
			die("refused what protobuf-c accepts", why, oracle);
		goto out;
	}
	if (!oracle)
		die("accepted what protobuf-c refuses", ours, NULL);
	if (!has_nul && strcmp(ours, oracle) != 0)
		die("values differ", ours, oracle);

	/* Canonical re-encoding decodes to the same values. */
	union any_msg m;
	if (wire_decode(FUZZ_KIND, data, size, &m, NULL) < 0)
		die("second decode failed", ours, oracle);
	static struct wire_bytes items[MAX_ITEMS];
	size_t peer_cap = size + 16;
	uint8_t *peer_buf = malloc(peer_cap);
	size_t n_items = gather_items(&m, items, peer_buf, peer_cap);
	(void)n_items;
	size_t need = wire_encoded_size(FUZZ_KIND, &m);
	uint8_t *buf = malloc(need + 1);
	long len = wire_encode(FUZZ_KIND, &m, buf, need);
	if (len != (long)need)
		die("encoded size mismatch", ours, oracle);
	char *again = wire_decode_text(FUZZ_KIND, buf, (size_t)len, NULL);
	if (!again || strcmp(again, ours) != 0)
		die("re-encoding changed the message", ours, again);
	free(again);
	free(buf);
	free(peer_buf);
out:
	free(ours);
	free(oracle);
	return 0;
}
