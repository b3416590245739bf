/*
 * sigv4_test - checks common/sigv4 against the official SigV4 vectors.
 *
 *   sigv4_test vectors DIR
 *	Finds every case under DIR (recursively, in name order), signs it
 *	with the suites' fixed credentials and time, and compares the
 *	canonical request, the string to sign and the Authorization header
 *	or signature byte for byte.  Prints TAP, then one "# SUITE: N passed,
 *	N failed, N skipped" line per suite seen; exits 1 on any failure or
 *	when nothing passed.
 *	- classic suite (aws-sig-v4-test-suite): a folder NAME holding
 *	  NAME.req, NAME.creq, NAME.sts, NAME.authz, NAME.sreq;
 *	- aws-c-auth suite: a folder holding context.json and request.txt,
 *	  checked twice: header signing and query (presigned) signing.
 *
 *   sigv4_test encode [--keep-slash] STRING
 *	Prints sigv4_uri_encode(STRING).
 *
 *   sigv4_test sign [--s3] [--normalize] [--content-sha256] [--token T]
 *	    [--unsigned-token] [--body B] [--payload-hash H]
 *	    [--header NAME:VALUE]... [--host H] [--region R] [--access-key K]
 *	    [--secret-key S] [--time YYYY-MM-DDTHH:MM:SSZ] [--presign SECS]
 *	    METHOD PATH [QUERY]
 *	Signs one request; by default to example.amazonaws.com with the
 *	suites' credentials, region and time (service "s3" with --s3, else
 *	"service").  Prints the canonical request, "--", the string to sign,
 *	"--", then the headers to add ("Name: value") or, with --presign,
 *	"?" and the query to append.  Test-only: the example keys of the AWS
 *	documentation are passed on the command line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "sigv4.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define REGION "us-east-1"
#define SERVICE "service"
#define AMZ_DATE "20150830T123600Z"
#define HOST "example.amazonaws.com"
#define MAX_HEADERS 64

/* The one case the published classic suite gets wrong (see README.md). */
#define BROKEN_CASE "post-x-www-form-urlencoded"

enum { PASS, FAIL, SKIP };
enum { CLASSIC, CAUTH_HEADER, CAUTH_QUERY, NSUITES };
static const char *suite_name[NSUITES] = {
	"classic", "aws-c-auth header", "aws-c-auth query",
};
static int counts[NSUITES][3];
static int seen[NSUITES];
static int tapno;

/* Diagnostics of the current case, printed after its ok/not ok line. */
static char diag[16384];
static size_t diaglen;

static void
diagf(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (diaglen >= sizeof(diag) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(diag + diaglen, sizeof(diag) - diaglen, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	diaglen += (size_t)n;
	if (diaglen >= sizeof(diag))
		diaglen = sizeof(diag) - 1;
}

static void
report(int suite, const char *name, int status, const char *skipwhy)
{
	seen[suite] = 1;
	counts[suite][status]++;
	tapno++;
	if (status == SKIP)
		printf("ok %d - %s: %s # SKIP %s\n", tapno, suite_name[suite],
		    name, skipwhy);
	else
		printf("%s %d - %s: %s\n", status == PASS ? "ok" : "not ok",
		    tapno, suite_name[suite], name);
	if (diaglen > 0)
		fputs(diag, stdout);
	diaglen = 0;
	diag[0] = '\0';
}

/* Reads a whole file, NUL-terminated; NULL (and a diagnostic) on error. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE *f = NULL;
	char *p = NULL, *np;
	size_t len = 0, cap = 0, n;

	f = fopen(path, "rb");
	if (f == NULL)
		goto fail;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			np = realloc(p, cap);
			if (np == NULL)
				goto fail;
			p = np;
		}
		n = fread(p + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	p[len] = '\0';
	if (lenp)
		*lenp = len;
	return p;
fail:
	diagf("#   cannot read %s: %s\n", path, strerror(errno));
	if (f)
		fclose(f);
	free(p);
	return NULL;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL) {
		perror("sigv4_test");
		exit(1);
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

static char *
path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (p == NULL) {
		perror("sigv4_test");
		exit(1);
	}
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static int
file_exists(const char *dir, const char *name)
{
	struct stat st;
	char *p = path_join(dir, name);
	int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	return ok;
}

static int
name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : *a;
		char y = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : *b;

		if (x != y)
			return 0;
	}
	return *a == *b;
}

/* One line of s, escaped, for a diagnostic. */
static void
diag_line(const char *label, const char *s, size_t lineno)
{
	size_t i;

	for (i = 1; i < lineno && s; i++) {
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	diagf("#   %s ", label);
	if (s == NULL) {
		diagf("<no such line>\n");
		return;
	}
	diagf("\"");
	for (; *s && *s != '\n'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < ' ' || c >= 0x7f || c == '"' || c == '\\')
			diagf("\\x%02x", c);
		else
			diagf("%c", c);
	}
	diagf("\"%s\n", *s == '\n' ? "\\n" : "");
}

/* Byte-for-byte comparison; on mismatch a diff of the first differing line. */
static int
compare(const char *what, const char *expected, const char *got)
{
	size_t i, line = 1;

	if (strcmp(expected, got) == 0)
		return 0;
	for (i = 0; expected[i] && expected[i] == got[i]; i++)
		if (expected[i] == '\n')
			line++;
	diagf("#   %s differs at byte %zu (line %zu)\n", what, i, line);
	diag_line("expected:", expected, line);
	diag_line("got:     ", got, line);
	return -1;
}

static int
compare_file(const char *dir, const char *file, const char *got)
{
	char *path = path_join(dir, file), *want;
	int ret = -1;

	want = slurp(path, NULL);
	if (want != NULL)
		ret = compare(file, want, got);
	free(want);
	free(path);
	return ret;
}

/* ---- the raw request ---- */

struct rawreq {
	char *method;
	char *target;  /* request-target as written: path?query */
	char *path;
	char *query;
	char *hname[MAX_HEADERS];
	char *hvalue[MAX_HEADERS];
	size_t nh;
	char *body;
	size_t bodylen;
};

static void
rawreq_free(struct rawreq *r)
{
	size_t i;

	free(r->method);
	free(r->target);
	free(r->path);
	free(r->query);
	for (i = 0; i < r->nh; i++) {
		free(r->hname[i]);
		free(r->hvalue[i]);
	}
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Removes every header called name; returns a copy of the last value. */
static char *
rawreq_take(struct rawreq *r, const char *name)
{
	char *v = NULL;
	size_t i, j;

	for (i = j = 0; i < r->nh; i++) {
		if (name_eq(r->hname[i], name)) {
			free(v);
			v = r->hvalue[i];
			free(r->hname[i]);
			continue;
		}
		r->hname[j] = r->hname[i];
		r->hvalue[j++] = r->hvalue[i];
	}
	r->nh = j;
	return v;
}

static const char *
rawreq_get(const struct rawreq *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nh; i++)
		if (name_eq(r->hname[i], name))
			return r->hvalue[i];
	return NULL;
}

/*
 * Parses "METHOD target HTTP/1.1", header lines, a blank line and the body.
 * The target may hold spaces (get-space), so it runs from the first space to
 * the last.  A line starting with a blank continues the previous header
 * (obs-fold): with fold it is appended to that value after a line break,
 * which the signer folds into one space (the aws-c-auth reading); without,
 * it becomes another value of the same header, joined with ',' (the 2015
 * suite's reading, get-header-value-multiline).
 */
static int
parse_request(const char *text, size_t len, int fold, struct rawreq *r)
{
	const char *p = text, *end = text + len, *eol, *sp1, *sp2, *colon;
	const char *q;
	size_t n, vlen;
	char *nv;

	memset(r, 0, sizeof(*r));
	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	n = (size_t)(eol - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	sp1 = memchr(p, ' ', n);
	for (sp2 = p + n; sp2 > p && sp2[-1] != ' '; sp2--)
		;
	if (sp1 == NULL || sp2 - 1 <= sp1) {
		diagf("#   bad request line\n");
		return -1;
	}
	r->method = xstrndup(p, (size_t)(sp1 - p));
	r->target = xstrndup(sp1 + 1, (size_t)(sp2 - 1 - sp1 - 1));
	q = strchr(r->target, '?');
	if (q != NULL) {
		r->path = xstrndup(r->target, (size_t)(q - r->target));
		r->query = xstrdup(q + 1);
	} else {
		r->path = xstrdup(r->target);
		r->query = xstrdup("");
	}
	p = eol < end ? eol + 1 : end;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0) {
			p = eol < end ? eol + 1 : end;
			break;
		}
		if (p[0] == ' ' || p[0] == '\t') {
			if (r->nh == 0) {
				diagf("#   continuation line before any header\n");
				return -1;
			}
			if (fold) {
				vlen = strlen(r->hvalue[r->nh - 1]);
				nv = realloc(r->hvalue[r->nh - 1], vlen + n + 2);
				if (nv == NULL) {
					perror("sigv4_test");
					exit(1);
				}
				nv[vlen] = '\n';
				memcpy(nv + vlen + 1, p, n);
				nv[vlen + 1 + n] = '\0';
				r->hvalue[r->nh - 1] = nv;
			} else {
				if (r->nh == MAX_HEADERS)
					goto toomany;
				r->hname[r->nh] = xstrdup(r->hname[r->nh - 1]);
				r->hvalue[r->nh++] = xstrndup(p, n);
			}
		} else {
			colon = memchr(p, ':', n);
			if (colon == NULL) {
				diagf("#   header line without ':'\n");
				return -1;
			}
			if (r->nh == MAX_HEADERS)
				goto toomany;
			r->hname[r->nh] = xstrndup(p, (size_t)(colon - p));
			r->hvalue[r->nh++] = xstrndup(colon + 1,
			    (size_t)(p + n - colon - 1));
		}
		p = eol < end ? eol + 1 : end;
	}
	r->bodylen = (size_t)(end - p);
	r->body = xstrndup(p, r->bodylen);
	return 0;
toomany:
	diagf("#   more than %d headers\n", MAX_HEADERS);
	return -1;
}

/*
 * Checks that each header the signer added appears in the signed request
 * of the vector with the same value ("Name:value" or "Name: value").
 */
static int
check_added_headers(const char *dir, const char *file,
    const struct sigv4_signed *s)
{
	char *path = path_join(dir, file), *text = NULL;
	struct rawreq sreq;
	const char *v;
	size_t i, len;
	int ret = -1;

	memset(&sreq, 0, sizeof(sreq));
	text = slurp(path, &len);
	if (text == NULL || parse_request(text, len, 1, &sreq) < 0)
		goto out;
	for (i = 0; i < s->nheaders; i++) {
		v = rawreq_get(&sreq, s->headers[i].name);
		if (v == NULL) {
			diagf("#   %s: no %s header\n", file, s->headers[i].name);
			goto out;
		}
		while (*v == ' ')
			v++;
		if (compare(s->headers[i].name, v, s->headers[i].value) < 0) {
			diagf("#   (header %s of %s)\n", s->headers[i].name,
			    file);
			goto out;
		}
	}
	ret = 0;
out:
	rawreq_free(&sreq);
	free(text);
	free(path);
	return ret;
}

static void
fill_request(struct sigv4_request *req, struct sigv4_header *h,
    const struct rawreq *r)
{
	size_t i;

	for (i = 0; i < r->nh; i++) {
		h[i].name = r->hname[i];
		h[i].value = r->hvalue[i];
	}
	memset(req, 0, sizeof(*req));
	req->method = r->method;
	req->path = r->path;
	req->query = r->query;
	req->headers = h;
	req->nheaders = r->nh;
	req->payload = r->body;
	req->payload_len = r->bodylen;
	req->region = REGION;
	req->service = SERVICE;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long
days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "2015-08-30T12:36:00Z" (the vectors' form) to a time_t. */
static int
parse_timestamp(const char *s, time_t *t)
{
	int y, mo, d, h, mi, sec, n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi,
	    &sec, &n) != 6 || n == 0 || s[n] != '\0' || mo < 1 || mo > 12 ||
	    d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	*t = (time_t)(days_from_civil(y, mo, d) * 86400L + h * 3600L +
	    mi * 60L + sec);
	return 0;
}

static time_t
vector_time(void)
{
	time_t t = 0;

	if (parse_timestamp("2015-08-30T12:36:00Z", &t) < 0)
		abort();
	return t;
}

/* ---- classic suite ---- */

/* The session token of post-sts-token/readme.txt: its last non-empty line. */
static char *
readme_token(const char *casedir)
{
	char *path = path_join(casedir, "../readme.txt");
	char *text, *tok = NULL, *line, *save = NULL;

	text = slurp(path, NULL);
	free(path);
	if (text == NULL)
		return NULL;
	for (line = strtok_r(text, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (*line != '\0') {
			free(tok);
			tok = xstrdup(line);
		}
	}
	free(text);
	return tok;
}

static void
run_classic(const char *dir, const char *name, const char *base)
{
	struct rawreq r;
	struct sigv4_request req;
	struct sigv4_header h[MAX_HEADERS];
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_signed s;
	char *reqpath = NULL, *file = NULL, *text = NULL, *date = NULL;
	char *hdr_token = NULL, *token = NULL;
	const char *ct;
	size_t len, blen = strlen(base);
	int status = FAIL, after = 0, broken;

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	/*
	 * The broken case is still signed: its .sts and .authz are the
	 * reference (README.md) and must match; only its .creq is not
	 * compared.  It is reported as skipped, not passed.
	 */
	broken = strcmp(base, BROKEN_CASE) == 0;
	file = malloc(blen + sizeof(".authz"));
	if (file == NULL)
		goto out;
	memcpy(file, base, blen);
	memcpy(file + blen, ".req", 5);
	reqpath = path_join(dir, file);
	text = slurp(reqpath, &len);
	if (text == NULL || parse_request(text, len, 0, &r) < 0)
		goto out;

	/* The .req already carries X-Amz-Date; the signer adds it itself. */
	date = rawreq_take(&r, "x-amz-date");
	if (date == NULL || strcmp(date, AMZ_DATE) != 0) {
		diagf("#   .req has no X-Amz-Date: %s\n", AMZ_DATE);
		goto out;
	}
	/*
	 * post-sts-header-before carries the token in the .req: it is signed.
	 * post-sts-header-after does not: it is added after signing
	 * (post-sts-token/readme.txt).
	 */
	hdr_token = rawreq_take(&r, "x-amz-security-token");
	if (strncmp(base, "post-sts-header-", 16) == 0) {
		token = readme_token(dir);
		if (token == NULL)
			goto out;
		after = strcmp(base, "post-sts-header-after") == 0;
		if (after != (hdr_token == NULL) ||
		    (hdr_token && strcmp(hdr_token, token) != 0)) {
			diagf("#   token in .req does not match readme.txt\n");
			goto out;
		}
		cred.session_token = token;
	} else if (hdr_token != NULL) {
		cred.session_token = hdr_token;
	}

	/*
	 * The 2015 suite signs a form-encoded body as query parameters with an
	 * empty payload (the Query-protocol reading, as python-aws-sig does):
	 * post-x-www-form-urlencoded-parameters.
	 */
	ct = rawreq_get(&r, "content-type");
	if (ct != NULL && r.bodylen > 0 && r.query[0] == '\0' &&
	    strstr(ct, "application/x-www-form-urlencoded") != NULL) {
		diagf("#   note: form body signed as the query, empty "
		    "payload (the 2015 suite's convention)\n");
		free(r.query);
		r.query = r.body;
		r.body = xstrdup("");
		r.bodylen = 0;
	}

	fill_request(&req, h, &r);
	req.time = vector_time();
	req.flags = SIGV4_NORMALIZE_PATH | (after ? SIGV4_TOKEN_UNSIGNED : 0);
	if (sigv4_sign(&req, &cred, &s) < 0) {
		diagf("#   sigv4_sign: %s\n", strerror(errno));
		goto out;
	}
	memcpy(file + blen, ".creq", 6);
	if (!broken && compare_file(dir, file, s.canonical_request) < 0)
		goto out;
	memcpy(file + blen, ".sts", 5);
	if (compare_file(dir, file, s.string_to_sign) < 0)
		goto out;
	memcpy(file + blen, ".authz", 7);
	if (compare_file(dir, file, s.authorization) < 0)
		goto out;
	memcpy(file + blen, ".sreq", 6);
	if (check_added_headers(dir, file, &s) < 0)
		goto out;
	status = broken ? SKIP : PASS;
out:
	report(CLASSIC, name, status, broken ? "its .creq is inconsistent in "
	    "the published suite (signed-headers line host;x-amz-date, .authz "
	    "content-type;host;x-amz-date; tests/data/sigv4/README.md): "
	    ".creq not compared, .sts and .authz checked and match" : NULL);
	sigv4_signed_free(&s);
	rawreq_free(&r);
	free(reqpath);
	free(file);
	free(text);
	free(date);
	free(hdr_token);
	free(token);
}

/* ---- aws-c-auth suite ---- */

struct context {
	char *akid, *secret, *token, *region, *service;
	time_t time;
	unsigned long expires;
	int normalize, sign_body, omit_token;
};

static void
context_free(struct context *c)
{
	free(c->akid);
	free(c->secret);
	free(c->token);
	free(c->region);
	free(c->service);
	memset(c, 0, sizeof(*c));
}

static int
json_string(struct json_object *o, const char *key, char **out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	*out = xstrdup(json_object_get_string(v));
	return 0;
}

/*
 * Reads context.json.  Every key is known to the driver; a key it does not
 * know means a feature this signer may not have, and the case is skipped
 * with the key named in *unsupported.
 */
static int
read_context(const char *dir, struct context *c, char *unsupported,
    size_t usize)
{
	struct json_object *root = NULL, *cr = NULL, *v;
	char *path = path_join(dir, "context.json"), *ts = NULL;
	int ret = -1;
	int64_t exp;

	memset(c, 0, sizeof(*c));
	unsupported[0] = '\0';
	root = json_object_from_file(path);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		diagf("#   cannot parse %s\n", path);
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		(void)val;
		if (strcmp(key, "credentials") && strcmp(key, "region") &&
		    strcmp(key, "service") && strcmp(key, "timestamp") &&
		    strcmp(key, "normalize") && strcmp(key, "sign_body") &&
		    strcmp(key, "expiration_in_seconds") &&
		    strcmp(key, "omit_session_token")) {
			snprintf(unsupported, usize, "context key \"%s\" not "
			    "supported by this driver", key);
			ret = 0;
			goto out;
		}
	}
	if (!json_object_object_get_ex(root, "credentials", &cr) ||
	    json_string(cr, "access_key_id", &c->akid) < 0 ||
	    json_string(cr, "secret_access_key", &c->secret) < 0 ||
	    json_string(root, "region", &c->region) < 0 ||
	    json_string(root, "service", &c->service) < 0 ||
	    json_string(root, "timestamp", &ts) < 0 ||
	    parse_timestamp(ts, &c->time) < 0) {
		diagf("#   context.json: missing or bad credentials, region, "
		    "service or timestamp\n");
		goto out;
	}
	json_object_object_foreach(cr, ckey, cval) {
		(void)cval;
		if (strcmp(ckey, "access_key_id") &&
		    strcmp(ckey, "secret_access_key") && strcmp(ckey, "token")) {
			snprintf(unsupported, usize,
			    "context key \"credentials.%s\" not supported by "
			    "this driver", ckey);
			ret = 0;
			goto out;
		}
	}
	if (json_object_object_get_ex(cr, "token", &v) &&
	    json_string(cr, "token", &c->token) < 0)
		goto out;
	if (json_object_object_get_ex(root, "normalize", &v))
		c->normalize = json_object_get_boolean(v);
	if (json_object_object_get_ex(root, "sign_body", &v))
		c->sign_body = json_object_get_boolean(v);
	if (json_object_object_get_ex(root, "omit_session_token", &v))
		c->omit_token = json_object_get_boolean(v);
	c->expires = 3600;
	if (json_object_object_get_ex(root, "expiration_in_seconds", &v)) {
		errno = 0;
		exp = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || errno != 0 ||
		    exp < 1 || exp > 604800) {
			diagf("#   context.json: bad expiration_in_seconds\n");
			goto out;
		}
		c->expires = (unsigned long)exp;
	}
	ret = 0;
out:
	json_object_put(root);
	free(path);
	free(ts);
	return ret;
}

/* The first line of a file (the request line of a signed request). */
static char *
first_line(const char *dir, const char *file)
{
	char *path = path_join(dir, file), *text, *line = NULL;

	text = slurp(path, NULL);
	if (text != NULL)
		line = xstrndup(text, strcspn(text, "\r\n"));
	free(text);
	free(path);
	return line;
}

static void
run_cauth(const char *dir, const char *name)
{
	struct context c;
	struct rawreq r;
	struct sigv4_request req;
	struct sigv4_header h[MAX_HEADERS];
	struct sigv4_credentials cred;
	struct sigv4_signed s;
	char unsupported[256], *path = NULL, *text = NULL, *line = NULL;
	char *want = NULL;
	size_t len, wlen;
	int hstatus = FAIL, qstatus = FAIL, hdone = 0;

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	if (read_context(dir, &c, unsupported, sizeof(unsupported)) < 0)
		goto out;
	if (unsupported[0] != '\0') {
		report(CAUTH_HEADER, name, SKIP, unsupported);
		report(CAUTH_QUERY, name, SKIP, unsupported);
		context_free(&c);
		return;
	}
	path = path_join(dir, "request.txt");
	text = slurp(path, &len);
	if (text == NULL || parse_request(text, len, 1, &r) < 0)
		goto out;
	fill_request(&req, h, &r);
	req.region = c.region;
	req.service = c.service;
	req.time = c.time;
	req.flags = (c.normalize ? SIGV4_NORMALIZE_PATH : 0) |
	    (c.sign_body ? SIGV4_CONTENT_SHA256 : 0) |
	    (c.omit_token ? SIGV4_TOKEN_UNSIGNED : 0);
	cred.access_key_id = c.akid;
	cred.secret_access_key = c.secret;
	cred.session_token = c.token;

	/* Header signing. */
	if (sigv4_sign(&req, &cred, &s) < 0) {
		diagf("#   sigv4_sign: %s\n", strerror(errno));
	} else if (compare_file(dir, "header-canonical-request.txt",
	    s.canonical_request) == 0 &&
	    compare_file(dir, "header-string-to-sign.txt",
	    s.string_to_sign) == 0 &&
	    compare_file(dir, "header-signature.txt", s.signature) == 0 &&
	    check_added_headers(dir, "header-signed-request.txt", &s) == 0) {
		hstatus = PASS;
	}
	report(CAUTH_HEADER, name, hstatus, NULL);
	hdone = 1;
	sigv4_signed_free(&s);

	/* Query signing: compare, then rebuild the signed request line. */
	if (sigv4_presign(&req, &cred, c.expires, &s) < 0) {
		diagf("#   sigv4_presign: %s\n", strerror(errno));
		goto out;
	}
	if (compare_file(dir, "query-canonical-request.txt",
	    s.canonical_request) < 0 ||
	    compare_file(dir, "query-string-to-sign.txt",
	    s.string_to_sign) < 0 ||
	    compare_file(dir, "query-signature.txt", s.signature) < 0)
		goto out;
	line = first_line(dir, "query-signed-request.txt");
	if (line == NULL)
		goto out;
	wlen = strlen(r.method) + strlen(r.target) + strlen(s.query) + 16;
	want = malloc(wlen);
	if (want == NULL)
		goto out;
	snprintf(want, wlen, "%s %s%s%s HTTP/1.1", r.method, r.target,
	    r.query[0] ? "&" : (strchr(r.target, '?') ? "" : "?"), s.query);
	if (compare("query-signed-request.txt", line, want) < 0)
		goto out;
	qstatus = PASS;
out:
	if (!hdone)
		report(CAUTH_HEADER, name, FAIL, NULL);
	report(CAUTH_QUERY, name, qstatus, NULL);
	sigv4_signed_free(&s);
	rawreq_free(&r);
	context_free(&c);
	free(path);
	free(text);
	free(line);
	free(want);
}

/* ---- walking the vectors ---- */

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int
walk(const char *root, const char *rel)
{
	struct dirent **list = NULL;
	char *dir, *sub, *subrel, *req;
	const char *base;
	int i, n, ret = 0;

	dir = rel[0] ? path_join(root, rel) : xstrdup(root);
	base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	req = malloc(strlen(base) + 5);
	if (req == NULL) {
		free(dir);
		return -1;
	}
	memcpy(req, base, strlen(base));
	memcpy(req + strlen(base), ".req", 5);
	if (file_exists(dir, "context.json") && file_exists(dir, "request.txt"))
		run_cauth(dir, rel[0] ? rel : base);
	else if (file_exists(dir, req))
		run_classic(dir, rel[0] ? rel : base, base);
	free(req);

	n = scandir(dir, &list, skip_dot, alphasort);
	if (n < 0) {
		fprintf(stderr, "sigv4_test: %s: %s\n", dir, strerror(errno));
		free(dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		sub = path_join(dir, list[i]->d_name);
		if (is_dir(sub)) {
			subrel = rel[0] ? path_join(rel, list[i]->d_name) :
			    xstrdup(list[i]->d_name);
			if (walk(root, subrel) < 0)
				ret = -1;
			free(subrel);
		}
		free(sub);
		free(list[i]);
	}
	free(list);
	free(dir);
	return ret;
}

static int
cmd_vectors(const char *root)
{
	int i, passed = 0, failed = 0;

	if (!is_dir(root)) {
		fprintf(stderr, "sigv4_test: %s: not a directory\n", root);
		return 2;
	}
	if (walk(root, "") < 0)
		failed++;
	for (i = 0; i < NSUITES; i++) {
		if (!seen[i])
			continue;
		printf("# %s: %d passed, %d failed, %d skipped\n",
		    suite_name[i], counts[i][PASS], counts[i][FAIL],
		    counts[i][SKIP]);
		passed += counts[i][PASS];
		failed += counts[i][FAIL];
	}
	printf("1..%d\n", tapno);
	if (passed == 0)
		printf("# no case passed under %s\n", root);
	return failed > 0 || passed == 0;
}

/* ---- sub-commands for the bats tests ---- */

static int
cmd_encode(int argc, char **argv)
{
	int keep = 0, ret = 1;
	char *out = NULL;
	size_t len;

	if (argc > 1 && strcmp(argv[1], "--keep-slash") == 0) {
		keep = 1;
		argc--;
		argv++;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: sigv4_test encode [--keep-slash] "
		    "STRING\n");
		return 2;
	}
	len = strlen(argv[1]);
	out = malloc(SIGV4_URI_ENCODE_MAX(len));
	if (out == NULL)
		goto out;
	if (sigv4_uri_encode(argv[1], len, !keep, out,
	    SIGV4_URI_ENCODE_MAX(len)) < 0) {
		fprintf(stderr, "sigv4_test: encode: %s\n", strerror(errno));
		goto out;
	}
	printf("%s\n", out);
	ret = 0;
out:
	free(out);
	return ret;
}

static const char sign_usage[] =
    "usage: sigv4_test sign [--s3] [--normalize] [--content-sha256] "
    "[--token T] [--unsigned-token] [--body B] [--payload-hash H] "
    "[--header NAME:VALUE]... [--host H] [--region R] [--access-key K] "
    "[--secret-key S] [--time YYYY-MM-DDTHH:MM:SSZ] [--presign SECS] "
    "METHOD PATH [QUERY]\n";

static int
cmd_sign(int argc, char **argv)
{
	struct sigv4_header h[MAX_HEADERS];
	char *hbuf[MAX_HEADERS];
	struct sigv4_request req;
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_signed s;
	unsigned long presign = 0;
	const char *region = REGION;
	time_t when = vector_time();
	size_t nh = 1, i, nbuf = 0;
	char *colon, *end;
	int a, ret = 1;

	memset(&req, 0, sizeof(req));
	memset(&s, 0, sizeof(s));
	req.service = SERVICE;
	h[0].name = "Host";
	h[0].value = HOST;
	for (a = 1; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		if (strcmp(argv[a], "--s3") == 0) {
			req.flags |= SIGV4_S3;
			req.service = "s3";
		} else if (strcmp(argv[a], "--normalize") == 0) {
			req.flags |= SIGV4_NORMALIZE_PATH;
		} else if (strcmp(argv[a], "--content-sha256") == 0) {
			req.flags |= SIGV4_CONTENT_SHA256;
		} else if (strcmp(argv[a], "--unsigned-token") == 0) {
			req.flags |= SIGV4_TOKEN_UNSIGNED;
		} else if (strcmp(argv[a], "--token") == 0 && a + 1 < argc) {
			cred.session_token = argv[++a];
		} else if (strcmp(argv[a], "--payload-hash") == 0 &&
		    a + 1 < argc) {
			req.payload_hash = argv[++a];
		} else if (strcmp(argv[a], "--host") == 0 && a + 1 < argc) {
			h[0].value = argv[++a];
		} else if (strcmp(argv[a], "--region") == 0 && a + 1 < argc) {
			region = argv[++a];
		} else if (strcmp(argv[a], "--access-key") == 0 &&
		    a + 1 < argc) {
			cred.access_key_id = argv[++a];
		} else if (strcmp(argv[a], "--secret-key") == 0 &&
		    a + 1 < argc) {
			cred.secret_access_key = argv[++a];
		} else if (strcmp(argv[a], "--time") == 0 && a + 1 < argc) {
			if (parse_timestamp(argv[++a], &when) < 0) {
				fputs(sign_usage, stderr);
				ret = 2;
				goto out;
			}
		} else if (strcmp(argv[a], "--body") == 0 && a + 1 < argc) {
			req.payload = argv[++a];
			req.payload_len = strlen(argv[a]);
		} else if (strcmp(argv[a], "--presign") == 0 && a + 1 < argc) {
			errno = 0;
			presign = strtoul(argv[++a], &end, 10);
			if (errno != 0 || *end != '\0' || presign == 0) {
				fputs(sign_usage, stderr);
				ret = 2;
				goto out;
			}
		} else if (strcmp(argv[a], "--header") == 0 && a + 1 < argc &&
		    nh < MAX_HEADERS && strchr(argv[a + 1], ':') != NULL) {
			hbuf[nbuf] = xstrdup(argv[++a]);
			colon = strchr(hbuf[nbuf], ':');
			*colon = '\0';
			h[nh].name = hbuf[nbuf];
			h[nh++].value = colon + 1;
			nbuf++;
		} else {
			fputs(sign_usage, stderr);
			ret = 2;
			goto out;
		}
	}
	if (argc - a < 2 || argc - a > 3) {
		fputs(sign_usage, stderr);
		ret = 2;
		goto out;
	}
	req.method = argv[a];
	req.path = argv[a + 1];
	req.query = argc - a == 3 ? argv[a + 2] : NULL;
	req.headers = h;
	req.nheaders = nh;
	req.region = region;
	req.time = when;
	if ((presign ? sigv4_presign(&req, &cred, presign, &s) :
	    sigv4_sign(&req, &cred, &s)) < 0) {
		fprintf(stderr, "sigv4_test: sign: %s\n", strerror(errno));
		goto out;
	}
	printf("%s\n--\n%s\n--\n", s.canonical_request, s.string_to_sign);
	if (presign)
		printf("?%s\n", s.query);
	for (i = 0; i < s.nheaders; i++)
		printf("%s: %s\n", s.headers[i].name, s.headers[i].value);
	ret = 0;
out:
	sigv4_signed_free(&s);
	for (i = 0; i < nbuf; i++)
		free(hbuf[i]);
	return ret;
}

int
main(int argc, char **argv)
{
	int ret = 2;

	if (argc == 3 && strcmp(argv[1], "vectors") == 0)
		ret = cmd_vectors(argv[2]);
	else if (argc >= 2 && strcmp(argv[1], "encode") == 0)
		ret = cmd_encode(argc - 1, argv + 1);
	else if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		ret = cmd_sign(argc - 1, argv + 1);
	else
		fprintf(stderr, "usage: sigv4_test vectors DIR\n"
		    "       sigv4_test encode [--keep-slash] STRING\n"
		    "       %s", sign_usage + strlen("usage: "));
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("sigv4_test: stdout");
		ret = 1;
	}
	return ret;
}
