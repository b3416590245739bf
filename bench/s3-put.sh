#!/usr/bin/env bash
# bench/s3-put.sh - s3-put side by side with `aws s3 cp` and boto3 uploading
# the same bytes to the same local s3rver: throughput and CPU per MiB, for
# one large stream and for many small rolled parts.  Never run by the
# tests.  See bench/README.md, "s3-put".
#
#   bench/s3-put.sh [-c COPIES] [-m RECORDS] [-r RUNS]
#
#   -c COPIES   copies of the bundled trades in the large stream
#               (default 10: 69 MiB, one object, 8 MiB parts)
#   -m RECORDS  records per object in the many-parts case (default 1000:
#               the trades become 79 objects of about 90 KiB)
#   -r RUNS     runs of each command; the run with the least CPU counts
#               (default 3)
#
# Environment: KP_BUILD (build directory, default build), TMPDIR (scratch,
# removed at exit), AWS (the AWS CLI, default aws), PYTHON (with boto3,
# default python3).
#
# All three clients get the same settings where they have them: 8 MiB
# parts, 10 requests in flight.  Each figure is the client process alone
# (user + sys of /usr/bin/time; the server runs apart), start-up included,
# as a user would run it.  s3-put also parses every record for its event
# time and writes and fsyncs its spool: that work is part of its figure.
# CPU per MiB is the figure to compare on a busy machine; wall time and
# MiB/s are shown as measured.

set -euo pipefail

copies=10
per=1000
runs=3
while getopts c:m:r: opt; do
	case $opt in
	c) copies=$OPTARG ;;
	m) per=$OPTARG ;;
	r) runs=$OPTARG ;;
	*) sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${KP_BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
s3put=$build/bin/s3-put
aws=${AWS:-aws}
python=${PYTHON:-python3}
[[ -x $s3put ]] || { echo "s3-put.sh: no $s3put: run make" >&2; exit 1; }
command -v "$aws" >/dev/null || { echo "s3-put.sh: no AWS CLI ($aws)" >&2; exit 1; }
"$python" -c 'import boto3' 2>/dev/null || { echo "s3-put.sh: $python lacks boto3" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "s3-put.sh: needs /usr/bin/time" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/s3put-bench.XXXXXX")
stack=$tmp/stack
cleanup() {
	"$root/pipelines/localstack" stop "$stack" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$root/pipelines/localstack" start "$stack" --s3 >/dev/null
# shellcheck disable=SC1091
source "$stack/env"
export HOME=$tmp/home AWS_EC2_METADATA_DISABLED=true
mkdir -p "$HOME"
endpoint=$AWS_ENDPOINT_URL_S3
bucket=bench
"$root/pipelines/localstack" create-bucket "$bucket" >/dev/null 2>&1 ||
    node "$root/pipelines/lib/kp-admin.js" create-bucket "$bucket" >/dev/null

zcat "$root/tests/data/market-trades.ndjson.gz" >"$tmp/trades.ndjson"
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

# measure NAME CMD...: runs CMD $runs times; prints "wall cpu" of the run
# with the least CPU.  {RUN} in an argument becomes the run number.
measure() {
	local name=$1 r best= bwall= args a
	shift
	for ((r = 1; r <= runs; r++)); do
		args=()
		for a; do args+=("${a//\{RUN\}/$r}"); done
		/usr/bin/time -f '%e %U %S' -o "$tmp/time" "${args[@]}" \
		    </dev/null >/dev/null 2>"$tmp/err" || {
			echo "s3-put.sh: $name failed:" >&2
			cat "$tmp/err" >&2
			exit 1
		}
		read -r wall user sys <"$tmp/time"
		cpu=$(echo "$user + $sys" | bc -l)
		if [[ -z $best ]] || (($(echo "$cpu < $best" | bc -l))); then
			best=$cpu
			bwall=$wall
		fi
	done
	echo "$bwall $best"
}

# s3-put reads standard input: a wrapper gives it the file.
cat >"$tmp/s3put-stdin" <<EOF
#!/bin/sh
in=\$1
shift
exec "$s3put" "\$@" <"\$in"
EOF
chmod +x "$tmp/s3put-stdin"

mib() { echo "scale=2; $(wc -c <"$1") / 1048576" | bc -l; }

row() { # case tool mib wall cpu
	printf '%-12s %-11s %8.1f %8.2f %8.1f %8.2f %11.1f\n' "$1" "$2" "$3" "$4" \
	    "$(echo "$3 / $4" | bc -l)" "$5" "$(echo "1000 * $5 / $3" | bc -l)"
}

large_mib=$(mib "$tmp/large.ndjson")
small_mib=$(cat "$tmp"/small/* | wc -c | awk '{ printf "%.2f", $1 / 1048576 }')

read -r l_sp_w l_sp_c < <(measure s3-put "$tmp/s3put-stdin" "$tmp/large.ndjson" \
    --spool-dir "$tmp/spool" --bucket-format '' --max-bytes 1GiB --part-size 8MiB \
    --concurrency 10 --run-id 'large-{RUN}' "s3://$bucket/s3put-large/")
read -r l_cli_w l_cli_c < <(measure "aws s3 cp" "$aws" s3 cp --quiet --endpoint-url "$endpoint" \
    "$tmp/large.ndjson" "s3://$bucket/cli-large-{RUN}/large.ndjson")
read -r l_b3_w l_b3_c < <(measure boto3 "$python" "$tmp/boto3_large.py" "$tmp/large.ndjson" \
    "$bucket" "boto3-large-{RUN}/large.ndjson")

read -r s_sp_w s_sp_c < <(measure s3-put "$tmp/s3put-stdin" "$tmp/trades.ndjson" \
    --spool-dir "$tmp/spool" --bucket-format '' --max-records "$per" --concurrency 10 \
    --run-id 'small-{RUN}' "s3://$bucket/s3put-small/")
read -r s_cli_w s_cli_c < <(measure "aws s3 cp" "$aws" s3 cp --quiet --recursive \
    --endpoint-url "$endpoint" "$tmp/small" "s3://$bucket/cli-small-{RUN}/")
read -r s_b3_w s_b3_c < <(measure boto3 "$python" "$tmp/boto3_small.py" "$tmp/small" \
    "$bucket" "boto3-small-{RUN}/")

# The same bytes arrived: one object of the large stream, all the parts.
size=$(node "$root/pipelines/lib/kp-admin.js" list-objects "$bucket" s3put-large/ |
    jq '[.Objects[] | select(.Key | contains("large-1"))][0].Size')
[[ $size == "$(wc -c <"$tmp/large.ndjson")" ]] || { echo "s3-put.sh: large object is $size bytes" >&2; exit 1; }
n=$(node "$root/pipelines/lib/kp-admin.js" list-objects "$bucket" s3put-small/ |
    jq '[.Objects[] | select(.Key | contains("small-1"))] | length')
[[ $n == "$nsmall" ]] || { echo "s3-put.sh: $n small objects, expected $nsmall" >&2; exit 1; }

echo "s3-put $("$s3put" --version | cut -d' ' -f2), $("$aws" --version 2>&1 | cut -d' ' -f1), boto3 $("$python" -c 'import boto3; print(boto3.__version__)'); s3rver on loopback; $(nproc) cores; best of $runs by CPU"
echo "large: $copies copies of the trades, one object, 8 MiB parts; small: $nsmall objects of $per records"
printf '%-12s %-11s %8s %8s %8s %8s %11s\n' case tool MiB wall_s MiB/s cpu_s cpu_ms/MiB
row large s3-put "$large_mib" "$l_sp_w" "$l_sp_c"
row large "aws s3 cp" "$large_mib" "$l_cli_w" "$l_cli_c"
row large boto3 "$large_mib" "$l_b3_w" "$l_b3_c"
row small s3-put "$small_mib" "$s_sp_w" "$s_sp_c"
row small "aws s3 cp" "$small_mib" "$s_cli_w" "$s_cli_c"
row small boto3 "$small_mib" "$s_b3_w" "$s_b3_c"
ratio() { echo "scale=1; $1 / $2" | bc -l; }
echo "CPU per MiB, times s3-put's: large: aws $(ratio "$l_cli_c" "$l_sp_c")x, boto3 $(ratio "$l_b3_c" "$l_sp_c")x;" \
    "small: aws $(ratio "$s_cli_c" "$s_sp_c")x, boto3 $(ratio "$s_b3_c" "$s_sp_c")x"
echo "wall time, times s3-put's: large: aws $(ratio "$l_cli_w" "$l_sp_w")x, boto3 $(ratio "$l_b3_w" "$l_sp_w")x;" \
    "small: aws $(ratio "$s_cli_w" "$s_sp_w")x, boto3 $(ratio "$s_b3_w" "$s_sp_w")x"
