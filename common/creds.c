/*
 * creds.c - the AWS credentials provider chain.
 *
 * Follows the AWS SDKs and Tools reference guide: "Understand the
 * credential provider chain", "Sourcing credentials with an external
 * process", "Container credential provider", "IMDS credential provider",
 * and the EC2 user guide page "Use the Instance Metadata Service to access
 * instance metadata" (IMDSv2 session tokens).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>

#include "awsconf.h"
#include "creds.h"
#include "msg.h"

#ifndef KP_VERSION
#define KP_VERSION "0"
#endif

#define ERRSZ 512
/* Bounds on what a provider may send us: a credentials document is under
 * 4 KiB; anything much larger is not one. */
#define MAX_BODY (64 * 1024)
#define MAX_TOKEN_FILE (16 * 1024)

/* IMDS is probed on every host without other credentials: an absent one
 * must cost little.  A configured container endpoint gets more slack. */
#define IMDS_CONNECT_MS 1000L
#define IMDS_TOTAL_MS 2000L
#define CONTAINER_CONNECT_MS 2000L
#define CONTAINER_TOTAL_MS 5000L
#define CONTAINER_ATTEMPTS 2
#define IMDS_TOKEN_TTL "21600"
/* After a failed refresh while the cached credentials are still valid,
 * wait this long before trying again. */
#define REFRESH_RETRY_SECONDS 30

#define ECS_HOST_URL "http://169.254.170.2"
#define IMDS_V4_URL "http://169.254.169.254"
#define IMDS_V6_URL "http://[fd00:ec2::254]"

struct creds_chain {
	const struct awsconf *conf;
	struct creds cached;
	int have;
	time_t retry_after;        /* no refresh attempt before this */
	unsigned long resolutions;
	char err[ERRSZ];
	char imds_note[160];       /* why IMDS gave nothing, for the error */
};

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static const char *
env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

static const char *
nonempty(const char *v)
{
	return (v != NULL && *v != '\0') ? v : NULL;
}

/* Secrets are wiped before their memory goes back to the allocator. */
static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
creds_clear(struct creds *c)
{
	if (c == NULL)
		return;
	free(c->access_key_id);
	free_secret(c->secret_access_key);
	free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

int
creds_copy(struct creds *dst, const struct creds *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->access_key_id = strdup(src->access_key_id);
	dst->secret_access_key = strdup(src->secret_access_key);
	if (src->session_token != NULL)
		dst->session_token = strdup(src->session_token);
	dst->expiration = src->expiration;
	dst->source = src->source;
	if (dst->access_key_id == NULL || dst->secret_access_key == NULL ||
	    (src->session_token != NULL && dst->session_token == NULL)) {
		creds_clear(dst);
		return -1;
	}
	return 0;
}

/* Fills c from borrowed strings; token may be NULL. */
static int
creds_set(struct creds *c, const char *akid, const char *secret,
    const char *token, time_t expiration, char *err, size_t errsz)
{
	struct creds tmp;

	tmp.access_key_id = (char *)akid;
	tmp.secret_access_key = (char *)secret;
	tmp.session_token = (char *)nonempty(token);
	tmp.expiration = expiration;
	tmp.source = NULL;
	if (creds_copy(c, &tmp) < 0) {
		seterr(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

static int
digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int
creds_parse_time(const char *s, time_t *t)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	time_t v;

	if (s == NULL)
		return -1;
	if (digits(&s, 4, &y) < 0 || *s++ != '-' || digits(&s, 2, &mo) < 0 ||
	    *s++ != '-' || digits(&s, 2, &d) < 0)
		return -1;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -1;
	s++;
	if (digits(&s, 2, &h) < 0 || *s++ != ':' || digits(&s, 2, &mi) < 0 ||
	    *s++ != ':' || digits(&s, 2, &sec) < 0)
		return -1;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		while (isdigit((unsigned char)*s))
			s++; /* sub-second precision does not matter here */
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) < 0)
			return -1;
		if (*s == ':')
			s++;
		if (digits(&s, 2, &om) < 0)
			return -1;
	} else {
		return -1;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	v = timegm(&tm);
	if (v == (time_t)-1)
		return -1;
	*t = v - sign * (time_t)(oh * 3600 + om * 60);
	return 0;
}

/*
 * Credentials from a JSON document.  what names the source in messages;
 * token_key is "SessionToken" (credential_process) or "Token" (container,
 * IMDS); version_required makes "Version": 1 mandatory.  Values of the
 * document never appear in messages, only key names and error codes.
 */
static int
creds_from_json(const char *what, const char *buf, size_t len,
    const char *token_key, int version_required, struct creds *out,
    char *err, size_t errsz)
{
	struct json_tokener *tok = NULL;
	struct json_object *doc = NULL, *v;
	const char *akid = NULL, *secret = NULL, *token = NULL, *exp = NULL;
	const char *keys[] = { "AccessKeyId", "SecretAccessKey", token_key,
	    "Expiration" };
	const char **vals[] = { &akid, &secret, &token, &exp };
	time_t expiration = 0;
	size_t i, end;
	int rc = -1;

	if (len > (size_t)MAX_BODY) {
		seterr(err, errsz, "%s: response too large", what);
		goto out;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		seterr(err, errsz, "out of memory");
		goto out;
	}
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		seterr(err, errsz, "%s: response is not valid JSON", what);
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (!isspace((unsigned char)buf[end])) {
			seterr(err, errsz, "%s: text after the JSON object",
			    what);
			goto out;
		}
	if (!json_object_is_type(doc, json_type_object)) {
		seterr(err, errsz, "%s: response is not a JSON object", what);
		goto out;
	}
	if (version_required) {
		if (!json_object_object_get_ex(doc, "Version", &v)) {
			seterr(err, errsz, "%s: no \"Version\" in the output "
			    "(expected 1)", what);
			goto out;
		}
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) != 1) {
			seterr(err, errsz, "%s: unsupported \"Version\" %.20s, "
			    "expected 1", what, json_object_is_type(v,
			    json_type_int) ? json_object_to_json_string(v) :
			    "(not a number)");
			goto out;
		}
	}
	/* IMDS says Code "Success"; error documents of the container
	 * endpoint carry "code" and "message". */
	if ((json_object_object_get_ex(doc, "Code", &v) ||
	    json_object_object_get_ex(doc, "code", &v)) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "Success") != 0) {
		seterr(err, errsz, "%s: error code \"%.64s\"", what,
		    json_object_get_string(v));
		goto out;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!json_object_object_get_ex(doc, keys[i], &v) ||
		    json_object_is_type(v, json_type_null))
			continue;
		if (!json_object_is_type(v, json_type_string)) {
			seterr(err, errsz, "%s: \"%s\" is not a string", what,
			    keys[i]);
			goto out;
		}
		*vals[i] = json_object_get_string(v);
	}
	if (nonempty(akid) == NULL || nonempty(secret) == NULL) {
		seterr(err, errsz, "%s: missing \"%s\" in the response", what,
		    nonempty(akid) == NULL ? "AccessKeyId" : "SecretAccessKey");
		goto out;
	}
	if (nonempty(exp) != NULL && creds_parse_time(exp, &expiration) < 0) {
		seterr(err, errsz, "%s: \"Expiration\" is not an ISO 8601 "
		    "time", what);
		goto out;
	}
	if (creds_set(out, akid, secret, token, expiration, err, errsz) < 0)
		goto out;
	rc = 0;
out:
	json_object_put(doc);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}

/* ---- HTTP for the metadata endpoints ---- */

struct http_resp {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	int too_large;
};

static size_t
http_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_resp *r = arg;
	size_t n = size * nmemb;
	char *p;

	if (n > (size_t)MAX_BODY - r->len) {
		r->too_large = 1;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	p = realloc(r->body, r->len + n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + r->len, data, n);
	r->len += n;
	p[r->len] = '\0';
	r->body = p;
	return n;
}

/* The PUT for the IMDS token has no body; never let curl read stdin. */
static size_t
http_read_none(char *buf, size_t size, size_t nitems, void *arg)
{
	(void)buf;
	(void)size;
	(void)nitems;
	(void)arg;
	return 0;
}

/* Bodies hold secrets; wipe all len bytes (a body may contain NULs). */
static void
http_resp_clear(struct http_resp *r)
{
	if (r->body != NULL) {
		OPENSSL_cleanse(r->body, r->len);
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
}

#define SETOPT(h, opt, val)                                              \
	do {                                                             \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {   \
			seterr(err, errsz, "libcurl: cannot set " #opt); \
			goto out;                                        \
		}                                                        \
	} while (0)

/*
 * One GET or PUT (empty body) of url with extra headers (NULL-terminated
 * "Name: value" strings).  Returns 0 when an HTTP answer came back (any
 * status, in resp), -1 with a message in err when none did.  Metadata
 * endpoints are link-local or loopback: never through a proxy, never
 * following redirects.
 */
static int
http_fetch(const char *method, const char *url, const char *const *headers,
    long connect_ms, long total_ms, struct http_resp *resp, char *err,
    size_t errsz)
{
	CURL *h = NULL;
	struct curl_slist *hl = NULL, *nl;
	CURLcode cc;
	size_t i;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	h = curl_easy_init();
	if (h == NULL) {
		seterr(err, errsz, "libcurl: cannot create a handle");
		goto out;
	}
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		nl = curl_slist_append(hl, headers[i]);
		if (nl == NULL) {
			seterr(err, errsz, "out of memory");
			goto out;
		}
		hl = nl;
	}
	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_NOPROXY, "*");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SETOPT(h, CURLOPT_TIMEOUT_MS, total_ms);
	SETOPT(h, CURLOPT_USERAGENT, "kinpipe/" KP_VERSION);
	SETOPT(h, CURLOPT_WRITEFUNCTION, http_write);
	SETOPT(h, CURLOPT_WRITEDATA, resp);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if (hl != NULL)
		SETOPT(h, CURLOPT_HTTPHEADER, hl);
	if (strcmp(method, "PUT") == 0) {
		SETOPT(h, CURLOPT_UPLOAD, 1L);
		SETOPT(h, CURLOPT_INFILESIZE, 0L);
		SETOPT(h, CURLOPT_READFUNCTION, http_read_none);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		seterr(err, errsz, "%s", resp->too_large ?
		    "response too large" : curl_easy_strerror(cc));
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status) !=
	    CURLE_OK) {
		seterr(err, errsz, "libcurl: no response code");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		http_resp_clear(resp);
	curl_slist_free_all(hl);
	if (h != NULL)
		curl_easy_cleanup(h);
	return rc;
}

/* A header value must not break the header block it goes into. */
static int
header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 0;
	return 1;
}

/* A new "Name: value" string, or NULL. */
static char *
header_line(const char *name, const char *value)
{
	size_t n = strlen(name) + 2 + strlen(value) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s: %s", name, value);
	return p;
}

/* ---- providers ----
 * Each returns 1 with *out filled, 0 when it is not configured (quiet),
 * -1 with a message in err when it is configured but fails. */

static int
provider_env(struct creds_chain *chain, struct creds *out, char *err,
    size_t errsz)
{
	const char *akid = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	const char *token = env_nonempty("AWS_SESSION_TOKEN");

	/* --profile beats the environment, as in the AWS CLI. */
	if (chain->conf != NULL && awsconf_profile_from_option(chain->conf))
		return 0;
	if (akid == NULL && secret == NULL)
		return 0;
	if (akid == NULL || secret == NULL) {
		seterr(err, errsz, "partial credentials in the environment: "
		    "%s is set but %s is not set",
		    akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -1;
	}
	/* botocore still honours the name of the first STS tokens. */
	if (token == NULL)
		token = env_nonempty("AWS_SECURITY_TOKEN");
	return creds_set(out, akid, secret, token, 0, err, errsz) < 0 ? -1 : 1;
}

static int
provider_file(struct creds_chain *chain, enum awsconf_file which,
    struct creds *out, char *err, size_t errsz)
{
	const struct awsconf *conf = chain->conf;
	const char *akid, *secret, *token;

	akid = nonempty(awsconf_file_get(conf, which, "aws_access_key_id"));
	secret = nonempty(awsconf_file_get(conf, which,
	    "aws_secret_access_key"));
	token = nonempty(awsconf_file_get(conf, which, "aws_session_token"));
	if (token == NULL)
		token = nonempty(awsconf_file_get(conf, which,
		    "aws_security_token"));
	if (akid == NULL && secret == NULL)
		return 0;
	if (akid == NULL || secret == NULL) {
		seterr(err, errsz, "partial credentials in profile \"%s\" of "
		    "%s: %s is set but %s is not set", awsconf_profile(conf),
		    awsconf_path(conf, which),
		    akid ? "aws_access_key_id" : "aws_secret_access_key",
		    akid ? "aws_secret_access_key" : "aws_access_key_id");
		return -1;
	}
	return creds_set(out, akid, secret, token, 0, err, errsz) < 0 ? -1 : 1;
}

static int
provider_credentials_file(struct creds_chain *chain, struct creds *out,
    char *err, size_t errsz)
{
	return provider_file(chain, AWSCONF_CREDENTIALS, out, err, errsz);
}

static int
provider_config_file(struct creds_chain *chain, struct creds *out,
    char *err, size_t errsz)
{
	return provider_file(chain, AWSCONF_CONFIG, out, err, errsz);
}

/*
 * Runs cmd with /bin/sh -c, stdin from /dev/null (the tools read records
 * on stdin: a credential helper must not eat them), stdout captured up to
 * MAX_BODY bytes, stderr shared with ours.  Returns 0 with a new
 * NUL-terminated *buf, or -1 with a message in err.
 */
static int
run_process(const char *what, const char *cmd, char **buf, size_t *len,
    char *err, size_t errsz)
{
	int fds[2] = { -1, -1 };
	pid_t pid = -1;
	char *b = NULL;
	size_t n = 0;
	ssize_t r = 0;
	int status, rc = -1, overflow = 0;

	*buf = NULL;
	*len = 0;
	b = malloc(MAX_BODY + 1);
	if (b == NULL) {
		seterr(err, errsz, "out of memory");
		goto out;
	}
	if (pipe(fds) < 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0) {
		seterr(err, errsz, "%s: pipe: %s", what, strerror(errno));
		goto out;
	}
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		seterr(err, errsz, "%s: fork: %s", what, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls until exec. */
		int nullfd = open("/dev/null", O_RDONLY);

		if (nullfd < 0 || dup2(nullfd, STDIN_FILENO) < 0 ||
		    dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		if (nullfd != STDIN_FILENO)
			close(nullfd);
		/* The tools ignore SIGPIPE; the helper should not inherit
		 * that. */
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	fds[1] = -1;
	for (;;) {
		r = read(fds[0], b + n, MAX_BODY + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			seterr(err, errsz, "%s: read: %s", what,
			    strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > MAX_BODY) {
			overflow = 1;
			break;
		}
	}
	/* Closing the pipe first lets a helper that writes too much end. */
	close(fds[0]);
	fds[0] = -1;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			seterr(err, errsz, "%s: waitpid: %s", what,
			    strerror(errno));
			goto out;
		}
	}
	pid = -1;
	if (overflow) {
		seterr(err, errsz, "%s: more than %d bytes of output", what,
		    MAX_BODY);
		goto out;
	}
	if (r < 0)
		goto out;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		seterr(err, errsz, "%s exited with status %d", what,
		    WEXITSTATUS(status));
		goto out;
	}
	if (WIFSIGNALED(status)) {
		seterr(err, errsz, "%s was killed by signal %d", what,
		    WTERMSIG(status));
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (b != NULL) {
		OPENSSL_cleanse(b, n);
		free(b);
	}
	return rc;
}

static int
provider_process(struct creds_chain *chain, struct creds *out, char *err,
    size_t errsz)
{
	const char *cmd = nonempty(awsconf_get(chain->conf,
	    "credential_process"));
	char what[160], *buf = NULL;
	size_t len = 0;
	int rc = -1;

	if (cmd == NULL)
		return 0;
	snprintf(what, sizeof(what), "credential_process of profile \"%s\"",
	    awsconf_profile(chain->conf));
	if (run_process(what, cmd, &buf, &len, err, errsz) < 0)
		goto out;
	if (creds_from_json(what, buf, len, "SessionToken", 1, out, err,
	    errsz) < 0)
		goto out;
	rc = 1;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return rc;
}

/* Hosts an http:// FULL_URI may name: the loopback, the ECS agent and
 * EKS Pod Identity addresses (SDK reference, container provider). */
static int
container_host_allowed(const char *host)
{
	static const char *const allowed[] = { "localhost", "::1", "[::1]",
	    "169.254.170.2", "169.254.170.23", "fd00:ec2::23",
	    "[fd00:ec2::23]" };
	size_t i;
	int a, b, c, d;
	char extra;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcasecmp(host, allowed[i]) == 0)
			return 1;
	/* Any 127.0.0.0/8 address, written as a dotted quad. */
	if (sscanf(host, "%d.%d.%d.%d%c", &a, &b, &c, &d, &extra) == 4 &&
	    a == 127 && b >= 0 && b <= 255 && c >= 0 && c <= 255 && d >= 0 &&
	    d <= 255)
		return 1;
	return 0;
}

static int
check_full_uri(const char *uri, char *err, size_t errsz)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (!header_safe(uri) || strchr(uri, ' ') != NULL) {
		seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not "
		    "a valid URL");
		goto out;
	}
	u = curl_url();
	if (u == NULL) {
		seterr(err, errsz, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not "
		    "a valid URL");
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0 ||
	    (strcasecmp(scheme, "http") == 0 && container_host_allowed(host))) {
		rc = 0;
		goto out;
	}
	seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, "
	    "or http to a loopback address, 169.254.170.2, 169.254.170.23 or "
	    "fd00:ec2::23 (host \"%.100s\" is not allowed)", host);
out:
	curl_free(scheme);
	curl_free(host);
	if (u != NULL)
		curl_url_cleanup(u);
	return rc;
}

int
creds_container_url(char **url, char *err, size_t errsz)
{
	const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	size_t n;

	*url = NULL;
	if (rel != NULL) {
		if (!header_safe(rel) || strchr(rel, ' ') != NULL) {
			seterr(err, errsz, "AWS_CONTAINER_CREDENTIALS_"
			    "RELATIVE_URI is not a valid path");
			return -1;
		}
		n = strlen(ECS_HOST_URL) + 1 + strlen(rel) + 1;
		*url = malloc(n);
		if (*url == NULL) {
			seterr(err, errsz, "out of memory");
			return -1;
		}
		snprintf(*url, n, "%s%s%s", ECS_HOST_URL, rel[0] == '/' ? "" :
		    "/", rel);
		return 0;
	}
	if (full == NULL)
		return 0;
	if (check_full_uri(full, err, errsz) < 0)
		return -1;
	*url = strdup(full);
	if (*url == NULL) {
		seterr(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* The Authorization value for the container endpoint: a new string in
 * *tok, or NULL when none is configured.  The file wins over the variable,
 * as in the SDKs; a trailing newline in the file is not part of it. */
static int
container_auth(char **tok, char *err, size_t errsz)
{
	const char *file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *var = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	FILE *fp = NULL;
	char *b = NULL;
	size_t n = 0;
	int rc = -1;

	*tok = NULL;
	if (file != NULL) {
		fp = fopen(file, "r");
		if (fp == NULL) {
			seterr(err, errsz, "cannot read "
			    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
			    file, strerror(errno));
			goto out;
		}
		b = malloc(MAX_TOKEN_FILE + 1);
		if (b == NULL) {
			seterr(err, errsz, "out of memory");
			goto out;
		}
		n = fread(b, 1, MAX_TOKEN_FILE + 1, fp);
		if (ferror(fp) || n > MAX_TOKEN_FILE) {
			seterr(err, errsz, "cannot read "
			    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
			    file, ferror(fp) ? "read error" : "too large");
			goto out;
		}
		while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
			n--;
		b[n] = '\0';
		if (memchr(b, '\0', n) != NULL) {
			seterr(err, errsz, "AWS_CONTAINER_AUTHORIZATION_TOKEN_"
			    "FILE %s holds a NUL byte", file);
			goto out;
		}
	} else if (var != NULL) {
		b = strdup(var);
		if (b == NULL) {
			seterr(err, errsz, "out of memory");
			goto out;
		}
		n = strlen(b);
	} else {
		rc = 0;
		goto out;
	}
	if (!header_safe(b)) {
		seterr(err, errsz, "the container authorization token holds a "
		    "line break or control character");
		goto out;
	}
	*tok = b;
	b = NULL;
	rc = 0;
out:
	if (fp != NULL)
		fclose(fp);
	if (b != NULL) {
		OPENSSL_cleanse(b, n);
		free(b);
	}
	return rc;
}

static int
provider_container(struct creds_chain *chain, struct creds *out, char *err,
    size_t errsz)
{
	const char *what = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
	    ? "container credentials endpoint "
	    "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
	    : "container credentials endpoint "
	    "(AWS_CONTAINER_CREDENTIALS_FULL_URI)";
	char *url = NULL, *tok = NULL, *authz = NULL;
	const char *headers[3] = { "Accept: application/json", NULL, NULL };
	struct http_resp resp = { 0 };
	char ferr[256];
	int attempt, rc = -1;

	(void)chain;
	if (creds_container_url(&url, err, errsz) < 0)
		goto out;
	if (url == NULL) {
		rc = 0;
		goto out;
	}
	if (container_auth(&tok, err, errsz) < 0)
		goto out;
	if (tok != NULL) {
		authz = header_line("Authorization", tok);
		if (authz == NULL) {
			seterr(err, errsz, "out of memory");
			goto out;
		}
		headers[1] = authz;
	}
	/* One retry on a transport error or 5xx: the agent may be busy. */
	for (attempt = 1; attempt <= CONTAINER_ATTEMPTS; attempt++) {
		http_resp_clear(&resp);
		if (http_fetch("GET", url, headers, CONTAINER_CONNECT_MS,
		    CONTAINER_TOTAL_MS, &resp, ferr, sizeof(ferr)) < 0) {
			seterr(err, errsz, "%s: %s", what, ferr);
			continue;
		}
		if (resp.status >= 500) {
			seterr(err, errsz, "%s answered HTTP %ld", what,
			    resp.status);
			continue;
		}
		break;
	}
	if (attempt > CONTAINER_ATTEMPTS)
		goto out;
	if (resp.status != 200) {
		seterr(err, errsz, "%s answered HTTP %ld", what, resp.status);
		goto out;
	}
	if (creds_from_json(what, resp.body, resp.len, "Token", 0, out, err,
	    errsz) < 0)
		goto out;
	rc = 1;
out:
	http_resp_clear(&resp);
	free(url);
	free_secret(tok);
	free_secret(authz);
	return rc;
}

int
creds_imds_endpoint(const struct awsconf *conf, char **url, char *err,
    size_t errsz)
{
	const char *ep, *mode;
	size_t n;

	*url = NULL;
	if (awsconf_is_true(getenv("AWS_EC2_METADATA_DISABLED")))
		return 0;
	ep = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (ep == NULL && conf != NULL)
		ep = nonempty(awsconf_get(conf, "ec2_metadata_service_endpoint"));
	if (ep == NULL) {
		mode = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
		if (mode == NULL && conf != NULL)
			mode = nonempty(awsconf_get(conf,
			    "ec2_metadata_service_endpoint_mode"));
		if (mode == NULL || strcasecmp(mode, "IPv4") == 0) {
			ep = IMDS_V4_URL;
		} else if (strcasecmp(mode, "IPv6") == 0) {
			ep = IMDS_V6_URL;
		} else {
			seterr(err, errsz, "invalid EC2 metadata endpoint mode "
			    "\"%.20s\": expected IPv4 or IPv6", mode);
			return -1;
		}
	}
	if (!header_safe(ep) || strchr(ep, ' ') != NULL ||
	    (strncasecmp(ep, "http://", 7) != 0 &&
	    strncasecmp(ep, "https://", 8) != 0)) {
		seterr(err, errsz, "invalid EC2 metadata service endpoint: "
		    "expected http://HOST[:PORT]");
		return -1;
	}
	n = strlen(ep);
	while (n > 0 && ep[n - 1] == '/')
		n--;
	*url = malloc(n + 1);
	if (*url == NULL) {
		seterr(err, errsz, "out of memory");
		return -1;
	}
	memcpy(*url, ep, n);
	(*url)[n] = '\0';
	return 0;
}

/* An IAM role name: [\w+=,.@-]+ (IAM API reference, RoleName). */
static int
role_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("_+=,.@-", s[i]) == NULL)
			return 0;
	return 1;
}

/*
 * IMDSv2: PUT a token, list the role, GET its credentials with the token.
 * Silence until the token request gets an answer: no answer means "not on
 * EC2".  Past that point the instance exists and failures are errors,
 * except "no role attached" (404 on the listing).
 */
static int
provider_imds(struct creds_chain *chain, struct creds *out, char *err,
    size_t errsz)
{
	static const char *const cred_path = "/latest/meta-data/iam/security-"
	    "credentials/";
	char *base = NULL, *tokhdr = NULL, *url = NULL, *role = NULL;
	const char *put_headers[] = { "X-aws-ec2-metadata-token-ttl-seconds: "
	    IMDS_TOKEN_TTL, NULL };
	const char *get_headers[] = { NULL, NULL };
	struct http_resp resp = { 0 };
	const char *v1dis;
	char ferr[256];
	size_t n, ulen;
	int rc = -1;

	chain->imds_note[0] = '\0';
	if (creds_imds_endpoint(chain->conf, &base, err, errsz) < 0)
		goto out;
	if (base == NULL) {
		snprintf(chain->imds_note, sizeof(chain->imds_note),
		    "disabled by AWS_EC2_METADATA_DISABLED");
		rc = 0;
		goto out;
	}
	ulen = strlen(base) + strlen(cred_path) + 256;
	url = malloc(ulen);
	if (url == NULL) {
		seterr(err, errsz, "out of memory");
		goto out;
	}
	snprintf(url, ulen, "%s/latest/api/token", base);
	if (http_fetch("PUT", url, put_headers, IMDS_CONNECT_MS, IMDS_TOTAL_MS,
	    &resp, ferr, sizeof(ferr)) < 0) {
		snprintf(chain->imds_note, sizeof(chain->imds_note),
		    "no answer from %.80s: %.60s", base, ferr);
		msg_debug("IMDS: %s", chain->imds_note);
		rc = 0;
		goto out;
	}
	if (resp.status == 200) {
		n = resp.len;
		while (n > 0 && isspace((unsigned char)resp.body[n - 1]))
			n--;
		resp.body[n] = '\0';
		if (n == 0 || !header_safe(resp.body)) {
			seterr(err, errsz, "EC2 metadata service: malformed "
			    "session token");
			goto out;
		}
		tokhdr = header_line("X-aws-ec2-metadata-token", resp.body);
		if (tokhdr == NULL) {
			seterr(err, errsz, "out of memory");
			goto out;
		}
		get_headers[0] = tokhdr;
	} else if (resp.status == 403 || resp.status == 404 ||
	    resp.status == 405) {
		/* The SDKs fall back to IMDSv1 on these, unless told not to. */
		v1dis = env_nonempty("AWS_EC2_METADATA_V1_DISABLED");
		if (v1dis == NULL)
			v1dis = awsconf_get(chain->conf,
			    "ec2_metadata_v1_disabled");
		if (awsconf_is_true(v1dis)) {
			snprintf(chain->imds_note, sizeof(chain->imds_note),
			    "token request answered HTTP %ld and IMDSv1 is "
			    "disabled", resp.status);
			msg_debug("IMDS: %s", chain->imds_note);
			rc = 0;
			goto out;
		}
		msg_debug("IMDS: token request answered HTTP %ld, trying "
		    "IMDSv1", resp.status);
	} else {
		snprintf(chain->imds_note, sizeof(chain->imds_note),
		    "token request answered HTTP %ld", resp.status);
		msg_debug("IMDS: %s", chain->imds_note);
		rc = 0;
		goto out;
	}

	http_resp_clear(&resp);
	snprintf(url, ulen, "%s%s", base, cred_path);
	if (http_fetch("GET", url, get_headers, IMDS_CONNECT_MS, IMDS_TOTAL_MS,
	    &resp, ferr, sizeof(ferr)) < 0) {
		seterr(err, errsz, "EC2 metadata service: listing roles: %s",
		    ferr);
		goto out;
	}
	if (resp.status == 404) {
		snprintf(chain->imds_note, sizeof(chain->imds_note),
		    "the instance has no IAM role");
		msg_debug("IMDS: %s", chain->imds_note);
		rc = 0;
		goto out;
	}
	if (resp.status != 200) {
		seterr(err, errsz, "EC2 metadata service: listing roles "
		    "answered HTTP %ld", resp.status);
		goto out;
	}
	/* One role per instance profile: the first line. */
	n = strcspn(resp.body, "\r\n");
	if (!role_valid(resp.body, n)) {
		seterr(err, errsz, "EC2 metadata service: malformed role "
		    "name");
		goto out;
	}
	role = strndup(resp.body, n);
	if (role == NULL) {
		seterr(err, errsz, "out of memory");
		goto out;
	}
	http_resp_clear(&resp);
	snprintf(url, ulen, "%s%s%s", base, cred_path, role);
	if (http_fetch("GET", url, get_headers, IMDS_CONNECT_MS, IMDS_TOTAL_MS,
	    &resp, ferr, sizeof(ferr)) < 0) {
		seterr(err, errsz, "EC2 metadata service: credentials of role "
		    "%s: %s", role, ferr);
		goto out;
	}
	if (resp.status != 200) {
		seterr(err, errsz, "EC2 metadata service: credentials of role "
		    "%s answered HTTP %ld", role, resp.status);
		goto out;
	}
	if (creds_from_json("EC2 metadata service", resp.body, resp.len,
	    "Token", 0, out, err, errsz) < 0)
		goto out;
	rc = 1;
out:
	http_resp_clear(&resp);
	free(base);
	free(url);
	free(role);
	free_secret(tokhdr);
	return rc;
}

static const struct provider {
	const char *name;
	int (*fn)(struct creds_chain *, struct creds *, char *, size_t);
} providers[] = {
	{ "env", provider_env },
	{ "shared-credentials-file", provider_credentials_file },
	{ "config-file", provider_config_file },
	{ "credential-process", provider_process },
	{ "container", provider_container },
	{ "imds", provider_imds },
};

/* Walks the chain; the first provider that answers decides. */
static int
resolve(struct creds_chain *chain, time_t now, struct creds *out)
{
	char when[32];
	struct tm tm;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	chain->resolutions++;
	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		r = providers[i].fn(chain, out, chain->err, sizeof(chain->err));
		if (r < 0)
			return -1;
		if (r == 0) {
			msg_debug("credentials: %s: none",
			    providers[i].name);
			continue;
		}
		out->source = providers[i].name;
		if (out->expiration != 0 && out->expiration <= now) {
			if (gmtime_r(&out->expiration, &tm) == NULL ||
			    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			    &tm) == 0)
				snprintf(when, sizeof(when), "(unknown)");
			snprintf(chain->err, sizeof(chain->err), "credentials "
			    "from %s expired at %s", out->source, when);
			creds_clear(out);
			return -1;
		}
		msg_debug("credentials: using %s", out->source);
		return 0;
	}
	snprintf(chain->err, sizeof(chain->err), "no AWS credentials found "
	    "for profile \"%s\": set AWS_ACCESS_KEY_ID and "
	    "AWS_SECRET_ACCESS_KEY, add keys or credential_process to the "
	    "profile, or run where a container or EC2 instance role provides "
	    "them (instance metadata: %s)", awsconf_profile(chain->conf),
	    chain->imds_note[0] ? chain->imds_note : "not tried");
	return -1;
}

struct creds_chain *
creds_chain_new(const struct awsconf *conf)
{
	struct creds_chain *chain = calloc(1, sizeof(*chain));

	if (chain != NULL)
		chain->conf = conf;
	return chain;
}

void
creds_chain_free(struct creds_chain *chain)
{
	if (chain == NULL)
		return;
	creds_clear(&chain->cached);
	free(chain);
}

void
creds_invalidate(struct creds_chain *chain)
{
	creds_clear(&chain->cached);
	chain->have = 0;
	chain->retry_after = 0;
}

const char *
creds_chain_error(const struct creds_chain *chain)
{
	return chain->err;
}

unsigned long
creds_chain_resolutions(const struct creds_chain *chain)
{
	return chain->resolutions;
}

int
creds_get(struct creds_chain *chain, time_t now, struct creds *out)
{
	struct creds fresh;
	time_t exp = chain->cached.expiration;

	memset(out, 0, sizeof(*out));
	if (chain->have && (exp == 0 || exp > now + CREDS_REFRESH_WINDOW))
		goto copy;
	/* Backing off after a failed refresh, with credentials still good. */
	if (chain->have && now < chain->retry_after && exp > now)
		goto copy;
	chain->err[0] = '\0';
	if (resolve(chain, now, &fresh) == 0) {
		creds_clear(&chain->cached);
		chain->cached = fresh;
		chain->have = 1;
		chain->retry_after = 0;
		goto copy;
	}
	if (chain->have && chain->cached.expiration > now) {
		msg_warn("cannot refresh AWS credentials (%s); using the "
		    "cached ones until they expire", chain->err);
		chain->retry_after = now + REFRESH_RETRY_SECONDS;
		goto copy;
	}
	creds_clear(&chain->cached);
	chain->have = 0;
	return -1;
copy:
	if (creds_copy(out, &chain->cached) < 0) {
		snprintf(chain->err, sizeof(chain->err), "out of memory");
		return -1;
	}
	return 0;
}
