# Footfall. `make up` and `make test` are the two commands that matter; see README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
LOCAL := deploy/local
# Connection settings of the local services, for the Go tests and the e2e test.
ENV := eval "$$($(LOCAL)/env.sh)"

.PHONY: deploy-check cluster-test cluster-down up down status test vet unit integration go-test sdk-test e2e chdb tools services pipeline build bench bench-smoke selftest bench-dashboard dashboard-test

## up: start Kafka, PostgreSQL, ClickHouse and Footfall (every service, the dashboard and the demo shop)
up: services pipeline

## down: stop what `make up` started (data stays in .data/)
down:
	-$(LOCAL)/footfall.sh stop
	$(LOCAL)/services.sh down

## status: one line per service, running or not (PostgreSQL's says where its data lives)
status:
	-$(LOCAL)/services.sh status
	-$(LOCAL)/footfall.sh status

services:
	$(LOCAL)/services.sh up

pipeline:
	$(LOCAL)/footfall.sh start

build:
	go build -o bin/footfall ./cmd/footfall

## test: every test, against the real services (starts them; leaves them running)
test: vet tools services selftest go-test chdb sdk-test bench-smoke deploy-check pipeline e2e dashboard-test
	@echo "make test: all passed"

tools:
	$(LOCAL)/tools.sh

## selftest: the local-services scripts' own tests (PostgreSQL for a checkout under a private 0700 folder)
selftest:
	$(LOCAL)/selftest.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

## unit: the Go tests that need no services (integration tests skip)
unit:
	go test -count=1 ./...

## go-test: Go unit and integration tests against the local services
go-test: services
	$(ENV) && FOOTFALL_INTEGRATION=1 go test -count=1 -timeout 15m ./...

## chdb: the ClickHouse migrations against a current ClickHouse engine (chDB)
chdb: tools
	python3 -m pytest -q migrations/

## sdk-test: the beacon's build check, type check, unit and Chromium tests
sdk-test: tools
	cd sdk-js && npm run -s check-dist && npm run -s typecheck && npm test

## e2e: demo shop in Chromium → collector → Kafka → enricher/PostgreSQL + loader/ClickHouse
e2e: tools pipeline
	$(ENV) && source <($(LOCAL)/footfall.sh env) && cd sdk-js && npm run -s test:e2e

## dashboard-test: the dashboard page's build check, unit tests, and the page in Chromium against the running pipeline
dashboard-test: tools pipeline
	$(ENV) && source <($(LOCAL)/footfall.sh env) && cd dashboard/web && npm run -s check-dist && npm test

## deploy-check: Dockerfile, deploy/compose and deploy/kubernetes checked offline (BuildKit's parser and the build run natively, compose-go, kustomize + Kubernetes 1.37 schemas); see docs/deploy.md
deploy-check:
	cd deploy/check && go vet ./... && go test -count=1 ./...

## cluster-test: Footfall on a local cluster (three KRaft Kafka brokers, ClickHouse 2 shards x 2 replicas with ZooKeeper, two of each service) under load while a broker, a replica, a loader, an enricher and a collector go down; nothing answered 2xx may be lost or doubled (docs/scale-out.md). Stops the cluster afterwards
cluster-test: services
	deploy/cluster/cluster.sh up
	$(ENV) && rc=0; FOOTFALL_CLUSTER=1 go test -count=1 -v -timeout 20m -run TestCluster ./deploy/cluster/ || rc=$$?; \
	  deploy/cluster/cluster.sh down; exit $$rc

## cluster-down: stop the local cluster (its data stays in .data/cluster; deploy/cluster/cluster.sh reset removes it)
cluster-down:
	deploy/cluster/cluster.sh down

## bench: the stage table (cmd/benchload: each stage of the pipeline against its ceiling, on the real services), then every Go benchmark against its baseline (see docs/benchmarks.md)
bench: services build
	$(ENV) && go run ./cmd/benchload --footfall bin/footfall
	$(ENV) && set -o pipefail; FOOTFALL_INTEGRATION=1 go test -run '^$$' -bench . -benchmem -count 3 -timeout 30m ./... | go run ./cmd/benchratio

## bench-smoke: a ten-second run of the stage harness that checks it works and prints its table (make test, CI); no figure is judged
bench-smoke: services build
	$(ENV) && go run ./cmd/benchload --footfall bin/footfall --smoke

## bench-dashboard: Stats API p50/p95 on 10M generated events (database footfall_bench) against raw-events SQL, and the page's ready time in Chromium (see docs/benchmarks.md)
bench-dashboard: services build
	$(ENV) && go run ./cmd/benchdash --footfall bin/footfall
