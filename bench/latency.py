#!/usr/bin/env python3
"""latency.py - the latencies of one bench/latency.sh run, from its logs.

    bench/latency.py DATA EXPECTED RUNDIR ROLL_MS

DATA      the NDJSON kin-put sent, each record numbered by its "n" field
          (its line number) and with "symbol" and "timestamp"
EXPECTED  the "n" of every record the job flags, one a line (the same job
          run over DATA from a file)
RUNDIR    the run's logs, each line "MS TEXT" (MS: wall clock, ms):
            rc.log     kin-put's receipts: {"line":N,...} once N is stored
            flag.log   sigma-flag's output: each flagged record (and the
                       barriers passing)
            s3.log     s3-put's output: {"uri":...} once an object is
                       written, and each barrier once committed
            watch.log  "MS KEY N": record N read back from S3 (list + get)
ROLL_MS   s3-put's --rollover (= --inactivity) in ms

For each flagged record, with its key k, event time t and window [s, e):
  send     when kin-put had it stored (the receipt)
  close    the receipt of the first later record of key k with event time
           >= e: the record that makes the watermark pass e and fires the
           window (for a 1-minute window, up to a minute of event time)
  flag     when it left sigma-flag
  written  when s3-put reported its object written
  visible  when the watcher had read it back from S3
The part holding it opened with its first record (the earliest flag time
of the object's records) and rolled ROLL_MS later; with checkpoints it then
waited for the next barrier to be committed (s3-put forwards a barrier once
committed: the first one at or after the roll), and was uploaded.

Prints one JSON object: counts, percentiles of each stage and of the total,
and the barrier spacing seen at s3-put's output.
"""
import bisect
import collections
import json
import math
import sys


def pct(xs, p):
    """Nearest-rank percentile of a sorted list."""
    if not xs:
        return None
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)]


def summary(xs):
    xs = sorted(xs)
    if not xs:
        return {'n': 0}
    return {'n': len(xs), 'mean': round(sum(xs) / len(xs)),
            'p50': pct(xs, 50), 'p90': pct(xs, 90), 'p99': pct(xs, 99),
            'max': xs[-1], 'min': xs[0]}


def stamped(path):
    with open(path, encoding='utf-8') as f:
        for line in f:
            ms, _, text = line.rstrip('\n').partition(' ')
            yield int(ms), text


def epoch_ms(ts):
    # 2024-08-09T00:05:05.800Z; the whole minute is what matters here.
    import datetime
    t = datetime.datetime.strptime(ts[:19], '%Y-%m-%dT%H:%M:%S')
    frac = ts[19:].rstrip('Z').lstrip('.')
    ms = int((frac + '000')[:3]) if frac else 0
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1000 + ms


def main():
    data, expected, run, roll = sys.argv[1:5]
    roll = int(roll)
    sym, evt = {}, {}
    per_key = collections.defaultdict(list)     # key -> [(n, t)]
    with open(data, encoding='utf-8') as f:
        for line in f:
            r = json.loads(line)
            n = r['n']
            sym[n], evt[n] = r['symbol'], epoch_ms(r['timestamp'])
            per_key[r['symbol']].append(n)
    with open(expected, encoding='utf-8') as f:
        want = [int(x) for x in f.read().split()]

    send = {}
    for ms, text in stamped(f'{run}/rc.log'):
        send[json.loads(text)['line']] = ms
    flag = {}
    for ms, text in stamped(f'{run}/flag.log'):
        r = json.loads(text)
        if '__kinpipe' not in r:
            flag.setdefault(r['n'], ms)
    written, commits = {}, []  # commits: in time order
    for ms, text in stamped(f'{run}/s3.log'):
        r = json.loads(text)
        if '__kinpipe' in r:
            commits.append(ms)
        else:
            written.setdefault(r['uri'].split('/', 3)[3], ms)
    visible, where = {}, {}
    for ms, text in stamped(f'{run}/watch.log'):
        key, n = text.split(' ')
        n = int(n)
        if n in visible:
            continue
        visible[n], where[n] = ms, key
    opened = {}
    for n, key in where.items():
        if n in flag:
            opened[key] = min(opened.get(key, flag[n]), flag[n])

    stages = collections.defaultdict(list)
    missing = []
    for n in want:
        if n not in visible or n not in flag or n not in send:
            missing.append(n)
            continue
        k = sym[n]
        end = (evt[n] // 60000 + 1) * 60000
        ns = per_key[k]
        i = bisect.bisect_right(ns, n)
        while i < len(ns) and evt[ns[i]] < end:
            i += 1
        close = send.get(ns[i]) if i < len(ns) else None
        key = where[n]
        w = written.get(key)
        stages['total'].append(visible[n] - send[n])
        stages['flag'].append(flag[n] - send[n])
        if close is not None:
            stages['window'].append(close - send[n])
            stages['read'].append(flag[n] - close)
        if w is not None:
            rolled = opened[key] + roll
            stages['sink'].append(w - flag[n])
            stages['roll'].append(rolled - flag[n])
            stages['commit'].append(w - rolled)
            j = bisect.bisect_left(commits, rolled)
            if j < len(commits) and commits[j] <= w:
                stages['barrier'].append(commits[j] - rolled)
                stages['deliver'].append(w - commits[j])
            elif not commits:
                stages['deliver'].append(w - rolled)
            stages['poll'].append(visible[n] - w)
    extra = sorted(set(visible) - set(want))
    spacing = [b - a for a, b in zip(commits, commits[1:])]
    print(json.dumps({
        'expected': len(want), 'seen': len(want) - len(missing),
        'missing': missing[:10], 'unexpected': extra[:10],
        'objects': len(written), 'commits': len(commits),
        'barrier_spacing': summary(spacing),
        'stages': {k: summary(v) for k, v in stages.items()},
    }))


if __name__ == '__main__':
    main()
