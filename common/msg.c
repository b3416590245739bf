#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jscan.h"
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

/* A prefix this long of a registered secret is redacted even when the
 * rest does not follow: a message cut to fit a buffer in the middle of a
 * secret must not show its start. */
#define SECRET_PIECE 16

/* The length of the registered secret, or of a piece of one, at p; 0 if
 * none. */
static size_t
registered_at(const char *p)
{
	size_t i, m, n;

	for (i = 0; i < MSG_SECRETS; i++) {
		if (secrets[i] == NULL || secrets[i][0] != p[0])
			continue;
		n = strlen(secrets[i]);
		for (m = 0; m < n && p[m] == secrets[i][m]; m++)
			;
		if (m == n || m >= SECRET_PIECE)
			return m;
	}
	return 0;
}

/* The length of lab at p, compared without case and skipping '-' and '_'
 * in p ("X-Amz-Security-Token", "x-amz-security-token",
 * "aws_session_token"); 0 if p does not start with it. */
static size_t
label_at(const char *p, const char *lab)
{
	const char *q = p;

	while (*lab != '\0') {
		if ((*q == '-' || *q == '_') && q != p) {
			q++;
			continue;
		}
		if (*q == '\0' || (*q | 0x20) != *lab)
			return 0;
		q++;
		lab++;
	}
	return (size_t)(q - p);
}

/*
 * The length of a labelled credential value at p, label included, with
 * *skip set to the bytes kept (the label and what separates it from the
 * value): a label, then '=' or ':' (a closing quote and blanks allowed
 * around it), then the value, up to a blank, a quote or a separator; 0 if
 * none.  The labels are the names AWS gives credentials in headers,
 * queries, JSON and files.
 */
static size_t
labelled_at(const char *p, size_t *skip)
{
	static const char *const labels[] = { "signature", "credential",
	    "securitytoken", "sessiontoken", "secretaccesskey",
	    "secretkey" };
	const char *q;
	size_t i, n, v;

	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		if ((n = label_at(p, labels[i])) == 0)
			continue;
		q = p + n;
		if (*q == '"' || *q == '\'')
			q++;
		while (*q == ' ')
			q++;
		if (*q != '=' && *q != ':')
			continue;
		q++;
		while (*q == ' ' || *q == '"' || *q == '\'')
			q++;
		v = strcspn(q, " ,;&\"'<>\\\r\n\t");
		if (v == 0)
			continue;
		*skip = (size_t)(q - p);
		return *skip + v;
	}
	return 0;
}

/* The length of the secret or labelled credential value at p, with *skip
 * set to the bytes before the value that are kept (the label); 0 if none. */
static size_t
secret_at(const char *p, size_t *skip)
{
	size_t n;

	*skip = 0;
	if ((n = registered_at(p)) > 0)
		return n;
	return labelled_at(p, skip);
}

void
msg_clean(const char *in, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in;
	const unsigned char *end = p + strlen(in);
	size_t o = 0, n, skip;
	char esc[8], lab[64];
	const char *add;
	size_t addn;

	if (outsz == 0)
		return;
	while (*p != '\0') {
		if ((n = secret_at((const char *)p, &skip)) > 0 && n > skip) {
			/* The label stays, the value goes; both fit or
			 * neither. */
			if (skip >= sizeof(lab) - sizeof("[redacted]"))
				skip = 0;
			memcpy(lab, p, skip);
			memcpy(lab + skip, "[redacted]", sizeof("[redacted]"));
			add = lab;
			p += n;
		} else if (*p >= 0x20 && *p < 0x7f) {
			esc[0] = (char)*p++;
			esc[1] = '\0';
			add = esc;
		} else if (*p >= 0x80 &&
		    (n = jscan_utf8_len(p, (size_t)(end - p))) > 0) {
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
