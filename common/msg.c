#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msg.h"

int msg_verbosity = 1;
static const char *prog = "kinpipe";
static char *secrets[MSG_SECRETS];
static size_t nsecret;

void
msg_secret(const char *s)
{
	size_t i;
	char *c;

	if (s == NULL || strlen(s) < 8)
		return;
	for (i = 0; i < MSG_SECRETS; i++)
		if (secrets[i] != NULL && strcmp(secrets[i], s) == 0)
			return;
	if ((c = strdup(s)) == NULL)
		return;
	i = nsecret++ % MSG_SECRETS;
	free(secrets[i]);
	secrets[i] = c;
}

/* The length of the secret or labelled credential value at p, with *skip
 * set to the bytes before the value that are kept (the label); 0 if none. */
static size_t
secret_at(const char *p, size_t *skip)
{
	static const char *const labels[] = { "Signature=", "Credential=",
	    "X-Amz-Security-Token=", "X-Amz-Security-Token: ",
	    "X-Amz-Security-Token\":\"", "SecretAccessKey\":\"",
	    "SessionToken\":\"" };
	size_t i, n;

	*skip = 0;
	for (i = 0; i < MSG_SECRETS; i++)
		if (secrets[i] != NULL &&
		    strncmp(p, secrets[i], n = strlen(secrets[i])) == 0)
			return n;
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		n = strlen(labels[i]);
		if (strncasecmp(p, labels[i], n) == 0) {
			*skip = n;
			return n + strcspn(p + n, " ,;&\"'<\r\n\t");
		}
	}
	return 0;
}

/* The length of the valid UTF-8 sequence at p, or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	size_t n, i;
	unsigned int cp;

	if (*p < 0xc2 || *p > 0xf4)
		return 0;
	n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
	cp = *p & (0x3f >> (n - 1));
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void
msg_clean(const char *in, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0, n, skip;
	char esc[8];
	const char *add;
	size_t addn;

	if (outsz == 0)
		return;
	while (*p != '\0') {
		if ((n = secret_at((const char *)p, &skip)) > 0 && n > skip) {
			if (skip > 0 && o + skip < outsz) {
				memcpy(out + o, p, skip);
				o += skip;
			}
			add = "[redacted]";
			p += n;
		} else if (*p >= 0x20 && *p < 0x7f) {
			esc[0] = (char)*p++;
			esc[1] = '\0';
			add = esc;
		} else if (*p >= 0x80 && (n = utf8_len(p)) > 0) {
			memcpy(esc, p, n);
			esc[n] = '\0';
			p += n;
			add = esc;
		} else {
			if (*p == '\n')
				add = "\\n";
			else if (*p == '\r')
				add = "\\r";
			else if (*p == '\t')
				add = "\\t";
			else {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
				add = esc;
			}
			p++;
		}
		addn = strlen(add);
		if (o + addn >= outsz)
			break;
		memcpy(out + o, add, addn);
		o += addn;
	}
	out[o] = '\0';
}

void
msg_init(const char *p)
{
	const char *slash = strrchr(p, '/');

	prog = slash ? slash + 1 : p;
}

const char *
msg_prog(void)
{
	return prog;
}

void
msg_verr(const char *fmt, va_list ap)
{
	char buf[4096], clean[4096];

	/* One write per message, so that messages of tools sharing a
	 * terminal do not interleave mid-line. */
	vsnprintf(buf, sizeof(buf), fmt, ap);
	msg_clean(buf, clean, sizeof(clean));
	fprintf(stderr, "%s: %s\n", prog, clean);
}

#define MSG_AT(level)                           \
	do {                                    \
		va_list ap;                     \
		if (msg_verbosity < (level))    \
			return;                 \
		va_start(ap, fmt);              \
		msg_verr(fmt, ap);              \
		va_end(ap);                     \
	} while (0)

void msg_err(const char *fmt, ...) { MSG_AT(0); }
void msg_warn(const char *fmt, ...) { MSG_AT(1); }
void msg_info(const char *fmt, ...) { MSG_AT(2); }
void msg_debug(const char *fmt, ...) { MSG_AT(3); }

int
msg_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_verr(fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n", usage);
	return KP_EXIT_USAGE;
}

int
msg_seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}
