#!/usr/bin/env python3
"""gen-trades.py - the bundled real trades, repeated and shifted in time, for
bench/checkpoint.sh and bench/latency.sh.

    bench/gen-trades.py [--records N | --copies C] [--shift MINUTES]
                        [--close] [--number FIELD] TRADES > out.ndjson

TRADES is an NDJSON file of trades whose first member is an RFC 3339
"timestamp" (tests/data/market-trades.ndjson.gz, uncompressed: 78,638 trades
of six markets over 10 min 50 s).  Copy k of the file is written with every
timestamp moved k * MINUTES later (default 60: whole hours), so event time
keeps going forward from copy to copy and, the shift being whole minutes, every
one-minute window of a copy holds exactly the trades of the original window:
each copy flags the same trades.

  --records N    write N trades: whole copies, the last one cut short
  --copies C     write C whole copies (default 1)
  --shift M      minutes between copies (default 60)
  --close        then the first trade of every symbol of the next copy: a
                 record past the end of every window of the data, so that
                 each window fires in a run that keeps its open windows at
                 the end (--checkpoint-dir) as in one that does not.  These
                 trades open one-record windows of their own, which never
                 flag anything (their standard deviation is 0).
  --number FIELD append "FIELD":LINE to every record (LINE counts the output
                 lines from 1), so that a record can be recognised wherever
                 it lands
"""
import argparse
import datetime
import sys


def main():
    p = argparse.ArgumentParser(add_help=True)
    g = p.add_mutually_exclusive_group()
    g.add_argument('--records', type=int)
    g.add_argument('--copies', type=int, default=1)
    p.add_argument('--shift', type=int, default=60)
    p.add_argument('--close', action='store_true')
    p.add_argument('--number')
    p.add_argument('trades')
    a = p.parse_args()
    with open(a.trades, encoding='utf-8') as f:
        src = f.read().splitlines()
    if not src:
        sys.exit('gen-trades.py: %s: no trades' % a.trades)
    n = a.records if a.records is not None else a.copies * len(src)
    cache = {}
    out = sys.stdout
    lineno = 0

    def write(line, k):
        nonlocal lineno
        i = line.index('"timestamp":"') + 13
        # Minutes resolution: the seconds and their fraction stay as written.
        pre = line[i:i + 16]
        new = cache.get((pre, k))
        if new is None:
            t = datetime.datetime.strptime(pre, '%Y-%m-%dT%H:%M')
            t += datetime.timedelta(minutes=k * a.shift)
            new = cache[(pre, k)] = t.strftime('%Y-%m-%dT%H:%M')
        line = line[:i] + new + line[i + 16:]
        lineno += 1
        if a.number:
            line = line[:line.rindex('}')] + ',"%s":%d}' % (a.number, lineno)
        out.write(line + '\n')

    k = written = 0
    while written < n:
        for line in src[:n - written]:
            write(line, k)
        written += min(len(src), n - written)
        k += 1
    if a.close:
        # The copy after the last one written (whole or cut short).
        seen = set()
        for line in src:
            i = line.index('"symbol":"') + 10
            sym = line[i:line.index('"', i)]
            if sym not in seen:
                seen.add(sym)
                write(line, k)


if __name__ == '__main__':
    main()
