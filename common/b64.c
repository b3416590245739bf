#include <string.h>

#include "b64.h"

size_t
b64_encode(const void *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* The value of each base64 character (RFC 4648, section 4), 255 for any
 * other byte. */
static const unsigned char dec[256] = {
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 62, 255, 255, 255, 63,
	    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 255, 255,
	    255, 255, 255, 255, 255, 0, 1, 2, 3, 4, 5, 6,
	    7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
	    19, 20, 21, 22, 23, 24, 25, 255, 255, 255, 255, 255,
	    255, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
	    37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
	    49, 50, 51, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	    255, 255, 255, 255,
};

/* Three bytes from four characters; -1 when one is not in the alphabet. */
static int
quad(const char *in, unsigned char *out)
{
	unsigned a = dec[(unsigned char)in[0]], b = dec[(unsigned char)in[1]],
	    c = dec[(unsigned char)in[2]], d = dec[(unsigned char)in[3]];
	unsigned v = a << 18 | b << 12 | c << 6 | d;

	if ((a | b | c | d) & 0x80)
		return -1;
	out[0] = (unsigned char)(v >> 16);
	out[1] = (unsigned char)(v >> 8);
	out[2] = (unsigned char)v;
	return 0;
}

long
b64_decode(const char *in, size_t n, unsigned char *out)
{
	char last[4];
	size_t i, o = 0;
	int pad = 0;

	if (n % 4 != 0 || n > 0x7ffffff0)
		return -1;
	if (n == 0)
		return 0;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	/* Only the alphabet, with the padding at the end ("Zg=a", "A===",
	 * "Zg==  " are not base64); bits a padded quad leaves over are
	 * ignored, as OpenSSL's EVP_DecodeBlock ignored them. */
	if (pad == 2 && in[n - 1] != '=')
		return -1;
	for (i = 0; i + 4 < n; i += 4, o += 3)
		if (quad(in + i, out + o) != 0)
			return -1;
	/* The last quad, its padding read as zero digits ('A'). */
	memcpy(last, in + i, 4);
	if (pad >= 1)
		last[3] = 'A';
	if (pad == 2)
		last[2] = 'A';
	if (pad >= 1 && in[i + 3] != '=')
		return -1;
	if (quad(last, out + o) != 0)
		return -1;
	return (long)(o + 3) - pad;
}
