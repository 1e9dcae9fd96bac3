/**
 * The loopback S3 server in a process of its own (`node --import tsx bench/s3-host.ts`), so that
 * its work (s3rver, the proxy) neither shares an event loop with the code measured nor counts in
 * its memory. Prints `{endpoint, bucket}` as one JSON line, and stops when stdin closes.
 */
import { startS3Server } from "../test/support/s3-server";

const server = await startS3Server({ bucket: "bench-archive" });
process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, bucket: server.bucket })}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void server.close().finally(() => process.exit(0));
});
