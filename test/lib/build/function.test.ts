import { describe, expect, it } from "vitest";
import { copyCommand } from "../../../lib/build/function";

describe("copyCommand", () => {
  it("quotes the copy command for POSIX shells and cmd.exe", () => {
    expect(copyCommand("/tmp/it's here.json", "/out/archiver-config.json", "linux")).toBe(
      `cp '/tmp/it'\\''s here.json' '/out/archiver-config.json'`,
    );
    expect(copyCommand("C:\\a b\\c.json", "D:\\out\\archiver-config.json", "win32")).toBe(
      'copy /Y "C:\\a b\\c.json" "D:\\out\\archiver-config.json"',
    );
  });
});
