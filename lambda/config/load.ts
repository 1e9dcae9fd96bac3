/** Reads the parameter file from disk (the only part of the config module that touches files). */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { resolve } from "node:path";
import { ConfigError } from "./error";
import { parseConfig } from "./parse";
import type { ArchiverConfig } from "./types";

/** Where the CLI and the CDK app look for the parameter file unless told otherwise. */
export const DEFAULT_CONFIG_PATH = "config/workspaces.json";

/**
 * The largest parameter file read: 4 MiB. The largest valid file (10,000 workspaces, the most
 * allowed, with 64-character names, pretty-printed) is about 2.3 MB; a larger file is not a
 * parameter file (or not the right one), and is refused before it is read into memory.
 */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** How long a named pipe may stay silent while its writer holds it open. */
const PIPE_IDLE_MS = 10_000;
/** How long a named pipe that no program holds open for writing is given for one to open it. */
const PIPE_WRITER_GRACE_MS = 250;
const CHUNK_BYTES = 64 * 1024;

/** How {@link loadConfig} reads the file. */
export interface LoadOptions {
  /**
   * How long a named pipe (`--config <(command)`) may stay silent before the read gives up
   * (default 10 s). A pipe that no program holds open is reported at once.
   */
  readonly pipeIdleMs?: number;
}

/**
 * Reads and validates the parameter file: at most {@link MAX_CONFIG_BYTES} bytes are read, from a
 * file, a device or a named pipe alike; none of them can make it hang.
 *
 * @throws {ConfigError} `CONFIG_UNREADABLE` (missing or unreadable file, a directory, a silent pipe),
 *   `CONFIG_TOO_LARGE` (more than 4 MiB), `CONFIG_MALFORMED_JSON`, `CONFIG_INVALID`
 * @example
 * ```ts
 * const config = await loadConfig(DEFAULT_CONFIG_PATH);
 * ```
 */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<ArchiverConfig> {
  return parseConfig(await readText(path, options.pipeIdleMs ?? PIPE_IDLE_MS), path);
}

async function readText(path: string, idleMs: number): Promise<string> {
  let handle: FileHandle;
  try {
    // Non-blocking, so that opening a named pipe does not wait for a writer.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) {
      throw unreadable(path, Object.assign(new Error(`EISDIR: ${path} is a directory`), { code: "EISDIR" }));
    }
    // Devices and pipes have no size: for them only the bytes read count.
    if (info.isFile() && info.size > MAX_CONFIG_BYTES) throw tooLarge(path);
    const chunks: Buffer[] = [];
    let total = 0;
    const openedAt = Date.now();
    let quietSince = openedAt;
    let wait = 5;
    const pause = async () => {
      await new Promise((done) => setTimeout(done, wait));
      wait = Math.min(100, wait * 2);
    };
    for (;;) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, MAX_CONFIG_BYTES + 1 - total));
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "EAGAIN" && code !== "EWOULDBLOCK") throw unreadable(path, error);
        // A pipe whose writer has not written yet.
        if (Date.now() - quietSince >= idleMs) throw silentPipe(path, idleMs);
        await pause();
        continue;
      }
      if (bytesRead === 0) {
        // End of file, or a named pipe that no program has opened for writing yet: give one a moment.
        if (total > 0 || !info.isFIFO() || Date.now() - openedAt >= PIPE_WRITER_GRACE_MS) break;
        await pause();
        continue;
      }
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
      quietSince = Date.now();
      wait = 5;
      if (total > MAX_CONFIG_BYTES) throw tooLarge(path);
    }
    if (total === 0 && info.isFIFO()) {
      throw new ConfigError(
        "CONFIG_UNREADABLE",
        `Parameter file ${path} is a named pipe (FIFO) that nothing was written to: no program had it open ` +
          "for writing. Give the path of the JSON file, or start the program that writes it first.",
        { file: path },
      );
    }
    return Buffer.concat(chunks, total).toString("utf8");
  } finally {
    await handle.close().catch(() => {});
  }
}

function tooLarge(path: string): ConfigError {
  return new ConfigError(
    "CONFIG_TOO_LARGE",
    `Parameter file ${path} is larger than 4 MiB (${MAX_CONFIG_BYTES} bytes), the most a parameter file may have ` +
      "(10,000 workspaces, the most allowed, take about 2.3 MB): give the path of the JSON file listing your workspaces.",
    { file: path },
  );
}

function silentPipe(path: string, idleMs: number): ConfigError {
  return new ConfigError(
    "CONFIG_UNREADABLE",
    `Parameter file ${path} is a pipe or terminal, and nothing arrived for ${idleMs / 1000} s: check the program ` +
      "that writes it, or give the path of the JSON file.",
    { file: path },
  );
}

function unreadable(path: string, error: unknown): ConfigError {
  return new ConfigError("CONFIG_UNREADABLE", unreadableMessage(path, error), { file: path, cause: error });
}

function unreadableMessage(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = resolve(path);
  switch (code) {
    case "ENOENT":
      return (
        `Parameter file ${path} does not exist (looked for ${where}). Create it from the example ` +
        "(cp config/workspaces.example.json config/workspaces.json) and list your workspaces, or give the path of your file."
      );
    case "EISDIR":
      return `Parameter file ${path} is a directory (${where}); give the path of the JSON file, e.g. ${DEFAULT_CONFIG_PATH}.`;
    case "EACCES":
    case "EPERM":
      return `Parameter file ${path} cannot be read: permission denied (${where}); make it readable by this user.`;
    default:
      return `Parameter file ${path} cannot be read (${where}): ${error instanceof Error ? error.message : String(error)}`;
  }
}
