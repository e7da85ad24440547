# cnnc - a compiler from .net network specs to C that trains them.
#   make          build cnnc and the runtime library (build/)
#   make deps     install the Debian packages the build, the tests and the demo need
#   make demo     deps, build, compile examples/lenet.net, train it on Fashion-MNIST
#   make test     unit tests (Check), error corpus, mutated specs, golden tests against
#                 PyTorch answers, examples, gradcheck, end-to-end training on synthetic
#                 idx and CIFAR-10 sets, threads sharing dense layers by units, --summary/--emit=dot, an installed cnnc, broken
#                 input files and flags, SIGKILL and full disks during saves, SIMD
#                 pooling kernels against their reference twins, which kernel the
#                 cost rules pick (tests/kernels.sh), and data-parallel
#                 training over MPI (tests/mpi.sh) when mpicc exists
#   make test-neon  the ARM NEON flavour: golden suite cross-built for aarch64, run
#                 under qemu (make deps-neon installs the cross compiler and qemu)
#   make bench    benchmark (not a test): cnnc against PyTorch on bench/*.net, ~5 minutes
#   make bench-deps  install what make bench compares with: python3-torch, libopenblas0-openmp
#   make mpi-deps    install Open MPI (libopenmpi-dev, openmpi-bin): make then also builds
#                 build/libcnnrt_mpi.a (cnnc --mpi) and make test runs tests/mpi.sh
#   make bench-mpi   data-parallel training over MPI: images/s on 1 and 2 ranks, exchange cost
#   make fuzz     libFuzzer harnesses and their seeds in build/fuzz (docs/FUZZING.md);
#                 make fuzz-run FUZZ_TIME=600 runs each in turn
#   make install  PREFIX=/usr/local DESTDIR=
#   make clean

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
B       := build
WARN    := -Wall -Wextra -Wpedantic
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 $(WARN) -D_POSIX_C_SOURCE=200809L $(CFLAGS)
VERSION := 0.1.0

ifeq ($(SANITIZE),1)
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  ALL_CFLAGS += $(SANFLAGS)
  LDSAN := $(SANFLAGS)
  # The programs cnnc builds in the tests link the sanitized runtime: same
  # flags.  -fno-unroll-loops: clang -O2 -march=native unrolling the
  # ASan-instrumented constant-trip loops of generated code takes ~7x the
  # compile time (lenet: 9 s instead of 1.4 s) and made the suite 14 min.
  # A sanitizer report exits 86/87, never 1 or 2 (the statuses the tests
  # expect for bad input and bad usage).  A failed malloc returns NULL, as
  # without ASan, so that out-of-memory paths are tested, not aborted.
  export CNNC_CFLAGS := $(SANFLAGS) -fno-unroll-loops
  export ASAN_OPTIONS := exitcode=86:detect_leaks=1:allocator_may_return_null=1
  export UBSAN_OPTIONS := exitcode=87:halt_on_error=1:print_stacktrace=1
  # examples.sh's -Werror compiles see the same C and flags as in a plain
  # make test: the sanitized pass (.ci/run) skips them
  export CNNC_TEST_WARNINGS := 0
endif

# The compiler and flags build/'s objects were made with.  A switch (say
# `make test SANITIZE=1`, then `make demo`) rewrites this file, and every
# object depends on it: everything is rebuilt instead of sanitized objects
# being linked into a plain program (undefined __asan_* symbols).
FLAGS_STAMP := $(B)/flags.stamp
BUILD_FLAGS := $(CC) $(ALL_CFLAGS) | $(LDSAN)
$(shell mkdir -p $(B) && { [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(BUILD_FLAGS)' ] || printf '%s\n' '$(BUILD_FLAGS)' > $(FLAGS_STAMP); })

DEB_PKGS := flex bison check clang zlib1g-dev pkg-config dataset-fashion-mnist
FASHION  ?= /usr/share/datasets/fashion-mnist

# ---- sources ----
COMPILER_SRC := $(filter-out compiler/main.c,$(wildcard compiler/*.c))
COMPILER_OBJ := $(patsubst compiler/%.c,$(B)/compiler/%.o,$(COMPILER_SRC)) \
                $(B)/compiler/lexer.o $(B)/compiler/parser.o $(B)/compiler/model_header.o \
                $(B)/compiler/act_header.o
RUNTIME_SRC  := $(wildcard runtime/*.c)
RUNTIME_OBJ  := $(patsubst runtime/%.c,$(B)/runtime/%.o,$(RUNTIME_SRC))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TOOL_SRC     := $(wildcard tools/*.c)
TOOL_BIN     := $(patsubst tools/%.c,$(B)/%,$(TOOL_SRC))

# extra prerequisites only: the pattern rules' recipes use $< (never $^)
$(COMPILER_OBJ) $(B)/compiler/main.o $(RUNTIME_OBJ) $(TOOL_BIN) $(UNIT_BIN): $(FLAGS_STAMP)

.PHONY: bench bench-deps bench-layers
.PHONY: all deps demo test unit-test error-test mutate-test golden-test example-test train-test \
        lanes-test gradcheck-test summary-test cifar-test install-test broken-test crash-test install clean \
        pool-twins-test kernels-test fpenv-test
all: $(B)/cnnc $(B)/libcnnrt.a $(TOOL_BIN)

# ---- dependencies (Debian 12; run as root) ----
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "all Debian packages present"; fi

# ---- the compiler ----
$(B)/compiler/parser.c $(B)/compiler/parser.h: compiler/parser.y | $(B)/compiler
	bison -Wall -Werror -o $(B)/compiler/parser.c --header=$(B)/compiler/parser.h $<
$(B)/compiler/lexer.c $(B)/compiler/lexer.h: compiler/lexer.l | $(B)/compiler
	flex -o $(B)/compiler/lexer.c --header-file=$(B)/compiler/lexer.h $<
$(B)/compiler/lexer.o: $(B)/compiler/lexer.c $(B)/compiler/parser.h
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(CFLAGS) $(filter -fsanitize%,$(ALL_CFLAGS)) -Icompiler -I$(B)/compiler -c $< -o $@
$(B)/compiler/parser.o: $(B)/compiler/parser.c $(B)/compiler/lexer.h
	$(CC) $(ALL_CFLAGS) -Icompiler -I$(B)/compiler -c $< -o $@
# runtime/cnnrt_model.h is pasted into every generated header: embed its text.
$(B)/compiler/model_header.c: runtime/cnnrt_model.h tools/embed.sh | $(B)/compiler
	sh tools/embed.sh cnnrt_model_header $< > $@
# runtime/cnnrt_act.h (sigmoid, tanh) is pasted into generated NAME.c files.
$(B)/compiler/act_header.c: runtime/cnnrt_act.h tools/embed.sh | $(B)/compiler
	sh tools/embed.sh cnnrt_act_header $< > $@
$(B)/compiler/model_header.o $(B)/compiler/act_header.o: $(B)/compiler/%.o: $(B)/compiler/%.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/compiler/%.o: compiler/%.c $(wildcard compiler/*.h) compiler/layers.def $(B)/compiler/parser.h $(B)/compiler/lexer.h
	$(CC) $(ALL_CFLAGS) -DCNNC_VERSION='"$(VERSION)"' -DCNNC_PREFIX='"$(PREFIX)"' -Icompiler -I$(B)/compiler -c $< -o $@
$(B)/cnnc: $(B)/compiler/main.o $(COMPILER_OBJ)
	$(CC) $(LDSAN) -o $@ $^ -lm

# ---- the runtime ----
$(B)/runtime/%.o: runtime/%.c $(wildcard runtime/*.h) | $(B)/runtime
	$(CC) $(ALL_CFLAGS) -Iruntime -c $< -o $@
$(B)/libcnnrt.a: $(RUNTIME_OBJ)
	rm -f $@ && ar rcs $@ $^

# ---- small C tools (tools/NAME.c -> build/NAME), linked with the runtime ----
$(B)/%: tools/%.c $(B)/libcnnrt.a
	$(CC) $(ALL_CFLAGS) $(LDSAN) -Iruntime -o $@ $< $(B)/libcnnrt.a -lz -lm

$(B)/compiler $(B)/runtime $(B)/tests:
	mkdir -p $@

# ---- tests ----
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread -lm)
# test_rt_*.c test the runtime alone; the others test compiler stages.
$(B)/tests/test_rt_%: tests/unit/test_rt_%.c $(B)/libcnnrt.a | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(LDSAN) -Iruntime -o $@ $< $(B)/libcnnrt.a $(CHECK_LIBS) -lz -lm
$(B)/tests/test_%: tests/unit/test_%.c $(COMPILER_OBJ) $(B)/libcnnrt.a | $(B)/tests
	$(CC) $(ALL_CFLAGS) $(LDSAN) -Icompiler -I$(B)/compiler -Iruntime -o $@ $< $(COMPILER_OBJ) $(B)/libcnnrt.a $(CHECK_LIBS) -lz -lm

test: all unit-test error-test mutate-test golden-test example-test train-test lanes-test \
      gradcheck-test summary-test cifar-test install-test broken-test crash-test pool-twins-test kernels-test \
      fpenv-test mpi-test
	@echo "all test groups passed"

unit-test: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t || fail=1; done; exit $$fail

error-test: $(B)/cnnc
	sh tests/errors/run.sh $(B)/cnnc

# thousands of mutated specs: cnnc exits 0 or 1, never crashes, leaves no file
mutate-test: $(B)/cnnc $(B)/mutate
	sh tests/mutate.sh $(B)/cnnc $(B)/mutate $(if $(filter 1,$(SANITIZE)),5,1)

golden-test: all
	sh tests/golden/run.sh

example-test: all
	sh tests/examples.sh

train-test: all
	sh tests/train.sh $(B)

# dense layers shared by units: the same bits whichever lane takes a unit
lanes-test: all
	sh tests/lanes.sh $(B)

gradcheck-test: all
	sh tests/gradcheck.sh $(B)

summary-test: $(B)/cnnc
	sh tests/summary.sh $(B)/cnnc

cifar-test: all
	sh tests/cifar.sh $(B)

install-test: all
	sh tests/install.sh "$(MAKE)" $(B)

broken-test: all
	sh tests/broken.sh $(B)

crash-test: all
	sh tests/crash.sh $(B)

# the SIMD pooling kernels against their reference twins: ties, NaN, infinities
pool-twins-test: all
	sh tests/pool_twins.sh $(B)
# subnormals flushed inside the generated code, the caller's MXCSR given back
fpenv-test: all
	sh tests/fpenv.sh $(B)
# which kernel the cost rules give the layers docs/KERNELS.md names
kernels-test: $(B)/cnnc
	sh tests/kernels.sh $(B)/cnnc

# Random networks against PyTorch (tools/randnet.py; needs Debian's
# python3-torch, so not part of `make test`), e.g.
#   make randnet RANDNET_FLAGS="--count 500 --seed 7 --cflags=-O0 --shrink"
.PHONY: randnet
RANDNET_FLAGS ?= --count 50 --cflags=-O0
randnet: all
	nice -n 10 /usr/bin/python3 tools/randnet.py $(RANDNET_FLAGS)

# ---- ARM NEON (cnnc --target=neon) on this x86 machine: tests/neon.sh ----
# The runtime is cross-built with aarch64-linux-gnu-gcc; it needs the arm64
# zlib, from Debian's multiarch (dpkg --add-architecture arm64).
NEON_PKGS := gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user zlib1g-dev:arm64
NEON_OBJ  := $(patsubst runtime/%.c,$(B)/neon/runtime/%.o,$(RUNTIME_SRC))
.PHONY: deps-neon test-neon
deps-neon:
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
	$(MAKE) deps DEB_PKGS="$(NEON_PKGS)"
test-neon: $(B)/cnnc $(B)/npzcmp $(B)/neon/libcnnrt.a
	sh tests/neon.sh $(B)
$(B)/neon/runtime/%.o: runtime/%.c $(wildcard runtime/*.h)
	@mkdir -p $(@D)
	aarch64-linux-gnu-gcc -std=c11 $(WARN) -Werror -D_POSIX_C_SOURCE=200809L -O2 -Iruntime -c $< -o $@
$(B)/neon/libcnnrt.a: $(NEON_OBJ)
	rm -f $@ && aarch64-linux-gnu-ar rcs $@ $^

# ---- the demo: LeNet on Fashion-MNIST ----
demo: deps
	$(MAKE) all
	$(B)/cnnc examples/lenet.net -o $(B)/lenet
	$(B)/lenet train --data $(FASHION) --epochs 5 --batch 64 --lr 0.01 --momentum 0.9 --save $(B)/lenet.npz

# ---- the benchmark (issue 5): a measurement, never part of make test ----
BENCH_PKGS := python3-torch libopenblas0-openmp
bench: all
	sh bench/run.sh $(B)
bench-deps:
	$(MAKE) deps DEB_PKGS="$(BENCH_PKGS)"
# where a training step's time goes, layer by layer (bench/layers.py)
LAYER_NETS ?= bench/lenet.net bench/cifar10_conv.net bench/cifar10_mlp.net bench/cifar10_wide.net
bench-layers: all
	/usr/bin/python3 bench/layers.py --out $(B)/layers $(LAYER_NETS)

# ---- fuzzing: clang libFuzzer harnesses (fuzz/*.c), see docs/FUZZING.md ----
FUZZ_TIME  ?= 600
FUZZ_NAMES := compiler npy npz idx cifar
FUZZ_BIN   := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_COMPILER_OBJ := $(patsubst compiler/%.c,$(B)/fuzz/obj/%.o,$(COMPILER_SRC)) \
                     $(B)/fuzz/obj/lexer.o $(B)/fuzz/obj/parser.o $(B)/fuzz/obj/model_header.o \
                     $(B)/fuzz/obj/act_header.o
FUZZ_RUNTIME_OBJ  := $(patsubst runtime/%.c,$(B)/fuzz/obj/rt_%.o,$(RUNTIME_SRC))

.PHONY: fuzz fuzz-run
fuzz: $(FUZZ_BIN) $(B)/mkdata
	sh fuzz/seeds.sh $(B)
fuzz-run: fuzz
	@for h in $(FUZZ_NAMES); do sh fuzz/run.sh $(B) $$h $(FUZZ_TIME) || exit 1; done

$(B)/fuzz/obj/%.o: compiler/%.c $(wildcard compiler/*.h) compiler/layers.def $(B)/compiler/parser.h $(B)/compiler/lexer.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -DCNNC_VERSION='"$(VERSION)"' -Icompiler -I$(B)/compiler -c $< -o $@
$(B)/fuzz/obj/%.o: $(B)/compiler/%.c $(B)/compiler/parser.h $(B)/compiler/lexer.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -DCNNC_VERSION='"$(VERSION)"' -Icompiler -I$(B)/compiler -c $< -o $@
$(B)/fuzz/obj/rt_%.o: runtime/%.c $(wildcard runtime/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Iruntime -c $< -o $@
$(B)/fuzz/obj/fuzz_%.o: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(B)/compiler/parser.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $(WARN) -Icompiler -I$(B)/compiler -Iruntime -c $< -o $@
$(B)/fuzz/fuzz_compiler: $(B)/fuzz/obj/fuzz_compiler.o $(FUZZ_COMPILER_OBJ)
	clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lm
$(B)/fuzz/fuzz_%: $(B)/fuzz/obj/fuzz_%.o $(B)/fuzz/obj/fuzz_files.o $(FUZZ_RUNTIME_OBJ)
	clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lz -lm

# ---- MPI (issue 7): build/libcnnrt_mpi.a for cnnc --mpi, only where mpicc exists ----
MPICC    ?= mpicc
MPI_PKGS := libopenmpi-dev openmpi-bin
HAVE_MPI := $(shell command -v $(MPICC) 2>/dev/null)
MPI_LIB  := $(if $(HAVE_MPI),$(B)/libcnnrt_mpi.a)
# the tests' broken exchanges (runtime/mpi/cnnrt_mpi.c, CNNRT_MPI_MUTANT)
MPI_MUTANTS := $(if $(HAVE_MPI),$(foreach k,1 2 3,$(B)/mutant$(k)/libcnnrt_mpi.a))
.PHONY: mpi-deps mpi-test bench-mpi
all: $(MPI_LIB)
$(B)/runtime/mpi/%.o: runtime/mpi/%.c runtime/cnnrt_dist.h runtime/cnnrt.h $(FLAGS_STAMP) | $(B)/runtime
	@mkdir -p $(@D)
	OMPI_CC="$(CC)" MPICH_CC="$(CC)" $(MPICC) $(ALL_CFLAGS) -Iruntime -c $< -o $@
$(B)/libcnnrt_mpi.a: $(B)/runtime/mpi/cnnrt_mpi.o
	rm -f $@ && ar rcs $@ $^
$(B)/mutant%/libcnnrt_mpi.a: runtime/mpi/cnnrt_mpi.c runtime/cnnrt_dist.h runtime/cnnrt.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	OMPI_CC="$(CC)" MPICH_CC="$(CC)" $(MPICC) $(ALL_CFLAGS) -DCNNRT_MPI_MUTANT=$* -Iruntime -c $< -o $(@D)/cnnrt_mpi.o
	rm -f $@ && ar rcs $@ $(@D)/cnnrt_mpi.o
mpi-deps:
	$(MAKE) deps DEB_PKGS="$(MPI_PKGS)"
mpi-test: all $(MPI_MUTANTS)
	@if [ -n "$(HAVE_MPI)" ]; then sh tests/mpi.sh $(B); \
	else echo "mpi-test: skipped ($(MPICC) not found; make mpi-deps installs Open MPI)"; fi
bench-mpi: all
	sh bench/mpi.sh $(B)

# ---- install ----
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/cnnrt
	install -m 755 $(B)/cnnc $(DESTDIR)$(PREFIX)/bin/cnnc
	install -m 644 $(B)/libcnnrt.a $(DESTDIR)$(PREFIX)/lib/libcnnrt.a
	$(if $(MPI_LIB),install -m 644 $(MPI_LIB) $(DESTDIR)$(PREFIX)/lib/libcnnrt_mpi.a)
	install -m 644 runtime/cnnrt.h runtime/cnnrt_model.h $(DESTDIR)$(PREFIX)/include/cnnrt/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 docs/cnnc.1 $(DESTDIR)$(PREFIX)/share/man/man1/cnnc.1

clean:
	rm -rf $(B)
