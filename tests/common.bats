#!/usr/bin/env bats
# The parsers and formatters of libkinpipe (common/), through the unit-test
# driver tests/c/common_test.c: event time, durations and sizes, JSON lines
# and fields, the NDJSON reader and writer, bad-input rules, control lines,
# base64, KPL, the retry policy and http_url_host.  Fixed inputs, no network.
#
# The driver of $KP_BUILD runs once as it is (under ASan+UBSan when
# KP_BUILD=build-asan), and the driver of the normal build once under
# valgrind.

bats_require_minimum_version 1.5.0

load helpers

# The driver checks at least this many cases: a driver that stops early, or
# a build that lost most of them, cannot pass.
MIN_CASES=700

setup() {
	CT=$KP_BUILD_DIR/tests/common_test
	[[ -x $CT ]] || {
		echo "missing $CT: run make (make asan for build-asan)" >&2
		return 1
	}
	export TMPDIR=$BATS_TEST_TMPDIR
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
}

# tap_complete: $output is a whole TAP run of the driver: a plan of at least
# MIN_CASES, as many ok lines as planned, no "not ok".
tap_complete() {
	local plan oks fails
	plan=$(grep -aE '^1\.\.[0-9]+$' <<<"$output" | tail -n 1)
	plan=${plan#1..}
	oks=$(grep -acE '^ok [0-9]+ ' <<<"$output" || true)
	fails=$(grep -acE '^not ok [0-9]+ ' <<<"$output" || true)
	if [[ -z $plan ]]; then
		echo "no TAP plan in the output" >&2
		return 1
	fi
	if ((fails > 0)); then
		echo "$fails failed:" >&2
		grep -a -A3 '^not ok' <<<"$output" >&2
		return 1
	fi
	if ((plan < MIN_CASES)); then
		echo "only $plan cases, expected at least $MIN_CASES" >&2
		return 1
	fi
	if ((oks != plan)); then
		echo "$oks ok lines for a plan of $plan" >&2
		return 1
	fi
}

@test "common_test: every case passes ($KP_BUILD)" {
	run --separate-stderr "$CT"
	printf '%s\n' "$output" | tail -n 3
	tap_complete
	assert_success
	# The library's messages go to the driver's captured stderr, not here;
	# under ASan/UBSan a report would land here.
	refute_output --partial 'runtime error'
	[[ $stderr != *"runtime error"* ]]
	[[ $stderr != *"ERROR: AddressSanitizer"* ]]
	[[ $stderr != *"LeakSanitizer"* ]]
}

@test "common_test: -v passes too; a usage error exits 2" {
	run "$CT" --no-such-option
	assert_failure 2
	run --separate-stderr "$CT" -v
	assert_success
	tap_complete
}

@test "common_test under valgrind: no errors, no leaks" {
	command -v valgrind >/dev/null ||
	    skip "valgrind is not installed (make deps installs it)"
	local vct=$KP_ROOT/build/tests/common_test
	[[ -x $vct ]] || {
		echo "missing $vct: run make" >&2
		return 1
	}
	run --separate-stderr valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect,possible \
	    --show-leak-kinds=definite,indirect,possible "$vct"
	if ((status != 0)); then
		printf '%s\n' "$stderr" | head -n 60 >&2
	fi
	assert_success
	tap_complete
	[[ $stderr != *"definitely lost"* ]]
}
