/**
 * The parameter file: schema, defaults, validation and loading. Shared by the CDK app (a bad file
 * fails `cdk synth`) and the Lambda runtime; never imports aws-cdk-lib.
 *
 * `package.json` beside this file declares these modules free of side effects, so that a bundler
 * leaves out what a bundle does not use: the Lambda handler reads the bundled configuration
 * (`parseBundledConfig`) and never the schema, so zod stays out of the function's bundle.
 */

// The error base class, for lib/ (which may import only this module from the runtime tree).
export { ArchiverError } from "../errors";
export {
  BUNDLED_CONFIG_FORMAT,
  BUNDLED_CONFIG_VERSION,
  parseBundledConfig,
  renderBundledConfig,
} from "./bundled";
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
  CRC32_METADATA,
  compactUtc,
  DIGESTS_FOLDER,
  digestKey,
  digestsPrefix,
  type KeyParse,
  metadataMismatches,
  OBJECT_SUFFIX,
  type ObjectMetadataInput,
  objectFileName,
  objectMetadata,
  type ParsedKey,
  parseArchiveKey,
  parseDigestKey,
  partitionPrefix,
  RECEIPTS_FOLDER,
  receiptKey,
  receiptsPrefix,
  tenantPrefix,
  utcDate,
  workspaceStem,
} from "./layout";
export { DEFAULT_CONFIG_PATH, loadConfig } from "./load";
export { parseConfig, validateConfig } from "./parse";
export { GROUP_ID, NAME, rateIntervalMinutes, scheduleIntervalMinutes, WINDOW_LENGTHS } from "./rules";
export { type ConfigInput, configJsonSchema, configSchema, renderConfigJsonSchema } from "./schema";
export { type ArchiverConfig, type WindowSettings, type Workspace, workspaceLabel } from "./types";
