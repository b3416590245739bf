/*
 * crc32c.h - CRC-32C (Castagnoli; RFC 3720, appendix B.4), the checksum
 * S3 takes as x-amz-checksum-crc32c: the base64 of the four bytes of the
 * CRC, most significant first.
 */
#ifndef KP_CRC32C_H
#define KP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Length of the base64 form of a CRC-32C, without the NUL. */
#define CRC32C_B64_LEN 8

/*
 * The CRC-32C of data[0..len) continuing crc (0 to start): crc32c(0, a)
 * then crc32c(that, b) is the CRC of a followed by b.  Uses the SSE4.2
 * instruction when the CPU has it (checked once, at run time), else
 * tables.
 */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The same, always with the tables (the tests compare both). */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);

/* 1 when crc32c() uses the SSE4.2 instruction. */
int crc32c_hw(void);

/* The base64 of crc, big-endian, into out (CRC32C_B64_LEN + 1 bytes). */
void crc32c_b64(uint32_t crc, char *out);

#endif
