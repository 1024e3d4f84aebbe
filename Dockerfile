# Slipway: the edge proxy, the build engine and the admin API in one binary.
#
#   docker build -t slipway .
#   docker run -d --name slipway \
#     -p 8080:8080 -p 127.0.0.1:8081:8081 \
#     -v slipway-data:/var/lib/slipway \
#     -e SLIPWAY_APPS_DOMAIN=apps.example.com \
#     slipway
#
# Volume: /var/lib/slipway holds the SQLite catalog, the disk object store,
# build workspaces and the generated admin token (`docker exec slipway cat
# /var/lib/slipway/admin-token`). With SLIPWAY_STORAGE=s3 the sites live in
# the bucket instead.
#
# Builds: to run builds in Docker containers, mount the engine's socket
# (opt-in; it gives Slipway control of the engine):
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add <docker group id>
# Without it Slipway builds as local processes inside this container, with a
# warning (install node/npm into a derived image for that).

FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that source changes do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY static ./static
COPY scripts/install ./scripts/install
# The layout the binary looks for its files in (docs/install.md).
RUN scripts/install --prefix /out --static-swift-stdlib

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git libsqlite3-0 libcurl4 zlib1g tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/slipway --create-home slipway
COPY --from=build /out/ /usr/local/
USER slipway
ENV SLIPWAY_DATA_DIR=/var/lib/slipway \
    SLIPWAY_PROXY_HOST=0.0.0.0 \
    SLIPWAY_ADMIN_HOST=0.0.0.0
VOLUME ["/var/lib/slipway"]
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/slipway"]
CMD ["serve"]
