#!/usr/bin/env bats
# The SigV4 signer (common/sigv4.c) against the official vectors copied in
# tests/data/sigv4/ (provenance in its README.md), through the C driver
# tests/c/sigv4_test.c.  Offline: nothing here opens a socket.

bats_require_minimum_version 1.5.0

KP_ROOT=${KP_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
if [ -f "$BATS_TEST_DIRNAME/helpers.bash" ]; then
	load helpers
fi

setup() {
	local b=${KP_BUILD:-build}
	case $b in /*) ;; *) b=$KP_ROOT/$b ;; esac
	SIGV4=$b/tests/sigv4_test
	VEC=$KP_ROOT/tests/data/sigv4
	if [ ! -x "$SIGV4" ]; then
		echo "missing $SIGV4: run make" >&2
		return 1
	fi
}

# line N of $output (1-based)
line() {
	printf '%s\n' "$output" | sed -n "${1}p"
}

@test "sigv4: both suites pass, with the expected number of cases" {
	run -0 "$SIGV4" vectors "$VEC"
	[[ $output != *"not ok"* ]]
	[[ $output == *"# classic: 30 passed, 0 failed, 1 skipped"* ]]
	[[ $output == *"# aws-c-auth header: 38 passed, 0 failed, 0 skipped"* ]]
	[[ $output == *"# aws-c-auth query: 38 passed, 0 failed, 0 skipped"* ]]
	[ "$(grep -c '^ok ' <<<"$output")" -eq 107 ]
	[ "$(grep '^ok ' <<<"$output" | grep -vc '# SKIP')" -eq 106 ]
	[ "$(tail -n 1 <<<"$output")" = "1..107" ]
}

@test "sigv4: the only skip is the case the README documents as broken" {
	run -0 "$SIGV4" vectors "$VEC"
	[ "$(grep -c '# SKIP' <<<"$output")" -eq 1 ]
	grep -q '^ok [0-9]* - classic: post-x-www-form-urlencoded # SKIP .*\.sts and \.authz checked and match' <<<"$output"
}

@test "sigv4: sub-folders of the classic suite are run" {
	run -0 "$SIGV4" vectors "$VEC"
	[ "$(grep -c '^ok [0-9]* - classic: normalize-path/' <<<"$output")" -eq 7 ]
	grep -q '^ok [0-9]* - classic: post-sts-token/post-sts-header-before$' <<<"$output"
	grep -q '^ok [0-9]* - classic: post-sts-token/post-sts-header-after$' <<<"$output"
}

@test "sigv4: the aws-c-auth suite alone" {
	run -0 "$SIGV4" vectors "$VEC/aws-c-auth-v4"
	[[ $output != *"# classic:"* ]]
	[[ $output == *"# aws-c-auth header: 38 passed, 0 failed, 0 skipped"* ]]
	[[ $output == *"# aws-c-auth query: 38 passed, 0 failed, 0 skipped"* ]]
}

@test "sigv4: a folder without cases fails" {
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	run -1 "$SIGV4" vectors "$BATS_TEST_TMPDIR/empty"
	[[ $output == *"1..0"* ]]
}

@test "sigv4: a changed expected file is reported with a diff" {
	cp -R "$VEC" "$BATS_TEST_TMPDIR/v"
	# One hex digit of the payload hash changed, nothing else.
	sed -i 's/b855$/b856/' "$BATS_TEST_TMPDIR/v/get-vanilla/get-vanilla.creq"
	run -1 "$SIGV4" vectors "$BATS_TEST_TMPDIR/v"
	grep -q '^not ok [0-9]* - classic: get-vanilla$' <<<"$output"
	grep -q '^#   get-vanilla.creq differs at byte 142 (line 8)$' <<<"$output"
	[[ $output == *"# classic: 29 passed, 1 failed, 1 skipped"* ]]
}

@test "sigv4: S3 adds and signs x-amz-content-sha256" {
	run -0 "$SIGV4" sign --s3 --body hello PUT /bucket/key
	# sha256("hello")
	local h=2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
	[[ $output == *$'\n'"x-amz-content-sha256:$h"$'\n'* ]]
	[[ $output == *$'\n'"x-amz-content-sha256: $h"$'\n'* ]]
	[[ $output == *"SignedHeaders=host;x-amz-content-sha256;x-amz-date, "* ]]
	[ "$(line 9)" = "$h" ]
	[[ $output == *"/us-east-1/s3/aws4_request"* ]]
}

@test "sigv4: S3 never normalises the path, other services do" {
	run -0 "$SIGV4" sign --s3 GET '//a/../b'
	[ "$(line 2)" = "//a/../b" ]
	run -0 "$SIGV4" sign --normalize GET '//a/../b'
	[ "$(line 2)" = "/b" ]
	run -0 "$SIGV4" sign GET '//a/../b'
	[ "$(line 2)" = "//a/../b" ]
	[[ $output != *"x-amz-content-sha256"* ]]
}

@test "sigv4: S3 keys are encoded once, other paths once more" {
	run -0 "$SIGV4" sign --s3 GET '/bucket/my%20key'
	[ "$(line 2)" = "/bucket/my%20key" ]
	run -0 "$SIGV4" sign --normalize GET '/my%20key'
	[ "$(line 2)" = "/my%2520key" ]
}

@test "sigv4: the S3 documentation's GET Object example" {
	# Amazon S3 API Reference, "Signature Calculations for the Authorization
	# Header: Transferring Payload in a Single Chunk", Example: GET Object.
	run -0 "$SIGV4" sign --s3 --host examplebucket.s3.amazonaws.com \
	    --header 'Range:bytes=0-9' --access-key AKIAIOSFODNN7EXAMPLE \
	    --secret-key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
	    --time 2013-05-24T00:00:00Z GET /test.txt
	[[ $output == *$'\n'"7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"$'\n'* ]]
	[[ $output == *"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" ]]
}

@test "sigv4: URI encoding of S3 keys" {
	run -0 "$SIGV4" encode --keep-slash 'photos/my key+1~ü.json'
	[ "$output" = "photos/my%20key%2B1~%C3%BC.json" ]
	run -0 "$SIGV4" encode 'a/b c'
	[ "$output" = "a%2Fb%20c" ]
	run -0 "$SIGV4" encode -._~AZaz09
	[ "$output" = "-._~AZaz09" ]
	run -0 "$SIGV4" encode '%=&?#'
	[ "$output" = "%25%3D%26%3F%23" ]
}

@test "sigv4: the query is decoded, re-encoded and sorted" {
	run -0 "$SIGV4" sign GET / 'b=x%20y&a=%E1%88%B4&c&a=+/'
	[ "$(line 3)" = "a=%2B%2F&a=%E1%88%B4&b=x%20y&c=" ]
	run -1 "$SIGV4" sign GET / 'a=%zz'
	run -1 "$SIGV4" sign GET / 'a=%4'
}

@test "sigv4: the session token is signed unless asked otherwise" {
	run -0 "$SIGV4" sign --token 'tok/en+=' GET /
	[[ $output == *$'\n'"x-amz-security-token:tok/en+="$'\n'* ]]
	[[ $output == *$'\n'"X-Amz-Security-Token: tok/en+="$'\n'* ]]
	[[ $output == *"SignedHeaders=host;x-amz-date;x-amz-security-token, "* ]]
	run -0 "$SIGV4" sign --token 'tok/en+=' --unsigned-token GET /
	[[ $output != *"x-amz-security-token:"* ]]
	[[ $output == *$'\n'"X-Amz-Security-Token: tok/en+="$'\n'* ]]
	[[ $output == *"SignedHeaders=host;x-amz-date, "* ]]
}

@test "sigv4: headers the signer adds are refused from the caller" {
	run -1 "$SIGV4" sign --header 'X-Amz-Date:20150830T123600Z' GET /
	run -1 "$SIGV4" sign --header 'authorization:x' GET /
	run -1 "$SIGV4" sign --s3 --header 'X-Amz-Content-Sha256:UNSIGNED-PAYLOAD' GET /b/k
	run -0 "$SIGV4" sign --s3 --payload-hash UNSIGNED-PAYLOAD GET /b/k
	[ "$(line 9)" = "UNSIGNED-PAYLOAD" ]
	[[ $output == *$'\n'"x-amz-content-sha256: UNSIGNED-PAYLOAD"$'\n'* ]]
}

@test "sigv4: presigned query" {
	run -0 "$SIGV4" sign --presign 600 --token 't/+' GET /k 'x=1'
	[ "$(line 3)" = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=600&X-Amz-Security-Token=t%2F%2B&X-Amz-SignedHeaders=host&x=1" ]
	[[ $output == *$'\n'"?X-Amz-Algorithm=AWS4-HMAC-SHA256&"*"&X-Amz-Expires=600&X-Amz-Security-Token=t%2F%2B&X-Amz-Signature="* ]]
	[[ $output != *"Authorization"* ]]
}
