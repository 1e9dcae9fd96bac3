import { spawnSync } from "node:child_process";
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, describe, expect, it } from "vitest";
import { emulatorEnvironment } from "../../scripts/deploy/cdk";
import { signedHeaders } from "../../scripts/deploy/cloudformation";
import { codeLocation } from "../../scripts/deploy/invoke";
import { contextArgs, describeFinding, failingFindings, type LintFinding } from "../../scripts/deploy/lint";
import { toolAnswers } from "../../scripts/deploy/process";
import { readZip, unzipTo } from "../../scripts/deploy/unzip";

const finding = (Level: string, Id: string): LintFinding => ({
  Level,
  Message: `${Id} message`,
  Filename: "/tmp/x/App.template.json",
  Rule: { Id },
  Location: { Path: ["Resources", "ArchiverBucket", "Properties"], Start: { LineNumber: 12 } },
});

describe("the deploy check's lint helpers", () => {
  it("passes -c for every non-empty context value and leaves an empty one out", () => {
    expect(contextArgs({ secretName: "atlas/x", secretArn: "", digests: "false" })).toEqual([
      "-c",
      "secretName=atlas/x",
      "-c",
      "digests=false",
    ]);
  });

  it("fails on errors and warnings, not on informational findings", () => {
    const all = [finding("Error", "E3002"), finding("Warning", "W3010"), finding("Informational", "I3042")];
    expect(failingFindings(all).map((f) => f.Rule.Id)).toEqual(["E3002", "W3010"]);
  });

  it("names the template, the resource path, the rule and the message", () => {
    const names = new Map([["/tmp/x/App.template.json", "app (cdk synth)"]]);
    expect(describeFinding(finding("Error", "E3002"), names)).toBe(
      "Error E3002 in app (cdk synth) at Resources/ArchiverBucket/Properties: E3002 message",
    );
  });
});

const zipAvailable = toolAnswers("zip", ["-v"]);
if (!zipAvailable)
  process.stderr.write("zip not found: skipping the deploy check's unzip tests (apt-get install zip)\n");

describe.runIf(zipAvailable)("the deploy check's unzip", () => {
  const dir = mkdtempSync(join(tmpdir(), "archiver-unzip-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const big = Buffer.from("index.js line\n".repeat(5_000));

  /** An archive made by Info-ZIP's zip (another implementation), of `files`, with `flags`. */
  function zipOf(name: string, files: Record<string, Buffer>, flags: string[]): Buffer {
    const source = join(dir, `${name}-source`);
    for (const [file, data] of Object.entries(files)) {
      mkdirSync(dirname(join(source, file)), { recursive: true });
      writeFileSync(join(source, file), data);
    }
    const archive = join(dir, `${name}.zip`);
    const result = spawnSync("zip", ["-q", "-r", ...flags, archive, "."], { cwd: source, timeout: 20_000 });
    expect(result.status).toBe(0);
    return readFileSync(archive);
  }

  it("unpacks deflated and stored entries in folders, each checked against its size and CRC-32", () => {
    const files = {
      "index.js": big,
      "lib/archiver-config.json": Buffer.from('{"a":1}\n'),
      "empty.txt": Buffer.alloc(0),
    };
    for (const [name, flags] of [
      ["deflated", ["-9"]],
      ["stored", ["-0"]],
    ] as const) {
      const out = join(dir, `${name}-out`);
      const names = unzipTo(zipOf(name, files, [...flags]), out, `${name}.zip`);
      expect(names.sort()).toEqual(["empty.txt", "index.js", join("lib", "archiver-config.json")]);
      for (const [file, data] of Object.entries(files))
        expect(readFileSync(join(out, file)).equals(data)).toBe(true);
    }
  });

  it("refuses an entry whose bytes do not match its CRC-32, naming the archive and the entry", () => {
    const zip = zipOf("damaged", { "index.js": big }, ["-0"]);
    const at = zip.indexOf("index.js line");
    zip[at] = (zip[at] as number) ^ 1;
    expect(() => readZip(zip, "s3://staging/code.zip")).toThrow(
      "s3://staging/code.zip: index.js: its size or CRC-32 does not match",
    );
  });

  it("refuses what is not a ZIP archive", () => {
    expect(() => readZip(Buffer.from("not a zip at all, only text"), "x.zip")).toThrow(
      "x.zip: not a ZIP archive (no end of central directory record)",
    );
  });
});

describe("the deploy check's AWS plumbing", () => {
  it("gives a function's code location with the template's pseudo parameters resolved", () => {
    const resource = {
      Type: "AWS::Lambda::Function",
      Properties: {
        Code: {
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
          S3Bucket: { "Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}" },
          S3Key: "abc.zip",
        },
      },
    };
    expect(codeLocation(resource, "123456789012", "us-east-1")).toEqual({
      bucket: "cdk-hnb659fds-assets-123456789012-us-east-1",
      key: "abc.zip",
    });
    expect(() =>
      codeLocation({ Type: "AWS::Lambda::Function", Properties: { Code: { ZipFile: "x" } } }, "1", "r"),
    ).toThrow("not an S3Bucket and S3Key");
  });

  it("leaves every AWS and CDK setting of the caller out of the emulator's environment", () => {
    const env = emulatorEnvironment("http://127.0.0.1:5000", {
      PATH: "/usr/bin",
      AWS_PROFILE: "production",
      AWS_ACCESS_KEY_ID: "AKIAREALKEY",
      AWS_SESSION_TOKEN: "token",
      AWS_ENDPOINT_URL_S3: "https://s3.example.com",
      CDK_DEFAULT_ACCOUNT: "999999999999",
    });
    expect(env).toMatchObject({
      PATH: "/usr/bin",
      AWS_ENDPOINT_URL: "http://127.0.0.1:5000",
      AWS_ACCESS_KEY_ID: "testing",
      AWS_REGION: "us-east-1",
      CDK_DISABLE_VERSION_CHECK: "1",
    });
    for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "CDK_DEFAULT_ACCOUNT"]) {
      expect(env[name], name).toBeUndefined();
    }
  });

  it("signs a CloudFormation query as the AWS SDK's Signature Version 4 signer does", async () => {
    const target = {
      endpoint: "http://127.0.0.1:5000",
      region: "us-east-1",
      credentials: {
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      },
    };
    const body = "Action=DescribeStacks&Version=2010-05-15&StackName=AtlasAuditArchiver";
    const now = new Date("2026-12-02T17:00:00Z");
    const ours = signedHeaders(target, body, now);
    const signer = new SignatureV4({
      service: "cloudformation",
      region: target.region,
      credentials: target.credentials,
      sha256: NodeSha256,
      applyChecksum: false,
    });
    const signed = await signer.sign(
      {
        method: "POST",
        protocol: "http:",
        hostname: "127.0.0.1",
        port: 5000,
        path: "/",
        query: {},
        headers: { host: "127.0.0.1:5000", "content-type": ours["content-type"] as string },
        body,
      },
      { signingDate: now, unsignableHeaders: new Set() },
    );
    const signature = (headers: Record<string, string>) =>
      /Signature=([0-9a-f]{64})/.exec(headers.authorization ?? "")?.[1];
    expect(ours["x-amz-date"]).toBe("20261202T170000Z");
    expect(signature(ours)).toBe(signature(signed.headers));
    expect(ours.authorization).toContain(
      "Credential=AKIDEXAMPLE/20261202/us-east-1/cloudformation/aws4_request",
    );
  });
});

/** The SDK signer's hash, on node:crypto. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  return data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
