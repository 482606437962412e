# One image for api, control and worker; docker-compose.yml picks the process with `command`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# docker build --build-arg MLIS_BUILD_REVISION=$(git rev-parse --short HEAD): shown on mlis_build_info.
ARG MLIS_BUILD_REVISION=unknown
ENV NODE_ENV=production MLIS_BUILD_REVISION=$MLIS_BUILD_REVISION
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/examples ./examples
COPY --from=build /app/scripts ./scripts
USER node
# The secrets volume mounts here; creating it as `node` makes a fresh named volume owned by `node`.
RUN mkdir -p /home/node/.config/mlis && chmod 700 /home/node/.config/mlis
EXPOSE 8001
CMD ["node", "dist/apps/api/main.js"]
