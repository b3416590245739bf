#!/usr/bin/env bats
# shellcheck disable=SC2154 # $stderr is set by `run --separate-stderr`
# IAM Identity Center (SSO) credentials (common/creds_sso.c): profiles with
# sso_session and its [sso-session NAME] section, and the legacy form
# (sso_start_url and sso_region in the profile), the token `aws sso login`
# caches in ~/.aws/sso/cache, and GetRoleCredentials.
#
# This machine has the AWS CLI v1, which cannot log in, so every test writes
# the cache file by hand in the format the AWS CLI v2 writes (botocore's
# SSOTokenLoader reads it: accessToken, expiresAt; the file named by the
# SHA-1 of the session name, or of the start URL).  The portal is
# tests/lib/sso_portal.py on 127.0.0.1, reached through AWS_ENDPOINT_URL_SSO
# (and AWS_ENDPOINT_URL_SSO_OIDC for the refresh of a session's token:
# nothing here can reach a non-loopback address, AWS_ENDPOINT_URL is a dead
# loopback port and IMDS is disabled).  The chain is driven through
# tests/c/creds_test.c, the tools against kinesalite and s3rver behind
# tests/lib/faultproxy.js --verify-sigv4, which checks that every request is
# signed with the secret and carries the session token the portal handed out.

bats_require_minimum_version 1.5.0

load helpers

FP="$KP_ROOT/tests/lib/faultproxy.js"
START_URL=https://d-abc123.awsapps.com/start
TOKEN=sso-access-token-0123456789
SSO_SECRET=sso-secret-access-key/0123+abc
SSO_SESSION_TOKEN=sso-session-token-IQoJb3JpZ2luX2VjE+/=

setup_file() {
	kp_stack_start kinesalite s3
	head -n 300 <(zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz") >"$BATS_FILE_TMPDIR/300.ndjson"
}

teardown_file() {
	kp_stack_stop
}

setup() {
	CT=$KP_BUILD_DIR/tests/creds_test
	[[ -x $CT ]] || {
		echo "missing $CT: run make" >&2
		return 1
	}
	T=$BATS_TEST_TMPDIR
	# (the local stack's keys, for kp_admin only)
	ADMIN_KEYS=("AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY")
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
	PIDS=()
}

teardown() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# put FILE: stdin into FILE, creating its folder.
put() {
	mkdir -p "$(dirname "$1")"
	cat >"$1"
}

# portal [ARGS]: tests/lib/sso_portal.py on a free loopback port, handing
# out $SSO_SECRET and $SSO_SESSION_TOKEN for $TOKEN; AWS_ENDPOINT_URL_SSO
# and AWS_ENDPOINT_URL_SSO_OIDC (for CreateToken) point at it.  Its request log is $T/portal.log.
portal() {
	: >"$T/portal.log"
	rm -f "$T/portal.port"
	python3 "$KP_ROOT/tests/lib/sso_portal.py" --port-file "$T/portal.port" \
	    --log "$T/portal.log" --token "$TOKEN" --secret "$SSO_SECRET" \
	    --session-token "$SSO_SESSION_TOKEN" "$@" </dev/null >"$T/portal.out" 2>&1 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/portal.port"
	AWS_ENDPOINT_URL_SSO=http://127.0.0.1:$(cat "$T/portal.port")
	AWS_ENDPOINT_URL_SSO_OIDC=$AWS_ENDPOINT_URL_SSO
	export AWS_ENDPOINT_URL_SSO AWS_ENDPOINT_URL_SSO_OIDC
}

# iso SECONDS: now + SECONDS as ISO 8601 UTC.
iso() {
	date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ
}

# cache_file NAME: where aws sso login caches the token of a session name
# (or, legacy, of a start URL).
cache_file() {
	printf '%s/.aws/sso/cache/%s.json' "$HOME" "$(printf '%s' "$1" | sha1sum | cut -d' ' -f1)"
}

# login NAME [EXPIRES_IN [TOKEN]]: the cache file aws sso login writes, in
# its documented form.
login() {
	put "$(cache_file "$1")" <<-EOF
	{"startUrl": "$START_URL", "region": "us-east-1", "accessToken": "${3:-$TOKEN}", "expiresAt": "$(iso "${2:-28800}")", "clientId": "client-id-example", "clientSecret": "client-secret-example", "registrationExpiresAt": "$(iso 7776000)", "refreshToken": "refresh-token-example"}
	EOF
}

# A profile "dev" with an sso-session "corp", and "old" in the legacy form.
config() {
	put "$HOME/.aws/config" <<-EOF
	[profile dev]
	sso_session = corp
	sso_account_id = 123456789012
	sso_role_name = KinpipeWriter
	region = us-east-1

	[sso-session corp]
	sso_start_url = $START_URL
	sso_region = us-east-1
	sso_registration_scopes = sso:account:access

	[profile old]
	sso_start_url = $START_URL
	sso_region = us-east-1
	sso_account_id = 123456789012
	sso_role_name = KinpipeWriter
	EOF
}

# j FILTER: jq -r FILTER on $output.
j() {
	jq -r "$1" <<<"$output"
}

sha() {
	printf '%s' "$1" | sha256sum | cut -d' ' -f1
}

# no_secret: neither the token nor the credentials appear on stdout or stderr.
no_secret() {
	local s
	for s in "$TOKEN" "$SSO_SECRET" "$SSO_SESSION_TOKEN"; do
		[[ $output != *"$s"* ]]
		[[ ${stderr:-} != *"$s"* ]]
	done
}

# requests: how many requests reached the portal.
requests() {
	wc -l <"$T/portal.log"
}

@test "unit: sso" { kp_unit sso 68; }
@test "unit under valgrind: sso" { kp_unit sso 68 valgrind; }

# ---- the provider ----

@test "sso-session profile: role credentials from GetRoleCredentials with the cached token" {
	config
	login corp
	portal
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = sso ]
	[ "$(j .access_key_id)" = ASIASSOEXAMPLE ]
	[ "$(j .secret_sha256)" = "$(sha "$SSO_SECRET")" ]
	[ "$(j .token_sha256)" = "$(sha "$SSO_SESSION_TOKEN")" ]
	# expiration: the portal's epoch milliseconds, an hour from now
	now=$(date +%s)
	exp=$(j .expiration)
	((exp > now + 3500 && exp <= now + 3600))
	[ -z "$stderr" ]
	no_secret
	[ "$(requests)" = 1 ]
	run jq -c '[.method, .path, .role_name, .account_id, .bearer, .authorization]' "$T/portal.log"
	[ "$output" = "[\"GET\",\"/federation/credentials\",\"KinpipeWriter\",\"123456789012\",\"$TOKEN\",null]" ]
	[[ $(jq -r .user_agent "$T/portal.log") == kinpipe/* ]]
}

@test "sso-session profile: the cache file is named by the SHA-1 of the session name" {
	config
	portal
	[ "$(cache_file corp)" = "$HOME/.aws/sso/cache/$(printf corp | sha1sum | cut -c1-40).json" ]
	login "$START_URL"
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *"no IAM Identity Center (SSO) token for sso-session \"corp\" ($(cache_file corp))"* ]]
	login corp
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = sso ]
}

@test "legacy profile: sso_start_url and sso_region in the profile; the cache file of the start URL" {
	config
	portal
	login "$START_URL"
	run -0 --separate-stderr "$CT" creds --profile old
	[ "$(j .source)" = sso ]
	[ "$(j .access_key_id)" = ASIASSOEXAMPLE ]
	[ "$(requests)" = 1 ]
	[ "$(jq -r .bearer "$T/portal.log")" = "$TOKEN" ]
	# The start URL's file, not the session's.
	rm "$(cache_file "$START_URL")"
	login corp
	run -1 --separate-stderr "$CT" creds --profile old
	[[ $stderr == *"no IAM Identity Center (SSO) token for $START_URL"* ]]
}

@test "order: environment keys beat SSO; SSO beats the profile's static keys and credential_process" {
	config
	cat >>"$HOME/.aws/config" <<-EOF
	credential_process = /bin/false
	EOF
	put "$HOME/.aws/credentials" <<-EOF
	[old]
	aws_access_key_id = AKIDSTATIC
	aws_secret_access_key = static-secret-key
	EOF
	login "$START_URL"
	portal
	run -0 --separate-stderr "$CT" creds --profile old
	[ "$(j .source)" = sso ]
	AWS_PROFILE=old AWS_ACCESS_KEY_ID=AKIDENV AWS_SECRET_ACCESS_KEY=env-secret-key \
	    run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = env ]
	[ "$(requests)" = 1 ]
}

@test "a profile with neither sso_account_id nor sso_role_name does not use SSO (sso_start_url alone)" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	sso_start_url = $START_URL
	sso_region = us-east-1
	aws_access_key_id = AKIDSTATIC
	aws_secret_access_key = static-secret-key
	EOF
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = config-file ]
}

# ---- the token ----

@test "no cached token: run aws sso login --sso-session NAME (or --profile for the legacy form); no request" {
	config
	portal
	run -1 --separate-stderr "$CT" creds --profile dev
	[ "$stderr" = "creds_test: no IAM Identity Center (SSO) token for sso-session \"corp\" ($(cache_file corp)): run aws sso login --sso-session corp" ]
	run -1 --separate-stderr "$CT" creds --profile old
	[ "$stderr" = "creds_test: no IAM Identity Center (SSO) token for $START_URL ($(cache_file "$START_URL")): run aws sso login --profile old" ]
	[ "$(requests)" = 0 ]
}

@test "an expired token: the time it expired and run aws sso login; no request" {
	config
	portal
	# (without the refresh token beside it: see the refresh tests)
	printf '{"accessToken": "%s", "expiresAt": "%s"}\n' "$TOKEN" "$(iso -60)" | put "$(cache_file corp)"
	login "$START_URL" -1
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == "creds_test: the IAM Identity Center (SSO) token for sso-session \"corp\" expired at 20"*"Z: run aws sso login --sso-session corp" ]]
	run -1 --separate-stderr "$CT" creds --profile old
	[[ $stderr == *"token for $START_URL expired at "*": run aws sso login --profile old" ]]
	[ "$(requests)" = 0 ]
	no_secret
}

@test "the expiresAt forms: Z, an offset, a fraction, and the UTC suffix of early CLI v2 releases" {
	config
	portal
	f=$(cache_file corp)
	for e in "$(iso 600)" "$(date -u -d @$(($(date +%s) + 600)) +%Y-%m-%dT%H:%M:%S.123+00:00)" \
	    "$(date -u -d @$(($(date +%s) + 600)) +%Y-%m-%dT%H:%M:%SUTC)"; do
		printf '{"accessToken": "%s", "expiresAt": "%s"}\n' "$TOKEN" "$e" | put "$f"
		run -0 --separate-stderr "$CT" creds --profile dev
		[ "$(j .source)" = sso ]
	done
	[ "$(requests)" = 3 ]
}

@test "a malformed cache file: what is wrong, then run aws sso login; never the token" {
	config
	portal
	f=$(cache_file corp)
	mkdir -p "$(dirname "$f")"
	printf '{"accessToken": "%s"' "$TOKEN" >"$f"
	run -1 --separate-stderr "$CT" creds --profile dev
	[ "$stderr" = "creds_test: $f: file is not valid JSON: run aws sso login --sso-session corp" ]
	printf '{"expiresAt": "%s"}' "$(iso 600)" >"$f"
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *"$f: no \"accessToken\": run aws sso login --sso-session corp" ]]
	printf '{"accessToken": "%s", "expiresAt": "tomorrow"}' "$TOKEN" >"$f"
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *"$f: \"expiresAt\" is not an ISO 8601 time: run aws sso login"* ]]
	printf '{"accessToken": "%s\\r\\nX-Evil: 1", "expiresAt": "%s"}' "$TOKEN" "$(iso 600)" >"$f"
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *"\"accessToken\" holds a control character"* ]]
	chmod 000 "$f"
	if [[ ! -r $f ]]; then # (root reads it all the same)
		run -1 --separate-stderr "$CT" creds --profile dev
		[[ $stderr == *"cannot read $f: Permission denied" ]]
	fi
	[ "$(requests)" = 0 ]
	no_secret
}

@test "the token is read from \$HOME/.aws/sso/cache, whatever AWS_CONFIG_FILE says" {
	config
	mv "$HOME/.aws/config" "$T/elsewhere.config"
	export AWS_CONFIG_FILE=$T/elsewhere.config
	login corp
	portal
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = sso ]
	HOME=$T/nohome run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *"no IAM Identity Center (SSO) token for sso-session \"corp\" ($T/nohome/.aws/sso/cache/"* ]]
}

# ---- refreshing a session's token (SSO OIDC CreateToken) ----

@test "sso-session: a token within 15 minutes of expiry is refreshed with CreateToken, and the cache file rewritten" {
	config
	login corp 300
	portal
	f=$(cache_file corp)
	reg=$(jq -r .registrationExpiresAt "$f")
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = sso ]
	run jq -c '[.method, .path, .status, .bearer]' "$T/portal.log"
	[ "${lines[0]}" = '["POST","/token",200,null]' ]
	[ "${lines[1]}" = '["GET","/federation/credentials",200,"sso-refreshed-token-abcdef"]' ]
	[ "$(jq -c 'select(.path == "/token") | .grant' "$T/portal.log")" = \
	    '{"clientId":"client-id-example","clientSecret":"client-secret-example","grantType":"refresh_token","refreshToken":"refresh-token-example"}' ]
	[ "$(stat -c %a "$f")" = 600 ]
	[ "$(jq -c '[.startUrl, .region, .accessToken, .clientId, .clientSecret, .refreshToken]' "$f")" = \
	    "[\"$START_URL\",\"us-east-1\",\"sso-refreshed-token-abcdef\",\"client-id-example\",\"client-secret-example\",\"refresh-token-2\"]" ]
	[ "$(jq -r .registrationExpiresAt "$f")" = "$reg" ]
	exp=$(date -u -d "$(jq -r .expiresAt "$f")" +%s)
	now=$(date +%s)
	((exp > now + 28700 && exp <= now + 28800))
	ls -A "$(dirname "$f")" | grep -c . | grep -qx 1 # no temporary file left
	# Valid for hours now: used as it is.
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(jq -r .path "$T/portal.log" | paste -sd' ')" = "/token /federation/credentials /federation/credentials" ]
	no_secret
	[[ $output != *sso-refreshed-token-abcdef* && $stderr != *sso-refreshed-token-abcdef* ]]
}

@test "sso-session: an expired token with a refresh token is refreshed too" {
	config
	login corp -60
	portal
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = sso ]
	[ "$(jq -r .status "$T/portal.log" | paste -sd' ')" = "200 200" ]
}

@test "sso-session: a failed refresh keeps a token still valid; an expired one is the login error, with why" {
	config
	login corp 300
	portal --oidc-status 500
	before=$(cat "$(cache_file corp)")
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(jq -c '[.path, .status, .bearer]' "$T/portal.log" | paste -sd' ')" = \
	    "[\"/token\",500,null] [\"/federation/credentials\",200,\"$TOKEN\"]" ]
	[ "$(cat "$(cache_file corp)")" = "$before" ]
	login corp -60
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == "creds_test: the IAM Identity Center (SSO) token for sso-session \"corp\" expired at "*" (and refreshing it failed: IAM Identity Center (SSO) OIDC CreateToken answered HTTP 500 InternalServerException): run aws sso login --sso-session corp" ]]
	# A refused grant (an expired refresh token, say) is the same.
	kill "${PIDS[-1]}"
	portal --refresh-token other
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *"(and refreshing it failed: IAM Identity Center (SSO) OIDC CreateToken answered HTTP 400 InvalidGrantException): run aws sso login --sso-session corp" ]]
	no_secret
	[[ $stderr != *refresh-token-example* && $stderr != *client-secret-example* ]]
}

@test "no refresh: the legacy form, a file without a refresh token, an expired registration" {
	config
	portal
	login "$START_URL" 300
	run -0 --separate-stderr "$CT" creds --profile old
	printf '{"accessToken": "%s", "expiresAt": "%s", "clientId": "c", "clientSecret": "s", "registrationExpiresAt": "%s"}' \
	    "$TOKEN" "$(iso 300)" "$(iso 86400)" | put "$(cache_file corp)"
	run -0 --separate-stderr "$CT" creds --profile dev
	printf '{"accessToken": "%s", "expiresAt": "%s", "clientId": "client-id-example", "clientSecret": "client-secret-example", "refreshToken": "refresh-token-example", "registrationExpiresAt": "%s"}' \
	    "$TOKEN" "$(iso 300)" "$(iso -1)" | put "$(cache_file corp)"
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(jq -r .path "$T/portal.log" | sort -u)" = /federation/credentials ]
	[ "$(requests)" = 3 ]
}

# ---- the portal's answers ----

@test "UnauthorizedException (401): the session expired or was revoked: run aws sso login" {
	config
	login corp 3600 revoked-token-value
	login "$START_URL" 3600 revoked-token-value
	portal
	run -1 --separate-stderr "$CT" creds --profile dev
	[ "$stderr" = "creds_test: IAM Identity Center (SSO) refused the token (UnauthorizedException: Session token not found or invalid): the session has expired or is otherwise invalid: run aws sso login --sso-session corp" ]
	run -1 --separate-stderr "$CT" creds --profile old
	[[ $stderr == *"otherwise invalid: run aws sso login --profile old" ]]
	# not retried
	[ "$(requests)" = 2 ]
	[[ $stderr != *revoked-token-value* ]]
}

@test "ForbiddenException (403): no credentials for that role and account; not retried" {
	config
	sed -i 's/^sso_role_name = .*/sso_role_name = Admin Role/' "$HOME/.aws/config"
	login corp
	portal
	run -1 --separate-stderr "$CT" creds --profile dev
	[ "$stderr" = "creds_test: IAM Identity Center (SSO) gives no credentials for role \"Admin Role\" in account 123456789012 (ForbiddenException: No access): check sso_role_name and sso_account_id of profile \"dev\"" ]
	[ "$(requests)" = 1 ]
	[ "$(jq -r .role_name "$T/portal.log")" = "Admin Role" ]
}

@test "a 5xx is retried once; two are an error" {
	config
	login corp
	portal --fail-first 1
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = sso ]
	[ "$(jq -r .status "$T/portal.log" | paste -sd' ')" = "500 200" ]
	kill "${PIDS[-1]}"
	portal --fail-first 2
	run -1 --separate-stderr "$CT" creds --profile dev
	[ "$stderr" = "creds_test: IAM Identity Center (SSO) GetRoleCredentials answered HTTP 500 InternalServerException: internal" ]
	[ "$(requests)" = 2 ]
}

@test "a malformed answer is an error naming the key, never a value" {
	config
	login corp
	portal --status 200 --body '{"roleCredentials": {"accessKeyId": "ASIAX", "secretAccessKey": "leaked-secret-value", "expiration": 1893456000000}}'
	run -1 --separate-stderr "$CT" creds --profile dev
	[ "$stderr" = "creds_test: IAM Identity Center (SSO) GetRoleCredentials: no \"sessionToken\"" ]
	[[ $stderr != *leaked-secret-value* ]]
}

@test "credentials the portal hands out already expired are refused" {
	config
	login corp
	portal --expires-in -10
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == "creds_test: credentials from sso expired at 20"* ]]
}

@test "nothing answering: a transport error, tried twice" {
	config
	login corp
	export AWS_ENDPOINT_URL_SSO=$KP_DEAD_ENDPOINT
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == "creds_test: IAM Identity Center (SSO) GetRoleCredentials: "* ]]
}

# ---- configuration ----

@test "configuration errors: missing keys, a session without its section, values that differ" {
	put "$HOME/.aws/config" <<-EOF
	[profile half]
	sso_role_name = R
	sso_region = us-east-1
	[profile nosection]
	sso_session = ghost
	sso_account_id = 1
	sso_role_name = R
	[profile clash]
	sso_session = corp
	sso_account_id = 1
	sso_role_name = R
	sso_start_url = https://other.awsapps.com/start
	[sso-session corp]
	sso_start_url = $START_URL
	sso_region = us-east-1
	EOF
	run -1 --separate-stderr "$CT" creds --profile half
	[ "$stderr" = 'creds_test: profile "half" is configured for IAM Identity Center (SSO) but is missing sso_account_id, sso_start_url' ]
	run -1 --separate-stderr "$CT" creds --profile nosection
	[ "$stderr" = "creds_test: profile \"nosection\": sso_session \"ghost\" has no [sso-session ghost] section in $HOME/.aws/config" ]
	run -1 --separate-stderr "$CT" creds --profile clash
	[ "$stderr" = "creds_test: profile \"clash\": sso_start_url is \"https://other.awsapps.com/start\" in the profile but \"$START_URL\" in [sso-session corp] of $HOME/.aws/config: they must be the same" ]
}

@test "the endpoint: a [services] section's sso endpoint_url; a tool's --endpoint-url is not the portal's" {
	login corp
	portal
	url=$AWS_ENDPOINT_URL_SSO
	unset AWS_ENDPOINT_URL_SSO AWS_ENDPOINT_URL
	put "$HOME/.aws/config" <<-EOF
	[profile dev]
	sso_session = corp
	sso_account_id = 123456789012
	sso_role_name = KinpipeWriter
	services = local
	[sso-session corp]
	sso_start_url = $START_URL
	sso_region = us-east-1
	[services local]
	sso =
	  endpoint_url = $url
	EOF
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = sso ]
	[ "$(requests)" = 1 ]
	# Without it, the portal would be https://portal.sso.us-east-1.amazonaws.com:
	# AWS_ENDPOINT_URL (a dead loopback port here) comes first.
	sed -i '/^services = local$/d' "$HOME/.aws/config"
	export AWS_ENDPOINT_URL=$KP_DEAD_ENDPOINT
	run -1 --separate-stderr "$CT" creds --profile dev --endpoint-url "$url"
	[[ $stderr == "creds_test: IAM Identity Center (SSO) GetRoleCredentials: "* ]]
	[ "$(requests)" = 1 ]
}

# ---- refresh ----

@test "refresh: cached until 5 minutes before expiration, then GetRoleCredentials again" {
	config
	login corp
	portal --numbered --expires-in 400
	now=$(date +%s)
	run -0 --separate-stderr "$CT" get --profile dev "$now" $((now + 50)) $((now + 150))
	[ "$(jq -rs 'map(.access_key_id) | join(",")' <<<"$output")" = ASIASSOEXAMPLE1,ASIASSOEXAMPLE1,ASIASSOEXAMPLE2 ]
	[ "$(jq -rs 'map(.resolutions) | join(",")' <<<"$output")" = 1,1,2 ]
	[ "$(requests)" = 2 ]
}

@test "refresh: a token refused since keeps the cached credentials, with a warning saying to log in" {
	config
	login corp
	portal --numbered --expires-in 400 --revoke-after 1
	now=$(date +%s)
	run -0 --separate-stderr "$CT" get --profile dev "$now" $((now + 150)) $((now + 160))
	[ "$(jq -rs 'map(.access_key_id) | join(",")' <<<"$output")" = ASIASSOEXAMPLE1,ASIASSOEXAMPLE1,ASIASSOEXAMPLE1 ]
	[[ $stderr == "creds_test: cannot refresh AWS credentials (IAM Identity Center (SSO) refused the token (UnauthorizedException: Session token not found or invalid): the session has expired or is otherwise invalid: run aws sso login --sso-session corp); using the cached ones until they expire" ]]
	# (not tried again within 30 s)
	[ "$(jq -r .status "$T/portal.log" | paste -sd' ')" = "200 401" ]
}

# ---- the tools ----

# kpa ARG...: kp_admin with the local stack's own keys.
kpa() {
	env "${ADMIN_KEYS[@]}" "$KP_NODE" "$KP_ROOT/pipelines/lib/kp-admin.js" "$@"
}

# vproxy NAME UPSTREAM: a SigV4-verifying proxy in front of UPSTREAM that
# knows only the portal's secret and session token; sets VP.
vproxy() {
	KP_SSO_SECRET=$SSO_SECRET KP_SSO_TOKEN=$SSO_SESSION_TOKEN \
	    "$KP_NODE" "$FP" --verify-sigv4 --secret-env KP_SSO_SECRET --token-env KP_SSO_TOKEN \
	    --upstream "$2" --port-file "$T/$1.port" --log "$T/$1.log" \
	    >"$T/$1.out" 2>"$T/$1.err" 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/$1.port"
	VP=http://127.0.0.1:$(cat "$T/$1.port")
}

# all_ok LOG: every request the proxy saw was signed right.
all_ok() {
	[[ -s $1 ]] || { echo "$1: no request reached the proxy" >&2; return 1; }
	[ "$(jq -r .sigv4 "$1" | sort -u)" = ok ] || { cat "$1" "${1%.log}.err" >&2; return 1; }
}

@test "kin-put and kin-read with an sso-session profile: signed with the role's credentials" {
	config
	login corp
	portal
	s=$(kp_unique_name sso)
	kpa create-stream "$s" 1 >/dev/null
	vproxy k "$KP_KINESALITE_ENDPOINT"
	AWS_ENDPOINT_URL_KINESIS=$VP run -0 --separate-stderr kin-put --profile dev --stream "$s" <"$BATS_FILE_TMPDIR/300.ndjson"
	AWS_ENDPOINT_URL_KINESIS=$VP AWS_PROFILE=dev run -0 --separate-stderr kin-read --stream "$s"
	[ "${#lines[@]}" -eq 300 ]
	all_ok "$T/k.log"
	[ "$(jq -sc 'map(.sigv4_signed | index("x-amz-security-token") != null) | unique' "$T/k.log")" = '[true]' ]
	[ "$(requests)" = 2 ] # one per tool
	no_secret
}

@test "s3-put with a legacy SSO profile: signed with the role's credentials" {
	config
	login "$START_URL"
	# s3rver knows one access key id
	portal --akid S3RVER
	b=$(kp_unique_name sso)
	kpa create-bucket "$b" >/dev/null
	vproxy s "$KP_S3RVER_ENDPOINT"
	AWS_ENDPOINT_URL_S3=$VP run -0 --separate-stderr s3-put --profile old --bucket-format '' --run-id r1 "s3://$b/sso/" <"$BATS_FILE_TMPDIR/300.ndjson"
	all_ok "$T/s.log"
	kpa get-object "$b" sso/part-r1-0.json >"$T/got"
	cmp "$BATS_FILE_TMPDIR/300.ndjson" "$T/got"
	[ "$(requests)" = 1 ]
}

@test "the tools: no token, or an expired one, is a configuration error (exit 2) saying to log in" {
	config
	portal
	s=$(kp_unique_name sso)
	AWS_ENDPOINT_URL_KINESIS=$KP_KINESALITE_ENDPOINT run -2 --separate-stderr kin-put --profile dev --stream "$s" </dev/null
	[ "$stderr" = "kin-put: no IAM Identity Center (SSO) token for sso-session \"corp\" ($(cache_file corp)): run aws sso login --sso-session corp" ]
	login "$START_URL" -5
	AWS_ENDPOINT_URL_S3=$KP_S3RVER_ENDPOINT run -2 --separate-stderr s3-put --profile old "s3://$s/x/" </dev/null
	# (s3-put follows every configuration error with its usage line)
	[[ ${stderr%%$'\n'*} == "s3-put: the IAM Identity Center (SSO) token for $START_URL expired at "*": run aws sso login --profile old" ]]
	AWS_ENDPOINT_URL_KINESIS=$KP_KINESALITE_ENDPOINT AWS_PROFILE=old run -2 --separate-stderr kin-read --stream "$s"
	[[ $stderr == *"run aws sso login --profile old" ]]
	[ "$(requests)" = 0 ]
}

@test "kin-put refreshes SSO credentials that near their expiration while it runs" {
	config
	login corp
	# Credentials valid for 302 s are due for refresh (5 minutes ahead) 2 s on.
	portal --numbered --expires-in 302
	s=$(kp_unique_name ssor)
	kpa create-stream "$s" 1 >/dev/null
	vproxy k "$KP_KINESALITE_ENDPOINT"
	AWS_ENDPOINT_URL_KINESIS=$VP run -0 --separate-stderr kin-put -vv --profile dev --stream "$s" \
	    < <(head -n 1 "$BATS_FILE_TMPDIR/300.ndjson"; sleep 4; sed -n 2p "$BATS_FILE_TMPDIR/300.ndjson")
	[ "$(requests)" = 2 ]
	[ "$(grep -c 'credentials: using sso' <<<"$stderr")" = 2 ]
	all_ok "$T/k.log"
	[ "$(jq -r 'select(.target == "PutRecords") | .stored' "$T/k.log" | paste -sd' ')" = "1 1" ]
	no_secret
}

@test "a role whose source_profile is an SSO profile: AssumeRole signed with the SSO role's credentials" {
	config
	cat >>"$HOME/.aws/config" <<-EOF
	[profile ops]
	role_arn = arn:aws:iam::123456789012:role/kinpipe-ops
	source_profile = dev
	EOF
	login corp
	portal
	: >"$T/sts.log"
	python3 "$KP_ROOT/tests/lib/sts_server.py" --port-file "$T/sts.port" \
	    --log "$T/sts.log" </dev/null >"$T/sts.out" 2>&1 3>&- &
	PIDS+=($!)
	kp_wait_file "$T/sts.port"
	export AWS_ENDPOINT_URL_STS=http://127.0.0.1:$(cat "$T/sts.port")
	run -0 --separate-stderr "$CT" creds --profile ops
	[ "$(j .source)" = assume-role ]
	[ "$(j .access_key_id)" = ASIASTS1 ]
	[ "$(requests)" = 1 ]
	[ "$(wc -l <"$T/sts.log")" = 1 ]
	# signed with the SSO role's session
	[ "$(jq -r .security_token "$T/sts.log")" = "$SSO_SESSION_TOKEN" ]
	[[ $(jq -r .scope "$T/sts.log") == */us-east-1/sts/aws4_request ]]
	[ "$(jq -r .form.RoleArn "$T/sts.log")" = arn:aws:iam::123456789012:role/kinpipe-ops ]
	no_secret
}

@test "an https portal: checked against the tool's --ca-bundle, else AWS_CA_BUNDLE; --no-verify-ssl; a self-signed one refused" {
	command -v openssl >/dev/null || skip "openssl not installed"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k.pem" -out "$T/c.pem" \
	    -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	config
	login corp
	portal --tls "$T/c.pem" "$T/k.pem"
	export AWS_ENDPOINT_URL_SSO=https://127.0.0.1:$(cat "$T/portal.port")
	s=$(kp_unique_name ssotls)
	kpa create-stream "$s" 1 >/dev/null
	export AWS_ENDPOINT_URL_KINESIS=$KP_KINESALITE_ENDPOINT
	head -n 3 "$BATS_FILE_TMPDIR/300.ndjson" >"$T/in"
	# The system's CAs do not know it: a credentials error, exit 2.
	run -2 --separate-stderr kin-put --profile dev --stream "$s" <"$T/in"
	[[ $stderr == *"certificate"* ]]
	[ "$(requests)" = 0 ]
	run -0 --separate-stderr kin-put --profile dev --ca-bundle "$T/c.pem" --stream "$s" <"$T/in"
	AWS_CA_BUNDLE=$T/c.pem run -0 --separate-stderr kin-put --profile dev --stream "$s" <"$T/in"
	run -0 --separate-stderr kin-put --profile dev --no-verify-ssl --stream "$s" <"$T/in"
	[[ $stderr == *"--no-verify-ssl"* ]]
	[ "$(requests)" = 3 ]
	AWS_PROFILE=dev run -0 --separate-stderr kin-read --ca-bundle "$T/c.pem" --stream "$s"
	[ "${#lines[@]}" -eq 9 ]
	no_secret
}
