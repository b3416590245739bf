#!/usr/bin/env bats
# shellcheck disable=SC2154 # $stderr is set by `run --separate-stderr`
# Checkpoints, end to end (kinpipe(7), CHECKPOINTS): every option of
# issue 8 (kin-read --checkpoint-dir, --checkpoint-interval,
# --checkpoint-records, --job, --self-commit, --on-expired; window-stats
# --checkpoint-dir, --final; s3-put --checkpoint-dir, --job; --stats of all
# five tools), the barrier's form, resume, the refusals and their exit
# statuses, durable side outputs, a foreign filter inside the pipeline, and
# runs that resume with the shards interleaved differently.
#
# Many tests feed window-stats and s3-put barriers written by hand (the
# `barrier` function), so that where a pipeline is cut is exact.  Tests
# that kill a stage start the pipeline with tests/lib/ckpipe.bash (one
# process a stage, joined by named pipes).  tests/chaos.bats kills the
# whole job at random.

bats_require_minimum_version 1.5.0

load helpers
load lib/ckpipe

BUCKET=ckpt

setup_file() {
	kp_stack_start kinesalite s3
	zcat "$KP_ROOT/tests/data/market-trades.ndjson.gz" | head -n 3000 \
	    >"$BATS_FILE_TMPDIR/m3k.ndjson"
	kp_admin create-bucket "$BUCKET" >/dev/null
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	S=$(kp_unique_name ck)
	M3K=$BATS_FILE_TMPDIR/m3k.ndjson
	CKP_PIDS=()
	BG=()
	CKP_LOG=$T/log
}

teardown() {
	local p
	ckp_proxy_stop
	for p in "${CKP_PIDS[@]}" "${BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${CKP_PIDS[@]}" "${BG[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [[ -z ${BATS_TEST_COMPLETED:-} && -s $CKP_LOG ]]; then
		echo "--- $CKP_LOG"
		cat "$CKP_LOG"
	fi
}

# barrier ID [FINAL [JOB [STREAM]]]: a barrier line as kin-read writes it,
# without positions (window-stats and s3-put do not read them).
barrier() {
	printf '{"__kinpipe":{"barrier":%s,"version":1,"job":"%s","stream":"%s","final":%s,"positions":{}}}\n' \
	    "$1" "${3:-j}" "${4:-s}" "${2:-false}"
}

# put STREAM FILE: FILE's lines into STREAM, keyed by symbol; their
# receipts ({line, shard, seq}) appended to $T/receipts.
put() {
	kin-put --stream "$1" --partition-key-field symbol --receipts <"$2" >>"$T/receipts"
}

# records FILE / barriers FILE: the records, the control lines of FILE.
records() {
	grep -v '^{"__kinpipe"' "$1" || true
}

barriers() {
	grep '^{"__kinpipe"' "$1" || true
}

# wait_for COMMAND...: until COMMAND succeeds (at most a minute).
wait_for() {
	local i
	for ((i = 0; i < 1200; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	echo "gave up waiting for: $*" >&2
	return 1
}

# at_least N FILE PATTERN: FILE has N or more lines with PATTERN.
at_least() {
	[[ -f $2 ]] && (($(grep -c -- "$3" "$2" || true) >= $1))
}

# barriers_after_records FILE: how many control lines follow the last
# record of FILE.
barriers_after_records() {
	awk '/^\{"__kinpipe"/ { n++; next } { n = 0 } END { print n + 0 }' "$1"
}

# committed DIR: the id of DIR's last commit (0: none).
committed() {
	jq -r '.id // 0' "$1/commit.json" 2>/dev/null || echo 0
}

# committed_at_least N DIR: DIR's last commit is N or later.
committed_at_least() {
	local c
	c=$(committed "$2")
	((${c:-0} >= $1))
}

# same_multiset A B: the same lines, counted, in any order.
same_multiset() {
	if ! cmp -s <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2"); then
		echo "not the same lines: $1 ($(wc -l <"$1")) and $2 ($(wc -l <"$2")):" >&2
		diff <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") | head -n 10 >&2
		return 1
	fi
}

# objects DIR: every record under a local destination DIR, and every
# file name in $T/names (relative to DIR).
objects() {
	(cd "$1" && find . -type f | sed 's|^\./||' | sort) >"$T/names"
	find "$1" -type f -exec cat {} +
}

# s3_records PREFIX: every record under s3://$BUCKET/PREFIX; the keys in
# $T/s3/keys.
s3_records() {
	rm -rf "$T/s3"
	node "$KP_ROOT/tests/lib/s3get.js" dump "$BUCKET" "$1" "$T/s3"
	cat "$T/s3/records"
}

# ---- kin-read ----------------------------------------------------------

@test "kin-read --checkpoint-dir: a barrier after every --checkpoint-records records and a final one; ids from 1; each shard's position is the last sequence number written, as a string" {
	kp_admin create-stream "$S" 2 >/dev/null
	head -n 300 "$M3K" | kin-put --stream "$S" --partition-key-field symbol
	run --separate-stderr kin-read --stream "$S" --checkpoint-dir "$T/ck" \
	    --envelope --checkpoint-records 50 --limit 10 --checkpoint-interval 1h
	assert_success
	printf '%s\n' "$output" >"$T/out"
	# Without --checkpoint-dir, no control line at all.
	[ "$(kin-read --stream "$S" | grep -c __kinpipe)" -eq 0 ]
	[ "$(cat "$T/ck/job")" = "$S" ]
	[ ! -e "$T/ck/commit.json" ]	# no committer: no commit
	run python3 - "$T/out" "$S" 50 10 2 <<'PY'
import json, sys
path, stream, n, limit, nshards = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
last, since, records, bars, errs = {}, 0, 0, [], []
for line in open(path):
    o = json.loads(line)
    if '__kinpipe' not in o:
        last[o['shard']] = o['seq']
        since += 1
        records += 1
        continue
    if list(o) != ['__kinpipe']:
        errs.append('a control line with other members: %s' % line)
    b = o['__kinpipe']
    bars.append(b)
    if b.get('barrier') != len(bars) or b.get('version') != 1:
        errs.append('barrier %d: id or version: %s' % (len(bars), line))
    if b.get('job') != stream or b.get('stream') != stream:
        errs.append('barrier %d: job or stream: %s' % (len(bars), line))
    pos = b.get('positions', {})
    if len(pos) != nshards:
        errs.append('barrier %d: %d positions' % (len(bars), len(pos)))
    for shard, p in pos.items():
        want = {'seq': last[shard]} if shard in last else {'start': 'trim-horizon'}
        if p != want or ('seq' in p and not isinstance(p['seq'], str)):
            errs.append('barrier %d: %s at %s, not %s' % (len(bars), shard, p, want))
    if not b.get('final') and not (n <= since < n + limit * nshards):
        errs.append('barrier %d after %d records' % (len(bars), since))
    since = 0
if records != 300:
    errs.append('%d records' % records)
if not bars or [b['final'] for b in bars] != [False] * (len(bars) - 1) + [True]:
    errs.append('final flags: %s' % [b.get('final') for b in bars])
if len(bars) < 300 // (n + limit * nshards):
    errs.append('only %d barriers' % len(bars))
print('\n'.join(errs) or 'ok %d barriers' % len(bars))
PY
	assert_output --regexp '^ok [0-9]+ barriers$'
}

@test "kin-read --checkpoint-interval: barriers keep coming on a quiet --follow stream; SIGTERM ends with a final one after every record, exit 0" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 20 "$M3K" >"$T/in"
	put "$S" "$T/in"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --follow \
	    --checkpoint-interval 100ms --poll-interval 100ms \
	    >"$T/out" 2>"$T/err" 3>&- &
	BG+=($!)
	# Three barriers after the twentieth record: only the clock made them.
	wait_for eval '[ "$(records "$T/out" | wc -l)" -eq 20 ] &&
	    (($(barriers_after_records "$T/out") >= 3))'
	kill -TERM "${BG[0]}"
	wait "${BG[0]}"		# exit 0
	diff <(records "$T/out") "$T/in"
	barriers "$T/out" | jq -r .__kinpipe.barrier >"$T/ids"
	diff "$T/ids" <(seq 1 "$(wc -l <"$T/ids")")
	[ "$(barriers "$T/out" | jq -r .__kinpipe.final | sort | uniq -c | tr -s ' ' | paste -sd,)" = " $(($(wc -l <"$T/ids") - 1)) false, 1 true" ]
	tail -n 1 "$T/out" | jq -e '.__kinpipe.final == true and
	    .__kinpipe.positions["shardId-000000000000"].seq == $seq' \
	    --arg seq "$(tail -n 1 "$T/receipts" | jq -r .seq)" >/dev/null
}

@test "kin-read --count ends with a final barrier at the last record written (not the last fetched); --self-commit resumes after it" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 300 "$M3K" >"$T/in"
	put "$S" "$T/in"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit --count 120 >"$T/o1"
	[ "$(records "$T/o1" | wc -l)" -eq 120 ]
	tail -n 1 "$T/o1" | jq -e .__kinpipe.final >/dev/null
	jq -e --arg seq "$(sed -n 120p "$T/receipts" | jq -r .seq)" \
	    '.committer == "kin-read" and .id == 1 and
	    .positions["shardId-000000000000"].seq == $seq' "$T/ck/commit.json" >/dev/null
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit >"$T/o2"
	diff <(records "$T/o1"; records "$T/o2") "$T/in"
	# The next run's barriers go on from the last id.
	[ "$(barriers "$T/o2" | head -n 1 | jq .__kinpipe.barrier)" -eq 2 ]
}

@test "kin-read: a KPL aggregate cut by --count: the barrier holds the sub-record, and the next run goes on with the next one" {
	local blob
	kp_admin create-stream "$S" 1 >/dev/null
	blob=$("$KP_BUILD_DIR/tests/kpl_test" encode 'k1={"i":1}' 'k2={"i":2}' 'k3={"i":3}' 'k4={"i":4}' 'k5={"i":5}')
	jq -n --arg s "$S" --arg d "$blob" '{StreamName: $s, Records: [{Data: $d, PartitionKey: "agg"}]}' >"$T/req"
	curl -sS -f -X POST "$AWS_ENDPOINT_URL_KINESIS/" -H 'Content-Type: application/x-amz-json-1.1' \
	    -H 'X-Amz-Target: Kinesis_20131202.PutRecords' -H 'X-Amz-Date: 20150830T123600Z' \
	    -H "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00" \
	    --data-binary @"$T/req" >/dev/null
	printf '%s\n' '{"i":6}' | kin-put --stream "$S" --partition-key k
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit --count 2 >"$T/o1"
	[ "$(records "$T/o1" | paste -sd' ')" = '{"i":1} {"i":2}' ]
	tail -n 1 "$T/o1" | jq -e '.__kinpipe.positions["shardId-000000000000"] |
	    (.sub == 1 and (.seq | type) == "string")' >/dev/null
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit >"$T/o2"
	[ "$(records "$T/o2" | paste -sd' ')" = '{"i":3} {"i":4} {"i":5} {"i":6}' ]
	# A barrier after a whole aggregate needs no sub-record.
	jq -e '.positions["shardId-000000000000"] | has("sub") | not' "$T/ck/commit.json" >/dev/null
}

@test "resume: a second bounded run after new puts reads exactly the new records; a third with nothing new writes nothing" {
	kp_admin create-stream "$S" 2 >/dev/null
	head -n 100 "$M3K" >"$T/a"
	sed -n 101,150p "$M3K" >"$T/b"
	put "$S" "$T/a"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" | tee "$T/r1" |
	    s3-put --checkpoint-dir "$T/ck" "s3://$BUCKET/$S/" >"$T/p1"
	[ "${PIPESTATUS[*]}" = "0 0 0" ]
	same_multiset <(records "$T/r1") "$T/a"
	put "$S" "$T/b"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" | tee "$T/r2" |
	    s3-put --checkpoint-dir "$T/ck" "s3://$BUCKET/$S/" >"$T/p2"
	[ "${PIPESTATUS[*]}" = "0 0 0" ]
	same_multiset <(records "$T/r2") "$T/b"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" | tee "$T/r3" |
	    s3-put --checkpoint-dir "$T/ck" "s3://$BUCKET/$S/" >"$T/p3"
	[ "${PIPESTATUS[*]}" = "0 0 0" ]
	[ "$(records "$T/r3" | wc -l)" -eq 0 ]
	[ "$(grep -c '"uri"' "$T/p3" || true)" -eq 0 ]
	s3_records "$S/" >"$T/got"
	same_multiset "$T/got" <(cat "$T/a" "$T/b")
}

@test "--from counts only before the first commit: a later run with another --from resumes after the commit" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 100 "$M3K" >"$T/a"
	sed -n 101,150p "$M3K" >"$T/b"
	put "$S" "$T/a"
	# The first run starts after the hundredth record: it reads nothing.
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit \
	    --from "after-sequence:shardId-000000000000=$(tail -n 1 "$T/receipts" | jq -r .seq)" >"$T/o1"
	[ "$(records "$T/o1" | wc -l)" -eq 0 ]
	put "$S" "$T/b"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit --from trim-horizon >"$T/o2"
	diff <(records "$T/o2") "$T/b"
}

@test "--job names the job in DIR/job, barriers and object keys; another job, another stream or a barrier of another job is refused (exit 2, the way out named)" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 30 "$M3K" >"$T/a"
	put "$S" "$T/a"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --job j1 |
	    s3-put --checkpoint-dir "$T/ck" "s3://$BUCKET/$S/" >"$T/p"
	[ "${PIPESTATUS[*]}" = "0 0" ]
	[ "$(cat "$T/ck/job")" = j1 ]
	jq -e '.job == "j1"' "$T/ck/commit.json" >/dev/null
	s3_records "$S/" >/dev/null
	grep -Eq "^$S/[0-9-]+/part-j1-[0-9]+-[0-9]+\.json\$" "$T/s3/keys"
	! grep -vEq "^$S/[0-9-]+/part-j1-[0-9]+-[0-9]+\.json\$" "$T/s3/keys"
	# Another --job on the directory.
	run --separate-stderr kin-read --stream "$S" --checkpoint-dir "$T/ck" --job j2
	assert_equal "$status" 2
	[[ $stderr == *"belongs to job j1"*"--job j1"* ]]
	# Another stream, whose derived job differs.
	kp_admin create-stream "$S-b" 1 >/dev/null
	run --separate-stderr kin-read --stream "$S-b" --checkpoint-dir "$T/ck"
	assert_equal "$status" 2
	[[ $stderr == *"belongs to job j1"* ]]
	# Another stream under the same job: the last commit is of $S.
	run --separate-stderr kin-read --stream "$S-b" --checkpoint-dir "$T/ck" --job j1
	assert_equal "$status" 2
	[[ $stderr == *"the last commit is of stream $S"* ]]
	# s3-put given a barrier of another job than its --job.
	run --separate-stderr s3-put --checkpoint-dir "$T/ck2" --job k "$T/out/" < <(barrier 1 true j1)
	assert_equal "$status" 2
	[[ $stderr == *"a barrier of job j1; this s3-put writes job k"* ]]
	# Usage: --job needs --checkpoint-dir.
	run --separate-stderr kin-read --stream "$S" --job j1
	assert_equal "$status" 2
	run --separate-stderr s3-put --job j1 "$T/out/" </dev/null
	assert_equal "$status" 2
}

@test "kin-read --self-commit with a plain file sink: killed and started again, no record lost, and only the records after the last commit twice" {
	kp_admin create-stream "$S" 2 >/dev/null
	head -n 600 "$M3K" >"$T/in"
	put "$S" "$T/in"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit --follow \
	    --checkpoint-records 50 --limit 10 --checkpoint-interval 1h \
	    >"$T/o1" 2>"$T/e1" 3>&- &
	BG+=($!)
	# kin-read commits a barrier after writing it: wait for the commit,
	# not the line.
	wait_for committed_at_least 3 "$T/ck"
	kill -KILL "${BG[0]}"
	wait "${BG[0]}" 2>/dev/null || true
	c=$(committed "$T/ck")
	((c >= 3))
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit >"$T/o2"
	run python3 - "$T/o1" "$T/o2" "$T/in" "$c" <<'PY'
import collections, sys
o1, o2, inp, c = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = open(o1).read()
lines1 = data.split('\n')[:-1]          # a torn last line is not a record
after, tail, first = False, [], []
for l in lines1:
    if l.startswith('{"__kinpipe"'):
        if '"barrier":%d,' % c in l:
            after = True
        continue
    first.append(l)
    if after:
        tail.append(l)
second = [l for l in open(o2).read().split('\n')[:-1] if not l.startswith('{"__kinpipe"')]
want = collections.Counter(open(inp).read().split('\n')[:-1])
got = collections.Counter(first) + collections.Counter(second)
twice = got - want
lost = want - got
errs = []
if lost:
    errs.append('%d records lost' % sum(lost.values()))
if twice != collections.Counter(tail):
    errs.append('%d records twice; %d written after commit %d' % (sum(twice.values()), len(tail), c))
print('\n'.join(errs) or 'ok: %d twice, after commit %d' % (len(tail), c))
PY
	assert_output --regexp '^ok: '
}

# Regression: kin-read once exited 1, silently, when the downstream closed while it wrote a barrier.
@test "kin-read --checkpoint-dir: a downstream that stops reading ends kin-read with 0, also at a barrier" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 5 "$M3K" | kin-put --stream "$S" --partition-key k
	kin-read --stream "$S" --follow --checkpoint-dir "$T/ck" --checkpoint-interval 100ms |
	    head -n 1 >/dev/null
	[ "${PIPESTATUS[0]}" -eq 0 ]
}

# Kinesis answers a sequence number that the retention period has trimmed
# away with InvalidArgumentException about StartingSequenceNumber; the
# fault proxy answers so for every request that starts after one.
expired_rules() {
	printf '%s' '[{"match":{"target":"GetShardIterator","body":"AFTER_SEQUENCE_NUMBER|AT_SEQUENCE_NUMBER"},
	  "action":{"status":400,"body":{"__type":"InvalidArgumentException",
	  "message":"StartingSequenceNumber 49590338271490256608559692538361571095921575989136588898 used in GetShardIterator on shard shardId-000000000000 in stream s under account 123456789012 is invalid because it did not come from this stream."}}}]'
}

@test "kin-read --on-expired: a committed position past the retention stops the read (exit 2, the way out named); --on-expired oldest goes on from the oldest record with a warning" {
	kp_admin create-stream "$S" 1 >/dev/null
	head -n 20 "$M3K" >"$T/a"
	sed -n 21,25p "$M3K" >"$T/b"
	put "$S" "$T/a"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit >/dev/null
	cp "$T/ck/commit.json" "$T/commit.before"
	put "$S" "$T/b"
	ckp_proxy "$AWS_ENDPOINT_URL_KINESIS" "$(expired_rules)" "$T/fp"
	run --separate-stderr kin-read --stream "$S" --checkpoint-dir "$T/ck" \
	    --self-commit --endpoint-url "$CKP_FP_URL"
	assert_equal "$status" 2
	assert_output ''
	[[ $stderr == *"is no longer in the stream"*"--on-expired oldest"* ]]
	cmp "$T/commit.before" "$T/ck/commit.json"	# nothing committed
	run --separate-stderr kin-read --stream "$S" --checkpoint-dir "$T/ck" \
	    --self-commit --endpoint-url "$CKP_FP_URL" --on-expired oldest
	assert_success
	[[ $stderr == *"past the stream's retention"* ]]
	printf '%s\n' "$output" >"$T/o"
	diff <(records "$T/o") <(cat "$T/a" "$T/b")
	# The proxy really refused the committed position.
	[ "$(jq -r 'select(.target == "GetShardIterator") | .status' "$T/fp/fp.log" | sort | uniq -c | tr -s ' ' | paste -sd,)" = " 1 200, 2 400" ]
	# --on-expired needs --checkpoint-dir.
	run --separate-stderr kin-read --stream "$S" --on-expired oldest
	assert_equal "$status" 2
}

# Regression: kin-read once left its --dead-letter in a stdio buffer across a committed barrier.
@test "kin-read --dead-letter: a rejected record before a committed barrier is in the file after a SIGKILL" {
	kp_admin create-stream "$S" 1 >/dev/null
	printf '%s\n' 'not json' '{"a":1}' '{"a":2}' |
	    kin-put --raw --stream "$S" --partition-key k --receipts >"$T/receipts"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --self-commit --follow \
	    --dead-letter "$T/dl" --checkpoint-interval 100ms --poll-interval 100ms \
	    >"$T/out" 2>"$T/err" 3>&- &
	BG+=($!)
	wait_for jq -e --arg s "$(tail -n 1 "$T/receipts" | jq -r .seq)" \
	    '.positions["shardId-000000000000"].seq == $s' "$T/ck/commit.json"
	kill -KILL "${BG[0]}"
	wait "${BG[0]}" 2>/dev/null || true
	grep -qx 'not json' "$T/dl"
}

# ---- window-stats ------------------------------------------------------

# ws ARGS...: window-stats over the six markets' keys, 5-second windows,
# each record with its window's statistics.
WS=(--key-field symbol --size 5s --emit records)

@test "window-stats --checkpoint-dir: the end of a run keeps the open windows; cut in the middle of windows, two runs give what one run gives" {
	head -n 1000 "$M3K" >"$T/in"
	head -n 437 "$T/in" >"$T/a"
	tail -n +438 "$T/in" >"$T/b"
	# One checkpointed run over everything, and one over the first part:
	# the windows that had a later record of their key fired, no other.
	window-stats --checkpoint-dir "$T/ck-one" "${WS[@]}" <"$T/in" >"$T/one"
	window-stats --checkpoint-dir "$T/ck-a" "${WS[@]}" <"$T/a" >"$T/a-alone"
	window-stats "${WS[@]}" <"$T/a" >"$T/a-all"	# fires all at the end
	(($(wc -l <"$T/a-alone") < $(wc -l <"$T/a-all")))
	{ cat "$T/a"; barrier 1 true; } |
	    window-stats --checkpoint-dir "$T/ck" "${WS[@]}" |
	    s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	[ "${PIPESTATUS[*]}" = "0 0 0" ]
	[ -f "$T/ck/window-stats.1.state" ]
	objects "$T/out" >"$T/got1"
	same_multiset "$T/got1" "$T/a-alone"
	{ cat "$T/b"; barrier 2 true; } |
	    window-stats --checkpoint-dir "$T/ck" "${WS[@]}" |
	    s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	[ "${PIPESTATUS[*]}" = "0 0 0" ]
	objects "$T/out" >"$T/got2"
	same_multiset "$T/got2" "$T/one"
	# Only the snapshots the last commit may need are left.
	[ "$(ls "$T/ck" | grep -c '^window-stats\..*\.state$')" -le 2 ]
}

@test "window-stats --checkpoint-dir, every emit and window option, over out-of-order, late and duplicate ticks: five runs cut anywhere write what one run writes, late records included" {
	local opts tf
	python3 "$KP_ROOT/tests/lib/oracle.py" gen --seed 7 --count 4000 >"$T/gen"
	while IFS='|' read -r tf opts; do
		rm -rf "$T/ck1" "$T/ck2" "$T/o1" "$T/o2"
		: >"$T/l1"
		: >"$T/l2"
		# shellcheck disable=SC2086 # the options of the case
		{ cat "$T/gen"; barrier 1 true; } |
		    window-stats --checkpoint-dir "$T/ck1" $opts --late-output "$T/l1" |
		    s3-put --time-field "$tf" --checkpoint-dir "$T/ck1" --job j "$T/o1/" >/dev/null
		for part in "1,700p|1|true" "701,1999p|2|false" "2000,2000p|3|true" "2001,3500p|4|true" "3501,\$p|5|true"; do
			IFS='|' read -r lines id final <<<"$part"
			# shellcheck disable=SC2086
			{ sed -n "$lines" "$T/gen"; barrier "$id" "$final"; } |
			    window-stats --checkpoint-dir "$T/ck2" $opts --late-output "$T/l2" |
			    s3-put --time-field "$tf" --checkpoint-dir "$T/ck2" --job j "$T/o2/" >/dev/null
		done
		objects "$T/o1" >"$T/one"
		objects "$T/o2" >"$T/cut"
		[ -s "$T/one" ]
		same_multiset "$T/one" "$T/cut" || { echo "options: $opts" >&2; false; }
		same_multiset "$T/l1" "$T/l2" || { echo "options: $opts (late)" >&2; false; }
	done <<'CASES'
timestamp|--key-field symbol --size 10s --emit records
window_start|--key-field symbol --size 10s --emit windows
timestamp|--key-field symbol --size 10s --emit trailing --trailing 3
timestamp|--key-field symbol --size 10s --emit records --allowed-lateness 5s --out-of-orderness 2s
window_start|--key-field symbol --size 10s --slide 5s --emit windows
timestamp|--key-field symbol --size 10s --emit records --watermark global
window_start|--key-field symbol --size 10s --emit windows --allowed-lateness 20s --weight-field volume
window_start|--key-field symbol --size 7s --offset 3s --emit windows --out-of-orderness 1s
CASES
}

@test "window-stats --final: with --checkpoint-dir too, the end of input fires every open window" {
	head -n 1000 "$M3K" >"$T/in"
	window-stats "${WS[@]}" <"$T/in" >"$T/all"
	window-stats --checkpoint-dir "$T/ck" --final "${WS[@]}" <"$T/in" >"$T/final"
	cmp "$T/all" "$T/final"
	window-stats --checkpoint-dir "$T/ck2" "${WS[@]}" <"$T/in" >"$T/kept"
	(($(wc -l <"$T/kept") < $(wc -l <"$T/all")))
}

# Regression: window-stats --final under --checkpoint-dir once fired its windows after the last barrier, where s3-put dropped them.
@test "window-stats --final with --checkpoint-dir: the windows it fires at the end reach the destination" {
	printf '%s\n' '{"timestamp":"2024-01-01T00:00:01Z","price":1}' \
	    '{"timestamp":"2024-01-01T00:00:02Z","price":2}' >"$T/in"
	{ cat "$T/in"; barrier 1 true; } |
	    window-stats --checkpoint-dir "$T/ck" --emit records --final |
	    s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	[ "$(objects "$T/out" | wc -l)" -eq 2 ]
}

@test "window-stats: SIGTERM under --checkpoint-dir keeps the open windows (exit 0); with --final it fires them; without checkpoints it fires them" {
	local mode rc args
	for mode in ckpt final plain; do
		rm -rf "$T/ck" "$T/fifo"
		mkfifo "$T/fifo"
		case $mode in
		ckpt) args=(--checkpoint-dir "$T/ck") ;;
		final) args=(--checkpoint-dir "$T/ck" --final) ;;
		plain) args=() ;;
		esac
		window-stats "${args[@]}" --emit records <"$T/fifo" >"$T/out.$mode" 2>"$T/err" 3>&- &
		BG=($!)
		exec 4>"$T/fifo"
		printf '%s\n' '{"timestamp":"2024-01-01T00:00:01Z","price":1}' >&4
		barrier 1 >&4
		wait_for at_least 1 "$T/out.$mode" __kinpipe
		kill -TERM "${BG[0]}"
		rc=0
		wait "${BG[0]}" || rc=$?
		exec 4>&-
		assert_equal "$rc" 0
	done
	[ "$(records "$T/out.ckpt" | wc -l)" -eq 0 ]
	[ "$(records "$T/out.final" | wc -l)" -eq 1 ]
	[ "$(records "$T/out.plain" | wc -l)" -eq 1 ]
}

@test "window-stats: a corrupted or missing snapshot of the committed id, and a different --size/--key-field/... than the saved state, are refused (exit 2, named)" {
	head -n 300 "$M3K" >"$T/in"
	{ cat "$T/in"; barrier 1; } | window-stats --checkpoint-dir "$T/ck" "${WS[@]}" |
	    s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	cp "$T/ck/window-stats.1.state" "$T/saved"
	for o in "--size 10s" "--key-field price" "--emit windows" \
	    "--value-field volume" "--time-field t" "--out-of-orderness 1s" \
	    "--allowed-lateness 1s" "--watermark global" "--slide 1s" \
	    "--offset 1s" "--weight-field volume" "--key-ttl 1h"; do
		# shellcheck disable=SC2086 # one option and its value
		run --separate-stderr window-stats --checkpoint-dir "$T/ck" "${WS[@]}" $o </dev/null
		assert_equal "$status" 2
		[[ $stderr == *"${o%% *} differs"* ]] || {
			echo "$o: $stderr" >&2
			false
		}
	done
	# The snapshot cut in half, then gone.
	head -c 200 "$T/saved" >"$T/ck/window-stats.1.state"
	run --separate-stderr window-stats --checkpoint-dir "$T/ck" "${WS[@]}" </dev/null
	assert_equal "$status" 2
	[[ $stderr == *"window-stats.1.state"* ]]
	rm "$T/ck/window-stats.1.state"
	run --separate-stderr window-stats --checkpoint-dir "$T/ck" "${WS[@]}" </dev/null
	assert_equal "$status" 2
	[[ $stderr == *"window-stats.1.state: missing"* ]]
	# Restored, it runs.
	cp "$T/saved" "$T/ck/window-stats.1.state"
	run --separate-stderr window-stats --checkpoint-dir "$T/ck" "${WS[@]}" </dev/null
	assert_success
}

# Regression: the refusal of a damaged snapshot once gave only the parser's message.
@test "window-stats: the refusal of a damaged snapshot names the way out" {
	{ head -n 30 "$M3K"; barrier 1; } | window-stats --checkpoint-dir "$T/ck" "${WS[@]}" |
	    s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	echo garbage >"$T/ck/window-stats.1.state"
	run --separate-stderr window-stats --checkpoint-dir "$T/ck" "${WS[@]}" </dev/null
	assert_equal "$status" 2
	[[ $stderr == *"kinpipe(7)"* || $stderr == *"--checkpoint-dir"* ]]
}

@test "window-stats and sigma-flag: --dead-letter and --late-output lines before a barrier are in their files once the barrier is passed on, whatever comes next (SIGKILL)" {
	local tool
	for tool in window-stats sigma-flag; do
		rm -f "$T/fifo" "$T/dl" "$T/late" "$T/out"
		mkfifo "$T/fifo"
		if [[ $tool == window-stats ]]; then
			window-stats --checkpoint-dir "$T/ck" --emit records \
			    --dead-letter "$T/dl" --late-output "$T/late" \
			    <"$T/fifo" >"$T/out" 2>/dev/null 3>&- &
		else
			sigma-flag --dead-letter "$T/dl" <"$T/fifo" >"$T/out" 2>/dev/null 3>&- &
		fi
		BG=($!)
		exec 4>"$T/fifo"
		{
			echo 'bad line'
			if [[ $tool == window-stats ]]; then
				echo '{"timestamp":"2024-01-01T00:05:00Z","price":1}'
				echo '{"timestamp":"2024-01-01T00:00:01Z","price":2}'	# late
			fi
			barrier 1
		} >&4
		wait_for at_least 1 "$T/out" __kinpipe
		kill -KILL "${BG[0]}"
		wait "${BG[0]}" 2>/dev/null || true
		exec 4>&-
		grep -qx 'bad line' "$T/dl"
		if [[ $tool == window-stats ]]; then
			grep -q '"price":2' "$T/late"
		fi
	done
}

@test "window-stats: control lines do not put off --idle-timeout: barriers every 100 ms, the quiet window still fires" {
	mkfifo "$T/fifo"
	window-stats --idle-timeout 1s --checkpoint-dir "$T/ck" <"$T/fifo" >"$T/out" 2>/dev/null 3>&- &
	BG=($!)
	exec 4>"$T/fifo"
	echo '{"timestamp":"2024-01-01T00:00:01Z","price":1}' >&4
	for ((i = 1; i <= 300; i++)); do
		barrier "$i" >&4
		[ "$(records "$T/out" | wc -l)" -gt 0 ] && break
		sleep 0.1
	done
	exec 4>&-
	wait "${BG[0]}"
	[ "$(records "$T/out" | wc -l)" -eq 1 ]
}

# ---- s3-put ------------------------------------------------------------

# two_epochs FILE: 2 records, barrier 1, 2 records, barrier 2 (final).
two_epochs() {
	{
		echo '{"timestamp":"2024-01-01T00:00:01Z","v":"a1"}'
		echo '{"timestamp":"2024-01-01T00:00:02Z","v":"a2"}'
		barrier 1
		echo '{"timestamp":"2024-01-01T01:00:01Z","v":"b1"}'
		echo '{"timestamp":"2024-01-01T01:00:02Z","v":"b2"}'
		barrier 2 true
	} >"$1"
}

@test "s3-put --checkpoint-dir: nothing is visible before its barrier commits; an open part spans checkpoints (one object, not one a checkpoint); keys PREFIX<bucket>/part-<job>-<epoch>-<n>.json" {
	# Records without a barrier: the end of input commits nothing.
	printf '%s\n' '{"timestamp":"2024-01-01T00:00:01Z","v":1}' |
	    s3-put --checkpoint-dir "$T/ck" --job j "s3://$BUCKET/$S/" >/dev/null
	[ ! -e "$T/ck/commit.json" ]
	[ "$(s3_records "$S/" | wc -l)" -eq 0 ]
	# Five checkpoints, parts rolled by size and the end only.
	{
		for i in 1 2 3 4 5; do
			printf '{"timestamp":"2024-01-01T00:00:0%sZ","v":%s}\n' "$i" "$i"
			barrier "$i" "$([[ $i == 5 ]] && echo true || echo false)"
		done
		printf '%s\n' '{"timestamp":"2024-01-01T02:00:00Z","v":6}'	# after the last barrier
	} | s3-put --checkpoint-dir "$T/ck" --job j --rollover 0 --inactivity 0 \
	    "s3://$BUCKET/$S/" >"$T/report"
	s3_records "$S/" >"$T/got"
	[ "$(wc -l <"$T/s3/keys")" -eq 1 ]
	[ "$(cat "$T/s3/keys")" = "$S/2024-01-01--00/part-j-1-0.json" ]
	[ "$(jq -r .v "$T/got" | paste -sd' ')" = "1 2 3 4 5" ]
	# The report holds the object once, then the barriers, in order.
	[ "$(grep -c '"uri"' "$T/report")" -eq 1 ]
	[ "$(barriers "$T/report" | jq -r .__kinpipe.barrier | paste -sd' ')" = "1 2 3 4 5" ]
	jq -e '.id == 5 and .committer == "s3-put" and .sink.open == []' "$T/ck/commit.json" >/dev/null
}

@test "s3-put --checkpoint-dir: a restart cuts an open part back to its committed length, drops what no commit names, and objects get the next epoch's names" {
	{
		echo '{"timestamp":"2024-01-01T00:00:01Z","v":"a1"}'
		barrier 1
		echo '{"timestamp":"2024-01-01T00:00:02Z","v":"uncommitted"}'
		echo '{"timestamp":"2024-01-01T03:00:02Z","v":"uncommitted"}'
	} | s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	jq -e '(.sink.open | length) == 1' "$T/ck/commit.json" >/dev/null
	{
		echo '{"timestamp":"2024-01-01T00:00:03Z","v":"c1"}'
		echo '{"timestamp":"2024-01-01T04:00:03Z","v":"c2"}'
		barrier 2 true
	} | s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	objects "$T/out" >"$T/got"
	[ "$(jq -r .v "$T/got" | sort | paste -sd' ')" = "a1 c1 c2" ]
	[ "$(paste -sd' ' "$T/names")" = "2024-01-01--00/part-j-1-0.json 2024-01-01--04/part-j-2-0.json" ]
	[ "$(find "$T/ck/s3-put" -type f ! -name dest ! -name lock | wc -l)" -eq 0 ]
}

# Fixed in common/sinkck.c by this branch: once every part was delivered
# and its spool file removed, the next part took number 0 again; a
# restart then took that uncommitted file for the committed (delivered)
# part 0 and wrote its first bytes over the committed object (s3rver) or
# was refused for ever (If-None-Match: exit 3).
@test "s3-put --checkpoint-dir: an uncommitted part never passes for a delivered part of the last commit" {
	two_epochs "$T/in"
	s3-put --checkpoint-dir "$T/ck" --job j "s3://$BUCKET/$S/" <"$T/in" >/dev/null
	s3_records "$S/" >"$T/before"
	# The end of input with no barrier: an uncommitted part, longer than
	# the committed ones.
	printf '{"timestamp":"2024-01-01T00:00:09Z","v":"uncommitted-%s"}\n' {1..20} |
	    s3-put --checkpoint-dir "$T/ck" --job j "s3://$BUCKET/$S/" >/dev/null
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j "s3://$BUCKET/$S/" </dev/null
	assert_success
	s3_records "$S/" >"$T/after"
	cmp "$T/before" "$T/after"
	# A local directory: the same, and no refusal.
	s3-put --checkpoint-dir "$T/ck2" --job j "$T/out/" <"$T/in" >/dev/null
	printf '{"timestamp":"2024-01-01T00:00:09Z","v":"uncommitted-%s"}\n' {1..20} |
	    s3-put --checkpoint-dir "$T/ck2" --job j "$T/out/" >/dev/null
	run --separate-stderr s3-put --checkpoint-dir "$T/ck2" --job j "$T/out/" </dev/null
	assert_success
	[ "$(objects "$T/out" | jq -r .v | sort | paste -sd' ')" = "a1 a2 b1 b2" ]
}

# Fixed in common/sinkck.c by this branch: a part is delivered, then its
# spool files are removed, data first ("a manifest without data means
# delivered", spool.c); a SIGKILL between the two unlinks left the
# manifest, and recovery, which looked at manifests, delivered the part
# again from a file that is gone: "No such file or directory", exit 3 at
# every restart (tests/chaos.bats's moto test met it).
@test "s3-put --checkpoint-dir: a delivered part whose manifest outlived its data file (killed between the two unlinks) counts as delivered" {
	two_epochs "$T/in"
	ckp_proxy "$AWS_ENDPOINT_URL_S3" '[{"match":{"method":["PUT","POST"]},"action":{"preset":"s3-internal"}}]' "$T/fp"
	export AWS_ENDPOINT_URL_S3=$CKP_FP_URL
	run s3-put --checkpoint-dir "$T/ck" --job j --max-attempts 1 "s3://$BUCKET/$S/" <"$T/in"
	assert_equal "$status" 3
	cp -a "$T/ck" "$T/saved"
	echo '[]' >"$T/fp/rules.new"
	mv "$T/fp/rules.new" "$T/fp/rules.json"
	s3-put --checkpoint-dir "$T/ck" --job j "s3://$BUCKET/$S/" </dev/null >/dev/null
	s3_records "$S/" >"$T/delivered"
	[ "$(wc -l <"$T/delivered")" -eq 4 ]
	# Delivered, the data files removed, the manifests not yet.
	rm -rf "$T/ck"
	cp -a "$T/saved" "$T/ck"
	for m in "$T"/ck/s3-put/*/*.meta; do
		rm "${m%.meta}.ndjson"
	done
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j "s3://$BUCKET/$S/" </dev/null
	assert_success
	s3_records "$S/" | cmp - "$T/delivered"
	[ "$(find "$T/ck/s3-put" -type f ! -name dest ! -name lock | wc -l)" -eq 0 ]
}

@test "s3-put: --checkpoint-dir refuses --bucket-by processing-time, --run-id and --spool-dir; a directory of another destination or object shape, and of another --job, is refused (exit 2)" {
	local o
	for o in "--bucket-by processing-time" "--run-id r1" "--spool-dir $T/sp"; do
		# shellcheck disable=SC2086
		run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j $o "$T/out/" </dev/null
		assert_equal "$status" 2
		[[ $stderr == *"--checkpoint-dir excludes"* ]]
	done
	[ ! -e "$T/ck" ]
	two_epochs "$T/in"
	s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" <"$T/in" >/dev/null
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j "$T/other/" </dev/null
	assert_equal "$status" 2
	[[ $stderr == *"another destination"* ]]
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j "s3://$BUCKET/$S/" </dev/null
	assert_equal "$status" 2
	for o in "--part-prefix p" "--part-suffix .ndjson" "--gzip" "--bucket-format %Y" "--time-field t"; do
		# shellcheck disable=SC2086
		run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j $o "$T/out/" </dev/null
		assert_equal "$status" 2
		[[ $stderr == *"other object options"* ]]
	done
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job k "$T/out/" </dev/null
	assert_equal "$status" 2
	[[ $stderr == *"of job j, not k"* ]]
}

# Regression: s3-put once created a local destination directory for a run it then refused.
@test "s3-put: a checkpoint directory refused creates no destination directory" {
	two_epochs "$T/in"
	s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" <"$T/in" >/dev/null
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j "$T/other/" </dev/null
	assert_equal "$status" 2
	[ ! -e "$T/other" ]
}

# Regression: s3-put once printed the destination as its multi-line internal identity.
@test "s3-put: the refusal of another destination is one line naming it" {
	two_epochs "$T/in"
	s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" <"$T/in" >/dev/null
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j "$T/other/" </dev/null
	assert_equal "$status" 2
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

@test "s3-put --dead-letter: a line rejected before a committed barrier is in the file after a SIGKILL" {
	mkfifo "$T/fifo"
	s3-put --checkpoint-dir "$T/ck" --job j --dead-letter "$T/dl" "$T/out/" \
	    <"$T/fifo" >"$T/report" 2>/dev/null 3>&- &
	BG=($!)
	exec 4>"$T/fifo"
	{
		echo 'bad line'
		echo '{"timestamp":"2024-01-01T00:00:01Z","v":1}'
		barrier 1
	} >&4
	wait_for at_least 1 "$T/report" __kinpipe
	kill -KILL "${BG[0]}"
	wait "${BG[0]}" 2>/dev/null || true
	exec 4>&-
	[ "$(committed "$T/ck")" -eq 1 ]
	grep -qx 'bad line' "$T/dl"
}

# ---- the checkpoint directory, for every tool ---------------------------

# committed_dir DIR: a directory with a commit of job j (window-stats and
# s3-put), and DIR/job from kin-read --job j.
committed_dir() {
	{ head -n 20 "$M3K"; barrier 1 false j "$S"; } |
	    window-stats --checkpoint-dir "$1" "${WS[@]}" |
	    s3-put --checkpoint-dir "$1" --job j "$T/out/" >/dev/null
	echo j >"$1/job"
}

# each_tool DIR: runs the three checkpointing tools on DIR in turn (no
# input), each status and stderr in $T/st.TOOL, $T/err.TOOL.
each_tool() {
	local rc
	rc=0
	kin-read --stream "$S" --job j --checkpoint-dir "$1" </dev/null >/dev/null 2>"$T/err.kin-read" || rc=$?
	echo "$rc" >"$T/st.kin-read"
	rc=0
	window-stats --checkpoint-dir "$1" "${WS[@]}" </dev/null >/dev/null 2>"$T/err.window-stats" || rc=$?
	echo "$rc" >"$T/st.window-stats"
	rc=0
	s3-put --checkpoint-dir "$1" --job j "$T/out/" </dev/null >/dev/null 2>"$T/err.s3-put" || rc=$?
	echo "$rc" >"$T/st.s3-put"
}

# refused STATUS PATTERN: each tool of each_tool exited STATUS saying
# PATTERN.
refused() {
	local t
	for t in kin-read window-stats s3-put; do
		[ "$(cat "$T/st.$t")" = "$1" ] && { [ -z "$2" ] || grep -q -- "$2" "$T/err.$t"; } || {
			echo "$t: status $(cat "$T/st.$t"): $(cat "$T/err.$t")" >&2
			return 1
		}
	done
}

@test "every checkpointing tool refuses a half-written, a damaged, a foreign or a newer commit record (exit 2, kinpipe(7) named), and runs again once it is restored" {
	kp_admin create-stream "$S" 1 >/dev/null
	committed_dir "$T/ck"
	cp "$T/ck/commit.json" "$T/good"
	head -c "$(($(wc -c <"$T/good") / 2))" "$T/good" >"$T/ck/commit.json"
	each_tool "$T/ck"
	refused 2 'commit.json: .*cannot resume from it (kinpipe(7), CHECKPOINTS'
	echo '{"kinpipe":"commit","version":1}' >"$T/ck/commit.json"
	each_tool "$T/ck"
	refused 2 'cannot resume from it (kinpipe(7)'
	echo '{"some":"other file"}' >"$T/ck/commit.json"
	each_tool "$T/ck"
	refused 2 'not a kinpipe commit record'
	jq -c '.version = 2' "$T/good" >"$T/ck/commit.json"
	each_tool "$T/ck"
	refused 2 'written by a newer kinpipe.*upgrade kinpipe'
	cp "$T/good" "$T/ck/commit.json"
	each_tool "$T/ck"
	refused 0 ''
}

@test "a second kin-read, window-stats or s3-put on a checkpoint directory in use exits 1 (lock busy), and the first is undisturbed" {
	local t
	kp_admin create-stream "$S" 1 >/dev/null
	mkfifo "$T/fifo"
	exec 4<>"$T/fifo"
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --follow --job j >/dev/null 2>&1 3>&- &
	BG+=($!)
	window-stats --checkpoint-dir "$T/ck" <"$T/fifo" >/dev/null 2>&1 3>&- &
	BG+=($!)
	s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" <"$T/fifo" >/dev/null 2>&1 3>&- &
	BG+=($!)
	wait_for eval '[ -e "$T/ck/.kin-read.lock" ] && [ -e "$T/ck/.window-stats.lock" ] && [ -e "$T/ck/.s3-put.lock" ]'
	sleep 0.2
	for t in kin-read window-stats s3-put; do
		case $t in
		kin-read) run --separate-stderr kin-read --stream "$S" --checkpoint-dir "$T/ck" --job j ;;
		window-stats) run --separate-stderr window-stats --checkpoint-dir "$T/ck" </dev/null ;;
		s3-put) run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" </dev/null ;;
		esac
		assert_equal "$status" 1
		[[ $stderr == *"is in use by another $t"* ]]
	done
	for t in "${BG[@]}"; do
		kill -0 "$t"
	done
	exec 4>&-
}

# ---- --stats and control lines ------------------------------------------

@test "--stats FILE, each of the five tools: its counters as JSON, whole whenever read while it runs, final at exit (running false)" {
	local i v seen=
	kp_admin create-stream "$S" 2 >/dev/null
	kin-put --stream "$S" --partition-key-field symbol --stats "$T/kin-put.json" <"$M3K"
	jq -e '.tool == "kin-put" and .running == false and .records_in == 3000 and
	    .records_out == 3000' "$T/kin-put.json" >/dev/null
	kin-read --stream "$S" --checkpoint-dir "$T/ck" --stats "$T/kin-read.json" |
	    window-stats --checkpoint-dir "$T/ck" "${WS[@]}" --stats "$T/window-stats.json" |
	    tee "$T/ws.out" |
	    sigma-flag --all --stats "$T/sigma-flag.json" |
	    s3-put --checkpoint-dir "$T/ck" --stats "$T/s3-put.json" "$T/out/" >/dev/null
	[ "${PIPESTATUS[*]}" = "0 0 0 0 0" ]
	n=$(records "$T/ws.out" | wc -l)
	((n > 0))
	jq -e '.tool == "kin-read" and .running == false and .records_out == 3000 and
	    .barrier == 1' "$T/kin-read.json" >/dev/null
	jq -e --argjson n "$n" '.tool == "window-stats" and .running == false and
	    .records_in == 3000 and .records_out == $n and .checkpoints == 1 and
	    .keys == 6' "$T/window-stats.json" >/dev/null
	jq -e --argjson n "$n" '.tool == "sigma-flag" and .running == false and
	    .records_in == $n and .records_out == $n and .control == 1' "$T/sigma-flag.json" >/dev/null
	jq -e --argjson n "$n" '.tool == "s3-put" and .running == false and
	    .records_in == $n and .committed == 1 and .objects >= 1' "$T/s3-put.json" >/dev/null
	# Replaced whole while a tool runs: every read parses, running true,
	# and a later version comes (every second).
	kin-read --stream "$S" --checkpoint-dir "$T/ck2" --follow --stats "$T/follow.json" \
	    >/dev/null 2>&1 3>&- &
	BG+=($!)
	wait_for test -s "$T/follow.json"
	for ((i = 0; i < 600; i++)); do
		v=$(cat "$T/follow.json")
		jq -e '.running == true' <<<"$v" >/dev/null
		[[ -n $seen && $(jq -r .time <<<"$v") != "$seen" ]] && break
		seen=$(jq -r .time <<<"$v")
		sleep 0.05
	done
	((i < 600))
	kill -TERM "${BG[0]}"
	wait "${BG[0]}"
	jq -e '.running == false and .records_out == 3000' "$T/follow.json" >/dev/null
	[ -z "$(find "$T" -maxdepth 1 -name '.*tmp*')" ]
}

# Regression: window-stats once saved its counters in its snapshot, so --stats after a resume counted earlier runs and records_out wrapped.
@test "window-stats --stats after a resume counts this run's records" {
	{ head -n 5 "$M3K"; barrier 1; barrier 2; } | window-stats --checkpoint-dir "$T/ck" "${WS[@]}" |
	    s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	barrier 3 true | window-stats --checkpoint-dir "$T/ck" "${WS[@]}" --stats "$T/st.json" |
	    s3-put --checkpoint-dir "$T/ck" --job j "$T/out/" >/dev/null
	jq -e '.records_in == 0 and .records_out == 0' "$T/st.json"
}

@test "window-stats and sigma-flag pass every control line on unchanged and in order, barriers and others, with checkpoints or not" {
	{
		echo '{"__kinpipe":{"heartbeat":1}}'
		head -n 3 "$M3K"
		barrier 1
		echo '{"__kinpipe":{"watermark":"2024-08-08T23:54:16Z","x":[1,{"y":"z"}]}}'
		sed -n 4,6p "$M3K"
		barrier 2 true
	} >"$T/in"
	barriers "$T/in" >"$T/want"
	window-stats "${WS[@]}" <"$T/in" >"$T/o1"
	window-stats --checkpoint-dir "$T/ck" "${WS[@]}" <"$T/in" >"$T/o2"
	window-stats "${WS[@]}" <"$T/in" | sigma-flag --all >"$T/o3"
	sigma-flag --all <"$T/o1" >"$T/o4"
	for o in o1 o2 o3 o4; do
		diff "$T/want" <(barriers "$T/$o")
	done
	# A control line stays where it was among the records sigma-flag
	# judges (here: no record is dropped).
	diff <(shape "$T/o4") <(shape "$T/o1")
	diff <(shape "$T/o3") <(shape "$T/o1")
}

# shape FILE: each control line as it is, each record as "R".
shape() {
	awk '{ print (/^\{"__kinpipe"/ ? $0 : "R") }' "$1"
}

# ---- whole pipelines ---------------------------------------------------

# killed_run PREFIX VICTIM: one run of the pipeline of CKP_* on stream $S
# into s3://$BUCKET/PREFIX, killed (SIGKILL) once one more checkpoint is
# committed: the stage at index VICTIM, or every stage ("all").
killed_run() {
	local c i
	c=$(committed "$T/ck")
	ckp_start "$T/runs" "$T/ck" "$S" "s3://$BUCKET/$1"
	for ((i = 0; i < 1200; i++)); do
		(($(committed "$T/ck") > c)) && break
		ckp_running || break
		sleep 0.05
	done
	if [[ $2 == all ]]; then
		kill -KILL "${CKP_PIDS[@]}" 2>/dev/null || true
	else
		kill -KILL "${CKP_PIDS[$2]}" 2>/dev/null || true
	fi
	ckp_note "killed $2 after commit $(committed "$T/ck") (options: ${CKP_KR[*]})"
	ckp_wait 120
}

# final_run PREFIX EXPECTED: a clean run to the end; every key is
# PREFIX<bucket>/part-$S-<epoch>-<n>.json and S3 holds EXPECTED's lines
# (a sorted multiset).
final_run() {
	ckp_start "$T/runs" "$T/ck" "$S" "s3://$BUCKET/$1"
	ckp_wait 300
	[ "$(ckp_status | tr ' ' '\n' | grep -cv '=0$')" -eq 0 ] || {
		ckp_note "last run: $(ckp_status)"
		ckp_stderr >>"$CKP_LOG"
		return 1
	}
	s3_records "$1" | LC_ALL=C sort >"$T/got"
	! grep -vE "^$1[0-9]{4}-[0-9]{2}-[0-9]{2}--[0-9]{2}/part-$S-[0-9]+-[0-9]+\.json\$" "$T/s3/keys"
	cmp "$T/got" "$2" || {
		ckp_note "S3 differs: $(LC_ALL=C comm -23 "$2" "$T/got" | wc -l) lost, $(LC_ALL=C comm -13 "$2" "$T/got" | wc -l) extra"
		return 1
	}
}

@test "a foreign filter between sigma-flag and s3-put keeps barriers (jq, grep, as kinpipe(7) shows): exactly-once across SIGKILLs, the filter's too" {
	local f v
	kp_admin create-stream "$S" 4 >/dev/null
	put "$S" "$M3K"
	CKP_KR=(--checkpoint-interval 200ms --limit 40)
	CKP_WS=("${WS[@]}")
	CKP_SF=(--all)
	CKP_S3=(--rollover 1s --inactivity 1s)
	for f in jq grep; do
		rm -rf "$T/ck" "$T/offline"
		if [[ $f == jq ]]; then
			CKP_FILTER=(jq -c --unbuffered 'if has("__kinpipe") then . else select(.price > 10000) end')
		else
			CKP_FILTER=(grep --line-buffered -e '"__kinpipe"' -e '"symbol":"BTCUSDT"')
		fi
		window-stats --checkpoint-dir "$T/offline" "${WS[@]}" <"$M3K" |
		    sigma-flag --all | "${CKP_FILTER[@]}" | LC_ALL=C sort >"$T/expected.$f"
		[ "$(wc -l <"$T/expected.$f")" -gt 100 ]
		# s3-put, the filter, kin-read, every stage.
		for v in 4 3 0 all; do
			killed_run "$S-$f/" "$v"
		done
		final_run "$S-$f/" "$T/expected.$f"
		# Barriers went through: several commits.
		(($(committed "$T/ck") > 5))
	done
}

@test "interleaving: runs that resume with the shards cut and interleaved differently (--limit, --checkpoint-records, kills) end with what one run writes" {
	kp_admin create-stream "$S" 4 >/dev/null
	put "$S" "$M3K"
	window-stats --checkpoint-dir "$T/offline" "${WS[@]}" <"$M3K" | sigma-flag --all |
	    LC_ALL=C sort >"$T/expected"
	CKP_WS=("${WS[@]}")
	CKP_SF=(--all)
	CKP_FILTER=()
	CKP_S3=(--rollover 1s --inactivity 1s --max-records 500)
	# One run.
	CKP_KR=()
	rm -rf "$T/ck"
	final_run "$S-one/" "$T/expected"
	# Runs killed after a commit, each reading and cutting otherwise.
	rm -rf "$T/ck"
	local c v=0
	for c in "--limit 7 --checkpoint-records 13" "--limit 101 --checkpoint-interval 100ms" \
	    "--limit 33 --checkpoint-records 250" "--limit 500 --checkpoint-records 40" \
	    "--limit 1 --checkpoint-records 3"; do
		# shellcheck disable=SC2206 # options and values
		CKP_KR=($c)
		killed_run "$S-cut/" "$v"
		v=$(((v + 1) % 4))
	done
	CKP_KR=()
	final_run "$S-cut/" "$T/expected"
}
