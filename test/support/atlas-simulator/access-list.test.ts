import { describe, expect, it } from "vitest";
import { auditPath, fetchToken, findWindow, getWithToken, simulatorPerTest } from "./test-client";

const startSimulator = simulatorPerTest();
const path = auditPath(findWindow(false));

describe("the API access list", () => {
  it("refuses an authenticated download from an address not on it with Atlas's IP_ADDRESS_NOT_ON_ACCESS_LIST", async () => {
    const sim = await startSimulator({ accessList: ["203.0.113.7"] });
    // The token endpoint is not refused: the list applies to the API calls made with the token.
    const token = await fetchToken(sim.baseUrl);
    const response = await getWithToken(sim.baseUrl, path, token);
    expect(response.statusCode).toBe(403);
    expect(await response.body.json()).toEqual({
      error: 403,
      errorCode: "IP_ADDRESS_NOT_ON_ACCESS_LIST",
      detail: "IP address 127.0.0.1 is not allowed to access this resource.",
      reason: "Forbidden",
      parameters: ["127.0.0.1"],
    });
  });

  it("serves a caller whose address is on it, and an unauthenticated request still gets its challenge first", async () => {
    const sim = await startSimulator({ accessList: ["127.0.0.1"] });
    const token = await fetchToken(sim.baseUrl);
    const response = await getWithToken(sim.baseUrl, path, token);
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    const refused = await startSimulator({ accessList: [] });
    const anonymous = await getWithToken(refused.baseUrl, path, "");
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.dump();
  });
});
