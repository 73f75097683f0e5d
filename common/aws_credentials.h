/*
 * aws_credentials.h: where larder's S3 code gets its AWS credentials and
 * region from. The chain is the one the AWS SDKs and CLI follow, first
 * match wins:
 *
 *   1. "env"           AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *                      (+ AWS_SESSION_TOKEN);
 *   2. "profile"       the shared credentials file, then the shared config
 *                      file, for the chosen profile;
 *   3. "web-identity"  AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *                      (+ AWS_ROLE_SESSION_NAME), exchanged at STS
 *                      (AssumeRoleWithWebIdentity, an unsigned call);
 *   4. "ecs"           the container credentials endpoint
 *                      (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI);
 *   5. "imds"          the EC2 instance metadata service, IMDSv2 only.
 *
 * A source that is not configured is skipped; a source that is configured
 * but fails (partial keys, an unreadable token file, STS refusing, the
 * container endpoint failing) stops the chain with an error rather than
 * falling through to another identity. IMDS is tried last with short
 * timeouts, so a machine off EC2 fails fast. docs/s3.md ("Credentials")
 * lists every variable and file read.
 *
 * The pure parsers behind this (INI files, the STS XML and the container
 * JSON) are in aws_ini.h and aws_credentials_parse.h.
 *
 * Thread safety: aws_credentials_resolve() reads the environment and may
 * call http_global_init(); it keeps no state of its own.
 */
#ifndef LARDER_AWS_CREDENTIALS_H
#define LARDER_AWS_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

struct aws_credentials {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[2048]; /* "" when there is none */
    char region[64];
    char source[32]; /* "env", "profile", "web-identity", "ecs", "imds" */
    int64_t expires_ms; /* Unix ms; 0: does not expire */
};

/*
 * Resolves credentials and region into *out. profile_or_null names the
 * profile of the shared files; NULL (or "") means AWS_PROFILE, else
 * "default". The region is AWS_REGION, else AWS_DEFAULT_REGION, else the
 * profile's `region` in the config file, else "us-east-1", whichever source
 * the keys came from.
 *
 * Returns 0, or -1 with err naming every source tried and why each was
 * skipped or failed (out is then zeroed). Neither err nor anything logged
 * ever holds a secret key, session token or web identity token.
 */
int aws_credentials_resolve(struct aws_credentials *out,
                            const char *profile_or_null, char *err,
                            size_t errlen);

#endif
