#include "tests/proto/pbc_oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "append_entries_request.pb-c.h"
#include "append_entries_responses.pb-c.h"
#include "log_entry.pb-c.h"
#include "request_vote_request.pb-c.h"
#include "request_vote_responses.pb-c.h"
#include "snapshot_recovery_request.pb-c.h"
#include "snapshot_recovery_response.pb-c.h"
#include "snapshot_request.pb-c.h"
#include "snapshot_response.pb-c.h"

static const ProtobufCMessageDescriptor *descriptor(enum wire_kind kind)
{
	switch (kind) {
	case WIRE_LOG_ENTRY: return &protobuf__log_entry__descriptor;
	case WIRE_AE_REQ: return &protobuf__append_entries_request__descriptor;
	case WIRE_AE_RESP: return &protobuf__append_entries_response__descriptor;
	case WIRE_RV_REQ: return &protobuf__request_vote_request__descriptor;
	case WIRE_RV_RESP: return &protobuf__request_vote_response__descriptor;
	case WIRE_SNAP_REQ: return &protobuf__snapshot_request__descriptor;
	case WIRE_SNAP_RESP: return &protobuf__snapshot_response__descriptor;
	case WIRE_SNAPREC_REQ: return &protobuf__snapshot_recovery_request__descriptor;
	case WIRE_SNAPREC_PEER: return &protobuf__snapshot_recovery_request__peer__descriptor;
	case WIRE_SNAPREC_RESP: return &protobuf__snapshot_recovery_response__descriptor;
	case WIRE_KIND_COUNT: break;
	}
	return NULL;
}

static void print_quoted(FILE *out, const uint8_t *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = s[i];
		if (ch == '\n') fputs("\\n", out);
		else if (ch == '\r') fputs("\\r", out);
		else if (ch == '\t') fputs("\\t", out);
		else if (ch == '"') fputs("\\\"", out);
		else if (ch == '\\') fputs("\\\\", out);
		else if (ch >= 0x20 && ch < 0x7f) fputc(ch, out);
		else fprintf(out, "\\%03o", ch);
	}
	fputc('"', out);
}

/* Fields in number order, as Go's text marshaler prints them. */
static void print_msg(const ProtobufCMessage *m, int indent, FILE *out)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned n = 0; n < d->n_fields; n++) {
		const ProtobufCFieldDescriptor *f = NULL;
		for (unsigned i = 0; i < d->n_fields; i++)
			if (d->fields[i].id == d->fields[n].id)
				f = &d->fields[i];
		const char *base = (const char *)m;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t count = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t i = 0; i < count; i++) {
				fprintf(out, "%*s%s {\n", indent, "", f->name);
				print_msg(items[i], indent + 2, out);
				fprintf(out, "%*s}\n", indent, "");
			}
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !*(const protobuf_c_boolean *)(base + f->quantifier_offset))
			continue;
		fprintf(out, "%*s%s: ", indent, "", f->name);
		switch (f->type) {
		case PROTOBUF_C_TYPE_UINT64:
			fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)(base + f->offset));
			break;
		case PROTOBUF_C_TYPE_BOOL:
			fputs(*(const protobuf_c_boolean *)(base + f->offset) ? "true" : "false", out);
			break;
		case PROTOBUF_C_TYPE_STRING: {
			const char *s = *(const char *const *)(base + f->offset);
			print_quoted(out, (const uint8_t *)s, strlen(s));
			break;
		}
		case PROTOBUF_C_TYPE_BYTES: {
			const ProtobufCBinaryData *b = (const ProtobufCBinaryData *)(base + f->offset);
			print_quoted(out, b->data, b->len);
			break;
		}
		default:
			fputs("<unexpected type>", out);
		}
		fputc('\n', out);
	}
}

/* protobuf-c keeps strings NUL-terminated; a NUL inside one shortens it. */
static int strings_have_nul(enum wire_kind kind, const uint8_t *buf, size_t len)
{
	char *ours = wire_decode_text(kind, buf, len, NULL);
	int nul = ours && strstr(ours, "\\000") != NULL;
	free(ours);
	return nul;
}

char *pbc_decode_text(enum wire_kind kind, const uint8_t *buf, size_t len, int *ret_has_nul)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(descriptor(kind), NULL, len, buf);
	if (!m)
		return NULL;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	print_msg(m, 0, out);
	fclose(out);
	if (ret_has_nul)
		*ret_has_nul = strings_have_nul(kind, buf, len);
	protobuf_c_message_free_unpacked(m, NULL);
	return text;
}

long pbc_repack(enum wire_kind kind, const uint8_t *buf, size_t len, uint8_t **ret_buf)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(descriptor(kind), NULL, len, buf);
	if (!m)
		return -1;
	size_t size = protobuf_c_message_get_packed_size(m);
	uint8_t *out = malloc(size ? size : 1);
	protobuf_c_message_pack(m, out);
	protobuf_c_message_free_unpacked(m, NULL);
	*ret_buf = out;
	return (long)size;
}

int wire_stricter_than_pbc(enum wire_status status)
{
	return status == WIRE_E_FIELD_TYPE || status == WIRE_E_VARINT_OVERFLOW ||
	       status == WIRE_E_FIELD_NUMBER;
}

char *wire_decode_text(enum wire_kind kind, const uint8_t *buf, size_t len, struct wire_error *err)
{
	union {
		struct wire_log_entry le;
		struct wire_ae_req ae;
		struct wire_snaprec_req sr;
		uint8_t raw[256];
	} msg;
	if (wire_kind_size(kind) > sizeof(msg) || wire_decode(kind, buf, len, &msg, err) < 0)
		return NULL;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	wire_print(kind, &msg, out);
	fclose(out);
	return text;
}
