// Lua and SQL files are imported as text so the compiled binary carries them.
declare module "*.lua" {
  const text: string;
  export default text;
}
declare module "*.sql" {
  const text: string;
  export default text;
}

// The part of autocannon's API the benchmark uses (it ships no types of its own).
declare module "autocannon" {
  type Percentiles = { p50: number; p90: number; p99: number; max: number; average: number };
  type Options = {
    url: string;
    connections: number;
    duration: number;
    requests: Array<Record<string, unknown> & { setupRequest?: (request: Record<string, unknown>) => Record<string, unknown> }>;
  };
  type Result = {
    requests: { total: number; average: number };
    latency: Percentiles;
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  export default function autocannon(options: Options): Promise<Result>;
}

// Swagger UI's script and style, imported as text: the binary serves its documentation page itself.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}
declare module "swagger-ui-dist/swagger-ui.css" {
  const text: string;
  export default text;
}
