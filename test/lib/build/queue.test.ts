import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, describe, expect, it } from "vitest";
import { AtlasAuditArchiver } from "../../../lib";
import { NO_BUNDLING, resourceById, TestApps, testConfig } from "../support";

describe("the window queue's names", () => {
  const apps = new TestApps();
  afterAll(() => apps.cleanup());
  const queues = (context: Record<string, unknown>) => {
    const stack = new Stack(apps.app({ ...NO_BUNDLING, ...context }), "NamedQueues");
    new AtlasAuditArchiver(stack, "Archiver", { config: testConfig() });
    const template = Template.fromStack(stack);
    return ["ArchiverWindowQueue", "ArchiverDeadLetterQueue"].map(
      (id) => resourceById(template, "AWS::SQS::Queue", id).resource.Properties.QueueName,
    );
  };

  it("leaves both FIFO queues to CloudFormation's generated names by default", () => {
    expect(queues({})).toEqual([undefined, undefined]);
    expect(queues({ explicitQueueNames: "false" })).toEqual([undefined, undefined]);
  });

  it("names both after the stack and construct path, ending in .fifo, with -c explicitQueueNames=true", () => {
    const names = queues({ explicitQueueNames: "true" });
    expect(names).toEqual([
      expect.stringMatching(/^NamedQueues-Archiver-[0-9A-F]{8}-WindowQueue\.fifo$/),
      expect.stringMatching(/^NamedQueues-Archiver-[0-9A-F]{8}-DeadLetterQueue\.fifo$/),
    ]);
    expect(queues({ explicitQueueNames: true })).toEqual(names);
  });

  it("refuses a value that is not true or false, naming the key", () => {
    expect(() => queues({ explicitQueueNames: "yes" })).toThrow(
      "-c explicitQueueNames=yes: must be true or false",
    );
  });
});
