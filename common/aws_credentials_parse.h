/*
 * aws_credentials_parse.h: the pure parts of the network credential
 * providers of aws_credentials.h, over buffers, no I/O: the STS
 * AssumeRoleWithWebIdentity XML reply (expat), the JSON document the ECS
 * container endpoint and EC2 IMDS return (jansson), the IMDS role list,
 * the ISO 8601 expiry times in both, and the container endpoint URL rules.
 *
 * The credential parsers fill only access_key_id, secret_access_key,
 * session_token and expires_ms of *out and leave region and source as
 * they were; on failure those four are cleared. Their error messages
 * never quote a credential value.
 */
#ifndef LARDER_AWS_CREDENTIALS_PARSE_H
#define LARDER_AWS_CREDENTIALS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "aws_credentials.h"

/*
 * Copies the credential value `name` (src, trimmed of white space; src may
 * be dst) into dst[dstlen]: it must be non-empty, fit, and be printable
 * ASCII without blanks, since it goes into HTTP headers. -1 with err
 * (naming `name`, never quoting the value) otherwise.
 */
int aws_credentials_copy_value(char *dst, size_t dstlen, const char *src,
                               const char *name, char *err, size_t errlen);

/*
 * Parses an ISO 8601 UTC time as AWS writes it: "YYYY-MM-DDTHH:MM:SS",
 * optional fraction (".123"), then "Z" or an offset "+HH:MM"/"-HH:MM".
 * Returns 0 with Unix milliseconds in *out_ms, -1 if s is not such a time.
 */
int aws_time_parse_ms(const char *s, int64_t *out_ms);

/*
 * Parses an STS AssumeRoleWithWebIdentity response body:
 * AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/
 * Credentials/{AccessKeyId, SecretAccessKey, SessionToken, Expiration},
 * all four required. An STS ErrorResponse gives -1 with "STS error CODE:
 * MESSAGE" in err; malformed XML, a DOCTYPE or missing fields give -1 too.
 */
int aws_sts_parse_credentials(const char *xml, size_t len,
                              struct aws_credentials *out, char *err,
                              size_t errlen);

/*
 * Parses the credentials JSON of the ECS container endpoint or of IMDS
 * (.../iam/security-credentials/ROLE): AccessKeyId, SecretAccessKey,
 * Token and Expiration, all required; a "Code" other than "Success" (IMDS)
 * gives -1 with the code and its "Message".
 */
int aws_container_parse_credentials(const char *json, size_t len,
                                    struct aws_credentials *out, char *err,
                                    size_t errlen);

/*
 * Takes the role name from the body of IMDS's
 * /latest/meta-data/iam/security-credentials/: the first non-empty line,
 * trimmed. Returns 0, or -1 with err if there is none, it does not fit
 * role[rolelen], or it has characters an IAM role name cannot have (it is
 * put in a URL path next).
 */
int aws_imds_parse_role(const char *body, size_t len, char *role,
                        size_t rolelen, char *err, size_t errlen);

/*
 * The container credentials URL: "http://169.254.170.2" + relative_uri
 * when relative_uri is set (non-empty), else full_uri, which must be an
 * https:// URL or an http:// URL whose host is a loopback address
 * (127.0.0.0/8, [::1], localhost) or the ECS or EKS agent's address
 * (169.254.170.2, 169.254.170.23, [fd00:ec2::23]), as the AWS SDKs require.
 * Returns 0 with the URL in out[outlen], -1 with err.
 */
int aws_container_url(const char *relative_uri, const char *full_uri,
                      char *out, size_t outlen, char *err, size_t errlen);

#endif
