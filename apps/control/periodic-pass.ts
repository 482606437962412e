/**
 * A clean-up control runs every `intervalMs` once started, never two passes at once: `sweep` while one is in flight
 * joins it. `stop` waits for the pass in flight, so a shutdown does not cut one off.
 */
export abstract class PeriodicPass<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;

  constructor(private readonly intervalMs: number) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a pass in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass, as of `now`; a pass already in flight is joined rather than doubled. */
  sweep(now: Date = new Date()): Promise<T> {
    this.running ??= this.pass(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Does the work; must not throw (a failure is logged and reported in the result). */
  protected abstract pass(now: Date): Promise<T>;
}
