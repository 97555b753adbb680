# splitschema — see README.md.
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     := bin/splitschema
# Tests run `go tool sqlc` too: the go found above comes first on their PATH.
export PATH := $(dir $(GO)):$(PATH)
GOFILES  = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.splitschema/*')

.PHONY: all build test demo bench check postgres clean

all: build

build:
	$(GO) build -o $(BIN) ./cli/splitschema

# Installs Debian's postgresql when no server binaries are found.
postgres:
	@./scripts/ensure-postgres.sh

# Static checks CI runs: formatting, vet, and that gen/ matches sqlc.
check:
	@out="$$(gofmt -l $(GOFILES))"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool sqlc diff

test: postgres check
	$(GO) test -count=1 -timeout 20m ./...

# The BAC theorem on the embedded cluster: one snapshot vs per-service dumps.
demo: postgres build
	$(BIN) demo

clean:
	rm -rf bin
