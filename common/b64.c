#include <openssl/evp.h>

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

long
b64_decode(const char *in, size_t n, unsigned char *out)
{
	int len, pad = 0;
	size_t i;

	if (n % 4 != 0 || n > 0x7ffffff0)
		return -1;
	if (n == 0)
		return 0;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	/* EVP_DecodeBlock reads '=' anywhere as a zero digit and trims blanks
	 * and newlines at either end: accept only the alphabet, with the
	 * padding at the end ("Zg=a", "A===", "Zg==  " are not base64). */
	if (pad == 2 && in[n - 1] != '=')
		return -1;
	for (i = 0; i < n - (size_t)pad; i++) {
		char c = in[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -1;
	}
	/* EVP_DecodeBlock keeps the padding bytes as zeros: drop them. */
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	return (long)len - pad;
}
