// Plays the Lambda runtime for one bundled handler in this (fresh) process: loads the bundle
// named by DRIVER_BUNDLE once, as a cold start, then invokes its handler for every message
// { event } from the parent and answers { ok, result } or { ok: false, error }.
//
// Before each answer it writes `END RequestId: <id>` on stdout and on stderr (as Lambda ends an
// invocation's logs), so that the parent can tell which output belongs to which invocation: the
// answer (IPC) and the output (pipes) reach it on different channels, in no guaranteed order.
const started = Date.now();
const { handler } = require(process.env.DRIVER_BUNDLE);
const timeoutMs = Number(process.env.DRIVER_TIMEOUT_MS || 900000);
let invocation = 0;
process.on("message", async ({ event }) => {
  const begin = Date.now();
  const awsRequestId = `request-${++invocation}`;
  const context = {
    awsRequestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    getRemainingTimeInMillis: () => timeoutMs - (Date.now() - begin),
  };
  let reply;
  try {
    const result = await handler(event, context);
    reply = { ok: true, result, coldStartMs: begin - started };
  } catch (error) {
    reply = { ok: false, error: { name: error.name, code: error.code, message: error.message } };
  }
  process.stdout.write(`END RequestId: ${awsRequestId}\n`);
  process.stderr.write(`END RequestId: ${awsRequestId}\n`);
  process.send(reply);
});
process.send({ ready: true });
