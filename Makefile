# sparkless.h — build, test, demo, bench.
#   make demo    build and run examples/quickstart.c
#   make test    every test, every configuration; ends with "N passed, N failed"
#   make bench   the benchmarks in bench/ (optimised build); SF=0.1 picks the TPC-H
#                scale factor of bench/load and bench/tpch (default 1); bench/tpch
#                compares with DuckDB and SQLite where bench/install-peers put them
#   make fuzz FUZZER=expr SECONDS=600   one libFuzzer harness (tests/fuzz/) for
#                a long run, growing build/fuzz/corpus-<name>; make fuzz-corpus
#                regenerates the checked-in seeds with tests/fuzz/gen_corpus.c
# sparkless.h is generated from src/ by tools/amalgamate; any target that uses
# it regenerates it first.

CC      ?= cc
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Werror
LIBS    := -lm -pthread
# SQLite is an optional oracle for differential tests (never used by the library).
HAVE_SQLITE := $(shell printf '\043include <sqlite3.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_SQLITE),yes)
ORACLE_FLAGS := -DSPK_HAVE_SQLITE=1
ORACLE_LIBS  := -lsqlite3
endif
ASAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN    := -fsanitize=thread
B       := build

SOURCES := $(wildcard src/*.h src/*.c)
TESTS   := $(basename $(notdir $(wildcard tests/test_*.c)))
EXAMPLES:= $(basename $(notdir $(wildcard examples/*.c)))
BENCH_SRCS := $(basename $(notdir $(wildcard bench/*.c)))
BENCHES := $(filter-out tpch_gen,$(BENCH_SRCS)) # tpch_gen writes data; load reads it
SF      ?= 1

.PHONY: all demo test bench clean header fuzz fuzz-corpus
.DELETE_ON_ERROR:
all: sparkless.h

sparkless.h: $(SOURCES) tools/amalgamate
	tools/amalgamate

header: sparkless.h

# ---- build configurations: name, compiler, flags -------------------------
# Each builds the implementation once (tests/impl.c) and links every test
# program against it, so every test is also a two-translation-unit build.
# Examples are single files that define SPARKLESS_IMPLEMENTATION themselves.
define CONFIG
$(B)/$(1)/.dir:
	@mkdir -p $(B)/$(1) && touch $$@
$(B)/$(1)/impl.o: tests/impl.c sparkless.h $(B)/$(1)/.dir
	$(2) $(WARN) $(3) -I. -c $$< -o $$@
$(B)/$(1)/%: tests/%.c tests/test.h tests/test_threads.h tests/test_sweep.h sparkless.h $(B)/$(1)/impl.o
	$(2) $(WARN) $(3) $(ORACLE_FLAGS) -I. $$< $(B)/$(1)/impl.o -o $$@ $(LIBS) $(ORACLE_LIBS)
$(B)/$(1)/ex_%: examples/%.c sparkless.h $(B)/$(1)/.dir
	$(2) $(WARN) $(3) -I. $$< -o $$@ $(LIBS)
endef

$(eval $(call CONFIG,gcc-asan,gcc,-O1 -g $(ASAN)))
$(eval $(call CONFIG,clang-asan,clang,-O1 -g $(ASAN)))
$(eval $(call CONFIG,gcc-release,gcc,-O2 -g))
# The CSV reader's SIMD paths for this machine (AVX2, AVX-512), which the others (SSE2) do not build.
$(eval $(call CONFIG,native-asan,gcc,-O1 -g -march=native $(ASAN)))
$(eval $(call CONFIG,clang-tsan,clang,-O1 -g $(TSAN)))
$(eval $(call CONFIG,gcc-tsan,gcc,-O1 -g $(TSAN)))

# ---- header checks: each target exists only if its check passed ----------
$(B)/checks/.dir:
	@mkdir -p $(B)/checks && touch $@
# C++: the declarations compile as C++17 and link, through extern "C", to the C implementation.
$(B)/checks/cxx17-%.ok: tests/cxx_include.cpp sparkless.h $(B)/gcc-release/impl.o $(B)/checks/.dir
	$* -std=c++17 -Wall -Wextra -Wpedantic -Werror -I. $< $(B)/gcc-release/impl.o -o $(B)/checks/cxx17-$* $(LIBS) && $(B)/checks/cxx17-$* && touch $@
$(B)/checks/static-%.ok: tests/static_build.c sparkless.h $(B)/checks/.dir
	$* $(WARN) -I. $< -o $(B)/checks/static-$* $(LIBS) && $(B)/checks/static-$* && touch $@
# Two translation units, built at -O3: its deeper inlining finds warnings -O2 does not.
$(B)/checks/two-tu-%.ok: tests/two_tu_main.c tests/two_tu_impl.c sparkless.h $(B)/checks/.dir
	$* $(WARN) -O3 -I. tests/two_tu_main.c tests/two_tu_impl.c -o $(B)/checks/two-tu-$* $(LIBS) && $(B)/checks/two-tu-$* && touch $@
$(B)/checks/amalgamate.ok: sparkless.h $(SOURCES) tools/amalgamate $(B)/checks/.dir
	tools/amalgamate --check && touch $@
$(B)/checks/bench-build.ok: $(addprefix bench/,$(addsuffix .c,$(BENCH_SRCS))) bench/bench_util.h sparkless.h $(B)/checks/.dir
	for b in $(BENCH_SRCS); do $(CC) $(WARN) -O2 -I. bench/$$b.c -o $(B)/checks/bench-$$b $(LIBS) -ldl || exit 1; done; touch $@

# ---- fuzzers: tests/fuzz/fuzz_<name>.c, clang's libFuzzer under ASan+UBSan ----
# Each is one translation unit (it defines SPARKLESS_IMPLEMENTATION itself).
# make test (tools/runtests) runs each on its checked-in corpus and fuzzes it
# for FUZZ_SECONDS; make fuzz is for long runs.
FUZZ_CC    := clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUN   := -rss_limit_mb=2048 -timeout=10
FUZZER     ?= expr
SECONDS    ?= 600
$(B)/fuzz/.dir:
	@mkdir -p $(B)/fuzz && touch $@
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h tests/fuzz/fuzz_reader_common.h sparkless.h $(B)/fuzz/.dir
	$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) $< -o $@ $(LIBS)
$(B)/fuzz/gen_corpus: tests/fuzz/gen_corpus.c tests/fuzz/fuzz_common.h sparkless.h $(B)/fuzz/.dir
	$(CC) $(WARN) -O1 -g $< -o $@ $(LIBS)

# A long run that keeps what it finds in build/fuzz/corpus-<name> (the
# checked-in seeds are read, never written) and crashes in build/fuzz/crashes-<name>/.
fuzz: $(B)/fuzz/fuzz_$(FUZZER)
	@mkdir -p $(B)/fuzz/corpus-$(FUZZER) $(B)/fuzz/crashes-$(FUZZER)
	$< $(FUZZ_RUN) -max_total_time=$(SECONDS) -print_final_stats=1 \
	  $(if $(wildcard tests/fuzz/$(FUZZER).dict),-dict=tests/fuzz/$(FUZZER).dict) \
	  -artifact_prefix=$(B)/fuzz/crashes-$(FUZZER)/ $(B)/fuzz/corpus-$(FUZZER) tests/fuzz/corpus/$(FUZZER)

# Rewrites the generated seeds of the checked-in corpus (commit the result);
# the hand-written seeds (tests/fuzz/corpus/csv, jsonl) and the inputs that
# found bugs (regress-*) stay.
fuzz-corpus: $(B)/fuzz/gen_corpus
	rm -f tests/fuzz/corpus/expr/[0-9]* tests/fuzz/corpus/scan_task/[0-9]* tests/fuzz/corpus/txn_json/[0-9]*
	$(B)/fuzz/gen_corpus tests/fuzz/corpus

test: sparkless.h
	@tools/runtests

demo: $(B)/gcc-release/ex_quickstart
	$(B)/gcc-release/ex_quickstart

$(B)/bench/.dir:
	@mkdir -p $(B)/bench && touch $@
$(B)/bench/%: bench/%.c bench/bench_util.h sparkless.h $(B)/bench/.dir
	$(CC) -std=c11 -O2 -march=native -g -I. $< -o $@ $(LIBS)

$(B)/bench/load $(B)/bench/tpch: bench/tpch_gen.c # they include the generator
$(B)/bench/tpch: LIBS += -ldl # the peers are opened with dlopen
# load and tpch generate TPC-H tables at scale factor SF into build/tpch/ (once) and read them.
bench: $(addprefix $(B)/bench/,$(BENCH_SRCS))
	@for b in $(BENCHES); do echo "== bench/$$b"; \
	  case $$b in load|tpch) $(B)/bench/$$b $(SF) || exit 1;; *) $(B)/bench/$$b || exit 1;; esac; done

clean:
	rm -rf $(B)
