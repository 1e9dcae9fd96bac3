import { describe, expect, it } from "vitest";
import { GzipInvalidError } from "../../lambda/archive/errors";
import { DigestError } from "../../lambda/atlas/digest";
import {
  AtlasCredentialsError,
  AtlasForbiddenError,
  AtlasNetworkError,
  AtlasNotFoundError,
  AtlasPausedError,
  AtlasRateLimitedError,
  AtlasRequestError,
  AtlasServerError,
  AtlasTimeoutError,
  AtlasUnauthorizedError,
  AtlasUnexpectedResponseError,
} from "../../lambda/atlas/errors";
import { ArchiveObjectInvalidError, StorageError } from "../../lambda/bucket/errors";
import { ConfigError } from "../../lambda/config";
import { describeError, ERROR_KINDS, InputError, ruleFor } from "../../lambda/errors";
import { RangeInputError } from "../../lambda/range";

describe("the error table", () => {
  it("gives exit status 2 for usage and setup, 1 otherwise; stops a workspace for usage and setup only", () => {
    expect(ERROR_KINDS).toEqual({
      usage: { exitStatus: 2, stopsWorkspace: true, retryable: false, usageHint: true },
      setup: { exitStatus: 2, stopsWorkspace: true, retryable: false, usageHint: false },
      transient: { exitStatus: 1, stopsWorkspace: false, retryable: true, usageHint: false },
      permanent: { exitStatus: 1, stopsWorkspace: false, retryable: false, usageHint: false },
    });
  });

  it.each([
    [new AtlasUnauthorizedError("m"), "setup"],
    [new AtlasForbiddenError("m"), "setup"],
    [new AtlasNotFoundError("m"), "setup"],
    [new AtlasRequestError("m"), "setup"],
    [new AtlasCredentialsError("m"), "setup"],
    [new DigestError("ATLAS_DIGEST_UNSUPPORTED", "m"), "setup"],
    [new DigestError("ATLAS_DIGEST_NONCE_EXHAUSTED", "m"), "transient"],
    [new AtlasRateLimitedError("m"), "transient"],
    [new AtlasServerError("m"), "transient"],
    [new AtlasNetworkError("m"), "transient"],
    [new AtlasTimeoutError("m"), "transient"],
    [new AtlasPausedError("m"), "transient"],
    [new AtlasUnexpectedResponseError("m"), "transient"],
    [new StorageError("S3_ACCESS_DENIED", "m"), "setup"],
    [new StorageError("S3_NO_SUCH_BUCKET", "m"), "setup"],
    [new StorageError("S3_TIMEOUT", "m"), "transient"],
    [new StorageError("S3_OBJECT_TOO_LARGE", "m"), "permanent"],
    [new ArchiveObjectInvalidError("m"), "permanent"],
    [new GzipInvalidError("m"), "transient"],
    [new ConfigError("CONFIG_INVALID", "m"), "setup"],
    [new RangeInputError("from", "x", () => "m"), "usage"],
  ] as const)("%s is %s", (error, kind) => {
    expect(error.kind).toBe(kind);
    expect(ruleFor(error)).toBe(ERROR_KINDS[kind]);
    expect(error.retryable).toBe(kind === "transient");
    expect(error.toJSON()).toMatchObject({ code: error.code, kind });
  });

  it("treats an error the archiver did not raise as transient", () => {
    expect(ruleFor(new TypeError("x"))).toBe(ERROR_KINDS.transient);
  });
});

describe("InputError", () => {
  const error = new InputError(
    "RANGE_INVALID",
    { field: "from", value: "x" },
    (n) => `${n("from")} "x" is after ${n("to")}.`,
  );

  it("carries the field and value as data, and is rendered by each caller with its own names", () => {
    expect(error.context).toEqual({ field: "from", value: "x" });
    expect(error.message).toBe('"from" "x" is after "to".');
    expect(describeError(error, (f) => `--${f}`)).toBe('--from "x" is after --to.');
    expect(describeError(error, (f) => `Event field "${f}"`)).toBe(
      'Event field "from" "x" is after Event field "to".',
    );
    expect(describeError(new Error("plain"), (f) => `--${f}`)).toBe("plain");
  });
});
