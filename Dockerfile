# syntax=docker/dockerfile:1
#
# Footfall in one small image: one static binary, run as a non-root user.
#   docker build -t footfall .
#   docker run --rm footfall ports
#   docker run --rm -e FOOTFALL_KAFKA_BROKERS=kafka:9092 footfall collector
# deploy/compose/compose.yaml builds it; deploy/check (make deploy-check)
# parses it and runs the build stage's `go build` natively.

# GO_VERSION is the Go release that builds: go.mod's own, or a later patch of it.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# No cgo: a static binary that runs on any base image, or none.
ENV CGO_ENABLED=0
# Modules first, so a code change reuses the downloaded modules' layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/footfall ./cmd/footfall
# The collector's spool directory, owned by the runtime user so that a
# fresh volume mounted there inherits that owner.
RUN mkdir -p /out/var/lib/footfall/spool

# Alpine rather than distroless: its busybox wget lets compose's
# healthchecks ask /readyz, for 8 MB beside the 31 MB binary.
# runtime is the image: the binary, a non-root user, nothing else of ours.
FROM alpine:3.23 AS runtime
RUN addgroup -S -g 65532 footfall && adduser -S -D -H -u 65532 -G footfall footfall
COPY --from=build /out/footfall /usr/local/bin/footfall
COPY --from=build --chown=65532:65532 /out/var/lib/footfall /var/lib/footfall
WORKDIR /var/lib/footfall
# Inside a container every service listens on all interfaces (the binary's
# defaults are 127.0.0.1, right for a laptop, wrong behind a container's
# network); ports are the registry's (`footfall ports`).
ENV FOOTFALL_COLLECTOR_ADDR=:8080 \
    FOOTFALL_PROMOTIONS_ADDR=:8081 \
    FOOTFALL_ENRICHER_ADDR=:8082 \
    FOOTFALL_LOADER_ADDR=:8083 \
    FOOTFALL_DASHBOARD_ADDR=:8084 \
    FOOTFALL_ALERTS_ADDR=:8085 \
    FOOTFALL_REVIEWS_ADDR=:8086 \
    FOOTFALL_MODERATOR_ADDR=:8087 \
    FOOTFALL_PRIVACY_ADDR=:8088 \
    FOOTFALL_COLLECTOR_SPOOL_DIR=/var/lib/footfall/spool \
    FOOTFALL_LOG_FORMAT=json
EXPOSE 8080 8081 8082 8083 8084 8085 8086 8087 8088
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/footfall"]
CMD ["all"]
