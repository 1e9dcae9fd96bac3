/**
 * The queue's message: one window of one workspace. Its group is the Atlas project and lane
 * (`groupId#lane`), so a FIFO queue lets at most one download per lane run at once across all
 * workers; its deduplication id is the window's key, so a window enqueued twice within SQS's
 * five-minute deduplication interval is delivered once.
 */
import { createHash } from "node:crypto";
import type { WindowTask } from "../archive/plan";
import { type ArchiverConfig, archiveKey, type Workspace, workspaceLabel } from "../config";
import { ArchiverError } from "../errors";
import type { TimeWindow } from "../windows";

/** The version of the message body; a worker refuses any other. */
export const MESSAGE_VERSION = 1;

/** The body of a message. */
interface MessageBody {
  readonly v: typeof MESSAGE_VERSION;
  readonly groupId: string;
  readonly tenantName: string;
  readonly spName?: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** What SendMessageBatch needs of one task. */
export interface OutgoingMessage {
  readonly body: string;
  /** The task's lane: `groupId#lane`. */
  readonly groupId: string;
  /** Hex SHA-256 of the window's key (SQS allows 128 characters). */
  readonly deduplicationId: string;
}

/** The message of `task`. */
export function taskMessage(task: WindowTask): OutgoingMessage {
  const { workspace, window } = task;
  const body: MessageBody = {
    v: MESSAGE_VERSION,
    groupId: workspace.groupId,
    tenantName: workspace.tenantName,
    ...(workspace.spName === undefined ? {} : { spName: workspace.spName }),
    startMs: window.startMs,
    endMs: window.endMs,
  };
  return {
    body: JSON.stringify(body),
    groupId: task.group,
    deduplicationId: createHash("sha256").update(task.key).digest("hex"),
  };
}

/** A message no worker can act on (malformed, or naming a window or workspace the configuration does not have). */
export class QueueMessageError extends ArchiverError {
  constructor(message: string) {
    super("QUEUE_MESSAGE_INVALID", message, { kind: "permanent" });
  }
}

/** The biggest body a worker reads (a valid one is about 150 bytes). */
const MAX_BODY_LENGTH = 4096;

/**
 * The workspace and window of a message's body, checked against the configuration: the
 * workspace must be configured and the window one of its windows.
 *
 * @throws {QueueMessageError} for anything else, naming what is wrong (never echoing more than 100 characters)
 */
export function parseMessage(
  body: string,
  config: ArchiverConfig,
): { readonly workspace: Workspace; readonly window: TimeWindow; readonly key: string } {
  const shown = JSON.stringify(body.slice(0, 100));
  let raw: Partial<MessageBody>;
  try {
    if (body.length > MAX_BODY_LENGTH) throw new Error("too long");
    raw = JSON.parse(body) as Partial<MessageBody>;
  } catch {
    throw new QueueMessageError(
      `The message ${shown} is not a window message (JSON of at most ${MAX_BODY_LENGTH} characters).`,
    );
  }
  if (raw === null || typeof raw !== "object" || raw.v !== MESSAGE_VERSION) {
    throw new QueueMessageError(`The message ${shown} is not a version ${MESSAGE_VERSION} window message.`);
  }
  const workspace = config.workspaces.find(
    (w) => w.groupId === raw.groupId && w.tenantName === raw.tenantName && w.spName === raw.spName,
  );
  if (workspace === undefined) {
    throw new QueueMessageError(
      `The message ${shown} names a workspace the parameter file does not have (it was removed since the message was sent).`,
    );
  }
  const lengthMs = config.window.minutes * 60_000;
  const { startMs, endMs } = raw;
  if (
    !Number.isSafeInteger(startMs) ||
    !Number.isSafeInteger(endMs) ||
    (startMs as number) < 0 ||
    (startMs as number) % lengthMs !== 0 ||
    (endMs as number) - (startMs as number) !== lengthMs
  ) {
    throw new QueueMessageError(
      `The message ${shown} for ${workspaceLabel(workspace)} does not name one of its ${config.window.minutes}-minute windows.`,
    );
  }
  const window = { startMs: startMs as number, endMs: endMs as number };
  return { workspace, window, key: archiveKey(config.archive.prefix, workspace, window) };
}
