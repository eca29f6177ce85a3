/* base/crc32c.h — CRC32C (Castagnoli), shared by wal/ and the KV snapshots.
 *
 * Hardware crc32 instructions (SSE4.2) when the CPU has them, chosen once at
 * run time; otherwise slice-by-8 tables. Recovery checks every byte of the
 * log, so this is what makes it run at memory speed.
 */
#ifndef RAFTD_BASE_CRC32C_H
#define RAFTD_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) with len bytes. Standard CRC32C: "123456789"
 * gives 0xe3069283. */
uint32_t wal_crc32c(uint32_t crc, const void *buf, size_t len);
/* The CRC of A followed by B, from the CRCs of A and B and B's length. */
uint32_t wal_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);
/* The portable implementation, exposed so tests can compare both. */
uint32_t wal_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* 1 if the hardware path is in use. */
int wal_crc32c_hw(void);

#endif
