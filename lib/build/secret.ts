/** The Atlas credentials secret the construct creates when none is given. */
import { Validations } from "aws-cdk-lib";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { SECRET_PLACEHOLDER } from "../../lambda/config";

/**
 * A secret holding `{"clientId":"REPLACE_ME","clientSecret":"<random>"}`, for the user to put the
 * Atlas credentials into after the first deploy.
 */
export function buildAtlasSecret(scope: Construct): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, "AtlasCredentials", {
    description:
      'Atlas Admin API credentials for the audit archiver: {"clientId","clientSecret"} (service account) ' +
      'or {"publicKey","privateKey"} (API key). Replace the placeholder after deploying.',
    generateSecretString: {
      secretStringTemplate: JSON.stringify({ clientId: SECRET_PLACEHOLDER }),
      generateStringKey: "clientSecret",
      excludePunctuation: true,
    },
  });
  Validations.of(secret).acknowledge({
    id: "AwsSolutions-SMG4",
    reason:
      "Atlas credentials are issued and rotated in Atlas, not by Secrets Manager; the function re-reads the " +
      "secret on a 401, so putting the new value into the secret completes a rotation.",
  });
  return secret;
}
