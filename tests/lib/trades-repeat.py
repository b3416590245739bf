#!/usr/bin/env python3
"""trades-repeat.py N [FILE]: N trade records from FILE (NDJSON, default
stdin, gzip read when the name ends in .gz) repeated as many times as
needed, copy k (from 0) with every "timestamp" shifted by k hours, so that
each copy comes after the one before it in event time and no record of a
later copy is late.  Every other byte of a line is kept; the timestamp is
written back in the same form (RFC 3339, UTC, milliseconds, Z).

The copies must each span less than an hour: the bundled six-market file
(tests/data/market-trades.ndjson.gz) spans eleven minutes.
"""

import datetime
import gzip
import re
import sys

TS = re.compile(rb'"timestamp":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:'
                rb'[0-9]{2}\.[0-9]{3})Z"')


def shifted(line, hours):
    m = TS.search(line)
    if m is None:
        sys.exit('trades-repeat.py: a line without a "timestamp" of the '
                 'form YYYY-MM-DDTHH:MM:SS.mmmZ: %r' % line[:200])
    if hours == 0:
        return line
    t = datetime.datetime.strptime(m.group(1).decode(), '%Y-%m-%dT%H:%M:%S.%f')
    t += datetime.timedelta(hours=hours)
    new = t.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3].encode()
    return line[:m.start(1)] + new + line[m.end(1):]


def main():
    if len(sys.argv) not in (2, 3) or not sys.argv[1].isdigit():
        sys.exit('usage: trades-repeat.py N [FILE]')
    n = int(sys.argv[1])
    name = sys.argv[2] if len(sys.argv) == 3 else None
    if name is None:
        data = sys.stdin.buffer.read()
    elif name.endswith('.gz'):
        with gzip.open(name, 'rb') as f:
            data = f.read()
    else:
        with open(name, 'rb') as f:
            data = f.read()
    lines = [l for l in data.split(b'\n') if l]
    if not lines and n > 0:
        sys.exit('trades-repeat.py: no input line')
    out = sys.stdout.buffer
    k = 0
    while n > 0:
        for line in lines[:n]:
            out.write(shifted(line, k) + b'\n')
        n -= min(n, len(lines))
        k += 1


if __name__ == '__main__':
    main()
