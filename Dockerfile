# Build: compile TypeScript, then keep only production dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.client.json drizzle.config.ts vite.config.ts ./
COPY client ./client
COPY web ./web
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY drizzle ./drizzle
RUN npm run build && npm prune --omit=dev

# Run: non-root; migrations, then the server. DATA_DIR is a volume for the embedded database.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/drizzle ./drizzle
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8000
CMD ["sh", "-c", "node dist/src/db/migrate-cli.js && exec node dist/server.js"]
