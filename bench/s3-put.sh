#!/usr/bin/env bash
# bench/s3-put.sh - s3-put side by side with `aws s3 cp` and boto3 uploading
# the same bytes to the same local s3rver: throughput and CPU per MiB, for
# one large stream and for many small rolled parts.  tests/bench.bats
# runs it at a smoke size.  See bench/README.md, "Sink".
#
#   bench/s3-put.sh [-c COPIES] [-m RECORDS] [-r RUNS] [-n LINES]
#
#   -c COPIES   copies of the bundled trades in the large stream
#               (default 10: 69 MiB, one object, 8 MiB parts)
#   -n LINES    the first LINES of the bundled trades only (default: all
#               78,638; tests/bench.bats uses a few hundred)
#   -m RECORDS  records per object in the many-parts case (default 1000:
#               the trades become 79 objects of about 90 KiB)
#   -r RUNS     runs of each command; the run with the least CPU counts
#               (default 3)
#
# Environment: KP_BUILD (build directory, default build), TMPDIR (scratch,
# removed at exit), AWS (the AWS CLI, default aws), PYTHON (with boto3,
# default python3), BENCH_RESULTS (bench/run's result rows).  A missing AWS
# CLI or boto3 skips its rows, with a message saying how to install it.
#
# All three clients get the same settings where they have them: 8 MiB
# parts, 10 requests in flight.  Each figure is the client process alone
# (user + sys of /usr/bin/time; the server runs apart), start-up included,
# as a user would run it.  s3-put also parses every record for its event
# time and writes and fsyncs its spool: that work is part of its figure.
# CPU per MiB is the figure to compare on a busy machine; wall time and
# MiB/s are shown as measured.

set -euo pipefail

prog=s3-put.sh
copies=10
lines=0
per=1000
runs=3
while getopts c:m:r:n: opt; do
	case $opt in
	c) copies=$OPTARG ;;
	n) lines=$OPTARG ;;
	m) per=$OPTARG ;;
	r) runs=$OPTARG ;;
	*) sed -n '7,16s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done

# shellcheck source=bench/lib/bench.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/bench.bash"
s3put=$bin/s3-put
aws=${AWS:-aws}
bench_need_tools s3-put
bench_need_modules s3rver
[[ -x /usr/bin/time ]] || bench_die "needs /usr/bin/time (apt-get install time)"
have_aws=1
command -v "$aws" >/dev/null || {
	have_aws=0
	echo "$prog: no AWS CLI ($aws): its rows skipped (Debian: apt-get install awscli)" >&2
}
have_boto3=1
"$python" -c 'import boto3' 2>/dev/null || {
	have_boto3=0
	echo "$prog: $python cannot import boto3: its rows skipped (Debian: apt-get install python3-boto3)" >&2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/s3put-bench.XXXXXX")
stack=$tmp/stack
cleanup() {
	bench_stack_stop "$stack"
	rm -rf "$tmp"
}
trap cleanup EXIT

bench_stack_start "$stack" --s3
endpoint=$AWS_ENDPOINT_URL_S3
bucket=bench
"$root/pipelines/localstack" create-bucket "$bucket" >/dev/null

zcat "$root/tests/data/market-trades.ndjson.gz" |
    awk -v n="$lines" 'n == 0 || NR <= n' >"$tmp/trades.ndjson"
for ((i = 0; i < copies; i++)); do cat "$tmp/trades.ndjson"; done >"$tmp/large.ndjson"
# The many-parts case: the very objects s3-put makes, as files for the others.
"$s3put" --spool-dir "$tmp/spool-prep" --bucket-format '' --max-records "$per" \
    "$tmp/small" <"$tmp/trades.ndjson" >/dev/null
nsmall=$(find "$tmp/small" -type f | wc -l)

cat >"$tmp/boto3_large.py" <<'EOF'
import sys, boto3
from boto3.s3.transfer import TransferConfig
path, bucket, key = sys.argv[1:4]
cfg = TransferConfig(multipart_threshold=8 * 2**20, multipart_chunksize=8 * 2**20,
                     max_concurrency=10)
boto3.client("s3").upload_file(path, bucket, key, Config=cfg)
EOF
cat >"$tmp/boto3_small.py" <<'EOF'
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
folder, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3")
names = sorted(os.listdir(folder))
def put(n):
    with open(os.path.join(folder, n), "rb") as f:
        s3.put_object(Bucket=bucket, Key=prefix + n, Body=f.read(),
                      ContentType="application/x-ndjson")
with ThreadPoolExecutor(10) as ex:
    list(ex.map(put, names))
EOF

# measure NAME CMD...: runs CMD $runs times; prints "wall cpu maxrss_kb" of
# the run with the least CPU.  {RUN} in an argument becomes the run number.
measure() {
	local name=$1 r best='' bwall='' brss='' args a
	shift
	for ((r = 1; r <= runs; r++)); do
		args=()
		for a; do args+=("${a//\{RUN\}/$r}"); done
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "${args[@]}" \
		    </dev/null >/dev/null 2>"$tmp/err" || {
			echo "$prog: $name failed:" >&2
			cat "$tmp/err" >&2
			exit 1
		}
		read -r wall user sys rss <"$tmp/time"
		cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
		if [[ -z $best ]] || awk -v a="$cpu" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$cpu
			bwall=$wall
			brss=$rss
		fi
	done
	echo "$bwall $best $brss"
}

# s3-put reads standard input: a wrapper gives it the file.
cat >"$tmp/s3put-stdin" <<EOF
#!/bin/sh
in=\$1
shift
exec "$s3put" "\$@" <"\$in"
EOF
chmod +x "$tmp/s3put-stdin"

# bytes PREFIX: the bytes stored under s3://$bucket/PREFIX.
bytes() {
	node "$root/pipelines/lib/kp-admin.js" list-objects "$bucket" "$1" |
	    jq '[.Objects[]?.Size] | add // 0'
}

mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
large_bytes=$(wc -c <"$tmp/large.ndjson")
large_lines=$(wc -l <"$tmp/large.ndjson")
small_bytes=$(cat "$tmp"/small/* | wc -c)
small_lines=$(wc -l <"$tmp/trades.ndjson")
invalid=0

echo "s3-put $("$s3put" --version | cut -d' ' -f2); s3rver on loopback; $(nproc) cores; best of $runs by CPU"
echo "large: $copies copies of the trades, one object, 8 MiB parts; small: $nsmall objects of $per records"
printf '%-6s %-10s %8s %8s %8s %8s %11s %9s  %s\n' case tool MiB wall_s MiB/s cpu_s cpu_ms/MiB rss_KB verified

# run CASE ID LABEL PREFIX CMD...: measure CMD, check that the bytes of the
# case are under PREFIX (its first run's), print the row, write the result.
run() {
	local case=$1 id=$2 label=$3 prefix=$4 want lines n wall cpu rss got ok=ok what
	shift 4
	read -r wall cpu rss < <(measure "$label" "$@")
	if [[ $case == large ]]; then
		want=$large_bytes lines=$large_lines
	else
		want=$small_bytes lines=$small_lines
	fi
	got=$(bytes "$prefix")
	[[ $got == "$want" ]] || { ok="INVALID: $got bytes of $want"; invalid=1; }
	n=$(mib "$want")
	printf '%-6s %-10s %8.2f %8.2f %8.1f %8.2f %11.1f %9s  %s\n' "$case" "$label" "$n" "$wall" \
	    "$(awk -v m="$n" -v w="$wall" 'BEGIN { print m / (w > 0 ? w : 0.01) }')" "$cpu" \
	    "$(awk -v m="$n" -v c="$cpu" 'BEGIN { print 1000 * c / m }')" "$rss" "$ok"
	if [[ $case == large ]]; then
		what="$(bench_commas "$lines") trades, $n MiB, one object, 8 MiB parts"
	else
		what="$(bench_commas "$lines") trades, $n MiB, $nsmall objects of $(bench_commas "$per") records"
	fi
	bench_result "s3.$case.$id" "$label" "$what" "$lines" "$wall" "$cpu" "$rss" -
}

run large s3-put s3-put s3put-large-1/ "$tmp/s3put-stdin" "$tmp/large.ndjson" \
    --spool-dir "$tmp/spool" --bucket-format '' --max-bytes 1GiB --part-size 8MiB \
    --concurrency 10 "s3://$bucket/s3put-large-{RUN}/"
((!have_aws)) || run large aws "aws s3 cp" cli-large-1/ "$aws" s3 cp --quiet \
    --endpoint-url "$endpoint" "$tmp/large.ndjson" "s3://$bucket/cli-large-{RUN}/large.ndjson"
((!have_boto3)) || run large boto3 boto3 boto3-large-1/ "$python" "$tmp/boto3_large.py" \
    "$tmp/large.ndjson" "$bucket" "boto3-large-{RUN}/large.ndjson"
run small s3-put s3-put s3put-small-1/ "$tmp/s3put-stdin" "$tmp/trades.ndjson" \
    --spool-dir "$tmp/spool" --bucket-format '' --max-records "$per" --concurrency 10 \
    "s3://$bucket/s3put-small-{RUN}/"
((!have_aws)) || run small aws "aws s3 cp" cli-small-1/ "$aws" s3 cp --quiet --recursive \
    --endpoint-url "$endpoint" "$tmp/small" "s3://$bucket/cli-small-{RUN}/"
((!have_boto3)) || run small boto3 boto3 boto3-small-1/ "$python" "$tmp/boto3_small.py" \
    "$tmp/small" "$bucket" "boto3-small-{RUN}/"

versions="s3-put $("$s3put" --version | cut -d' ' -f2)"
((!have_aws)) || versions+=", $("$aws" --version 2>&1 | cut -d' ' -f1)"
((!have_boto3)) || versions+=", boto3 $("$python" -c 'import boto3; print(boto3.__version__)')"
bench_note "s3: the client process alone (/usr/bin/time), start-up included, best of $runs by CPU, to s3rver $(jq -r .version "$root/node_modules/s3rver/package.json") on loopback; CPU per record = CPU per MiB (the same bytes); $versions"
bench_table
if ((invalid)); then
	echo "$prog: INVALID: an upload is missing bytes (see 'verified')" >&2
	exit 1
fi
