/*
 * aws_creds_probe: resolves AWS credentials with aws_credentials_resolve()
 * and prints what a test may see of them, one "name=value" line each:
 *
 *   source=imds
 *   access_key_id=ASIA...
 *   secret_access_key_sha256=<hex>   (never the secret itself)
 *   secret_access_key_length=40
 *   session_token_sha256=<hex>       ("" when there is no token)
 *   session_token_length=0
 *   region=us-east-1
 *   expires_ms=0
 *
 * Usage: aws_creds_probe [--profile NAME]. Exit 0 when resolved; 1 with
 * "aws_creds_probe: <why>" on stderr otherwise; 2 on bad usage.
 * tests/integration/test_aws_credentials.py drives it.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "aws_credentials.h"

/* Prints "name_sha256=<hex>" and "name_length=<n>" for a secret value. */
static int print_digest(const char *name, const char *value)
{
    size_t len = strlen(value);
    char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
    if (len > 0) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (EVP_Digest(value, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
            return -1;
        }
        for (unsigned int i = 0; i < mdlen; i++) {
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        }
    }
    printf("%s_sha256=%s\n%s_length=%zu\n", name, hex, name, len);
    return 0;
}

int main(int argc, char **argv)
{
    const char *profile = NULL;
    if (argc == 3 && strcmp(argv[1], "--profile") == 0) {
        profile = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: aws_creds_probe [--profile NAME]\n");
        return 2;
    }
    struct aws_credentials c;
    char err[4096];
    if (aws_credentials_resolve(&c, profile, err, sizeof(err)) != 0) {
        fprintf(stderr, "aws_creds_probe: %s\n", err);
        return 1;
    }
    printf("source=%s\naccess_key_id=%s\n", c.source, c.access_key_id);
    if (print_digest("secret_access_key", c.secret_access_key) != 0 ||
        print_digest("session_token", c.session_token) != 0) {
        fprintf(stderr, "aws_creds_probe: SHA-256 failed\n");
        return 1;
    }
    printf("region=%s\nexpires_ms=%lld\n", c.region,
           (long long)c.expires_ms);
    return 0;
}
