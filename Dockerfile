# syntax=docker/dockerfile:1
# capyd's container image. Build it with a Docker engine:
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) -t capyd .
#
# or, with no Docker engine, `make image` builds the same image (one layer:
# the static capyd, /etc/passwd, /data) as an OCI layout and a `docker load`
# tarball (internal/release; a test keeps this file and that image in step:
# user, entrypoint, command, environment, port, volume, working directory,
# health check). Running it: docs/server.md, "Container image".

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=unknown
ARG COMMIT=unknown
ARG SOURCE_DATE_EPOCH=0
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -tags urfave_cli_no_docs \
      -ldflags "-s -w -X 'github.com/capy-oss/capy/internal/buildinfo.version=${VERSION}' -X 'github.com/capy-oss/capy/internal/buildinfo.commit=${COMMIT}' -X 'github.com/capy-oss/capy/internal/buildinfo.date=${SOURCE_DATE_EPOCH}'" \
      -o /out/usr/local/bin/capyd ./cmd/capyd \
 && mkdir -p /out/data

# distroless static: CA certificates, /etc/passwd with "nonroot" (65532),
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=unknown
ARG COMMIT=unknown
COPY --from=build /out/usr/local/bin/capyd /usr/local/bin/capyd
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data
ENV PATH=/usr/local/bin CAPYD_DATA_DIR=/data CAPYD_LISTEN=0.0.0.0:8787
WORKDIR /data
VOLUME /data
EXPOSE 8787/tcp
USER 65532:65532
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/capyd", "healthcheck"]
LABEL org.opencontainers.image.title="capyd" \
      org.opencontainers.image.source="https://github.com/capy-oss/capy" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
ENTRYPOINT ["/usr/local/bin/capyd"]
CMD ["serve"]
