/*
 * creds_json.c - the credentials document that credential_process prints
 * and the container and IMDS endpoints answer, and the ISO 8601 times in
 * it.
 *
 * Formats: "Sourcing credentials with an external process" (AWS SDKs and
 * Tools reference guide), the container credential provider's response,
 * and the IMDS iam/security-credentials/ROLE document of the EC2 user
 * guide.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "creds.h"
#include "creds_provider.h"
#include "msg.h"

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

struct json_object *
creds_json_object(const char *what, const char *noun, const char *buf,
    size_t len, char *err, size_t errsz)
{
	struct json_tokener *tok = NULL;
	struct json_object *doc = NULL, *ret = NULL;
	size_t end;

	if (len > (size_t)CREDS_MAX_DOC) {
		msg_seterr(err, errsz, "%s: %s too large", what, noun);
		goto out;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	if (doc == NULL ||
	    json_tokener_get_error(tok) != json_tokener_success) {
		msg_seterr(err, errsz, "%s: %s is not valid JSON", what,
		    noun);
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (!isspace((unsigned char)buf[end])) {
			msg_seterr(err, errsz, "%s: text after the JSON object",
			    what);
			goto out;
		}
	if (!json_object_is_type(doc, json_type_object)) {
		msg_seterr(err, errsz, "%s: %s is not a JSON object", what,
		    noun);
		goto out;
	}
	ret = doc;
	doc = NULL;
out:
	json_object_put(doc);
	if (tok != NULL)
		json_tokener_free(tok);
	return ret;
}

/* "Version": 1, which credential_process output must carry. */
static int
check_version(const char *what, struct json_object *doc, char *err,
    size_t errsz)
{
	struct json_object *v;

	if (!json_object_object_get_ex(doc, "Version", &v)) {
		msg_seterr(err, errsz, "%s: no \"Version\" in the output "
		    "(expected 1)", what);
		return -1;
	}
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != 1) {
		msg_seterr(err, errsz, "%s: unsupported \"Version\" %.20s, "
		    "expected 1", what, json_object_is_type(v, json_type_int) ?
		    json_object_to_json_string(v) : "(not a number)");
		return -1;
	}
	return 0;
}

/* IMDS says Code "Success"; error documents of the container endpoint
 * carry "code" and "message".  The code is AWS's, never a secret. */
static int
check_code(const char *what, struct json_object *doc, char *err,
    size_t errsz)
{
	struct json_object *v;

	if ((json_object_object_get_ex(doc, "Code", &v) ||
	    json_object_object_get_ex(doc, "code", &v)) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "Success") != 0) {
		msg_seterr(err, errsz, "%s: error code \"%.64s\"", what,
		    json_object_get_string(v));
		return -1;
	}
	return 0;
}

int
creds_from_json(const char *what, const char *buf, size_t len,
    const char *token_key, int version_required, struct creds *out,
    char *err, size_t errsz)
{
	struct json_object *doc = NULL, *v;
	const char *akid = NULL, *secret = NULL, *token = NULL, *exp = NULL;
	const char *keys[] = { "AccessKeyId", "SecretAccessKey", token_key,
	    "Expiration" };
	const char **vals[] = { &akid, &secret, &token, &exp };
	time_t expiration = 0;
	size_t i;
	int rc = -1;

	doc = creds_json_object(what, "response", buf, len, err, errsz);
	if (doc == NULL)
		goto out;
	if (version_required && check_version(what, doc, err, errsz) < 0)
		goto out;
	if (check_code(what, doc, err, errsz) < 0)
		goto out;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!json_object_object_get_ex(doc, keys[i], &v) ||
		    json_object_is_type(v, json_type_null))
			continue;
		if (!json_object_is_type(v, json_type_string)) {
			msg_seterr(err, errsz, "%s: \"%s\" is not a string",
			    what, keys[i]);
			goto out;
		}
		*vals[i] = json_object_get_string(v);
	}
	if (creds_nonempty(akid) == NULL || creds_nonempty(secret) == NULL) {
		msg_seterr(err, errsz, "%s: missing \"%s\" in the response",
		    what, creds_nonempty(akid) == NULL ? "AccessKeyId" :
		    "SecretAccessKey");
		goto out;
	}
	if (creds_nonempty(exp) != NULL &&
	    creds_parse_time(exp, &expiration) < 0) {
		msg_seterr(err, errsz, "%s: \"Expiration\" is not an ISO 8601 "
		    "time", what);
		goto out;
	}
	if (creds_set(out, akid, secret, token, expiration, err, errsz) < 0)
		goto out;
	rc = 0;
out:
	json_object_put(doc);
	return rc;
}
