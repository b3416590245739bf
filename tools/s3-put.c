/*
 * s3-put - the sink: NDJSON records on stdin into objects under an S3 prefix
 * or a local directory, the way Flink's FileSink writes row-format parts.
 *
 * Records are bucketed by event time (or processing time) with a strftime
 * format, appended as they arrive to an open part per bucket, and rolled by
 * Flink's DefaultRollingPolicy: size, record count, time since the part
 * opened, inactivity, end of input, SIGTERM/SIGINT and control lines.
 *
 * Durability: every open part is a spool file (plus a small manifest with
 * the object key) in a spool directory; a part is fsynced when it rolls,
 * then uploaded, then its spool files are removed.  A restart uploads
 * whatever a previous run left in the spool under the key that run chose,
 * so after kill -9 every spooled record reaches the destination exactly
 * once.  While the destination is failing, parts keep spooling up to
 * --spool-max; then stdin is no longer read (back-pressure), and memory
 * stays bounded whatever the input.
 *
 * Uploads are asynchronous on the AWS client's libcurl multi handle:
 * single PUTs for parts up to --part-size, multipart uploads above, with
 * up to --concurrency requests in flight and the common retry policy per
 * request (retry.h).  A multipart upload that fails is aborted; its upload
 * id is kept in the manifest until then, so even a kill -9 leaves nothing
 * dangling once the spool is recovered.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "aws.h"
#include "buf.h"
#include "cli.h"
#include "jscan.h"
#include "jfield.h"
#include "kpfs.h"
#include "kptime.h"
#include "msg.h"
#include "ndjson.h"
#include "s3.h"
#include "sig.h"
#include "sigv4.h"

#define USAGE "s3-put [-hqv] [--bucket-by event-time|processing-time] " \
	"[--bucket-format STRFTIME] [--ca-bundle FILE] " \
	"[--checksum sha256|md5|none] [--connect-timeout DURATION] " \
	"[--content-type TYPE] [--dead-letter FILE] [--endpoint-url URL] " \
	"[--gzip] [--inactivity DURATION] [--max-attempts N] " \
	"[--max-bytes BYTES] [--max-in-flight N] [--max-line BYTES] " \
	"[--max-records N] [--no-overwrite] [--no-verify-ssl] " \
	"[--part-prefix PREFIX] [--part-size BYTES] [--part-suffix SUFFIX] " \
	"[--profile NAME] [--progress | --no-progress] [--region REGION] " \
	"[--retry-budget DURATION] [--rollover DURATION] [--run-id ID] " \
	"[--spool-dir DIR] [--spool-max BYTES] [--sse AES256|aws:kms] " \
	"[--sse-kms-key-id KEY] [--storage-class CLASS] [--strict] " \
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
    "  --bucket-format STRFTIME bucket name, UTC (default %Y-%m-%d--%H)\n"
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
    "  --content-type TYPE      Content-Type (default application/x-ndjson)\n"
    "  --checksum sha256|md5|none\n"
    "                           integrity header (default sha256)\n"
    "  --sse AES256|aws:kms     server-side encryption\n"
    "  --sse-kms-key-id KEY     KMS key for --sse aws:kms\n"
    "  --storage-class CLASS    S3 storage class (e.g. STANDARD_IA)\n"
    "  --no-overwrite           never replace an object (If-None-Match: *)\n"
    "  --part-size BYTES        multipart part size, at least 5MiB (default 5MiB)\n"
    "  --max-in-flight N        requests in flight, 1 to 64 (default 8);\n"
    "                           --concurrency N is the same\n"
    "Durability:\n"
    "  --spool-dir DIR          spool directory (default\n"
    "                           $XDG_STATE_HOME/kinpipe/s3-put)\n"
    "  --spool-max BYTES        spool size at which stdin is no longer read\n"
    "                           (default 1GiB)\n";

#define MiB (1024ULL * 1024)
#define PART_SIZE_MIN (5 * MiB)
#define PART_SIZE_MAX (5 * 1024 * MiB)
#define MAX_PARTS 10000
#define SPOOL_BUF (64 * 1024)
#define MAX_OPEN_PARTS 256
#define PARK_RETRY_MS 30000
#define LINES_PER_TURN 1024
#define WAIT_MAX_MS 500
#define RECOVER_MAX_LINE (256 * MiB)

enum checksum { CK_SHA256, CK_MD5, CK_NONE };

struct opts {
	const char *dest;
	struct jf_path time_field;
	int by_processing;      /* --bucket-by: 1 for processing-time */
	const char *bucket_format;
	uint64_t max_bytes, max_records;
	int64_t rollover_ms, inactivity_ms;
	const char *part_prefix, *part_suffix, *run_id;
	const char *content_type;
	enum checksum checksum;
	const char *sse, *sse_kms_key_id, *storage_class;
	int no_overwrite, gzip;
	uint64_t part_size, concurrency;
	const char *spool_dir;
	uint64_t spool_max;
	const char *dead_letter;
	int strict;
	size_t max_line;
	struct aws_opts aws;
};

/* An open part: records of one time bucket, appended to a spool file. */
struct part {
	struct part *next;
	char *tb;             /* time bucket */
	char *key;
	uint64_t seq;         /* spool file number */
	int fd;
	char *buf;            /* records not yet written to the spool file */
	size_t blen;
	uint64_t bytes, records;
	int64_t first_ms, last_ms;
	int64_t opened_mono, last_mono;
};

enum req_kind { R_ABORT_OLD, R_PUT, R_CREATE, R_PART, R_COMPLETE, R_ABORT,
	R_HEAD };

static const char *const req_name[] = {
	"AbortMultipartUpload", "PutObject", "CreateMultipartUpload",
	"UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
	"HeadObject",
};

struct job;
struct chunk;

/* One request of a job, with its own retry state. */
struct req {
	enum req_kind kind;
	struct job *job;
	struct chunk *chunk;
	int pending;           /* to be started once not_before has come */
	int64_t not_before;
	int started;           /* retry state initialised */
	int refreshed;         /* credentials refreshed once */
	struct retry_state rs;
	struct http_xfer *x;   /* in flight */
};

/* A piece of an object in memory: the whole object for a single PUT, one
 * part of a multipart upload. */
struct chunk {
	int number;            /* part number, 1-based; 0 for a single PUT */
	unsigned char *buf;
	size_t len;
	char sha_hex[SIGV4_SHA256_HEX_LEN + 1];
	char sha_b64[48];
	char md5_b64[32];
	unsigned char md5[16];
	char etag[128];
	int done;
	struct req rq;
};

enum job_state { J_NEW, J_ABORT_OLD, J_PUT, J_CREATE, J_PARTS, J_COMPLETE,
	J_HEAD, J_ABORT, J_DONE, J_FAILED };

/* A rolled part on its way to the destination. */
struct job {
	struct job *next;
	uint64_t seq;
	char *key;
	uint64_t raw_bytes, records;
	int64_t first_ms, last_ms;
	int have_times;
	int gzip;
	enum job_state state;
	int fd;                /* the spool file, read with pread() */
	/* producer: object bytes from the spool file, through gzip or not */
	uint64_t in_off;
	int src_done;
	z_stream z;
	int z_live;
	unsigned char *zin;
	uint64_t obj_bytes;
	/* multipart */
	char *upload_id;
	char *old_upload_id;   /* left by a previous run: aborted first */
	struct chunk **chunks;
	size_t nchunks, capchunks;
	char *complete_body;
	int inflight;
	int failing;           /* a permanent error: abort once idle */
	struct req one;        /* the job's single request of its state */
	char etag[128];
	char why[600];
	int64_t parked_at;
};

/* Everything the tool holds; passed around, never global. */
struct sink {
	struct opts *o;
	/* destination */
	int local;
	struct s3_uri s3;
	char *root;            /* local: absolute path without trailing '/' */
	int rootfd;
	struct aws_client *aws;
	/* spool */
	char *spool;           /* the destination's spool subdirectory */
	int spoolfd, lockfd;
	uint64_t next_seq;
	uint64_t spool_used;
	/* naming */
	char run_id[72];
	uint64_t counter;
	int64_t tb_sec;        /* cache of the last time bucket */
	char tb[256];
	/* state */
	struct part *parts;
	size_t nparts;
	struct job *queue, **queue_tail;
	struct job *parked;
	size_t held;           /* chunks holding memory */
	/* I/O */
	struct nd_reader *r;
	struct nd_writer *w;
	struct nd_reject rej;
	struct jf_parser jp;    /* spool manifests, recovered records */
	struct jscan *js;       /* input records */
	int f_time;
	struct buf tmp, why;
	/* outcome */
	int stopping, abandon, stop_input, fatal, out_gone, barrier_failed;
	unsigned long long objects, records, control;
	unsigned long long new_failures;
	uint64_t obj_bytes;
};

enum {
	OPT_BUCKET_BY = CLI_ID,
	OPT_BUCKET_FORMAT,
	OPT_CHECKSUM,
	OPT_CONCURRENCY,
	OPT_CONTENT_TYPE,
	OPT_GZIP,
	OPT_INACTIVITY,
	OPT_MAX_BYTES,
	OPT_MAX_RECORDS,
	OPT_NO_OVERWRITE,
	OPT_PART_PREFIX,
	OPT_PART_SIZE,
	OPT_PART_SUFFIX,
	OPT_ROLLOVER,
	OPT_RUN_ID,
	OPT_SPOOL_DIR,
	OPT_SPOOL_MAX,
	OPT_SSE,
	OPT_SSE_KMS,
	OPT_STORAGE_CLASS,
	OPT_TIME_FIELD,
};

static const struct cli_option options[] = {
	{ "bucket-by", 1, OPT_BUCKET_BY },
	{ "bucket-format", 1, OPT_BUCKET_FORMAT },
	{ "checksum", 1, OPT_CHECKSUM },
	{ "max-in-flight", 1, OPT_CONCURRENCY },
	{ "concurrency", 1, OPT_CONCURRENCY },
	{ "content-type", 1, OPT_CONTENT_TYPE },
	{ "gzip", 0, OPT_GZIP },
	{ "inactivity", 1, OPT_INACTIVITY },
	{ "max-bytes", 1, OPT_MAX_BYTES },
	{ "max-records", 1, OPT_MAX_RECORDS },
	{ "no-overwrite", 0, OPT_NO_OVERWRITE },
	{ "part-prefix", 1, OPT_PART_PREFIX },
	{ "part-size", 1, OPT_PART_SIZE },
	{ "part-suffix", 1, OPT_PART_SUFFIX },
	{ "rollover", 1, OPT_ROLLOVER },
	{ "run-id", 1, OPT_RUN_ID },
	{ "spool-dir", 1, OPT_SPOOL_DIR },
	{ "spool-max", 1, OPT_SPOOL_MAX },
	{ "sse", 1, OPT_SSE },
	{ "sse-kms-key-id", 1, OPT_SSE_KMS },
	{ "storage-class", 1, OPT_STORAGE_CLASS },
	{ "time-field", 1, OPT_TIME_FIELD },
	{ NULL, 0, 0 },
};

/* ---- small helpers ---- */

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* A name piece: non-empty unless may_be_empty, no '/', no control. */
static int
name_piece_ok(const char *s, int may_be_empty)
{
	if (*s == '\0')
		return may_be_empty;
	return strchr(s, '/') == NULL && !has_ctl(s);
}

static int
run_id_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int
digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out)
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, md, NULL) == 1 ? 0 : -1;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = h[in[i] >> 4];
		out[2 * i + 1] = h[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Strips the quotes S3 puts around an ETag. */
static void
etag_plain(const char *in, char *out, size_t outsz)
{
	size_t n = strlen(in);

	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

static int
time_bucket(const char *fmt, int64_t ms, char *out, size_t outsz)
{
	time_t sec = (time_t)kptime_floor_div(ms, 1000);
	struct tm tm;
	size_t n;

	if (gmtime_r(&sec, &tm) == NULL)
		return -1;
	if (*fmt == '\0') {
		out[0] = '\0';
		return 0;
	}
	n = strftime(out, outsz, fmt, &tm);
	if (n == 0)
		return -1;
	return 0;
}

/* ---- options ---- */

static int
option(struct cli *c, int id, const char *arg)
{
	static const char *const bys[] = { "event-time", "processing-time",
	    NULL };
	static const char *const sums[] = { "sha256", "md5", "none", NULL };
	static const char *const sses[] = { "AES256", "aws:kms", NULL };
	struct opts *o = c->ctx;
	int rc = 0, w;

	switch (id) {
	case OPT_BUCKET_BY:
		rc = cli_word(c, arg, bys, &o->by_processing);
		break;
	case OPT_BUCKET_FORMAT:
		o->bucket_format = arg;
		break;
	case OPT_CHECKSUM:
		rc = cli_word(c, arg, sums, &w);
		o->checksum = (enum checksum)w;
		break;
	case OPT_CONCURRENCY:
		rc = cli_count(c, arg, 1, 64, &o->concurrency);
		break;
	case OPT_CONTENT_TYPE:
		if (*arg == '\0' || has_ctl(arg) || strlen(arg) > 1024)
			rc = cli_bad(c, "not a header value", arg);
		o->content_type = arg;
		break;
	case OPT_GZIP:
		o->gzip = 1;
		break;
	case OPT_INACTIVITY:
		rc = cli_duration(c, arg, 0, CLI_DURATION_MAX,
		    &o->inactivity_ms);
		break;
	case OPT_MAX_BYTES:
		rc = cli_size(c, arg, 1, UINT64_MAX, &o->max_bytes);
		break;
	case OPT_MAX_RECORDS:
		rc = cli_count(c, arg, 1, UINT64_MAX, &o->max_records);
		break;
	case OPT_NO_OVERWRITE:
		o->no_overwrite = 1;
		break;
	case OPT_PART_PREFIX:
		if (!name_piece_ok(arg, 0))
			rc = cli_bad(c, "empty or with '/' or a control "
			    "character", arg);
		o->part_prefix = arg;
		break;
	case OPT_PART_SIZE:
		rc = cli_size(c, arg, PART_SIZE_MIN, PART_SIZE_MAX,
		    &o->part_size);
		break;
	case OPT_PART_SUFFIX:
		if (!name_piece_ok(arg, 1))
			rc = cli_bad(c, "with '/' or a control character", arg);
		o->part_suffix = arg;
		break;
	case OPT_ROLLOVER:
		rc = cli_duration(c, arg, 0, CLI_DURATION_MAX, &o->rollover_ms);
		break;
	case OPT_RUN_ID:
		if (!run_id_ok(arg))
			rc = cli_bad(c, "expected 1 to 64 of A-Z a-z 0-9 . _ -",
			    arg);
		o->run_id = arg;
		break;
	case OPT_SPOOL_DIR:
		if (*arg == '\0')
			rc = cli_bad(c, "empty path", arg);
		o->spool_dir = arg;
		break;
	case OPT_SPOOL_MAX:
		rc = cli_size(c, arg, 1, UINT64_MAX, &o->spool_max);
		break;
	case OPT_SSE:
		rc = cli_word(c, arg, sses, &w);
		o->sse = arg;
		break;
	case OPT_SSE_KMS:
		if (*arg == '\0' || has_ctl(arg) || strlen(arg) > 2048)
			rc = cli_bad(c, "not a key id", arg);
		o->sse_kms_key_id = arg;
		break;
	case OPT_STORAGE_CLASS:
		if (*arg == '\0' || strlen(arg) > 64 ||
		    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(arg))
			rc = cli_bad(c, "not a storage class", arg);
		o->storage_class = arg;
		break;
	case OPT_TIME_FIELD:
		rc = cli_path(c, arg, &o->time_field);
		break;
	}
	return rc;
}

/* Returns CLI_RUN, CLI_DONE or an exit status. */
static int
parse_args(int argc, char **argv, struct cli *c, struct opts *o)
{
	int rc;

	o->bucket_format = "%Y-%m-%d--%H";
	o->max_bytes = 128 * MiB;
	o->rollover_ms = 60000;
	o->inactivity_ms = 60000;
	o->part_prefix = "part";
	o->part_suffix = ".json";
	o->content_type = "application/x-ndjson";
	o->checksum = CK_SHA256;
	o->part_size = PART_SIZE_MIN;
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
	o->aws = c->aws;
	if (o->time_field.n == 0 &&
	    jf_path_init(&o->time_field, "timestamp") != 0) {
		msg_err("out of memory");
		return KP_EXIT_FAILURE;
	}
	if (o->sse_kms_key_id != NULL &&
	    (o->sse == NULL || strcmp(o->sse, "aws:kms") != 0))
		return cli_usage(c, "--sse-kms-key-id needs --sse aws:kms");
	if (o->max_bytes / o->part_size >= MAX_PARTS)
		return cli_usage(c, "--max-bytes: more than %d parts of "
		    "--part-size", MAX_PARTS);
	if (has_ctl(o->bucket_format) || strlen(o->bucket_format) > 128)
		return cli_usage(c, "--bucket-format: too long or with a "
		    "control character");
	{
		/* The format must make a safe path piece for any time. */
		static const int64_t probes[] = { 0, 1723161255342LL,
		    253402300799999LL };
		char tb[256];
		const char *why = "";
		size_t i;

		for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			if (time_bucket(o->bucket_format, probes[i], tb,
			    sizeof(tb)) != 0)
				return cli_usage(c, "--bucket-format: gives "
				    "an empty or too long name: %s",
				    o->bucket_format);
			if (tb[0] != '\0' && !s3_key_ok(tb, strlen(tb), &why))
				return cli_usage(c, "--bucket-format: %s: %s",
				    why, o->bucket_format);
		}
	}
	return CLI_RUN;
}

/* ---- destination and spool ---- */

static int
dest_setup(struct sink *s, char *err, size_t errsz, int *usage)
{
	const char *d = s->o->dest, *path = NULL;
	char ident[PATH_MAX + 1200], resolved[PATH_MAX];
	unsigned char h[32];
	char hx[65];
	const char *colon = strstr(d, "://");

	*usage = 1;
	if (strncmp(d, "s3://", 5) == 0) {
		if (s3_uri_parse(d, &s->s3, err, errsz) != 0)
			return -1;
		s->aws = aws_client_new("S3", "s3", &s->o->aws, err, errsz, usage);
		if (s->aws == NULL)
			return -1;
		snprintf(ident, sizeof(ident), "s3\n%s\n%s\n%s\n",
		    aws_client_endpoint(s->aws), s->s3.bucket, s->s3.prefix);
	} else {
		if (strncmp(d, "file://", 7) == 0) {
			path = d + 7;
			if (strncmp(path, "localhost/", 10) == 0)
				path += 9;
			if (path[0] != '/') {
				snprintf(err, errsz, "not a file:/// URI: %s", d);
				return -1;
			}
		} else if (colon != NULL &&
		    strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789+.-") ==
		    (size_t)(colon - d)) {
			snprintf(err, errsz, "unsupported destination: %s "
			    "(s3://, file:// or a path)", d);
			return -1;
		} else {
			path = d;
		}
		if (*path == '\0') {
			snprintf(err, errsz, "empty destination");
			return -1;
		}
		*usage = 0;
		if (kpfs_mkdirs(path, 0755) != 0) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (realpath(path, resolved) == NULL) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			return -1;
		}
		s->local = 1;
		s->root = strdup(strcmp(resolved, "/") == 0 ? "" : resolved);
		if (s->root == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		s->rootfd = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->rootfd < 0) {
			snprintf(err, errsz, "%s: %s", resolved, strerror(errno));
			return -1;
		}
		snprintf(ident, sizeof(ident), "file\n%s/\n", s->root);
	}
	/* One spool subdirectory per destination. */
	{
		const char *base = s->o->spool_dir, *xdg = getenv("XDG_STATE_HOME");
		const char *home = getenv("HOME");
		char dir[PATH_MAX];
		int n;

		if (digest(EVP_sha256(), ident, strlen(ident), h) != 0) {
			snprintf(err, errsz, "SHA-256 failed");
			*usage = 0;
			return -1;
		}
		hex(h, 8, hx);
		if (base != NULL)
			n = snprintf(dir, sizeof(dir), "%s/%s", base, hx);
		else if (xdg != NULL && xdg[0] == '/')
			n = snprintf(dir, sizeof(dir), "%s/kinpipe/s3-put/%s",
			    xdg, hx);
		else if (home != NULL && home[0] == '/')
			n = snprintf(dir, sizeof(dir),
			    "%s/.local/state/kinpipe/s3-put/%s", home, hx);
		else {
			snprintf(err, errsz, "no spool directory: set "
			    "--spool-dir, XDG_STATE_HOME or HOME");
			*usage = 1;
			return -1;
		}
		if (n < 0 || (size_t)n >= sizeof(dir)) {
			snprintf(err, errsz, "spool directory path too long");
			return -1;
		}
		*usage = 0;
		if (kpfs_mkdirs(dir, 0700) != 0) {
			snprintf(err, errsz, "spool directory %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		s->spool = strdup(dir);
		if (s->spool == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		s->spoolfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->spoolfd < 0) {
			snprintf(err, errsz, "%s: %s", dir, strerror(errno));
			return -1;
		}
		s->lockfd = openat(s->spoolfd, "lock", O_RDWR | O_CREAT |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (s->lockfd < 0) {
			snprintf(err, errsz, "%s/lock: %s", dir, strerror(errno));
			return -1;
		}
		if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
			snprintf(err, errsz, "spool directory %s is in use by "
			    "another s3-put", dir);
			return -1;
		}
		if (kpfs_write_atomic(s->spoolfd, "dest", ident,
		    strlen(ident)) != 0) {
			snprintf(err, errsz, "%s/dest: %s", dir, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void
spool_name(uint64_t seq, const char *ext, char *out, size_t outsz)
{
	snprintf(out, outsz, "%016llu.%s", (unsigned long long)seq, ext);
}

/* Removes a job's spool files: the data first, so that a manifest without
 * data always means "already delivered". */
static void
spool_remove(struct sink *s, uint64_t seq)
{
	char name[64];

	spool_name(seq, "ndjson", name, sizeof(name));
	if (unlinkat(s->spoolfd, name, 0) != 0 && errno != ENOENT)
		msg_warn("%s/%s: %s", s->spool, name, strerror(errno));
	spool_name(seq, "meta", name, sizeof(name));
	if (unlinkat(s->spoolfd, name, 0) != 0 && errno != ENOENT)
		msg_warn("%s/%s: %s", s->spool, name, strerror(errno));
}

/* Writes the manifest of spool file seq: the key it belongs to and what a
 * restart needs to upload it the same way. */
static int
meta_write(struct sink *s, uint64_t seq, const char *key, int gzip,
    int64_t opened_ms, const char *upload_id)
{
	struct json_object *m = json_object_new_object();
	char name[64], when[KPTIME_BUFSZ];
	const char *text;
	int rc = -1;

	if (m == NULL)
		return -1;
	if (kptime_format(opened_ms, when, sizeof(when)) == 0)
		when[0] = '\0';
	if (json_object_object_add(m, "version", json_object_new_int(1)) != 0 ||
	    json_object_object_add(m, "key", json_object_new_string(key)) != 0 ||
	    json_object_object_add(m, "gzip", json_object_new_boolean(gzip)) != 0 ||
	    json_object_object_add(m, "bucket_by", json_object_new_string(
	    s->o->by_processing ? "processing-time" : "event-time")) != 0 ||
	    json_object_object_add(m, "time_field",
	    json_object_new_string(s->o->time_field.text)) != 0 ||
	    json_object_object_add(m, "opened", json_object_new_string(when)) != 0)
		goto out;
	if (upload_id != NULL && json_object_object_add(m, "upload_id",
	    json_object_new_string(upload_id)) != 0)
		goto out;
	text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	spool_name(seq, "meta", name, sizeof(name));
	if (kpfs_write_atomic(s->spoolfd, name, text, strlen(text)) != 0) {
		msg_err("%s/%s: %s", s->spool, name, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	json_object_put(m);
	return rc;
}

/* ---- jobs ---- */

static void
chunk_free(struct sink *s, struct chunk *c)
{
	if (c == NULL)
		return;
	if (c->buf != NULL)
		s->held--;
	free(c->buf);
	free(c);
}

static void
job_free(struct sink *s, struct job *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->nchunks; i++)
		chunk_free(s, j->chunks[i]);
	free(j->chunks);
	if (j->z_live)
		deflateEnd(&j->z);
	free(j->zin);
	if (j->fd >= 0)
		close(j->fd);
	free(j->key);
	free(j->upload_id);
	free(j->old_upload_id);
	free(j->complete_body);
	free(j);
}

/* Back to the start: the object is produced again from the spool file. */
static void
job_reset(struct sink *s, struct job *j)
{
	size_t i;

	for (i = 0; i < j->nchunks; i++)
		chunk_free(s, j->chunks[i]);
	j->nchunks = 0;
	if (j->z_live)
		deflateEnd(&j->z);
	j->z_live = 0;
	free(j->zin);
	j->zin = NULL;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	j->in_off = 0;
	j->src_done = 0;
	j->obj_bytes = 0;
	free(j->complete_body);
	j->complete_body = NULL;
	j->failing = 0;
	j->why[0] = '\0';
	memset(&j->one, 0, sizeof(j->one));
	j->state = J_NEW;
}

static void
enqueue(struct sink *s, struct job *j)
{
	j->next = NULL;
	*s->queue_tail = j;
	s->queue_tail = &j->next;
}

static void
job_uri(const struct sink *s, const struct job *j, char *out, size_t outsz)
{
	if (s->local)
		snprintf(out, outsz, "file://%s/%s", s->root, j->key);
	else
		snprintf(out, outsz, "s3://%s/%s", s->s3.bucket, j->key);
}

/* The next piece of the object: up to --part-size bytes of the spool file,
 * gzip-compressed with --gzip.  Returns 0, or -1 with j->why set. */
static int
produce(struct sink *s, struct job *j, struct chunk *c)
{
	uint64_t cap = s->o->part_size;
	size_t alloc;

	/* Queued jobs hold no descriptor: an outage may queue thousands. */
	if (j->fd < 0) {
		char name[64];

		spool_name(j->seq, "ndjson", name, sizeof(name));
		j->fd = openat(s->spoolfd, name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (j->fd < 0) {
			snprintf(j->why, sizeof(j->why), "spool file %s: %s",
			    name, strerror(errno));
			return -1;
		}
	}
	if (!j->gzip) {
		uint64_t left = j->raw_bytes - j->in_off;
		size_t n = (size_t)(left < cap ? left : cap), got = 0;

		c->buf = malloc(n ? n : 1);
		if (c->buf == NULL)
			goto nomem;
		s->held++;
		while (got < n) {
			ssize_t k = pread(j->fd, c->buf + got, n - got,
			    (off_t)(j->in_off + got));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				snprintf(j->why, sizeof(j->why), "reading spool "
				    "file %016llu: %s", (unsigned long long)j->seq,
				    k < 0 ? strerror(errno) : "file shrank");
				return -1;
			}
			got += (size_t)k;
		}
		c->len = n;
		j->in_off += n;
		j->src_done = j->in_off >= j->raw_bytes;
		j->obj_bytes += n;
		return 0;
	}
	if (!j->z_live) {
		memset(&j->z, 0, sizeof(j->z));
		if (deflateInit2(&j->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
		    15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			snprintf(j->why, sizeof(j->why), "zlib: cannot start");
			return -1;
		}
		j->z_live = 1;
		if (j->zin == NULL && (j->zin = malloc(SPOOL_BUF)) == NULL)
			goto nomem;
	}
	/* Start small and grow: most rolled parts compress to far less than
	 * a part. */
	{
		uint64_t est = deflateBound(&j->z,
		    (uLong)(j->raw_bytes - j->in_off)) + j->z.avail_in + 4096;

		alloc = (size_t)(est < cap ? est : cap);
	}
	c->buf = malloc(alloc);
	if (c->buf == NULL)
		goto nomem;
	s->held++;
	c->len = 0;
	for (;;) {
		int flush, zrc;

		if (j->z.avail_in == 0 && j->in_off < j->raw_bytes) {
			uint64_t left = j->raw_bytes - j->in_off;
			size_t want = left < SPOOL_BUF ? (size_t)left : SPOOL_BUF;
			ssize_t k = pread(j->fd, j->zin, want, (off_t)j->in_off);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				snprintf(j->why, sizeof(j->why), "reading spool "
				    "file %016llu: %s", (unsigned long long)j->seq,
				    k < 0 ? strerror(errno) : "file shrank");
				return -1;
			}
			j->z.next_in = j->zin;
			j->z.avail_in = (uInt)k;
			j->in_off += (uint64_t)k;
		}
		if (c->len == alloc) {
			size_t na;
			unsigned char *nb;

			if (alloc >= cap)
				break; /* the chunk is full */
			na = alloc * 2 < cap ? alloc * 2 : (size_t)cap;
			nb = realloc(c->buf, na);
			if (nb == NULL)
				goto nomem;
			c->buf = nb;
			alloc = na;
		}
		flush = j->in_off >= j->raw_bytes && j->z.avail_in == 0 ?
		    Z_FINISH : Z_NO_FLUSH;
		j->z.next_out = c->buf + c->len;
		j->z.avail_out = (uInt)(alloc - c->len);
		zrc = deflate(&j->z, flush);
		c->len = alloc - j->z.avail_out;
		if (zrc == Z_STREAM_END) {
			deflateEnd(&j->z);
			j->z_live = 0;
			j->src_done = 1;
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			snprintf(j->why, sizeof(j->why), "zlib: error %d", zrc);
			return -1;
		}
	}
	j->obj_bytes += c->len;
	return 0;
nomem:
	snprintf(j->why, sizeof(j->why), "out of memory");
	return -1;
}

/* Digests of a chunk: SHA-256 always (it signs the payload), MD5 when a
 * header or an ETag check needs it. */
static int
chunk_hash(struct sink *s, struct chunk *c)
{
	unsigned char sha[32];

	if (digest(EVP_sha256(), c->buf, c->len, sha) != 0)
		return -1;
	hex(sha, 32, c->sha_hex);
	EVP_EncodeBlock((unsigned char *)c->sha_b64, sha, 32);
	if (s->o->checksum == CK_MD5 || s->o->no_overwrite) {
		if (digest(EVP_md5(), c->buf, c->len, c->md5) != 0)
			return -1;
		EVP_EncodeBlock((unsigned char *)c->md5_b64, c->md5, 16);
	}
	return 0;
}

static struct chunk *
chunk_new(struct sink *s, struct job *j)
{
	struct chunk *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(j->why, sizeof(j->why), "out of memory");
		return NULL;
	}
	if (j->nchunks == j->capchunks) {
		size_t nc = j->capchunks ? j->capchunks * 2 : 4;
		struct chunk **np = realloc(j->chunks, nc * sizeof(*np));

		if (np == NULL) {
			free(c);
			snprintf(j->why, sizeof(j->why), "out of memory");
			return NULL;
		}
		j->chunks = np;
		j->capchunks = nc;
	}
	j->chunks[j->nchunks++] = c;
	c->number = (int)j->nchunks;
	c->rq.kind = R_PART;
	c->rq.job = j;
	c->rq.chunk = c;
	if (produce(s, j, c) != 0 || chunk_hash(s, c) != 0) {
		if (j->why[0] == '\0')
			snprintf(j->why, sizeof(j->why), "digest failed");
		return NULL;
	}
	return c;
}

static void
req_arm(struct req *rq, enum req_kind kind, struct job *j, int64_t now)
{
	rq->kind = kind;
	rq->job = j;
	rq->pending = 1;
	rq->not_before = now;
	rq->started = 0;
	rq->refreshed = 0;
}

/* The headers an object gets when it is created (PUT or multipart). */
static size_t
object_headers(struct sink *s, const char **h, char bufs[][192], size_t n)
{
	const struct opts *o = s->o;

	snprintf(bufs[n], sizeof(bufs[0]), "Content-Type: %s", o->content_type);
	h[n] = bufs[n];
	n++;
	if (o->gzip)
		h[n++] = "Content-Encoding: gzip";
	if (o->sse != NULL) {
		snprintf(bufs[n], sizeof(bufs[0]),
		    "x-amz-server-side-encryption: %s", o->sse);
		h[n] = bufs[n];
		n++;
	}
	if (o->sse_kms_key_id != NULL) {
		snprintf(bufs[n], sizeof(bufs[0]),
		    "x-amz-server-side-encryption-aws-kms-key-id: %s",
		    o->sse_kms_key_id);
		h[n] = bufs[n];
		n++;
	}
	if (o->storage_class != NULL) {
		snprintf(bufs[n], sizeof(bufs[0]), "x-amz-storage-class: %s",
		    o->storage_class);
		h[n] = bufs[n];
		n++;
	}
	return n;
}

/* The integrity header of a body. */
static size_t
checksum_header(struct sink *s, const struct chunk *c, const char **h,
    char bufs[][192], size_t n)
{
	if (s->o->checksum == CK_SHA256) {
		snprintf(bufs[n], sizeof(bufs[0]), "x-amz-checksum-sha256: %s",
		    c->sha_b64);
		h[n] = bufs[n];
		n++;
	} else if (s->o->checksum == CK_MD5) {
		snprintf(bufs[n], sizeof(bufs[0]), "Content-MD5: %s",
		    c->md5_b64);
		h[n] = bufs[n];
		n++;
	}
	return n;
}

static int
complete_body(struct sink *s, struct job *j)
{
	size_t cap = 160 + j->nchunks * 320, len = 0, i;
	char *b = malloc(cap);
	int n;

	if (b == NULL)
		return -1;
	n = snprintf(b, cap, "<CompleteMultipartUpload xmlns=\"http://s3."
	    "amazonaws.com/doc/2006-03-01/\">");
	len = (size_t)n;
	for (i = 0; i < j->nchunks; i++) {
		const struct chunk *c = j->chunks[i];

		n = snprintf(b + len, cap - len, "<Part><PartNumber>%d"
		    "</PartNumber><ETag>%s</ETag>", c->number, c->etag);
		if (n < 0 || (size_t)n >= cap - len)
			goto fail;
		len += (size_t)n;
		if (s->o->checksum == CK_SHA256) {
			n = snprintf(b + len, cap - len, "<ChecksumSHA256>%s"
			    "</ChecksumSHA256>", c->sha_b64);
			if (n < 0 || (size_t)n >= cap - len)
				goto fail;
			len += (size_t)n;
		}
		n = snprintf(b + len, cap - len, "</Part>");
		if (n < 0 || (size_t)n >= cap - len)
			goto fail;
		len += (size_t)n;
	}
	n = snprintf(b + len, cap - len, "</CompleteMultipartUpload>");
	if (n < 0 || (size_t)n >= cap - len)
		goto fail;
	free(j->complete_body);
	j->complete_body = b;
	return 0;
fail:
	free(b);
	return -1;
}

/* Starts rq now.  Returns 0, or -1 when it could not even be sent (the
 * job then fails with the reason). */
static int
req_start(struct sink *s, struct req *rq)
{
	struct job *j = rq->job;
	const struct opts *o = s->o;
	const char *h[16];
	char bufs[16][192], query[1200], enc[900];
	struct aws_call call;
	char *path = NULL;
	size_t nh = 0;
	int rc = -1;

	memset(&call, 0, sizeof(call));
	query[0] = '\0';
	path = s3_object_path(s->s3.bucket, j->key);
	if (path == NULL) {
		snprintf(j->why, sizeof(j->why), "out of memory");
		goto out;
	}
	call.path = path;
	switch (rq->kind) {
	case R_ABORT_OLD:
	case R_ABORT:
		if (sigv4_uri_encode(rq->kind == R_ABORT ? j->upload_id :
		    j->old_upload_id, strlen(rq->kind == R_ABORT ?
		    j->upload_id : j->old_upload_id), 1, enc, sizeof(enc)) != 0)
			goto badid;
		snprintf(query, sizeof(query), "uploadId=%s", enc);
		call.method = "DELETE";
		break;
	case R_PUT:
		call.method = "PUT";
		nh = object_headers(s, h, bufs, nh);
		nh = checksum_header(s, j->chunks[0], h, bufs, nh);
		if (o->no_overwrite)
			h[nh++] = "If-None-Match: *";
		call.body = j->chunks[0]->buf;
		call.body_len = j->chunks[0]->len;
		call.payload_hash = j->chunks[0]->sha_hex;
		break;
	case R_CREATE:
		call.method = "POST";
		snprintf(query, sizeof(query), "uploads");
		nh = object_headers(s, h, bufs, nh);
		if (o->checksum == CK_SHA256)
			h[nh++] = "x-amz-checksum-algorithm: SHA256";
		break;
	case R_PART:
		if (sigv4_uri_encode(j->upload_id, strlen(j->upload_id), 1, enc,
		    sizeof(enc)) != 0)
			goto badid;
		snprintf(query, sizeof(query), "partNumber=%d&uploadId=%s",
		    rq->chunk->number, enc);
		call.method = "PUT";
		h[nh++] = "Content-Type: application/octet-stream";
		nh = checksum_header(s, rq->chunk, h, bufs, nh);
		call.body = rq->chunk->buf;
		call.body_len = rq->chunk->len;
		call.payload_hash = rq->chunk->sha_hex;
		break;
	case R_COMPLETE:
		if (sigv4_uri_encode(j->upload_id, strlen(j->upload_id), 1, enc,
		    sizeof(enc)) != 0)
			goto badid;
		snprintf(query, sizeof(query), "uploadId=%s", enc);
		call.method = "POST";
		h[nh++] = "Content-Type: application/xml";
		if (o->no_overwrite)
			h[nh++] = "If-None-Match: *";
		call.body = j->complete_body;
		call.body_len = strlen(j->complete_body);
		break;
	case R_HEAD:
		call.method = "HEAD";
		break;
	}
	call.query = query[0] ? query : NULL;
	call.headers = h;
	call.nheaders = nh;
	if (!rq->started) {
		retry_start(&rq->rs, kptime_mono_ms(),
		    (uint64_t)j->seq * 7919u + (uint64_t)rq->kind * 131u +
		    (rq->chunk ? (uint64_t)rq->chunk->number : 0) + 1);
		rq->started = 1;
	}
	rq->x = aws_start(s->aws, &call, rq, j->why, sizeof(j->why));
	if (rq->x == NULL)
		goto out;
	rq->pending = 0;
	j->inflight++;
	rc = 0;
	goto out;
badid:
	snprintf(j->why, sizeof(j->why), "upload id too long");
out:
	free(path);
	return rc;
}

static void job_fail(struct sink *s, struct job *j);

/* Marks a multipart job as failing: no new parts; the upload is aborted
 * once nothing of it is in flight. */
static void
mpu_failing(struct job *j)
{
	j->failing = 1;
}

/* Delivered: the memory goes at once, the report waits for its turn. */
static void
job_done(struct sink *s, struct job *j)
{
	size_t i;

	for (i = 0; i < j->nchunks; i++)
		chunk_free(s, j->chunks[i]);
	j->nchunks = 0;
	free(j->zin);
	j->zin = NULL;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	j->state = J_DONE;
}

static void
job_fail(struct sink *s, struct job *j)
{
	(void)s;
	j->state = J_FAILED;
}

static int
chunks_all_done(const struct job *j)
{
	size_t i;

	for (i = 0; i < j->nchunks; i++)
		if (!j->chunks[i]->done)
			return 0;
	return 1;
}

static int
slots(const struct sink *s)
{
	return s->aws != NULL &&
	    http_inflight(aws_client_http(s->aws)) < (int)s->o->concurrency;
}

/* Starts the first chunk of a job: a single PUT when the whole object fits
 * in one part, else a multipart upload. */
static void
job_begin(struct sink *s, struct job *j, int64_t now)
{
	struct chunk *c;

	c = chunk_new(s, j);
	if (c == NULL) {
		job_fail(s, j);
		return;
	}
	if (j->src_done) {
		c->number = 0;
		j->state = J_PUT;
		req_arm(&j->one, R_PUT, j, now);
		j->one.chunk = c;
	} else {
		j->state = J_CREATE;
		req_arm(&j->one, R_CREATE, j, now);
	}
}

/* Copies the object from the spool file into the local directory:
 * temporary file, fsync, rename (link with --no-overwrite), fsync. */
static void
job_run_local(struct sink *s, struct job *j)
{
	const char *slash = strrchr(j->key, '/'), *name;
	char tmp[NAME_MAX + 1];
	int dfd = -1, fd = -1, n, linked = 0;
	EVP_MD_CTX *md = NULL;
	unsigned char sum[16];
	unsigned int sl = 0;

	name = slash ? slash + 1 : j->key;
	dfd = kpfs_open_under(s->rootfd, j->key,
	    slash ? (size_t)(slash - j->key) : 0, 1);
	if (dfd < 0) {
		snprintf(j->why, sizeof(j->why), "directory of %s: %s", j->key,
		    strerror(errno));
		goto fail;
	}
	n = snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(j->why, sizeof(j->why), "name too long: %s", name);
		goto fail;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	md = EVP_MD_CTX_new();
	if (fd < 0 || md == NULL || EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1) {
		snprintf(j->why, sizeof(j->why), "%s: %s", tmp,
		    fd < 0 ? strerror(errno) : "MD5 failed");
		goto fail;
	}
	while (!j->src_done) {
		struct chunk c;

		memset(&c, 0, sizeof(c));
		if (produce(s, j, &c) != 0) {
			if (c.buf != NULL)
				s->held--;
			free(c.buf);
			goto fail;
		}
		if (kpfs_write_all(fd, c.buf, c.len) != 0 ||
		    EVP_DigestUpdate(md, c.buf, c.len) != 1) {
			snprintf(j->why, sizeof(j->why), "%s: %s", tmp,
			    strerror(errno));
			s->held--;
			free(c.buf);
			goto fail;
		}
		s->held--;
		free(c.buf);
	}
	if (EVP_DigestFinal_ex(md, sum, &sl) != 1 || fsync(fd) != 0) {
		snprintf(j->why, sizeof(j->why), "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(j->why, sizeof(j->why), "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	hex(sum, 16, j->etag);
	if (s->o->no_overwrite) {
		/* link() fails when the name exists: the local If-None-Match.
		 * An identical file already there is this object delivered by
		 * an earlier run. */
		if (linkat(dfd, tmp, dfd, name, 0) == 0) {
			linked = 1;
		} else if (errno == EEXIST) {
			unsigned char buf[SPOOL_BUF], other[16];
			EVP_MD_CTX *m2 = EVP_MD_CTX_new();
			int ofd = openat(dfd, name, O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC);
			ssize_t k = 0;
			int same = 0;

			if (ofd >= 0 && m2 != NULL &&
			    EVP_DigestInit_ex(m2, EVP_md5(), NULL) == 1) {
				while ((k = read(ofd, buf, sizeof(buf))) > 0)
					EVP_DigestUpdate(m2, buf, (size_t)k);
				if (k == 0 && EVP_DigestFinal_ex(m2, other,
				    &sl) == 1)
					same = memcmp(other, sum, 16) == 0;
			}
			if (ofd >= 0)
				close(ofd);
			EVP_MD_CTX_free(m2);
			unlinkat(dfd, tmp, 0);
			if (!same) {
				snprintf(j->why, sizeof(j->why), "already exists "
				    "with other content (--no-overwrite)");
				goto fail;
			}
		} else {
			snprintf(j->why, sizeof(j->why), "%s: %s", name,
			    strerror(errno));
			goto fail;
		}
		if (linked && unlinkat(dfd, tmp, 0) != 0) {
			snprintf(j->why, sizeof(j->why), "%s: %s", tmp,
			    strerror(errno));
			goto fail;
		}
	} else if (renameat(dfd, tmp, dfd, name) != 0) {
		snprintf(j->why, sizeof(j->why), "%s: %s", name, strerror(errno));
		goto fail;
	}
	if (kpfs_fsync_dir(dfd) != 0) {
		snprintf(j->why, sizeof(j->why), "fsync: %s", strerror(errno));
		goto fail;
	}
	EVP_MD_CTX_free(md);
	close(dfd);
	job_done(s, j);
	return;
fail:
	if (fd >= 0) {
		close(fd);
		unlinkat(dfd, tmp, 0);
	}
	EVP_MD_CTX_free(md);
	if (dfd >= 0)
		close(dfd);
	job_fail(s, j);
}

/* Moves a job forward as far as it can go without waiting. */
static void
job_step(struct sink *s, struct job *j, int64_t now)
{
	size_t i;

	if (j->state == J_NEW) {
		if (s->local) {
			job_run_local(s, j);
			return;
		}
		if (j->old_upload_id != NULL) {
			j->state = J_ABORT_OLD;
			req_arm(&j->one, R_ABORT_OLD, j, now);
		} else {
			if (s->held >= s->o->concurrency)
				return;
			job_begin(s, j, now);
			if (j->state == J_FAILED)
				return;
		}
	}
	if (j->state == J_PARTS && j->failing && j->inflight == 0) {
		j->state = J_ABORT;
		req_arm(&j->one, R_ABORT, j, now);
	}
	if (j->state == J_PARTS && !j->failing) {
		for (i = 0; i < j->nchunks && slots(s); i++) {
			struct req *rq = &j->chunks[i]->rq;

			if (rq->pending && rq->not_before <= now &&
			    req_start(s, rq) != 0) {
				mpu_failing(j);
				break;
			}
		}
		while (!j->failing && !j->src_done && slots(s) &&
		    s->held < s->o->concurrency) {
			struct chunk *c = chunk_new(s, j);

			if (c == NULL) {
				mpu_failing(j);
				break;
			}
			if (c->len == 0 && j->src_done && c->number > 1) {
				/* gzip ended right at a part boundary: the
				 * previous part is the last one. */
				chunk_free(s, c);
				j->nchunks--;
				break;
			}
			req_arm(&c->rq, R_PART, j, now);
			c->rq.chunk = c;
			if (req_start(s, &c->rq) != 0) {
				mpu_failing(j);
				break;
			}
		}
		if (!j->failing && j->src_done && chunks_all_done(j)) {
			if (complete_body(s, j) != 0) {
				snprintf(j->why, sizeof(j->why), "out of memory");
				mpu_failing(j);
			} else {
				j->state = J_COMPLETE;
				req_arm(&j->one, R_COMPLETE, j, now);
			}
		}
		if (j->failing && j->inflight == 0) {
			j->state = J_ABORT;
			req_arm(&j->one, R_ABORT, j, now);
		}
	}
	switch (j->state) {
	case J_ABORT_OLD:
	case J_PUT:
	case J_CREATE:
	case J_COMPLETE:
	case J_HEAD:
	case J_ABORT:
		if (j->one.pending && j->one.not_before <= now && slots(s) &&
		    req_start(s, &j->one) != 0) {
			if (j->state == J_COMPLETE) {
				mpu_failing(j);
				j->state = J_ABORT;
				req_arm(&j->one, R_ABORT, j, now);
			} else {
				job_fail(s, j);
			}
		}
		break;
	default:
		break;
	}
}

/* True when an earlier unfinished job writes the same key: jobs of one key
 * must land in order (a recovered part before a replay's). */
static int
key_busy(const struct sink *s, const struct job *j)
{
	const struct job *e;

	for (e = s->queue; e != NULL && e != j; e = e->next)
		if (e->state != J_DONE && e->state != J_FAILED &&
		    strcmp(e->key, j->key) == 0)
			return 1;
	return 0;
}

static void
pump(struct sink *s)
{
	int64_t now = kptime_mono_ms();
	struct job *j;

	for (j = s->queue; j != NULL; j = j->next) {
		if (j->state == J_DONE || j->state == J_FAILED)
			continue;
		if (j->state == J_NEW && !s->local &&
		    j->old_upload_id == NULL && s->held >= s->o->concurrency)
			continue; /* no memory for it yet */
		if (j->state == J_NEW && key_busy(s, j))
			continue;
		if (!s->local && !slots(s))
			break;
		job_step(s, j, now);
	}
}

/* Handles one finished request. */
static void
on_done(struct sink *s, struct http_xfer *x)
{
	struct req *rq = http_xfer_user(x);
	struct job *j = rq->job;
	struct http_response *resp = http_xfer_response(x);
	enum retry_kind kind;
	char err[512], uri[S3_KEY_MAX + 128], code[128], msg[256];
	int64_t now = kptime_mono_ms(), delay;
	int ok;

	rq->x = NULL;
	j->inflight--;
	job_uri(s, j, uri, sizeof(uri));
	kind = aws_outcome(resp, err, sizeof(err));
	ok = resp->status >= 200 && resp->status < 300;
	if (ok && rq->kind == R_COMPLETE && resp->body != NULL &&
	    strstr(resp->body, "<Error>") != NULL) {
		/* CompleteMultipartUpload may fail after its 200 header. */
		aws_error(resp, code, sizeof(code), msg, sizeof(msg));
		snprintf(err, sizeof(err), "%s: %s (in a 200 answer)",
		    code[0] ? code : "Error", msg[0] ? msg : "no message");
		kind = retry_classify(500, 0, code);
		ok = 0;
	}
	if (ok) {
		switch (rq->kind) {
		case R_ABORT_OLD:
			msg_info("%s: aborted multipart upload %s of an earlier "
			    "run", uri, j->old_upload_id);
			goto old_gone;
		case R_PUT:
			if (resp->etag[0] == '\0')
				goto no_etag;
			etag_plain(resp->etag, j->etag, sizeof(j->etag));
			job_done(s, j);
			break;
		case R_CREATE: {
			char id[800];

			s3_xml_copy(resp->body, "UploadId", id, sizeof(id));
			if (id[0] == '\0') {
				snprintf(j->why, sizeof(j->why), "%s: no UploadId "
				    "in the answer", req_name[rq->kind]);
				job_fail(s, j);
				break;
			}
			j->upload_id = strdup(id);
			/* The manifest learns the upload id, so a restart
			 * after a crash can abort it. */
			if (j->upload_id == NULL || meta_write(s, j->seq, j->key,
			    j->gzip, j->have_times ? j->first_ms : kptime_now_ms(),
			    j->upload_id) != 0) {
				snprintf(j->why, sizeof(j->why), "cannot record "
				    "the upload id in the spool");
				if (j->upload_id != NULL) {
					j->state = J_ABORT;
					req_arm(&j->one, R_ABORT, j, now);
				} else {
					job_fail(s, j);
				}
				break;
			}
			j->state = J_PARTS;
			req_arm(&j->chunks[0]->rq, R_PART, j, now);
			j->chunks[0]->rq.chunk = j->chunks[0];
			break;
		}
		case R_PART:
			if (resp->etag[0] == '\0') {
				snprintf(j->why, sizeof(j->why), "UploadPart %d: "
				    "no ETag in the answer", rq->chunk->number);
				mpu_failing(j);
				break;
			}
			snprintf(rq->chunk->etag, sizeof(rq->chunk->etag), "%s",
			    resp->etag);
			rq->chunk->done = 1;
			free(rq->chunk->buf);
			rq->chunk->buf = NULL;
			s->held--;
			break;
		case R_COMPLETE: {
			char etag[160];

			s3_xml_copy(resp->body, "ETag", etag, sizeof(etag));
			if (etag[0] == '\0')
				snprintf(etag, sizeof(etag), "%s", resp->etag);
			etag_plain(etag, j->etag, sizeof(j->etag));
			free(j->upload_id);
			j->upload_id = NULL;
			job_done(s, j);
			break;
		}
		case R_ABORT:
			msg_info("%s: aborted multipart upload %s", uri,
			    j->upload_id);
			free(j->upload_id);
			j->upload_id = NULL;
			/* Nothing left to abort after a restart. */
			meta_write(s, j->seq, j->key, j->gzip, j->have_times ?
			    j->first_ms : kptime_now_ms(), NULL);
			job_fail(s, j);
			break;
		case R_HEAD: {
			/* Is the object there this very object?  Compare its
			 * ETag with the MD5 of what we would have written. */
			char want[80], got[128];

			etag_plain(resp->etag, got, sizeof(got));
			if (j->nchunks == 1 && j->chunks[0]->number == 0) {
				hex(j->chunks[0]->md5, 16, want);
			} else {
				/* Multipart ETag: MD5 of the parts' MD5s, -N.
				 * Only the single-PUT form is checked. */
				want[0] = '\0';
			}
			if (want[0] != '\0' && strcmp(want, got) == 0) {
				msg_info("%s: already there with the same "
				    "content", uri);
				snprintf(j->etag, sizeof(j->etag), "%s", got);
				job_done(s, j);
			} else {
				snprintf(j->why, sizeof(j->why), "already exists "
				    "with other content (--no-overwrite: "
				    "PreconditionFailed, HTTP 412)");
				job_fail(s, j);
			}
			break;
		}
		}
		goto out;
	}

	/* A failure. */
	if (rq->kind == R_ABORT_OLD && (resp->status == 404 ||
	    kind == RETRY_NO)) {
		if (resp->status != 404)
			msg_warn("%s: cannot abort multipart upload %s of an "
			    "earlier run: %s", uri, j->old_upload_id, err);
		goto old_gone;
	}
	if (resp->status == 412 && (rq->kind == R_PUT ||
	    rq->kind == R_COMPLETE) && s->o->no_overwrite) {
		if (rq->kind == R_PUT) {
			j->state = J_HEAD;
			req_arm(&j->one, R_HEAD, j, now);
		} else {
			snprintf(j->why, sizeof(j->why), "already exists "
			    "(--no-overwrite: PreconditionFailed, HTTP 412)");
			j->state = J_PARTS;
			mpu_failing(j);
		}
		goto out;
	}
	if (kind == RETRY_CREDENTIALS && !rq->refreshed) {
		rq->refreshed = 1;
		aws_client_credentials_expired(s->aws);
		msg_warn("%s %s: %s; refreshing credentials",
		    req_name[rq->kind], uri, err);
		rq->pending = 1;
		rq->not_before = now;
		goto out;
	}
	if (kind == RETRY_YES || kind == RETRY_THROTTLED) {
		delay = retry_next(aws_client_retry(s->aws), &rq->rs, now,
		    resp->retry_after_ms);
		if (delay >= 0 && !s->abandon) {
			msg_warn("%s %s: %s; retry %d in %lld ms",
			    req_name[rq->kind], uri, err, rq->rs.attempt,
			    (long long)delay);
			rq->pending = 1;
			rq->not_before = now + delay;
			goto out;
		}
		snprintf(j->why, sizeof(j->why), "%s: %s (gave up after %d "
		    "attempts)", req_name[rq->kind], err, rq->rs.attempt);
	} else {
		snprintf(j->why, sizeof(j->why), "%s: %s", req_name[rq->kind],
		    err);
	}
	switch (rq->kind) {
	case R_ABORT_OLD:
		msg_warn("%s: cannot abort multipart upload %s of an earlier "
		    "run: %s", uri, j->old_upload_id, j->why);
		goto old_gone;
	case R_HEAD:
		snprintf(j->why, sizeof(j->why), "already exists "
		    "(--no-overwrite: PreconditionFailed, HTTP 412), and cannot "
		    "be compared: %s", err);
		job_fail(s, j);
		break;
	case R_PUT:
	case R_CREATE:
		job_fail(s, j);
		break;
	case R_PART:
	case R_COMPLETE:
		j->state = J_PARTS;
		mpu_failing(j);
		break;
	case R_ABORT:
		/* The manifest keeps the upload id: the next run aborts it. */
		msg_warn("%s: multipart upload %s not aborted: %s; a restart "
		    "with the same spool aborts it", uri, j->upload_id, err);
		job_fail(s, j);
		break;
	}
	goto out;
old_gone:
	free(j->old_upload_id);
	j->old_upload_id = NULL;
	j->state = J_NEW;
	memset(&j->one, 0, sizeof(j->one));
	goto out;
no_etag:
	snprintf(j->why, sizeof(j->why), "%s: no ETag in the answer",
	    req_name[rq->kind]);
	job_fail(s, j);
out:
	http_xfer_free(x);
}

/* ---- output ---- */

static void
emit_object(struct sink *s, struct job *j)
{
	char uri[S3_KEY_MAX + PATH_MAX + 16];
	struct buf *b = nd_buf(s->w);
	int rc;

	job_uri(s, j, uri, sizeof(uri));
	msg_info("wrote %s: %llu records, %llu bytes", uri,
	    (unsigned long long)j->records, (unsigned long long)j->obj_bytes);
	buf_lit(b, "{\"uri\":");
	buf_jstrz(b, uri);
	buf_lit(b, ",\"records\":");
	buf_u64(b, j->records);
	buf_lit(b, ",\"bytes\":");
	buf_u64(b, j->obj_bytes);
	buf_lit(b, ",\"etag\":");
	buf_jstrz(b, j->etag);
	buf_lit(b, ",\"first_time\":");
	if (j->have_times)
		buf_time(b, j->first_ms);
	else
		buf_lit(b, "null");
	buf_lit(b, ",\"last_time\":");
	if (j->have_times)
		buf_time(b, j->last_ms);
	else
		buf_lit(b, "null");
	buf_char(b, '}');
	rc = nd_end(s->w);
	if (rc == ND_EPIPE && !s->out_gone) {
		/* Nobody reads the report: the objects still matter. */
		s->out_gone = 1;
		msg_info("output closed by the reader; going on without it");
	} else if (rc != 0 && rc != ND_EPIPE) {
		s->fatal = 1;
	}
}

/* Takes finished jobs off the head of the queue, in order: a line on
 * stdout and the spool files removed for those delivered; the others are
 * parked (their spool files stay). */
static void
emit(struct sink *s)
{
	int reported = 0;

	while (s->queue != NULL && (s->queue->state == J_DONE ||
	    s->queue->state == J_FAILED)) {
		struct job *j = s->queue;
		char uri[S3_KEY_MAX + PATH_MAX + 16];

		s->queue = j->next;
		if (s->queue == NULL)
			s->queue_tail = &s->queue;
		if (j->state == J_DONE) {
			s->objects++;
			s->obj_bytes += j->obj_bytes;
			emit_object(s, j);
			reported = 1;
			spool_remove(s, j->seq);
			s->spool_used -= j->raw_bytes <= s->spool_used ?
			    j->raw_bytes : s->spool_used;
			job_free(s, j);
			continue;
		}
		job_uri(s, j, uri, sizeof(uri));
		msg_err("%s: not delivered: %s; %llu records kept in spool "
		    "file %s/%016llu.ndjson", uri, j->why,
		    (unsigned long long)j->records, s->spool,
		    (unsigned long long)j->seq);
		s->new_failures++;
		job_reset(s, j);
		j->parked_at = kptime_mono_ms();
		j->next = s->parked;
		s->parked = j;
	}
	/* A pipeline may chain on the report: it goes out at once. */
	if (reported && !s->out_gone && nd_flush(s->w) == ND_ERROR)
		s->fatal = 1;
}

/* ---- parts ---- */

static int
spool_flush_part(struct sink *s, struct part *p)
{
	if (p->blen == 0)
		return 0;
	if (kpfs_write_all(p->fd, p->buf, p->blen) != 0) {
		msg_err("%s/%016llu.ndjson: %s", s->spool,
		    (unsigned long long)p->seq, strerror(errno));
		s->fatal = 1;
		return -1;
	}
	p->blen = 0;
	return 0;
}

/* Stall hook: before s3-put waits for input, whatever it holds goes out:
 * records to their spool files, object lines to stdout. */
static void
on_stall(void *arg)
{
	struct sink *s = arg;
	struct part *p;

	for (p = s->parts; p != NULL; p = p->next)
		spool_flush_part(s, p);
	nd_flush(s->w);
}

static void
part_free(struct part *p)
{
	if (p == NULL)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p->buf);
	free(p->tb);
	free(p->key);
	free(p);
}

/* Rolls a part: its spool file is written out and fsynced, and it becomes
 * a job.  Returns 0 or -1 (fatal). */
static int
roll(struct sink *s, struct part *p)
{
	struct part **pp;
	struct job *j;

	for (pp = &s->parts; *pp != NULL && *pp != p; pp = &(*pp)->next)
		;
	if (*pp == p) {
		*pp = p->next;
		s->nparts--;
	}
	if (spool_flush_part(s, p) != 0)
		goto fail;
	if (fsync(p->fd) != 0) {
		msg_err("%s/%016llu.ndjson: fsync: %s", s->spool,
		    (unsigned long long)p->seq, strerror(errno));
		goto fail;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		msg_err("out of memory");
		goto fail;
	}
	j->seq = p->seq;
	j->key = p->key;
	p->key = NULL;
	j->fd = -1;
	j->raw_bytes = p->bytes;
	j->records = p->records;
	j->first_ms = p->first_ms;
	j->last_ms = p->last_ms;
	j->have_times = 1;
	j->gzip = s->o->gzip;
	j->state = J_NEW;
	enqueue(s, j);
	part_free(p);
	return 0;
fail:
	s->fatal = 1;
	part_free(p);
	return -1;
}

static int
roll_all(struct sink *s)
{
	int rc = 0;

	while (s->parts != NULL)
		if (roll(s, s->parts) != 0)
			rc = -1;
	return rc;
}

/* The id in object names, derived from the input: the first 16 hex digits
 * of SHA-256 over the first record.  Replaying the same input gives the
 * same id, so the same keys (the exactly-once issue builds on that). */
static int
derive_run_id(struct sink *s, const char *line, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	unsigned int hl = 0;
	int rc = -1;

	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, "kinpipe s3-put\n", 15) == 1 &&
	    EVP_DigestUpdate(md, line, len) == 1 &&
	    EVP_DigestFinal_ex(md, h, &hl) == 1) {
		hex(h, 8, s->run_id);
		rc = 0;
	}
	EVP_MD_CTX_free(md);
	return rc;
}

static struct part *
open_part(struct sink *s, const char *tb, int64_t now_mono)
{
	struct part *p = NULL;
	char name[64], key[S3_KEY_MAX + 256];
	const char *prefix = s->local ? "" : s->s3.prefix, *why = "";
	int n;

	if (s->nparts >= MAX_OPEN_PARTS) {
		/* Too many buckets at once: the least recently written one
		 * rolls, as if it had gone inactive. */
		struct part *lru = s->parts, *q;

		for (q = s->parts; q != NULL; q = q->next)
			if (q->last_mono < lru->last_mono)
				lru = q;
		if (roll(s, lru) != 0)
			return NULL;
	}
	n = snprintf(key, sizeof(key), "%s%s%s%s-%s-%llu%s%s", prefix, tb,
	    tb[0] ? "/" : "", s->o->part_prefix, s->run_id,
	    (unsigned long long)s->counter, s->o->part_suffix,
	    s->o->gzip ? ".gz" : "");
	if (n < 0 || (size_t)n >= sizeof(key) || !s3_key_ok(key, (size_t)n,
	    &why)) {
		msg_err("cannot name an object '%.100s...': %s", key,
		    n >= 0 && (size_t)n >= sizeof(key) ? "too long" : why);
		s->fatal = 1;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		goto nomem;
	p->fd = -1;
	p->tb = strdup(tb);
	p->key = strdup(key);
	p->buf = malloc(SPOOL_BUF);
	if (p->tb == NULL || p->key == NULL || p->buf == NULL)
		goto nomem;
	p->seq = s->next_seq++;
	/* Data file first, then the manifest, then one directory fsync for
	 * both: a data file without a manifest can only be empty. */
	spool_name(p->seq, "ndjson", name, sizeof(name));
	p->fd = openat(s->spoolfd, name, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (p->fd < 0) {
		msg_err("%s/%s: %s", s->spool, name, strerror(errno));
		goto fail;
	}
	if (meta_write(s, p->seq, key, s->o->gzip, kptime_now_ms(), NULL) != 0)
		goto fail;
	s->counter++;
	p->opened_mono = p->last_mono = now_mono;
	/* In opening order, so that parts rolled together report in key
	 * order. */
	{
		struct part **pp = &s->parts;

		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = p;
	}
	s->nparts++;
	return p;
nomem:
	msg_err("out of memory");
fail:
	s->fatal = 1;
	part_free(p);
	return NULL;
}

static struct part *
find_part(struct sink *s, const char *tb)
{
	struct part *p;

	for (p = s->parts; p != NULL; p = p->next)
		if (strcmp(p->tb, tb) == 0)
			return p;
	return NULL;
}

static int
part_append(struct sink *s, struct part *p, const char *line, size_t len)
{
	if (p->blen + len + 1 > SPOOL_BUF && spool_flush_part(s, p) != 0)
		return -1;
	if (len + 1 > SPOOL_BUF) {
		if (kpfs_write_all(p->fd, line, len) != 0 ||
		    kpfs_write_all(p->fd, "\n", 1) != 0) {
			msg_err("%s/%016llu.ndjson: %s", s->spool,
			    (unsigned long long)p->seq, strerror(errno));
			s->fatal = 1;
			return -1;
		}
	} else {
		memcpy(p->buf + p->blen, line, len);
		p->buf[p->blen + len] = '\n';
		p->blen += len + 1;
	}
	return 0;
}

/* One record into the part of its bucket, rolling by size and count. */
static int
take_record(struct sink *s, const char *line, size_t len, int64_t t_ms)
{
	const struct opts *o = s->o;
	int64_t now = kptime_mono_ms(), sec = kptime_floor_div(t_ms, 1000);
	struct part *p;

	if (s->run_id[0] == '\0' && derive_run_id(s, line, len) != 0) {
		msg_err("SHA-256 failed");
		s->fatal = 1;
		return -1;
	}
	if (sec != s->tb_sec) {
		if (time_bucket(o->bucket_format, t_ms, s->tb,
		    sizeof(s->tb)) != 0) {
			msg_err("--bucket-format: no name for time %lld",
			    (long long)t_ms);
			s->fatal = 1;
			return -1;
		}
		s->tb_sec = sec;
	}
	p = find_part(s, s->tb);
	if (p != NULL && p->records > 0 && p->bytes + len + 1 > o->max_bytes) {
		if (roll(s, p) != 0)
			return -1;
		p = NULL;
	}
	if (p == NULL && (p = open_part(s, s->tb, now)) == NULL)
		return -1;
	if (part_append(s, p, line, len) != 0)
		return -1;
	if (p->records == 0 || t_ms < p->first_ms)
		p->first_ms = t_ms;
	if (p->records == 0 || t_ms > p->last_ms)
		p->last_ms = t_ms;
	p->records++;
	p->bytes += len + 1;
	p->last_mono = now;
	s->records++;
	s->spool_used += len + 1;
	if ((o->max_records && p->records >= o->max_records) ||
	    p->bytes >= o->max_bytes)
		return roll(s, p);
	return 0;
}

/* Rolls the parts whose --rollover or --inactivity time has come. */
static void
roll_due(struct sink *s, int64_t now)
{
	struct part *p = s->parts, *next;

	for (; p != NULL; p = next) {
		next = p->next;
		if ((s->o->rollover_ms > 0 &&
		    now - p->opened_mono >= s->o->rollover_ms) ||
		    (s->o->inactivity_ms > 0 &&
		    now - p->last_mono >= s->o->inactivity_ms))
			roll(s, p);
	}
}

/* How long the loop may sleep: until the next rolling time or retry. */
static int
wait_ms(const struct sink *s, int64_t now)
{
	int64_t until = now + WAIT_MAX_MS;
	const struct part *p;
	const struct job *j;
	size_t i;

	for (p = s->parts; p != NULL; p = p->next) {
		if (s->o->rollover_ms > 0 &&
		    p->opened_mono + s->o->rollover_ms < until)
			until = p->opened_mono + s->o->rollover_ms;
		if (s->o->inactivity_ms > 0 &&
		    p->last_mono + s->o->inactivity_ms < until)
			until = p->last_mono + s->o->inactivity_ms;
	}
	/* A new job still waiting after pump() waits for memory or for an
	 * earlier job of its key: a request finishing wakes us. */
	for (j = s->queue; j != NULL; j = j->next) {
		if (j->one.pending && j->one.not_before < until)
			until = j->one.not_before;
		for (i = 0; i < j->nchunks; i++)
			if (j->chunks[i]->rq.pending &&
			    j->chunks[i]->rq.not_before < until)
				until = j->chunks[i]->rq.not_before;
	}
	for (j = s->parked; j != NULL; j = j->next)
		if (j->parked_at + PARK_RETRY_MS < until)
			until = j->parked_at + PARK_RETRY_MS;
	if (s->aws != NULL && until < now + 1 &&
	    !slots(s))
		until = now + WAIT_MAX_MS; /* wait for a request to finish */
	return until > now ? (int)(until - now) : 0;
}

/* Collects finished requests, starts what can start, reports what is
 * finished. */
static void
service(struct sink *s)
{
	if (s->aws != NULL) {
		struct http_client *c = aws_client_http(s->aws);
		struct http_xfer *x;

		while ((x = http_wait(c, 0)) != NULL)
			on_done(s, x);
	}
	pump(s);
	emit(s);
}

/* Waits for input on fd (-1: none), a request finishing, or timeout_ms.
 * Returns 1 when fd is readable. */
static int
wait_events(struct sink *s, int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int rc;

	if (s->aws != NULL) {
		rc = http_poll_fd(aws_client_http(s->aws), fd, timeout_ms);
		return rc > 0;
	}
	if (fd < 0) {
		struct timespec ts = { timeout_ms / 1000,
		    (long)(timeout_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return 0;
	}
	rc = poll(&pfd, 1, timeout_ms);
	return rc > 0;
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
	} else if (!s->abandon) {
		s->abandon = 1;
		msg_warn("second signal: unfinished uploads stay in the spool");
	}
}

static int
unfinished(const struct sink *s)
{
	return s->queue != NULL;
}

/* Objects that failed after all their retries are tried again, with a
 * new series, PARK_RETRY_MS after they failed (or at once with force):
 * a long outage delays them, it does not lose them. */
static void
requeue_parked(struct sink *s, int64_t now, int force)
{
	struct job **pp = &s->parked, *ready = NULL, **rt = &ready;

	while (*pp != NULL) {
		struct job *j = *pp;

		if (force || now - j->parked_at >= PARK_RETRY_MS) {
			*pp = j->next;
			j->next = NULL;
			*rt = j;
			rt = &j->next;
			continue;
		}
		pp = &j->next;
	}
	/* Oldest first: the park list is newest first. */
	while (ready != NULL) {
		struct job *j = ready, **best = &ready, **q;

		for (q = &ready; *q != NULL; q = &(*q)->next)
			if ((*q)->seq < (*best)->seq)
				best = q;
		j = *best;
		*best = j->next;
		msg_info("trying spool file %016llu again",
		    (unsigned long long)j->seq);
		enqueue(s, j);
	}
}

/*
 * Makes everything before this point durable at the destination: every
 * open part rolls, and the call returns once every object is written (0)
 * or given up on (-1; those stay in the spool).  Control lines are
 * forwarded only after it succeeds; the exactly-once commit builds on it.
 */
static int
flush_all(struct sink *s, int requeue)
{
	unsigned long long before = s->new_failures;

	if (roll_all(s) != 0)
		return -1;
	if (requeue)
		requeue_parked(s, kptime_mono_ms(), 1);
	for (;;) {
		check_signal(s);
		service(s);
		if (!unfinished(s) || s->abandon || s->fatal)
			break;
		wait_events(s, -1, wait_ms(s, kptime_mono_ms()));
	}
	nd_flush(s->w);
	return s->new_failures == before && !unfinished(s) && !s->fatal ?
	    0 : -1;
}

/* Spool full: nothing more is read until uploads make room.  What the
 * open parts hold goes to their files now (s3-put may wait long), and
 * they roll when nothing else could free space. */
static void
relieve(struct sink *s)
{
	struct part *p;

	for (p = s->parts; p != NULL; p = p->next)
		spool_flush_part(s, p);
	if (!unfinished(s) && s->parts != NULL)
		roll_all(s);
}

static int
spool_full(const struct sink *s)
{
	return s->spool_used >= s->o->spool_max;
}

/* ---- input ---- */

static void
handle_line(struct sink *s, const char *line, size_t len)
{
	const char *why = NULL;
	int64_t t = 0;

	buf_reset(&s->why);
	if (jscan_line(s->js, line, len, &why) != 0) {
		buf_str(&s->why, why);
		goto bad;
	}
	if (jscan_is_control(s->js)) {
		s->control++;
		if (flush_all(s, 1) != 0) {
			msg_err("%s:%llu: control line not forwarded: the "
			    "records before it are not all delivered",
			    nd_name(s->r), nd_lineno(s->r));
			s->stop_input = 1;
			s->barrier_failed = 1;
			return;
		}
		if (nd_put(s->w, line, len) == ND_EPIPE)
			s->out_gone = 1;
		nd_flush(s->w);
		return;
	}
	if (s->o->by_processing) {
		t = kptime_now_ms();
	} else if (jscan_time(jscan_get(s->js, s->f_time), KPTIME_AUTO,
	    &s->tmp, &t, &why) != 0) {
		buf_printf(&s->why, "%s: %s", s->o->time_field.text, why);
		goto bad;
	}
	take_record(s, line, len, t);
	return;
bad:
	if (nd_reject(&s->rej, nd_name(s->r), nd_lineno(s->r), line, len,
	    "%.*s", (int)s->why.len, s->why.p) != 0)
		s->stop_input = 1;
}

/* ---- recovery ---- */

/* Reads a manifest.  Returns a new JSON object or NULL. */
static struct json_object *
meta_read(struct sink *s, const char *name)
{
	char buf[8192];
	int fd = openat(s->spoolfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return json_tokener_parse(buf);
}

static const char *
jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Scans a spool file left by an earlier run: cuts a torn last line (only
 * a crash of the machine can leave one), counts the records and finds
 * their times.  Returns 0 or -1. */
static int
recover_scan(struct sink *s, struct job *j, struct json_object *m)
{
	struct stat st;
	const char *by = jstr(m, "bucket_by"), *tf = jstr(m, "time_field");
	struct jf_path path = { NULL, NULL, 0 };
	struct nd_reader *r = NULL;
	char *line;
	size_t len;
	int rc = -1, nrc;

	if (fstat(j->fd, &st) != 0)
		return -1;
	if (st.st_size > 0) {
		char c;
		off_t end = st.st_size;

		if (pread(j->fd, &c, 1, end - 1) != 1)
			return -1;
		if (c != '\n') {
			char buf[4096];
			off_t at = end;

			/* Back to the last newline. */
			while (at > 0) {
				size_t k = at > (off_t)sizeof(buf) ? sizeof(buf) :
				    (size_t)at;
				ssize_t got = pread(j->fd, buf, k, at - (off_t)k);
				char *nl;

				if (got != (ssize_t)k)
					return -1;
				nl = memrchr(buf, '\n', k);
				if (nl != NULL) {
					at = at - (off_t)k + (nl - buf) + 1;
					break;
				}
				at -= (off_t)k;
			}
			msg_warn("spool file %016llu: cutting a torn last line "
			    "(%lld bytes)", (unsigned long long)j->seq,
			    (long long)(end - at));
			if (ftruncate(j->fd, at) != 0 || fsync(j->fd) != 0)
				return -1;
			st.st_size = at;
		}
	}
	j->raw_bytes = (uint64_t)st.st_size;
	if (by != NULL && strcmp(by, "event-time") == 0 && tf != NULL &&
	    jf_path_init(&path, tf) != 0)
		tf = NULL;
	r = nd_reader_new(j->fd, "spool", RECOVER_MAX_LINE);
	if (r == NULL)
		goto out;
	if (lseek(j->fd, 0, SEEK_SET) != 0)
		goto out;
	while ((nrc = nd_next(r, &line, &len, -1)) != ND_EOF) {
		struct json_object *o;
		const char *why;
		int64_t t;

		if (nrc == ND_INTR)
			continue;
		if (nrc == ND_TOOLONG) {
			j->records++;
			continue;
		}
		if (nrc != ND_LINE)
			goto out;
		j->records++;
		if (path.n == 0)
			continue;
		o = jf_parse_object(&s->jp, line, len, &why);
		if (o != NULL && kptime_from_json(jf_get(o, &path), KPTIME_AUTO,
		    &t, &why) == 0) {
			if (!j->have_times || t < j->first_ms)
				j->first_ms = t;
			if (!j->have_times || t > j->last_ms)
				j->last_ms = t;
			j->have_times = 1;
		}
		json_object_put(o);
	}
	if (path.n == 0 && j->records > 0) {
		/* Processing time: from the part's opening to its last
		 * write. */
		const char *opened = jstr(m, "opened");
		int64_t t;

		if (opened != NULL && kptime_parse(opened, strlen(opened),
		    &t) == 0) {
			j->first_ms = t;
			j->last_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
			    st.st_mtim.tv_nsec / 1000000;
			if (j->last_ms < t)
				j->last_ms = t;
			j->have_times = 1;
		}
	}
	rc = 0;
out:
	nd_reader_free(r);
	jf_path_free(&path);
	return rc;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Uploads first what an earlier run left in the spool: each manifest
 * names the key its data belongs to.  A manifest without data was
 * delivered (data is removed first); empty data was never written to.
 * Returns 0, or -1 when the spool cannot be read.
 */
static int
recover(struct sink *s)
{
	DIR *d = NULL;
	struct dirent *e;
	uint64_t *seqs = NULL, max = 0;
	size_t n = 0, cap = 0, i;
	unsigned long long njobs = 0, nbytes = 0;
	int dfd, rc = -1;

	dfd = openat(s->spoolfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		msg_err("%s: %s", s->spool, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char *end;
		unsigned long long v;

		if (e->d_name[0] == '.') {
			/* A temporary manifest of an interrupted write. */
			size_t l = strlen(e->d_name);

			if (l > 5 && strcmp(e->d_name + l - 4, ".tmp") == 0)
				unlinkat(s->spoolfd, e->d_name, 0);
			continue;
		}
		errno = 0;
		v = strtoull(e->d_name, &end, 10);
		if (errno != 0 || end == e->d_name ||
		    (strcmp(end, ".meta") != 0 && strcmp(end, ".ndjson") != 0))
			continue;
		if (v + 1 > max)
			max = v + 1;
		if (strcmp(end, ".meta") != 0) {
			char meta[64];
			struct stat st;

			spool_name(v, "meta", meta, sizeof(meta));
			if (fstatat(s->spoolfd, meta, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
			    fstatat(s->spoolfd, e->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0) {
				if (st.st_size == 0)
					unlinkat(s->spoolfd, e->d_name, 0);
				else
					msg_warn("%s/%s: no manifest: left alone",
					    s->spool, e->d_name);
			}
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			uint64_t *ns = realloc(seqs, nc * sizeof(*ns));

			if (ns == NULL) {
				msg_err("out of memory");
				goto out;
			}
			seqs = ns;
			cap = nc;
		}
		seqs[n++] = v;
	}
	s->next_seq = max;
	if (n > 0)
		qsort(seqs, n, sizeof(*seqs), cmp_u64);
	for (i = 0; i < n; i++) {
		char meta[64], data[64];
		struct json_object *m;
		const char *key, *why = "", *uid;
		struct job *j;
		struct json_object *gz;

		spool_name(seqs[i], "meta", meta, sizeof(meta));
		spool_name(seqs[i], "ndjson", data, sizeof(data));
		m = meta_read(s, meta);
		key = m ? jstr(m, "key") : NULL;
		if (key == NULL || !s3_key_ok(key, strlen(key), &why)) {
			msg_warn("%s/%s: unreadable manifest: left alone",
			    s->spool, meta);
			json_object_put(m);
			continue;
		}
		j = calloc(1, sizeof(*j));
		if (j == NULL) {
			json_object_put(m);
			msg_err("out of memory");
			goto out;
		}
		j->seq = seqs[i];
		j->state = J_NEW;
		j->fd = openat(s->spoolfd, data, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		j->key = strdup(key);
		j->gzip = json_object_object_get_ex(m, "gzip", &gz) &&
		    json_object_get_boolean(gz);
		uid = jstr(m, "upload_id");
		if (uid != NULL && !s->local)
			j->old_upload_id = strdup(uid);
		if (j->fd < 0 && errno == ENOENT) {
			/* Delivered; only its manifest was left. */
			unlinkat(s->spoolfd, meta, 0);
			json_object_put(m);
			job_free(s, j);
			continue;
		}
		if (j->fd < 0 || j->key == NULL || recover_scan(s, j, m) != 0) {
			msg_err("%s/%s: cannot recover: %s", s->spool, data,
			    j->fd < 0 ? strerror(errno) : "read error");
			json_object_put(m);
			job_free(s, j);
			goto out;
		}
		json_object_put(m);
		close(j->fd);
		j->fd = -1;
		if (j->records == 0) {
			spool_remove(s, j->seq);
			job_free(s, j);
			continue;
		}
		njobs++;
		nbytes += j->raw_bytes;
		s->spool_used += j->raw_bytes;
		enqueue(s, j);
	}
	if (njobs > 0)
		msg_warn("recovering %llu spooled part%s (%llu bytes) from %s",
		    njobs, njobs == 1 ? "" : "s", nbytes, s->spool);
	rc = 0;
out:
	free(seqs);
	closedir(d);
	return rc;
}

/* ---- main loop ---- */

static void
run(struct sink *s)
{
	int eof = 0;

	for (;;) {
		int64_t now;
		int n, idle = 0;

		check_signal(s);
		if (s->abandon || s->fatal)
			break;
		now = kptime_mono_ms();
		roll_due(s, now);
		requeue_parked(s, now, 0);
		service(s);
		if (eof || s->stopping || s->stop_input || s->fatal)
			break;
		if (spool_full(s)) {
			relieve(s);
			service(s);
			if (spool_full(s)) {
				wait_events(s, -1, wait_ms(s, kptime_mono_ms()));
				continue;
			}
		}
		for (n = 0; n < LINES_PER_TURN; n++) {
			char *line;
			size_t len;
			int rc = nd_next(s->r, &line, &len, 0);

			if (rc == ND_LINE) {
				handle_line(s, line, len);
				if (s->stop_input || s->fatal || spool_full(s))
					break;
			} else if (rc == ND_TIMEOUT) {
				idle = 1;
				break;
			} else if (rc == ND_EOF) {
				eof = 1;
				break;
			} else if (rc == ND_INTR) {
				break;
			} else if (rc == ND_TOOLONG) {
				if (s->rej.strict || s->rej.failed) {
					s->stop_input = 1;
					break;
				}
			} else {
				msg_err("%s: %s", nd_name(s->r), strerror(errno));
				s->fatal = 1;
				break;
			}
		}
		if (idle)
			wait_events(s, STDIN_FILENO, wait_ms(s, kptime_mono_ms()));
	}
	/* After a failed checkpoint flush the objects had their last try. */
	if (!s->abandon && !s->fatal)
		flush_all(s, !s->barrier_failed);
}

/* Second signal or a fatal error: requests still in flight are dropped;
 * their spool files and manifests stay for the next run. */
static void
abandon_all(struct sink *s)
{
	struct job *j;
	size_t i;

	if (s->aws != NULL) {
		struct http_client *c = aws_client_http(s->aws);
		struct http_xfer *x;

		/* Finished ones first: they are the client's until handed out. */
		while ((x = http_wait(c, 0)) != NULL) {
			struct req *rq = http_xfer_user(x);

			rq->x = NULL;
			http_xfer_free(x);
		}
	}
	for (j = s->queue; j != NULL; j = j->next) {
		if (j->one.x != NULL) {
			http_xfer_free(j->one.x);
			j->one.x = NULL;
		}
		for (i = 0; i < j->nchunks; i++) {
			if (j->chunks[i]->rq.x != NULL) {
				http_xfer_free(j->chunks[i]->rq.x);
				j->chunks[i]->rq.x = NULL;
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cli cli;
	struct sink s;
	char err[PATH_MAX + 512];
	int status = KP_EXIT_FAILURE, rc, usage = 0;
	unsigned long long left = 0;
	struct job *j;

	memset(&o, 0, sizeof(o));
	memset(&cli, 0, sizeof(cli));
	memset(&s, 0, sizeof(s));
	s.o = &o;
	s.rootfd = s.spoolfd = s.lockfd = -1;
	s.queue_tail = &s.queue;
	s.tb_sec = INT64_MIN;
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
	if (dest_setup(&s, err, sizeof(err), &usage) != 0) {
		if (usage)
			status = cli_usage(&cli, "%s", err);
		else
			msg_err("%s", err);
		goto out;
	}
	if (nd_reject_init(&s.rej, o.dead_letter, o.strict) != 0) {
		status = KP_EXIT_USAGE;
		goto out;
	}
	s.js = jscan_new();
	if (jf_parser_init(&s.jp) != 0 || s.js == NULL ||
	    (s.f_time = jscan_want(s.js, &o.time_field)) < 0) {
		msg_err("out of memory");
		goto out;
	}
	s.r = nd_reader_new(STDIN_FILENO, "<stdin>", o.max_line);
	s.w = nd_writer_new(STDOUT_FILENO);
	if (s.r == NULL || s.w == NULL) {
		msg_err("out of memory");
		goto out;
	}
	nd_reader_set_reject(s.r, &s.rej);
	nd_reader_on_stall(s.r, on_stall, &s);
	if (recover(&s) != 0)
		goto out;

	run(&s);
	if (s.abandon || s.fatal) {
		struct part *p;

		abandon_all(&s);
		/* Open parts stay in the spool, whole, for the next run. */
		for (p = s.parts; p != NULL; p = p->next)
			spool_flush_part(&s, p);
	}

	status = KP_EXIT_OK;
	for (j = s.queue; j != NULL; j = j->next)
		left++;
	for (j = s.parked; j != NULL; j = j->next)
		left++;
	left += s.nparts;
	if (left > 0) {
		msg_err("%llu object%s not delivered; kept in spool %s "
		    "(a restart with the same destination uploads them)", left,
		    left == 1 ? "" : "s", s.spool);
	}
	rc = nd_writer_close(s.w);
	if (rc != 0 && rc != ND_EPIPE)
		status = KP_EXIT_FAILURE;
	if (nd_reject_close(&s.rej) != 0)
		status = KP_EXIT_FAILURE;
	if (s.fatal)
		status = KP_EXIT_FAILURE;
	else if (status == KP_EXIT_OK && (s.rej.count > 0 || left > 0))
		status = KP_EXIT_REJECTED;
	msg_info("%llu records, %llu objects (%llu bytes), %llu control lines, "
	    "%llu rejected, %llu not delivered", s.records, s.objects,
	    (unsigned long long)s.obj_bytes, s.control, s.rej.count, left);
out:
	while (s.parts != NULL) {
		struct part *p = s.parts;

		s.parts = p->next;
		part_free(p);
	}
	while (s.queue != NULL) {
		j = s.queue;
		s.queue = j->next;
		job_free(&s, j);
	}
	while (s.parked != NULL) {
		j = s.parked;
		s.parked = j->next;
		job_free(&s, j);
	}
	nd_writer_free(s.w);
	nd_reader_free(s.r);
	jf_parser_free(&s.jp);
	jscan_free(s.js);
	buf_free(&s.tmp);
	buf_free(&s.why);
	if (s.rej.dead != NULL || s.rej.dead_path != NULL)
		nd_reject_close(&s.rej);
	aws_client_free(s.aws);
	s3_uri_clear(&s.s3);
	free(s.root);
	free(s.spool);
	if (s.rootfd >= 0)
		close(s.rootfd);
	if (s.spoolfd >= 0)
		close(s.spoolfd);
	if (s.lockfd >= 0)
		close(s.lockfd);
	jf_path_free(&o.time_field);
	return status;
}
