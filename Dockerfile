# The broker, built and run as a non-root user. Configuration is mounted and named by BROKER_CONFIG.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src src
COPY providers providers
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY views views
COPY providers/se-bankid/certs providers/se-bankid/certs
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
