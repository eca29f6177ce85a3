/* tests/proto/pbc_oracle.h — protobuf-c as an independent implementation of
 * goraft's schema, to check proto/wire.c against in tests and fuzzers. */
#ifndef RAFTD_TESTS_PBC_ORACLE_H
#define RAFTD_TESTS_PBC_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

/* Decodes buf with protobuf-c and renders the message in the same text
 * format as wire_print(). Returns a malloc'ed string, or NULL when
 * protobuf-c rejects the bytes. *ret_has_nul is set when a string field
 * holds a NUL byte (protobuf-c cuts C strings there, so texts differ). */
char *pbc_decode_text(enum wire_kind kind, const uint8_t *buf, size_t len, int *ret_has_nul);

/* Decodes and re-encodes with protobuf-c. Returns the packed size written
 * to *ret_buf (malloc'ed), or -1 when protobuf-c rejects the input. */
long pbc_repack(enum wire_kind kind, const uint8_t *buf, size_t len, uint8_t **ret_buf);

/* Our own decode + wire_print() as a malloc'ed string, or NULL on error
 * (with *err filled when err is not NULL). */
char *wire_decode_text(enum wire_kind kind, const uint8_t *buf, size_t len, struct wire_error *err);

/* Where we refuse what protobuf-c lets through:
 * - a known field with the wrong wire type: Go refuses it too ("proto: bad
 *   wiretype for field"), protobuf-c skips it;
 * - a varint whose tenth byte carries bits past 64, and a field number above
 *   2^29-1 (the protobuf limit): protobuf-c silently truncates both.
 * (Keys longer than 5 bytes both refuse; Go would accept them.)
 * goraft never sends any of them. */
int wire_stricter_than_pbc(enum wire_status status);

#endif
