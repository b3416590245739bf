/*
 * ckpt_test - unit tests of checkpoints (common/ckpt.h): barrier lines
 * written and read back, malformed and newer barriers, job names, the
 * checkpoint directory's lock, the commit record (round trip, missing,
 * damaged, foreign, newer) and the pruning of old snapshots.
 *
 *   ckpt_test [-v]
 */
#include <inttypes.h>
#include <stdint.h>
#include <sys/stat.h>

#include "buf.h"
#include "ckpt.h"
#include "jscan.h"
#include "tap.h"

static void
sample(struct ckpt_barrier *b)
{
	struct ckpt_pos *p;

	memset(b, 0, sizeof(*b));
	b->id = 42;
	b->job = strdup("trades");
	b->stream = strdup("trades \"x\"\n");
	p = ckpt_pos_set(b, "shardId-000000000000",
	    "49654321234567890123456789012345678901234567890123456", NULL);
	p = ckpt_pos_set(b, "shardId-000000000001", "495", NULL);
	p->has_sub = 1;
	p->sub = 7;
	p = ckpt_pos_set(b, "shardId-000000000002", NULL, "trim-horizon");
	p = ckpt_pos_set(b, "shardId-000000000003", "496", NULL);
	p->done = 1;
	ckpt_pos_set(b, "shardId-000000000004", NULL,
	    "at-timestamp:2024-08-08T23:54:15.342Z");
}

static int
same_barrier(const struct ckpt_barrier *a, const struct ckpt_barrier *b)
{
	size_t i;

	if (a->id != b->id || a->final != b->final || a->npos != b->npos ||
	    strcmp(a->job, b->job) != 0 || strcmp(a->stream, b->stream) != 0)
		return 0;
	for (i = 0; i < a->npos; i++) {
		const struct ckpt_pos *p = &a->pos[i];
		const struct ckpt_pos *q = ckpt_pos_find(b, p->shard);

		if (q == NULL || (p->seq == NULL) != (q->seq == NULL) ||
		    (p->seq && strcmp(p->seq, q->seq) != 0) ||
		    (p->start == NULL) != (q->start == NULL) ||
		    (p->start && strcmp(p->start, q->start) != 0) ||
		    p->has_sub != q->has_sub || p->sub != q->sub ||
		    p->done != q->done)
			return 0;
	}
	return 1;
}

static void
test_barriers(void)
{
	struct ckpt_barrier b, r;
	struct buf line = BUF_INIT;
	struct jscan *js = jscan_new();
	const char *why;
	char err[256];
	int rc;

	section("barrier lines");
	sample(&b);
	ckpt_barrier_line(&b, &line);
	check(!line.failed && memchr(line.p, '\n', line.len) == NULL,
	    "one line, no newline in it (the stream name is escaped)");
	check(jscan_kind(js, line.p, line.len, &why) == 1,
	    "the record scanner sees a control line");
	rc = ckpt_barrier_parse(line.p, line.len, &r, err, sizeof(err));
	check(rc == 1 && same_barrier(&b, &r), "it reads back the same") ||
	    (diag("rc %d: %s", rc, rc < 0 ? err : ""), 0);
	check(strstr(buf_cstr(&line), "\"seq\":\"4965432123456789012345678901"
	    "2345678901234567890123456\"") != NULL,
	    "sequence numbers are JSON strings, every digit kept");
	ckpt_barrier_clear(&r);
	b.final = 1;
	buf_reset(&line);
	ckpt_barrier_line(&b, &line);
	rc = ckpt_barrier_parse(line.p, line.len, &r, err, sizeof(err));
	check(rc == 1 && r.final, "a final barrier");
	ckpt_barrier_clear(&r);
	check(ckpt_barrier_copy(&r, &b) == 0 && same_barrier(&b, &r),
	    "ckpt_barrier_copy");
	ckpt_barrier_clear(&r);
	check(ckpt_pos_set(&b, "shardId-000000000002", "7", NULL) != NULL &&
	    b.npos == 5 && strcmp(ckpt_pos_find(&b,
	    "shardId-000000000002")->seq, "7") == 0 &&
	    ckpt_pos_find(&b, "shardId-000000000002")->start == NULL,
	    "ckpt_pos_set replaces a shard's position");
	check(ckpt_pos_find(&b, "shardId-9") == NULL, "ckpt_pos_find misses");
	ckpt_barrier_clear(&b);
	check(b.npos == 0 && b.pos == NULL && b.job == NULL,
	    "ckpt_barrier_clear");
	buf_free(&line);
	jscan_free(js);
}

static void
bad_barrier(const char *line, int want, const char *why)
{
	struct ckpt_barrier b;
	char err[256] = "";
	int rc = ckpt_barrier_parse(line, strlen(line), &b, err, sizeof(err));

	check(rc == want && (want != -1 || strstr(err, why) != NULL),
	    "%s: %s", SHOW(line), want == 0 ? "not a barrier" : why) ||
	    (diag("rc %d: %s", rc, err), 0);
	ckpt_barrier_clear(&b);
}

static void
test_bad_barriers(void)
{
	section("other control lines and malformed barriers");
	bad_barrier("{\"__kinpipe\":{\"heartbeat\":1}}", 0, NULL);
	bad_barrier("{\"__kinpipe\":1}", 0, NULL);
	bad_barrier("{\"__kinpipe\":{\"barrier\":1}}", -1, "version");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":2,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":{}}}", -1, "newer version");
	bad_barrier("{\"__kinpipe\":{\"barrier\":-1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":{}}}", -1, "no id");
	bad_barrier("{\"__kinpipe\":{\"barrier\":\"1\",\"version\":1,\"job\":"
	    "\"j\",\"stream\":\"s\",\"positions\":{}}}", -1, "no id");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"stream\":"
	    "\"s\",\"positions\":{}}}", -1, "no job");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\"}}", -1, "no positions");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":[]}}", -1, "not an object");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":{\"a\":{}}}}", -1, "seq or a start");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":{\"a\":{\"seq\":1}}}}", -1,
	    "seq or a start");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":{\"a\":{\"seq\":\"1\",\"sub\":-1}}}}",
	    -1, "bad sub");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":{\"a\":{\"start\":\"x\",\"sub\":1}}}}",
	    -1, "bad sub");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"positions\":{\"a\":{\"seq\":\"1\",\"done\":1}}}}",
	    -1, "bad done");
	bad_barrier("{\"__kinpipe\":{\"barrier\":1,", -1, "invalid JSON");
}

static void
test_jobs(void)
{
	static const struct {
		const char *stream, *job;
	} cases[] = {
		{ "trades", "trades" },
		{ "btc.trades_v2-x", "btc.trades_v2-x" },
		{ "arn:aws:kinesis:eu-west-1:123456789012:stream/trades",
		    "trades" },
		{ "a b/c", "a-b-c" },
	};
	char out[CKPT_JOB_MAX + 1], long_name[200];
	size_t i;

	section("job names");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(ckpt_job_from_stream(cases[i].stream, out, sizeof(out)) ==
		    0 && strcmp(out, cases[i].job) == 0, "job of %s is %s",
		    cases[i].stream, cases[i].job);
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	check(ckpt_job_from_stream(long_name, out, sizeof(out)) == 0 &&
	    strlen(out) == CKPT_JOB_MAX, "a long stream name is cut");
	check(ckpt_job_from_stream("", out, sizeof(out)) == -1,
	    "an empty name has no job");
	check(ckpt_job_ok("a.b_c-9") && !ckpt_job_ok("") &&
	    !ckpt_job_ok("a/b") && !ckpt_job_ok(long_name),
	    "ckpt_job_ok");
}

static void
write_raw(const char *dir, const char *name, const char *text)
{
	char path[4400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		exit(2);
}

static void
bad_commit(struct ckpt_dir *d, const char *dir, const char *text,
    enum ckpt_err want, const char *why)
{
	struct ckpt_commit c;
	enum ckpt_err kind;
	char err[512] = "";
	int rc;

	write_raw(dir, "commit.json", text);
	rc = ckpt_read_commit(d, &c, &kind, err, sizeof(err));
	check(rc == -1 && kind == want && strstr(err, why) != NULL &&
	    strstr(err, "commit.json") != NULL, "commit %s: %s", SHOW(text),
	    why) || (diag("rc %d kind %d: %s", rc, kind, err), 0);
	ckpt_commit_clear(&c);
}

static void
test_dir(void)
{
	struct ckpt_dir *d = NULL, *d2 = NULL;
	struct ckpt_commit c, r;
	enum ckpt_err kind;
	char dir[4200], err[512], *data;
	size_t len;
	int rc, i;

	section("the checkpoint directory");
	tmp_path(dir, sizeof(dir), "ck/a/b");
	rc = ckpt_open(dir, "s3-put", &d, &kind, err, sizeof(err));
	check(rc == 0 && d != NULL && kind == CKPT_OK,
	    "ckpt_open creates the directory and its parents") ||
	    (diag("%s", err), 0);
	rc = ckpt_open(dir, "s3-put", &d2, &kind, err, sizeof(err));
	check(rc == -1 && d2 == NULL && kind == CKPT_E_BUSY &&
	    strstr(err, "in use by another s3-put") != NULL &&
	    ckpt_exit_status(kind) == 1, "a second s3-put finds it locked") ||
	    (diag("%s", err), 0);
	rc = ckpt_open(dir, "kin-read", &d2, &kind, err, sizeof(err));
	check(rc == 0, "another stage has its own lock");
	ckpt_close(d2);
	rc = ckpt_read_commit(d, &c, &kind, err, sizeof(err));
	check(rc == 0 && kind == CKPT_OK, "no commit yet: 0");

	section("the commit record");
	memset(&c, 0, sizeof(c));
	sample(&c.b);
	c.committer = strdup("s3-put");
	c.sink = json_tokener_parse("{\"pending\":[{\"key\":\"a/b\"}]}");
	rc = ckpt_write_commit(d, &c, err, sizeof(err));
	check(rc == 0, "written");
	rc = ckpt_read_commit(d, &r, &kind, err, sizeof(err));
	check(rc == 1 && same_barrier(&c.b, &r.b) &&
	    strcmp(r.committer, "s3-put") == 0 && r.sink != NULL &&
	    json_object_equal(r.sink, c.sink), "read back the same") ||
	    (diag("rc %d: %s", rc, err), 0);
	ckpt_commit_clear(&r);
	check(ckpt_read_file(d, "commit.json", &data, &len) == 0 &&
	    data[len - 1] == '\n' && strncmp(data, "{\"kinpipe\":\"commit\"",
	    19) == 0, "a line of JSON a person can cat");
	free(data);
	for (i = 0; i < 3; i++) {
		c.b.id++;
		ckpt_write_commit(d, &c, err, sizeof(err));
	}
	rc = ckpt_read_commit(d, &r, &kind, err, sizeof(err));
	check(rc == 1 && r.b.id == 45, "the last write wins");
	ckpt_commit_clear(&r);
	ckpt_commit_clear(&c);

	section("damaged, foreign and newer commit records");
	bad_commit(d, dir, "{\"kinpipe\":\"commit\",\"version\":1,\"id\":",
	    CKPT_E_CORRUPT, "invalid JSON");
	bad_commit(d, dir, "", CKPT_E_CORRUPT, "empty line");
	bad_commit(d, dir, "{\"hello\":1}", CKPT_E_FOREIGN,
	    "not a kinpipe commit record");
	bad_commit(d, dir, "{\"kinpipe\":\"commit\",\"version\":9,\"id\":1}",
	    CKPT_E_NEWER, "newer kinpipe");
	bad_commit(d, dir, "{\"kinpipe\":\"commit\",\"version\":1,\"id\":1,"
	    "\"job\":\"j\",\"stream\":\"s\",\"positions\":{}}", CKPT_E_CORRUPT,
	    "no committer");
	bad_commit(d, dir, "{\"kinpipe\":\"commit\",\"version\":1,\"job\":\"j\","
	    "\"stream\":\"s\",\"committer\":\"x\",\"positions\":{}}",
	    CKPT_E_CORRUPT, "no id");
	check(ckpt_exit_status(CKPT_E_CORRUPT) == 2 &&
	    ckpt_exit_status(CKPT_E_FOREIGN) == 2 &&
	    ckpt_exit_status(CKPT_E_NEWER) == 2 &&
	    ckpt_exit_status(CKPT_E_IO) == 1, "exit statuses");

	section("files and pruning");
	for (i = 1; i <= 5; i++) {
		char name[64];

		snprintf(name, sizeof(name), "window-stats.%d.state", i);
		ckpt_write_file(d, name, "x", 1);
	}
	ckpt_write_file(d, "window-stats.x.state", "x", 1);
	rc = ckpt_prune(d, "window-stats.", ".state", 4);
	check(rc == 3 && ckpt_read_file(d, "window-stats.3.state", &data,
	    &len) == 1 && ckpt_read_file(d, "window-stats.4.state", &data,
	    &len) == 0, "ckpt_prune removes the snapshots below the id kept");
	free(data);
	check(ckpt_read_file(d, "window-stats.x.state", &data, &len) == 0,
	    "and leaves other names alone");
	free(data);
	check(ckpt_remove_file(d, "window-stats.x.state") == 0 &&
	    ckpt_remove_file(d, "window-stats.x.state") == 0,
	    "ckpt_remove_file, twice");
	ckpt_close(d);
	ckpt_close(NULL);
	check(1, "ckpt_close(NULL)");
}

int
main(int argc, char **argv)
{
	if (tap_begin("ckpt_test", argc, argv) != 0)
		return 2;
	test_barriers();
	test_bad_barriers();
	test_jobs();
	test_dir();
	return tap_end();
}
