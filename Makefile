# RNNKit: the two commands a newcomer needs are `make demo` and `make test`.
# Each installs the Debian packages it needs (skipping those already there) and builds first.

# python3-onnx: the tests pass every exported ONNX file through onnx.checker.
# openmpi-bin: the tests train under mpirun (RNNKit loads libmpi.so.40 only for --distributed).
# libdnnl-dev: oneDNN's sgemm, which the AVX-512 path loads for a training step's large products
# (and the tests on every CPU, through RNNKIT_ISA=avx512-logic); the benchmarks also build against it.
DEBIAN_PACKAGES := libopenblas-dev zlib1g-dev python3-onnx openmpi-bin libdnnl-dev
# The demo also needs its data: Fashion-MNIST, installed under /usr/share/datasets/fashion-mnist.
DEMO_PACKAGES := $(DEBIAN_PACKAGES) dataset-fashion-mnist
# The forecasting presets' series: Debian's vega_datasets CSV files (it depends on pandas, which
# RNNKit never runs; --no-install-recommends keeps the rest out).
PRESET_PACKAGES := python3-vega-datasets
# The sequence-to-sequence presets' data: the CMU dictionary (festlex-cmu, whose festival dependency
# comes along) and the Tang poems (fortunes-zh).
SEQ2SEQ_PACKAGES := festlex-cmu fortunes-zh
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT_FLAGS ?=

.PHONY: all deps build release demo test forecast-presets seq2seq-presets clean

all: build

# Install only the missing Debian packages; on a machine without apt-get (macOS), do nothing.
deps:
	@missing=""; \
	for p in $(or $(PACKAGES),$(DEBIAN_PACKAGES)); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_FLAGS) $$missing; \
	fi

build: deps
	swift build $(SWIFT_FLAGS)

release: deps
	swift build -c release $(SWIFT_FLAGS)

# Trains the default model (LSTM 128, Adam 1e-3, batch 128) for one epoch on Fashion-MNIST and
# prints the test accuracy; the checkpoint goes to runs/demo.
demo:
	$(MAKE) deps PACKAGES="$(DEMO_PACKAGES)"
	swift build -c release $(SWIFT_FLAGS)
	.build/release/rnnkit train mnist --epochs 1 --out runs/demo

# The whole suite runs on the widest kernel path the CPU has; then the suites whose Float arithmetic
# goes through the kernels run again on every other path it runs (RNNKIT_ISA), so that each passes
# them: avx2 and portable where the CPU has AVX-512, and where it has AVX2 only, portable and
# avx512-logic (the AVX-512 build's blocking compiled for AVX2). Not rerun: Double-only suites, the
# kernel suites that already check every build, readers and error tables, and the slow runs under
# mpirun and of the README's examples. Without /proc/cpuinfo (macOS) nothing is rerun.
CPU_FLAGS := $(shell cat /proc/cpuinfo 2>/dev/null | grep -m1 '^flags')
OTHER_PATHS := $(if $(and $(findstring avx512f,$(CPU_FLAGS)),$(findstring avx512bw,$(CPU_FLAGS)),$(findstring avx512dq,$(CPU_FLAGS)),$(findstring avx512vl,$(CPU_FLAGS))),avx2 portable,$(if $(and $(findstring avx2,$(CPU_FLAGS)),$(findstring fma,$(CPU_FLAGS))),avx512-logic portable))
PATH_INDEPENDENT := GradientCheckTests|Seq2SeqModelTests|Seq2SeqDecodingTests|PackedProduct|CellKernelTests|ColumnSumKernelTests|MalformedInputTests|FuzzCorpusTests|IDXTests|PairsTests|SafeTensorsTests|SequenceFileTests|TextTests|ForecastSeriesTests|ErrorTests|DistributedTrainingTests|ReadmeExampleTests|BenchCommandTests|benchNamesThePath

# The build and the tests write their scratch files (the tests' data and outputs, SwiftPM's
# TemporaryDirectory.*) under a temporary folder of their own (TMPDIR), removed when they end, pass
# or fail, so that runs leave nothing behind in /tmp.
test: deps
	@scratch=$$(mktemp -d -t rnnkit-tests-XXXXXX) && trap 'rm -rf "$$scratch"' EXIT && export TMPDIR="$$scratch" && \
	echo "TMPDIR=$$scratch" && \
	echo "swift build $(SWIFT_FLAGS)" && swift build $(SWIFT_FLAGS) && \
	echo "swift test --disable-xctest $(SWIFT_FLAGS)" && swift test --disable-xctest $(SWIFT_FLAGS) && \
	for isa in $(OTHER_PATHS); do \
	  echo "== the kernel-dependent suites again with RNNKIT_ISA=$$isa"; \
	  RNNKIT_ISA=$$isa swift test --disable-xctest --skip-build --skip '$(PATH_INDEPENDENT)' $(SWIFT_FLAGS) || exit 1; \
	done

# Installs the data of `rnnkit train forecast --preset seattle-temps|seattle-weather|us-employment`
# and builds the release binary.
forecast-presets:
	$(MAKE) deps PACKAGES="$(DEBIAN_PACKAGES) $(PRESET_PACKAGES)" APT_FLAGS=--no-install-recommends
	swift build -c release $(SWIFT_FLAGS)

# Installs the data of `rnnkit train seq2seq --preset g2p|couplets` and builds the release binary.
seq2seq-presets:
	$(MAKE) deps PACKAGES="$(DEBIAN_PACKAGES) $(SEQ2SEQ_PACKAGES)" APT_FLAGS=--no-install-recommends
	swift build -c release $(SWIFT_FLAGS)

clean:
	rm -rf .build
