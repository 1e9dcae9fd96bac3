import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { flagName } from "../../../bin/cli/command";
import { checkSelection, resolveTarget } from "../../../bin/cli/target";
import { describeError, InputError } from "../../../lambda/errors";

const GROUP = "32b6e34b3d91647abb20e7b8";

/** The message of what `run` throws, as the command line prints it. */
async function refusal(run: () => unknown): Promise<{ field: string; message: string }> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return { field: (err as InputError).context.field, message: describeError(err as Error, flagName) };
  }
  throw new Error("nothing was refused");
}

describe("checkSelection", () => {
  it.each([
    [
      { group: "32B6E34B3D91647ABB20E7B8" },
      "group",
      '--group "32B6E34B3D91647ABB20E7B8" is not an Atlas project id',
    ],
    [{ group: GROUP, tenant: "a/b" }, "tenant", '--tenant "a/b" is not a valid name'],
    [{ group: GROUP, tenant: "t", sp: "x y" }, "sp", '--sp "x y" is not a valid name'],
  ])("refuses %j, naming the field", async (selection, field, message) => {
    const refused = await refusal(() => checkSelection(selection));
    expect(refused.field).toBe(field);
    expect(refused.message).toContain(message);
  });

  it("accepts what the parameter file accepts", () => {
    expect(() => checkSelection({ group: GROUP, tenant: "eu_prod-1", sp: "sp_2" })).not.toThrow();
  });
});

describe("resolveTarget", () => {
  it("needs a bucket from --bucket, ARCHIVE_BUCKET or the parameter file", async () => {
    const refused = await refusal(() => resolveTarget({ config: undefined }));
    expect(refused.field).toBe("bucket");
    expect(refused.message).toContain("No bucket: pass --bucket, set ARCHIVE_BUCKET, or set archive.bucket");
  });

  it("takes --bucket over ARCHIVE_BUCKET over the file, and --prefix over the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cli-target-"));
    try {
      const file = join(dir, "workspaces.json");
      await writeFile(
        file,
        JSON.stringify({
          archive: { bucket: "from-file", prefix: "file/" },
          workspaces: [{ groupId: GROUP, tenantName: "t" }],
        }),
      );
      expect(await resolveTarget({ config: file })).toMatchObject({
        bucket: "from-file",
        prefix: "file/",
        configFile: file,
      });
      expect(await resolveTarget({ config: file, envBucket: "from-env" })).toMatchObject({
        bucket: "from-env",
      });
      expect(
        await resolveTarget({ config: file, envBucket: "from-env", bucket: "flag", prefix: "p/" }),
      ).toMatchObject({
        bucket: "flag",
        prefix: "p/",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses an invalid --prefix, saying why", async () => {
    const refused = await refusal(() => resolveTarget({ bucket: "b", prefix: "/abs" }));
    expect(refused.field).toBe("prefix");
    expect(refused.message).toMatch(/^--prefix "\/abs" is invalid: /);
  });
});
