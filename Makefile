# mportal developer entry points; `make` lists them. The scripts under deploy/dev do the work, so
# they can also be run directly.
SHELL := /bin/bash
GO ?= go
ifndef VERSION
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
endif
LDFLAGS := -X main.version=$(VERSION)
# PKGS narrows test and bench, e.g. make test PKGS=./internal/auth/... ; GOTESTFLAGS adds flags.
PKGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup build run test datecheck bench lint clean chaos

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z]+:.*## / { printf "  make %-6s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

setup: ## Install ffmpeg (apt), build bin/minio at the pinned version, download Go modules
	@bash deploy/dev/setup.sh

build: ## Build bin/mportal (VERSION=x.y.z overrides the version from git describe)
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/mportal ./cmd/mportal

run: ## Run mportal with the embedded database under ./data and MinIO on 127.0.0.1:9000
	@VERSION='$(VERSION)' bash deploy/dev/run.sh

test: ## Run the tests with -race against one shared FerretDB and MinIO (PKGS=, GOTESTFLAGS=)
	@bash deploy/dev/test.sh $(PKGS)

datecheck: ## Run the tests as if today were DAYS (default 400) days from now: finds date bombs
	@bash deploy/dev/datecheck.sh $(or $(DAYS),400) $(PKGS)

chaos: ## Run the fault rig: 3 instances behind HAProxy under load, kill -9, outages (CHAOSFLAGS=-scale 3)
	@bash deploy/dev/setup.sh
	$(GO) run ./cmd/chaos $(CHAOSFLAGS)

bench: ## Run the benchmarks against the same shared FerretDB and MinIO (PKGS=, GOTESTFLAGS=)
	@bash deploy/dev/test.sh --bench $(PKGS)

lint: ## Check gofmt, go vet, staticcheck (pinned) and the shell scripts (shellcheck too when installed)
	@bash deploy/dev/lint.sh

clean: ## Remove built binaries (keeps bin/minio, slow to rebuild, and your ./data)
	rm -f bin/mportal bin/devdb bin/*.tmp.*
