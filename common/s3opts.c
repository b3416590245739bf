/*
 * The object options of s3-put, by the rules of the S3 API reference
 * (PutObject, CreateMultipartUpload) and user guide: the canned ACLs of
 * x-amz-acl; an AWS account id of 12 digits; a tag set of at most 10
 * tags, keys of 1 to 128 characters and values of up to 256; user metadata
 * of at most 2 KB, names and values together.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "s3.h"
#include "s3opts.h"

#define TAGS_MAX 10
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the URL-encoded s[0..n) ('+' is a space, %XX a byte) into out
 * and checks it as a tag key or value: well-formed UTF-8 of at most max
 * characters; ASCII letters, digits, spaces and + - = . _ : / @ (other
 * characters S3 judges itself).  Returns the decoded length, or -1.  out
 * holds 4 * max + 1 bytes: decoding stops at the first character past max.
 */
static long
tag_text(const char *s, size_t n, size_t max, char *out)
{
	size_t i, len = 0, chars = 0;
	int follow = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		} else if (strchr("-._:/@=", c) == NULL &&
		    !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9')) {
			return -1;   /* not URL-encoded */
		}
		if (follow > 0) {
			if ((c & 0xc0) != 0x80)
				return -1;
			follow--;
		} else if (c >= 0x80) {
			follow = c >= 0xf0 && c < 0xf5 ? 3 : c >= 0xe0 ? 2 :
			    c >= 0xc2 && c < 0xe0 ? 1 : -1;
			if (follow < 0 || ++chars > max)
				return -1;
		} else {
			if (strchr(" +-=._:/@", c) == NULL &&
			    !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
			    !(c >= '0' && c <= '9'))
				return -1;
			if (++chars > max)
				return -1;
		}
		out[len++] = (char)c;
	}
	out[len] = '\0';
	return follow == 0 && chars <= max ? (long)len : -1;
}

int
s3opts_tagging_ok(const char *s, const char **why)
{
	char keys[TAGS_MAX][TAG_KEY_MAX * 4 + 1];
	char value[TAG_VALUE_MAX * 4 + 1];
	size_t ntags = 0, i;

	if (*s == '\0') {
		*why = "empty tag set";
		return 0;
	}
	while (*s != '\0') {
		size_t n = strcspn(s, "&"), kn;
		const char *eq = memchr(s, '=', n);
		long klen;

		kn = eq != NULL ? (size_t)(eq - s) : n;
		if (ntags == TAGS_MAX) {
			*why = "more than 10 tags";
			return 0;
		}
		/* Encoded, a character takes at most 3 bytes a byte. */
		if (kn > TAG_KEY_MAX * 12 || (eq != NULL &&
		    n - kn - 1 > TAG_VALUE_MAX * 12) ||
		    (klen = tag_text(s, kn, TAG_KEY_MAX, keys[ntags])) <= 0 ||
		    (eq != NULL && tag_text(eq + 1, n - kn - 1, TAG_VALUE_MAX,
		    value) < 0)) {
			*why = "a tag is not KEY=VALUE, URL-encoded, with a key "
			    "of 1 to 128 and a value of up to 256 letters, "
			    "digits, spaces or + - = . _ : / @";
			return 0;
		}
		if (strncmp(keys[ntags], "aws:", 4) == 0) {
			*why = "tag keys starting with aws: are AWS's";
			return 0;
		}
		for (i = 0; i < ntags; i++) {
			if (strcmp(keys[i], keys[ntags]) == 0) {
				*why = "a tag key given twice";
				return 0;
			}
		}
		ntags++;
		s += n;
		if (*s == '&' && *++s == '\0') {
			*why = "a tag set ending with '&'";
			return 0;
		}
	}
	return 1;
}

int
s3opts_meta_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > S3_META_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~",
		    c) != NULL) || c == '\0')
			return 0;
	}
	return 1;
}

/* --metadata NAME=VALUE: a name not given yet (S3 folds its case), a
 * value of printable ASCII without spaces at its ends (HTTP drops them),
 * and 2 KB for them all. */
static int
metadata(struct cli *c, struct s3opts *x, const char *arg)
{
	struct s3_object_opts *o = x->obj;
	const char *eq = strchr(arg, '='), *v;
	size_t nl, vl, i;

	if (eq == NULL || !s3opts_meta_name_ok(arg, (size_t)(eq - arg)))
		return cli_bad(c, "expected NAME=VALUE, NAME of 1 to 116 "
		    "letters, digits or ! # $ % & ' * + - . ^ _ ` | ~", arg);
	nl = (size_t)(eq - arg);
	v = eq + 1;
	vl = strlen(v);
	for (i = 0; i < vl; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			break;
	if (vl == 0 || i < vl || v[0] == ' ' || v[vl - 1] == ' ')
		return cli_bad(c, "the value must be 1 or more printable ASCII "
		    "characters, without spaces at its ends", arg);
	for (i = 0; i < o->nmetadata; i++)
		if (strlen(o->metadata[i].name) == nl &&
		    strncasecmp(o->metadata[i].name, arg, nl) == 0)
			return cli_bad(c, "a name given twice", arg);
	if (o->nmetadata == S3_META_MAX)
		return cli_bad(c, "more than 16 entries", arg);
	if (x->used + nl + vl + 2 > sizeof(x->text) ||
	    x->used - o->nmetadata * 2 + nl + vl > S3_META_BYTES_MAX)
		return cli_bad(c, "user metadata over 2 KB (names and values)",
		    arg);
	x->meta[o->nmetadata].name = memcpy(x->text + x->used, arg, nl);
	x->text[x->used + nl] = '\0';
	x->used += nl + 1;
	x->meta[o->nmetadata].value = memcpy(x->text + x->used, v, vl + 1);
	x->used += vl + 1;
	o->metadata = x->meta;
	o->nmetadata++;
	return 0;
}

/* The options of encryption and storage. */
static int
storage(struct cli *c, struct s3_object_opts *o, int id, const char *arg)
{
	static const char *const sses[] = { "AES256", "aws:kms", NULL };
	int w = 0, rc = 0;

	switch (id) {
	case S3OPT_SSE:
		rc = cli_word(c, arg, sses, &w);
		o->sse = arg;
		break;
	case S3OPT_SSE_KMS:
		if (*arg == '\0' || s3_has_ctl(arg) || strlen(arg) > 2048)
			rc = cli_bad(c, "not a key id", arg);
		o->sse_kms_key_id = arg;
		break;
	case S3OPT_SSE_BUCKET_KEY:
		o->bucket_key = 1;
		break;
	case S3OPT_STORAGE_CLASS:
		if (*arg == '\0' || strlen(arg) > 64 ||
		    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(arg))
			rc = cli_bad(c, "not a storage class", arg);
		o->storage_class = arg;
		break;
	}
	return rc;
}

int
s3opts_option(struct cli *c, struct s3opts *x, int id, const char *arg)
{
	static const char *const sums[] = { "sha256", "md5", "crc32c", "none",
	    NULL };
	static const enum s3_checksum sum_of[] = { S3_CHECKSUM_SHA256,
	    S3_CHECKSUM_MD5, S3_CHECKSUM_CRC32C, S3_CHECKSUM_NONE };
	/* ObjectCannedACL, S3 API reference. */
	static const char *const acls[] = { "private", "public-read",
	    "public-read-write", "authenticated-read", "aws-exec-read",
	    "bucket-owner-read", "bucket-owner-full-control", NULL };
	struct s3_object_opts *o = x->obj;
	const char *why = "";
	int rc = 0, w = 0;

	if (x->s3_only == NULL) {
		snprintf(x->s3_only_buf, sizeof(x->s3_only_buf), "%s", c->opt);
		x->s3_only = x->s3_only_buf;
	}
	switch (id) {
	case S3OPT_CHECKSUM:
		rc = cli_word(c, arg, sums, &w);
		o->checksum = sum_of[w];
		break;
	case S3OPT_CONTENT_TYPE:
		if (*arg == '\0' || s3_has_ctl(arg) || strlen(arg) > 1024)
			rc = cli_bad(c, "not a header value", arg);
		o->content_type = arg;
		break;
	case S3OPT_ACL:
		rc = cli_word(c, arg, acls, &w);
		o->acl = arg;
		break;
	case S3OPT_OWNER:
		if (strlen(arg) != 12 || strspn(arg, "0123456789") != 12)
			rc = cli_bad(c, "not an AWS account id (12 digits)",
			    arg);
		o->expected_owner = arg;
		break;
	case S3OPT_TAGGING:
		if (!s3opts_tagging_ok(arg, &why))
			rc = cli_bad(c, why, arg);
		o->tagging = arg;
		break;
	case S3OPT_METADATA:
		rc = metadata(c, x, arg);
		break;
	default:
		rc = storage(c, o, id, arg);
	}
	return rc;
}

int
s3opts_check(const struct cli *c, const struct s3opts *x, int local)
{
	const struct s3_object_opts *o = x->obj;
	int kms = o->sse != NULL && strcmp(o->sse, "aws:kms") == 0;

	if (o->sse_kms_key_id != NULL && !kms)
		return cli_usage(c, "--sse-kms-key-id needs --sse aws:kms");
	if (o->bucket_key && !kms)
		return cli_usage(c, "--sse-bucket-key needs --sse aws:kms");
	if (local && x->s3_only != NULL)
		return cli_usage(c, "%s: only for S3, not a local directory",
		    x->s3_only);
	return 0;
}
