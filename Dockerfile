# Build the single binary with the pinned Bun, then ship it alone on a slim base.
FROM oven/bun:1.4.5 AS build
WORKDIR /app
COPY package.json bun.lock ./
COPY patches patches
RUN bun install --frozen-lockfile --production
COPY tsconfig.json types.d.ts ./
COPY src src
COPY lua lua
COPY sql sql
COPY scripts/binary.ts scripts/binary.ts
RUN bun scripts/binary.ts

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 ticketqueue
COPY --from=build /app/dist/ticket-queue /usr/local/bin/ticket-queue
USER ticketqueue
ENV PORT=3000
EXPOSE 3000
# TOKEN_SECRET, DATABASE_URL and REDIS_URL come from the environment (see docs/operating.md).
ENTRYPOINT ["ticket-queue"]
CMD ["serve"]
