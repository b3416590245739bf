/*
 * msg.h - diagnostics and the one exit-code table of kinpipe.
 *
 * Every diagnostic goes to stderr as "prog: message"; stdout carries data
 * only.  The exit codes are documented once, in kinpipe(7), and never change.
 */
#ifndef KP_MSG_H
#define KP_MSG_H

#include <stdarg.h>
#include <stddef.h>

enum {
	KP_EXIT_OK = 0,       /* everything read was delivered */
	KP_EXIT_FAILURE = 1,  /* runtime failure: I/O, network, service */
	KP_EXIT_USAGE = 2,    /* usage or configuration error: fix the command */
	KP_EXIT_REJECTED = 3, /* ran to the end, but some input was rejected
	                       * or some records were undeliverable */
};

/* Verbosity: 0 with -q (errors only), 1 by default, 2+ with -v. */
extern int msg_verbosity;

/* Sets the program name used as the prefix of every message. */
void msg_init(const char *prog);
const char *msg_prog(void);

/*
 * A secret no message may show (a secret access key, a session token):
 * every message prints "[redacted]" in its place from then on.  The last
 * MSG_SECRETS given are kept (copied); NULL and strings under 8 bytes are
 * ignored.
 */
#define MSG_SECRETS 8
void msg_secret(const char *s);

/*
 * in, made safe for a terminal into out[0..outsz) (always terminated, cut
 * to fit, never inside an escape or a character): the registered secrets,
 * and any piece of one of SECRET_PIECE (16) bytes or more, become
 * "[redacted]", and so do the values labelled "Signature", "Credential",
 * "X-Amz-Security-Token", "SessionToken", "SecretAccessKey" (any case, with
 * or without '-' and '_', then '=' or ':'); control characters are written
 * as \n, \r, \t or \xNN, and so is every byte that is not part of valid
 * UTF-8.  Cleaning a clean text changes nothing.  What a server says goes
 * through it where it is read (aws_error(), s3_xml_copy()), before any
 * buffer can cut a secret in two; every message is printed through it
 * again.
 */
void msg_clean(const char *in, char *out, size_t outsz);

/* "prog: message\n" on stderr.  msg_err always prints; msg_warn unless -q;
 * msg_info only with -v; msg_debug only with -vv. */
void msg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_verr(const char *fmt, va_list ap);

/*
 * Usage error: prints "prog: reason", then "usage: <usage>" on stderr.
 * Returns KP_EXIT_USAGE so a tool can write  return msg_usage(USAGE, ...).
 */
int msg_usage(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * For library functions that hand their error back as text instead of
 * printing it: formats the message into the caller's buffer err of errsz
 * bytes (truncated to fit, always NUL-terminated).  Nothing is written
 * when err is NULL or errsz is 0.  Prints nothing.  Returns -1, so that a
 * function can fail with  return msg_seterr(err, errsz, ...);
 */
int msg_seterr(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
