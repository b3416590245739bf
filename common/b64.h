/*
 * b64.h - base64 (RFC 4648, with padding), as Kinesis carries record data.
 */
#ifndef KP_B64_H
#define KP_B64_H

#include <stddef.h>

/* Encoded length of n bytes, without the NUL. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Encodes n bytes into out (B64_ENCODED_LEN(n) + 1 bytes); returns the
 * length written, NUL excluded. */
size_t b64_encode(const void *in, size_t n, char *out);

/* Decodes n characters into out (at least n / 4 * 3 bytes).  Returns the
 * decoded length, or -1 for input that is not padded base64. */
long b64_decode(const char *in, size_t n, unsigned char *out);

#endif
