#!/usr/bin/env bats
#
# Faults under load, the server itself: each AWS tool moves FAULTS_RECORDS
# records (default 5,000, to keep make check short: the proxy's faults of
# tests/faults.bats take its share; `make faults`: 100,000) while its server is
# killed with SIGKILL, as a crash would, and started again on the same port
# with its data kept (tests/lib/srv: kinesalite backed by LevelDB, s3rver
# on files).  The kill happens at an exact line: an awk filter in the
# tool's pipe calls `srv kill` when that line passes, and the server
# stays away 2 s (connections refused) while the tool goes on.
#
# Each test proves: nothing lost, no duplicate (for PutRecords, which is
# not idempotent: none beyond those kin-put counted and reported on
# stderr), the exit status, and peak memory under a bound (/usr/bin/time;
# a bound, never a time).  The last two keep the server away for longer
# than the retry budget: the exit status says so, the message says which
# records, and nothing is lost either (the dead-letter file, the spool for
# the next run).  The figures go to $FAULTS_REPORT when set (`make faults`).

bats_require_minimum_version 1.5.0

load helpers
load lib/faults

B=faults

setup_file() {
	local n=${FAULTS_RECORDS:-5000}
	faults_input "$n" "$BATS_FILE_TMPDIR/in"
}

setup() {
	T=$BATS_TEST_TMPDIR
	IN=$BATS_FILE_TMPDIR/in
	N=$(wc -l <"$IN")
	S=$(kp_unique_name restart)
	SRV=$KP_ROOT/tests/lib/srv
	D=$T/server
	BG=
}

teardown() {
	if [[ -n $BG ]]; then
		kill "$BG" 2>/dev/null || true
		wait "$BG" 2>/dev/null || true
	fi
	# A restart still under way in the background ends first.
	if grep -qx restarting "$D/events" 2>/dev/null; then
		wait_started 2>/dev/null || true
	fi
	"$SRV" stop "$D"
}

# wait_started: the background restart is over (DIR/events says started);
# fails at once if the server was never killed (the tool ended before).
wait_started() {
	local i
	[[ -s $D/events ]] || {
		echo "the server was never killed: the tool ended first" >&2
		return 1
	}
	for ((i = 0; i < 600; i++)); do
		grep -qx started "$D/events" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "the server was not started again" >&2
	return 1
}

# kill_at LINE [SECONDS]: an awk filter that passes its input through and,
# when LINE passes, kills the server (before the next line goes on, so
# that the tool meets the dead server) and starts it again SECONDS
# (default 2) later, in the background; with SECONDS "never", kills it
# for good.
kill_at() {
	local what
	if [[ ${2:-2} == never ]]; then
		what="'$SRV' kill '$D'"
	else
		what="echo restarting >>'$D/events'; '$SRV' kill '$D' >/dev/null 2>&1;
		    { sleep ${2:-2}; '$SRV' start $NAME '$D' >/dev/null 2>&1 &&
		    echo started >>'$D/events'; } </dev/null >/dev/null 2>&1 &"
	fi
	awk -v k="$1" -v cmd="$what" '{ print } NR == k { fflush(); system(cmd) }'
}


kinesis_up() {
	NAME=kinesalite
	AWS_ENDPOINT_URL_KINESIS=$("$SRV" start kinesalite "$D")
	export AWS_ENDPOINT_URL_KINESIS
	kp_admin create-stream "$S" 4 >/dev/null
}

s3_up() {
	NAME=s3rver
	AWS_ENDPOINT_URL_S3=$("$SRV" start s3rver "$D")
	export AWS_ENDPOINT_URL_S3
	kp_admin create-bucket "$B" >/dev/null
}

@test "kin-put: Kinesis killed and restarted mid-run: every record stored, duplicates only where counted, bounded memory" {
	[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
	kinesis_up
	rc=0
	kill_at $((N / 3)) <"$IN" |
	    /usr/bin/time -f %M -o "$T/rss" kin-put --stream "$S" --partition-key-field symbol \
	    --max-batch-records 100 --stats "$T/stats.json" 2>"$T/err" || rc=$?
	cat "$T/err"
	wait_started
	assert_equal "$rc" 0
	kin-read --stream "$S" >"$T/back"
	[ -z "$(comm -23 <(sort "$IN") <(sort "$T/back"))" ]
	dups=$(($(wc -l <"$T/back") - N))
	resent=$(jq .resent "$T/stats.json")
	retried=$(jq .retried "$T/stats.json")
	echo "retried $retried, resent $resent, stored twice $dups"
	# The server was away: records were retried; any stored twice were
	# counted, and said.
	((retried > 0))
	((dups >= 0 && dups <= resent))
	if ((resent > 0)); then
		grep -q "$resent records were sent again after a request whose answer was lost" "$T/err"
	fi
	rss_under 64
	report "kin-put | $N records, 4 shards | kinesalite SIGKILLed at record $((N / 3)), 2 s refused, restarted | $retried records retried; $resent resent, $dups stored twice | $RSS_KB | 0"
}

@test "kin-read: Kinesis killed and restarted mid-read: every record read exactly once, bounded memory" {
	[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
	kinesis_up
	kin-put --stream "$S" --partition-key-field symbol <"$IN"
	rc=0
	/usr/bin/time -f %M -o "$T/rss" kin-read --stream "$S" --limit 1000 \
	    --stats "$T/stats.json" 2>"$T/err" | kill_at $((N / 3)) >"$T/back" ||
	    rc=$?
	cat "$T/err"
	wait_started
	assert_equal "$rc" 0
	# The server was away while kin-read still had records to read.
	grep -q "Couldn't connect to server; retry" "$T/err"
	cmp <(sort "$IN") <(sort "$T/back")
	rss_under 64
	report "kin-read | $N records, 4 shards | kinesalite SIGKILLed after record $((N / 3)) was read, 2 s refused, restarted | $(grep -c retry "$T/err") retries; 0 lost, 0 duplicates | $RSS_KB | 0"
}

# s3_restart NAME ARGS...: s3-put ARGS... of stdin to s3://$B/NAME/ while
# S3 is killed at a third of the input and restarted; then exactly the
# records, once, under the prefix, and every key written once.
s3_restart() {
	local name=$1
	shift
	s3_up
	rc=0
	kill_at $((N / 3)) |
	    /usr/bin/time -f %M -o "$T/rss" s3-put --max-records 1000 "$@" \
	    "s3://$B/$name/" >"$T/objects" 2>"$T/err" || rc=$?
	cat "$T/err"
	wait_started
	assert_equal "$rc" 0
	grep -q retry "$T/err"
	node "$KP_ROOT/tests/lib/s3get.js" dump "$B" "$name/" "$T/got"
	cmp <(sort "$IN") <(sort "$T/got/records")
	[ "$(grep -c '"uri"' "$T/objects")" -eq "$(wc -l <"$T/got/keys")" ]
	[ -z "$(sort "$T/got/keys" | uniq -d)" ]
	rss_under 128
}

@test "s3-put: S3 killed and restarted mid-run: every record in S3 exactly once, bounded memory" {
	[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
	s3_restart plain --spool-dir "$T/spool" <"$IN"
	report "s3-put | $N records, $(wc -l <"$T/got/keys") objects | s3rver SIGKILLed at record $((N / 3)), 2 s refused, restarted | $(grep -c retry "$T/err") retries; 0 lost, 0 duplicates | $RSS_KB | 0"
}

@test "s3-put --checkpoint-dir: S3 killed and restarted mid-run: every record in S3 exactly once, bounded memory" {
	[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
	# A barrier every 2,000 records, the last one final.
	with_barriers "$IN" >"$T/in-barriers"
	s3_restart ckpt --checkpoint-dir "$T/ck" --job j <"$T/in-barriers"
	report "s3-put --checkpoint-dir | $N records, $(wc -l <"$T/got/keys") objects, a barrier every 2,000 | s3rver SIGKILLed at record $((N / 3)), 2 s refused, restarted | $(grep -c retry "$T/err") retries; 0 lost, 0 duplicates | $RSS_KB | 0"
}

@test "kin-put: Kinesis gone for good mid-run: exit 3, the undeliverable records named and dead-lettered, none lost" {
	kinesis_up
	rc=0
	kill_at $((N / 2)) never <"$IN" |
	    kin-put --stream "$S" --partition-key-field symbol \
	    --max-attempts 3 --retry-budget 2s --dead-letter "$T/dead" \
	    --stats "$T/stats.json" 2>"$T/err" || rc=$?
	tail -n 5 "$T/err"
	assert_equal "$rc" 3
	grep -q 'undeliverable' "$T/err"
	undeliverable=$(jq .undeliverable "$T/stats.json")
	((undeliverable > 0))
	assert_equal "$(wc -l <"$T/dead")" "$undeliverable"
	# The server is back: what it stored and the dead-letter file hold
	# every record; in both only a record whose answer was lost.
	"$SRV" start kinesalite "$D" >/dev/null
	kin-read --stream "$S" >"$T/back"
	[ -z "$(comm -23 <(sort "$IN") <(sort "$T/back" "$T/dead"))" ]
	both=$(comm -12 <(sort "$T/back") <(sort "$T/dead") | wc -l)
	resent=$(jq .resent "$T/stats.json")
	((both <= resent))
	report "kin-put, Kinesis gone for good | $N records | kinesalite SIGKILLed at record $((N / 2)), never back during the run (--retry-budget 2s) | exit 3: $undeliverable undeliverable, in the dead-letter file; $(wc -l <"$T/back") stored; $both in both (resent $resent) | - | 3"
}

@test "s3-put: S3 gone for good mid-run: exit 3, the objects stay spooled, the next run writes them, exactly once" {
	s3_up
	rc=0
	kill_at $((N / 2)) never <"$IN" |
	    s3-put --max-records 1000 --spool-dir "$T/spool" --max-attempts 3 \
	    --retry-budget 2s "s3://$B/gone/" >"$T/objects" 2>"$T/err" || rc=$?
	tail -n 5 "$T/err"
	assert_equal "$rc" 3
	# The server is back: the next run, with no input, sends the rest.
	"$SRV" start s3rver "$D" >/dev/null
	s3-put --max-records 1000 --spool-dir "$T/spool" "s3://$B/gone/" \
	    </dev/null >>"$T/objects" 2>"$T/err2"
	cat "$T/err2"
	node "$KP_ROOT/tests/lib/s3get.js" dump "$B" gone/ "$T/got"
	cmp <(sort "$IN") <(sort "$T/got/records")
	[ -z "$(sort "$T/got/keys" | uniq -d)" ]
	report "s3-put, S3 gone for good | $N records, $(wc -l <"$T/got/keys") objects | s3rver SIGKILLed at record $((N / 2)), never back during the run (--retry-budget 2s) | exit 3, the rest spooled; the next run wrote it: 0 lost, 0 duplicates | - | 3, then 0"
}
