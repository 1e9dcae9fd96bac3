import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { didYouMean, editDistance, maxEdits, suggest } from "../../lambda/suggest";

describe("editDistance", () => {
  it.each<[string, string, number]>([
    ["", "", 0],
    ["", "abc", 3],
    ["ls", "ls", 0],
    ["lss", "ls", 1],
    ["verfy", "verify", 1],
    ["reprot", "report", 1],
    ["tennat", "tenant", 1],
    ["kitten", "sitting", 3],
    ["ca", "abc", 3],
  ])("counts %j to %j as %i", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });

  it("is symmetric, zero only for equal strings, and at most the longer length", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(editDistance(b, a)).toBe(d);
        expect(d === 0).toBe(a === b);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
        expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
      }),
    );
  });
});

describe("maxEdits", () => {
  it("allows one edit up to 5 characters, two up to 8, three beyond", () => {
    expect([1, 3, 5, 6, 8, 9, 20].map(maxEdits)).toEqual([1, 1, 1, 2, 2, 3, 3]);
  });
});

describe("suggest", () => {
  const commands = ["run", "ls", "cat", "get", "verify", "report", "public-key", "completion"];

  it.each<[string, string[]]>([
    ["lss", ["ls"]],
    ["LS", ["ls"]],
    ["verfy", ["verify"]],
    ["reprot", ["report"]],
    ["publickey", ["public-key"]],
    ["compl", ["completion"]],
    ["ct", ["cat"]],
    ["cet", ["cat", "get"]],
    ["deploy", []],
    ["x", []],
  ])("suggests for %j: %j", (name, expected) => {
    expect(suggest(name, commands)).toEqual(expected);
  });

  it("suggests nothing for a name that is a candidate", () => {
    expect(suggest("ls", commands)).toEqual([]);
  });

  it("orders by distance and keeps at most the limit", () => {
    expect(suggest("--to", ["--top", "--t", "--tox", "--tot", "--to2"], 2)).toEqual(["--t", "--to2"]);
  });

  it("counts a flag's length without its dashes, and takes a candidate it starts", () => {
    expect(suggest("--tennat", ["--tenant", "--group"])).toEqual(["--tenant"]);
    expect(suggest("--conc", ["--concurrency", "--config"])).toEqual(["--concurrency"]);
  });
});

describe("didYouMean", () => {
  it("writes one, two or three suggestions as a sentence, or nothing", () => {
    expect(didYouMean("verfy", ["verify"])).toBe(" Did you mean verify?");
    expect(didYouMean("cet", ["cat", "get"])).toBe(" Did you mean cat or get?");
    expect(didYouMean("ab", ["a", "b", "abc"])).toBe(" Did you mean a, abc or b?");
    expect(didYouMean("deploy", ["run"])).toBe("");
    expect(didYouMean("tennat", ["tenant"], (t) => `--tenant ${t}`)).toBe(" Did you mean --tenant tenant?");
  });
});
