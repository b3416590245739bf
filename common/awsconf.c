/*
 * awsconf.c - shared config/credentials files, region, endpoint, TLS.
 *
 * The file format follows the AWS SDKs and Tools reference guide ("Shared
 * config and credentials files") and what botocore's parser accepts; the
 * endpoint order follows "Service-specific endpoints" in the same guide.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awsconf.h"
#include "msg.h"

/* The files are a few lines; anything this big is not a config file. */
#define MAX_FILE_LINES 100000

/* One property (or, with key NULL, one section header) of a file. */
struct prop {
	char *section; /* normalized section name */
	char *key;     /* lower case; NULL marks the section header itself */
	char *sub;     /* lower-case sub-property name, or NULL */
	char *value;
};

struct inifile {
	char *path; /* NULL: no file can be named (no $HOME) */
	struct prop *props;
	size_t n, cap;
};

struct awsconf {
	char *profile;
	int profile_option;         /* named by the caller (--profile) */
	struct inifile files[2];    /* indexed by enum awsconf_file */
	const char *section[2];     /* the profile's section in each file */
};

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

const char *
awsconf_env(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

int
awsconf_is_true(const char *value)
{
	return value != NULL && strcasecmp(value, "true") == 0;
}

/* Trims leading and trailing blanks of s[0..*len) in place of pointers. */
static const char *
trim(const char *s, size_t *len)
{
	size_t n = *len;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*len = n;
	return s;
}

/* A new copy of s[0..n) in lower case. */
static char *
lowerdup(const char *s, size_t n)
{
	char *p = xstrndup(s, n);
	size_t i;

	if (p == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		p[i] = (char)tolower((unsigned char)p[i]);
	return p;
}

/* A section name with every run of blanks made one space. */
static char *
normalize_section(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	size_t i, j = 0;
	int blank = 0;

	if (p == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			blank = 1;
			continue;
		}
		if (blank && j > 0)
			p[j++] = ' ';
		blank = 0;
		p[j++] = s[i];
	}
	p[j] = '\0';
	return p;
}

/*
 * The length of a value with a trailing comment removed: per the SDK
 * file format a '#' or ';' starts a comment in a value only after a blank,
 * so "abc#def" keeps its '#'.
 */
static size_t
strip_value_comment(const char *s, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if ((s[i] == '#' || s[i] == ';') &&
		    (s[i - 1] == ' ' || s[i - 1] == '\t'))
			return i;
	if (n > 0 && (s[0] == '#' || s[0] == ';'))
		return 0;
	return n;
}

static int
add_prop(struct inifile *f, const char *section, char *key, char *sub,
    char *value)
{
	struct prop *np;
	char *sec = NULL;
	int rc = -1;

	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;

		np = realloc(f->props, ncap * sizeof(*np));
		if (np == NULL)
			goto out;
		f->props = np;
		f->cap = ncap;
	}
	sec = strdup(section);
	if (sec == NULL)
		goto out;
	f->props[f->n].section = sec;
	f->props[f->n].key = key;
	f->props[f->n].sub = sub;
	f->props[f->n].value = value;
	f->n++;
	sec = NULL;
	key = sub = value = NULL;
	rc = 0;
out:
	free(sec);
	free(key);
	free(sub);
	free(value);
	return rc;
}

/* Splits "key = value" into a new lower-case key and a new value. */
static int
split_kv(const char *p, size_t n, char **key, char **value)
{
	const char *eq = memchr(p, '=', n);
	const char *k, *v;
	size_t kn, vn;

	*key = *value = NULL;
	if (eq == NULL)
		return -1;
	kn = (size_t)(eq - p);
	k = trim(p, &kn);
	if (kn == 0)
		return -1;
	vn = n - (size_t)(eq - p) - 1;
	v = trim(eq + 1, &vn);
	vn = strip_value_comment(v, vn);
	v = trim(v, &vn);
	*key = lowerdup(k, kn);
	*value = xstrndup(v, vn);
	if (*key == NULL || *value == NULL) {
		free(*key);
		free(*value);
		*key = *value = NULL;
		return -2;
	}
	return 0;
}

/* Appends "\n" and s[0..n) to *value (a multi-line value). */
static int
append_line(char **value, const char *s, size_t n)
{
	size_t old = strlen(*value);
	char *p = realloc(*value, old + 1 + n + 1);

	if (p == NULL)
		return -1;
	p[old] = '\n';
	memcpy(p + old + 1, s, n);
	p[old + 1 + n] = '\0';
	*value = p;
	return 0;
}

/* The state of parse_file() between lines. */
struct parser {
	struct inifile *f;
	char *section;       /* the current section, normalized; owned */
	size_t lineno;
	size_t key_indent;   /* indent of the last top-level property */
	long cur;            /* index of that property, -1: none yet */
	int cur_nested;      /* it had an empty value: sub-properties follow */
	char *err;
	size_t errsz;
};

/* The line handlers return 0, -1 with a message in ps->err, or -2 on no
 * memory. */

/* A more-indented line under a property: a sub-property of a property
 * with an empty value, else one more line of its value. */
static int
parse_continuation(struct parser *ps, const char *p, size_t n)
{
	struct inifile *f = ps->f;
	char *key = NULL, *value = NULL, *parent;
	int r;

	if (!ps->cur_nested)
		return append_line(&f->props[ps->cur].value, p, n) < 0 ?
		    -2 : 0;
	r = split_kv(p, n, &key, &value);
	if (r == -2)
		return -2;
	if (r < 0) {
		msg_seterr(ps->err, ps->errsz, "%s:%zu: expected 'key = "
		    "value' in a sub-property", f->path, ps->lineno);
		return -1;
	}
	parent = strdup(f->props[ps->cur].key);
	if (parent == NULL) {
		free(key);
		free(value);
		return -2;
	}
	/* add_prop() takes the strings, even when it fails. */
	return add_prop(f, ps->section, parent, key, value) < 0 ? -2 : 0;
}

/* "[name]", an optional comment after it. */
static int
parse_section(struct parser *ps, const char *p, size_t n)
{
	const char *close = memchr(p, ']', n);
	const char *name, *rest;
	size_t nn, rn;

	if (close == NULL) {
		msg_seterr(ps->err, ps->errsz, "%s:%zu: section header "
		    "without ']'", ps->f->path, ps->lineno);
		return -1;
	}
	rest = close + 1;
	rn = n - (size_t)(rest - p);
	rest = trim(rest, &rn);
	if (rn > 0 && *rest != '#' && *rest != ';') {
		msg_seterr(ps->err, ps->errsz, "%s:%zu: text after a section "
		    "header", ps->f->path, ps->lineno);
		return -1;
	}
	nn = (size_t)(close - p) - 1;
	name = trim(p + 1, &nn);
	if (nn == 0) {
		msg_seterr(ps->err, ps->errsz, "%s:%zu: empty section name",
		    ps->f->path, ps->lineno);
		return -1;
	}
	free(ps->section);
	ps->section = normalize_section(name, nn);
	if (ps->section == NULL)
		return -2;
	if (add_prop(ps->f, ps->section, NULL, NULL, NULL) < 0)
		return -2;
	ps->cur = -1;
	return 0;
}

/* "key = value" at the top level of a section. */
static int
parse_property(struct parser *ps, const char *p, size_t n, size_t indent)
{
	char *key = NULL, *value = NULL;
	int r;

	if (ps->section == NULL) {
		msg_seterr(ps->err, ps->errsz, "%s:%zu: property before any "
		    "[section]", ps->f->path, ps->lineno);
		return -1;
	}
	r = split_kv(p, n, &key, &value);
	if (r == -2)
		return -2;
	if (r < 0) {
		msg_seterr(ps->err, ps->errsz, "%s:%zu: expected 'key = "
		    "value'", ps->f->path, ps->lineno);
		return -1;
	}
	ps->cur_nested = (*value == '\0');
	if (add_prop(ps->f, ps->section, key, NULL, value) < 0)
		return -2;
	ps->cur = (long)ps->f->n - 1;
	ps->key_indent = indent;
	return 0;
}

/* One line, its end of line removed. */
static int
parse_line(struct parser *ps, const char *p, size_t n)
{
	size_t indent;

	/* A UTF-8 byte order mark is not part of the first line. */
	if (ps->lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' ||
	    p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (memchr(p, '\0', n) != NULL) {
		msg_seterr(ps->err, ps->errsz, "%s:%zu: NUL byte", ps->f->path,
		    ps->lineno);
		return -1;
	}
	for (indent = 0; indent < n && (p[indent] == ' ' ||
	    p[indent] == '\t'); indent++)
		;
	if (indent == n)
		return 0; /* blank lines do not end a property */
	if (p[indent] == '#' || p[indent] == ';')
		return 0;
	if (indent > 0 && ps->cur >= 0 && indent > ps->key_indent)
		return parse_continuation(ps, p + indent, n - indent);
	if (p[indent] == '[')
		return parse_section(ps, p + indent, n - indent);
	return parse_property(ps, p + indent, n - indent, indent);
}

/*
 * Parses one file into f.  A missing file leaves f empty.  Error messages
 * name the file and line but never quote it: a line may hold a secret.
 */
static int
parse_file(struct inifile *f, char *err, size_t errsz)
{
	struct parser ps;
	FILE *fp = NULL;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t got;
	int rc = -1, r;

	memset(&ps, 0, sizeof(ps));
	ps.f = f;
	ps.cur = -1;
	ps.err = err;
	ps.errsz = errsz;
	if (f->path == NULL)
		return 0;
	fp = fopen(f->path, "r");
	if (fp == NULL) {
		if (errno == ENOENT || errno == ENOTDIR) {
			rc = 0;
			goto out;
		}
		msg_seterr(err, errsz, "cannot open %s: %s", f->path,
		    strerror(errno));
		goto out;
	}
	for (;;) {
		errno = 0;
		got = getline(&line, &linecap, fp);
		if (got < 0) {
			if (ferror(fp)) {
				msg_seterr(err, errsz, "cannot read %s: %s",
				    f->path, strerror(errno ? errno : EIO));
				goto out;
			}
			break;
		}
		if (++ps.lineno > MAX_FILE_LINES) {
			msg_seterr(err, errsz, "%s: more than %d lines",
			    f->path, MAX_FILE_LINES);
			goto out;
		}
		r = parse_line(&ps, line, (size_t)got);
		if (r == -2)
			msg_seterr(err, errsz, "%s: out of memory", f->path);
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	if (fp != NULL)
		fclose(fp);
	free(line);
	free(ps.section);
	return rc;
}

static void
inifile_clear(struct inifile *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->props[i].section);
		free(f->props[i].key);
		free(f->props[i].sub);
		free(f->props[i].value);
	}
	free(f->props);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

/* The section's own name as stored, if the file has it; else NULL. */
static const char *
find_section(const struct inifile *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->props[i].key == NULL &&
		    strcmp(f->props[i].section, name) == 0)
			return f->props[i].section;
	return NULL;
}

/* The last value of key (sub NULL: top level) in section, or NULL. */
static const char *
find_value(const struct inifile *f, const char *section, const char *key,
    const char *sub)
{
	const char *v = NULL;
	size_t i;

	if (section == NULL)
		return NULL;
	for (i = 0; i < f->n; i++) {
		const struct prop *pr = &f->props[i];

		if (pr->key == NULL || strcmp(pr->section, section) != 0 ||
		    strcasecmp(pr->key, key) != 0)
			continue;
		if (sub == NULL ? pr->sub != NULL :
		    (pr->sub == NULL || strcasecmp(pr->sub, sub) != 0))
			continue;
		v = pr->value;
	}
	return v;
}

/* "~/x" -> "$HOME/x"; a new string, or NULL (no memory or no $HOME). */
static char *
expand_path(const char *path, const char *home)
{
	char *p;
	size_t n;

	if (path[0] != '~' || path[1] != '/')
		return strdup(path);
	if (home == NULL)
		return NULL;
	n = strlen(home) + strlen(path);
	p = malloc(n);
	if (p == NULL)
		return NULL;
	snprintf(p, n, "%s%s", home, path + 1);
	return p;
}

static int
set_path(struct inifile *f, const char *var, const char *dflt, char *err,
    size_t errsz)
{
	const char *home = awsconf_env("HOME");
	const char *v = awsconf_env(var);

	if (v == NULL)
		v = dflt;
	if (v[0] == '~' && v[1] == '/' && home == NULL)
		return 0; /* no file can be named: read none */
	f->path = expand_path(v, home);
	if (f->path == NULL) {
		msg_seterr(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

int
awsconf_load(const char *profile, struct awsconf **out, char *err,
    size_t errsz)
{
	struct awsconf *conf = NULL;
	struct inifile *cf, *cr;
	char *name = NULL;
	int explicit = 1, explicit_option, rc = -1;

	*out = NULL;
	explicit_option = profile != NULL && *profile != '\0';
	if (profile == NULL || *profile == '\0')
		profile = awsconf_env("AWS_PROFILE");
	if (profile == NULL) {
		profile = "default";
		explicit = 0;
	}
	conf = calloc(1, sizeof(*conf));
	if (conf != NULL) {
		conf->profile = strdup(profile);
		conf->profile_option = explicit_option;
	}
	if (conf == NULL || conf->profile == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	cf = &conf->files[AWSCONF_CONFIG];
	cr = &conf->files[AWSCONF_CREDENTIALS];
	if (set_path(cf, "AWS_CONFIG_FILE", "~/.aws/config", err, errsz) < 0 ||
	    set_path(cr, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials",
	    err, errsz) < 0)
		goto out;
	if (parse_file(cf, err, errsz) < 0 || parse_file(cr, err, errsz) < 0)
		goto out;

	/* Config file: "[profile NAME]"; the default profile may also be
	 * "[default]", and "[profile default]" wins when both exist. */
	name = malloc(strlen(profile) + sizeof("profile "));
	if (name == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	snprintf(name, strlen(profile) + sizeof("profile "), "profile %s",
	    profile);
	conf->section[AWSCONF_CONFIG] = find_section(cf, name);
	if (conf->section[AWSCONF_CONFIG] == NULL &&
	    strcmp(profile, "default") == 0)
		conf->section[AWSCONF_CONFIG] = find_section(cf, "default");
	conf->section[AWSCONF_CREDENTIALS] = find_section(cr, profile);

	if (explicit && conf->section[AWSCONF_CONFIG] == NULL &&
	    conf->section[AWSCONF_CREDENTIALS] == NULL) {
		msg_seterr(err, errsz, "profile \"%s\" not found in %s or %s",
		    profile, cf->path ? cf->path : "(no config file)",
		    cr->path ? cr->path : "(no credentials file)");
		goto out;
	}
	*out = conf;
	conf = NULL;
	rc = 0;
out:
	free(name);
	awsconf_free(conf);
	return rc;
}

void
awsconf_free(struct awsconf *conf)
{
	if (conf == NULL)
		return;
	inifile_clear(&conf->files[0]);
	inifile_clear(&conf->files[1]);
	free(conf->profile);
	free(conf);
}

int
awsconf_profile_from_option(const struct awsconf *conf)
{
	return conf->profile_option;
}

const char *
awsconf_profile(const struct awsconf *conf)
{
	return conf->profile;
}

const char *
awsconf_path(const struct awsconf *conf, enum awsconf_file which)
{
	return conf->files[which].path;
}

const char *
awsconf_file_get(const struct awsconf *conf, enum awsconf_file which,
    const char *key)
{
	return find_value(&conf->files[which], conf->section[which], key,
	    NULL);
}

const char *
awsconf_get(const struct awsconf *conf, const char *key)
{
	const char *v = awsconf_file_get(conf, AWSCONF_CREDENTIALS, key);

	return v != NULL ? v : awsconf_file_get(conf, AWSCONF_CONFIG, key);
}

const char *
awsconf_get_sub(const struct awsconf *conf, const char *key,
    const char *subkey)
{
	const char *v;

	v = find_value(&conf->files[AWSCONF_CREDENTIALS],
	    conf->section[AWSCONF_CREDENTIALS], key, subkey);
	if (v == NULL)
		v = find_value(&conf->files[AWSCONF_CONFIG],
		    conf->section[AWSCONF_CONFIG], key, subkey);
	return v;
}

/* The stored name of section "[KIND NAME]" of the config file, or NULL. */
static const char *
named_section(const struct awsconf *conf, const char *kind, const char *name)
{
	char sec[512];
	int n;

	if (name == NULL || *name == '\0')
		return NULL;
	n = snprintf(sec, sizeof(sec), "%s %s", kind, name);
	if (n < 0 || (size_t)n >= sizeof(sec))
		return NULL; /* no section name of the file is that long */
	return find_section(&conf->files[AWSCONF_CONFIG], sec);
}

int
awsconf_section_exists(const struct awsconf *conf, const char *kind,
    const char *name)
{
	return named_section(conf, kind, name) != NULL;
}

const char *
awsconf_section_get(const struct awsconf *conf, const char *kind,
    const char *name, const char *key)
{
	return find_value(&conf->files[AWSCONF_CONFIG],
	    named_section(conf, kind, name), key, NULL);
}

int
awsconf_section_next(const struct awsconf *conf, const char *kind,
    const char *name, size_t *pos, const char **key, const char **value)
{
	const struct inifile *f = &conf->files[AWSCONF_CONFIG];
	const char *sec = named_section(conf, kind, name);

	for (; sec != NULL && *pos < f->n; (*pos)++) {
		const struct prop *pr = &f->props[*pos];

		if (pr->key == NULL || pr->sub != NULL ||
		    strcmp(pr->section, sec) != 0)
			continue;
		*key = pr->key;
		*value = pr->value;
		(*pos)++;
		return 1;
	}
	return 0;
}

char *
awsconf_expand_path(const char *path)
{
	return expand_path(path, awsconf_env("HOME"));
}

const char *
awsconf_region(const struct awsconf *conf, const char *explicit_region,
    const char **source)
{
	static const char *const vars[] = { "AWS_REGION",
	    "AWS_DEFAULT_REGION" };
	const char *r = NULL, *src = NULL;
	size_t i;

	if (explicit_region != NULL && *explicit_region != '\0') {
		r = explicit_region;
		src = "explicit";
	}
	for (i = 0; r == NULL && i < sizeof(vars) / sizeof(vars[0]); i++) {
		r = awsconf_env(vars[i]);
		src = vars[i];
	}
	if (r == NULL) {
		r = conf != NULL ? awsconf_get(conf, "region") : NULL;
		if (r != NULL && *r == '\0')
			r = NULL;
		src = r != NULL ? "profile" : NULL;
	}
	if (source != NULL)
		*source = src;
	return r;
}

/* A region is a DNS label: it becomes part of a host name. */
int
awsconf_region_ok(const char *r)
{
	size_t i, n = strlen(r);

	if (n == 0 || n > 63 || r[0] == '-' || r[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)r[i]) ||
		    isdigit((unsigned char)r[i]) || r[i] == '-'))
			return 0;
	return 1;
}

static void
no_region_msg(const struct awsconf *conf, char *err, size_t errsz)
{
	msg_seterr(err, errsz, "no AWS region configured: use --region, set "
	    "AWS_REGION or AWS_DEFAULT_REGION, or set region in profile "
	    "\"%s\" of %s", conf != NULL ? conf->profile : "default",
	    (conf != NULL && conf->files[AWSCONF_CONFIG].path != NULL) ?
	    conf->files[AWSCONF_CONFIG].path : "~/.aws/config");
}

int
awsconf_region_required(const struct awsconf *conf,
    const char *explicit_region, const char **region, char *err,
    size_t errsz)
{
	const char *src;
	const char *r = awsconf_region(conf, explicit_region, &src);

	*region = NULL;
	if (r == NULL) {
		no_region_msg(conf, err, errsz);
		return -1;
	}
	if (!awsconf_region_ok(r)) {
		msg_seterr(err, errsz, "invalid AWS region \"%.64s\" (from "
		    "%s): expected something like us-east-1", r, src);
		return -1;
	}
	*region = r;
	return 0;
}

/*
 * A custom endpoint must be http(s)://host[:port][/path]; it goes into
 * request lines and Host headers, so no blanks or control characters.
 * User-info (USER:PASSWORD@, RFC 3986 3.2.1) is refused rather than dropped:
 * requests are signed with the AWS credentials, never with a password in
 * a URL.  Returns NULL, or why not.
 */
static const char *
url_invalid(const char *u)
{
	const char *h;
	size_t n;

	if (strncasecmp(u, "https://", 8) == 0)
		h = u + 8;
	else if (strncasecmp(u, "http://", 7) == 0)
		h = u + 7;
	else
		return "expected http://HOST or https://HOST[:PORT][/PATH]";
	n = strcspn(h, "/?#");
	if (memchr(h, '@', n) != NULL)
		return "user-info (USER:PASSWORD@) is not allowed: requests "
		    "are signed with the AWS credentials";
	if (*h == '\0' || *h == '/' || *h == ':')
		return "expected http://HOST or https://HOST[:PORT][/PATH]";
	if (strpbrk(h, "?#") != NULL)
		return "a query or fragment is not allowed: the requests' own "
		    "paths and queries follow the endpoint's path";
	for (; *u != '\0'; u++)
		if ((unsigned char)*u <= 0x20 || *u == 0x7f)
			return "expected http://HOST or https://HOST[:PORT][/PATH]";
	return NULL;
}

/*
 * A region's partition, as botocore's data/partitions.json has them: its
 * name, DNS suffix and dual-stack DNS suffix (every partition there
 * supports FIPS and dual-stack endpoints).  The first whose prefix the
 * region has; "aws" (amazonaws.com, api.aws) for the rest.
 */
struct partition {
	const char *prefix, *name, *domain, *dualstack;
};

static const struct partition *
region_partition(const char *region)
{
	static const struct partition parts[] = {
		{ "cn-", "aws-cn", "amazonaws.com.cn",
		    "api.amazonwebservices.com.cn" },
		{ "us-gov-", "aws-us-gov", "amazonaws.com", "api.aws" },
		{ "us-isob-", "aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud" },
		{ "us-isof-", "aws-iso-f", "csp.hci.ic.gov",
		    "api.aws.hci.ic.gov" },
		{ "us-iso-", "aws-iso", "c2s.ic.gov", "api.aws.ic.gov" },
		{ "eu-isoe-", "aws-iso-e", "cloud.adc-e.uk",
		    "api.cloud-aws.adc-e.uk" },
		{ "eusc-", "aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu" },
		{ "", "aws", "amazonaws.com", "api.aws" },
	};
	size_t i;

	for (i = 0; i + 1 < sizeof(parts) / sizeof(parts[0]); i++)
		if (strncmp(region, parts[i].prefix,
		    strlen(parts[i].prefix)) == 0)
			return &parts[i];
	return &parts[i];
}

/*
 * The service id transformed for a variable name (upper, ' ' -> '_'),
 * a config key (lower, ' ' -> '_') or a host label (lower, ' ' dropped).
 */
enum idform { ID_ENV, ID_KEY, ID_HOST };

static void
service_id_form(const char *id, enum idform form, char *buf, size_t bufsz)
{
	size_t j = 0;

	for (; *id != '\0' && j + 1 < bufsz; id++) {
		unsigned char c = (unsigned char)*id;

		if (c == ' ') {
			if (form == ID_HOST)
				continue;
			c = '_';
		}
		buf[j++] = (char)(form == ID_ENV ? toupper(c) : tolower(c));
	}
	buf[j] = '\0';
}

int
awsconf_use_fips(const struct awsconf *conf)
{
	const char *v = awsconf_env("AWS_USE_FIPS_ENDPOINT");

	if (v == NULL && conf != NULL)
		v = awsconf_get(conf, "use_fips_endpoint");
	return awsconf_is_true(v);
}

int
awsconf_use_dualstack(const struct awsconf *conf, const char *service_id)
{
	const char *v;

	/* botocore: S3's own "s3 = use_dualstack_endpoint = true" first. */
	if (conf != NULL && strcasecmp(service_id, "S3") == 0 &&
	    awsconf_is_true(awsconf_get_sub(conf, "s3",
	    "use_dualstack_endpoint")))
		return 1;
	v = awsconf_env("AWS_USE_DUALSTACK_ENDPOINT");
	if (v == NULL && conf != NULL)
		v = awsconf_get(conf, "use_dualstack_endpoint");
	return awsconf_is_true(v);
}

/*
 * The AWS endpoint of a service in a region (host: its host label), with
 * the FIPS and dual-stack variants that the endpoint rule sets of
 * botocore's data/kinesis and data/s3 give when they are asked for:
 *   Kinesis  kinesis-fips.R.DNS, kinesis.R.DUALSTACK-DNS,
 *            kinesis-fips.R.DUALSTACK-DNS; FIPS alone in aws-us-gov is
 *            kinesis.R.amazonaws.com (those endpoints are FIPS already)
 *   S3       s3-fips.R.DNS, s3.dualstack.R.DNS, s3-fips.dualstack.R.DNS;
 *            FIPS in aws-cn is an error ("Partition does not support FIPS")
 * Other services have no variant here: their regional endpoint.
 */
static int
default_url(const struct awsconf *conf, const char *host, const char *region,
    struct awsconf_endpoint *out, char *err, size_t errsz)
{
	const struct partition *p = region_partition(region);
	int kinesis = strcmp(host, "kinesis") == 0, s3 = strcmp(host, "s3") == 0;
	int fips = (kinesis || s3) && awsconf_use_fips(conf);
	int ds = (kinesis || s3) && awsconf_use_dualstack(conf, host);
	const char *dns = p->domain;
	int r;

	if (s3 && fips && strcmp(p->name, "aws-cn") == 0) {
		msg_seterr(err, errsz, "FIPS endpoints (AWS_USE_FIPS_ENDPOINT, "
		    "use_fips_endpoint) are not available for S3 in region "
		    "%s (partition aws-cn)", region);
		return -1;
	}
	if (s3)
		r = asprintf(&out->url, "https://s3%s%s.%s.%s",
		    fips ? "-fips" : "", ds ? ".dualstack" : "", region, dns);
	else if (kinesis && fips && !ds && strcmp(p->name, "aws-us-gov") == 0)
		r = asprintf(&out->url, "https://kinesis.%s.amazonaws.com",
		    region);
	else if (kinesis)
		r = asprintf(&out->url, "https://kinesis%s.%s.%s",
		    fips ? "-fips" : "", region, ds ? p->dualstack : dns);
	else
		r = asprintf(&out->url, "https://%s.%s.%s", host, region, dns);
	if (r < 0) {
		out->url = NULL;
		msg_seterr(err, errsz, "out of memory");
		return -1;
	}
	out->fips = fips;
	out->dualstack = ds;
	return 0;
}

int
awsconf_endpoint(const struct awsconf *conf, const char *service_id,
    const char *explicit_url, const char *region,
    struct awsconf_endpoint *out, char *err, size_t errsz)
{
	char var[128], id[64], host[64];
	const char *url = NULL, *src = NULL, *ign;
	size_t n;
	int ignore, rc = -1;

	memset(out, 0, sizeof(*out));
	if (explicit_url != NULL && *explicit_url != '\0') {
		url = explicit_url;
		src = "explicit";
	}
	ign = awsconf_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (ign == NULL && conf != NULL)
		ign = awsconf_get(conf, "ignore_configured_endpoint_urls");
	ignore = awsconf_is_true(ign);

	if (url == NULL && !ignore) {
		service_id_form(service_id, ID_ENV, id, sizeof(id));
		snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", id);
		url = awsconf_env(var);
		if (url != NULL) {
			src = "AWS_ENDPOINT_URL_<ID>";
		} else {
			url = awsconf_env("AWS_ENDPOINT_URL");
			if (url != NULL)
				src = "AWS_ENDPOINT_URL";
		}
	}
	if (url == NULL && !ignore && conf != NULL) {
		const char *svc = awsconf_get(conf, "services");

		if (svc != NULL && *svc != '\0') {
			char sec[256];

			service_id_form(service_id, ID_KEY, id, sizeof(id));
			snprintf(sec, sizeof(sec), "services %s", svc);
			url = find_value(&conf->files[AWSCONF_CONFIG], sec, id,
			    "endpoint_url");
			if (url != NULL && *url == '\0')
				url = NULL;
			if (url != NULL)
				src = "services-section";
		}
		if (url == NULL) {
			url = awsconf_get(conf, "endpoint_url");
			if (url != NULL && *url == '\0')
				url = NULL;
			if (url != NULL)
				src = "profile";
		}
	}
	if (url != NULL) {
		const char *bad = url_invalid(url);

		if (bad != NULL) {
			msg_seterr(err, errsz, "invalid endpoint URL from %s: %s",
			    src, bad);
			goto out;
		}
		n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			n--;
		out->url = xstrndup(url, n);
		if (out->url == NULL) {
			msg_seterr(err, errsz, "out of memory");
			goto out;
		}
		out->custom = 1;
		out->source = src;
		rc = 0;
		goto out;
	}
	if (region == NULL || *region == '\0') {
		no_region_msg(conf, err, errsz);
		goto out;
	}
	if (!awsconf_region_ok(region)) {
		msg_seterr(err, errsz, "invalid AWS region \"%.64s\": expected "
		    "something like us-east-1", region);
		goto out;
	}
	service_id_form(service_id, ID_HOST, host, sizeof(host));
	if (default_url(conf, host, region, out, err, errsz) != 0)
		goto out;
	out->custom = 0;
	out->source = "default";
	rc = 0;
out:
	if (rc < 0)
		awsconf_endpoint_clear(out);
	return rc;
}

void
awsconf_endpoint_clear(struct awsconf_endpoint *ep)
{
	if (ep == NULL)
		return;
	free(ep->url);
	memset(ep, 0, sizeof(*ep));
}

void
awsconf_tls(const struct awsconf *conf, const char *explicit_ca,
    int no_verify, struct awsconf_tls *out)
{
	const char *env = awsconf_env("AWS_CA_BUNDLE");
	const char *prof = conf != NULL ? awsconf_get(conf, "ca_bundle") : NULL;

	memset(out, 0, sizeof(*out));
	out->verify = !no_verify;
	if (explicit_ca != NULL && *explicit_ca != '\0') {
		out->ca_bundle = explicit_ca;
		out->ca_source = "explicit";
	} else if (env != NULL) {
		out->ca_bundle = env;
		out->ca_source = "AWS_CA_BUNDLE";
	} else if (prof != NULL && *prof != '\0') {
		out->ca_bundle = prof;
		out->ca_source = "profile";
	}
}
