import { describe, expect, it } from "vitest";
import { formatBytes } from "../../../../bin/cli/format/bytes";

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [12 * 1024 * 1024, "12 MiB"],
    [5 * 1024 ** 5, "5120 TiB"],
  ])("writes %i bytes as %s", (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});
