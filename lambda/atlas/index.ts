export * from "./auth";
export * from "./client";
export * from "./dispatcher";
export * from "./errors";
export { basicAuthorization, OAuthTokenSource, processTokenCache, TokenCache } from "./oauth";
export * from "./options";
export { type Clock, DEFAULT_RETRY_POLICY, type RetryEvent, type RetryPolicy, systemClock } from "./retry";
