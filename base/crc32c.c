/* base/crc32c.c — CRC32C, hardware-accelerated when possible. */
#include <string.h>

#include "base/crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static int table_ready;

static void table_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1)));
		table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
	table_ready = 1;
}

uint32_t wal_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!table_ready)
		table_init();
	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8); /* little-endian host assumed, as in wal.c */
		v ^= crc;
		crc = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
		      table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^
		      table[2][(v >> 40) & 0xff] ^ table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)
/* Three independent crc32 chains over adjacent blocks, then combined: the
 * instruction has a latency of 3 cycles but a throughput of 1 per cycle, so
 * one dependent chain uses a third of what the CPU can do (~6-9 GB/s against
 * ~20 here). This CRC is on the commit path (every batch is checksummed
 * before its write is submitted) and is all of recovery's per-byte work.
 *
 * Combining: for the raw (not inverted) CRC register, crc(A || B) =
 * shift(crc(A), |B|) ^ crc_from_0(B), where shift() appends |B| zero bytes.
 * shift() by a fixed length is linear, so it is four table lookups; the
 * tables are built once from the "append zero bits" matrix (as in Mark
 * Adler's crc32c.c, which this follows). */
#define LONG_BLK 8192u
#define SHORT_BLK 256u

static uint32_t zeros_long[4][256], zeros_short[4][256];
static int zeros_ready;

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	for (; vec; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_times(mat, mat[n]);
}

/* The operator appending len (a power of two, >= 1) zero bytes. */
static void zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32], row = 1;

	odd[0] = POLY; /* one zero bit */
	for (int n = 1; n < 32; n++, row <<= 1)
		odd[n] = row;
	gf2_square(even, odd); /* two zero bits */
	gf2_square(odd, even); /* four */
	for (;;) {
		gf2_square(even, odd); /* one zero byte, then 4, 16... */
		len >>= 1;
		if (!len)
			return;
		gf2_square(odd, even); /* 2, 8, 32... */
		len >>= 1;
		if (!len)
			break;
	}
	memcpy(even, odd, sizeof(odd));
}

static void zeros_table(uint32_t t[4][256], size_t len)
{
	uint32_t op[32];

	zeros_op(op, len);
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 0; k < 4; k++)
			t[k][n] = gf2_times(op, n << (8 * k));
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t crc)
{
	return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^
	       t[3][crc >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

__attribute__((target("sse4.2"))) static uint64_t crc3(uint64_t c0, const uint8_t **pp,
							 size_t *lenp, size_t blk,
							 const uint32_t t[4][256])
{
	const uint8_t *p = *pp;
	size_t len = *lenp;

	while (len >= 3 * blk) {
		uint64_t c1 = 0, c2 = 0;
		const uint8_t *end = p + blk;
		do {
			c0 = _mm_crc32_u64(c0, load64(p));
			c1 = _mm_crc32_u64(c1, load64(p + blk));
			c2 = _mm_crc32_u64(c2, load64(p + 2 * blk));
			p += 8;
		} while (p < end);
		c0 = shift(t, (uint32_t)c0) ^ c1;
		c0 = shift(t, (uint32_t)c0) ^ c2;
		p += 2 * blk;
		len -= 3 * blk;
	}
	*pp = p;
	*lenp = len;
	return c0;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
							   size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	if (len >= 3 * SHORT_BLK) {
		if (!zeros_ready) {
			zeros_table(zeros_long, LONG_BLK);
			zeros_table(zeros_short, SHORT_BLK);
			zeros_ready = 1;
		}
		c = crc3(c, &p, &len, LONG_BLK, zeros_long);
		c = crc3(c, &p, &len, SHORT_BLK, zeros_short);
	}
	while (len >= 8) {
		c = _mm_crc32_u64(c, load64(p));
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

/* Combining finished CRCs (zlib's crc32_combine, with Castagnoli's
 * polynomial): crc(A || B) = crc(A) * x^(8|B|) mod P ^ crc(B). The pre- and
 * post-inversions cancel out. Multiplication is bitwise, in the reflected
 * representation where bit 31 is x^0. */
static uint32_t mult_mod_p(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;

	for (;;) {
		if (a & m) {
			p ^= b;
			if (!(a & (m - 1)))
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return p;
}

uint32_t wal_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b)
{
	static uint32_t x2n[67]; /* x^(2^n) mod P, n < 3 + 64 */
	static int x2n_ready;
	uint32_t p = 1u << 31;   /* x^0 */

	if (!x2n_ready) {
		x2n[0] = 1u << 30; /* x^1 */
		for (int n = 1; n < 67; n++)
			x2n[n] = mult_mod_p(x2n[n - 1], x2n[n - 1]);
		x2n_ready = 1;
	}
	/* x^(8 len_b) = the product of x^(2^(n+3)) over the bits n of len_b. */
	for (unsigned n = 3; len_b; len_b >>= 1, n++)
		if (len_b & 1)
			p = mult_mod_p(x2n[n], p);
	return mult_mod_p(p, crc_a) ^ crc_b;
}

static int hw = -1;

int wal_crc32c_hw(void)
{
	if (hw < 0) {
#if defined(__x86_64__)
		__builtin_cpu_init();
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
		hw = 0;
#endif
	}
	return hw;
}

uint32_t wal_crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (wal_crc32c_hw())
		return crc32c_hw(crc, buf, len);
#endif
	return wal_crc32c_sw(crc, buf, len);
}
