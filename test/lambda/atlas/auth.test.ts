import { describe, expect, it } from "vitest";
import { parseAtlasCredentials } from "../../../lambda/atlas/auth";
import { AtlasCredentialsError } from "../../../lambda/atlas/errors";

describe("parseAtlasCredentials", () => {
  it("recognises a service account by clientId and clientSecret", () => {
    expect(parseAtlasCredentials('{"clientId":"mdb_sa_id_1","clientSecret":"s3cr3t"}', "secret x")).toEqual({
      kind: "service-account",
      clientId: "mdb_sa_id_1",
      clientSecret: "s3cr3t",
    });
  });

  it("recognises an API key by publicKey and privateKey, from an object too", () => {
    expect(parseAtlasCredentials({ publicKey: "abcdefgh", privateKey: "p-r-i-v" }, "env")).toEqual({
      kind: "api-key",
      publicKey: "abcdefgh",
      privateKey: "p-r-i-v",
    });
  });

  it("prefers the service account when both pairs are present", () => {
    const both = { clientId: "a", clientSecret: "b", publicKey: "c", privateKey: "d" };
    expect(parseAtlasCredentials(both, "x").kind).toBe("service-account");
  });

  it("names the keys it found but never their values", () => {
    const err = (() => {
      try {
        parseAtlasCredentials('{"clientId":"visible-id","client_secret":"TOPSECRET"}', "secret atlas/prod");
      } catch (e) {
        return e as AtlasCredentialsError;
      }
    })();
    expect(err).toBeInstanceOf(AtlasCredentialsError);
    expect(err?.code).toBe("ATLAS_CREDENTIALS_INVALID");
    expect(err?.message).toContain("secret atlas/prod");
    expect(err?.message).toContain("keys found: clientId, client_secret");
    expect(err?.message).not.toContain("TOPSECRET");
    expect(err?.message).not.toContain("visible-id");
  });

  it("refuses empty strings and non-JSON without echoing the input", () => {
    expect(() => parseAtlasCredentials({ clientId: "", clientSecret: "x" }, "s")).toThrow(
      AtlasCredentialsError,
    );
    expect(() => parseAtlasCredentials("not json TOPSECRET", "s")).toThrow(/is not JSON/);
    try {
      parseAtlasCredentials("not json TOPSECRET", "s");
    } catch (e) {
      expect((e as Error).message).not.toContain("TOPSECRET");
    }
  });
});
