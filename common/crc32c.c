/*
 * CRC-32C, reflected polynomial 0x82F63B78, initial value and final XOR
 * 0xFFFFFFFF (RFC 3720, appendix B.4).  Tables: "slicing by 8" (eight
 * 256-entry tables, eight bytes a step), built once.  On x86-64 the
 * SSE4.2 crc32 instruction computes the same CRC; it is used only when
 * the CPU says it has it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "b64.h"
#include "crc32c.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_X86 1
#include <nmmintrin.h>
#endif

#define POLY 0x82f63b78u

static uint32_t table[8][256];
static int table_ready;

static void
make_table(void)
{
	uint32_t i, k, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = table[0][i];
		for (k = 1; k < 8; k++) {
			c = table[0][c & 0xff] ^ (c >> 8);
			table[k][i] = c;
		}
	}
	table_ready = 1;
}

uint32_t
crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = ~crc;

	if (!table_ready)
		make_table();
	while (len >= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);

		c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		    table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		    table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
		    table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

#ifdef CRC32C_X86
__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

int
crc32c_hw(void)
{
#ifdef CRC32C_X86
	return __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
	return 0;
#endif
}

uint32_t
crc32c(uint32_t crc, const void *data, size_t len)
{
#ifdef CRC32C_X86
	static int hw = -1;

	if (hw < 0)
		hw = crc32c_hw();
	if (hw)
		return crc32c_sse42(crc, data, len);
#endif
	return crc32c_sw(crc, data, len);
}

void
crc32c_b64(uint32_t crc, char *out)
{
	unsigned char be[4] = { (unsigned char)(crc >> 24),
	    (unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
	    (unsigned char)crc };

	b64_encode(be, 4, out);
}
