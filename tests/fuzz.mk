# libFuzzer targets, one per goraft decoder, built with clang apart from the
# main build (they need -fsanitize=fuzzer). `make fuzz-check` runs each for
# FUZZ_SECONDS (CI: a few seconds); `make fuzz-long FUZZ_SECONDS=3600` longer.

FUZZ_KINDS = log_entry ae_req ae_resp rv_req rv_resp snap_req snap_resp snaprec_req snaprec_resp
FUZZ_TARGETS = $(FUZZ_KINDS:%=tests/fuzz/fuzz_%)
FUZZ_SECONDS = 4
FUZZ_CCOPTS = -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I$(top_srcdir) -I$(top_builddir) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
FUZZ_INPUTS = $(srcdir)/tests/fuzz/fuzz_wire.c $(srcdir)/proto/wire.c \
	$(srcdir)/tests/proto/pbc_oracle.c
EXTRA_DIST += tests/fuzz/fuzz_wire.c tests/fuzz/seed.sh
CLEANFILES += $(FUZZ_TARGETS)

if HAVE_FUZZER
$(FUZZ_TARGETS): tests/fuzz/fuzz_%: $(FUZZ_INPUTS) proto/pb.stamp
	$(AM_V_CC)$(MKDIR_P) tests/fuzz && \
	$(FUZZ_CC) $(FUZZ_CCOPTS) -DFUZZ_KIND=WIRE_$$(echo $* | tr a-z A-Z) \
		$(FUZZ_INPUTS) $(GORAFT_PB_C) $(PROTOBUFC_LIBS) -o $@

fuzz: $(FUZZ_TARGETS)

# Each target starts from the captured vectors; a crash leaves its input in
# tests/fuzz/ and fails the run.
fuzz-check: $(FUZZ_TARGETS)
	@set -e; total=0; \
	for k in $(FUZZ_KINDS); do \
		corpus=tests/fuzz/corpus-$$k; \
		$(srcdir)/tests/fuzz/seed.sh $$k '$(GORAFT_WIRE_DIR)' $$corpus; \
		tests/fuzz/fuzz_$$k -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crash-$$k- $$corpus > tests/fuzz/fuzz_$$k.log 2>&1 || \
			{ tail -40 tests/fuzz/fuzz_$$k.log; echo "fuzz_$$k: FAILED"; exit 1; }; \
		runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' tests/fuzz/fuzz_$$k.log); \
		total=$$((total + runs)); \
		echo "fuzz_$$k: $$runs executions, no crash"; \
	done; \
	echo "fuzz: $$total executions over $(words $(FUZZ_KINDS)) targets, no crash"

fuzz-long:
	$(MAKE) fuzz-check FUZZ_SECONDS=$(FUZZ_SECONDS)
else
fuzz fuzz-check fuzz-long:
	@echo "fuzz targets need clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"; exit 1
endif

clean-local: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/corpus-* tests/fuzz/*.log tests/fuzz/crash-*

.PHONY: fuzz fuzz-check fuzz-long clean-fuzz
