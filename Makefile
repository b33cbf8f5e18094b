# Footfall. `make up` and `make test` are the two commands that matter; see README.md.
SHELL := /bin/bash
GO_PKGS := ./internal/... ./collector/... ./enricher/... ./loader/... ./promotions/... ./migrations/...

.PHONY: test unit chdb vet

## test: every test that exists today (see README "Status")
test: vet unit chdb

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet $(GO_PKGS)

unit:
	go test -count=1 $(GO_PKGS)

## chdb: the ClickHouse migrations against a current ClickHouse engine
chdb:
	python3 -c 'import chdb' 2>/dev/null || pip install -q chdb pytest
	python3 -m pytest -q migrations/
