# The fleethub hub manager image, built from source in two stages: a Go
# toolchain stage compiles a static binary, and the final image holds only
# that binary and a CA bundle (for the DNS provider's API), running as an
# unprivileged user. Build with `make docker-build` (needs the golang image).
# `make image` builds an equivalent image offline from a locally compiled
# binary (hack/image/Dockerfile).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY deploy/ deploy/
COPY pkg/ pkg/
COPY providers/ providers/
# Set by BuildKit for multi-platform builds; empty means the build host's.
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/manager /manager
# Numeric, so runAsNonRoot can verify it without a passwd file.
USER 65532:65532
ENTRYPOINT ["/manager"]
