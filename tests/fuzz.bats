#!/usr/bin/env bats
#
# The libFuzzer targets of fuzz/, each for FUZZ_SECONDS (default 5) from
# its seed corpus, under ASan+UBSan: the short run of `make fuzz` (which
# runs each for a minute).  A target that crashes, leaks or trips a
# sanitizer fails its test; the input is kept in build-fuzz/crashes/ for
# a regression test.  Skipped where clang or libFuzzer is missing.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	if ! command -v clang >/dev/null ||
	    ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	    clang -fsanitize=fuzzer -x c -o "$BATS_FILE_TMPDIR/probe" - 2>/dev/null; then
		export FUZZ_SKIP="clang with libFuzzer is not installed (make deps)"
		return 0
	fi
	make -C "$KP_ROOT" -s -j2 fuzz-build >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/build.log" >&2
		return 1
	}
}

# fuzz NAME: build-fuzz/NAME for FUZZ_SECONDS from a copy of its corpus.
fuzz() {
	[[ -z ${FUZZ_SKIP:-} ]] || skip "$FUZZ_SKIP"
	local t=$1 dir=$BATS_TEST_TMPDIR/corpus
	mkdir -p "$dir" "$KP_ROOT/build-fuzz/crashes"
	cp "$KP_ROOT/fuzz/corpus/$t"/* "$dir"/
	run "$KP_ROOT/build-fuzz/$t" -max_total_time="${FUZZ_SECONDS:-5}" -max_len=4096 \
	    -artifact_prefix="$KP_ROOT/build-fuzz/crashes/$t-" "$dir"
	if ((status != 0)); then
		printf '%s\n' "$output" | tail -n 40
		return 1
	fi
	# Every seed, at least, ran.
	[[ $output == *"Done "*" runs in "* ]]
}

@test "fuzz: the record scanner and field paths (jscan)" { fuzz jscan; }
@test "fuzz: event time, durations, sizes and counts (time)" { fuzz time; }
@test "fuzz: the AWS config and credentials files (awsconf)" { fuzz awsconf; }
@test "fuzz: AWS error answers in JSON and XML, S3's XML, Kinesis responses (answers)" { fuzz answers; }
@test "fuzz: KPL de-aggregation (kpl)" { fuzz kpl; }
@test "fuzz: base64 (b64)" { fuzz b64; }
@test "fuzz: barrier lines and the commit record (ckpt)" { fuzz ckpt; }
@test "fuzz: s3-put's part manifests (spool)" { fuzz spool; }
@test "fuzz: the SSO token cache file and the GetRoleCredentials answer (ssocache)" { fuzz ssocache; }
@test "fuzz: s3-put's key templates (keytpl)" { fuzz keytpl; }
@test "fuzz: STS answers, credentials and errors (sts)" { fuzz sts; }
@test "fuzz: s3-put's tag sets and metadata names, CRC-32C (s3opts)" { fuzz s3opts; }
