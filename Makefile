# filegate build, test and install targets. `make help` lists them.

GO          ?= go
BIN         := bin/filegate
# VERSION, if set, is stamped into the binary (`filegate version`);
# otherwise Go records the module version and VCS revision itself.
VERSION     ?=
LDFLAGS     := $(if $(VERSION),-X main.version=$(VERSION))
# ARGS are extra arguments for `make run`, e.g. ARGS='--config my.toml'.
ARGS        ?=
BENCH_COUNT ?= 10

DESTDIR     ?=
BINDIR      ?= /usr/local/bin
UNITDIR     ?= /etc/systemd/system
CONFDIR     ?= /etc/filegate

.PHONY: all help build run test bench lint install clean

all: build

help:
	@echo 'make build    build $(BIN)'
	@echo 'make run      build, then run $(BIN) serve $$ARGS (defaults: 127.0.0.1:2049, ./filegate-data)'
	@echo 'make test     the whole test suite: ./.ci/test (gofmt, vet, go test -race, kernel NFS client)'
	@echo 'make bench    Go benchmarks (-count=$(BENCH_COUNT), for benchstat), cmd/filegate-bench, and its s3 suite if versitygw is installed'
	@echo 'make lint     gofmt check and go vet'
	@echo 'make install  binary to $(BINDIR), unit to $(UNITDIR), example config to $(CONFDIR)/filegate.toml if absent'
	@echo 'make clean    remove bin/'

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/filegate

run: build
	$(BIN) serve $(ARGS)

test:
	./.ci/test

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=$(BENCH_COUNT) ./...
	if test -d cmd/filegate-bench; then $(GO) run ./cmd/filegate-bench; fi
	# Cached and cold reads, writes, creates and upload drain on POSIX and S3.
	if test -f cmd/filegate-bench/cachesuite.go; then $(GO) run ./cmd/filegate-bench -suite cache; fi
	# Our NFS server beside NFS-Ganesha (when installed): pipelined and random reads, small-file creates.
	if test -f cmd/filegate-bench/frontends.go; then $(GO) run ./cmd/filegate-bench -suite frontends; fi
	# The S3 store beside raw SDK calls on versitygw, when it is installed.
	if test -f cmd/filegate-bench/s3.go; then $(GO) run ./cmd/filegate-bench -suite s3 -skip-missing; fi

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The unit runs $(BINDIR)/filegate from /usr/local/bin: change both together.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/filegate
	install -D -m 0644 systemd/filegate.service $(DESTDIR)$(UNITDIR)/filegate.service
	@if [ -e $(DESTDIR)$(CONFDIR)/filegate.toml ]; then \
		echo "keeping existing $(DESTDIR)$(CONFDIR)/filegate.toml"; \
	else \
		install -D -m 0644 cmd/filegate/filegate.example.toml $(DESTDIR)$(CONFDIR)/filegate.toml; \
	fi
	@echo 'now: systemctl daemon-reload && systemctl enable --now filegate; then: filegate status'

clean:
	rm -rf bin
