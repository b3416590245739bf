#!/usr/bin/env bats
# The unit drivers of the modules of libkinpipe (tests/c/NAME_test.c), one
# pair of tests each: the driver of $KP_BUILD as it is (under ASan+UBSan
# with KP_BUILD=build-asan), and the driver of the normal build under
# valgrind.  Each must run at least as many cases as named here, all ok:
# a driver that stops early, or a build that lost most of its cases, fails.
# (common_test, sigv4_test and creds_test have files of their own, and
# s3up_test, which needs S3 servers, runs from s3up.bats.)

bats_require_minimum_version 1.5.0

load helpers

@test "unit: buf" { kp_unit buf 60; }
@test "unit under valgrind: buf" { kp_unit buf 60 valgrind; }
@test "unit: jscan" { kp_unit jscan 180; }
@test "unit under valgrind: jscan" { kp_unit jscan 180 valgrind; }
@test "unit: cli" { kp_unit cli 70; }
@test "unit under valgrind: cli" { kp_unit cli 70 valgrind; }
@test "unit: htab" { kp_unit htab 40; }
@test "unit under valgrind: htab" { kp_unit htab 40 valgrind; }
@test "unit: winstate" { kp_unit winstate 80; }
@test "unit under valgrind: winstate" { kp_unit winstate 80 valgrind; }
@test "unit: putq" { kp_unit putq 50; }
@test "unit: putagg" { kp_unit putagg 25; }
@test "unit under valgrind: putagg" { kp_unit putagg 25 valgrind; }
@test "unit under valgrind: putq" { kp_unit putq 50 valgrind; }
@test "unit: kinesis" { kp_unit kinesis 60; }
@test "unit under valgrind: kinesis" { kp_unit kinesis 60 valgrind; }
@test "unit: kresp" { kp_unit kresp 10; }
@test "unit under valgrind: kresp" { kp_unit kresp 10 valgrind; }
@test "unit: spool" { kp_unit spool 50; }
@test "unit under valgrind: spool" { kp_unit spool 50 valgrind; }
@test "unit: s3" { kp_unit s3 60; }
@test "unit under valgrind: s3" { kp_unit s3 60 valgrind; }
@test "unit: s3addr" { kp_unit s3addr 180; }
@test "unit under valgrind: s3addr" { kp_unit s3addr 180 valgrind; }
@test "unit: crc32c" { kp_unit crc32c 18; }
@test "unit under valgrind: crc32c" { kp_unit crc32c 18 valgrind; }
@test "unit: ckpt" { kp_unit ckpt 45; }
@test "unit under valgrind: ckpt" { kp_unit ckpt 45 valgrind; }
@test "unit: keytpl" { kp_unit keytpl 54; }
@test "unit under valgrind: keytpl" { kp_unit keytpl 54 valgrind; }
@test "unit: sts" { kp_unit sts 25; }
@test "unit under valgrind: sts" { kp_unit sts 25 valgrind; }
@test "unit: ratelim" { kp_unit ratelim 34; }
@test "unit under valgrind: ratelim" { kp_unit ratelim 34 valgrind; }
