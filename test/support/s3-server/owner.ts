/**
 * The only credentials s3rver accepts (it checks the access key id, not the V4 signature); the
 * proxy rewrites any SigV4 access key id to this one.
 */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
