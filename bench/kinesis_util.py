#!/usr/bin/env python3
"""bench/kinesis_util.py - measuring and checking for bench/kinesis.sh
(standard library only).

  kinesis_util.py time OUT CMD [ARG...]
      run CMD (standard input and output inherited), then write
      "WALL USER SYS STATUS MAXRSS" to OUT: wall seconds, the user and
      system CPU seconds of CMD and the descendants it waited for (wait4's
      rusage, microsecond resolution), and the largest resident set of
      them in KB; exit with CMD's status.  This wrapper's own
      start-up is not in the figures.

  kinesis_util.py verify FIELD EXPECTED ACTUAL
      EXPECTED and ACTUAL are NDJSON files.  Check that ACTUAL holds the
      same lines as EXPECTED, each as many times (the order of the shards
      is free), and that for every value of FIELD (the partition key) the
      lines come in the order of EXPECTED.  Print one line: "ok N" or what
      differs; exit 0 if the lines match (order included), 1 if they match
      but the order per key does not, 2 if lines are missing or extra.
"""

import collections
import json
import os
import subprocess
import sys
import time


def timed(out, cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        f.write(f"{wall:.6f} {ru.ru_utime:.6f} {ru.ru_stime:.6f} {code} {ru.ru_maxrss}\n")
    return code if code >= 0 else 128 - code


def by_key(lines, field):
    seqs = collections.defaultdict(list)
    for line in lines:
        try:
            k = json.loads(line).get(field)
        except (ValueError, AttributeError):
            k = None
        seqs[str(k)].append(line)
    return seqs


def verify(field, expected, actual):
    with open(expected, "rb") as f:
        exp = f.read().splitlines()
    with open(actual, "rb") as f:
        act = f.read().splitlines()
    ce, ca = collections.Counter(exp), collections.Counter(act)
    if ce != ca:
        missing = sum((ce - ca).values())
        extra = sum((ca - ce).values())
        print(f"{len(act)} of {len(exp)} records: {missing} missing, {extra} extra")
        return 2
    se, sa = by_key(exp, field), by_key(act, field)
    bad = sorted(k for k in se if se[k] != sa[k])
    if bad:
        print(f"{len(act)} records, out of order for key {', '.join(bad)}")
        return 1
    print(f"ok {len(act)}")
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "time":
        return timed(argv[2], argv[3:])
    if len(argv) == 5 and argv[1] == "verify":
        return verify(argv[2], argv[3], argv[4])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
