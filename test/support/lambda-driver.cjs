// Plays the Lambda runtime for one bundled handler in this (fresh) process: loads the bundle
// named by DRIVER_BUNDLE once, as a cold start, then invokes its handler for every message
// { event } from the parent and answers { ok, result } or { ok: false, error }.
const started = Date.now();
const { handler } = require(process.env.DRIVER_BUNDLE);
const timeoutMs = Number(process.env.DRIVER_TIMEOUT_MS || 900000);
let invocation = 0;
process.on("message", async ({ event }) => {
  const begin = Date.now();
  const context = {
    awsRequestId: `request-${++invocation}`,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    getRemainingTimeInMillis: () => timeoutMs - (Date.now() - begin),
  };
  try {
    const result = await handler(event, context);
    process.send({ ok: true, result, coldStartMs: begin - started });
  } catch (error) {
    process.send({ ok: false, error: { name: error.name, code: error.code, message: error.message } });
  }
});
process.send({ ready: true });
