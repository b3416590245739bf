/*
 * crc32c_test - unit tests of CRC-32C (common/crc32c.h): the test vectors
 * of RFC 3720, appendix B.4 (the CRC bytes there are as sent, least
 * significant first), "123456789", both the table and the SSE4.2 code
 * (when the CPU has it) over every length and alignment, a CRC continued
 * over pieces, and the base64 S3 takes.
 *
 *   crc32c_test [-v]
 */
#include <stdint.h>

#include "crc32c.h"
#include "tap.h"

/* RFC 3720 B.4 gives the CRC as the bytes of the iSCSI digest, least
 * significant first: "aa 36 91 8a" is 0x8a9136aa. */
static uint32_t
le(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a | (uint32_t)b << 8 | (uint32_t)c << 16 |
	    (uint32_t)d << 24;
}

static void
vector(const char *what, const unsigned char *p, size_t n, uint32_t want)
{
	char *x = exact((const char *)p, n);
	uint32_t sw = crc32c_sw(0, x, n), any = crc32c(0, x, n);

	check(sw == want, "tables: %s = %08x", what, (unsigned)want) ||
	    (diag("got %08x", (unsigned)sw), 0);
	check(any == want, "crc32c() (%s): %s = %08x", crc32c_hw() ?
	    "SSE4.2" : "tables", what, (unsigned)want) ||
	    (diag("got %08x", (unsigned)any), 0);
	free(x);
}

int
main(int argc, char **argv)
{
	/* An iSCSI SCSI Read (10) command PDU (RFC 3720 B.4). */
	static const unsigned char pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
		0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	unsigned char zeros[32], ones[32], inc[32], dec[32], big[4099];
	char b64[CRC32C_B64_LEN + 1];
	uint32_t whole, parts;
	size_t i, off, n;
	int same = 1;

	tap_begin("crc32c", argc, argv);
	for (i = 0; i < 32; i++) {
		zeros[i] = 0;
		ones[i] = 0xff;
		inc[i] = (unsigned char)i;
		dec[i] = (unsigned char)(31 - i);
	}
	section("RFC 3720 B.4");
	vector("32 bytes of zeroes", zeros, 32, le(0xaa, 0x36, 0x91, 0x8a));
	vector("32 bytes of ones", ones, 32, le(0x43, 0xab, 0xa8, 0x62));
	vector("32 incrementing bytes", inc, 32, le(0x4e, 0x79, 0xdd, 0x46));
	vector("32 decrementing bytes", dec, 32, le(0x5c, 0xdb, 0x3f, 0x11));
	vector("an iSCSI read command PDU", pdu, 48,
	    le(0x56, 0x3a, 0x96, 0xd9));
	section("other vectors");
	vector("\"123456789\"", (const unsigned char *)"123456789", 9,
	    0xe3069283);
	vector("nothing", (const unsigned char *)"", 0, 0);
	section("lengths, alignments, pieces");
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 131 + (i >> 7));
	for (off = 0; off < 8; off++)
		for (n = 0; n + off <= 300; n++)
			if (crc32c(0, big + off, n) != crc32c_sw(0, big + off, n))
				same = 0;
	check(same, "crc32c() and the tables agree on every length 0..300 at "
	    "every alignment 0..7");
	whole = crc32c(0, big, sizeof(big));
	parts = crc32c(crc32c(crc32c(0, big, 5), big + 5, 2000), big + 2005,
	    sizeof(big) - 2005);
	check(whole == parts && whole == crc32c_sw(crc32c_sw(0, big, 7),
	    big + 7, sizeof(big) - 7), "a CRC continued over pieces is the "
	    "CRC of the whole");
	section("base64, big-endian");
	crc32c_b64(0xe3069283, b64);
	check(strcmp(b64, "4waSgw==") == 0, "0xe3069283 is 4waSgw==") ||
	    (diag("got %s", b64), 0);
	crc32c_b64(0, b64);
	check(strcmp(b64, "AAAAAA==") == 0, "0 is AAAAAA==");
	return tap_end();
}
