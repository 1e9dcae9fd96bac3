/**
 * The command list: every command module (`bin/cli/commands/*.ts`) under its name, in the order
 * `atlas-audit-archiver --help` lists them. The dispatcher (`bin/cli.ts`) picks from it.
 */
import type { CommandModule, CommandOptions } from "../command";
import * as cat from "./cat";
import * as completion from "./completion";
import * as doctor from "./doctor";
import * as get from "./get";
import * as ls from "./ls";
import * as plan from "./plan";
import * as publicKey from "./public-key";
import * as report from "./report";
import * as run from "./run";
import * as verify from "./verify";

/** Every command, in the order of the command list. */
export const COMMANDS: Readonly<Record<string, CommandModule<CommandOptions>>> = {
  run,
  plan,
  ls,
  cat,
  get,
  verify,
  report,
  "public-key": publicKey,
  completion,
  doctor,
} as Readonly<Record<string, CommandModule<CommandOptions>>>;

completion.completeCommands(COMMANDS);
