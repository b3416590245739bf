# kinpipe - Kinesis -> Flink-style windows -> S3, as small C filters.
#
#   make            build every tool into build/bin
#   make check      run the whole test suite (tests/run)
#   make chaos      the long chaos test of checkpoints (tests/chaos.bats)
#   make fuzz       every libFuzzer target of fuzz/ for FUZZ_SECONDS each
#   make faults     the full fault runs of tests/faults*.bats (100,000 records)
#   make demo       run the reference job on the local stack (pipelines/demo)
#   make bench      every benchmark against its peers, one table (bench/run;
#                   BENCH_SIZE=smoke|default|full, table in build/bench/latest.md)
#   make asan       build an ASan+UBSan copy into build-asan/bin
#   make install    install tools, pipeline scripts and man pages (PREFIX, DESTDIR)
#   make deps       install build and test dependencies (Debian 12, as root)
#   make lint       mandoc -Tlint and a grep for unbounded C string calls

VERSION  = 0.1.0
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR  ?= $(PREFIX)/share/man
CC      ?= cc
CFLAGS  ?= -O2 -g
BUILD   ?= build

PKGS     = libcurl json-c openssl zlib
KPCFLAGS = -std=c11 -D_GNU_SOURCE \
           -DKP_VERSION='"$(VERSION)"' -Wall -Wextra -Werror -Icommon \
           $(shell pkg-config --cflags $(PKGS))
KPLIBS   = $(shell pkg-config --libs $(PKGS)) -lm

TOOLS    = $(patsubst tools/%.c,%,$(wildcard tools/*.c))
LIBSRC   = $(wildcard common/*.c)
LIBOBJ   = $(patsubst common/%.c,$(BUILD)/obj/%.o,$(LIBSRC))
TESTSRC  = $(wildcard tests/c/*.c)
TESTBIN  = $(patsubst tests/c/%.c,$(BUILD)/tests/%,$(TESTSRC))
BINS     = $(addprefix $(BUILD)/bin/,$(TOOLS))
MAN1     = $(wildcard man/man1/*.1)
MAN7     = $(wildcard man/man7/*.7)
# The pipeline scripts installed, as $(BINDIR)/kinpipe-NAME (a link into
# $(LIBEXECDIR)/kinpipe, where pipelines/lib/ goes too).  The demo and the
# local stack need a checkout: neither they nor the demo's page are installed.
SCRIPTS  = producer processor replay-batch
MAN1INST = $(filter-out man/man1/kinpipe-demo.1,$(MAN1))

all: $(BUILD)/libkinpipe.a $(BINS) $(TESTBIN)

$(BUILD)/obj/%.o: common/%.c $(wildcard common/*.h) | $(BUILD)/obj
	$(CC) $(KPCFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libkinpipe.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

$(BUILD)/bin/%: tools/%.c $(BUILD)/libkinpipe.a $(wildcard common/*.h) | $(BUILD)/bin
	$(CC) $(KPCFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libkinpipe.a $(KPLIBS) $(LDFLAGS)

$(BUILD)/tests/%: tests/c/%.c $(BUILD)/libkinpipe.a $(wildcard common/*.h) \
    $(wildcard tests/c/*.h) | $(BUILD)/tests
	$(CC) $(KPCFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libkinpipe.a $(KPLIBS) $(LDFLAGS)

$(BUILD)/obj $(BUILD)/bin $(BUILD)/tests:
	mkdir -p $@

asan:
	$(MAKE) BUILD=build-asan \
	    CFLAGS='-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined' \
	    LDFLAGS='-fsanitize=address,undefined'

check: all asan
	tests/run

# The long chaos run of tests/chaos.bats (make check runs a short one):
# CHAOS_RECORDS records, CHAOS_KILLS SIGKILLs in each mode, and a seed,
# printed, that CHAOS_SEED gives again.
CHAOS_RECORDS ?= 300000
CHAOS_KILLS   ?= 20

chaos: all
	@seed='$(CHAOS_SEED)'; [ -n "$$seed" ] || \
	    seed=$$(od -An -N3 -tu4 /dev/urandom | tr -d ' '); \
	echo "make chaos: CHAOS_SEED=$$seed CHAOS_RECORDS=$(CHAOS_RECORDS) CHAOS_KILLS=$(CHAOS_KILLS)"; \
	CHAOS_SEED=$$seed CHAOS_RECORDS='$(CHAOS_RECORDS)' \
	    CHAOS_KILLS='$(CHAOS_KILLS)' tests/run tests/chaos.bats; \
	rc=$$?; echo "make chaos: seed $$seed"; exit $$rc

# libFuzzer targets (fuzz/*.c but fuzz/fuzz.c, which they share), built with
# clang under ASan+UBSan into build-fuzz/; `make fuzz` runs each for
# FUZZ_SECONDS from its corpus fuzz/corpus/NAME (new inputs go to
# build-fuzz/corpus/NAME, crashes to build-fuzz/crashes/); tests/fuzz.bats
# runs each for a few seconds in make check.
FUZZCC      ?= clang
FUZZ_SECONDS ?= 60
FUZZFLAGS    = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined
FUZZSRC      = $(filter-out fuzz/fuzz.c,$(wildcard fuzz/*.c))
FUZZBIN      = $(patsubst fuzz/%.c,build-fuzz/%,$(FUZZSRC))
FUZZOBJ      = $(patsubst common/%.c,build-fuzz/obj/%.o,$(LIBSRC))

fuzz-build: $(FUZZBIN)

build-fuzz/obj/%.o: common/%.c $(wildcard common/*.h) | build-fuzz/obj
	$(FUZZCC) $(KPCFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/%: fuzz/%.c fuzz/fuzz.c fuzz/fuzz.h $(FUZZOBJ)
	$(FUZZCC) $(KPCFLAGS) -Ifuzz $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $< \
	    fuzz/fuzz.c $(FUZZOBJ) $(KPLIBS)

build-fuzz/obj:
	mkdir -p $@

# The objects are not intermediate files to delete after a build.
.SECONDARY: $(FUZZOBJ)

fuzz: fuzz-build
	@rc=0; mkdir -p build-fuzz/crashes; \
	for t in $(notdir $(FUZZBIN)); do \
	    mkdir -p build-fuzz/corpus/$$t; \
	    echo "make fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	        -artifact_prefix=build-fuzz/crashes/$$t- -print_final_stats=1 \
	        build-fuzz/corpus/$$t fuzz/corpus/$$t 2>build-fuzz/$$t.log || \
	        { rc=1; tail -n 30 build-fuzz/$$t.log; }; \
	    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' build-fuzz/$$t.log; \
	done; exit $$rc

# The full fault runs of tests/faults.bats (the proxy's faults; make check
# runs 20,000 records) and tests/faults-restart.bats (the server killed and
# restarted; make check runs 5,000): FAULTS_RECORDS records per tool; the
# figures of each run are appended to
# build/faults-report.txt, one line per tool (the README's Reliability table).
FAULTS_RECORDS ?= 100000

faults: all
	@rm -f build/faults-report.txt; \
	FAULTS_RECORDS='$(FAULTS_RECORDS)' FAULTS_REPORT=$(CURDIR)/build/faults-report.txt \
	    tests/run tests/faults.bats tests/faults-restart.bats; rc=$$?; \
	echo "make faults: figures in build/faults-report.txt:"; \
	cat build/faults-report.txt 2>/dev/null; exit $$rc

demo: all
	pipelines/demo

# The benchmarks (bench/README.md): the processor, scaling, S3, Kinesis and
# checkpoint-cost rows in one table, build/bench/latest.md; BENCH_SIZE=smoke
# (seconds, as tests/bench.bats runs it), default (about 13 minutes) or full.
bench: all
	bench/run

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -d $(DESTDIR)$(LIBEXECDIR)/kinpipe/lib
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 755 $(addprefix pipelines/,$(SCRIPTS)) $(DESTDIR)$(LIBEXECDIR)/kinpipe
	sed -e 's|^KP_INSTALLED_BIN=$$|KP_INSTALLED_BIN=$(BINDIR)|' \
	    -e 's|^KP_INSTALLED_VERSION=$$|KP_INSTALLED_VERSION=$(VERSION)|' \
	    pipelines/lib/kinpipe.bash \
	    >$(DESTDIR)$(LIBEXECDIR)/kinpipe/lib/kinpipe.bash
	chmod 644 $(DESTDIR)$(LIBEXECDIR)/kinpipe/lib/kinpipe.bash
	for s in $(SCRIPTS); do \
	    ln -sf "$$(realpath -m --relative-to=$(BINDIR) $(LIBEXECDIR))/kinpipe/$$s" \
	        $(DESTDIR)$(BINDIR)/kinpipe-$$s || exit 1; \
	done
	install -m 644 $(MAN1INST) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for s in $(SCRIPTS); do rm -f $(DESTDIR)$(BINDIR)/kinpipe-$$s \
	    $(DESTDIR)$(LIBEXECDIR)/kinpipe/$$s; done
	rm -f $(DESTDIR)$(LIBEXECDIR)/kinpipe/lib/kinpipe.bash
	-rmdir $(DESTDIR)$(LIBEXECDIR)/kinpipe/lib $(DESTDIR)$(LIBEXECDIR)/kinpipe
	for m in $(notdir $(MAN1INST)); do rm -f $(DESTDIR)$(MANDIR)/man1/$$m; done
	for m in $(notdir $(MAN7)); do rm -f $(DESTDIR)$(MANDIR)/man7/$$m; done

deps:
	pipelines/deps

lint:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN7)
	! grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol)\s*\(' common/*.[ch] tools/*.c
	if command -v shellcheck >/dev/null; then \
	    shellcheck -x pipelines/demo pipelines/deps pipelines/localstack \
	        $(addprefix pipelines/,$(SCRIPTS)) pipelines/lib/kinpipe.bash \
	        tests/lib/srv bench/run bench/*.sh bench/lib/bench.bash; \
	else echo 'lint: shellcheck not installed: scripts not checked'; fi

clean:
	rm -rf build-fuzz
	rm -rf build build-asan

.PHONY: all asan bench check chaos demo faults fuzz fuzz-build install uninstall deps lint clean
