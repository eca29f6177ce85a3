/* src/etcd/etcd.c — see etcd.h. */
#include <errno.h>

#include "src/etcd/etcd.h"

uint64_t etcd_member_id(const char *name, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h ? h : 1;
}
