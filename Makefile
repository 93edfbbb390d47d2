# spoofwatch: `make demo` runs the main job on a bundled sample, `make test` passes the tests.
# Both set up what they need on a fresh Debian machine: a virtualenv, and tshark from apt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

.PHONY: demo test lint docs bench fuzz soak samples clean

$(BIN)/spoofwatch: pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# The real components the tests use: tshark (the decoding oracle), Prometheus and promtool,
# tcpreplay, iproute2 and ping (live capture over veth pairs and namespaces), libpcap (BPF filters),
# openssl (TLS), chromium (opens the HTML report headless, as a person would), Alertmanager and
# rsyslog with GnuTLS (the alert sinks' real receivers), PostgreSQL (the fleet's shared store), podman and debootstrap (the container
# image is built from a Debian base made here, as no image registry is reachable), getcap.
SYSDEPS := tshark prometheus prometheus-alertmanager rsyslog rsyslog-gnutls tcpreplay softflowd \
           iproute2 iputils-ping libpcap0.8 openssl chromium podman debootstrap libcap2-bin \
           netsniff-ng tcpdump postgresql
.sysdeps:
	@missing=$$(for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | $(SUDO) debconf-set-selections; \
	  $(APT) update -qq && $(APT) install -y -qq $$missing; fi
	@touch $@

# The Elastic Common Schema field reference (Elastic's own, from the npm registry), to check the
# ECS output's field names, types and allowed values against.
ECS_VERSION := 8.11.5
ECS_FIELDS  := .cache/ecs-$(ECS_VERSION).json
$(ECS_FIELDS):
	@command -v npm >/dev/null || { $(APT) update -qq && $(APT) install -y -qq nodejs npm; }
	@mkdir -p .cache/ecs && cd .cache/ecs && npm pack -q @elastic/ecs@$(ECS_VERSION) >/dev/null 2>&1 \
	  && tar xzf elastic-ecs-$(ECS_VERSION).tgz
	node -e 'process.stdout.write(JSON.stringify(require("./.cache/ecs/package/build/commonjs/ecs_flat.js").EcsFlat))' > $@.tmp
	@mv $@.tmp $@

demo: $(BIN)/spoofwatch
	@echo "== spoofwatch replay pcaps/geneve-ip-change.pcap  (a VM changes its IP on Geneve VNI 5001)"
	@$(BIN)/spoofwatch replay pcaps/geneve-ip-change.pcap --format text

lint: $(BIN)/spoofwatch
	$(BIN)/ruff check detector tests pcaps bench deploy docs
	$(BIN)/ruff format --check detector tests pcaps bench deploy docs
	$(BIN)/mypy --strict detector

# The documentation site (MkDocs, Material theme): the generated references must be current, and
# --strict turns every broken link or anchor into an error.
docs: $(BIN)/spoofwatch
	$(BIN)/python docs/gen_reference.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: $(BIN)/spoofwatch .sysdeps $(ECS_FIELDS) lint docs
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(BIN)/spoofwatch .sysdeps
	$(BIN)/python bench/bench.py

# Coverage-guided fuzzing of every parser (atheris): FUZZ_SECONDS per target; not part of `make test`.
# FUZZ_TARGETS picks some (frame ipfix ...); all by default. FUZZ_WORKERS processes a target;
# FUZZ_RUNS stops a target after that many inputs (0: the whole FUZZ_SECONDS); FUZZ_MAX_LEN
# caps an input in bytes.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?=
FUZZ_WORKERS ?= 1
FUZZ_RUNS ?= 0
FUZZ_MAX_LEN ?= 65536
fuzz: $(BIN)/spoofwatch
	$(BIN)/pip install -q atheris
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_WORKERS=$(FUZZ_WORKERS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_MAX_LEN=$(FUZZ_MAX_LEN) $(BIN)/python -m tests.fuzz.run $(FUZZ_TARGETS)

# A flood soak of `spoofwatch run` on a veth pair (root): SOAK_SECONDS, traffic at SOAK_PPS.
SOAK_SECONDS ?= 600
SOAK_PPS ?= 20000
soak: $(BIN)/spoofwatch .sysdeps
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_PPS=$(SOAK_PPS) $(BIN)/python bench/soak.py

samples: $(BIN)/spoofwatch
	$(BIN)/python pcaps/make_pcaps.py

clean:
	rm -rf $(VENV) .sysdeps .cache bench/out *.egg-info
