/*
 * ckpt: the checkpoint files (common/ckpt.c) — a barrier line as every
 * tool reads it, and the commit record as recovery reads it.  A barrier
 * that parses writes a line that parses to the same barrier.
 */
#include "buf.h"
#include "ckpt.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ckpt_dir *d;
	struct ckpt_barrier b, b2;
	struct ckpt_commit c;
	struct buf line = BUF_INIT;
	enum ckpt_err kind;
	char err[512], *s = malloc(size ? size : 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	if (d == NULL && ckpt_open(fz_dir(), "fuzz", &d, &kind, err,
	    sizeof(err)) != 0)
		abort();
	memset(&b, 0, sizeof(b));
	memset(&b2, 0, sizeof(b2));
	if (ckpt_barrier_parse(s, size, &b, err, sizeof(err)) == 1) {
		ckpt_barrier_line(&b, &line);
		if (line.failed || ckpt_barrier_parse(line.p, line.len, &b2, err,
		    sizeof(err)) != 1 || b2.id != b.id || b2.final != b.final)
			abort();
		ckpt_barrier_clear(&b2);
		ckpt_barrier_clear(&b);
	}
	fz_file("commit.json", data, size);
	memset(&c, 0, sizeof(c));
	if (ckpt_read_commit(d, &c, &kind, err, sizeof(err)) == 1)
		ckpt_commit_clear(&c);
	buf_free(&line);
	free(s);
	return 0;
}
