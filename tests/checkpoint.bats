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
#
# A test marked "# BUG:" reproduces a defect of the tools and is skipped
# so that the suite stays green; remove the skip once it is fixed.

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
	run wait "${BG[0]}"
	assert_success
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
	wait_for at_least 3 "$T/o1" __kinpipe
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

# BUG: kin-read does not flush its --dead-letter at a barrier: a record
# whose data is not JSON is passed over by the committed position while
# its line sits in a stdio buffer; a SIGKILL after the commit loses it.
#   printf 'not json\n{"a":1}\n' | kin-put --raw --stream S --partition-key k
#   kin-read --stream S --checkpoint-dir ck --self-commit --follow \
#       --dead-letter dl --checkpoint-interval 100ms >out & sleep 2
#   kill -KILL %1; cat ck/commit.json; wc -c dl     # committed; dl is empty
@test "kin-read --dead-letter: a rejected record before a committed barrier is in the file after a SIGKILL" {
	skip "BUG: kin-read does not flush its dead letter at a barrier (see the comment above the test)"
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

@test "window-stats --final: with --checkpoint-dir too, the end of input fires every open window" {
	head -n 1000 "$M3K" >"$T/in"
	window-stats "${WS[@]}" <"$T/in" >"$T/all"
	window-stats --checkpoint-dir "$T/ck" --final "${WS[@]}" <"$T/in" >"$T/final"
	cmp "$T/all" "$T/final"
	window-stats --checkpoint-dir "$T/ck2" "${WS[@]}" <"$T/in" >"$T/kept"
	(($(wc -l <"$T/kept") < $(wc -l <"$T/all")))
}

# BUG: window-stats --final under --checkpoint-dir fires the open windows
# at the end of input, after the run's last barrier: s3-put takes those
# records as uncommitted and drops them, and every later run does the same,
# so --final never gets the last windows into the destination (all exit 0):
#   b='{"__kinpipe":{"barrier":1,"version":1,"job":"j","stream":"s","final":true,"positions":{}}}'
#   printf '%s\n' '{"timestamp":"2024-01-01T00:00:01Z","price":1}' "$b" |
#     window-stats --checkpoint-dir ck --emit records --final |
#     s3-put -v --checkpoint-dir ck --job j out/
#   s3-put: 1 records after the last barrier were not committed: the next run reads them again
@test "window-stats --final with --checkpoint-dir: the windows it fires at the end reach the destination" {
	skip "BUG: --final fires after the last barrier; s3-put drops what it fired (see the comment above the test)"
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
	    "--offset 1s" "--weight-field volume"; do
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

# BUG: the refusal of a damaged snapshot does not say what to do (a
# missing one does); the message is only the parser's:
#   window-stats: ck/window-stats.1.state: line 1: invalid JSON: unexpected character
@test "window-stats: the refusal of a damaged snapshot names the way out" {
	skip "BUG: the message of a damaged snapshot names no way out"
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
