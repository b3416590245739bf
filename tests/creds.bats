#!/usr/bin/env bats
# The credentials chain (common/creds.c and its providers, common/creds_*.c)
# and the shared config, region, endpoint and TLS rules (common/awsconf.c),
# through tests/c/creds_test.c.
#
# Every test runs with HOME in its own temporary folder, every AWS_*
# variable cleared, AWS_EC2_METADATA_DISABLED=true and the IMDS endpoint on
# a closed loopback port; the container and IMDS tests talk to
# tests/lib/metadata_server.py on 127.0.0.1.  No request can reach
# 169.254.169.254, 169.254.170.2 or any other non-loopback address.

bats_require_minimum_version 1.5.0

KP_ROOT=${KP_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
if [ -f "$BATS_TEST_DIRNAME/helpers.bash" ]; then
	load helpers
fi

SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
EXP=1893456000 # 2030-01-01T00:00:00Z

setup() {
	local b=${KP_BUILD:-build} v
	case $b in /*) ;; *) b=$KP_ROOT/$b ;; esac
	CT=$b/tests/creds_test
	if [ ! -x "$CT" ]; then
		echo "missing $CT: run make" >&2
		return 1
	fi
	for v in $(compgen -e); do
		case $v in AWS_*) unset "$v" ;; esac
	done
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
	T=$BATS_TEST_TMPDIR
	export HOME=$T/home
	mkdir -p "$HOME"
	export AWS_EC2_METADATA_DISABLED=true
	# Even a test that re-enables IMDS and forgets the endpoint stays local.
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9
	SERVER_PID=
}

teardown() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
}

# put FILE: stdin into FILE, creating its folder.
put() {
	mkdir -p "$(dirname "$1")"
	cat >"$1"
}

# start_server [ARGS]: the metadata server on a free loopback port; sets
# PORT, BASE and LOG.
start_server() {
	local i
	LOG=$T/requests.log
	: >"$LOG"
	python3 "$KP_ROOT/tests/lib/metadata_server.py" --port-file "$T/port" \
	    --log "$LOG" "$@" </dev/null >"$T/server.out" 2>&1 3>&- &
	SERVER_PID=$!
	for ((i = 0; i < 400; i++)); do
		[ -s "$T/port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$T/port")
	[ -n "$PORT" ]
	BASE=http://127.0.0.1:$PORT
}

# j FILTER: jq -r FILTER on $output.
j() {
	jq -r "$1" <<<"$output"
}

sha() {
	printf '%s' "$1" | sha256sum | cut -d' ' -f1
}

# no_secret S...: none of the strings appears in stdout or stderr.
no_secret() {
	local s
	for s in "$@"; do
		[[ $output != *"$s"* ]]
		[[ ${stderr:-} != *"$s"* ]]
	done
}

# A credential_process script printing the given JSON body and counting
# its runs in $T/count.
proc_script() {
	put "$T/proc.sh" <<EOF
#!/bin/sh
n=\$(cat "$T/count" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$T/count"
cat <<'JSON'
$1
JSON
EOF
	chmod +x "$T/proc.sh"
}

PROC_JSON='{"Version": 1, "AccessKeyId": "ASIAPROCEXAMPLE", "SecretAccessKey": "proc-secret-key", "SessionToken": "proc-session-token", "Expiration": "2030-01-01T00:00:00Z"}'

# ---- environment ----

@test "env: keys and token from the environment, quietly" {
	export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET
	export AWS_SESSION_TOKEN=env-session-token
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = env ]
	[ "$(j .access_key_id)" = AKIDEXAMPLE ]
	[ "$(j .secret_sha256)" = "$(sha "$SECRET")" ]
	[ "$(j .secret_len)" = ${#SECRET} ]
	[ "$(j .token)" = true ]
	[ "$(j .token_sha256)" = "$(sha env-session-token)" ]
	[ "$(j .expiration)" = 0 ]
	[ "$(j .profile)" = default ]
	[ -z "$stderr" ]
	no_secret "$SECRET" env-session-token
}

@test "env: without AWS_SESSION_TOKEN there is no token" {
	export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET
	run -0 --separate-stderr "$CT" creds
	[ "$(j .token)" = false ]
	[ "$(j .token_sha256)" = null ]
}

@test "env: a key id without a secret is an error naming the missing variable" {
	export AWS_ACCESS_KEY_ID=AKIDEXAMPLE
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"partial credentials in the environment"* ]]
	[[ $stderr == *"AWS_SECRET_ACCESS_KEY is not set"* ]]
	[ -z "$output" ]
}

@test "env: a secret without a key id is an error too" {
	export AWS_SECRET_ACCESS_KEY=$SECRET
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"AWS_ACCESS_KEY_ID is not set"* ]]
	no_secret "$SECRET"
}

@test "env: beats the shared credentials file; empty variables count as unset" {
	put "$HOME/.aws/credentials" <<-EOF
	[default]
	aws_access_key_id = AKIDFILE
	aws_secret_access_key = file-secret
	EOF
	export AWS_ACCESS_KEY_ID=AKIDENV AWS_SECRET_ACCESS_KEY=$SECRET
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = env ]
	[ "$(j .access_key_id)" = AKIDENV ]
	export AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = shared-credentials-file ]
}

# ---- shared credentials file ----

@test "credentials file: default profile from ~/.aws/credentials" {
	put "$HOME/.aws/credentials" <<-EOF
	[default]
	aws_access_key_id = AKIDFILE
	aws_secret_access_key = $SECRET
	aws_session_token = file-token
	EOF
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = shared-credentials-file ]
	[ "$(j .access_key_id)" = AKIDFILE ]
	[ "$(j .secret_sha256)" = "$(sha "$SECRET")" ]
	[ "$(j .token_sha256)" = "$(sha file-token)" ]
	[ -z "$stderr" ]
	no_secret "$SECRET" file-token
}

@test "credentials file: AWS_SHARED_CREDENTIALS_FILE replaces ~/.aws/credentials" {
	put "$HOME/.aws/credentials" <<-EOF
	[default]
	aws_access_key_id = AKIDHOME
	aws_secret_access_key = home-secret
	EOF
	put "$T/other/creds" <<-EOF
	[default]
	aws_access_key_id = AKIDOTHER
	aws_secret_access_key = other-secret
	EOF
	export AWS_SHARED_CREDENTIALS_FILE=$T/other/creds
	run -0 --separate-stderr "$CT" creds
	[ "$(j .access_key_id)" = AKIDOTHER ]
	# A "~/" in the variable is the temporary HOME.
	export AWS_SHARED_CREDENTIALS_FILE='~/.aws/credentials'
	run -0 --separate-stderr "$CT" creds
	[ "$(j .access_key_id)" = AKIDHOME ]
}

@test "profile: --profile beats AWS_PROFILE, which beats default" {
	put "$HOME/.aws/credentials" <<-EOF
	[default]
	aws_access_key_id = AKIDDEFAULT
	aws_secret_access_key = s1
	[envprof]
	aws_access_key_id = AKIDENVPROF
	aws_secret_access_key = s2
	[argprof]
	aws_access_key_id = AKIDARGPROF
	aws_secret_access_key = s3
	EOF
	run -0 --separate-stderr "$CT" creds
	[ "$(j .access_key_id)" = AKIDDEFAULT ]
	export AWS_PROFILE=envprof
	run -0 --separate-stderr "$CT" creds
	[ "$(j .access_key_id)" = AKIDENVPROF ]
	[ "$(j .profile)" = envprof ]
	run -0 --separate-stderr "$CT" creds --profile argprof
	[ "$(j .access_key_id)" = AKIDARGPROF ]
	[ "$(j .profile)" = argprof ]
}

@test "profile: --profile beats credentials in the environment; AWS_PROFILE does not" {
	put "$HOME/.aws/credentials" <<-EOF
	[argprof]
	aws_access_key_id = AKIDARGPROF
	aws_secret_access_key = s3
	EOF
	export AWS_ACCESS_KEY_ID=AKIDENV AWS_SECRET_ACCESS_KEY=$SECRET
	run -0 --separate-stderr "$CT" creds --profile argprof
	[ "$(j .access_key_id)" = AKIDARGPROF ]
	[ "$(j .source)" = shared-credentials-file ]
	export AWS_PROFILE=argprof
	run -0 --separate-stderr "$CT" creds
	[ "$(j .access_key_id)" = AKIDENV ]
	[ "$(j .source)" = env ]
}

@test "profile: a named profile in neither file is a configuration error" {
	put "$HOME/.aws/credentials" <<-EOF
	[default]
	aws_access_key_id = AKIDDEFAULT
	aws_secret_access_key = $SECRET
	EOF
	run -2 --separate-stderr "$CT" creds --profile nosuch
	[[ $stderr == *'profile "nosuch" not found in '"$HOME/.aws/config or $HOME/.aws/credentials"* ]]
	export AWS_PROFILE=alsonot
	run -2 --separate-stderr "$CT" config --region us-east-1
	[[ $stderr == *'profile "alsonot" not found'* ]]
	no_secret "$SECRET"
}

@test "profile: the default profile may be absent" {
	export AWS_REGION=eu-west-1
	run -0 --separate-stderr "$CT" config
	[ "$(j .profile)" = default ]
	[ "$(j .region)" = eu-west-1 ]
}

@test "credentials file: [profile x] there is not profile x" {
	put "$HOME/.aws/credentials" <<-EOF
	[profile dev]
	aws_access_key_id = AKIDWRONG
	aws_secret_access_key = $SECRET
	EOF
	run -2 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *'profile "dev" not found'* ]]
}

@test "credentials file: partial keys are an error naming the file, not the secret" {
	put "$HOME/.aws/credentials" <<-EOF
	[default]
	aws_secret_access_key = $SECRET
	EOF
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"partial credentials in profile \"default\" of $HOME/.aws/credentials"* ]]
	[[ $stderr == *"aws_access_key_id is not set"* ]]
	no_secret "$SECRET"
}

@test "credentials file: beats the config file for the same profile" {
	put "$HOME/.aws/credentials" <<-EOF
	[dev]
	aws_access_key_id = AKIDCREDFILE
	aws_secret_access_key = s1
	EOF
	put "$HOME/.aws/config" <<-EOF
	[profile dev]
	aws_access_key_id = AKIDCONFFILE
	aws_secret_access_key = s2
	EOF
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = shared-credentials-file ]
	[ "$(j .access_key_id)" = AKIDCREDFILE ]
}

# ---- config file ----

@test "config file: keys of [profile x] (AWS_CONFIG_FILE names the file)" {
	put "$T/conf/config" <<-EOF
	[profile dev]
	aws_access_key_id = AKIDCONF
	aws_secret_access_key = $SECRET
	region = ap-southeast-2
	EOF
	export AWS_CONFIG_FILE=$T/conf/config
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .source)" = config-file ]
	[ "$(j .access_key_id)" = AKIDCONF ]
	[ "$(j .token)" = false ]
	run -0 --separate-stderr "$CT" config --profile dev
	[ "$(j .region)" = ap-southeast-2 ]
	[ "$(j .region_source)" = profile ]
	no_secret "$SECRET"
}

@test "config file: [x] without the profile prefix is not profile x" {
	put "$HOME/.aws/config" <<-EOF
	[dev]
	region = eu-west-1
	EOF
	run -2 --separate-stderr "$CT" config --profile dev
	[[ $stderr == *'profile "dev" not found'* ]]
}

@test "config file: [default] works, and [profile default] wins over it" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	region = us-west-1
	EOF
	run -0 --separate-stderr "$CT" config
	[ "$(j .region)" = us-west-1 ]
	put "$HOME/.aws/config" <<-EOF
	[default]
	region = us-west-1
	[profile default]
	region = us-west-2
	EOF
	run -0 --separate-stderr "$CT" config
	[ "$(j .region)" = us-west-2 ]
}

@test "config file: comments, blanks, CRLF, odd spacing and sub-sections are tolerated" {
	mkdir -p "$HOME/.aws"
	printf '%s\r\n' \
	    '# a comment' \
	    '; another comment' \
	    '' \
	    '[default]' \
	    'region = eu-north-1' \
	    '' \
	    '[ profile   dev ]   # trailing comment' \
	    '  ; indented comment' \
	    'REGION=eu-central-1   # inline comment' \
	    's3 =' \
	    '    addressing_style = path' \
	    '    max_concurrent_requests = 20' \
	    '' \
	    'aws_access_key_id	=	AKIDTABS' \
	    'aws_secret_access_key = has#hash;semi' \
	    'output = json' >"$HOME/.aws/config"
	run -0 --separate-stderr "$CT" config --profile dev
	[ "$(j .region)" = eu-central-1 ]
	[ "$(j .s3_addressing_style)" = path ]
	run -0 --separate-stderr "$CT" creds --profile dev
	[ "$(j .access_key_id)" = AKIDTABS ]
	# A '#' or ';' not after a blank is part of the value.
	[ "$(j .secret_sha256)" = "$(sha 'has#hash;semi')" ]
	run -0 --separate-stderr "$CT" config
	[ "$(j .region)" = eu-north-1 ]
}

@test "config file: a line that is not key = value is an error with file and line, not the text" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	region = us-east-1
	aws_secret_access_key $SECRET
	EOF
	export AWS_ACCESS_KEY_ID=AKIDENV AWS_SECRET_ACCESS_KEY=x
	run -2 --separate-stderr "$CT" creds
	[[ $stderr == *"$HOME/.aws/config:3: expected 'key = value'"* ]]
	no_secret "$SECRET"
	run -2 --separate-stderr "$CT" config
	[[ $stderr == *"$HOME/.aws/config:3:"* ]]
}

@test "config file: other malformed files" {
	printf 'region = us-east-1\n' >"$T/c1"
	printf '[default\nregion = us-east-1\n' >"$T/c2"
	printf '[default]\ns3 =\n  not a pair\n' >"$T/c3"
	printf '[]\n' >"$T/c4"
	export AWS_REGION=us-east-1
	AWS_CONFIG_FILE=$T/c1 run -2 --separate-stderr "$CT" config
	[[ $stderr == *"$T/c1:1: property before any [section]"* ]]
	AWS_CONFIG_FILE=$T/c2 run -2 --separate-stderr "$CT" config
	[[ $stderr == *"$T/c2:1: section header without ']'"* ]]
	AWS_CONFIG_FILE=$T/c3 run -2 --separate-stderr "$CT" config
	[[ $stderr == *"$T/c3:3: expected 'key = value' in a sub-property"* ]]
	AWS_CONFIG_FILE=$T/c4 run -2 --separate-stderr "$CT" config
	[[ $stderr == *"$T/c4:1: empty section name"* ]]
}

@test "config file: an unreadable file is an error, a missing one is not" {
	mkdir -p "$T/dir.config"
	export AWS_REGION=us-east-1
	AWS_CONFIG_FILE=$T/missing run -0 --separate-stderr "$CT" config
	AWS_CONFIG_FILE=$T/dir.config run -2 --separate-stderr "$CT" config
	[[ $stderr == *"$T/dir.config"* ]]
}

# ---- credential_process ----

@test "credential_process: Version 1 output with token and expiration" {
	proc_script "$PROC_JSON"
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = credential-process ]
	[ "$(j .access_key_id)" = ASIAPROCEXAMPLE ]
	[ "$(j .secret_sha256)" = "$(sha proc-secret-key)" ]
	[ "$(j .token_sha256)" = "$(sha proc-session-token)" ]
	[ "$(j .expiration)" = $EXP ]
	[ "$(cat "$T/count")" = 1 ]
	[ -z "$stderr" ]
	no_secret proc-secret-key proc-session-token
}

@test "credential_process: runs through /bin/sh -c, with stdin from /dev/null" {
	put "$T/args.sh" <<-EOF
	#!/bin/sh
	# Reading stdin must see EOF, not the tool's input.
	if read -r line; then echo "stdin leaked: \$line" >&2; exit 9; fi
	[ "\$1" = one ] && [ "\$2" = "two words" ] || exit 8
	echo '{"Version": 1, "AccessKeyId": "AKIDARGS", "SecretAccessKey": "s"}'
	EOF
	chmod +x "$T/args.sh"
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/args.sh one 'two words'
	EOF
	run -0 --separate-stderr "$CT" creds <<<"record-on-stdin"
	[ "$(j .access_key_id)" = AKIDARGS ]
	[ "$(j .token)" = false ]
	[ "$(j .expiration)" = 0 ]
}

@test "credential_process: static keys of the profile come first" {
	proc_script "$PROC_JSON"
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	aws_access_key_id = AKIDSTATIC
	aws_secret_access_key = s
	EOF
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = config-file ]
	[ ! -e "$T/count" ]
}

@test "credential_process: in the credentials file too (the CLI merges both files)" {
	proc_script "$PROC_JSON"
	put "$HOME/.aws/credentials" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = credential-process ]
}

@test "credential_process: Version other than 1, or none, is an error" {
	proc_script '{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "proc-secret-key"}'
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'credential_process of profile "default": unsupported "Version" 2, expected 1'* ]]
	no_secret proc-secret-key
	proc_script '{"AccessKeyId": "A", "SecretAccessKey": "proc-secret-key"}'
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'no "Version" in the output'* ]]
	proc_script '{"Version": "1", "AccessKeyId": "A", "SecretAccessKey": "proc-secret-key"}'
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'unsupported "Version"'* ]]
}

@test "credential_process: non-zero exit is an error; its stderr passes through" {
	put "$T/fail.sh" <<-'EOF'
	#!/bin/sh
	echo "helper: token expired, run sso login" >&2
	echo '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "proc-secret-key"}'
	exit 3
	EOF
	chmod +x "$T/fail.sh"
	put "$HOME/.aws/config" <<-EOF
	[profile dev]
	credential_process = $T/fail.sh
	EOF
	run -1 --separate-stderr "$CT" creds --profile dev
	[[ $stderr == *"helper: token expired, run sso login"* ]]
	[[ $stderr == *'credential_process of profile "dev" exited with status 3'* ]]
	no_secret proc-secret-key
}

@test "credential_process: bad JSON, missing keys, bad expiration, huge output" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	proc_script 'AccessKeyId=proc-secret-key'
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"response is not valid JSON"* ]]
	proc_script '{"Version": 1, "AccessKeyId": "A"}'
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'missing "SecretAccessKey"'* ]]
	proc_script '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "proc-secret-key", "Expiration": "tomorrow"}'
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'"Expiration" is not an ISO 8601 time'* ]]
	proc_script '[1, 2]'
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"not a JSON object"* ]]
	proc_script '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s"} trailing'
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"text after the JSON object"* ]]
	put "$T/big.sh" <<-'EOF'
	#!/bin/sh
	head -c 200000 /dev/zero | tr '\0' ' '
	EOF
	chmod +x "$T/big.sh"
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/big.sh
	EOF
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"more than 65536 bytes of output"* ]]
	no_secret proc-secret-key
}

@test "credential_process: credentials already expired are an error" {
	proc_script '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s", "Expiration": "2001-02-03T04:05:06Z"}'
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"credentials from credential-process expired at 2001-02-03T04:05:06Z"* ]]
}

# ---- caching and refresh ----

@test "refresh: cached until 5 minutes before expiration, then resolved again" {
	proc_script "$PROC_JSON"
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	run -0 --separate-stderr "$CT" get $((EXP - 3600)) $((EXP - 1800)) $((EXP - 301))
	[ "$(cat "$T/count")" = 1 ]
	[ "$(jq -rs 'map(.resolutions) | join(",")' <<<"$output")" = 1,1,1 ]
	rm -f "$T/count"
	run -0 --separate-stderr "$CT" get $((EXP - 3600)) $((EXP - 300)) $((EXP - 299)) $((EXP - 10))
	[ "$(jq -rs 'map(.resolutions) | join(",")' <<<"$output")" = 1,2,3,4 ]
	[ "$(cat "$T/count")" = 4 ]
	[ "$(jq -rs 'map(.source) | unique | join(",")' <<<"$output")" = credential-process ]
}

@test "refresh: credentials without expiration are never refreshed" {
	export AWS_ACCESS_KEY_ID=AKIDENV AWS_SECRET_ACCESS_KEY=$SECRET
	run -0 --separate-stderr "$CT" get 1 $EXP $((EXP * 2))
	[ "$(jq -rs 'map(.resolutions) | join(",")' <<<"$output")" = 1,1,1 ]
}

@test "refresh: creds_invalidate forces a new resolution" {
	proc_script "$PROC_JSON"
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	run -0 --separate-stderr "$CT" get $((EXP - 3600)) invalidate $((EXP - 3600)) $((EXP - 3500))
	[ "$(jq -rs 'map(.resolutions) | join(",")' <<<"$output")" = 1,2,2 ]
	[ "$(cat "$T/count")" = 2 ]
}

@test "refresh: a failed refresh keeps still-valid credentials with a warning, not expired ones" {
	put "$T/proc.sh" <<-EOF
	#!/bin/sh
	n=\$(cat "$T/count" 2>/dev/null || echo 0)
	echo \$((n + 1)) >"$T/count"
	[ "\$n" -ge 1 ] && { echo "helper down" >&2; exit 4; }
	echo '$PROC_JSON'
	EOF
	chmod +x "$T/proc.sh"
	put "$HOME/.aws/config" <<-EOF
	[default]
	credential_process = $T/proc.sh
	EOF
	run -1 --separate-stderr "$CT" get $((EXP - 3600)) $((EXP - 100)) $((EXP - 90)) $((EXP + 1))
	[ "$(jq -rs 'map(.access_key_id) | join(",")' <<<"$output")" = ASIAPROCEXAMPLE,ASIAPROCEXAMPLE,ASIAPROCEXAMPLE ]
	[[ $stderr == *"cannot refresh AWS credentials"*"exited with status 4"*"using the cached ones until they expire"* ]]
	# The failed refresh is not retried at once (EXP-90), but is at EXP+1.
	[ "$(cat "$T/count")" = 3 ]
	[[ $stderr == *"creds_test: credential_process of profile \"default\" exited with status 4" ]]
	no_secret proc-secret-key proc-session-token
}

# ---- container endpoint ----

@test "container: FULL_URI on loopback with AWS_CONTAINER_AUTHORIZATION_TOKEN" {
	start_server --ecs-auth container-auth-token --akid ASIAECS --secret ecs-secret --token ecs-token --expiration 2030-01-01T01:00:00.123Z
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$BASE/ecs/credentials
	export AWS_CONTAINER_AUTHORIZATION_TOKEN=container-auth-token
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = container ]
	[ "$(j .access_key_id)" = ASIAECS ]
	[ "$(j .secret_sha256)" = "$(sha ecs-secret)" ]
	[ "$(j .token_sha256)" = "$(sha ecs-token)" ]
	[ "$(j .expiration)" = $((EXP + 3600)) ]
	[ -z "$stderr" ]
	[ "$(jq -r '[.method, .path, .authorization, .status] | join(" ")' "$LOG")" = "GET /ecs/credentials container-auth-token 200" ]
	no_secret ecs-secret ecs-token container-auth-token
}

@test "container: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over the variable" {
	start_server --ecs-auth from-file-token
	printf 'from-file-token\n' >"$T/token"
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$BASE/ecs/credentials
	export AWS_CONTAINER_AUTHORIZATION_TOKEN=from-variable
	export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$T/token
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = container ]
	[ "$(jq -r .authorization "$LOG")" = from-file-token ]
	rm "$T/token"
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE $T/token"* ]]
}

@test "container: a refused token is an error that does not show the token" {
	start_server --ecs-auth right-token
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$BASE/ecs/credentials
	export AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong-token
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) answered HTTP 401"* ]]
	no_secret wrong-token right-token
}

@test "container: a 5xx is retried once, then an error" {
	start_server --ecs-status 500
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$BASE/ecs/credentials
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"answered HTTP 500"* ]]
	[ "$(wc -l <"$LOG")" -eq 2 ]
}

@test "container: an error document and a malformed body are errors" {
	start_server --ecs-body '{"code": "ThrottlingException", "message": "slow down"}'
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$BASE/ecs/credentials
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'error code "ThrottlingException"'* ]]
}

@test "container: a body over 64 KiB is refused, without its content" {
	start_server --ecs-body "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"big-secret\", \"Pad\": \"$(head -c 70000 /dev/zero | tr '\0' x)\"}"
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$BASE/ecs/credentials
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI): response too large"* ]]
	no_secret big-secret
}

@test "container: an http FULL_URI must name a loopback, ECS or EKS host" {
	local u
	for u in http://10.1.2.3/creds http://example.com/creds http://127.0.0.1.example.com/x; do
		AWS_CONTAINER_CREDENTIALS_FULL_URI=$u run -1 --separate-stderr "$CT" creds
		[[ $stderr == *"AWS_CONTAINER_CREDENTIALS_FULL_URI must be https"* ]]
		AWS_CONTAINER_CREDENTIALS_FULL_URI=$u run -2 --separate-stderr "$CT" container-url
	done
	for u in http://127.0.0.1:1/x http://127.1.2.3/x http://localhost:8/x 'http://[::1]:8/x' \
	    http://169.254.170.2/x http://169.254.170.23/x 'http://[fd00:ec2::23]/x' https://creds.example.com/x; do
		AWS_CONTAINER_CREDENTIALS_FULL_URI=$u run -0 --separate-stderr "$CT" container-url
		[ "$(j .url)" = "$u" ]
	done
}

@test "container: RELATIVE_URI is on 169.254.170.2 and wins over FULL_URI (no request made)" {
	export AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/0123-abcd
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/x
	run -0 --separate-stderr "$CT" container-url
	[ "$(j .url)" = http://169.254.170.2/v2/credentials/0123-abcd ]
	unset AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
	run -0 --separate-stderr "$CT" container-url
	[ "$(j .url)" = http://127.0.0.1:1/x ]
	unset AWS_CONTAINER_CREDENTIALS_FULL_URI
	run -0 --separate-stderr "$CT" container-url
	[ "$(j .url)" = null ]
}

@test "container: comes before IMDS, and ignores proxy variables" {
	start_server
	export AWS_CONTAINER_CREDENTIALS_FULL_URI=$BASE/ecs/credentials
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	export http_proxy=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = container ]
	[ "$(wc -l <"$LOG")" -eq 1 ]
	[ "$(jq -r .path "$LOG")" = /ecs/credentials ]
}

# ---- EC2 instance metadata (IMDSv2) ----

@test "imds: token first, then role and credentials with the token" {
	start_server --role my-role --akid ASIAIMDS --secret imds-secret --token imds-sess --expiration 2030-01-01T00:00:00Z
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE/
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = imds ]
	[ "$(j .access_key_id)" = ASIAIMDS ]
	[ "$(j .secret_sha256)" = "$(sha imds-secret)" ]
	[ "$(j .token_sha256)" = "$(sha imds-sess)" ]
	[ "$(j .expiration)" = $EXP ]
	[ -z "$stderr" ]
	run jq -r '[.method, .path, .ttl // "-", .token // "-", .status] | join(" ")' "$LOG"
	[ "${lines[0]}" = "PUT /latest/api/token 21600 - 200" ]
	[ "${lines[1]}" = "GET /latest/meta-data/iam/security-credentials/ - imds-session-token-0123456789 200" ]
	[ "${lines[2]}" = "GET /latest/meta-data/iam/security-credentials/my-role - imds-session-token-0123456789 200" ]
	[ "${#lines[@]}" -eq 3 ]
}

@test "imds: the profile's ec2_metadata_service_endpoint, and proxies are not used" {
	start_server
	put "$HOME/.aws/config" <<-EOF
	[default]
	ec2_metadata_service_endpoint = $BASE
	EOF
	unset AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_DISABLED
	export http_proxy=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = imds ]
	[ "$(jq -r .proxy "$LOG" | sort -u)" = null ]
}

@test "imds: AWS_EC2_METADATA_DISABLED=true makes no request at all" {
	start_server
	export AWS_EC2_METADATA_DISABLED=TRUE AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'no AWS credentials found for profile "default"'*"(instance metadata: disabled by AWS_EC2_METADATA_DISABLED)"* ]]
	[ ! -s "$LOG" ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
}

@test "imds: nothing answering costs one quiet line at the end" {
	start_server
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -1 --separate-stderr "$CT" creds
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"no AWS credentials found"*"(instance metadata: no answer from $BASE:"* ]]
}

@test "imds: 403/404/405 on the token fall back to IMDSv1, unless v1 is disabled" {
	start_server --token-status 403
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -0 --separate-stderr "$CT" creds
	[ "$(j .source)" = imds ]
	[ "$(jq -r 'select(.method == "GET") | .token' "$LOG" | sort -u)" = null ]
	: >"$LOG"
	export AWS_EC2_METADATA_V1_DISABLED=true
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"token request answered HTTP 403 and IMDSv1 is disabled"* ]]
	[ "$(wc -l <"$LOG")" -eq 1 ]
	unset AWS_EC2_METADATA_V1_DISABLED
	put "$HOME/.aws/config" <<-EOF
	[default]
	ec2_metadata_v1_disabled = true
	EOF
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"IMDSv1 is disabled"* ]]
}

@test "imds: an instance without a role is 'no credentials', quietly" {
	start_server --no-role
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -1 --separate-stderr "$CT" creds
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"(instance metadata: the instance has no IAM role)"* ]]
}

@test "imds: a malformed or failed credentials document is an error" {
	start_server --creds-body '{"Code": "Success", "AccessKeyId": "A"'
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"EC2 metadata service: response is not valid JSON"* ]]
}

@test "imds: a non-Success Code is an error" {
	start_server --creds-body '{"Code": "AssumeRoleUnauthorizedAccess", "Message": "no"}'
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *'EC2 metadata service: error code "AssumeRoleUnauthorizedAccess"'* ]]
}

@test "imds: an empty or blank session token is an error" {
	start_server --token-body ''
	export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"EC2 metadata service: malformed session token"* ]]
	[ "$(wc -l <"$LOG")" -eq 1 ]
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	rm "$T/port"
	start_server --token-body $' \r\n'
	export AWS_EC2_METADATA_SERVICE_ENDPOINT=$BASE
	run -1 --separate-stderr "$CT" creds
	[[ $stderr == *"EC2 metadata service: malformed session token"* ]]
}

@test "imds: endpoint from variable, profile, or mode (no request made)" {
	unset AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_DISABLED
	run -0 --separate-stderr "$CT" imds-endpoint
	[ "$(j .url)" = http://169.254.169.254 ]
	AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 run -0 --separate-stderr "$CT" imds-endpoint
	[ "$(j .url)" = 'http://[fd00:ec2::254]' ]
	AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=ipx run -2 --separate-stderr "$CT" imds-endpoint
	[[ $stderr == *"invalid EC2 metadata endpoint mode"* ]]
	put "$HOME/.aws/config" <<-EOF
	[default]
	ec2_metadata_service_endpoint_mode = IPv6
	[profile ep]
	ec2_metadata_service_endpoint = http://127.0.0.1:4321/
	EOF
	run -0 --separate-stderr "$CT" imds-endpoint
	[ "$(j .url)" = 'http://[fd00:ec2::254]' ]
	run -0 --separate-stderr "$CT" imds-endpoint --profile ep
	[ "$(j .url)" = http://127.0.0.1:4321 ]
	AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:99 run -0 --separate-stderr "$CT" imds-endpoint --profile ep
	[ "$(j .url)" = http://127.0.0.1:99 ]
	AWS_EC2_METADATA_DISABLED=true run -0 --separate-stderr "$CT" imds-endpoint
	[ "$(j .url)" = null ]
}

@test "chain: nothing configured is one clear error" {
	run -1 --separate-stderr "$CT" creds
	[ -z "$output" ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == *'no AWS credentials found for profile "default": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'* ]]
}

# ---- region ----

@test "region: --region > AWS_REGION > AWS_DEFAULT_REGION > profile" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	region = eu-west-3
	EOF
	run -0 --separate-stderr "$CT" config
	[ "$(j '.region + " " + .region_source')" = "eu-west-3 profile" ]
	export AWS_DEFAULT_REGION=eu-west-2
	run -0 --separate-stderr "$CT" config
	[ "$(j '.region + " " + .region_source')" = "eu-west-2 AWS_DEFAULT_REGION" ]
	export AWS_REGION=eu-west-1
	run -0 --separate-stderr "$CT" config
	[ "$(j '.region + " " + .region_source')" = "eu-west-1 AWS_REGION" ]
	run -0 --separate-stderr "$CT" config --region us-east-2
	[ "$(j '.region + " " + .region_source')" = "us-east-2 explicit" ]
	# Empty variables count as unset.
	AWS_REGION= AWS_DEFAULT_REGION= run -0 --separate-stderr "$CT" config
	[ "$(j .region)" = eu-west-3 ]
}

@test "region: none is a configuration error that says what to do" {
	run -2 --separate-stderr "$CT" config
	[ -z "$output" ]
	[[ $stderr == *"no AWS region configured: use --region, set AWS_REGION or AWS_DEFAULT_REGION, or set region in profile \"default\" of $HOME/.aws/config"* ]]
}

@test "region: a region that is not a DNS label is refused" {
	run -2 --separate-stderr "$CT" config --region 'us-east-1.evil.com/'
	[[ $stderr == *'invalid AWS region "us-east-1.evil.com/"'* ]]
	AWS_REGION=US-EAST-1 run -2 --separate-stderr "$CT" config
	[[ $stderr == *"(from AWS_REGION)"* ]]
}

# ---- endpoints ----

@test "endpoint: regional defaults, amazonaws.com.cn for cn- regions" {
	run -0 --separate-stderr "$CT" config --region us-east-1
	[ "$(j .kinesis.url)" = https://kinesis.us-east-1.amazonaws.com ]
	[ "$(j .s3.url)" = https://s3.us-east-1.amazonaws.com ]
	[ "$(j .kinesis.custom)" = false ]
	[ "$(j .s3.custom)" = false ]
	[ "$(j .s3.source)" = default ]
	run -0 --separate-stderr "$CT" config --region cn-northwest-1
	[ "$(j .kinesis.url)" = https://kinesis.cn-northwest-1.amazonaws.com.cn ]
	[ "$(j .s3.url)" = https://s3.cn-northwest-1.amazonaws.com.cn ]
	run -0 --separate-stderr "$CT" config --region us-gov-west-1
	[ "$(j .s3.url)" = https://s3.us-gov-west-1.amazonaws.com ]
}

@test "endpoint: --endpoint-url beats everything and is custom" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	endpoint_url = http://127.0.0.1:1111
	EOF
	export AWS_ENDPOINT_URL=http://127.0.0.1:2222 AWS_ENDPOINT_URL_S3=http://127.0.0.1:3333
	export AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
	run -0 --separate-stderr "$CT" config --region us-east-1 --endpoint-url http://127.0.0.1:4566/
	[ "$(j .kinesis.url)" = http://127.0.0.1:4566 ]
	[ "$(j .s3.url)" = http://127.0.0.1:4566 ]
	[ "$(j .s3.custom)" = true ]
	[ "$(j .s3.source)" = explicit ]
}

@test "endpoint: AWS_ENDPOINT_URL_<SERVICE> > AWS_ENDPOINT_URL > services section > profile" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	region = us-east-1
	endpoint_url = http://127.0.0.1:1111
	services = local
	[services local]
	s3 =
	  endpoint_url = http://127.0.0.1:5555/s3-prefix
	EOF
	run -0 --separate-stderr "$CT" config
	[ "$(j '.kinesis.url + " " + .kinesis.source')" = "http://127.0.0.1:1111 profile" ]
	[ "$(j '.s3.url + " " + .s3.source')" = "http://127.0.0.1:5555/s3-prefix services-section" ]
	[ "$(j .kinesis.custom)" = true ]
	export AWS_ENDPOINT_URL=http://127.0.0.1:2222
	run -0 --separate-stderr "$CT" config
	[ "$(j '.kinesis.url + " " + .kinesis.source')" = "http://127.0.0.1:2222 AWS_ENDPOINT_URL" ]
	[ "$(j .s3.url)" = http://127.0.0.1:2222 ]
	export AWS_ENDPOINT_URL_KINESIS=https://kinesis.example.test
	run -0 --separate-stderr "$CT" config
	[ "$(j '.kinesis.url + " " + .kinesis.source')" = "https://kinesis.example.test AWS_ENDPOINT_URL_<ID>" ]
	[ "$(j .s3.url)" = http://127.0.0.1:2222 ]
	export AWS_ENDPOINT_URL_S3=http://127.0.0.1:3333
	run -0 --separate-stderr "$CT" config
	[ "$(j .s3.url)" = http://127.0.0.1:3333 ]
	[ "$(j .kinesis.url)" = https://kinesis.example.test ]
}

@test "endpoint: ignoring configured endpoint URLs (variable or profile)" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	region = us-west-2
	endpoint_url = http://127.0.0.1:1111
	[profile ign]
	region = us-west-2
	endpoint_url = http://127.0.0.1:1111
	ignore_configured_endpoint_urls = true
	EOF
	export AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:2222
	export AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
	run -0 --separate-stderr "$CT" config
	[ "$(j .kinesis.url)" = https://kinesis.us-west-2.amazonaws.com ]
	[ "$(j .s3.url)" = https://s3.us-west-2.amazonaws.com ]
	[ "$(j .kinesis.custom)" = false ]
	unset AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
	run -0 --separate-stderr "$CT" config --profile ign
	[ "$(j .kinesis.url)" = https://kinesis.us-west-2.amazonaws.com ]
	# The variable, when set, decides over the profile.
	AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false run -0 --separate-stderr "$CT" config --profile ign
	[ "$(j .kinesis.url)" = http://127.0.0.1:2222 ]
}

@test "endpoint: a malformed custom URL is a configuration error" {
	local u
	for u in 127.0.0.1:4566 ftp://host 'http://' 'http:///path' 'http://host/a b'; do
		run -2 --separate-stderr "$CT" config --region us-east-1 --endpoint-url "$u"
		[[ $stderr == *"invalid endpoint URL from explicit"* ]]
	done
	AWS_ENDPOINT_URL=nope run -2 --separate-stderr "$CT" config --region us-east-1
	[[ $stderr == *"invalid endpoint URL from AWS_ENDPOINT_URL"* ]]
}

@test "endpoint: user-info (USER:PASSWORD@) is refused, not dropped, and the password never printed" {
	local u
	for u in http://u:s3cret@127.0.0.1:4566 https://s3cret@host 'http://u:s3cret@host/path'; do
		run -2 --separate-stderr "$CT" config --region us-east-1 --endpoint-url "$u"
		assert_equal "$stderr" "$(basename "$CT"): invalid endpoint URL from explicit: user-info (USER:PASSWORD@) is not allowed: requests are signed with the AWS credentials"
	done
	AWS_ENDPOINT_URL_KINESIS=http://u:s3cret@127.0.0.1:1 run -2 --separate-stderr kin-put --region us-east-1 --stream s --partition-key k </dev/null
	assert_equal "$stderr" "kin-put: invalid endpoint URL from AWS_ENDPOINT_URL_<ID>: user-info (USER:PASSWORD@) is not allowed: requests are signed with the AWS credentials"
	run -2 --separate-stderr s3-put --region us-east-1 --endpoint-url http://u:s3cret@127.0.0.1:1 s3://bucket/ </dev/null
	[[ $stderr == *'invalid endpoint URL from explicit: user-info'* ]]
	[[ $stderr != *s3cret* ]]
	# An "@" in the path is not user-info.
	run -0 --separate-stderr "$CT" config --region us-east-1 --endpoint-url 'http://127.0.0.1:4566/a@b'
}

# ---- TLS ----

@test "tls: --no-verify-ssl warns once on stderr, at every verbosity but -q" {
	local w='--no-verify-ssl: TLS certificates and host names are not verified: anyone on the network path can read and change the requests'
	export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI
	run -0 --separate-stderr kin-put --region us-east-1 --endpoint-url http://127.0.0.1:1 --stream s --partition-key k --no-verify-ssl </dev/null
	assert_equal "$stderr" "kin-put: $w"
	run -0 --separate-stderr s3-put -vv --region us-east-1 --endpoint-url http://127.0.0.1:1 --spool-dir "$BATS_TEST_TMPDIR/sp" --no-verify-ssl s3://bucket/x/ </dev/null
	assert_equal "$(grep -c -F -- "$w" <<<"$stderr")" 1
	run -0 --separate-stderr kin-put -q --region us-east-1 --endpoint-url http://127.0.0.1:1 --stream s --partition-key k --no-verify-ssl </dev/null
	assert_equal "$stderr" ''
	run -0 --separate-stderr kin-put --region us-east-1 --endpoint-url http://127.0.0.1:1 --stream s --partition-key k </dev/null
	assert_equal "$stderr" ''
}

@test "tls: a certificate that fails verification is not retried (kinpipe(7) RETRIES)" {
	command -v openssl >/dev/null || skip "openssl not installed"
	export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k.pem" -out "$T/c.pem" \
	    -days 1 -subj /CN=localhost 2>/dev/null
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	openssl s_server -accept "127.0.0.1:$PORT" -cert "$T/c.pem" -key "$T/k.pem" -www -quiet \
	    </dev/null >/dev/null 2>&1 3>&- &
	SERVER_PID=$!
	for _ in $(seq 100); do
		python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null && break
		sleep 0.1
	done
	run -1 --separate-stderr kin-put -v --region us-east-1 --endpoint-url "https://127.0.0.1:$PORT" \
	    --stream s --partition-key k <<<'{"a":1}'
	[[ $stderr == *'SSL certificate problem: self-signed certificate'* ]]
	[[ $stderr == *'<stdin>:1: undeliverable after 1 attempts'* ]]
	[[ $stderr == *' 0 retried,'* ]]
}

@test "tls: --ca-bundle > AWS_CA_BUNDLE > profile ca_bundle; --no-verify-ssl" {
	put "$HOME/.aws/config" <<-EOF
	[default]
	region = us-east-1
	ca_bundle = /profile/ca.pem
	EOF
	run -0 --separate-stderr "$CT" config
	[ "$(j '.ca_bundle + " " + .ca_source')" = "/profile/ca.pem profile" ]
	[ "$(j .verify)" = true ]
	export AWS_CA_BUNDLE=/env/ca.pem
	run -0 --separate-stderr "$CT" config
	[ "$(j '.ca_bundle + " " + .ca_source')" = "/env/ca.pem AWS_CA_BUNDLE" ]
	run -0 --separate-stderr "$CT" config --ca-bundle /opt/ca.pem --no-verify-ssl
	[ "$(j '.ca_bundle + " " + .ca_source')" = "/opt/ca.pem explicit" ]
	[ "$(j .verify)" = false ]
	unset AWS_CA_BUNDLE
	rm "$HOME/.aws/config"
	run -0 --separate-stderr "$CT" config --region us-east-1
	[ "$(j .ca_bundle)" = null ]
}

# ---- timestamps ----

@test "time: ISO 8601 forms AWS sends, and garbage" {
	run -0 "$CT" parse-time 2030-01-01T00:00:00Z
	[ "$output" = $EXP ]
	run -0 "$CT" parse-time 2030-01-01T00:00:00.123456Z
	[ "$output" = $EXP ]
	run -0 "$CT" parse-time 2030-01-01T01:30:00+01:30
	[ "$output" = $EXP ]
	run -0 "$CT" parse-time 2029-12-31T19:00:00-0500
	[ "$output" = $EXP ]
	local bad
	for bad in 2030-01-01 2030-01-01T00:00:00 2030-13-01T00:00:00Z 2030-01-01T00:00:00Zjunk 1893456000 ''; do
		run -1 "$CT" parse-time "$bad"
	done
}
