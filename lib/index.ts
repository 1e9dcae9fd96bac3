/** The infrastructure of atlas-audit-archiver: the reusable construct, its defaults, and the stack. */

export {
  BUNDLED_CONFIG_FILE,
  HANDLER_ENVIRONMENT,
  RUN_METRICS,
  SECRET_PLACEHOLDER,
} from "../lambda/config";
export {
  type ArchiveAthenaOptions,
  ArchiveAthenaTable,
  type ArchiveAthenaTableProps,
  ATHENA_FIELD_DELIMITER,
  ATHENA_LINE_COLUMN,
  ATHENA_PARTITION_KEYS,
} from "./archive-athena-table";
export {
  type ArchiveEncryption,
  type ArchiveObjectLock,
  type ArchiveTransition,
  AtlasAuditArchiver,
  type AtlasAuditArchiverProps,
  copyCommand,
} from "./atlas-audit-archiver";
export { AtlasAuditArchiverStack, type AtlasAuditArchiverStackProps } from "./atlas-audit-archiver-stack";
export {
  ARCHIVER_DEFAULTS,
  ATHENA_DEFAULTS,
  type BucketSource,
  defaultAthenaDatabaseName,
  type ResolvedArchiverSettings,
  type ResolvedAthenaTableSettings,
  type RunIntervalSource,
  resolveArchiverSettings,
  resolveAthenaTableSettings,
} from "./defaults";
export { DeploymentError, type DeploymentErrorCode } from "./errors";
export {
  backlogWindowMinutes,
  failureWindowMinutes,
  MAX_ALARM_WINDOW_MINUTES,
  maxMinutesBetweenRuns,
  notRunningWindowMinutes,
} from "./schedule";
