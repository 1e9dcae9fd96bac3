/**
 * The parameter file: schema, defaults, validation and loading. Shared by the CDK app (a bad file
 * fails `cdk synth`) and the Lambda runtime; never imports aws-cdk-lib.
 */

// The error base class, for lib/ (which may import only this module from the runtime tree).
export { ArchiverError } from "../errors";
export {
  BUNDLED_CONFIG_FILE,
  DEFAULT_METRICS_NAMESPACE,
  HANDLER_ENVIRONMENT,
  METRIC_DIMENSION,
  RUN_METRICS,
  SECRET_PLACEHOLDER,
} from "./contract";
export { ConfigError, type ConfigErrorCode, type ConfigProblem } from "./error";
export {
  archiveKey,
  compactUtc,
  OBJECT_SUFFIX,
  objectFileName,
  partitionPrefix,
  utcDate,
} from "./layout";
export { DEFAULT_CONFIG_PATH, loadConfig } from "./load";
export { parseConfig } from "./parse";
export {
  type ConfigInput,
  configJsonSchema,
  configSchema,
  rateIntervalMinutes,
  renderConfigJsonSchema,
  WINDOW_LENGTHS,
} from "./schema";
export { type ArchiverConfig, type WindowSettings, type Workspace, workspaceLabel } from "./types";
