import * as s3 from "aws-cdk-lib/aws-s3";
import { describe, expect, it } from "vitest";
import { namingContextKeys, propsFromContext } from "../../lib/context";
import { ARCHIVER_DEFAULTS } from "../../lib/defaults";
import { DeploymentError, invalidProp } from "../../lib/errors";

const read = (values: Record<string, unknown>) => (key: string) => values[key];

describe("propsFromContext", () => {
  it("converts -c values to the stack's props, leaving their ranges to the resolution", () => {
    const deploy = propsFromContext(
      read({ memorySize: "100", expireAfterDays: 7, objectLockMode: "GOVERNANCE", objectLockDays: "x" }),
      {},
    );
    expect(deploy.stack.archiver).toEqual({
      memorySize: 100,
      expireAfterDays: 7,
      objectLock: { mode: "GOVERNANCE", retentionDays: Number.NaN },
    });
    expect(Object.fromEntries(deploy.origins)).toEqual({
      memorySize: { key: "memorySize", raw: "100" },
      expireAfterDays: { key: "expireAfterDays", raw: 7 },
      "objectLock.mode": { key: "objectLockMode", raw: "GOVERNANCE" },
      "objectLock.retentionDays": { key: "objectLockDays", raw: "x" },
    });
  });

  it("converts the queue's -c values to the archiver's props of the same names", () => {
    const deploy = propsFromContext(
      read({ workerConcurrency: "50", lanesPerProject: 3, batchSize: "1", maxReceiveCount: "many" }),
      {},
    );
    expect(deploy.stack.archiver).toEqual({
      workerConcurrency: 50,
      lanesPerProject: 3,
      batchSize: 1,
      maxReceiveCount: Number.NaN,
    });
    expect(Object.fromEntries(deploy.origins)).toEqual({
      workerConcurrency: { key: "workerConcurrency", raw: "50" },
      lanesPerProject: { key: "lanesPerProject", raw: 3 },
      batchSize: { key: "batchSize", raw: "1" },
      maxReceiveCount: { key: "maxReceiveCount", raw: "many" },
    });
  });

  it("turns the digests off with -c digests=false", () => {
    const digests = (values: Record<string, unknown>) => propsFromContext(read(values), {}).stack.archiver;
    expect(digests({ digests: "false" })).toEqual({ digests: false });
    expect(digests({ digests: true })).toEqual({ digests: true });
    expect(digests({})).toEqual({});
  });

  it("keeps the transition's default for the half not given, and turns it off with transitionDays=off", () => {
    const transition = (values: Record<string, unknown>) =>
      propsFromContext(read(values), {}).stack.archiver?.transition;
    expect(transition({ transitionStorageClass: "DEEP_ARCHIVE" })).toEqual({
      storageClass: s3.StorageClass.DEEP_ARCHIVE,
      afterDays: ARCHIVER_DEFAULTS.transition.afterDays,
    });
    expect(transition({ transitionDays: "120" })).toEqual({
      ...ARCHIVER_DEFAULTS.transition,
      afterDays: 120,
    });
    expect(transition({ transitionDays: "off" })).toBe(false);
    expect(transition({})).toBeUndefined();
  });

  it("pins the environment for a VPC lookup from the CLI's account and region", () => {
    const deploy = propsFromContext(read({ vpcId: "vpc-1" }), {
      CDK_DEFAULT_ACCOUNT: "123456789012",
      CDK_DEFAULT_REGION: "eu-west-1",
    });
    expect(deploy.stack.env).toEqual({ account: "123456789012", region: "eu-west-1" });
    expect(propsFromContext(read({}), { CDK_DEFAULT_ACCOUNT: "123456789012" }).stack.env).toBeUndefined();
  });
});

describe("namingContextKeys", () => {
  const origins = propsFromContext(read({ memorySize: "abc" }), {}).origins;

  it("names the -c key and the value as given in an error about a prop it fed", () => {
    const error = (() => {
      try {
        return namingContextKeys(origins, () => {
          throw invalidProp("memorySize", Number.NaN, "must be a whole number from 128 to 10240");
        });
      } catch (e) {
        return e as DeploymentError;
      }
    })();
    expect(error).toBeInstanceOf(DeploymentError);
    expect([error.code, error.setting, error.message]).toEqual([
      "DEPLOY_CONTEXT_INVALID",
      "memorySize",
      "-c memorySize=abc: must be a whole number from 128 to 10240",
    ]);
  });

  it("leaves an error about a prop no context value fed as it is", () => {
    const own = invalidProp("timeout", "1200 seconds", "must be 1 to 15 minutes");
    expect(() =>
      namingContextKeys(origins, () => {
        throw own;
      }),
    ).toThrow(own);
  });
});
