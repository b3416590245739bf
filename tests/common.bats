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

@test "common_test: every case passes ($KP_BUILD)" {
	kp_unit common "$MIN_CASES"
}

@test "common_test: -v passes too; a usage error exits 2" {
	local ct=$KP_BUILD_DIR/tests/common_test
	export TMPDIR=$BATS_TEST_TMPDIR
	run "$ct" --no-such-option
	assert_failure 2
	run --separate-stderr "$ct" -v
	assert_success
	_kp_tap_complete "$MIN_CASES"
}

@test "common_test under valgrind: no errors, no leaks" {
	kp_unit common "$MIN_CASES" valgrind
}
