# The Raft core's deterministic simulator (its unit tests: tests/raft/local.mk).
#
#   make check TESTS='tests/raft/test_raft tests/sim/run.sh'
#   make sim-long                 # a million seeds, all cores (hours)
#   tests/sim/sim --seed S --trace  # replay one seed with its trace

check_PROGRAMS += tests/sim/sim
TESTS += tests/sim/run.sh
EXTRA_DIST += tests/sim/run.sh

tests_sim_sim_SOURCES = $(CORE_FIXTURE) tests/sim/sim.c
tests_sim_sim_LDADD = src/raft/libraft.a

SIM_LONG_SEEDS ?= 1000000
SIM_LONG_JOBS ?= $$(nproc)
# Seeds in blocks of 1000, one sim process per block, all cores busy. A
# failing block prints its seed, the replay command and the trace.
sim-long: tests/sim/sim
	@echo "sim-long: $(SIM_LONG_SEEDS) seeds on $(SIM_LONG_JOBS) jobs"
	@blocks=$$(( ($(SIM_LONG_SEEDS) + 999) / 1000 )); \
	seq 0 $$(( blocks - 1 )) | xargs -P $(SIM_LONG_JOBS) -I{} \
		sh -c 'tests/sim/sim --from $$(( {} * 1000 + 1 )) --count 1000 > sim-long-{}.log 2>&1 || { cat sim-long-{}.log; exit 255; }; rm -f sim-long-{}.log'
	@echo "sim-long: all seeds passed"
.PHONY: sim-long
