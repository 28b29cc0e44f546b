# dlad — every target installs what it needs on a fresh Debian machine first.
SWIFT        ?= swift
SWIFT_FLAGS  ?=
STATE_DIR    ?= $(CURDIR)/state
# systemd brings systemd-analyze, systemd-sysusers and systemd-tmpfiles for the unit-file tests;
# installing it does not make it PID 1 (systemd-sysv would) and is harmless in a container.
APT_PACKAGES := libsqlite3-dev libsystemd-dev systemd pkg-config python3-venv python3-pip curl util-linux passwd
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build release test api-fuzz run deb system-test bench bench-user-path bench-daemon fixtures nvdla-fixtures eval onnx-proto fuzz fuzz-build fuzz-seeds clean

# Installs the Debian packages in $(1) that are missing (and only then touches apt).
define apt_install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef

deps:
	$(call apt_install_missing,$(APT_PACKAGES))
	@command -v $(SWIFT) >/dev/null || { echo "error: swift not found on PATH (Swift 6.1 or later is required)"; exit 1; }

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

release: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)

# SystemdTests time the watchdog pinger on Swift's cooperative pool: they run in a process of
# their own, where the integration tests' blocking waits cannot starve that pool's two threads.
# Then the socket API is fuzzed from docs/openapi.yaml (schemathesis, fixed seed) on the built dlad.
test: deps
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS) --filter SystemdTests
	$(SWIFT) test --skip-build $(SWIFT_FLAGS) --skip SystemdTests
	API_FUZZ_SEED=$${API_FUZZ_SEED:-20261207} API_FUZZ_EXAMPLES=$${API_FUZZ_EXAMPLES:-100} tools/api-fuzz/run.sh $(BIN_PATH)/dlad

# Property-based tests of the socket API against docs/openapi.yaml (schemathesis from PyPI,
# pinned in tools/api-fuzz/requirements.txt) on a live debug dlad, unseeded; about a minute.
api-fuzz: build
	tools/api-fuzz/run.sh $(BIN_PATH)/dlad

# The daemon in the foreground on ./state, its socket at ./state/dlad.sock, the firmware models
# seeded and active on first start. Ctrl-C stops it cleanly.
BIN_PATH = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)
run: build
	@mkdir -p $(STATE_DIR)
	@echo "dlad: socket $(STATE_DIR)/dlad.sock; in another terminal:"
	@echo "  export DLAD_SOCKET=$(STATE_DIR)/dlad.sock PATH=$(BIN_PATH):\$$PATH"
	@echo "  dlactl models"
	@echo "  dlactl infer lenet-300-100 --input firmware-models/samples/lenet-300-100/inputs.npy"
	@echo "  curl --unix-socket $(STATE_DIR)/dlad.sock http://localhost/v1/health"
	$(BIN_PATH)/dlad --state-dir $(STATE_DIR) --socket $(STATE_DIR)/dlad.sock --firmware-models $(CURDIR)/firmware-models

# Benchmarks, release mode, one invocation: the peers (ONNX Runtime, LiteRT), the MNIST models
# through the user's path (ONNX → dlactl compile → dlactl perf, peers in the same run), dlad's
# engine on hand-built models of the same parameters (a lower bound), an INT8 ResNet-18 (with ONNX
# Runtime on the same weights; then ONNX Runtime's own QDQ file of it through dlactl compile and
# perf), and the store (ordo-one/benchmark). Results land in Benchmarks/results/; the package in
# Benchmarks/ depends on this one by path, so `make test` never builds any of it.
bench: deps
	Benchmarks/peers/run.sh
	$(MAKE) bench-user-path
	$(SWIFT) run -c release --package-path Benchmarks EngineBenchmarks
	$(SWIFT) run -c release --package-path Benchmarks ResNetBenchmark --runs 20 --threads 2 --export Benchmarks/.work/resnet18
	Benchmarks/.venv/bin/python Benchmarks/peers/resnet18_ort.py Benchmarks/.work/resnet18
	$(SWIFT) build -c release --product dlactl $(SWIFT_FLAGS)
	Benchmarks/.venv/bin/python Benchmarks/peers/resnet18_user_path.py Benchmarks/.work/resnet18 $$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS))/dlactl
	$(SWIFT) package --package-path Benchmarks --allow-writing-to-package-directory benchmark
	$(SWIFT) build -c release --product dlad $(SWIFT_FLAGS)
	$(SWIFT) build -c release --product dlactl $(SWIFT_FLAGS)
	command -v h2load >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nghttp2-client
	python3 Benchmarks/daemon/bench.py $$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS)) Benchmarks/results/daemon.json

# The MNIST models as users run them: ONNX Runtime's quantize_static file → release `dlactl
# compile` → `dlactl perf`, LiteRT and ONNX Runtime in the same run: Benchmarks/results/user-path.json.
bench-user-path: deps
	Benchmarks/peers/setup.sh
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 Benchmarks/.venv/bin/python Benchmarks/peers/prepare.py
	$(SWIFT) build -c release --product dlactl $(SWIFT_FLAGS)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 Benchmarks/.venv/bin/python Benchmarks/peers/user_path.py \
	  --dlactl $$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS))/dlactl $(USER_PATH_FLAGS)

# Only the daemon's benchmark (release dlad through its socket): Benchmarks/results/daemon.json.
bench-daemon: deps
	$(SWIFT) build -c release --product dlad $(SWIFT_FLAGS)
	$(SWIFT) build -c release --product dlactl $(SWIFT_FLAGS)
	command -v h2load >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nghttp2-client
	python3 Benchmarks/daemon/bench.py $$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS)) Benchmarks/results/daemon.json

# Regenerates the ONNX compiler's committed test fixtures (Tests/Fixtures) in the pinned
# Benchmarks/.venv (numpy, onnx, onnxruntime, ml_dtypes); MNIST and trained weights are cached
# in Benchmarks/.work. Needs PyPI once; `make test` never runs this.
fixtures: deps
	Benchmarks/peers/setup.sh
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 Benchmarks/.venv/bin/python tools/fixtures/generate.py

# Regenerates Tests/NVDLALoadableTests/Fixtures: loadables.json, NVIDIA's regression loadables
# (NVDLA_REGRESSION) read by the flatbuffers package's Python runtime (pinned in
# tools/nvdla/requirements.txt) for NVDLALoadableTests to compare with, and synthetic_fbuf, a
# loadable its Builder writes with what NVIDIA's files lack. Needs PyPI once.
NVDLA_REGRESSION ?= $(CURDIR)/../shared/nvdla-regression
nvdla-fixtures: deps
	tools/python-venv.sh tools/nvdla/.venv tools/nvdla/requirements.txt
	tools/nvdla/.venv/bin/python tools/nvdla/dump_loadables.py $(NVDLA_REGRESSION) Tests/NVDLALoadableTests/Fixtures/loadables.json
	tools/nvdla/.venv/bin/python tools/nvdla/make_synthetic_loadable.py Tests/NVDLALoadableTests/Fixtures/synthetic_fbuf

# The compiler on all 10,000 MNIST test images against ONNX Runtime / the ONNX reference evaluator
# (needs the network once, for the pinned venv and MNIST); writes Benchmarks/results/compiler-eval.json.
eval: deps
	Benchmarks/peers/setup.sh
	$(SWIFT) build -c release --product dlactl $(SWIFT_FLAGS)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 Benchmarks/.venv/bin/python tools/eval/evaluate.py

# Regenerates Sources/ONNXProto/onnx.pb.swift from tools/onnx-proto/onnx.proto (copied from the
# pinned onnx wheel). Builds swift-protobuf's protoc-gen-swift at the version Package.swift pins,
# in its own scratch folder, so normal builds never build the plugin.
PROTOBUF_VERSION := 1.39.0
onnx-proto: deps
	command -v protoc >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q protobuf-compiler
	rm -rf .build-protoc/swift-protobuf && mkdir -p .build-protoc
	git clone -q --branch $(PROTOBUF_VERSION) https://github.com/apple/swift-protobuf .build-protoc/swift-protobuf
	$(SWIFT) build -c release --package-path .build-protoc/swift-protobuf --product protoc-gen-swift
	protoc --plugin=protoc-gen-swift=.build-protoc/swift-protobuf/.build/release/protoc-gen-swift \
	  --swift_out=Sources/ONNXProto --swift_opt=Visibility=Public -I tools/onnx-proto tools/onnx-proto/onnx.proto

# Trains, prunes and weight-shares the firmware models (LeNet-300-100, LeNet-5) on real MNIST in
# the pinned firmware-models/.venv and exports them as float ONNX (firmware-models/tools/pipeline.py).
# Checkpoints after every epoch in firmware-models/.work: run it again to resume. Needs PyPI once.
.PHONY: firmware-models
firmware-models: deps
	firmware-models/tools/setup.sh
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 firmware-models/.venv/bin/python firmware-models/tools/pipeline.py

# Compiles the trained models (firmware-models/onnx) into the shipped .dla files with the release
# dlactl, measures their test error on all 10,000 MNIST images, writes the samples' expected outputs
# and firmware-models/manifest.json (firmware-models/tools/package_firmware.py).
.PHONY: firmware-package
firmware-package: deps
	firmware-models/tools/setup.sh
	$(SWIFT) build -c release --product dlactl $(SWIFT_FLAGS)
	firmware-models/.venv/bin/python firmware-models/tools/package_firmware.py

# Fuzzing: release builds instrumented with ASan + SanitizerCoverage, linked with the toolchain's
# libFuzzer (no-main variant: each target starts it through LLVMFuzzerRunDriver).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := FuzzDLAReader:dla FuzzNPYReader:npy FuzzDLAEngine:engine FuzzONNXCompiler:onnx FuzzNVDLALoadable:nvdla
SWIFT_ROOT    = $(shell dirname $$(dirname $$(readlink -f $$(command -v $(SWIFT)))))
FUZZER_LIB    = $(firstword $(wildcard $(SWIFT_ROOT)/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-$(shell uname -m).a))
FUZZ_BUILD    = cd Fuzz && $(SWIFT) build -c release --scratch-path ../.build-fuzz \
	-Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
	-Xlinker $(FUZZER_LIB) -Xlinker -lstdc++

fuzz-build: deps
	@[ -n "$(FUZZER_LIB)" ] || { echo "error: libclang_rt.fuzzer_no_main not found under $(SWIFT_ROOT)/lib/clang"; exit 1; }
	$(FUZZ_BUILD)

# Runs each target for FUZZ_SECONDS on a corpus grown from the committed seeds; crashes land in Fuzz/.
fuzz: fuzz-build
	@for pair in $(FUZZ_TARGETS); do \
	  target=$${pair%%:*}; kind=$${pair##*:}; \
	  mkdir -p Fuzz/corpus-$$kind; \
	  echo "== $$target for $(FUZZ_SECONDS)s"; \
	  .build-fuzz/release/$$target Fuzz/corpus-$$kind Fuzz/seeds/$$kind \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -max_len=65536 \
	    -artifact_prefix=Fuzz/crash-$$kind- -print_final_stats=1 || exit 1; \
	done

# Regenerates the committed seed corpus after a format change.
fuzz-seeds: fuzz-build
	.build-fuzz/release/FuzzSeeds Fuzz/seeds

# The Debian package, dist/dlad_<version>_<arch>.deb: a release build with the Swift standard
# library linked statically, packaged with debhelper and checked with lintian (packaging/README.md).
DEB_APT_PACKAGES := debhelper help2man lintian dpkg-dev fakeroot python3
deb: deps
	$(call apt_install_missing,$(DEB_APT_PACKAGES))
	SWIFT=$(SWIFT) packaging/build-deb.sh

# Boots real systemd in a container on a Debian bookworm rootfs (debootstrap'd once, cached in
# .cache/system-test), installs the .deb and checks it as an operator would (packaging/README.md).
SYSTEM_TEST_APT_PACKAGES := systemd-container debootstrap zstd curl
system-test: deb
	$(call apt_install_missing,$(SYSTEM_TEST_APT_PACKAGES))
	SWIFT=$(SWIFT) packaging/system-test/run.sh

clean:
	rm -rf .build .build-fuzz .build-release .build-deb dist state
