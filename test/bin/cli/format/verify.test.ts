import { describe, expect, it } from "vitest";
import { formatVerifyReport } from "../../../../bin/cli/format/verify";

describe("verify's report", () => {
  const base = { bucket: "b", prefix: "p/", checked: 3, bytes: 10 };

  it("ends with OK when every object is intact", () => {
    expect(formatVerifyReport({ ...base, bad: [], ok: true })).toBe("OK: 3 object(s) in s3://b/p/ verified.");
  });

  it("names each bad object and its problem, then the verdict", () => {
    const bad = [{ key: "p/k", problem: "GZIP_INVALID", reason: "incorrect header check" }];
    expect(formatVerifyReport({ ...base, bad, ok: false })).toBe(
      "BAD p/k: GZIP_INVALID: incorrect header check\nFAILED: 1 bad object(s) in s3://b/p/ (3 archived object(s) read).",
    );
  });
});
