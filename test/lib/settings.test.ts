import { Duration } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../lambda/config";
import { ARCHIVER_DEFAULTS } from "../../lib/defaults";
import { DeploymentError } from "../../lib/errors";
import type { AtlasAuditArchiverProps } from "../../lib/props";
import { resolveArchiverSettings } from "../../lib/settings";
import { TestApps, testConfig } from "./support";

const apps = new TestApps();
afterAll(() => apps.cleanup());
const stack = apps.stack();
const key = kms.Key.fromKeyArn(stack, "Key", "arn:aws:kms:eu-west-1:123456789012:key/k");
const bucket = s3.Bucket.fromBucketName(stack, "Bucket", "existing-bucket");

function rejection(props: Partial<AtlasAuditArchiverProps>, config = testConfig()): DeploymentError {
  try {
    resolveArchiverSettings({ config, ...props });
  } catch (error) {
    expect(error).toBeInstanceOf(DeploymentError);
    return error as DeploymentError;
  }
  throw new Error(`expected ${JSON.stringify(Object.keys(props))} to be rejected`);
}

describe("resolveArchiverSettings", () => {
  it("fills in the secure defaults when only the configuration is given", () => {
    const config = testConfig();
    expect(resolveArchiverSettings({ config })).toEqual({
      config,
      bucketSource: { kind: "create" },
      encryption: "S3_MANAGED",
      transition: { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, afterDays: 90 },
      serverAccessLogs: true,
      accessLogsPrefix: "atlas-audit-archive/",
      accessLogsRetentionDays: 365,
      memorySize: 1024,
      timeout: ARCHIVER_DEFAULTS.timeout,
      workerConcurrency: 10,
      lanesPerProject: 1,
      batchSize: 10,
      maxReceiveCount: 10,
      logRetention: logs.RetentionDays.ONE_YEAR,
      metricsNamespace: "AtlasAuditArchiver",
      runIntervalMinutes: 60,
      runIntervalSource: "rate",
      backlogAlarmRuns: 3,
      digests: true,
      athena: { tableName: "audit_logs", dateRangeStart: "2024-01-01", workGroup: true },
    });
    expect(ARCHIVER_DEFAULTS.timeout.toMinutes()).toBe(15);
    // The planner's are fixed, not props: it never downloads.
    expect(ARCHIVER_DEFAULTS.plannerMemorySize).toBe(1024);
    expect(ARCHIVER_DEFAULTS.plannerTimeout.toMinutes()).toBe(15);
  });

  it("lets props override the defaults", () => {
    const settings = resolveArchiverSettings({
      config: testConfig(),
      memorySize: 1769,
      timeout: Duration.minutes(5),
      encryptionKey: key,
      transition: false,
      runIntervalMinutes: 90,
      workerConcurrency: 1000,
      lanesPerProject: 64,
      batchSize: 1,
      maxReceiveCount: 1,
      vpc: ec2.Vpc.fromVpcAttributes(stack, "Vpc", { vpcId: "vpc-1", availabilityZones: ["eu-west-1a"] }),
    });
    expect(settings).toMatchObject({
      memorySize: 1769,
      encryption: "KMS",
      encryptionKey: key,
      runIntervalMinutes: 90,
      runIntervalSource: "prop",
      workerConcurrency: 1000,
      lanesPerProject: 64,
      batchSize: 1,
      maxReceiveCount: 1,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
    expect(settings.transition).toBeUndefined();
    expect(settings.timeout.toMinutes()).toBe(5);
  });

  it("archives into config.archive.bucket when the parameter file names one", () => {
    const settings = resolveArchiverSettings({ config: testConfig({ archive: { bucket: "named-bucket" } }) });
    expect(settings.bucketSource).toEqual({ kind: "by-name", bucketName: "named-bucket" });
  });

  it("works out the interval of a daily cron, and falls back to a day for one it cannot", () => {
    const daily = resolveArchiverSettings({ config: testConfig({ schedule: "cron(0 */2 * * ? *)" }) });
    expect([daily.runIntervalMinutes, daily.runIntervalSource]).toEqual([120, "cron"]);
    const weekdays = resolveArchiverSettings({ config: testConfig({ schedule: "cron(0 2 ? * MON-FRI *)" }) });
    expect([weekdays.runIntervalMinutes, weekdays.runIntervalSource]).toEqual([1440, "fallback"]);
  });

  it("revalidates the configuration, so a hand-made one cannot bundle a file the handler would refuse", () => {
    const config = { ...testConfig(), window: { minutes: 7, lagMinutes: 15, lookbackHours: 72 } };
    expect(() => resolveArchiverSettings({ config })).toThrow(ConfigError);
    expect(() => resolveArchiverSettings({ config })).toThrow(/\$\.window\.minutes = 7/);
  });

  it.each<[string, Partial<AtlasAuditArchiverProps>, RegExp]>([
    ["encryption", { encryption: "S3_MANAGED", encryptionKey: key }, /contradicts encryptionKey/],
    ["encryption", { encryption: "AES" as "KMS" }, /must be "S3_MANAGED" or "KMS"/],
    [
      "transition.afterDays",
      { transition: { storageClass: s3.StorageClass.GLACIER, afterDays: 1.5 } },
      /whole number/,
    ],
    [
      "transition.afterDays",
      { transition: { storageClass: s3.StorageClass.INFREQUENT_ACCESS, afterDays: 7 } },
      /at least 30 for STANDARD_IA/,
    ],
    ["expireAfterDays", { expireAfterDays: 30 }, /later than transition\.afterDays \(90\)/],
    [
      "expireAfterDays",
      { transition: false, expireAfterDays: 100, objectLock: { mode: "GOVERNANCE", retentionDays: 365 } },
      /at least objectLock\.retentionDays \(365\)/,
    ],
    [
      "objectLock.mode",
      { objectLock: { mode: "LEGAL" as "GOVERNANCE", retentionDays: 1 } },
      /GOVERNANCE" or "COMPLIANCE/,
    ],
    ["objectLock.retentionDays", { objectLock: { mode: "COMPLIANCE", retentionDays: 0 } }, /from 1 to 36500/],
    [
      "serverAccessLogs",
      { serverAccessLogs: false, accessLogsBucket: bucket },
      /contradicts accessLogsBucket/,
    ],
    ["accessLogsPrefix", { accessLogsPrefix: "logs" }, /ending in "\/"/],
    ["accessLogsRetentionDays", { accessLogsRetentionDays: 0 }, /from 1 to 36500/],
    ["memorySize", { memorySize: 64 }, /from 128 to 10240/],
    ["timeout", { timeout: Duration.seconds(30) }, /1 to 15 minutes/],
    ["timeout", { timeout: Duration.minutes(20) }, /1 to 15 minutes/],
    ["metricsNamespace", { metricsNamespace: "AWS/Lambda" }, /not start with "AWS\/"/],
    ["metricsNamespace", { metricsNamespace: "bad*name" }, /letters, digits/],
    ["vpcSubnets", { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } }, /needs vpc/],
    ["alarmEmail", { alarmEmail: "ops at example" }, /email address/],
    ["backlogAlarmRuns", { backlogAlarmRuns: 0 }, /from 1 to 100/],
    ["runIntervalMinutes", { runIntervalMinutes: 0.5 }, /whole number/],
    // The SQS event source's maximum concurrency is 2 to 1,000.
    ["workerConcurrency", { workerConcurrency: 1 }, /from 2 to 1000/],
    ["workerConcurrency", { workerConcurrency: 1001 }, /from 2 to 1000/],
    ["workerConcurrency", { workerConcurrency: 2.5 }, /whole number/],
    ["lanesPerProject", { lanesPerProject: 0 }, /from 1 to 64/],
    ["lanesPerProject", { lanesPerProject: 65 }, /from 1 to 64/],
    // A FIFO queue hands an event source at most 10 messages at once.
    ["batchSize", { batchSize: 0 }, /from 1 to 10/],
    ["batchSize", { batchSize: 11 }, /from 1 to 10/],
    ["maxReceiveCount", { maxReceiveCount: 0 }, /from 1 to 1000/],
    ["maxReceiveCount", { maxReceiveCount: 1001 }, /from 1 to 1000/],
    ["maxReceiveCount", { maxReceiveCount: Number.NaN }, /whole number/],
    ["digests", { digests: false, digestKey: key }, /contradicts digestKey/],
    ["digests", { digests: "no" as unknown as boolean }, /true or false/],
  ])("refuses a bad %s, naming the prop and the rule", (setting, props, rule) => {
    const error = rejection(props);
    expect(error.code).toBe("DEPLOY_PROPS_INVALID");
    expect(error.setting).toBe(setting);
    expect(error.message.startsWith(`${setting} = `)).toBe(true);
    expect(error.message).toMatch(rule);
  });

  it("refuses bucket settings for a bucket it does not create", () => {
    const byName = rejection(
      { objectLock: { mode: "COMPLIANCE", retentionDays: 1 } },
      testConfig({ archive: { bucket: "named-bucket" } }),
    );
    expect(byName.message).toMatch(
      /^objectLock = .*applies only to a bucket this construct creates.*config\.archive\.bucket \(named-bucket\)/,
    );
    const given = rejection({ bucket, accessLogsBucket: bucket });
    expect(given.setting).toBe("accessLogsBucket");
    expect(given.message).toContain("<TestStack/Bucket>");
  });

  it("refuses a bucket named in two places", () => {
    const error = rejection({ bucket }, testConfig({ archive: { bucket: "named-bucket" } }));
    expect(error.message).toMatch(/conflicts with config\.archive\.bucket \(named-bucket\)/);
  });

  it("accepts a KMS key for an existing bucket (to grant its use)", () => {
    const settings = resolveArchiverSettings({ config: testConfig(), bucket, encryptionKey: key });
    expect(settings.bucketSource).toEqual({ kind: "existing", bucket });
    expect(settings.encryptionKey).toBe(key);
  });

  it("seals digests unless told not to, with a given key or (none given) one the construct creates", () => {
    expect(resolveArchiverSettings({ config: testConfig() }).digestKey).toBeUndefined();
    const given = resolveArchiverSettings({ config: testConfig(), digestKey: key });
    expect([given.digests, given.digestKey]).toEqual([true, key]);
    const off = resolveArchiverSettings({ config: testConfig(), digests: false });
    expect([off.digests, off.digestKey]).toEqual([false, undefined]);
  });
});
