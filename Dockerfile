# The broker: built in one stage, run in a small one as the unprivileged `node` user, from files
# it cannot change (it writes nothing to disk: state is in Redis, logs go to stdout).
# Configuration is mounted and named by BROKER_CONFIG; see docker-compose.yml.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# No install scripts: the build needs none, and they are code from the registry run as root.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts scripts
COPY bin bin
COPY src src
COPY providers providers
# What the eIDs bring beside their code (pages, scripts, texts, certificates) stays in providers/;
# their TypeScript, bundled into dist/bin/, does not ship.
RUN npm run build && npm prune --omit=dev --ignore-scripts && find providers -name '*.ts' -delete

FROM node:22-bookworm-slim
ENV NODE_ENV=production
# glibc gives each thread that mallocs an arena of its own; two are enough for Node's few
# threads, and the rest is memory an instance holding thousands of event streams keeps.
ENV MALLOC_ARENA_MAX=2
# V8's young generation at most 2 × 8 MB. Node 22 and later size it from the machine's memory (up
# to 2 × 64 MB on a large host), and a burst of logins grows it to that, never to give it back:
# 112 MB of an instance's memory for nothing (BENCHMARKS.md, "Memory per waiting login"). The
# bench runs the broker with this environment too. Add your own node options to this value.
ENV NODE_OPTIONS=--max-semi-space-size=8
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY views views
COPY --from=build /app/providers providers
USER node
# 3000: the broker (config `port`); 9464: /metrics when `metrics.port` is set to it.
EXPOSE 3000 9464
# Ready: Redis answers and the signing keys are loaded. Assumes `port: 3000`.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) closes the broker cleanly: open requests finish, audit events are flushed.
STOPSIGNAL SIGTERM
CMD ["node", "dist/bin/main.js"]
