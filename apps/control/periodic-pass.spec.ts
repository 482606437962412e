import { PeriodicPass } from './periodic-pass';

/** Each pass waits until the spec lets it finish, and counts itself. */
class HeldPass extends PeriodicPass<number> {
  passes = 0;
  release: () => void = () => undefined;

  protected pass(): Promise<number> {
    this.passes += 1;
    const count = this.passes;
    return new Promise((resolve) => {
      this.release = () => resolve(count);
    });
  }
}

describe(PeriodicPass.name, () => {
  it('joins a pass in flight instead of starting a second, and runs a new one after it ended', async () => {
    const pass = new HeldPass(60_000);
    const first = pass.sweep();
    const joined = pass.sweep();
    expect(pass.passes).toBe(1);
    pass.release();
    expect(await Promise.all([first, joined])).toEqual([1, 1]);
    const second = pass.sweep();
    pass.release();
    expect(await second).toBe(2);
  });

  it('stop waits for the pass in flight', async () => {
    const pass = new HeldPass(60_000);
    pass.start();
    void pass.sweep();
    let stopped = false;
    const stopping = pass.stop().then(() => {
      stopped = true;
    });
    await Promise.resolve();
    expect(stopped).toBe(false);
    pass.release();
    await stopping;
    expect(stopped).toBe(true);
  });
});
