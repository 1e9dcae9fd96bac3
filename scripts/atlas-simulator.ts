/**
 * Run the Atlas simulator by hand: `npx tsx scripts/atlas-simulator.ts [--port 8090] [--host 127.0.0.1]`.
 *
 * Prints the base URL, the default credentials as `export` lines and sample `curl` commands, and
 * stops cleanly on SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import {
  DEFAULT_API_KEY,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../test/support/atlas-simulator";

const USAGE = "usage: npx tsx scripts/atlas-simulator.ts [--port N] [--host ADDRESS]";
const DEMO_GROUP_ID = "0123456789abcdef01234567";
const DEMO_TENANT = "demo-workspace";

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    fail(`--port ${text} is not a port number (0..65535).`);
  return port;
}

let args: { port?: string; host?: string; help?: boolean };
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const simulator = await startAtlasSimulator({
  port: parsePort(args.port ?? "8090"),
  host: args.host ?? "127.0.0.1",
});
const end = Math.floor(Date.now() / 1000 / 600) * 600;
const start = end - 600;
const downloadUrl =
  `$ATLAS_BASE_URL/api/atlas/v2/groups/${DEMO_GROUP_ID}/streams/${DEMO_TENANT}/auditLogs` +
  `?startDate=${start}&endDate=${end}`;

process.stdout.write(
  [
    `Atlas simulator listening on ${simulator.baseUrl}`,
    "",
    "# Credentials (paste into your shell):",
    `export ATLAS_BASE_URL=${simulator.baseUrl}`,
    `export ATLAS_CLIENT_ID=${DEFAULT_SERVICE_ACCOUNT.clientId}`,
    `export ATLAS_CLIENT_SECRET=${DEFAULT_SERVICE_ACCOUNT.clientSecret}`,
    `export ATLAS_PUBLIC_KEY=${DEFAULT_API_KEY.publicKey}`,
    `export ATLAS_PRIVATE_KEY=${DEFAULT_API_KEY.privateKey}`,
    "",
    "# Download a window with a service-account bearer token:",
    `TOKEN=$(curl -sS -u "$ATLAS_CLIENT_ID:$ATLAS_CLIENT_SECRET" -d grant_type=client_credentials "$ATLAS_BASE_URL/api/oauth/token" | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    `curl -sS -H "Authorization: Bearer $TOKEN" -H "Accept: application/vnd.atlas.2023-02-01+gzip" "${downloadUrl}" -o audit.log.gz && gunzip -c audit.log.gz | head`,
    "",
    "# Or with the API key (HTTP Digest):",
    `curl -sS --digest -u "$ATLAS_PUBLIC_KEY:$ATLAS_PRIVATE_KEY" -H "Accept: application/vnd.atlas.2023-02-01+gzip" "${downloadUrl}" -o audit.log.gz`,
    "",
    "Press Ctrl-C to stop.",
    "",
  ].join("\n"),
);

let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping after ${simulator.requests.length} request(s).\n`);
  void simulator.close().then(() => process.exit(0));
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
