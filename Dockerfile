# lando-k8s: one image for both roles. The role is the command's argument:
#   docker run IMAGE                                            # --role=lando (the default CMD)
#   docker run IMAGE --role=watcher --config /etc/lando/config.yml
# deploy/ runs it on Kubernetes; docs/operations.md describes building and running it.

# Same Node.js release line as development and CI, pinned to a patch version so a rebuild
# does not change the runtime underneath.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lockfile changes. No install
# scripts: nothing needs one (bunyan's optional dtrace-provider would try to compile).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20.20.2-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The image's unprivileged user; the application files stay root's, so it cannot change them.
USER node
# The health and metrics endpoint, when the configuration sets health_port: 8080.
EXPOSE 8080
# Slim images have no curl: Node itself asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/composition/main.js"]
CMD ["--role=lando", "--config", "/etc/lando/config.yml"]
