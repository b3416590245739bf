/*
 * sts_test - STS's XML answers (common/sts.c): what sts_parse_credentials()
 * accepts and refuses, and sts_parse_error().  Every input is in a buffer
 * of its exact length, without a NUL (tap.h exact()).
 */
#include <string.h>
#include <time.h>

#include "creds.h"
#include "sts.h"
#include "tap.h"

#define HEAD "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
#define TAIL "</AssumeRoleResult></AssumeRoleResponse>"
#define CREDS(a, s, t, e) "<Credentials><AccessKeyId>" a "</AccessKeyId>" \
	"<SecretAccessKey>" s "</SecretAccessKey><SessionToken>" t \
	"</SessionToken><Expiration>" e "</Expiration></Credentials>"
#define GOOD HEAD CREDS("ASIAX", "sec/ret+1", "tok", "2030-01-01T00:00:00Z") TAIL

/* Parses doc as an AssumeRole answer; 0 or -1, the error in err. */
static int
parse(const char *action, const char *doc, struct creds *c, char *err,
    size_t errsz)
{
	size_t n = strlen(doc);
	char *b = exact(doc, n);
	int r = sts_parse_credentials(action, b, n, c, err, errsz);

	free(b);
	return r;
}

static void
accepts(const char *what, const char *doc, const char *akid,
    const char *secret, const char *token, time_t exp)
{
	struct creds c;
	char err[256] = "";
	int r = parse("AssumeRole", doc, &c, err, sizeof(err));

	if (!check(r == 0 && strcmp(c.access_key_id, akid) == 0 &&
	    strcmp(c.secret_access_key, secret) == 0 &&
	    strcmp(c.session_token, token) == 0 && c.expiration == exp,
	    "accepts %s", what))
		diag("r=%d err=%s", r, err);
	if (r == 0)
		creds_clear(&c);
}

static void
refuses(const char *what, const char *doc, const char *msg)
{
	struct creds c;
	char err[256] = "";
	int r = parse("AssumeRole", doc, &c, err, sizeof(err));

	if (!check(r < 0 && strstr(err, msg) != NULL, "refuses %s", what))
		diag("r=%d err=%s", r, err);
	if (r == 0)
		creds_clear(&c);
}

static void
error_doc(const char *what, const char *doc, const char *code,
    const char *message)
{
	char c[32], m[64], *b = exact(doc, strlen(doc));

	sts_parse_error(b, strlen(doc), c, sizeof(c), m, sizeof(m));
	free(b);
	if (!check(strcmp(c, code) == 0 && strcmp(m, message) == 0,
	    "error document: %s", what))
		diag("code=%s message=%s", c, m);
}

int
main(int argc, char **argv)
{
	if (tap_begin("sts_test", argc, argv) != 0)
		return 2;
	section("credentials");
	accepts("the API reference's shape", GOOD, "ASIAX", "sec/ret+1", "tok",
	    1893456000);
	accepts("a declaration, comments, blanks and other elements",
	    "\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- x -->" HEAD
	    "<AssumedRoleUser><Arn>a</Arn></AssumedRoleUser>\n  "
	    CREDS("ASIAX", "sec/ret+1", "tok", "2030-01-01T00:00:00.000Z")
	    "<PackedPolicySize/>" TAIL "\n<!-- y -->\n",
	    "ASIAX", "sec/ret+1", "tok", 1893456000);
	accepts("entities, character references and CDATA",
	    HEAD CREDS("AS&amp;IA", "<![CDATA[a<b]]>", "t&#43;&#x2F;", "2030-01-01T00:00:00Z")
	    TAIL, "AS&IA", "a<b", "t+/", 1893456000);
	accepts("no namespace attribute",
	    "<AssumeRoleResponse><AssumeRoleResult>" CREDS("A", "S", "T",
	    "2030-01-01T00:00:00Z") "</AssumeRoleResult></AssumeRoleResponse>",
	    "A", "S", "T", 1893456000);
	refuses("a missing SessionToken", HEAD "<Credentials><AccessKeyId>A"
	    "</AccessKeyId><SecretAccessKey>S</SecretAccessKey><Expiration>"
	    "2030-01-01T00:00:00Z</Expiration></Credentials>" TAIL,
	    "no AssumeRoleResult/Credentials/SessionToken");
	refuses("credentials elsewhere", "<AssumeRoleResponse>" CREDS("A", "S",
	    "T", "2030-01-01T00:00:00Z") "</AssumeRoleResponse>",
	    "no AssumeRoleResult/Credentials/AccessKeyId");
	refuses("the other action's answer", "<AssumeRoleWithWebIdentityResponse>"
	    "<AssumeRoleWithWebIdentityResult>" CREDS("A", "S", "T",
	    "2030-01-01T00:00:00Z") "</AssumeRoleWithWebIdentityResult>"
	    "</AssumeRoleWithWebIdentityResponse>", "no AssumeRoleResult");
	refuses("a repeated field", HEAD CREDS("A", "S", "T",
	    "2030-01-01T00:00:00Z") CREDS("B", "S", "T",
	    "2030-01-01T00:00:00Z") TAIL, "Credentials/AccessKeyId is repeated");
	refuses("an empty field", HEAD CREDS("", "S", "T",
	    "2030-01-01T00:00:00Z") TAIL, "Credentials/AccessKeyId is repeated, empty");
	refuses("a blank inside a value", HEAD CREDS("A", "S S", "T",
	    "2030-01-01T00:00:00Z") TAIL, "Credentials/SecretAccessKey is");
	refuses("a bad expiration", HEAD CREDS("A", "S", "T", "tomorrow") TAIL,
	    "Expiration is not an ISO 8601 time");
	refuses("mismatched tags", HEAD CREDS("A", "S", "T",
	    "2030-01-01T00:00:00Z") "</AssumeRoleResul></AssumeRoleResponse>",
	    "mismatched tags");
	refuses("an unclosed element", HEAD CREDS("A", "S", "T",
	    "2030-01-01T00:00:00Z"), "an unclosed element");
	refuses("a DOCTYPE", "<!DOCTYPE x [<!ENTITY e \"A\">]>" GOOD,
	    "a DOCTYPE or processing instruction");
	refuses("an unknown entity", HEAD CREDS("&e;", "S", "T",
	    "2030-01-01T00:00:00Z") TAIL, "an unknown entity");
	refuses("a NUL character reference", HEAD CREDS("A&#0;", "S", "T",
	    "2030-01-01T00:00:00Z") TAIL, "a bad character reference");
	refuses("a control character", HEAD CREDS("A\001", "S", "T",
	    "2030-01-01T00:00:00Z") TAIL, "a control character");
	refuses("text beside elements", HEAD "x" CREDS("A", "S", "T",
	    "2030-01-01T00:00:00Z") TAIL, "text beside an element");
	refuses("two roots", GOOD "<x/>", "more than one root element");
	refuses("text after the root", GOOD "x", "text outside the root element");
	refuses("an unquoted attribute", "<AssumeRoleResponse a=b>"
	    "<AssumeRoleResult>" CREDS("A", "S", "T", "2030-01-01T00:00:00Z")
	    TAIL, "an unquoted attribute");
	refuses("nothing", "", "no element");
	refuses("17 levels", "<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a>"
	    "<a><a>", "nested too deep");
	section("errors");
	error_doc("ErrorResponse/Error", "<ErrorResponse><Error><Type>Sender"
	    "</Type><Code>AccessDenied</Code><Message>not &quot;you&quot;"
	    "</Message></Error><RequestId>r</RequestId></ErrorResponse>",
	    "AccessDenied", "not \"you\"");
	error_doc("moto's ErrorResponse/Errors/Error with CDATA",
	    "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>"
	    "InvalidClientTokenId</Code><Message><![CDATA[bad token]]>"
	    "</Message></Error></Errors></ErrorResponse>",
	    "InvalidClientTokenId", "bad token");
	error_doc("a long code cut to fit", "<ErrorResponse><Error><Code>"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOP</Code></Error>"
	    "</ErrorResponse>", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE", "");
	error_doc("a control character escaped", "<ErrorResponse><Error><Code>"
	    "X</Code><Message>a&#10;b</Message></Error></ErrorResponse>", "X",
	    "a\\nb");
	error_doc("not XML", "<html><body>502</body>", "", "");
	error_doc("a credentials answer", GOOD, "", "");
	return tap_end();
}
