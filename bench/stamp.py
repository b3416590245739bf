#!/usr/bin/env python3
"""stamp.py - copy standard input to standard output, noting when each line
passed, for bench/latency.sh.

    bench/stamp.py LOG

Every line is written on at once (nothing waits in a buffer), and appended to
LOG as "MS LINE": MS the wall clock in milliseconds since the epoch at which
the line was read.  Lines that arrive together (one read) get the same time.
A closed standard output is not an error: the log goes on.
"""
import os
import sys
import time


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: stamp.py LOG')
    log = open(sys.argv[1], 'ab')
    out = True
    rest = b''
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        ms = b'%d ' % int(time.time() * 1000)
        if out:
            try:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(1, view):]
            except BrokenPipeError:
                out = False
        lines = (rest + chunk).split(b'\n')
        rest = lines.pop()
        log.write(b''.join(ms + line + b'\n' for line in lines))
        log.flush()
    if rest:
        log.write(b'%d ' % int(time.time() * 1000) + rest + b'\n')
    log.close()


if __name__ == '__main__':
    main()
