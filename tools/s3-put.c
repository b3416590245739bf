/*
 * s3-put - the sink: NDJSON records on stdin into objects under an S3 prefix
 * or a local directory, the way Flink's FileSink writes row-format parts.
 *
 * This file is the sink's policy: records are bucketed by event time (or
 * processing time) with a strftime format, appended as they arrive to an
 * open part per bucket, and rolled by Flink's DefaultRollingPolicy: size,
 * record count, time since the part opened, inactivity, end of input,
 * SIGTERM/SIGINT and control lines; and its report, one line per object.
 * The mechanisms are common/'s:
 *
 *   spool.h   every open part is a spool file plus a manifest naming its
 *             object; a part is fsynced when it rolls.  A restart delivers
 *             whatever an earlier run left, under the key that run chose,
 *             so after kill -9 every spooled record reaches the
 *             destination exactly once.
 *   outbox.h  rolled parts on their way: upload ids into manifests, spool
 *             files removed once delivered, failed parts tried again.
 *   s3up.h    the upload engine: single PUTs up to --part-size, multipart
 *             uploads above, --max-in-flight requests with the common
 *             retry policy each; a local directory is written the same way.
 *
 * While the destination is failing, parts keep spooling up to --spool-max;
 * then stdin is no longer read (back-pressure), and memory stays bounded
 * whatever the input.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "ckpt.h"
#include "cli.h"
#include "jfield.h"
#include "jscan.h"
#include "keytpl.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "outbox.h"
#include "parts.h"
#include "progress.h"
#include "s3.h"
#include "s3opts.h"
#include "s3up.h"
#include "sig.h"
#include "sinkck.h"
#include "spool.h"

#define USAGE "s3-put [-hqv] [--acl CANNED] " \
	"[--bucket-by event-time|processing-time] " \
	"[--bucket-format STRFTIME] [--ca-bundle FILE] " \
	"[--checkpoint-dir DIR [--job NAME]] " \
	"[--checksum sha256|md5|crc32c|none] [--connect-timeout DURATION] " \
	"[--content-type TYPE] [--dead-letter FILE] [--endpoint-url URL] " \
	"[--expected-bucket-owner ACCOUNT] " \
	"[--gzip] [--inactivity DURATION] [--max-attempts N] " \
	"[--max-bytes BYTES] [--max-in-flight N] [--max-line BYTES] " \
	"[--max-open-partitions N] " \
	"[--max-records N] [--metadata NAME=VALUE] [--no-overwrite] " \
	"[--no-verify-ssl] " \
	"[--part-prefix PREFIX] [--part-size BYTES] [--part-suffix SUFFIX] " \
	"[--path-style] " \
	"[--profile NAME] [--progress | --no-progress] [--region REGION] " \
	"[--retry-budget DURATION] [--rollover DURATION] [--run-id ID] " \
	"[--spool-dir DIR] [--spool-max BYTES] [--sse AES256|aws:kms] " \
	"[--sse-bucket-key] [--sse-kms-key-id KEY] [--stats FILE] " \
	"[--storage-class CLASS] [--strict] [--tagging TAGS] " \
	"[--time-field PATH] [--timeout DURATION] DEST"

static const char help_text[] =
    "Writes NDJSON records from stdin into objects under DEST, an S3 prefix\n"
    "(s3://BUCKET/PREFIX/) or a local directory (file:///PATH/ or PATH), as\n"
    "PREFIX<time bucket>/<part prefix>-<id>-<counter><part suffix>.\n"
    "One line per object written on stdout; control lines pass through.\n"
    "\n"
    "Bucketing:\n"
    "  --time-field PATH        event time of a record (default timestamp):\n"
    "                           RFC 3339 string or epoch number\n"
    "  --bucket-by event-time|processing-time\n"
    "                           which time picks the bucket (default event-time)\n"
    "  --bucket-format STRFTIME bucket name, UTC (default %Y-%m-%d--%H), with\n"
    "                           {field.path} placeholders for record fields,\n"
    "                           escaped as Hive does: 'symbol={symbol}/%Y'\n"
    "  --max-open-partitions N  buckets with a part open at once (default\n"
    "                           256): beyond, the least recently written rolls\n"
    "Rolling (a part becomes an object when any limit is reached):\n"
    "  --max-bytes BYTES        part size in record bytes (default 128MiB)\n"
    "  --max-records N          records per part (default: no limit)\n"
    "  --rollover DURATION      time since the part opened (default 60s; 0: off)\n"
    "  --inactivity DURATION    time without a record (default 60s; 0: off)\n"
    "Objects:\n"
    "  --part-prefix PREFIX     object name prefix (default part)\n"
    "  --part-suffix SUFFIX     object name suffix (default .json)\n"
    "  --run-id ID              id in object names (default: derived from the\n"
    "                           first record, so a replay writes the same keys)\n"
    "  --gzip                   compress objects (Content-Encoding: gzip, .gz)\n"
    S3OPTS_HELP
    "  --no-overwrite           never replace an object (If-None-Match: *)\n"
    "  --part-size BYTES        multipart part size, at least 5MiB (default 5MiB)\n"
    "  --max-in-flight N        requests in flight, 1 to 64 (default 8);\n"
    "                           --concurrency N is the same\n"
    "  --path-style             S3 path-style addressing (ENDPOINT/BUCKET/KEY)\n"
    "Checkpoints (kinpipe(7), CHECKPOINTS):\n"
    "  --checkpoint-dir DIR     the pipeline's checkpoint directory: objects\n"
    "                           are delivered once the barrier after their\n"
    "                           records is committed, named by job, epoch and\n"
    "                           part, exactly once; a restart finishes what the\n"
    "                           last commit left and drops what it did not\n"
    "                           commit\n"
    "  --job NAME               the job in object names (default: the one\n"
    "                           kin-read recorded in the directory)\n"
    "Durability:\n"
    "  --spool-dir DIR          spool directory (default\n"
    "                           $XDG_STATE_HOME/kinpipe/s3-put)\n"
    "  --spool-max BYTES        spool size at which stdin is no longer read\n"
    "                           (default 1GiB)\n";

#define MiB (1024ULL * 1024)
#define PART_SIZE_MAX (5 * 1024 * MiB)
#define LINES_PER_TURN 1024
#define WAIT_MAX_MS 500

struct opts {
	const char *dest;
	struct jf_path time_field;
	int by_processing;      /* --bucket-by: 1 for processing-time */
	const char *bucket_format;
	struct keytpl kt;       /* --bucket-format, parsed */
	uint64_t max_bytes, max_records, max_open;
	int64_t rollover_ms, inactivity_ms;
	const char *part_prefix, *part_suffix, *run_id;
	struct s3_object_opts obj;  /* --content-type ... --no-overwrite */
	struct s3opts so;           /* their parsing (s3opts.h) */
	int gzip;
	uint64_t part_size, concurrency;
	const char *spool_dir;
	uint64_t spool_max;
	const char *ckdir;      /* --checkpoint-dir */
	const char *job;        /* --job */
	const char *dead_letter;
	int strict;
	size_t max_line;
	int progress;
	const char *stats;
	struct aws_opts aws;
};

/* Everything the tool holds; passed around, never global. */
struct sink {
	struct opts *o;
	/* destination */
	struct s3up_dest d;
	struct spool *sp;
	struct s3up *up;
	struct outbox *ob;     /* rolled parts on their way */
	struct parts ps;       /* the open parts */
	/* naming */
	char run_id[72];
	uint64_t counter;
	/* checkpoints */
	int ckpt;              /* --checkpoint-dir */
	struct sinkck ck;
	unsigned long long uncommitted;  /* records since the last commit */
	/* I/O */
	struct nd_reader *r;
	struct nd_writer *w;
	struct nd_reject rej;
	struct jscan *js;
	int f_time;
	struct buf tmp, why, tb;
	struct progress pg;
	/* outcome */
	int stopping, abandon, stop_input, fatal, out_gone, barrier_failed;
	int config_error;      /* fatal, and a configuration error: exit 2 */
	int reported;          /* report lines to flush */
	unsigned long long objects, records, control;
	uint64_t obj_bytes;
};

enum {
	OPT_BUCKET_BY = CLI_ID,
	OPT_BUCKET_FORMAT,
	OPT_CONCURRENCY,
	OPT_GZIP,
	OPT_INACTIVITY,
	OPT_MAX_BYTES,
	OPT_MAX_RECORDS,
	OPT_NO_OVERWRITE,
	OPT_PART_PREFIX,
	OPT_PART_SIZE,
	OPT_PART_SUFFIX,
	OPT_PATH_STYLE,
	OPT_ROLLOVER,
	OPT_RUN_ID,
	OPT_SPOOL_DIR,
	OPT_SPOOL_MAX,
	OPT_TIME_FIELD,
	OPT_CKDIR,
	OPT_JOB,
	OPT_MAX_OPEN,
};

static const struct cli_option options[] = {
	{ "bucket-by", 1, OPT_BUCKET_BY },
	{ "bucket-format", 1, OPT_BUCKET_FORMAT },
	{ "max-in-flight", 1, OPT_CONCURRENCY },
	{ "concurrency", 1, OPT_CONCURRENCY },
	{ "gzip", 0, OPT_GZIP },
	{ "inactivity", 1, OPT_INACTIVITY },
	{ "max-bytes", 1, OPT_MAX_BYTES },
	{ "max-records", 1, OPT_MAX_RECORDS },
	{ "no-overwrite", 0, OPT_NO_OVERWRITE },
	{ "part-prefix", 1, OPT_PART_PREFIX },
	{ "part-size", 1, OPT_PART_SIZE },
	{ "part-suffix", 1, OPT_PART_SUFFIX },
	{ "path-style", 0, OPT_PATH_STYLE },
	{ "rollover", 1, OPT_ROLLOVER },
	{ "run-id", 1, OPT_RUN_ID },
	{ "spool-dir", 1, OPT_SPOOL_DIR },
	{ "spool-max", 1, OPT_SPOOL_MAX },
	{ "time-field", 1, OPT_TIME_FIELD },
	{ "checkpoint-dir", 1, OPT_CKDIR },
	{ "job", 1, OPT_JOB },
	{ "max-open-partitions", 1, OPT_MAX_OPEN },
	S3OPTS_TABLE,
	{ NULL, 0, 0 },
};

/* ---- options ---- */

/* A name piece: non-empty unless may_be_empty, no '/', no control. */
static int
name_piece_ok(const char *s, int may_be_empty)
{
	if (*s == '\0')
		return may_be_empty;
	return strchr(s, '/') == NULL && !s3_has_ctl(s);
}

static int
run_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The options that name or describe the objects. */
static int
object_option(struct cli *c, struct opts *o, int id, const char *arg)
{
	int rc = 0;

	switch (id) {
	case OPT_NO_OVERWRITE:
		o->obj.if_none_match = 1;
		break;
	case OPT_PART_PREFIX:
		if (!name_piece_ok(arg, 0))
			rc = cli_bad(c, "empty or with '/' or a control "
			    "character", arg);
		o->part_prefix = arg;
		break;
	case OPT_PART_SUFFIX:
		if (!name_piece_ok(arg, 1))
			rc = cli_bad(c, "with '/' or a control character", arg);
		o->part_suffix = arg;
		break;
	case OPT_RUN_ID:
		if (!run_id_ok(arg))
			rc = cli_bad(c, "expected 1 to 64 of A-Z a-z 0-9 . _ -",
			    arg);
		o->run_id = arg;
		break;
	default:
		rc = s3opts_option(c, &o->so, id, arg);
	}
	return rc;
}

static int
option(struct cli *c, int id, const char *arg)
{
	static const char *const bys[] = { "event-time", "processing-time",
	    NULL };
	struct opts *o = c->ctx;

	switch (id) {
	case OPT_BUCKET_BY:
		return cli_word(c, arg, bys, &o->by_processing);
	case OPT_BUCKET_FORMAT:
		o->bucket_format = arg;
		return 0;
	case OPT_CONCURRENCY:
		return cli_count(c, arg, 1, 64, &o->concurrency);
	case OPT_GZIP:
		o->gzip = 1;
		return 0;
	case OPT_INACTIVITY:
		return cli_duration(c, arg, 0, CLI_DURATION_MAX,
		    &o->inactivity_ms);
	case OPT_MAX_BYTES:
		return cli_size(c, arg, 1, UINT64_MAX, &o->max_bytes);
	case OPT_MAX_RECORDS:
		return cli_count(c, arg, 1, UINT64_MAX, &o->max_records);
	case OPT_MAX_OPEN:
		return cli_count(c, arg, 1, 4096, &o->max_open);
	case OPT_PART_SIZE:
		return cli_size(c, arg, S3_PART_MIN, PART_SIZE_MAX,
		    &o->part_size);
	case OPT_PATH_STYLE:
		c->aws.s3_path_style = 1;
		return 0;
	case OPT_ROLLOVER:
		return cli_duration(c, arg, 0, CLI_DURATION_MAX,
		    &o->rollover_ms);
	case OPT_SPOOL_DIR:
		o->spool_dir = arg;
		return *arg == '\0' ? cli_bad(c, "empty path", arg) : 0;
	case OPT_SPOOL_MAX:
		return cli_size(c, arg, 1, UINT64_MAX, &o->spool_max);
	case OPT_TIME_FIELD:
		return cli_path(c, arg, &o->time_field);
	case OPT_CKDIR:
		o->ckdir = arg;
		return *arg == '\0' ? cli_bad(c, "empty path", arg) : 0;
	case OPT_JOB:
		o->job = arg;
		return ckpt_job_ok(arg) ? 0 : cli_bad(c, "expected 1 to 64 of "
		    "A-Z a-z 0-9 . _ -", arg);
	}
	return object_option(c, o, id, arg);
}

/* Every object name s3-put can make must be valid, checked before
 * anything is created (a bad destination is reported later). */
static int
check_names(struct cli *c, struct opts *o)
{
	struct buf probe = BUF_INIT;
	struct parts_names pn = { NULL, "", 1, o->part_prefix,
	    o->part_suffix, o->ckdir != NULL ? CKPT_JOB_MAX + 21 :
	    o->run_id != NULL ? strlen(o->run_id) : 16, o->gzip };
	struct s3_uri u = { NULL, NULL };
	char err[512];
	int rc;

	if (keytpl_parse(&o->kt, o->bucket_format, err, sizeof(err)) != 0)
		return cli_usage(c, "--bucket-format: %s: %s", err,
		    o->bucket_format);
	keytpl_probe(&o->kt, "x", &probe);   /* fields checked per record */
	pn.bucket_format = buf_cstr(&probe) != NULL ? probe.p : "";
	pn.local = strncmp(o->dest, "s3://", 5) != 0;
	if (!pn.local && s3_uri_parse(o->dest, &u, err, sizeof(err)) == 0)
		pn.key_prefix = u.prefix;
	rc = parts_names_check(&pn, err, sizeof(err));
	o->kt.room = S3_KEY_MAX - strlen(pn.key_prefix) - 1 - parts_name_max(&pn);
	o->kt.seg_max = pn.local ? NAME_MAX : 0;
	s3_uri_clear(&u);
	buf_free(&probe);
	return rc == 0 ? CLI_RUN : cli_usage(c, "%s", err);
}

/* Returns CLI_RUN, CLI_DONE or an exit status. */
static int
parse_args(int argc, char **argv, struct cli *c, struct opts *o)
{
	int rc;

	o->bucket_format = "%Y-%m-%d--%H";
	o->max_bytes = 128 * MiB;
	o->max_open = PARTS_MAX_OPEN;
	o->rollover_ms = o->inactivity_ms = 60000;
	o->part_prefix = "part";
	o->part_suffix = ".json";
	o->obj.content_type = "application/x-ndjson";
	o->obj.checksum = S3_CHECKSUM_SHA256;
	o->so.obj = &o->obj;
	o->part_size = S3_PART_MIN;
	o->concurrency = 8;
	o->spool_max = 1024 * MiB;
	c->usage = USAGE;
	c->help = help_text;
	c->groups = CLI_INPUT | CLI_PROGRESS | CLI_AWS;
	c->options = options;
	c->handle = option;
	c->ctx = o;
	c->max_operands = 1;
	rc = cli_parse(c, argc, argv);
	if (rc != CLI_RUN)
		return rc;
	if (c->noperands == 0)
		return cli_usage(c, "no destination");
	o->dest = c->operands[0];
	o->dead_letter = c->dead_letter;
	o->strict = c->strict;
	o->max_line = c->max_line;
	o->progress = c->progress;
	o->stats = c->stats;
	o->aws = c->aws;
	if (o->gzip)
		o->obj.content_encoding = "gzip";
	if (o->time_field.n == 0 &&
	    jf_path_init(&o->time_field, "timestamp") != 0) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	if ((rc = s3opts_check(c, &o->so,
	    strncmp(o->dest, "s3://", 5) != 0)) != 0)
		return rc;
	if (c->aws.s3_path_style && strncmp(o->dest, "s3://", 5) != 0)
		return cli_usage(c, "--path-style: only for S3, not a local "
		    "directory");
	if (o->max_bytes / o->part_size >= S3_MAX_PARTS)
		return cli_usage(c, "--max-bytes: more than %d parts of "
		    "--part-size", S3_MAX_PARTS);
	if (o->ckdir == NULL && o->job != NULL)
		return cli_usage(c, "--job needs --checkpoint-dir");
	/* Under checkpoints a replay must name and fill the objects alike:
	 * nothing may come from the wall clock or a first record. */
	if (o->ckdir != NULL && (o->by_processing || o->run_id != NULL ||
	    o->spool_dir != NULL))
		return cli_usage(c, "--checkpoint-dir excludes --bucket-by "
		    "processing-time, --run-id and --spool-dir");
	if (o->ckdir != NULL)
		o->obj.if_none_match = 1;
	return check_names(c, o);
}

/* ---- destination ---- */

static void report(void *arg, const struct spool_entry *e,
    const struct s3up_result *r, const char *uri);
static int rolled(void *arg, struct spool_entry *e, const char *tb);
static int part_key(void *arg, const char *tb, struct buf *key);

/* The destination, its spool directory and the upload engine.  Returns
 * 0, or -1 with err set and *usage when it is a configuration error. */
/* What names and shapes the objects of a checkpointed job: a commit
 * written with other values is refused (sinkck.h). */
static struct json_object *
shape(const struct opts *o)
{
	struct json_object *j = json_object_new_object();

	if (j == NULL)
		return NULL;
	json_object_object_add(j, "bucket_format",
	    json_object_new_string(o->bucket_format));
	json_object_object_add(j, "part_prefix",
	    json_object_new_string(o->part_prefix));
	json_object_object_add(j, "part_suffix",
	    json_object_new_string(o->part_suffix));
	json_object_object_add(j, "gzip", json_object_new_boolean(o->gzip));
	json_object_object_add(j, "time_field",
	    json_object_new_string(o->time_field.text));
	return j;
}

/* The checkpoint directory (its lock), and the spool below it.  Returns
 * 0, or an exit status with err. */
static int
ckpt_setup(struct sink *s, char *base, size_t basesz, char *err,
    size_t errsz)
{
	struct json_object *sh = shape(s->o);
	int rc;

	if (sh == NULL) {
		snprintf(err, errsz, "out of memory");
		return KP_EXIT_FAILURE;
	}
	rc = sinkck_open(&s->ck, s->o->ckdir, s->o->job, s->d.ident, sh, err,
	    errsz);
	if (rc == 0 && snprintf(base, basesz, "%s/s3-put", s->o->ckdir) >=
	    (int)basesz) {
		snprintf(err, errsz, "checkpoint directory path too long");
		rc = KP_EXIT_USAGE;
	}
	s->ckpt = rc == 0;
	return rc;
}

/* The destination, its spool directory and the upload engine.  Returns
 * 0, or -1 with err set and *usage when it is a usage error, or an exit
 * status in *status otherwise. */
static int
dest_setup(struct sink *s, char *err, size_t errsz, int *usage, int *status)
{
	struct s3up_config cfg;
	const char *base = s->o->spool_dir;
	char ckbase[PATH_MAX];

	if (s3up_dest_open(&s->d, s->o->dest, &s->o->aws, err, errsz,
	    usage) != 0)
		return -1;
	if (s->o->ckdir != NULL) {
		*status = ckpt_setup(s, ckbase, sizeof(ckbase), err, errsz);
		if (*status != 0)
			return -1;
		base = ckbase;
	}
	s->sp = spool_open("s3-put", base, s->d.ident, err, errsz, usage);
	if (s->sp == NULL)
		return -1;
	parts_init(&s->ps);
	s->ps.sp = s->sp;
	s->ps.pol.bucket_format = s->o->bucket_format;
	s->ps.pol.max_bytes = s->o->max_bytes;
	s->ps.pol.max_records = s->o->max_records;
	s->ps.pol.rollover_ms = s->o->rollover_ms;
	s->ps.pol.inactivity_ms = s->o->inactivity_ms;
	s->ps.max_open = s->o->max_open;
	s->ps.proto.gzip = s->o->gzip;
	s->ps.proto.by_processing = s->o->by_processing;
	s->ps.proto.time_field = (char *)s->o->time_field.text;
	s->ps.name = part_key;
	s->ps.rolled = rolled;
	s->ps.ctx = s;
	memset(&cfg, 0, sizeof(cfg));
	cfg.dest = &s->d;
	cfg.obj = s->o->obj;
	cfg.part_size = s->o->part_size;
	cfg.max_in_flight = cfg.max_chunks = (int)s->o->concurrency;
	cfg.record = outbox_record;
	s->up = s3up_new(&cfg, err, errsz);
	if (s->up == NULL)
		return -1;
	s->ob = outbox_new(s->sp, s->up, report, s);
	if (s->ob == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	s->ck.sp = s->sp;
	s->ck.ps = &s->ps;
	s->ck.ob = s->ob;
	return 0;
}

/* ---- reporting ---- */

/*
 * The outbox tells of each object finished, in order: one delivered gets
 * its line on stdout (flushed by service()), one that was not gets its
 * reason on stderr and stays in the spool.
 */
static void
report(void *arg, const struct spool_entry *e, const struct s3up_result *r,
    const char *uri)
{
	struct sink *s = arg;
	struct buf *b = nd_buf(s->w);
	int rc;

	if (!r->ok) {
		msg_err("%s: not delivered: %s; %llu records kept in spool file "
		    "%s/%016llu.ndjson", uri, r->why,
		    (unsigned long long)e->records, s->sp->dir,
		    (unsigned long long)e->seq);
		return;
	}
	s->objects++;
	s->obj_bytes += r->bytes;
	s->reported = 1;
	if (s->ckpt)
		sinkck_delivered(&s->ck, e->seq);
	msg_info("wrote %s: %llu records, %llu bytes", uri,
	    (unsigned long long)e->records, (unsigned long long)r->bytes);
	outbox_line(b, e, r, uri);
	rc = nd_end(s->w);
	if (rc == ND_EPIPE && !s->out_gone) {
		/* Nobody reads the report: the objects still matter. */
		s->out_gone = 1;
		msg_info("output closed by the reader; going on without it");
	} else if (rc != 0 && rc != ND_EPIPE) {
		s->fatal = 1;
	}
}

/* ---- parts ---- */

/* A spool file error: said, and fatal. */
static int
spool_error(struct sink *s, const char *err)
{
	msg_err("%s", err);
	s->fatal = 1;
	return -1;
}

/* Stall hook: before s3-put waits for input, whatever it holds goes out:
 * records to their spool files, object lines to stdout. */
static void
on_stall(void *arg)
{
	struct sink *s = arg;

	if (parts_flush(&s->ps) != 0)
		spool_error(s, s->ps.err);
	nd_flush(s->w);
}

/* A part rolled (parts.h): to the engine as an object, or under
 * checkpoints to the next commit.  Returns 0, or -1. */
static int
rolled(void *arg, struct spool_entry *e, const char *tb)
{
	struct sink *s = arg;

	return s->ckpt ? sinkck_stage_entry(&s->ck, e, tb) : outbox_add(s->ob, e);
}

/* parts.h's failure: said (unless the naming already said it), fatal. */
static int
parts_error(struct sink *s)
{
	if (s->ps.err[0] != '\0')
		msg_err("%s", s->ps.err);
	s->fatal = 1;
	return -1;
}

/*
 * PREFIX BUCKET/PART-PREFIX-ID-COUNTER PART-SUFFIX[.gz], checked.  Under
 * checkpoints ID is JOB-EPOCH, the epoch the part opened in (the last
 * commit's id + 1), and COUNTER counts the parts of that epoch: a replay
 * of an epoch that never committed names its parts alike.
 */
static int
part_key(void *arg, const char *tb, struct buf *key)
{
	struct sink *s = arg;
	const char *why = "", *job;
	char id[CKPT_JOB_MAX + 32], err[PATH_MAX + 256];

	if (s->ckpt) {
		job = sinkck_job(&s->ck, err, sizeof(err));
		if (job == NULL) {
			msg_err("%s", err);
			s->config_error = 1;
			return -1;
		}
		snprintf(id, sizeof(id), "%s-%llu", job,
		    (unsigned long long)s->ck.committed + 1);
	} else {
		snprintf(id, sizeof(id), "%s", s->run_id);
	}
	buf_printf(key, "%s%s%s%s-%s-%llu%s%s", s->d.local ? "" : s->d.s3.prefix,
	    tb, tb[0] ? "/" : "", s->o->part_prefix, id,
	    (unsigned long long)s->counter, s->o->part_suffix,
	    s->o->gzip ? ".gz" : "");
	if (buf_cstr(key) == NULL) {
		msg_err("out of memory");
		return -1;
	}
	if (!s3_key_ok(key->p, key->len, &why)) {
		msg_err("cannot name an object '%.100s...': %s", key->p,
		    key->len > S3_KEY_MAX ? "too long" : why);
		return -1;
	}
	s->counter++;
	return 0;
}

/* One record into the part of its bucket. */
static int
take_record(struct sink *s, const char *line, size_t len, int64_t t_ms)
{
	if (!s->ckpt && s->run_id[0] == '\0' &&
	    parts_run_id(line, len, s->run_id) != 0) {
		msg_err("SHA-256 failed");
		s->fatal = 1;
		return -1;
	}
	if (parts_add_to(&s->ps, s->tb.p, line, len, t_ms) != 0)
		return parts_error(s);
	s->records++;
	s->uncommitted++;
	return 0;
}

/* ---- the loop ---- */

/* How long the loop may sleep: until the next rolling time, retry or
 * parked object's turn. */
static int
wait_ms(const struct sink *s, int64_t now)
{
	int64_t until = parts_wake(&s->ps, now, now + WAIT_MAX_MS);

	until = s3up_wake(s->up, now, outbox_wake(s->ob, until));
	return until > now ? (int)(until - now) : 0;
}

/* The progress line: objects and bytes delivered, records taken, spool
 * in use. */
static void
show_progress(struct sink *s, int final)
{
	uint64_t spooled = s->ps.bytes + outbox_bytes(s->ob);
	struct buf f = BUF_INIT;

	progress_show(&s->pg, final, "%llu objects (%llu bytes) delivered, "
	    "%llu records taken, %llu bytes spooled", s->objects,
	    (unsigned long long)s->obj_bytes, s->records,
	    (unsigned long long)spooled);
	buf_printf(&f, "\"records_in\":%llu,\"objects\":%llu,"
	    "\"bytes\":%llu,\"spooled_bytes\":%llu,\"pending_objects\":%zu,"
	    "\"rejected\":%llu,\"committed\":%llu", s->records, s->objects,
	    (unsigned long long)s->obj_bytes, (unsigned long long)spooled,
	    outbox_left(s->ob), s->rej.count,
	    (unsigned long long)s->ck.committed);
	progress_stats(&s->pg, final, &f);
	buf_free(&f);
}

/* Collects finished requests, starts what can start, reports what is
 * finished. */
static void
service(struct sink *s)
{
	s3up_service(s->up);
	outbox_collect(s->ob);
	/* A pipeline may chain on the report: it goes out at once. */
	if (s->reported && !s->out_gone && nd_flush(s->w) == ND_ERROR)
		s->fatal = 1;
	s->reported = 0;
	if (progress_due(&s->pg))
		show_progress(s, 0);
}

static void
check_signal(struct sink *s)
{
	if (!sig_stop)
		return;
	sig_stop = 0;
	if (!s->stopping) {
		s->stopping = 1;
		msg_info("stopping: finishing every open part");
	}
	if (sig_count >= 2 && !s->abandon) {
		s->abandon = 1;
		s3up_giveup(s->up);
		msg_warn("second signal: unfinished uploads stay in the spool");
	}
}

/*
 * Makes everything before this point durable at the destination: every
 * open part rolls (roll), and the call returns once every object is
 * written (0) or given up on (-1; those stay in the spool).  Control
 * lines are forwarded only after it succeeds.  Under checkpoints nothing
 * rolls at the end of input (not the end of the stream): only what was
 * committed is delivered.
 */
static int
flush_all(struct sink *s, int requeue, int roll)
{
	unsigned long long before = outbox_failures(s->ob);

	if (roll && parts_roll_all(&s->ps) != 0)
		return parts_error(s);
	if (requeue && outbox_retry(s->ob, kptime_mono_ms(), 1) != 0)
		spool_error(s, "out of memory");
	for (;;) {
		check_signal(s);
		service(s);
		if (s3up_pending(s->up) == 0 || s->abandon || s->fatal)
			break;
		s3up_poll(s->up, -1, wait_ms(s, kptime_mono_ms()));
	}
	if (parts_flush(&s->ps) != 0)
		parts_error(s);
	nd_flush(s->w);
	return outbox_failures(s->ob) == before &&
	    s3up_pending(s->up) == 0 && !s->fatal ? 0 : -1;
}

/* Spool full: nothing more is read until uploads make room.  What the
 * open parts hold goes to their files now (s3-put may wait long), and
 * they roll when nothing else could free space. */
static void
relieve(struct sink *s)
{
	on_stall(s);
	if (s3up_pending(s->up) == 0 && s->ps.head != NULL &&
	    parts_roll_all(&s->ps) != 0)
		parts_error(s);
}

static int
spool_full(const struct sink *s)
{
	return s->ps.bytes + outbox_bytes(s->ob) >= s->o->spool_max;
}

/* ---- checkpoints ---- */

/* Commits barrier b (sinkck.h), once the lines rejected before it are
 * durable too.  Returns 0, or -1 (fatal). */
static int
commit(struct sink *s, const struct ckpt_barrier *b)
{
	char err[PATH_MAX + 512];

	if (nd_reject_sync(&s->rej) != 0 ||
	    sinkck_barrier(&s->ck, b, err, sizeof(err)) != 0) {
		if (!s->rej.failed)
			msg_err("checkpoint %llu not committed: %s",
			    (unsigned long long)b->id, err);
		s->fatal = 1;
		return -1;
	}
	s->counter = 0;
	s->uncommitted = 0;
	return 0;
}

/* A control line under checkpoints: a barrier of this job is committed,
 * then passes on, as every other control line does. */
static void
checkpoint(struct sink *s, const char *line, size_t len)
{
	struct ckpt_barrier b;
	char err[PATH_MAX + 256];
	const char *job;
	int rc = ckpt_barrier_parse(line, len, &b, err, sizeof(err));

	s->control++;
	if (rc < 0) {
		msg_err("%s:%llu: a barrier s3-put cannot commit: %s",
		    nd_name(s->r), nd_lineno(s->r), err);
		s->fatal = 1;
		return;
	}
	if (rc > 0) {
		job = sinkck_job(&s->ck, err, sizeof(err));
		if (job == NULL || strcmp(job, b.job) != 0) {
			msg_err("%s:%llu: a barrier of job %s; this s3-put writes "
			    "job %s", nd_name(s->r), nd_lineno(s->r), b.job,
			    job != NULL ? job : "(none)");
			s->fatal = s->config_error = 1;
		} else if (b.id > s->ck.committed) {
			commit(s, &b);
		}
		ckpt_barrier_clear(&b);
		if (s->fatal)
			return;
	}
	if (nd_put(s->w, line, len) == ND_EPIPE)
		s->out_gone = 1;
	nd_flush(s->w);
	service(s);   /* the objects a commit released go now */
}

/* A control line: every record before it is delivered, then it passes. */
static void
handle_control(struct sink *s, const char *line, size_t len)
{
	s->control++;
	if (flush_all(s, 1, 1) != 0) {
		msg_err("%s:%llu: control line not forwarded: the records "
		    "before it are not all delivered", nd_name(s->r),
		    nd_lineno(s->r));
		s->stop_input = 1;
		s->barrier_failed = 1;
		return;
	}
	if (nd_put(s->w, line, len) == ND_EPIPE)
		s->out_gone = 1;
	nd_flush(s->w);
}

static void
handle_line(struct sink *s, const char *line, size_t len)
{
	const char *why = NULL;
	int64_t t = 0;
	int rc;

	buf_reset(&s->why);
	if (jscan_line(s->js, line, len, &why) != 0) {
		buf_str(&s->why, why);
		goto bad;
	}
	if (jscan_is_control(s->js)) {
		if (s->ckpt)
			checkpoint(s, line, len);
		else
			handle_control(s, line, len);
		return;
	}
	if (s->o->by_processing) {
		t = kptime_now_ms();
	} else if (jscan_time(jscan_get(s->js, s->f_time), KPTIME_AUTO,
	    &s->tmp, &t, &why) != 0) {
		buf_printf(&s->why, "%s: %s", s->o->time_field.text, why);
		goto bad;
	}
	rc = keytpl_expand(&s->o->kt, t, s->js, &s->tmp, &s->tb, &why);
	if (rc != 0) {   /* -1: strftime gave no name (or no memory) */
		buf_str(&s->why, rc > 0 ? why : "no bucket name for its time");
		goto bad;
	}
	take_record(s, line, len, t);
	return;
bad:
	if (nd_reject(&s->rej, nd_name(s->r), nd_lineno(s->r), line, len,
	    "%.*s", (int)s->why.len, s->why.p) != 0)
		s->stop_input = 1;
}

/* Reads up to LINES_PER_TURN lines.  Returns 1 at the end of input, -1
 * when stdin has nothing for now, 0 otherwise. */
static int
read_lines(struct sink *s)
{
	int n;

	for (n = 0; n < LINES_PER_TURN; n++) {
		char *line;
		size_t len;
		int rc = nd_next(s->r, &line, &len, 0);

		if (rc == ND_LINE) {
			handle_line(s, line, len);
			if (s->stop_input || s->fatal || spool_full(s))
				return 0;
		} else if (rc == ND_TIMEOUT) {
			return -1;
		} else if (rc == ND_EOF) {
			return 1;
		} else if (rc == ND_INTR) {
			return 0;
		} else if (rc == ND_TOOLONG) {
			if (s->rej.strict || s->rej.failed) {
				s->stop_input = 1;
				return 0;
			}
		} else {
			msg_err("%s: %s", nd_name(s->r), strerror(errno));
			s->fatal = 1;
			return 0;
		}
	}
	return 0;
}

static void
run(struct sink *s)
{
	int rc = 0;

	for (;;) {
		int64_t now;

		check_signal(s);
		if (s->abandon || s->fatal)
			break;
		now = kptime_mono_ms();
		if (parts_roll_due(&s->ps, now) != 0)
			parts_error(s);
		if (outbox_retry(s->ob, now, 0) != 0)
			spool_error(s, "out of memory");
		service(s);
		if (rc == 1 || s->stopping || s->stop_input || s->fatal)
			break;
		if (spool_full(s)) {
			relieve(s);
			service(s);
			if (spool_full(s)) {
				s3up_poll(s->up, -1, wait_ms(s, kptime_mono_ms()));
				continue;
			}
		}
		rc = read_lines(s);
		if (rc < 0)
			s3up_poll(s->up, STDIN_FILENO,
			    wait_ms(s, kptime_mono_ms()));
	}
	/* After a failed checkpoint flush the objects had their last try. */
	if (!s->abandon && !s->fatal)
		flush_all(s, !s->barrier_failed, !s->ckpt);
}

/* ---- start and end ---- */

/*
 * Delivers first what an earlier run left in the spool, under the keys
 * that run chose.  Returns 0, or -1 when the spool cannot be read.
 */
static int
recover(struct sink *s)
{
	char err[PATH_MAX + 128];
	uint64_t bytes;
	size_t n;

	if (outbox_recover(s->ob, &n, &bytes, err, sizeof(err)) != 0) {
		msg_err("%s", err);
		return -1;
	}
	if (n > 0)
		msg_warn("recovering %zu spooled part%s (%llu bytes) from %s",
		    n, n == 1 ? "" : "s", (unsigned long long)bytes, s->sp->dir);
	return 0;
}

/* Opens what the run needs besides the destination.  Returns 0, or an
 * exit status. */
static int
setup_io(struct sink *s)
{
	s->js = jscan_new();
	if (s->js == NULL || (s->f_time = jscan_want(s->js,
	    &s->o->time_field)) < 0 || keytpl_want(&s->o->kt, s->js) != 0) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	s->r = nd_reader_new(STDIN_FILENO, "<stdin>", s->o->max_line);
	s->w = nd_writer_new(STDOUT_FILENO);
	if (s->r == NULL || s->w == NULL) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	nd_reader_set_reject(s->r, &s->rej);
	nd_reader_on_stall(s->r, on_stall, s);
	progress_init(&s->pg, s->o->progress, s->o->stats);
	return 0;
}

/* The end of a run: what is left is said, the exit status decided. */
static int
finish(struct sink *s)
{
	size_t left;
	int status = KP_EXIT_OK, rc;

	if (s->abandon || s->fatal) {
		s3up_abandon(s->up);
		/* Open parts stay in the spool, whole, for the next run. */
		on_stall(s);
	}
	show_progress(s, 1);
	/* Under checkpoints open parts are committed work in progress. */
	left = outbox_left(s->ob) + (s->ckpt ? 0 : s->ps.n);
	if (left > 0)
		msg_err("%zu object%s not delivered; kept in spool %s (a restart "
		    "with the same destination uploads them)", left,
		    left == 1 ? "" : "s", s->sp->dir);
	if (s->ckpt && s->uncommitted > 0)
		msg_info("%llu records after the last barrier were not "
		    "committed: the next run reads them again", s->uncommitted);
	rc = nd_writer_close(s->w);
	if (rc != 0 && rc != ND_EPIPE)
		status = KP_EXIT_FAILURE;
	if (nd_reject_close(&s->rej) != 0 || s->fatal)
		status = s->config_error ? KP_EXIT_USAGE : KP_EXIT_FAILURE;
	else if (status == KP_EXIT_OK && (s->rej.count > 0 || left > 0))
		status = KP_EXIT_REJECTED;
	msg_info("%llu records, %llu objects (%llu bytes), %llu control lines, "
	    "%llu rejected, %zu not delivered", s->records, s->objects,
	    (unsigned long long)s->obj_bytes, s->control, s->rej.count, left);
	return status;
}

static void
sink_free(struct sink *s)
{
	parts_free(&s->ps);
	outbox_free(s->ob);
	s3up_free(s->up);
	nd_writer_free(s->w);
	nd_reader_free(s->r);
	jscan_free(s->js);
	buf_free(&s->tmp);
	buf_free(&s->why);
	buf_free(&s->tb);
	if (s->rej.dead != NULL || s->rej.dead_path != NULL)
		nd_reject_close(&s->rej);
	spool_close(s->sp);
	sinkck_close(&s->ck);
	s3up_dest_close(&s->d);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cli cli;
	struct sink s;
	char err[PATH_MAX + 512];
	int status = KP_EXIT_FAILURE, rc = 0, usage = 0;

	memset(&o, 0, sizeof(o));
	memset(&cli, 0, sizeof(cli));
	memset(&s, 0, sizeof(s));
	s.o = &o;
	s.d.rootfd = -1;
	msg_init(argv[0]);
	rc = parse_args(argc, argv, &cli, &o);
	if (rc != CLI_RUN) {
		status = rc == CLI_DONE ? KP_EXIT_OK : rc;
		goto out;
	}
	o.aws.stop = &sig_stop;
	if (o.run_id != NULL)
		snprintf(s.run_id, sizeof(s.run_id), "%s", o.run_id);
	if (sig_setup() != 0) {
		msg_err("cannot install signal handlers: %s", strerror(errno));
		goto out;
	}
	/* A dead-letter file that cannot be opened is a configuration
	 * error, found before anything is created. */
	if (nd_reject_init(&s.rej, o.dead_letter, o.strict) != 0) {
		status = KP_EXIT_USAGE;
		goto out;
	}
	if (dest_setup(&s, err, sizeof(err), &usage, &rc) != 0) {
		if (usage)
			status = cli_usage(&cli, "%s", err);
		else
			msg_err("%s", err);
		if (!usage && rc != 0)
			status = rc;
		s3up_dest_unmake(&s.d);
		goto out;
	}
	if ((rc = setup_io(&s)) != 0) {
		status = rc;
		goto out;
	}
	if (o.ckdir != NULL) {
		rc = sinkck_restart(&s.ck, err, sizeof(err));
		if (rc != 0) {
			msg_err("%s", err);
			status = rc;
			goto out;
		}
	} else if (recover(&s) != 0) {
		goto out;
	}
	run(&s);
	status = finish(&s);
out:
	sink_free(&s);
	jf_path_free(&o.time_field);
	keytpl_free(&o.kt);
	return status;
}
