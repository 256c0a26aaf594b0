// When this instance's processor last granted holds: one number in memory shared by its threads
// (a SharedArrayBuffer the main thread makes and hands to the processor and the webhooks
// worker). While the sale is busy, the webhooks worker holds back (src/webhooks/dispatcher.ts):
// delivering never takes the cores a sale needs; it catches up once the rush is over.
export type SalePulse = BigInt64Array;

export const salePulse = (): SalePulse => new BigInt64Array(new SharedArrayBuffer(8));

export function markGranted(pulse: SalePulse): void {
  Atomics.store(pulse, 0, BigInt(Date.now()));
}

/** Whether holds were granted within the last `withinMs`. */
export function saleIsBusy(pulse: SalePulse, withinMs: number): boolean {
  return Date.now() - Number(Atomics.load(pulse, 0)) < withinMs;
}
