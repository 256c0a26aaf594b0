// One timeout race for every wait that must not outlast its deadline: the dependency deadline,
// readiness probes, the metrics' reading, the stale-but-quick answers of status.

/**
 * `work`'s outcome if it settles within `ms`; past that, what `late()` returns or throws. The
 * timer is cleared either way. `work` itself carries on: whoever started it decides whether a
 * late outcome matters.
 */
export function within<T, L>(ms: number, work: Promise<T>, late: () => L): Promise<T | L> {
  let timer: Timer | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))).then(late);
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
