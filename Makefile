# The toolkit's build, test and benchmark entry points. README.md names the
# two a newcomer runs: `make example` and `make test`.
GO ?= go
BIN := bin
FUZZTIME ?= 3000x

.PHONY: all build example test unit conformance fuzz-quick lint bench bench-quick clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

# Build the tools, then an image of the example closure; load and run it
# where a Docker engine answers.
example: build
	scripts/example

# The whole test suite: formatting and vet, every Go test (unit, CLI,
# conformance, end-to-end against Nix, Docker, skopeo and a registry) with
# the race detector, the conformance script, and each fuzz target briefly.
test: lint unit conformance fuzz-quick

# gofmt, go vet, go.mod/go.sum matching the imports, and shellcheck on
# every shell script the project runs.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	shellcheck scripts/* .ci/run testdata/conformance/check.sh nix/builders/*.sh

unit:
	$(GO) test -race -timeout 45m ./...

conformance: build
	bash testdata/conformance/check.sh $(BIN)

# Each fuzz target for $(FUZZTIME), from its committed seeds. A count of
# runs, not a duration: Go 1.26's fuzz coordinator can fail a duration run
# at its deadline with "context deadline exceeded" and no input
# (golang/go#75804); a count has no deadline to race. A failing target's
# output is shown.
fuzz-quick:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$t"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
		done; \
	done

bench: build
	bench/run

bench-quick: build
	bench/run --quick

clean:
	rm -rf $(BIN) out
