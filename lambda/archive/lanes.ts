/**
 * The run's queue in one process: tasks in a global order, grouped (an Atlas project), with at
 * most `lanes` tasks of a group in flight at once. It plays the part a FIFO queue's message
 * groups play across workers: a project's rate limit is met by its own lanes, never by where its
 * workspaces stand in the parameter file.
 */

/** A task and its place in the global order. */
interface Slot<T> {
  readonly task: T;
  readonly order: number;
}

/** One group's tasks, in order, and how many of them are in flight. */
interface Group<T> {
  readonly slots: Slot<T>[];
  next: number;
  inFlight: number;
  /** Whether the group's head is in the heap. */
  queued: boolean;
}

/**
 * Tasks taken in their order, skipping over a group whose lanes are all busy: the next task is
 * always the earliest one of a group with a free lane. Taking and finishing cost O(log groups).
 *
 * @example
 * ```ts
 * const queue = new LaneQueue(tasks, (t) => t.workspace.groupId, 1);
 * const task = queue.take(); // undefined when every group with tasks left is busy
 * queue.done(task);
 * ```
 */
export class LaneQueue<T> {
  private readonly groups = new Map<string, Group<T>>();
  /** Groups with a task left and a free lane, as a min-heap by their next task's order. */
  private readonly heap: Group<T>[] = [];
  private readonly groupOf = new Map<T, Group<T>>();
  private left: number;

  constructor(
    tasks: readonly T[],
    groupOf: (task: T) => string,
    private readonly lanes: number,
  ) {
    if (!(Number.isInteger(lanes) && lanes >= 1))
      throw new RangeError(`lanes ${lanes} must be a whole number >= 1`);
    for (const [order, task] of tasks.entries()) {
      const name = groupOf(task);
      let group = this.groups.get(name);
      if (group === undefined) {
        group = { slots: [], next: 0, inFlight: 0, queued: false };
        this.groups.set(name, group);
      }
      group.slots.push({ task, order });
      this.groupOf.set(task, group);
    }
    this.left = tasks.length;
    for (const group of this.groups.values()) this.enqueue(group);
  }

  /** Tasks not taken yet. */
  get size(): number {
    return this.left;
  }

  /** The earliest task of a group with a free lane, now in flight; undefined when there is none. */
  take(): T | undefined {
    const group = this.pop();
    if (group === undefined) return undefined;
    const slot = group.slots[group.next++] as Slot<T>;
    group.inFlight++;
    this.left--;
    this.enqueue(group);
    return slot.task;
  }

  /** Frees the lane `task` held. */
  done(task: T): void {
    const group = this.groupOf.get(task);
    if (group === undefined || group.inFlight === 0) return;
    group.inFlight--;
    this.enqueue(group);
  }

  /** Removes and returns the tasks not taken yet that `match` selects (a paused project, a stopped workspace). */
  remove(match: (task: T) => boolean): T[] {
    const removed: Slot<T>[] = [];
    for (const group of this.groups.values()) {
      const rest = group.slots.slice(group.next);
      if (!rest.some((s) => match(s.task))) continue;
      group.slots.splice(group.next);
      for (const slot of rest) (match(slot.task) ? removed : group.slots).push(slot);
    }
    this.left -= removed.length;
    // Groups sit in the heap under their old heads: rebuild it.
    const queued = this.heap.splice(0);
    for (const g of queued) g.queued = false;
    for (const g of queued) this.enqueue(g);
    return removed.sort((a, b) => a.order - b.order).map((s) => s.task);
  }

  /** Removes and returns every task not taken yet. */
  drain(): T[] {
    const rest: Slot<T>[] = [];
    for (const group of this.groups.values()) {
      rest.push(...group.slots.slice(group.next));
      group.next = group.slots.length;
    }
    this.left = 0;
    this.heap.length = 0;
    for (const group of this.groups.values()) group.queued = false;
    return rest.sort((a, b) => a.order - b.order).map((s) => s.task);
  }

  private head(group: Group<T>): number {
    return group.slots[group.next]?.order ?? Number.POSITIVE_INFINITY;
  }

  private enqueue(group: Group<T>): void {
    if (group.queued || group.next >= group.slots.length || group.inFlight >= this.lanes) return;
    group.queued = true;
    const heap = this.heap;
    heap.push(group);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.head(heap[parent] as Group<T>) <= this.head(heap[i] as Group<T>)) break;
      [heap[parent], heap[i]] = [heap[i] as Group<T>, heap[parent] as Group<T>];
      i = parent;
    }
  }

  /** The group with the earliest next task that still has one and a free lane. */
  private pop(): Group<T> | undefined {
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0] as Group<T>;
      const last = heap.pop() as Group<T>;
      if (heap.length > 0) {
        heap[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let least = i;
          if (l < heap.length && this.head(heap[l] as Group<T>) < this.head(heap[least] as Group<T>))
            least = l;
          if (r < heap.length && this.head(heap[r] as Group<T>) < this.head(heap[least] as Group<T>))
            least = r;
          if (least === i) break;
          [heap[least], heap[i]] = [heap[i] as Group<T>, heap[least] as Group<T>];
          i = least;
        }
      }
      top.queued = false;
      // A group drained or dropped while queued is skipped.
      if (top.next < top.slots.length && top.inFlight < this.lanes) return top;
    }
    return undefined;
  }
}
