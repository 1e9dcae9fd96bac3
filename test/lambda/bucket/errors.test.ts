import { describe, expect, it } from "vitest";
import { ARCHIVER_ROLE, storageError } from "../../../lambda/bucket/errors";
import { ruleFor } from "../../../lambda/errors";
import { READER_ROLE } from "../../../lambda/reader/errors";

describe("storageError", () => {
  const sdkError = (name: string, status: number) =>
    Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } });

  it.each([
    ["AccessDenied", 403, "reader", "S3_ACCESS_DENIED", "s3:ListBucket on the bucket and s3:GetObject", 2],
    [
      "AccessDenied",
      403,
      "archiver",
      "S3_ACCESS_DENIED",
      "s3:PutObject, s3:GetObject and s3:AbortMultipartUpload",
      2,
    ],
    ["NoSuchBucket", 404, "reader", "S3_NO_SUCH_BUCKET", "Check the bucket name", 2],
    ["NoSuchBucket", 404, "archiver", "S3_NO_SUCH_BUCKET", "Check archive.bucket in the parameter file", 2],
    ["InvalidObjectState", 403, "reader", "S3_OBJECT_ARCHIVED", "restore it first", 1],
    ["InternalError", 500, "reader", "S3_REQUEST_FAILED", "try again", 1],
    ["InternalError", 500, "archiver", "S3_REQUEST_FAILED", "the next run retries the window", 1],
  ] as const)(
    "maps %s (%i) for the %s to %s with advice, exit status %i",
    (name, status, role, code, advice, exit) => {
      const error = storageError(sdkError(name, status), "GetObject", {
        bucket: "my-bucket",
        key: "a/key",
        role: role === "reader" ? READER_ROLE : ARCHIVER_ROLE,
      });
      expect(error.code).toBe(code);
      expect(error.message).toContain(`GetObject on s3://my-bucket/a/key failed (${status} ${name}`);
      expect(error.message).toContain(advice);
      expect(ruleFor(error).exitStatus).toBe(exit);
    },
  );

  it("names the bucket when the request has no key, and passes an archiver error through", () => {
    const error = storageError(sdkError("InternalError", 500), "ListObjectsV2", { bucket: "b" });
    expect(error.message).toContain("ListObjectsV2 on bucket b failed");
    expect(storageError(error, "again", { bucket: "c" })).toBe(error);
  });
});
