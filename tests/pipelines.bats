#!/usr/bin/env bats
# The scripts of pipelines/ that users run (producer, processor,
# replay-batch, demo) against the local stack: what they send, commit and
# write, how they stop, resume and refuse to overlap; shellcheck; make
# install.  Their --help, usage errors and man pages: manpages.bats.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	kp_stack_start kinesis s3
	local d=$BATS_FILE_TMPDIR
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" >"$d/market.ndjson"
	# 20,000 trades: a little over three minutes of six markets.
	head -n 20000 "$d/market.ndjson" >"$d/slice.ndjson"
	kp_admin create-bucket out >/dev/null
}

teardown_file() {
	kp_stack_stop
}

setup() {
	# The scripts run the tools of the build under test.
	export KINPIPE_BIN=$KP_BUILD_DIR/bin
	P=$KP_ROOT/pipelines
	D=$BATS_TEST_TMPDIR
}

# A script a test left running (it failed midway) is stopped.
teardown() {
	local pid
	for pid in ${BG_PIDS:-}; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in ${BG_PIDS:-}; do
		wait "$pid" 2>/dev/null || true
	done
}

# s3_lines BUCKET PREFIX: every line of every object under PREFIX, sorted
# (a multiset of records).  The keys come from ListObjectsV2; the bytes from
# s3rver's store, the files it serves GetObject from (one node process per
# object would cost seconds).
s3_lines() {
	local key
	s3_keys "$1" "$2" | while read -r key; do
		cat "$KP_STACK_DIR/s3/$1/$key._S3rver_object"
	done | LC_ALL=C sort
}

# s3_keys BUCKET PREFIX: the keys, one a line.
s3_keys() {
	kp_admin list-objects "$1" "$2" | jq -r '.Objects[].Key'
}

# expected FILE SIGMA: what the reference job writes for FILE read whole,
# without checkpoints (every window fires at the end), sorted.
expected() {
	window-stats --key-field symbol --time-field timestamp \
	    --value-field price --size 1m --emit records <"$1" |
	    sigma-flag --sigma "$2" | LC_ALL=C sort
}

# wait_for SECONDS CMD...: until CMD succeeds.  SECONDS bounds a hang; it is
# not a timing assertion.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		if ((SECONDS >= end)); then
			echo "gave up waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# stats_has FILE JQ: FILE exists and JQ holds for it.
stats_has() {
	[[ -s $1 ]] && jq -e "$2" "$1" >/dev/null
}

# new_stream PREFIX SHARDS: creates a stream, prints its name.
new_stream() {
	local s
	s=$(kp_unique_name "$1")
	kp_admin create-stream "$s" "$2" >/dev/null
	printf '%s\n' "$s"
}

# ---- producer ----

@test "producer: a plain file, a gzip file and standard input (plain or gzip) all reach the stream, keyed by symbol" {
	local s
	s=$(new_stream prod 2)
	sed -n '1,300p' "$BATS_FILE_TMPDIR/market.ndjson" >"$D/a.ndjson"
	sed -n '301,600p' "$BATS_FILE_TMPDIR/market.ndjson" | gzip >"$D/b.gz"
	sed -n '601,900p' "$BATS_FILE_TMPDIR/market.ndjson" | gzip >"$D/c.gz"
	sed -n '901,1200p' "$BATS_FILE_TMPDIR/market.ndjson" >"$D/d.ndjson"
	run -0 "$P/producer" --stream "$s" "$D/a.ndjson"
	# a gzip file whose name does not say so
	run -0 "$P/producer" --stream "$s" --stats "$D/stats.json" "$D/b.gz"
	assert_equal "$(jq .records_out "$D/stats.json")" 300
	run -0 "$P/producer" --stream "$s" - <"$D/c.gz"
	KINPIPE_STREAM=$s run -0 "$P/producer" - <"$D/d.ndjson"
	kin-read --stream "$s" | LC_ALL=C sort >"$D/got"
	head -n 1200 "$BATS_FILE_TMPDIR/market.ndjson" | LC_ALL=C sort >"$D/want"
	diff "$D/want" "$D/got"
	run -0 kp_admin get-records "$s"
	assert_equal "$(jq -s 'map(select(.PartitionKey != (.Data | fromjson).symbol)) | length' <<<"$output")" 0
}

@test "producer --speed: every record, each symbol's in order" {
	local s sym
	s=$(new_stream pace 4)
	head -n 2000 "$BATS_FILE_TMPDIR/market.ndjson" >"$D/in"
	run -0 "$P/producer" --stream "$s" --speed 1000 "$D/in"
	kin-read --stream "$s" >"$D/got"
	assert_equal "$(wc -l <"$D/got")" 2000
	for sym in $(jq -r .symbol "$D/in" | sort -u); do
		diff <(jq -c --arg s "$sym" 'select(.symbol == $s)' "$D/in") \
		    <(jq -c --arg s "$sym" 'select(.symbol == $s)' "$D/got")
	done
}

@test "producer: damaged gzip input exits 1 after sending what came before; a rejected line exits 3" {
	local s size
	s=$(new_stream bad 1)
	# a wrong CRC: gzip writes every line, then fails
	head -n 1000 "$BATS_FILE_TMPDIR/market.ndjson" | gzip >"$D/bad.gz"
	size=$(stat -c %s "$D/bad.gz")
	printf 'XXXX' | dd of="$D/bad.gz" bs=1 seek=$((size - 8)) conv=notrunc \
	    status=none
	run --separate-stderr "$P/producer" --stream "$s" "$D/bad.gz"
	assert_failure 1
	[[ $stderr == *"kinpipe-producer: $D/bad.gz: not read to its end"* ]]
	assert_equal "$(kin-read --stream "$s" | wc -l)" 1000
	printf '{"symbol":"A","price":1}\nnot json\n{"symbol":"B","price":2}\n' \
	    >"$D/mixed"
	run --separate-stderr "$P/producer" --stream "$s" "$D/mixed"
	assert_failure 3
	[[ $stderr == *"kin-put: "*":2: "* ]]
	assert_equal "$(kin-read --stream "$s" | wc -l)" 1002
}

# ---- processor ----

# start_processor ARGS...: pipelines/processor in the background, its
# stdout and stderr in $D/proc.out and $D/proc.err; sets PROC.
start_processor() {
	"$P/processor" "$@" >>"$D/proc.out" 2>>"$D/proc.err" &
	PROC=$!
	BG_PIDS="${BG_PIDS:-} $PROC"
}

@test "processor: SIGTERM commits the final barrier and exits 0; a restart reads only the new records; no loss, no duplicate" {
	local s half=$BATS_FILE_TMPDIR/slice.ndjson rc=0 id barrier
	s=$(new_stream proc 2)
	head -n 10000 "$half" | "$P/producer" --stream "$s" -
	start_processor --stream "$s" --dest s3://out/proc/ \
	    --checkpoint-dir "$D/ck" --checkpoint-interval 300ms \
	    --stats "$D/stats.json"
	wait_for 60 stats_has "$D/stats.json" '.records_in == 10000'
	kill -TERM "$PROC"
	wait "$PROC" || rc=$?
	assert_equal "$rc" 0
	# the final barrier of kin-read is the commit
	run -0 jq -c '[.running, .stages["kin-read"].stats.barrier,
	    .checkpoint_id, [.stages[].exit]]' "$D/stats.json"
	barrier=$(jq '.stages["kin-read"].stats.barrier' "$D/stats.json")
	assert_output "[false,$barrier,$barrier,[0,0,0,0]]"
	assert_equal "$(jq .id "$D/ck/commit.json")" "$barrier"

	# the second half; the restart resumes after the commit
	tail -n +10001 "$half" | "$P/producer" --stream "$s" -
	rm "$D/stats.json"
	start_processor --stream "$s" --dest s3://out/proc/ \
	    --checkpoint-dir "$D/ck" --checkpoint-interval 300ms \
	    --stats "$D/stats.json"
	wait_for 60 stats_has "$D/stats.json" '.records_in >= 10000'
	kill -TERM "$PROC"
	rc=0
	wait "$PROC" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(jq .records_in "$D/stats.json")" 10000
	id=$(jq .id "$D/ck/commit.json")
	[ "$id" -gt "$barrier" ]
	assert_equal "$(jq .checkpoint_id "$D/stats.json")" "$id"

	# the stream is over: what stayed open fires; S3 then holds what one
	# run over everything without checkpoints writes, each record once
	run -0 "$P/replay-batch" --stream "$s" --dest s3://out/proc/ \
	    --checkpoint-dir "$D/ck" --final
	printf '%s\n' "$output" >>"$D/proc.out"
	expected "$half" 3 >"$D/want"
	[ "$(wc -l <"$D/want")" -gt 0 ]
	diff "$D/want" <(s3_lines out proc/)
	# standard output: one line per object written, no control line
	assert_equal "$(jq -r .uri "$D/proc.out" | sort)" \
	    "$(s3_keys out proc/ | sed 's|^|s3://out/|' | sort)"
	! grep -q '__kinpipe' "$D/proc.out"
}

@test "processor: Ctrl-C (SIGINT to its process group) ends with a final commit and exit 0; environment config; --stats valid at every read, replaced by rename" {
	local s rc=0 reads=0 versions=() t ino inodes=() pgid
	s=$(new_stream int 2)
	head -n 3000 "$BATS_FILE_TMPDIR/market.ndjson" |
	    "$P/producer" --stream "$s" -
	# what a systemd EnvironmentFile holds; the flag wins over the
	# variable's bad value
	printf 'KINPIPE_STREAM=%s\nKINPIPE_DEST=s3://out/int/\nKINPIPE_CHECKPOINT_DIR=%s\nKINPIPE_SIGMA=not-a-number\nKINPIPE_STATS=%s\n' \
	    "$s" "$D/ck" "$D/stats.json" >"$D/env"
	(
		set -a
		. "$D/env"
		exec setsid "$P/processor" --sigma 2 --checkpoint-interval 300ms
	) >"$D/proc.out" 2>"$D/proc.err" &
	PROC=$!
	BG_PIDS=$PROC
	# Every read is a whole object, and a new version is a new file (a
	# rename; the next version's file is made while this one exists, so
	# the two have different inodes).  Inode and content from one open.
	local fd last=''
	while ((${#versions[@]} < 3)); do
		if exec {fd}<"$D/stats.json"; then
			ino=$(stat -L -c %i "/dev/fd/$fd")
			t=$(jq -er 'select(.tool == "kinpipe-processor"
			    and (.stages | keys | length) == 4) | .time' \
			    <&"$fd") || fail "read $reads: not a whole stats object"
			exec {fd}<&-
			reads=$((reads + 1))
			if [[ $t != "$last" ]]; then
				last=$t
				versions+=("$t")
				inodes+=("$ino")
			fi
		fi 2>/dev/null
		((reads < 100000)) || fail "no new stats version"
	done
	[ "${inodes[0]}" != "${inodes[1]}" ]
	[ "${inodes[1]}" != "${inodes[2]}" ]
	wait_for 60 stats_has "$D/stats.json" '.records_in == 3000'
	pgid=$(ps -o pgid= -p "$PROC" | tr -d ' ')
	assert_equal "$pgid" "$PROC"
	kill -INT -- "-$pgid"
	wait "$PROC" || rc=$?
	assert_equal "$rc" 0
	assert_equal "$(cat "$D/proc.err")" ''
	run -0 jq -c '{running, records_in, lag_ms, job, stream,
	    ok: (.checkpoint_id == .stages["kin-read"].stats.barrier),
	    exits: [.stages[].exit],
	    age: (.checkpoint_age_ms | type), ms: (.uptime_ms | type)}' \
	    "$D/stats.json"
	assert_output "{\"running\":false,\"records_in\":3000,\"lag_ms\":0,\"job\":\"$s\",\"stream\":\"$s\",\"ok\":true,\"exits\":[0,0,0,0],\"age\":\"number\",\"ms\":\"number\"}"
	assert_equal "$(jq .id "$D/ck/commit.json")" \
	    "$(jq .checkpoint_id "$D/stats.json")"
	# per stage: what went in and out
	run -0 jq -c '[.stages[] | [.records_in, .records_out]]' "$D/stats.json"
	local f
	f=$(jq .flagged "$D/stats.json")
	[[ $output == "[[3000,3000],[3000,"*"],["*",$f],[$f,null]]" ]]
}

@test "processor: a stage's configuration error stops the job with status 2 and says which stage" {
	local s rc=0
	s=$(new_stream cfg 1)
	head -n 500 "$BATS_FILE_TMPDIR/market.ndjson" | "$P/producer" --stream "$s" -
	run -0 "$P/replay-batch" --stream "$s" --dest s3://out/cfg/ \
	    --checkpoint-dir "$D/ck" --size 1m
	# the checkpoint holds 1-minute windows: 2-minute ones are refused
	run --separate-stderr "$P/processor" --stream "$s" --dest s3://out/cfg/ \
	    --checkpoint-dir "$D/ck" --size 2m
	assert_failure 2
	[[ $stderr == *"kinpipe-processor: window-stats exited with status 2"* ]]
}

# ---- replay-batch ----

@test "replay-batch: a run while another holds the lock exits 1 at once, naming the lock" {
	local s fd
	s=$(new_stream lock 1)
	head -n 100 "$BATS_FILE_TMPDIR/market.ndjson" | "$P/producer" --stream "$s" -
	mkdir "$D/ck"
	exec {fd}>"$D/ck/.pipeline.lock"
	flock -n "$fd"
	run --separate-stderr "$P/replay-batch" --stream "$s" \
	    --dest s3://out/lock/ --checkpoint-dir "$D/ck"
	exec {fd}>&-
	assert_failure 1
	assert_output ''
	assert_equal "$stderr" "kinpipe-replay-batch: $D/ck/.pipeline.lock: locked by another run on this checkpoint directory (a replay-batch or processor still running): not started"
	[[ ! -e $D/ck/commit.json ]]
	# released: it runs
	run -0 "$P/replay-batch" --stream "$s" --dest s3://out/lock/ \
	    --checkpoint-dir "$D/ck"
	[[ -e $D/ck/commit.json ]]
}

@test "replay-batch: a run with no new data writes no object" {
	local s
	s=$(new_stream idle 2)
	head -n 20000 "$BATS_FILE_TMPDIR/market.ndjson" | "$P/producer" --stream "$s" -
	run -0 "$P/replay-batch" --stream "$s" --dest s3://out/idle/ \
	    --checkpoint-dir "$D/ck" --sigma 2
	[ -n "$output" ]
	s3_keys out idle/ >"$D/keys1"
	[ -s "$D/keys1" ]
	run -0 "$P/replay-batch" --stream "$s" --dest s3://out/idle/ \
	    --checkpoint-dir "$D/ck" --sigma 2 --stats "$D/stats.json"
	assert_output ''
	diff "$D/keys1" <(s3_keys out idle/)
	run -0 jq -c '[.records_in, .objects, .checkpoint_id]' "$D/stats.json"
	assert_output '[0,0,2]'
}

@test "replay-batch: batch cut anywhere gives what one run over everything gives, then with --final too" {
	local a b all=$BATS_FILE_TMPDIR/slice.ndjson from=1 to n inside=0
	a=$(new_stream cuts 4)
	b=$(new_stream whole 4)
	# arbitrary cuts, one of a single record; most fall inside a minute
	for to in 3137 9001 9002 15555 20000; do
		sed -n "${from},${to}p" "$all" | "$P/producer" --stream "$a" -
		run -0 "$P/replay-batch" --stream "$a" --dest s3://out/cuts/ \
		    --checkpoint-dir "$D/ck-a" --sigma 2
		if ((to < 20000)) && [[ $(sed -n "${to}p" "$all" | jq -r '.timestamp[:16]') == \
		    $(sed -n "$((to + 1))p" "$all" | jq -r '.timestamp[:16]') ]]; then
			inside=$((inside + 1))
		fi
		from=$((to + 1))
	done
	[ "$inside" -ge 3 ]
	"$P/producer" --stream "$b" "$all"
	run -0 "$P/replay-batch" --stream "$b" --dest s3://out/whole/ \
	    --checkpoint-dir "$D/ck-b" --sigma 2
	s3_lines out cuts/ >"$D/cuts"
	s3_lines out whole/ >"$D/whole"
	n=$(wc -l <"$D/whole")
	[ "$n" -gt 20 ]
	diff "$D/whole" "$D/cuts"
	# the stream is over: the windows left open fire, alike
	run -0 "$P/replay-batch" --stream "$a" --dest s3://out/cuts/ \
	    --checkpoint-dir "$D/ck-a" --sigma 2 --final
	run -0 "$P/replay-batch" --stream "$b" --dest s3://out/whole/ \
	    --checkpoint-dir "$D/ck-b" --sigma 2 --final
	s3_lines out cuts/ >"$D/cuts"
	s3_lines out whole/ >"$D/whole"
	[ "$(wc -l <"$D/whole")" -gt "$n" ]
	diff "$D/whole" "$D/cuts"
	# and that is the reference job over the file
	diff <(expected "$all" 2) "$D/whole"
}

# ---- demo ----

@test "demo: runs end to end; six symbol lines that agree with S3; a PNG chart; no server left" {
	local out sym trades anomalies total=0 png=$D/keep/chart.png pid
	run --separate-stderr "$P/demo" --keep "$D/keep" --chart "$png"
	printf '%s\n' "$output" "$stderr" | tail -n 40
	assert_success
	# the servers it started are gone
	while read -r _ pid _; do
		[[ ! -e /proc/$pid ]] ||
		    [[ $(awk '{ print $3 }' "/proc/$pid/stat") == Z ]]
	done <"$D/keep/stack/servers"
	# what S3 holds, from s3rver's store, by symbol
	find "$D/keep/stack/s3/anomalies/trades" -name '*._S3rver_object' \
	    -exec cat {} + | jq -r .symbol | sort | uniq -c >"$D/s3.count"
	out=$(grep -E '^   [A-Z_.]+ +[0-9]+ trades +[0-9]+ anomalies$' <<<"$output")
	assert_equal "$(wc -l <<<"$out")" 6
	while read -r sym trades _ anomalies _; do
		total=$((total + trades))
		assert_equal "$anomalies" \
		    "$(awk -v s="$sym" '$2 == s { print $1 }' "$D/s3.count" | grep . || echo 0)"
		assert_equal "$trades" \
		    "$(grep -c "\"symbol\":\"$sym\"" "$BATS_FILE_TMPDIR/market.ndjson")"
	done <<<"$out"
	assert_equal "$total" 78638
	assert_line --regexp "^   $(awk '{ n += $1 } END { print n }' "$D/s3.count") anomalies in S3; sigma-flag flagged [0-9]+$"
	assert_line "   $(find "$D/keep/stack/s3/anomalies/trades" -name '*._S3rver_object' | wc -l) objects"
	assert_line "   $png"
	assert_equal "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a
	[ "$(stat -c %s "$png")" -gt 20000 ]
}

# ---- shell and install ----

@test "shellcheck: the scripts of pipelines/ are clean" {
	command -v shellcheck >/dev/null ||
	    skip "shellcheck is not installed (make deps installs it)"
	run shellcheck -x "$P/producer" "$P/processor" "$P/replay-batch" \
	    "$P/demo" "$P/deps" "$P/localstack" "$P/lib/kinpipe.bash"
	assert_success
	assert_output ''
}

@test "make install: the scripts as kinpipe-NAME, their library, their pages (not the demo's); they find the installed tools; uninstall removes them" {
	local prefix=$D/prefix s
	run -0 make -C "$KP_ROOT" install PREFIX="$prefix"
	for s in producer processor replay-batch; do
		[[ -L $prefix/bin/kinpipe-$s ]]
		assert_equal "$(readlink "$prefix/bin/kinpipe-$s")" \
		    "../libexec/kinpipe/$s"
		[[ -f $prefix/share/man/man1/kinpipe-$s.1 ]]
		run -0 "$prefix/bin/kinpipe-$s" --version
		assert_output "kinpipe-$s $(sed -n 's/^VERSION *= *//p' "$KP_ROOT/Makefile")"
	done
	[[ ! -e $prefix/share/man/man1/kinpipe-demo.1 ]]
	[[ ! -e $prefix/bin/kinpipe-demo ]]
	grep -qx "KP_INSTALLED_BIN=$prefix/bin" \
	    "$prefix/libexec/kinpipe/lib/kinpipe.bash"
	# without KINPIPE_BIN or the tools on PATH, it runs the installed ones
	s=$(new_stream inst 1)
	head -n 200 "$BATS_FILE_TMPDIR/market.ndjson" >"$D/in"
	env -u KINPIPE_BIN PATH=/usr/bin:/bin \
	    "$prefix/bin/kinpipe-producer" --stream "$s" "$D/in"
	run -0 env -u KINPIPE_BIN PATH=/usr/bin:/bin \
	    "$prefix/bin/kinpipe-replay-batch" --stream "$s" \
	    --dest "$D/objects" --checkpoint-dir "$D/ck" --final --sigma 1
	[ -s "$D/ck/commit.json" ]
	# a DESTDIR install puts the same tree under DESTDIR
	run -0 make -C "$KP_ROOT" install DESTDIR="$D/stage" PREFIX=/usr
	[[ -x $D/stage/usr/bin/kinpipe-processor ]]
	run -0 "$D/stage/usr/bin/kinpipe-processor" --help
	grep -qx "KP_INSTALLED_BIN=/usr/bin" \
	    "$D/stage/usr/libexec/kinpipe/lib/kinpipe.bash"
	run -0 make -C "$KP_ROOT" uninstall DESTDIR="$D/stage" PREFIX=/usr
	run -0 find "$D/stage" -type f -o -type l
	assert_output ''
}

@test "ASan: replay-batch twice on the sanitizer build, the second run with nothing new" {
	local s
	[[ -x $KP_ROOT/build-asan/bin/s3-put ]] || {
		echo "no build-asan/bin: run make asan" >&2
		return 1
	}
	export KINPIPE_BIN=$KP_ROOT/build-asan/bin
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	s=$(new_stream asan 2)
	"$P/producer" --stream "$s" "$BATS_FILE_TMPDIR/slice.ndjson"
	run --separate-stderr "$P/replay-batch" --stream "$s" \
	    --dest s3://out/asan/ --checkpoint-dir "$D/ck" --sigma 2 --final
	assert_success
	assert_equal "$stderr" ''
	[ -n "$output" ]
	run --separate-stderr "$P/replay-batch" --stream "$s" \
	    --dest s3://out/asan/ --checkpoint-dir "$D/ck" --sigma 2 --final
	assert_success
	assert_equal "$stderr" ''
	assert_output ''
}
