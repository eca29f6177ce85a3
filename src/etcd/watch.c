/* src/etcd/watch.c — etcd's Watch messages: WatchRequest in, WatchResponse
 * out; see the Watch section of etcd.h.
 *
 * Requests are unpacked by protobuf-c, as the KV requests (etcd.c): its
 * reading of the schema is the one reading, merges of repeated message
 * fields and the oneof's last-one-wins included. Responses are written
 * directly, in field number order with proto3's zero values left out, as
 * Go's encoder writes them: a watch response is mostly events, and each
 * revision's are written once for all the watchers that get them.
 */
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "etcd/rpc.pb-c.h"
#include "src/etcd/etcd.h"
#include "src/etcd/etcd_int.h"

/* ---- requests ---- */

struct wpriv {
	ProtobufCMessage *msg;
};

struct walloc {
	ProtobufCAllocator a;
	bool failed;
};

static void *w_malloc(void *data, size_t size)
{
	void *p = base_malloc(size ? size : 1);
	if (!p)
		((struct walloc *)data)->failed = true;
	return p;
}

static void w_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static const ProtobufCAllocator w_free_allocator = { .alloc = w_malloc, .free = w_free };

void etcd_watch_req_free(struct etcd_watch_req *req)
{
	struct wpriv *pv = req->priv;
	if (pv) {
		if (pv->msg)
			protobuf_c_message_free_unpacked(pv->msg, (ProtobufCAllocator *)&w_free_allocator);
		free(pv);
	}
	*req = (struct etcd_watch_req){ 0 };
}

/* Go's decoder refuses field number 0 and numbers past 2^29 - 1, which
 * protobuf-c reads; a walk over the top-level fields and the create
 * request's (the one nested message with fields) refuses them first. */
static const uint8_t *wscan_varint(const uint8_t *p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70 && p < end; shift += 7) {
		uint8_t b = *p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return p;
		}
	}
	return NULL;
}

static bool wscan(const uint8_t *p, const uint8_t *end, bool top)
{
	while (p < end) {
		uint64_t tag, v;
		if (!(p = wscan_varint(p, end, &tag)) || tag >> 3 == 0 || tag >> 3 > UINT32_C(0x1fffffff))
			return false;
		switch (tag & 7) {
		case 0:
			if (!(p = wscan_varint(p, end, &v)))
				return false;
			break;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			break;
		case 2:
			if (!(p = wscan_varint(p, end, &v)) || v > (uint64_t)(end - p))
				return false;
			if (top && (tag >> 3) <= 3 && !wscan(p, p + v, false))
				return false;
			p += v;
			break;
		default:
			return false;
		}
	}
	return true;
}

int etcd_watch_decode(const uint8_t *msg, size_t len, struct etcd_watch_req *ret, char *err, size_t err_len)
{
	struct walloc alloc = { .a = { .alloc = w_malloc, .free = w_free } };
	struct wpriv *pv;
	int rv = 0;

	*ret = (struct etcd_watch_req){ 0 };
	if (err_len)
		err[0] = '\0';
	if (!wscan(msg, msg + len, true)) {
		if (err_len)
			snprintf(err, err_len, "invalid protobuf: WatchRequest");
		return -EBADMSG;
	}
	if (!(pv = base_calloc(1, sizeof(*pv))))
		return -ENOMEM;
	ret->priv = pv;
	alloc.a.allocator_data = &alloc;
	pv->msg = protobuf_c_message_unpack(&etcdserverpb__watch_request__descriptor, &alloc.a, len, msg);
	if (!pv->msg) {
		if (alloc.failed) {
			rv = -ENOMEM;
		} else {
			if (err_len)
				snprintf(err, err_len, "invalid protobuf: WatchRequest");
			rv = -EBADMSG;
		}
		goto out;
	}
	const Etcdserverpb__WatchRequest *w = (const Etcdserverpb__WatchRequest *)pv->msg;
	switch (w->request_union_case) {
	case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST: {
		const Etcdserverpb__WatchCreateRequest *c = w->create_request;
		static const uint8_t zero = 0;
		ret->kind = ETCD_WATCH_CREATE;
		/* etcd: "\x00 is the smallest key" */
		ret->key = c->key.len ? c->key.data : &zero;
		ret->key_len = c->key.len ? c->key.len : 1;
		ret->end = c->range_end.data;
		ret->end_len = c->range_end.len;
		ret->start_revision = c->start_revision;
		ret->progress_notify = c->progress_notify;
		ret->prev_kv = c->prev_kv;
		ret->fragment = c->fragment;
		ret->watch_id = c->watch_id;
		for (size_t i = 0; i < c->n_filters; i++) {
			if (c->filters[i] == ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT)
				ret->no_put = true;
			else if (c->filters[i] == ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE)
				ret->no_delete = true;
		}
		break;
	}
	case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST:
		ret->kind = ETCD_WATCH_CANCEL;
		ret->watch_id = w->cancel_request->watch_id;
		break;
	case ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST:
		ret->kind = ETCD_WATCH_PROGRESS;
		break;
	default:
		ret->kind = ETCD_WATCH_NONE;
		break;
	}
out:
	if (rv < 0)
		etcd_watch_req_free(ret);
	return rv;
}

/* ---- responses ---- */

static size_t hdr_size(const struct etcd_header *h)
{
	return uint_field_size(h->cluster_id) + uint_field_size(h->member_id) + uint_field_size((uint64_t)h->revision) +
	       uint_field_size(h->raft_term);
}

static size_t kv_size(const struct mvcc_kv *kv)
{
	return bytes_field_size(kv->key_len) + uint_field_size((uint64_t)kv->create_revision) +
	       uint_field_size((uint64_t)kv->mod_revision) + uint_field_size((uint64_t)kv->version) +
	       bytes_field_size(kv->value_len) + uint_field_size((uint64_t)kv->lease);
}

static uint8_t *put_kv(uint8_t *p, unsigned field, const struct mvcc_kv *kv)
{
	p = put_msg_head(p, field, kv_size(kv));
	p = put_bytes_field(p, 1, kv->key, kv->key_len);
	p = put_uint_field(p, 2, (uint64_t)kv->create_revision);
	p = put_uint_field(p, 3, (uint64_t)kv->mod_revision);
	p = put_uint_field(p, 4, (uint64_t)kv->version);
	p = put_bytes_field(p, 5, kv->value, kv->value_len);
	return put_uint_field(p, 6, (uint64_t)kv->lease);
}

/* mvccpb.Event: type (PUT 0, DELETE 1), kv, prev_kv */
static size_t event_inner(const struct mvcc_event *ev, bool prev_kv)
{
	return (ev->deleted ? 2 : 0) + msg_field_size(kv_size(&ev->kv)) +
	       (prev_kv && ev->has_prev ? msg_field_size(kv_size(&ev->prev)) : 0);
}

size_t etcd_watch_event_size(const struct mvcc_event *ev, bool prev_kv)
{
	return msg_field_size(event_inner(ev, prev_kv));
}

static uint8_t *put_event(uint8_t *p, const struct mvcc_event *ev, bool prev_kv)
{
	p = put_msg_head(p, 11, event_inner(ev, prev_kv));
	p = put_uint_field(p, 1, ev->deleted);
	p = put_kv(p, 2, &ev->kv);
	if (prev_kv && ev->has_prev)
		p = put_kv(p, 3, &ev->prev);
	return p;
}

static size_t events_size(const struct etcd_watch_resp *r)
{
	if (r->raw_len)
		return r->raw_len;
	size_t n = 0;
	for (size_t i = 0; i < r->n_events; i++)
		n += etcd_watch_event_size(&r->events[i], r->prev_kv);
	return n;
}

/* everything but the events */
static size_t head_size(const struct etcd_header *h, const struct etcd_watch_resp *r)
{
	size_t reason = r->cancel_reason ? strlen(r->cancel_reason) : 0;
	return msg_field_size(hdr_size(h)) + uint_field_size((uint64_t)r->watch_id) + (r->created ? 2 : 0) +
	       (r->canceled ? 2 : 0) + uint_field_size((uint64_t)r->compact_revision) + bytes_field_size(reason) +
	       (r->fragment ? 2 : 0);
}

size_t etcd_watch_size(const struct etcd_header *h, const struct etcd_watch_resp *r)
{
	return head_size(h, r) + events_size(r);
}

int etcd_watch_events_encode(const struct mvcc_event *evs, size_t n, bool prev_kv, uint8_t **ret_buf,
			     size_t *ret_len)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += etcd_watch_event_size(&evs[i], prev_kv);
	*ret_buf = NULL;
	*ret_len = 0;
	uint8_t *buf = base_malloc(len ? len : 1), *p;
	if (!buf)
		return -ENOMEM;
	p = buf;
	for (size_t i = 0; i < n; i++)
		p = put_event(p, &evs[i], prev_kv);
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int etcd_watch_encode(const struct etcd_header *h, const struct etcd_watch_resp *r, uint8_t **ret_buf,
		      size_t *ret_len)
{
	size_t n = etcd_watch_size(h, r);
	size_t reason = r->cancel_reason ? strlen(r->cancel_reason) : 0;
	uint8_t *buf, *p;

	*ret_buf = NULL;
	*ret_len = 0;
	if (!(buf = base_malloc(n ? n : 1)))
		return -ENOMEM;
	p = put_msg_head(buf, 1, hdr_size(h));
	p = put_uint_field(p, 1, h->cluster_id);
	p = put_uint_field(p, 2, h->member_id);
	p = put_uint_field(p, 3, (uint64_t)h->revision);
	p = put_uint_field(p, 4, h->raft_term);
	p = put_uint_field(p, 2, (uint64_t)r->watch_id);
	p = put_uint_field(p, 3, r->created);
	p = put_uint_field(p, 4, r->canceled);
	p = put_uint_field(p, 5, (uint64_t)r->compact_revision);
	p = put_bytes_field(p, 6, r->cancel_reason, reason);
	p = put_uint_field(p, 7, r->fragment);
	if (r->raw_len) {
		memcpy(p, r->raw, r->raw_len);
		p += r->raw_len;
	} else {
		for (size_t i = 0; i < r->n_events; i++)
			p = put_event(p, &r->events[i], r->prev_kv);
	}
	if ((size_t)(p - buf) != n) {
		/* the two passes disagree: a bug, never bytes on the wire */
		free(buf);
		return -EINVAL;
	}
	*ret_buf = buf;
	*ret_len = n;
	return 0;
}

size_t etcd_watch_fragment(const struct etcd_header *h, const struct etcd_watch_resp *r, size_t limit)
{
	if (!r->fragment && (etcd_watch_size(h, r) < limit || r->n_events < 2))
		return r->n_events;
	struct etcd_watch_resp f = *r;
	f.fragment = true;
	f.n_events = 0;
	f.raw_len = 0;
	size_t size = head_size(h, &f), k = 0;
	for (; k < r->n_events; k++) {
		size += etcd_watch_event_size(&r->events[k], r->prev_kv);
		if (k >= 1 && size >= limit)
			break;
	}
	return k;
}
