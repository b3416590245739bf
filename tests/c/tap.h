/*
 * tap.h - the TAP harness of the unit drivers in tests/c (one driver per
 * module of libkinpipe; each includes this file once).
 *
 * A driver calls tap_begin() first, then check() per case (section() to
 * group them, diag() to explain a failure), and returns tap_end(): TAP on
 * stdout, "ok N - what" or "not ok N - what" per check and the plan
 * "1..N" last; exit 0 only when every check passed.  -v also prints what
 * the library wrote on stderr while it was captured (cap_begin/cap_end).
 *
 * exact() copies an input into a heap buffer of exactly its length, so
 * that under ASan or valgrind a read one byte past the end is caught.
 * Temporary files go to a private folder under $TMPDIR (or /tmp), removed
 * at the end when empty.
 */
#ifndef KP_TAP_H
#define KP_TAP_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

static int ntests, nfailed, verbose;
static char tmpdir[4096];

/* ---- TAP ---- */

static __attribute__((unused)) int
check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static __attribute__((unused)) int
check(int cond, const char *fmt, ...)
{
	va_list ap;

	ntests++;
	if (!cond)
		nfailed++;
	printf("%s %d - ", cond ? "ok" : "not ok", ntests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static __attribute__((unused)) void
diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static __attribute__((unused)) void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static __attribute__((unused)) void
section(const char *name)
{
	printf("# %s\n", name);
	fflush(stdout);
}

/*
 * s[0..n) made printable for a test name: C escapes, long inputs cut.
 * Returns one of a few rotating static buffers.
 */
static __attribute__((unused)) const char *
show(const char *s, size_t n)
{
	static char bufs[8][160];
	static int next;
	char *b = bufs[next++ % 8];
	size_t i, o = 0;

	for (i = 0; i < n && o < sizeof(bufs[0]) - 12; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' || c == '"') {
			b[o++] = '\\';
			b[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(b + o, 5, "\\x%02x", c);
		} else {
			b[o++] = (char)c;
		}
	}
	if (i < n) {
		memcpy(b + o, "...", 3);
		o += 3;
	}
	b[o] = '\0';
	return b;
}

#define SHOW(s) show((s), strlen(s))

/* A heap copy of exactly n bytes (no terminator): ASan sees any overread. */
static __attribute__((unused)) char *
exact(const char *s, size_t n)
{
	char *b = malloc(n ? n : 1);

	if (b == NULL) {
		perror("malloc");
		exit(2);
	}
	memcpy(b, s, n);
	return b;
}

/* ---- temporary files and stderr capture ---- */

static __attribute__((unused)) void
tmp_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

/* The whole content of path (NUL-terminated, length in *len), or NULL. */
static __attribute__((unused)) char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 65536) {
			char *nb = realloc(b, cap + 65536 + 1);

			if (nb == NULL) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
			cap += 65536;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	b[n] = '\0';
	*len = n;
	return b;
}

static __attribute__((unused)) int
spit(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (f == NULL)
		return -1;
	if (len > 0 && fwrite(data, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* A descriptor sent to a file while captured: cap_fd_begin()..cap_fd_end(). */
struct cap {
	int fd, saved;
	char file[4200];
};

static struct cap cap_err = { 2, -1, "" };

/* Sends fd (1 or 2) to a file until cap_fd_end(), which returns what was
 * written (a new string). */
static __attribute__((unused)) void
cap_fd_begin(struct cap *c, int fd, const char *name)
{
	int f;

	fflush(fd == 1 ? stdout : stderr);
	c->fd = fd;
	tmp_path(c->file, sizeof(c->file), name);
	f = open(c->file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	c->saved = dup(fd);
	if (f < 0 || c->saved < 0 || dup2(f, fd) < 0) {
		perror("capture");
		exit(2);
	}
	close(f);
}

static __attribute__((unused)) char *
cap_fd_end(struct cap *c)
{
	size_t n;
	char *s;

	fflush(c->fd == 1 ? stdout : stderr);
	dup2(c->saved, c->fd);
	close(c->saved);
	c->saved = -1;
	s = slurp(c->file, &n);
	unlink(c->file);
	return s != NULL ? s : strdup("");
}

/* Sends fd 2 to a file until cap_end(), which returns what was written
 * (and, with -v, shows it). */
static __attribute__((unused)) void
cap_begin(void)
{
	cap_fd_begin(&cap_err, 2, "stderr");
}

static __attribute__((unused)) char *
cap_end(void)
{
	char *s = cap_fd_end(&cap_err);

	if (verbose && *s)
		fprintf(stderr, "%s", s);
	return s;
}

/* A deterministic generator (xorshift64) for generated test cases. */
static uint64_t tap_rng = 0x2545F4914F6CDD1DULL;

static __attribute__((unused)) uint64_t
tap_rand(void)
{
	tap_rng ^= tap_rng << 13;
	tap_rng ^= tap_rng >> 7;
	tap_rng ^= tap_rng << 17;
	return tap_rng;
}

/* Parses [-v], names the driver for messages, makes the temporary folder.
 * Returns 0, or -1 after a message (exit 2). */
static __attribute__((unused)) int
tap_begin(const char *name, int argc, char **argv)
{
	const char *t = getenv("TMPDIR");

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
	} else if (argc > 1) {
		fprintf(stderr, "usage: %s [-v]\n", name);
		return -1;
	}
	msg_init(name);
	snprintf(tmpdir, sizeof(tmpdir), "%s/%s.XXXXXX", t && *t ? t : "/tmp",
	    name);
	if (mkdtemp(tmpdir) == NULL) {
		perror(tmpdir);
		return -1;
	}
	return 0;
}

/* The plan, and the exit status of the driver. */
static __attribute__((unused)) int
tap_end(void)
{
	rmdir(tmpdir);
	printf("1..%d\n", ntests);
	if (nfailed)
		printf("# %d of %d failed\n", nfailed, ntests);
	return nfailed ? 1 : 0;
}

#endif
