import { describe, expect, it } from "vitest";
import { contextArgs, describeFinding, failingFindings, type LintFinding } from "../../scripts/deploy/lint";

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
