# dlad — every target installs what it needs on a fresh Debian machine first.
SWIFT        ?= swift
SWIFT_FLAGS  ?=
STATE_DIR    ?= $(CURDIR)/state
APT_PACKAGES := libsqlite3-dev libsystemd-dev pkg-config python3-venv python3-pip
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build release test run bench fuzz fixtures clean

# Installs the Debian packages that are missing (and only then touches apt).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@command -v $(SWIFT) >/dev/null || { echo "error: swift not found on PATH (Swift 6.1 or later is required)"; exit 1; }

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

release: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)

test: deps
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)

run: build
	mkdir -p $(STATE_DIR)
	$(SWIFT) run $(SWIFT_FLAGS) dlad --state-dir $(STATE_DIR) --firmware-models $(CURDIR)/firmware-models

clean:
	rm -rf .build state
