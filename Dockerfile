# One image for api, control and worker; docker-compose.yml picks the process with `command`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console/package.json console/package-lock.json ./console/
RUN cd console && npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The console, served by the API at /console (MLIS_CONSOLE_DIR defaults to console/dist).
COPY --from=build /app/console/dist ./console/dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/examples ./examples
COPY --from=build /app/scripts ./scripts
USER node
# The secrets volume mounts here; creating it as `node` makes a fresh named volume owned by `node`.
RUN mkdir -p /home/node/.config/mlis && chmod 700 /home/node/.config/mlis
EXPOSE 8001
CMD ["node", "dist/apps/api/main.js"]
