import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LaneQueue } from "../../../lambda/archive/lanes";

interface Task {
  readonly id: number;
  readonly group: string;
}
const tasks = (groups: string[]): Task[] => groups.map((group, id) => ({ id, group }));

describe("LaneQueue", () => {
  it("hands out tasks in their order, skipping a group whose lanes are busy", () => {
    const queue = new LaneQueue(tasks(["a", "a", "b", "a", "c"]), (t) => t.group, 1);
    const first = queue.take();
    const second = queue.take();
    const third = queue.take();
    expect([first?.id, second?.id, third?.id]).toEqual([0, 2, 4]);
    expect(queue.take()).toBeUndefined(); // a is busy, b and c have nothing left
    queue.done(first as Task);
    expect(queue.take()?.id).toBe(1);
    expect(queue.size).toBe(1);
  });

  it("lets a group run as many tasks at once as it has lanes", () => {
    const queue = new LaneQueue(tasks(["a", "a", "a", "b"]), (t) => t.group, 2);
    expect([queue.take()?.id, queue.take()?.id, queue.take()?.id, queue.take()]).toEqual([
      0,
      1,
      3,
      undefined,
    ]);
  });

  it("removes what a predicate selects and drains the rest, in order", () => {
    const queue = new LaneQueue(tasks(["a", "b", "a", "b", "c"]), (t) => t.group, 1);
    expect(queue.remove((t) => t.group === "b").map((t) => t.id)).toEqual([1, 3]);
    expect(queue.take()?.id).toBe(0);
    expect(queue.drain().map((t) => t.id)).toEqual([2, 4]);
    expect(queue.size).toBe(0);
    expect(queue.take()).toBeUndefined();
  });

  it("takes every task exactly once, in order within its group, never more than its lanes at once", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", "c", "d"), { maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (groups, lanes, choices) => {
          const all = tasks(groups);
          const queue = new LaneQueue(all, (t) => t.group, lanes);
          const inFlight: Task[] = [];
          const taken: Task[] = [];
          for (let step = 0; taken.length < all.length; step++) {
            const choice = choices[step % Math.max(1, choices.length)] ?? 0;
            const task = choice % 3 !== 0 || inFlight.length === 0 ? queue.take() : undefined;
            if (task) {
              taken.push(task);
              inFlight.push(task);
              expect(inFlight.filter((t) => t.group === task.group).length).toBeLessThanOrEqual(lanes);
              // The earliest task of every group with a free lane: nothing earlier was skipped unfairly.
              const skipped = all.filter((t) => t.id < task.id && !taken.includes(t));
              for (const s of skipped) {
                expect(s.group).not.toBe(task.group);
                expect(inFlight.filter((t) => t.group === s.group).length).toBe(lanes);
              }
            } else {
              const done = inFlight.splice(choice % inFlight.length, 1)[0] as Task;
              queue.done(done);
            }
          }
          expect(taken.map((t) => t.id).sort((x, y) => x - y)).toEqual(all.map((t) => t.id));
          for (const g of ["a", "b", "c", "d"]) {
            const ids = taken.filter((t) => t.group === g).map((t) => t.id);
            expect(ids).toEqual([...ids].sort((x, y) => x - y));
          }
        },
      ),
    );
  });
});
