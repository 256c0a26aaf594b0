// One JSON line per event on stdout; the level comes from LOG_LEVEL.
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type Level = keyof typeof LEVELS;
export type Fields = Record<string, unknown>;
export type Logger = Record<Level, (message: string, fields?: Fields) => void>;

export function createLogger(level: Level = "info", base: Fields = {}): Logger {
  const write = (at: Level) => (message: string, fields: Fields = {}) => {
    if (LEVELS[at] < LEVELS[level]) return;
    const line = { time: new Date().toISOString(), level: at, message, ...base, ...fields };
    process.stdout.write(JSON.stringify(line, errorFields) + "\n");
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

// Errors serialise as their message and code; stacks stay out of the logs' hot path.
function errorFields(_key: string, value: unknown) {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  return value;
}

/**
 * `write`, at most once every `everyMs`; the calls in between are dropped. For a warning
 * repeated on every retry (ioredis reports its error on every reconnect attempt): one line every
 * 5 s is enough to read.
 */
export function throttled<A extends unknown[]>(write: (...args: A) => void, everyMs = 5000): (...args: A) => void {
  let last = -Infinity;
  return (...args) => {
    if (Date.now() - last < everyMs) return;
    last = Date.now();
    write(...args);
  };
}
