// Commands still running, so a shutdown can wait for them before closing
// storage: a client that hangs up does not stop its command, and a command
// cut off between its append and its answer leaves work for a retry.
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const done = (): void => {
      this.pending.delete(work);
    };
    work.then(done, done);
    return work;
  }

  /** Holds until the returned release is called (a request from arrival to answer); releasing twice is harmless. */
  hold(): () => void {
    let release!: () => void;
    void this.track(new Promise<void>((resolve) => (release = resolve)));
    return release;
  }

  /** Resolves once nothing tracked is running, including work tracked meanwhile. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
