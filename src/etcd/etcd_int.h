/* src/etcd/etcd_int.h — private to src/etcd: the protobuf field writers
 * that etcd.c (KV responses) and watch.c (WatchResponse) share. Responses
 * are written by hand, sized first and then filled, so that a revision's
 * events can be encoded once and reused; they must be the bytes
 * protobuf-c packs: proto3 leaves zero integers and empty bytes out, and
 * a message field is always written, even empty. */
#ifndef RAFTD_SRC_ETCD_ETCD_INT_H
#define RAFTD_SRC_ETCD_ETCD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline size_t uint_field_size(uint64_t v)
{
	return v ? 1 + varint_len(v) : 0;
}

static inline uint8_t *put_uint_field(uint8_t *p, unsigned field, uint64_t v)
{
	if (!v)
		return p;
	*p++ = (uint8_t)(field << 3);
	return put_varint(p, v);
}

static inline size_t bytes_field_size(size_t len)
{
	return len ? 1 + varint_len(len) + len : 0;
}

static inline uint8_t *put_bytes_field(uint8_t *p, unsigned field, const void *data, size_t len)
{
	if (!len)
		return p;
	*p++ = (uint8_t)(field << 3 | 2);
	p = put_varint(p, len);
	memcpy(p, data, len);
	return p + len;
}

/* a message field: always there, even empty */
static inline size_t msg_field_size(size_t inner)
{
	return 1 + varint_len(inner) + inner;
}

static inline uint8_t *put_msg_head(uint8_t *p, unsigned field, size_t inner)
{
	*p++ = (uint8_t)(field << 3 | 2);
	return put_varint(p, inner);
}

#endif
