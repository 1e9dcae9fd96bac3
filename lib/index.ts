/**
 * What a user of the constructs needs: the constructs and their props, the types those props and
 * the `settings` fields use, the defaults the props' TSDoc names, the error a bad prop raises, and
 * the parameter file's loader (the `config` prop) with the error a bad file raises. The package's
 * main entry (`atlas-audit-archiver`); `atlas-audit-archiver/athena` exports the Athena part alone.
 */

export {
  type ArchiverConfig,
  ConfigError,
  type ConfigErrorCode,
  type ConfigProblem,
  loadConfig,
  parseConfig,
  type Workspace,
} from "../lambda/config";
export { ArchiveAthenaTable } from "./archive-athena-table";
export type { ArchiveAthenaOptions, ArchiveAthenaTableProps } from "./athena-props";
export type { ResolvedAthenaTableSettings } from "./athena-settings";
export { AtlasAuditArchiver } from "./atlas-audit-archiver";
export { AtlasAuditArchiverStack, type AtlasAuditArchiverStackProps } from "./atlas-audit-archiver-stack";
export { ARCHIVER_DEFAULTS, ATHENA_DEFAULTS } from "./defaults";
export { DeploymentError, type DeploymentErrorCode } from "./errors";
export type {
  ArchiveEncryption,
  ArchiveObjectLock,
  ArchiveTransition,
  AtlasAuditArchiverProps,
} from "./props";
export type { BucketSource, ResolvedArchiverSettings, RunIntervalSource } from "./settings";
