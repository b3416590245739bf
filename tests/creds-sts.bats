#!/usr/bin/env bats
# Role credentials through STS (common/sts.c, common/creds_role.c,
# common/creds_web.c): profiles with role_arn and source_profile or
# credential_source, and web identity tokens.
#
# Against a moto_server with IAM authentication on (pip's moto[server]; the
# tests that need it say so and skip where it is absent): a base user
# allowed nothing but sts:AssumeRole reaches Kinesis and S3 only through the
# role.  The rest against tests/lib/sts_server.py, a scripted STS on
# 127.0.0.1, through tests/c/creds_test.c and the tools.
#
# Every test sets AWS_ENDPOINT_URL_STS to a loopback server (or to the dead
# port of helpers.bash) and AWS_EC2_METADATA_DISABLED=true: nothing can
# reach AWS.

bats_require_minimum_version 1.5.0

load helpers

ROLE=arn:aws:iam::123456789012:role/kinpipe-ops

setup() {
	T=$BATS_TEST_TMPDIR
	CT=$KP_BUILD_DIR/tests/creds_test
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_CONFIG_FILE=$T/config AWS_SHARED_CREDENTIALS_FILE=$T/credentials
	export AWS_ENDPOINT_URL_STS=$KP_DEAD_ENDPOINT
	: >"$T/config"
	SERVER_PID= MOTO_PID= META_PID=
}

teardown() {
	local p
	for p in $SERVER_PID $MOTO_PID $META_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# sts_start [ARGS]: tests/lib/sts_server.py on a free port; sets LOG and
# AWS_ENDPOINT_URL_STS.
sts_start() {
	local i
	LOG=$T/sts.log
	: >"$LOG"
	python3 "$KP_ROOT/tests/lib/sts_server.py" --port-file "$T/port" \
	    --log "$LOG" "$@" </dev/null >"$T/sts.out" 2>&1 3>&- &
	SERVER_PID=$!
	for ((i = 0; i < 400; i++)); do
		[ -s "$T/port" ] && break
		sleep 0.05
	done
	[ -s "$T/port" ]
	export AWS_ENDPOINT_URL_STS=http://127.0.0.1:$(cat "$T/port")
}

# req N FILTER: jq -r FILTER on the Nth request (1-based) of the log.
req() {
	sed -n "${1}p" "$LOG" | jq -r "$2"
}

# A profile chain: ops assumes $ROLE with the keys of base.
ops_profiles() {
	cat >"$T/config" <<EOF
[profile ops]
role_arn = $ROLE
source_profile = base
$1
[profile base]
aws_access_key_id = AKIDBASEEXAMPLE
aws_secret_access_key = base-secret-key
EOF
}

# ---- the scripted STS ----

@test "assume role: source_profile's keys sign AssumeRole; external_id, role_session_name, duration_seconds sent" {
	sts_start
	ops_profiles "external_id = ext-1
role_session_name = nightly
duration_seconds = 1800"
	run -0 --separate-stderr "$CT" creds --profile ops
	[ "$(jq -r .source <<<"$output")" = assume-role ]
	[ "$(jq -r .access_key_id <<<"$output")" = ASIASTS1 ]
	[ "$(jq -r .token_sha256 <<<"$output")" = "$(printf sts-token-1 | sha256sum | cut -d' ' -f1)" ]
	[ "$(wc -l <"$LOG")" = 1 ]
	[ "$(req 1 .authorization)" = true ]
	[[ $(req 1 .scope) == */us-east-1/sts/aws4_request ]]
	[ "$(req 1 .content_type)" = "application/x-www-form-urlencoded; charset=utf-8" ]
	[ "$(req 1 .form.Action)" = AssumeRole ]
	[ "$(req 1 .form.Version)" = 2011-06-15 ]
	[ "$(req 1 .form.RoleArn)" = "$ROLE" ]
	[ "$(req 1 .form.ExternalId)" = ext-1 ]
	[ "$(req 1 .form.RoleSessionName)" = nightly ]
	[ "$(req 1 .form.DurationSeconds)" = 1800 ]
}

@test "assume role: the default session name is kinpipe-<epoch ms>; no ExternalId unless configured" {
	sts_start
	ops_profiles ""
	run -0 --separate-stderr "$CT" creds --profile ops
	[[ $(req 1 .form.RoleSessionName) =~ ^kinpipe-[0-9]{13}$ ]]
	[ "$(req 1 '.form.ExternalId // "none"')" = none ]
	[ "$(req 1 '.form.DurationSeconds // "none"')" = none ]
}

@test "assume role: the scripted server refuses a wrong external_id with a clear message" {
	sts_start --external-id right
	ops_profiles "external_id = wrong"
	run -1 --separate-stderr "$CT" creds --profile ops
	[[ $stderr == *"STS AssumeRole for $ROLE: AccessDenied: wrong ExternalId (HTTP 403)"* ]]
}

@test "assume role: credentials that expire soon are refreshed with a second AssumeRole" {
	sts_start --expires-in 400
	ops_profiles ""
	now=$(date +%s)
	# 400 s left: cached; 200 s later they are within the refresh window.
	run -0 --separate-stderr "$CT" get --profile ops "$now" "$((now + 10))" "$((now + 200))"
	[ "$(sed -n 1p <<<"$output" | jq -r .access_key_id)" = ASIASTS1 ]
	[ "$(sed -n 2p <<<"$output" | jq -r .access_key_id)" = ASIASTS1 ]
	[ "$(sed -n 3p <<<"$output" | jq -r .access_key_id)" = ASIASTS2 ]
	[ "$(sed -n 3p <<<"$output" | jq -r .resolutions)" = 2 ]
	[ "$(wc -l <"$LOG")" = 2 ]
}

@test "assume role: chained profiles assume each role in turn, the second signed with the first's credentials" {
	sts_start
	cat >"$T/config" <<EOF
[profile top]
role_arn = arn:aws:iam::123456789012:role/top
source_profile = ops
[profile ops]
role_arn = $ROLE
source_profile = base
[profile base]
aws_access_key_id = AKIDBASEEXAMPLE
aws_secret_access_key = base-secret-key
EOF
	run -0 --separate-stderr "$CT" creds --profile top
	[ "$(jq -r .access_key_id <<<"$output")" = ASIASTS2 ]
	[ "$(req 1 .form.RoleArn)" = "$ROLE" ]
	[ "$(req 1 .security_token)" = null ]
	[ "$(req 2 .form.RoleArn)" = arn:aws:iam::123456789012:role/top ]
	[ "$(req 2 .security_token)" = sts-token-1 ]
}

@test "assume role: credential_source = Environment signs with the environment's keys, even under --profile" {
	sts_start
	cat >"$T/config" <<EOF
[profile ops]
role_arn = $ROLE
credential_source = environment
EOF
	AWS_ACCESS_KEY_ID=AKIDENVEXAMPLE AWS_SECRET_ACCESS_KEY=env-secret-key \
	    run -0 --separate-stderr "$CT" creds --profile ops
	[ "$(jq -r .source <<<"$output")" = assume-role ]
	[[ $(req 1 .scope) == */sts/aws4_request ]]
	run -1 --separate-stderr "$CT" creds --profile ops
	[[ $stderr == *"no credentials found in credential_source Environment of profile \"ops\""* ]]
}

@test "assume role: credential_source = EcsContainer signs with the container endpoint's credentials" {
	sts_start
	python3 "$KP_ROOT/tests/lib/metadata_server.py" --port-file "$T/mport" \
	    --log "$T/meta.log" --token ecs-session-token </dev/null >"$T/meta.out" 2>&1 3>&- &
	META_PID=$!
	for ((i = 0; i < 400; i++)); do [ -s "$T/mport" ] && break; sleep 0.05; done
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$(cat "$T/mport")/ecs/credentials
	printf '[profile ops]\nrole_arn = %s\ncredential_source = EcsContainer\n' "$ROLE" >"$T/config"
	run -0 --separate-stderr "$CT" creds --profile ops
	[ "$(jq -r .source <<<"$output")" = assume-role ]
	[ "$(req 1 .security_token)" = ecs-session-token ]
	[ "$(wc -l <"$T/meta.log")" = 1 ]
}

@test "assume role: the environment's keys win over a role profile named by AWS_PROFILE, as in the CLI" {
	sts_start
	ops_profiles ""
	AWS_PROFILE=ops AWS_ACCESS_KEY_ID=AKIDENVEXAMPLE AWS_SECRET_ACCESS_KEY=env-secret-key \
	    run -0 --separate-stderr "$CT" creds
	[ "$(jq -r .source <<<"$output")" = env ]
	[ ! -s "$LOG" ]
}

@test "assume role: configuration errors exit 2 and call nothing: MFA, cycles, missing or both sources, bad values" {
	sts_start
	ops_profiles "mfa_serial = arn:aws:iam::123456789012:mfa/me"
	run -2 --separate-stderr kin-read --profile ops --stream s
	[[ $stderr == *'profile "ops" needs an MFA code (mfa_serial), and kinpipe never prompts'* ]]
	cat >"$T/config" <<EOF
[profile a]
role_arn = $ROLE
source_profile = b
[profile b]
role_arn = $ROLE
source_profile = a
[profile c]
role_arn = $ROLE
source_profile = nowhere
[profile d]
role_arn = $ROLE
source_profile = a
credential_source = Environment
[profile e]
role_arn = $ROLE
[profile f]
role_arn = $ROLE
credential_source = Ec2Config
[profile g]
role_arn = $ROLE
source_profile = g
[profile h]
role_arn = $ROLE
source_profile = base
duration_seconds = 1h
[profile base]
aws_access_key_id = AKIDBASEEXAMPLE
aws_secret_access_key = base-secret-key
EOF
	run -2 --separate-stderr kin-put --profile a --stream s --partition-key k </dev/null
	[[ $stderr == *'source_profile makes a cycle: a -> b -> a'* ]]
	run -2 --separate-stderr kin-read --profile c --stream s
	[[ $stderr == *'the source_profile "nowhere" of profile "c" cannot be used: profile "nowhere" not found'* ]]
	run -2 --separate-stderr kin-read --profile d --stream s
	[[ $stderr == *'profile "d" has both source_profile and credential_source'* ]]
	run -2 --separate-stderr kin-read --profile e --stream s
	[[ $stderr == *'profile "e" has role_arn but neither source_profile nor credential_source'* ]]
	run -2 --separate-stderr kin-read --profile f --stream s
	[[ $stderr == *'credential_source "Ec2Config" of profile "f" is not valid'* ]]
	run -2 --separate-stderr kin-read --profile g --stream s
	[[ $stderr == *'source_profile makes a cycle: g -> g'* ]]
	run -2 --separate-stderr kin-read --profile h --stream s
	[[ $stderr == *'duration_seconds of profile "h" is not a number of seconds'* ]]
	[ ! -s "$LOG" ]
}

@test "assume role: a profile that names itself as source uses its own keys" {
	sts_start
	cat >"$T/config" <<EOF
[profile self]
role_arn = $ROLE
source_profile = self
aws_access_key_id = AKIDSELFEXAMPLE
aws_secret_access_key = self-secret-key
EOF
	run -0 --separate-stderr "$CT" creds --profile self
	[ "$(jq -r .source <<<"$output")" = assume-role ]
	[ "$(wc -l <"$LOG")" = 1 ]
}

@test "assume role: an STS error answer gives its code and message; nothing secret is printed" {
	sts_start --error-status 400 --error-code ValidationError --error-message 'RoleSessionName is too long'
	ops_profiles ""
	run -2 --separate-stderr kin-read --profile ops --stream s
	[[ $stderr == *"STS AssumeRole for $ROLE: ValidationError: RoleSessionName is too long (HTTP 400)"* ]]
	[[ $stderr != *base-secret-key* ]]
}

@test "assume role: an STS answer without credentials is an error naming what is missing" {
	ops_profiles ""
	cat >"$T/srv.py" <<'EOF'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        b = b"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId></Credentials></AssumeRoleResult></AssumeRoleResponse>"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
	python3 "$T/srv.py" "$T/port" </dev/null >/dev/null 2>&1 3>&- &
	SERVER_PID=$!
	for ((i = 0; i < 400; i++)); do [ -s "$T/port" ] && break; sleep 0.05; done
	export AWS_ENDPOINT_URL_STS=http://127.0.0.1:$(cat "$T/port")
	run -1 --separate-stderr "$CT" creds --profile ops
	[[ $stderr == *"STS AssumeRole answer has no AssumeRoleResult/Credentials/SecretAccessKey"* ]]
}

# ---- web identity ----

@test "web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN call AssumeRoleWithWebIdentity unsigned with the token" {
	sts_start
	printf 'eyJ.token-one.sig' >"$T/token"
	export AWS_WEB_IDENTITY_TOKEN_FILE=$T/token AWS_ROLE_ARN=$ROLE AWS_ROLE_SESSION_NAME=ci-run
	run -0 --separate-stderr "$CT" creds
	[ "$(jq -r .source <<<"$output")" = assume-role-with-web-identity ]
	[ "$(jq -r .access_key_id <<<"$output")" = ASIASTS1 ]
	[ "$(req 1 .authorization)" = false ]
	[ "$(req 1 .form.Action)" = AssumeRoleWithWebIdentity ]
	[ "$(req 1 .form.WebIdentityToken)" = eyJ.token-one.sig ]
	[ "$(req 1 .form.RoleArn)" = "$ROLE" ]
	[ "$(req 1 .form.RoleSessionName)" = ci-run ]
}

@test "web identity: the token file is read again at each refresh" {
	sts_start --expires-in 400
	printf 'token-one\n' >"$T/token"
	export AWS_WEB_IDENTITY_TOKEN_FILE=$T/token AWS_ROLE_ARN=$ROLE
	now=$(date +%s)
	"$CT" get "$now" >/dev/null
	printf 'token-two' >"$T/token"
	"$CT" get "$now" "$((now + 200))" >/dev/null
	[ "$(req 1 .form.WebIdentityToken)" = token-one ]
	[ "$(req 2 .form.WebIdentityToken)" = token-two ]
	[ "$(req 3 .form.WebIdentityToken)" = token-two ]
	[[ $(req 1 .form.RoleSessionName) =~ ^kinpipe-[0-9]{13}$ ]]
}

@test "web identity: profile keys web_identity_token_file and role_arn, also as a source profile" {
	sts_start
	printf 'profile-token' >"$T/token"
	cat >"$T/config" <<EOF
[profile web]
web_identity_token_file = $T/token
role_arn = arn:aws:iam::123456789012:role/web
role_session_name = from-profile
[profile ops]
role_arn = $ROLE
source_profile = web
EOF
	run -0 --separate-stderr "$CT" creds --profile web
	[ "$(jq -r .source <<<"$output")" = assume-role-with-web-identity ]
	[ "$(req 1 .form.RoleSessionName)" = from-profile ]
	run -0 --separate-stderr "$CT" creds --profile ops
	[ "$(jq -r .source <<<"$output")" = assume-role ]
	[ "$(req 2 .form.Action)" = AssumeRoleWithWebIdentity ]
	[ "$(req 3 .form.Action)" = AssumeRole ]
	[ "$(req 3 .security_token)" = sts-token-2 ]
}

@test "web identity: errors: no role, a missing or empty token file, STS's refusal" {
	sts_start --error-status 400 --error-code InvalidIdentityToken --error-message 'Token expired'
	export AWS_WEB_IDENTITY_TOKEN_FILE=$T/token
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"a web identity token file is configured but no role: set AWS_ROLE_ARN"* ]]
	export AWS_ROLE_ARN=$ROLE
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"cannot read the web identity token file $T/token"* ]]
	: >"$T/token"
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"the web identity token file $T/token is empty"* ]]
	printf 'secret-jwt-value' >"$T/token"
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"STS AssumeRoleWithWebIdentity for $ROLE: InvalidIdentityToken: Token expired (HTTP 400)"* ]]
	[[ $stderr != *secret-jwt-value* ]]
}

# ---- the endpoint ----

@test "STS endpoint: regional by default; global for legacy regions with sts_regional_endpoints = legacy; AWS_ENDPOINT_URL_STS and services" {
	unset AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL
	ep() { "$CT" sts-endpoint "$@" | jq -r '.url + " " + .region'; }
	[ "$(ep --region eu-west-1)" = "https://sts.eu-west-1.amazonaws.com eu-west-1" ]
	[ "$(ep --region us-east-1)" = "https://sts.us-east-1.amazonaws.com us-east-1" ]
	[ "$(ep --region cn-north-1)" = "https://sts.cn-north-1.amazonaws.com.cn cn-north-1" ]
	[ "$(ep --region aws-global)" = "https://sts.amazonaws.com us-east-1" ]
	[ "$(AWS_STS_REGIONAL_ENDPOINTS=legacy ep --region eu-west-1)" = "https://sts.amazonaws.com us-east-1" ]
	[ "$(AWS_STS_REGIONAL_ENDPOINTS=legacy ep --region eu-south-1)" = "https://sts.eu-south-1.amazonaws.com eu-south-1" ]
	printf '[default]\nsts_regional_endpoints = legacy\n' >"$T/config"
	[ "$(ep --region us-west-2)" = "https://sts.amazonaws.com us-east-1" ]
	[ "$(AWS_STS_REGIONAL_ENDPOINTS=regional ep --region us-west-2)" = "https://sts.us-west-2.amazonaws.com us-west-2" ]
	AWS_STS_REGIONAL_ENDPOINTS=global run -2 --separate-stderr "$CT" sts-endpoint --region us-west-2
	[[ $stderr == *'must be regional or legacy, not "global"'* ]]
	printf '[default]\nservices = local\n[services local]\nsts =\n  endpoint_url = http://127.0.0.1:7/sts\n' >"$T/config"
	[ "$(ep --region eu-west-1)" = "http://127.0.0.1:7/sts eu-west-1" ]
	[ "$(AWS_ENDPOINT_URL_STS=http://127.0.0.1:8 ep --region eu-west-1)" = "http://127.0.0.1:8 eu-west-1" ]
	[ "$(AWS_STS_REGIONAL_ENDPOINTS=legacy AWS_ENDPOINT_URL_STS=http://127.0.0.1:8 ep --region eu-west-1)" = "http://127.0.0.1:8 eu-west-1" ]
	[ "$(AWS_REGION= AWS_ENDPOINT_URL_STS=http://127.0.0.1:8 ep)" = "http://127.0.0.1:8 us-east-1" ]
	unset AWS_REGION
	: >"$T/config"
	run -2 --separate-stderr "$CT" sts-endpoint
	[[ $stderr == *"no AWS region configured"* ]]
}

# ---- moto, with IAM authentication on ----

# moto_start [--external-id ID]: a moto_server on a free loopback port with
# IAM authentication, set up by tests/lib/moto_iam.py (stream $S, bucket
# $B); writes the profiles ops (the role, through base) and base (the
# user's keys) and points every endpoint at moto.
moto_start() {
	command -v moto_server >/dev/null ||
	    skip "moto_server is not installed (pip install 'moto[server]'): it is the IAM-checking STS, Kinesis and S3"
	python3 -c 'import boto3' 2>/dev/null ||
	    skip "boto3 (moto's dependency) is not importable by python3"
	local url= i
	INITIAL_NO_AUTH_ACTION_COUNT=1000 moto_server -H 127.0.0.1 -p 0 \
	    >"$T/moto.log" 2>&1 3>&- &
	MOTO_PID=$!
	for ((i = 0; i < 300; i++)); do
		url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$T/moto.log" | head -n 1)
		[[ -n $url ]] && break
		sleep 0.1
	done
	[[ -n $url ]]
	S=$(kp_unique_name sts) B=$(kp_unique_name stsb)
	python3 "$KP_ROOT/tests/lib/moto_iam.py" "$url" "$S" "$B" "$@" >"$T/keys.json"
	export AWS_ENDPOINT_URL=$url AWS_ENDPOINT_URL_STS=$url
	cat >"$T/config" <<EOC
[profile ops]
role_arn = $(jq -r .RoleArn "$T/keys.json")
source_profile = base
${EXTRA:-}
[profile base]
aws_access_key_id = $(jq -r .AccessKeyId "$T/keys.json")
aws_secret_access_key = $(jq -r .SecretAccessKey "$T/keys.json")
EOC
}

@test "moto: a base user allowed only sts:AssumeRole puts and reads Kinesis and puts S3 through the role; its own keys are refused" {
	moto_start
	printf '{"symbol":"BTCUSDT","timestamp":"2024-08-09T00:00:0%dZ"}\n' 1 2 3 >"$T/in"
	run -0 --separate-stderr kin-put --profile ops --stream "$S" --partition-key-field symbol <"$T/in"
	run -0 --separate-stderr kin-read --profile ops --stream "$S" --count 3
	[ "$output" = "$(cat "$T/in")" ]
	run -0 --separate-stderr s3-put --profile ops --spool-dir "$T/spool" "s3://$B/p/" <"$T/in"
	run -1 --separate-stderr kin-put --profile base --stream "$S" --partition-key k <"$T/in"
	[[ $stderr == *"AccessDenied: User: arn:aws:iam::123456789012:user/base is not authorized to perform: kinesis:PutRecords"* ]]
	run --separate-stderr kin-read --profile base --stream "$S" --count 1
	[ "$status" -ne 0 ]
	[[ $stderr == *AccessDenied* ]]
	run --separate-stderr s3-put --profile base --spool-dir "$T/spool2" "s3://$B/q/" <"$T/in"
	[ "$status" -ne 0 ]
	[[ $stderr == *AccessDenied* ]]
}

@test "moto: external_id is checked against the role's trust policy" {
	EXTRA="external_id = right-id" moto_start --external-id right-id
	run -0 --separate-stderr kin-read --profile ops --stream "$S"
	sed -i 's/^external_id = right-id$/external_id = wrong-id/' "$T/config"
	run -2 --separate-stderr kin-read --profile ops --stream "$S"
	[[ $stderr == *"STS AssumeRole for arn:aws:iam::123456789012:role/kinpipe-ops: AccessDenied"*"sts:AssumeRole (HTTP 403)"* ]]
}
