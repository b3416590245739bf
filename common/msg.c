#include <stdio.h>
#include <string.h>

#include "msg.h"

int msg_verbosity = 1;
static const char *prog = "kinpipe";

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
	char buf[4096];

	/* One write per message, so that messages of tools sharing a
	 * terminal do not interleave mid-line. */
	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "%s: %s\n", prog, buf);
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
