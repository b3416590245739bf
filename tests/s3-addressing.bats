#!/usr/bin/env bats
# S3 addressing and region redirects of s3-put, against a scripted fake S3
# on 127.0.0.1 (tests/lib/s3fake.js) that checks every request's SigV4
# signature as received (tests/lib/sigv4.js) and logs how it was addressed:
# virtual-hosted style seen with the bucket in the Host header (an endpoint
# http://localhost:PORT reaches the fake as BUCKET.localhost:PORT: libcurl
# resolves *.localhost to loopback itself), path style by default on a
# custom endpoint, --path-style and the config's "s3 = addressing_style";
# S3's wrong-region answers (301 PermanentRedirect with
# x-amz-bucket-region, 400 AuthorizationHeaderMalformed with <Region>, a
# 301 with neither, answered by a HEAD of the bucket) are followed once per
# request, signed for the bucket's region (the credential scope of the
# retry), and remembered: the next object goes there at once.  With a
# custom endpoint the endpoint stays and only the signing region changes,
# as botocore's S3RegionRedirectorv2 does when its endpoint rule set is
# given an endpoint URL.  AWS's own endpoints (virtual-hosted S3, FIPS and
# dual-stack S3 and Kinesis, from the variables and the profile) are seen
# through the fake as an https proxy on loopback: it logs the host of each
# CONNECT and refuses it, so nothing leaves 127.0.0.1.  The full table of
# endpoint rules is unit-tested (tests/c/s3addr_test.c, from
# tests/units.bats).  Path style against s3rver is what tests/s3-put.bats
# and tests/s3up.bats run.

bats_require_minimum_version 1.5.0

load helpers

SECRET='kinpipeLocalStack/Secret+Key0123456789ab'

setup() {
	T=$BATS_TEST_TMPDIR
	mkdir -p "$HOME/.aws"
	printf '{"timestamp":"2026-01-01T00:00:00Z","a":1}\n{"timestamp":"2026-01-01T00:00:01Z","a":2}\n' >"$T/in.ndjson"
}

teardown() {
	if [[ -n ${FAKE_PID:-} ]]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
}

# fake_start [--region R] [--mode M]: the fake S3; AWS_ENDPOINT_URL_S3 is
# http://localhost:PORT.
fake_start() {
	local i
	"$KP_NODE" "$KP_ROOT/tests/lib/s3fake.js" --port-file "$T/port" \
	    --log "$T/log" --dir "$T/objects" --secret "$SECRET" "$@" \
	    </dev/null >"$T/fake.out" 2>&1 3>&- &
	FAKE_PID=$!
	for ((i = 0; i < 400; i++)); do
		[[ -s $T/port ]] && break
		sleep 0.05
	done
	[[ -s $T/port ]]
	PORT=$(cat "$T/port")
	export AWS_ENDPOINT_URL_S3=http://localhost:$PORT
}

# style STYLE: the profile's "s3 = addressing_style".
style() {
	printf '[default]\ns3 =\n  addressing_style = %s\n' "$1" >"$HOME/.aws/config"
}

# put [OPTION...]: s3-put of the two records, one object each, one request
# at a time, to s3://my-bucket/pre/.
put() {
	run --separate-stderr "$KP_BUILD_DIR/bin/s3-put" --max-records 1 \
	    --max-in-flight 1 --spool-dir "$T/spool" "$@" s3://my-bucket/pre/ \
	    <"$T/in.ndjson"
}

# reqs FILTER: the log's requests through jq -c FILTER, one a line.
reqs() {
	jq -c "$1" "$T/log"
}

# objects_ok: both objects arrived, byte-exact.
objects_ok() {
	local f
	f=$(find "$T/objects/my-bucket/pre" -type f | sort)
	[[ $(wc -l <<<"$f") -eq 2 ]]
	[[ $(cat $f) == "$(cat "$T/in.ndjson")" ]]
}

@test "addressing_style = virtual: the bucket in the Host header, the key alone in the path, signed as sent" {
	fake_start
	style virtual
	put
	[[ $status -eq 0 ]]
	[[ $(reqs '[.host, .style, .sig, .status]' | sort -u) == "[\"my-bucket.localhost:$PORT\",\"virtual\",\"ok\",200]" ]]
	[[ $(jq -r '.target' "$T/log" | head -n 1) == /pre/2026-01-01--00/part-*-0.json ]]
	objects_ok
}

@test "a custom endpoint is addressed path-style by default, and with addressing_style = path or auto" {
	fake_start
	put
	[[ $status -eq 0 ]]
	[[ $(reqs '[.host, .style, .sig]' | sort -u) == "[\"localhost:$PORT\",\"path\",\"ok\"]" ]]
	[[ $(jq -r '.target' "$T/log" | head -n 1) == /my-bucket/pre/2026-01-01--00/part-*-0.json ]]
	local s
	for s in path auto AUTO; do
		style "$s"
		: >"$T/log"
		put
		[[ $status -eq 0 ]]
		[[ $(reqs '.style' | sort -u) == '"path"' ]]
	done
}

@test "--path-style wins over addressing_style = virtual" {
	fake_start
	style virtual
	put --path-style
	[[ $status -eq 0 ]]
	[[ $(reqs '[.host, .style, .sig]' | sort -u) == "[\"localhost:$PORT\",\"path\",\"ok\"]" ]]
	objects_ok
}

@test "an addressing_style that is none of auto, path, virtual is a configuration error (exit 2)" {
	fake_start
	style vhost
	put
	[[ $status -eq 2 ]]
	[[ $stderr == *'invalid s3 addressing_style "vhost"'*'expected auto, path or virtual'* ]]
	[[ ! -s $T/log ]]
}

@test "301 PermanentRedirect with x-amz-bucket-region: signed again for the bucket's region, once; the next object goes there at once" {
	fake_start --region eu-west-1 --mode permanent
	style virtual
	put -v
	[[ $status -eq 0 ]]
	[[ $(reqs '[.method, .region, .status, .sig]') == '["PUT","us-east-1",301,"ok"]
["PUT","eu-west-1",200,"ok"]
["PUT","eu-west-1",200,"ok"]' ]]
	# Same endpoint, same addressing: only the signing region changed.
	[[ $(reqs '.host' | sort -u) == "\"my-bucket.localhost:$PORT\"" ]]
	[[ $stderr == *"s3://my-bucket: the bucket is in region eu-west-1, not us-east-1"* ]]
	objects_ok
}

@test "400 AuthorizationHeaderMalformed with <Region>: the same, path-style" {
	fake_start --region ap-southeast-2 --mode malformed
	put -v
	[[ $status -eq 0 ]]
	[[ $(reqs '[.method, .style, .region, .status]') == '["PUT","path","us-east-1",400]
["PUT","path","ap-southeast-2",200]
["PUT","path","ap-southeast-2",200]' ]]
	[[ $stderr == *"in region ap-southeast-2, not us-east-1"* ]]
	objects_ok
}

@test "a redirect naming no region: a HEAD of the bucket finds it" {
	fake_start --region eu-central-1 --mode nohint
	style virtual
	put
	[[ $status -eq 0 ]]
	[[ $(reqs '[.method, .target, .region, .status]' | sed 's/part-[0-9a-f]*-/part-/') == '["PUT","/pre/2026-01-01--00/part-0.json","us-east-1",301]
["HEAD","/","us-east-1",301]
["PUT","/pre/2026-01-01--00/part-0.json","eu-central-1",200]
["PUT","/pre/2026-01-01--00/part-1.json","eu-central-1",200]' ]]
	objects_ok
}

@test "multipart uploads follow a redirect too: every call of the upload goes to the bucket's region" {
	fake_start --region eu-west-1 --mode permanent
	{ head -c 6000000 /dev/zero | tr '\0' 'x' | fold -w 99; echo; } |
	    sed 's/.*/{"timestamp":"2026-01-01T00:00:00Z","p":"&"}/' >"$T/big.ndjson"
	run --separate-stderr "$KP_BUILD_DIR/bin/s3-put" --spool-dir "$T/spool" \
	    s3://my-bucket/big/ <"$T/big.ndjson"
	[[ $status -eq 0 ]]
	[[ $(reqs 'select(.region == "us-east-1") | [.method, .status]') == '["POST",301]' ]]
	[[ $(reqs 'select(.region == "eu-west-1") | .method' | sort | uniq -c | awk '{ print $1 $2 }' | tr '\n' ' ') == '2"POST" 2"PUT" ' ]]
	[[ $(reqs '.sig' | sort -u) == '"ok"' ]]
	cmp "$T/big.ndjson" "$(find "$T/objects/my-bucket/big" -type f)"
}

@test "a second wrong-region answer is not followed: each request is redirected once, then fails (exit 3)" {
	fake_start --mode flip
	run --separate-stderr timeout 60 "$KP_BUILD_DIR/bin/s3-put" --max-records 1 \
	    --max-in-flight 1 --spool-dir "$T/spool" s3://my-bucket/pre/ <"$T/in.ndjson"
	[[ $status -eq 3 ]]
	[[ $(reqs '[.region, .status]') == '["us-east-1",400]
["eu-west-1",400]
["eu-west-1",400]
["us-east-1",400]' ]]
	[[ $stderr == *"AuthorizationHeaderMalformed"* ]]
}

# through_proxy COMMAND...: COMMAND with AWS's own endpoints (no endpoint
# URL) and every https request sent to the fake as its proxy, which logs
# the host of each CONNECT and refuses it: nothing leaves loopback.
through_proxy() {
	unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
	export https_proxy=http://127.0.0.1:$PORT HTTPS_PROXY=http://127.0.0.1:$PORT
	export http_proxy=http://127.0.0.1:$PORT
	run --separate-stderr timeout 60 "$@" <"$T/in.ndjson"
	unset https_proxy HTTPS_PROXY http_proxy
}

# hosts: the distinct CONNECT targets of the log.
hosts() {
	jq -r 'select(.method == "CONNECT") | .target' "$T/log" | sort -u | tr '\n' ' '
}

s3put() {
	through_proxy "$KP_BUILD_DIR/bin/s3-put" --max-attempts 1 --max-records 1 \
	    --max-in-flight 1 --spool-dir "$T/spool" "$@"
}

kinput() {
	through_proxy "$KP_BUILD_DIR/bin/kin-put" --max-attempts 1 --stream s "$@"
}

@test "AWS endpoints, seen through a loopback proxy: virtual-hosted S3, FIPS and dual-stack for S3 and Kinesis" {
	fake_start
	local case
	# env settings | command | the host it goes to
	while IFS='|' read -r case; do
		IFS='|' read -r vars cmd want <<<"$case"
		: >"$T/log"
		# shellcheck disable=SC2086
		(export $vars; $cmd)
		[[ $(hosts) == "$want " ]] || {
			echo "$vars $cmd: $(hosts), want $want" >&2
			return 1
		}
	done <<'CASES'
AWS_REGION=eu-west-1|s3put s3://my-bucket/p/|my-bucket.s3.eu-west-1.amazonaws.com:443
AWS_REGION=eu-west-1|s3put s3://my.bucket/p/|s3.eu-west-1.amazonaws.com:443
AWS_REGION=eu-west-1|s3put --path-style s3://my-bucket/p/|s3.eu-west-1.amazonaws.com:443
AWS_REGION=eu-west-1 AWS_USE_FIPS_ENDPOINT=true|s3put s3://my-bucket/p/|my-bucket.s3-fips.eu-west-1.amazonaws.com:443
AWS_REGION=eu-west-1 AWS_USE_DUALSTACK_ENDPOINT=true|s3put s3://my-bucket/p/|my-bucket.s3.dualstack.eu-west-1.amazonaws.com:443
AWS_REGION=eu-west-1 AWS_USE_FIPS_ENDPOINT=TRUE AWS_USE_DUALSTACK_ENDPOINT=true|s3put --path-style s3://my-bucket/p/|s3-fips.dualstack.eu-west-1.amazonaws.com:443
AWS_REGION=cn-north-1|s3put s3://my-bucket/p/|my-bucket.s3.cn-north-1.amazonaws.com.cn:443
AWS_REGION=eu-west-1|kinput|kinesis.eu-west-1.amazonaws.com:443
AWS_REGION=eu-west-1 AWS_USE_FIPS_ENDPOINT=true|kinput|kinesis-fips.eu-west-1.amazonaws.com:443
AWS_REGION=eu-west-1 AWS_USE_DUALSTACK_ENDPOINT=true|kinput|kinesis.eu-west-1.api.aws:443
AWS_REGION=us-gov-west-1 AWS_USE_FIPS_ENDPOINT=true|kinput|kinesis.us-gov-west-1.amazonaws.com:443
AWS_REGION=cn-north-1 AWS_USE_FIPS_ENDPOINT=true AWS_USE_DUALSTACK_ENDPOINT=true|kinput|kinesis-fips.cn-north-1.api.amazonwebservices.com.cn:443
CASES
}

@test "FIPS and dual-stack from the profile (use_fips_endpoint, s3's use_dualstack_endpoint); false is off" {
	fake_start
	printf '[default]\nuse_fips_endpoint = true\ns3 =\n  use_dualstack_endpoint = true\n' >"$HOME/.aws/config"
	AWS_REGION=us-east-2 s3put s3://my-bucket/p/
	[[ $(hosts) == "my-bucket.s3-fips.dualstack.us-east-2.amazonaws.com:443 " ]]
	: >"$T/log"
	# The variable wins over the profile.
	AWS_REGION=us-east-2 AWS_USE_FIPS_ENDPOINT=false s3put s3://my-bucket/p/
	[[ $(hosts) == "my-bucket.s3.dualstack.us-east-2.amazonaws.com:443 " ]]
	: >"$T/log"
	# s3's use_dualstack_endpoint is S3's only.
	AWS_REGION=us-east-2 kinput
	[[ $(hosts) == "kinesis-fips.us-east-2.amazonaws.com:443 " ]]
}

@test "S3 has no FIPS endpoint in China: a configuration error (exit 2), nothing sent" {
	fake_start
	AWS_REGION=cn-north-1 AWS_USE_FIPS_ENDPOINT=true s3put s3://my-bucket/p/
	[[ $status -eq 2 ]]
	[[ $stderr == *"FIPS endpoints"*"not available for S3 in region cn-north-1"* ]]
	[[ ! -s $T/log ]]
}

@test "FIPS and dual-stack are ignored with a custom endpoint, as the SDKs ignore them" {
	fake_start
	AWS_USE_FIPS_ENDPOINT=true AWS_USE_DUALSTACK_ENDPOINT=true put
	[[ $status -eq 0 ]]
	[[ $(reqs '[.host, .style, .sig]' | sort -u) == "[\"localhost:$PORT\",\"path\",\"ok\"]" ]]
	objects_ok
}
