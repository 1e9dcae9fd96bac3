/** Per-key serialization, so that a conditional write's check and its write are one step. */
export class KeyLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every earlier task for `id` has settled. */
  async run<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.catch(() => {});
    this.tails.set(id, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }

  /** {@link run} for one object: every write to `bucket`/`key` takes this lock. */
  object<T>(bucket: string, key: string, task: () => Promise<T>): Promise<T> {
    return this.run(`${bucket}\u0000${key}`, task);
  }
}
