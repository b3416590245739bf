#!/usr/bin/env bats
# The man pages against the tools: mandoc -Tlint clean, the options of
# --help and of the page's OPTIONS the same, the SYNOPSIS equal to the USAGE
# line (of --help and of a usage error), the sections every page has,
# --version, -h as --help, and a configuration error without the usage
# line.  One test per tool and check, so that a failure names both.  (The
# tools' own test files do not repeat these checks.)
#
# The tools are those of tools/*.c plus the ones listed in TOOLS below: a
# tool whose source, binary or page is missing fails its tests with a
# message saying which (never a skip).  A tool added to tools/ without tests
# here fails "every tool in tools/*.c has tests in manpages.bats".
#
# The scripts of pipelines/ that users run get the same checks: the script
# pipelines/NAME is the program kinpipe-NAME (its name in messages and
# usage, and once installed), documented in man/man1/kinpipe-NAME.1, with
# the sections of SECTIONS1S.  Every other executable in pipelines/ is
# listed in INTERNAL.

bats_require_minimum_version 1.5.0

load helpers

TOOLS=(kin-put kin-read window-stats sigma-flag s3-put)
SCRIPTS=(producer processor replay-batch demo)
INTERNAL=(deps localstack)
SECTIONS=(NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO")
SECTIONS1S=(NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES "EXIT STATUS"
    EXAMPLES "SEE ALSO")
SECTIONS7=(NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO")

setup() {
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	command -v mandoc >/dev/null || {
		echo "mandoc is not installed: run make deps" >&2
		return 1
	}
}

# need_tool TOOL: sets BIN and PAGE; fails with a clear message when the
# source, the binary or the page is missing.  TOOL kinpipe-NAME is the
# script pipelines/NAME.
need_tool() {
	local t=$1
	if [[ $t == kinpipe-* ]]; then
		BIN=$KP_ROOT/pipelines/${t#kinpipe-}
		PAGE=$KP_ROOT/man/man1/$t.1
		if [[ ! -x $BIN ]]; then
			echo "script $t: no executable pipelines/${t#kinpipe-}" >&2
			return 1
		fi
		if [[ ! -f $PAGE ]]; then
			echo "script $t: no man page man/man1/$t.1" >&2
			return 1
		fi
		return 0
	fi
	BIN=$KP_BUILD_DIR/bin/$t
	PAGE=$KP_ROOT/man/man1/$t.1
	if [[ ! -f $KP_ROOT/tools/$t.c ]]; then
		echo "tool $t: no source tools/$t.c (not written yet?)" >&2
		return 1
	fi
	if [[ ! -x $BIN ]]; then
		echo "tool $t: no binary $BIN: run make (make asan for build-asan)" >&2
		return 1
	fi
	if [[ ! -f $PAGE ]]; then
		echo "tool $t: no man page man/man1/$t.1" >&2
		return 1
	fi
}

# norm: stdin with every run of white space made one blank, trimmed.
norm() {
	tr -s ' \t\n' '   ' | sed -e 's/^ //' -e 's/ $//'
}

# help_usage TOOL: the usage paragraph of TOOL --help (from "usage: " to the
# first empty line), without "usage: ", normalised.
help_usage() {
	"$BIN" --help | awk 'NR == 1 && !/^usage: / { exit 1 }
	    /^$/ { exit } { sub(/^usage: /, ""); print }' | norm
}

# rendered PAGE: the page as text.
rendered() {
	MANWIDTH=80 mandoc -Tascii "$1" | col -b
}

# page_section PAGE NAME: the rendered body of section NAME.
page_section() {
	rendered "$1" | awk -v want="$2" '
	    /^[A-Z][A-Z0-9 ]*$/ { on = ($0 == want); next }
	    on { print }'
}

# page_sections PAGE: the section headings, one a line.
page_sections() {
	rendered "$1" | grep -E '^[A-Z][A-Z0-9 ]*$'
}

# help_long_options: the long options named anywhere in --help, one a line.
help_long_options() {
	"$BIN" --help | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u
}

# options_items: the long options of the .It lines of the page's OPTIONS
# section (subsections included), one a line, as --name.
options_items() {
	awk '/^\.Sh / { on = ($0 ~ /^\.Sh "?OPTIONS"?$/); next }
	    on && /^\.It / { print }' "$PAGE" |
	    grep -oE 'Fl -[a-z0-9][a-z0-9-]*' | sed 's/^Fl /-/' | sort -u
}

check_lint() {
	need_tool "$1"
	run mandoc -Tlint -Wwarning "$PAGE"
	if [[ -n $output || $status -ne 0 ]]; then
		echo "mandoc -Tlint -Wwarning man/man1/$1.1 (status $status):" >&2
		printf '%s\n' "$output" >&2
		return 1
	fi
}

check_options() {
	local o missing=() extra=() helpopts
	need_tool "$1"
	helpopts=$(help_long_options)
	[[ -n $helpopts ]] || {
		echo "$1 --help names no long option" >&2
		return 1
	}
	# mdoc writes --name as "Fl -name"
	for o in $helpopts; do
		grep -qE -- "Fl ${o#-}([^a-z0-9-]|\$)" "$PAGE" || missing+=("$o")
	done
	for o in $(options_items); do
		grep -qxF -- "$o" <<<"$helpopts" || extra+=("$o")
	done
	if ((${#missing[@]})); then
		echo "$1: in --help but not in man/man1/$1.1 (as 'Fl ${missing[0]#-}'):" \
		    "${missing[*]}" >&2
	fi
	if ((${#extra[@]})); then
		echo "$1: documented in OPTIONS of man/man1/$1.1 but not in --help:" \
		    "${extra[*]}" >&2
	fi
	((${#missing[@]} == 0 && ${#extra[@]} == 0))
}

check_synopsis() {
	local usage synopsis errusage
	need_tool "$1"
	usage=$(help_usage) || {
		echo "$1 --help does not start with 'usage: '" >&2
		return 1
	}
	synopsis=$(page_section "$PAGE" SYNOPSIS | norm)
	if [[ $usage != "$synopsis" ]]; then
		echo "$1: the USAGE of --help and the SYNOPSIS of man/man1/$1.1 differ" >&2
		echo "  --help:   $usage" >&2
		echo "  SYNOPSIS: $synopsis" >&2
		diff <(tr ' ' '\n' <<<"$usage") <(tr ' ' '\n' <<<"$synopsis") >&2 || true
		return 1
	fi
}

# A usage error: exit 2, nothing on stdout, the reason as "tool: ..." on
# stderr, then the usage line of --help.
check_usage_error() {
	local usage errusage line
	need_tool "$1"
	usage=$(help_usage)
	run --separate-stderr "$BIN" --no-such-option-at-all
	assert_failure 2
	assert_output ''
	errusage=$(printf '%s\n' "$stderr" | awk '/^usage: / { on = 1 }
	    on && /^$/ { exit } on { sub(/^usage: /, ""); print }' | norm)
	if [[ $errusage != "$usage" ]]; then
		echo "$1: the usage line of a usage error differs from --help's" >&2
		echo "  error:  $errusage" >&2
		echo "  --help: $usage" >&2
		return 1
	fi
	while IFS= read -r line; do
		[[ $line == "usage: "* ]] && break
		[[ $line == "$1: "* ]] || {
			echo "$1: a message of a usage error is not '$1: reason':" >&2
			echo "  $line" >&2
			return 1
		}
	done <<<"$stderr"
	[[ $stderr == "$1: "* ]]
}

# check_sections PAGE SECTION...: every SECTION is a heading of PAGE.
check_sections() {
	local page=$1 s have missing=()
	shift
	have=$(page_sections "$page")
	for s; do
		grep -qxF -- "$s" <<<"$have" || missing+=("$s")
	done
	if ((${#missing[@]})); then
		printf '%s: missing section(s):' "${page#"$KP_ROOT"/}" >&2
		printf ' "%s"' "${missing[@]}" >&2
		printf '\n  has: %s\n' "$(tr '\n' ',' <<<"$have")" >&2
		return 1
	fi
}

check_version() {
	local version
	need_tool "$1"
	version=$(sed -n 's/^VERSION *= *//p' "$KP_ROOT/Makefile")
	[[ -n $version ]]
	run --separate-stderr "$BIN" --version
	assert_success
	assert_output "$1 $version"
	[[ -z $stderr ]]
	# --help: stdout, exit 0; -h is the same
	run --separate-stderr "$BIN" --help
	assert_success
	[[ -n $output && -z $stderr ]]
	local help=$output
	run --separate-stderr "$BIN" -h
	assert_success
	assert_output "$help"
}

# A configuration error (here a dead-letter file that cannot be opened):
# exit 2, nothing on stdout, the reason alone on stderr, no usage line.
# ARGS are what TOOL needs besides (a stream name, a destination).
check_config_error() {
	local t=$1
	shift
	need_tool "$t"
	run --separate-stderr "$BIN" "$@" --dead-letter "$BATS_TEST_TMPDIR/no/such/dir/dead" </dev/null
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" "$t: $BATS_TEST_TMPDIR/no/such/dir/dead: No such file or directory"
}

@test "every tool in tools/*.c has tests in manpages.bats" {
	local f t missing=()
	for f in "$KP_ROOT"/tools/*.c; do
		t=$(basename "$f" .c)
		[[ " ${TOOLS[*]} " == *" $t "* ]] || missing+=("$t")
	done
	if ((${#missing[@]})); then
		echo "tools without man page tests (add them to TOOLS and as" \
		    "@test blocks): ${missing[*]}" >&2
		return 1
	fi
}

@test "every page in man/man1 is the page of a tool or of a script" {
	local p t orphans=()
	for p in "$KP_ROOT"/man/man1/*.1; do
		[[ -e $p ]] || continue
		t=$(basename "$p" .1)
		if [[ $t == kinpipe-* ]]; then
			[[ " ${SCRIPTS[*]} " == *" ${t#kinpipe-} "* ]] ||
			    orphans+=("$t")
		else
			[[ -f $KP_ROOT/tools/$t.c ]] || orphans+=("$t")
		fi
	done
	if ((${#orphans[@]})); then
		echo "pages without a tools/<tool>.c or a pipelines/<name> in SCRIPTS: ${orphans[*]}" >&2
		return 1
	fi
}

@test "every script in pipelines/ has tests in manpages.bats (or is in INTERNAL)" {
	local f n missing=()
	for f in "$KP_ROOT"/pipelines/*; do
		[[ -f $f && -x $f ]] || continue
		n=$(basename "$f")
		[[ " ${SCRIPTS[*]} ${INTERNAL[*]} " == *" $n "* ]] ||
		    missing+=("$n")
	done
	if ((${#missing[@]})); then
		echo "scripts without man page tests (add them to SCRIPTS and as" \
		    "@test blocks, or to INTERNAL): ${missing[*]}" >&2
		return 1
	fi
}

@test "kin-put(1): mandoc -Tlint clean" { check_lint kin-put; }
@test "kin-put(1): --help options and OPTIONS agree" { check_options kin-put; }
@test "kin-put(1): SYNOPSIS is the USAGE line" { check_synopsis kin-put; }
@test "kin-put: a usage error exits 2 with 'kin-put: reason' and the usage line" { check_usage_error kin-put; }
@test "kin-put(1): sections" { need_tool kin-put; check_sections "$PAGE" "${SECTIONS[@]}"; }
@test "kin-put: --version and --help" { check_version kin-put; }
@test "kin-put: a configuration error exits 2 with the reason alone" { check_config_error kin-put --stream s; }

@test "kin-read(1): mandoc -Tlint clean" { check_lint kin-read; }
@test "kin-read(1): --help options and OPTIONS agree" { check_options kin-read; }
@test "kin-read(1): SYNOPSIS is the USAGE line" { check_synopsis kin-read; }
@test "kin-read: a usage error exits 2 with 'kin-read: reason' and the usage line" { check_usage_error kin-read; }
@test "kin-read(1): sections" { need_tool kin-read; check_sections "$PAGE" "${SECTIONS[@]}"; }
@test "kin-read: --version and --help" { check_version kin-read; }
@test "kin-read: a configuration error exits 2 with the reason alone" { check_config_error kin-read --stream s; }

@test "window-stats(1): mandoc -Tlint clean" { check_lint window-stats; }
@test "window-stats(1): --help options and OPTIONS agree" { check_options window-stats; }
@test "window-stats(1): SYNOPSIS is the USAGE line" { check_synopsis window-stats; }
@test "window-stats: a usage error exits 2 with 'window-stats: reason' and the usage line" { check_usage_error window-stats; }
@test "window-stats(1): sections" { need_tool window-stats; check_sections "$PAGE" "${SECTIONS[@]}"; }
@test "window-stats: --version and --help" { check_version window-stats; }
@test "window-stats: a configuration error exits 2 with the reason alone" { check_config_error window-stats; }

@test "sigma-flag(1): mandoc -Tlint clean" { check_lint sigma-flag; }
@test "sigma-flag(1): --help options and OPTIONS agree" { check_options sigma-flag; }
@test "sigma-flag(1): SYNOPSIS is the USAGE line" { check_synopsis sigma-flag; }
@test "sigma-flag: a usage error exits 2 with 'sigma-flag: reason' and the usage line" { check_usage_error sigma-flag; }
@test "sigma-flag(1): sections" { need_tool sigma-flag; check_sections "$PAGE" "${SECTIONS[@]}"; }
@test "sigma-flag: --version and --help" { check_version sigma-flag; }
@test "sigma-flag: a configuration error exits 2 with the reason alone" { check_config_error sigma-flag; }

@test "s3-put(1): mandoc -Tlint clean" { check_lint s3-put; }
@test "s3-put(1): --help options and OPTIONS agree" { check_options s3-put; }
@test "s3-put(1): SYNOPSIS is the USAGE line" { check_synopsis s3-put; }
@test "s3-put: a usage error exits 2 with 's3-put: reason' and the usage line" { check_usage_error s3-put; }
@test "s3-put(1): sections" { need_tool s3-put; check_sections "$PAGE" "${SECTIONS[@]}"; }
@test "s3-put: --version and --help" { check_version s3-put; }
@test "s3-put: a configuration error exits 2 with the reason alone" { check_config_error s3-put "$BATS_TEST_TMPDIR/dest"; }

@test "kinpipe(7): mandoc -Tlint clean" {
	local page=$KP_ROOT/man/man7/kinpipe.7
	[[ -f $page ]] || {
		echo "no man/man7/kinpipe.7" >&2
		return 1
	}
	run mandoc -Tlint -Wwarning "$page"
	if [[ -n $output || $status -ne 0 ]]; then
		printf '%s\n' "$output" >&2
		return 1
	fi
}

@test "kinpipe(7): sections" {
	local page=$KP_ROOT/man/man7/kinpipe.7
	[[ -f $page ]] || {
		echo "no man/man7/kinpipe.7" >&2
		return 1
	}
	check_sections "$page" "${SECTIONS7[@]}"
}

# A configuration error of a script: exit 2, nothing on stdout, the reason
# alone on stderr (one line, "kinpipe-NAME: ..."), no usage line.
# ARGS are the script's; the environment of the call is the caller's.
check_script_config_error() {
	local t=$1
	shift
	need_tool "$t"
	run --separate-stderr "$BIN" "$@" </dev/null
	assert_failure 2
	assert_output ''
	[[ $stderr == "$t: "* ]]
	[[ $stderr != *"usage: "* ]]
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 1
}

@test "kinpipe-producer(1): mandoc -Tlint clean" { check_lint kinpipe-producer; }
@test "kinpipe-producer(1): --help options and OPTIONS agree" { check_options kinpipe-producer; }
@test "kinpipe-producer(1): SYNOPSIS is the USAGE line" { check_synopsis kinpipe-producer; }
@test "kinpipe-producer: a usage error exits 2 with 'kinpipe-producer: reason' and the usage line" { check_usage_error kinpipe-producer; }
@test "kinpipe-producer(1): sections" { need_tool kinpipe-producer; check_sections "$PAGE" "${SECTIONS1S[@]}"; }
@test "kinpipe-producer: --version and --help" { check_version kinpipe-producer; }
@test "kinpipe-producer: a configuration error exits 2 with the reason alone" {
	check_script_config_error kinpipe-producer --stream s "$BATS_TEST_TMPDIR/no/such/file"
	assert_equal "$stderr" "kinpipe-producer: $BATS_TEST_TMPDIR/no/such/file: No such file or directory"
}

@test "kinpipe-processor(1): mandoc -Tlint clean" { check_lint kinpipe-processor; }
@test "kinpipe-processor(1): --help options and OPTIONS agree" { check_options kinpipe-processor; }
@test "kinpipe-processor(1): SYNOPSIS is the USAGE line" { check_synopsis kinpipe-processor; }
@test "kinpipe-processor: a usage error exits 2 with 'kinpipe-processor: reason' and the usage line" { check_usage_error kinpipe-processor; }
@test "kinpipe-processor(1): sections" { need_tool kinpipe-processor; check_sections "$PAGE" "${SECTIONS1S[@]}"; }
@test "kinpipe-processor: --version and --help" { check_version kinpipe-processor; }
@test "kinpipe-processor: a configuration error exits 2 with the reason alone" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	KINPIPE_BIN=$BATS_TEST_TMPDIR/bin check_script_config_error \
	    kinpipe-processor --stream s --dest "$BATS_TEST_TMPDIR/out" \
	    --checkpoint-dir "$BATS_TEST_TMPDIR/ck"
	assert_equal "$stderr" "kinpipe-processor: $BATS_TEST_TMPDIR/bin/kin-read: no such program (KINPIPE_BIN=$BATS_TEST_TMPDIR/bin)"
	[[ ! -e $BATS_TEST_TMPDIR/ck ]]
}

@test "kinpipe-replay-batch(1): mandoc -Tlint clean" { check_lint kinpipe-replay-batch; }
@test "kinpipe-replay-batch(1): --help options and OPTIONS agree" { check_options kinpipe-replay-batch; }
@test "kinpipe-replay-batch(1): SYNOPSIS is the USAGE line" { check_synopsis kinpipe-replay-batch; }
@test "kinpipe-replay-batch: a usage error exits 2 with 'kinpipe-replay-batch: reason' and the usage line" { check_usage_error kinpipe-replay-batch; }
@test "kinpipe-replay-batch(1): sections" { need_tool kinpipe-replay-batch; check_sections "$PAGE" "${SECTIONS1S[@]}"; }
@test "kinpipe-replay-batch: --version and --help" { check_version kinpipe-replay-batch; }
@test "kinpipe-replay-batch: a configuration error exits 2 with the reason alone" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	KINPIPE_BIN=$BATS_TEST_TMPDIR/bin check_script_config_error \
	    kinpipe-replay-batch --stream s --dest "$BATS_TEST_TMPDIR/out" \
	    --checkpoint-dir "$BATS_TEST_TMPDIR/ck"
	assert_equal "$stderr" "kinpipe-replay-batch: $BATS_TEST_TMPDIR/bin/kin-read: no such program (KINPIPE_BIN=$BATS_TEST_TMPDIR/bin)"
}

@test "kinpipe-demo(1): mandoc -Tlint clean" { check_lint kinpipe-demo; }
@test "kinpipe-demo(1): --help options and OPTIONS agree" { check_options kinpipe-demo; }
@test "kinpipe-demo(1): SYNOPSIS is the USAGE line" { check_synopsis kinpipe-demo; }
@test "kinpipe-demo: a usage error exits 2 with 'kinpipe-demo: reason' and the usage line" { check_usage_error kinpipe-demo; }
@test "kinpipe-demo(1): sections" { need_tool kinpipe-demo; check_sections "$PAGE" "${SECTIONS1S[@]}"; }
@test "kinpipe-demo: --version and --help" { check_version kinpipe-demo; }
@test "kinpipe-demo: a configuration error exits 2 with the reason alone" {
	mkdir -p "$BATS_TEST_TMPDIR/keep"
	touch "$BATS_TEST_TMPDIR/keep/something"
	check_script_config_error kinpipe-demo --keep "$BATS_TEST_TMPDIR/keep"
	assert_equal "$stderr" "kinpipe-demo: $BATS_TEST_TMPDIR/keep: not empty (the demo starts from nothing)"
}
