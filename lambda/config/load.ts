/** Reads the parameter file from disk (the only part of the config module that touches files). */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ConfigError } from "./error";
import { parseConfig } from "./parse";
import type { ArchiverConfig } from "./types";

/** Where the CLI and the CDK app look for the parameter file unless told otherwise. */
export const DEFAULT_CONFIG_PATH = "config/workspaces.json";

/**
 * Reads and validates the parameter file.
 *
 * @throws {ConfigError} `CONFIG_UNREADABLE` (missing or unreadable file), `CONFIG_MALFORMED_JSON`, `CONFIG_INVALID`
 * @example
 * ```ts
 * const config = await loadConfig(DEFAULT_CONFIG_PATH);
 * ```
 */
export async function loadConfig(path: string): Promise<ArchiverConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError("CONFIG_UNREADABLE", unreadableMessage(path, error), { file: path, cause: error });
  }
  return parseConfig(text, path);
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
