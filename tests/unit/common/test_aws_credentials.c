/*
 * This file implements the unit tests of aws_credentials.h and the pure
 * parsers behind it (aws_ini.h, aws_credentials_parse.h):
 *   - the INI dialect of the shared files, the ISO 8601 times, the STS
 *     XML and container/IMDS JSON documents, the IMDS role list and the
 *     container URL rules, over buffers;
 *   - the chain over the environment and the shared files in a temporary
 *     HOME: environment first, then the credentials file, then the config
 *     file's "[profile NAME]", the profile chosen by argument, AWS_PROFILE
 *     or "default", the region order, and clear errors (naming every
 *     source tried, never a secret) for missing, partial or unsupported
 *     settings.
 * IMDS is disabled in every test but one, which points it at a local port
 * that refuses connections; nothing here leaves 127.0.0.1. The network
 * providers are exercised against servers by
 * tests/integration/test_aws_credentials.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws_credentials.h"
#include "aws_credentials_parse.h"
#include "aws_ini.h"
#include "test_tmpdir.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static char home[64];

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
};

/* A fresh HOME with an empty ~/.aws, every AWS_* variable unset, IMDS off. */
static int setup(void **state)
{
    (void)state;
    snprintf(home, sizeof(home), "/tmp/larder-awscred-XXXXXX");
    if (mkdtemp(home) == NULL) {
        return -1;
    }
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/.aws", home);
    if (mkdir(dir, 0700) != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++) {
        unsetenv(aws_vars[i]);
    }
    setenv("HOME", home, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_remove(home);
    return 0;
}

/* Writes text to HOME/rel. */
static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", home, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Resolves, expecting failure; returns the message (static). */
static const char *resolve_fails(const char *profile)
{
    static char err[4096];
    struct aws_credentials c;
    err[0] = '\0';
    assert_int_equal(aws_credentials_resolve(&c, profile, err, sizeof(err)),
                     -1);
    assert_string_equal(c.access_key_id, "");
    assert_string_equal(c.secret_access_key, "");
    assert_null(strstr(err, SECRET));
    return err;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        fail_msg("'%s' not in '%s'", needle, hay);
    }
}

/* ---- INI ---------------------------------------------------------------- */

static void test_ini_dialect(void **state)
{
    (void)state;
    static const char ini[] =
        "\xEF\xBB\xBF"
        "orphan = before any section\r\n"
        "[default]\r\n"
        "aws_access_key_id = AKIDDEFAULT\r\n"
        "# aws_secret_access_key = commented\n"
        "; region = commented too\n"
        "AWS_Secret_Access_Key:  secret;with#chars  \n"
        "[ profile   dev ]\n"
        "region=eu-west-1\n"
        "s3 =\n"
        "  region = not-a-key\n"
        "  max_concurrent_requests = 20\n"
        "output = json\n"
        "no separator here\n"
        "[profile dev]\n"
        "output = text\n"
        "   [indented]\n"
        "k = v\n";
    char v[64];
    assert_true(aws_ini_has_section(ini, sizeof(ini) - 1, "default"));
    assert_true(aws_ini_has_section(ini, sizeof(ini) - 1, "profile dev"));
    assert_false(aws_ini_has_section(ini, sizeof(ini) - 1, "dev"));
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "default",
                                 "aws_access_key_id", v, sizeof(v)), 1);
    assert_string_equal(v, "AKIDDEFAULT");
    /* Keys compare case-insensitively, ':' separates, ';' '#' are kept. */
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "default",
                                 "aws_secret_access_key", v, sizeof(v)), 1);
    assert_string_equal(v, "secret;with#chars");
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "default", "region",
                                 v, sizeof(v)), 0);
    assert_string_equal(v, "");
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "default", "orphan",
                                 v, sizeof(v)), 0);
    /* The nested s3 block does not set the profile's region. */
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "profile dev",
                                 "region", v, sizeof(v)), 1);
    assert_string_equal(v, "eu-west-1");
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "profile dev",
                                 "max_concurrent_requests", v, sizeof(v)),
                     0);
    /* A section given twice: the last value wins. */
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "profile dev",
                                 "output", v, sizeof(v)), 1);
    assert_string_equal(v, "text");
    /* An indented header right after a key continues that key's value, so
     * "k" stays in [profile dev]. */
    assert_false(aws_ini_has_section(ini, sizeof(ini) - 1, "indented"));
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "profile dev", "k",
                                 v, sizeof(v)), 1);
    /* A value that does not fit. */
    char small[4];
    assert_int_equal(aws_ini_get(ini, sizeof(ini) - 1, "default",
                                 "aws_access_key_id", small, sizeof(small)),
                     -1);
    assert_string_equal(small, "");
    assert_false(aws_ini_has_section("", 0, "default"));
    /* A NUL inside a header ends no name early (found by fuzzing). */
    static const char nul[] = "[default\0]\nk = v\n";
    assert_false(aws_ini_has_section(nul, sizeof(nul) - 1, "default"));
    assert_int_equal(aws_ini_get(nul, sizeof(nul) - 1, "default", "k", v,
                                 sizeof(v)), 0);
    /* A NUL inside a value ends it there, trimmed, and it fits by that
     * length (fuzz_aws_credentials found "a \0b" given back untrimmed as
     * "a ", and "-1, too long" for a buffer that holds "a"). */
    static const char nulval[] = "[x]\nk = a \0bcdefgh\nj=\0\n";
    char two[2];
    assert_int_equal(aws_ini_get(nulval, sizeof(nulval) - 1, "x", "k", two,
                                 sizeof(two)), 1);
    assert_string_equal(two, "a");
    assert_int_equal(aws_ini_get(nulval, sizeof(nulval) - 1, "x", "j", v,
                                 sizeof(v)), 1);
    assert_string_equal(v, "");
}

/* ---- times -------------------------------------------------------------- */

static void test_time_parse(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(aws_time_parse_ms("2026-11-26T13:25:56Z", &ms), 0);
    assert_int_equal(ms, 1795699556000LL);
    assert_int_equal(aws_time_parse_ms("2026-11-26T13:25:56.25Z", &ms), 0);
    assert_int_equal(ms, 1795699556250LL);
    assert_int_equal(aws_time_parse_ms("2026-11-26T14:25:56.123456+01:00",
                                       &ms), 0);
    assert_int_equal(ms, 1795699556123LL);
    assert_int_equal(aws_time_parse_ms("2024-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 1709164800000LL);
    assert_int_equal(aws_time_parse_ms("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    static const char *const bad[] = {
        "2026-02-29T00:00:00Z", "2026-11-26T13:25:56", "2026-11-26 13:25:56Z",
        "2026-13-01T00:00:00Z", "2026-11-26T24:00:00Z",
        "2026-11-26T13:25:56.Z",
        "2026-11-26T13:25:56Zjunk", "1795699556", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (aws_time_parse_ms(bad[i], &ms) != -1) {
            fail_msg("'%s' parsed", bad[i]);
        }
    }
}

/* ---- STS XML ------------------------------------------------------------ */

static const char sts_ok[] =
    "<AssumeRoleWithWebIdentityResponse "
    "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleWithWebIdentityResult>\n"
    "    <SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>\n"
    "    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"
    "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <SessionToken>FwoGZXIvYXdzE+token/=</SessionToken>\n"
    "      <SecretAccessKey>" SECRET "</SecretAccessKey>\n"
    "      <Expiration>2026-11-26T13:25:56Z</Expiration>\n"
    "      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
    "    </Credentials>\n"
    "    <Provider>www.example.com</Provider>\n"
    "  </AssumeRoleWithWebIdentityResult>\n"
    "  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"
    "</AssumeRoleWithWebIdentityResponse>\n";

static void test_sts_parse_ok(void **state)
{
    (void)state;
    struct aws_credentials c;
    memset(&c, 0, sizeof(c));
    snprintf(c.region, sizeof(c.region), "eu-west-1");
    char err[256] = "";
    assert_int_equal(aws_sts_parse_credentials(sts_ok, sizeof(sts_ok) - 1,
                                               &c, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "ASIAEXAMPLE");
    assert_string_equal(c.secret_access_key, SECRET);
    assert_string_equal(c.session_token, "FwoGZXIvYXdzE+token/=");
    assert_int_equal(c.expires_ms, 1795699556000LL);
    assert_string_equal(c.region, "eu-west-1"); /* left alone */
}

static void test_sts_parse_error_response(void **state)
{
    (void)state;
    static const char xml[] =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
        "<Message>Token is expired</Message></Error>"
        "<RequestId>r-2</RequestId></ErrorResponse>";
    struct aws_credentials c;
    char err[256] = "";
    assert_int_equal(aws_sts_parse_credentials(xml, sizeof(xml) - 1, &c, err,
                                               sizeof(err)), -1);
    assert_string_equal(err,
                        "STS error InvalidIdentityToken: Token is expired");
}

/* Replaces the first `from` of sts_ok by `to` into out. */
static void sts_variant(char *out, size_t outlen, const char *from,
                        const char *to)
{
    const char *at = strstr(sts_ok, from);
    assert_non_null(at);
    snprintf(out, outlen, "%.*s%s%s", (int)(at - sts_ok), sts_ok, to,
             at + strlen(from));
}

static void test_sts_parse_bad(void **state)
{
    (void)state;
    struct aws_credentials c;
    char err[256], xml[4096];
    struct {
        const char *from, *to, *says;
    } cases[] = {
        {"<SecretAccessKey>" SECRET "</SecretAccessKey>", "",
         "SecretAccessKey is missing"},
        {"2026-11-26T13:25:56Z", "tomorrow", "not an ISO 8601 time"},
        {"<AccessKeyId>ASIAEXAMPLE</AccessKeyId>",
         "<AccessKeyId>AS IA</AccessKeyId>", "not printable ASCII"},
        {"</Credentials>", "", "not well-formed"},
        {"<Credentials>", "<Other>", "not well-formed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sts_variant(xml, sizeof(xml), cases[i].from, cases[i].to);
        err[0] = '\0';
        assert_int_equal(aws_sts_parse_credentials(xml, strlen(xml), &c, err,
                                                   sizeof(err)), -1);
        assert_contains(err, cases[i].says);
        assert_null(strstr(err, SECRET));
        assert_string_equal(c.access_key_id, "");
        assert_string_equal(c.secret_access_key, "");
    }
    static const char no_creds[] =
        "<AssumeRoleWithWebIdentityResponse>"
        "<AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResult>"
        "</AssumeRoleWithWebIdentityResponse>";
    assert_int_equal(aws_sts_parse_credentials(no_creds, sizeof(no_creds) - 1,
                                               &c, err, sizeof(err)), -1);
    assert_contains(err, "no AssumeRoleWithWebIdentityResult/Credentials");
    /* Credentials anywhere else in the tree do not count. */
    static const char misplaced[] =
        "<Other><Credentials><AccessKeyId>A</AccessKeyId>"
        "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
        "<Expiration>2026-11-26T13:25:56Z</Expiration></Credentials></Other>";
    assert_int_equal(aws_sts_parse_credentials(misplaced,
                                               sizeof(misplaced) - 1, &c, err,
                                               sizeof(err)), -1);
    static const char doctype[] =
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\">]>"
        "<ErrorResponse><Error><Code>&a;</Code></Error></ErrorResponse>";
    assert_int_equal(aws_sts_parse_credentials(doctype, sizeof(doctype) - 1,
                                               &c, err, sizeof(err)), -1);
    assert_contains(err, "DOCTYPE");
}

/* ---- container / IMDS JSON ---------------------------------------------- */

static void test_container_parse(void **state)
{
    (void)state;
    struct aws_credentials c;
    char err[256] = "";
    static const char ecs[] =
        "{\"RoleArn\":\"arn:aws:iam::1:role/r\",\"AccessKeyId\":\"ASIAECS\","
        "\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"tok=\","
        "\"Expiration\":\"2026-11-26T13:25:56Z\"}";
    assert_int_equal(aws_container_parse_credentials(ecs, sizeof(ecs) - 1,
                                                     &c, err, sizeof(err)),
                     0);
    assert_string_equal(c.access_key_id, "ASIAECS");
    assert_string_equal(c.secret_access_key, SECRET);
    assert_string_equal(c.session_token, "tok=");
    assert_int_equal(c.expires_ms, 1795699556000LL);

    static const char imds[] =
        "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : "
        "\"2026-11-26T12:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n"
        "  \"AccessKeyId\" : \"ASIAIMDS\",\n  \"SecretAccessKey\" : \""
        SECRET "\",\n  \"Token\" : \"t\",\n  \"Expiration\" : "
        "\"2026-11-26T18:00:00Z\"\n}\n";
    assert_int_equal(aws_container_parse_credentials(imds, sizeof(imds) - 1,
                                                     &c, err, sizeof(err)),
                     0);
    assert_string_equal(c.access_key_id, "ASIAIMDS");
    assert_int_equal(c.expires_ms, 1795699556000LL + 16444000LL);

    struct {
        const char *json, *says;
    } bad[] = {
        {"{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\"}",
         "Code 'AssumeRoleUnauthorizedAccess': no"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\","
         "\"Expiration\":\"2026-11-26T13:25:56Z\"}",
         "Token is missing"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":7,\"Token\":\"t\","
         "\"Expiration\":\"2026-11-26T13:25:56Z\"}",
         "SecretAccessKey is not a string"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\","
         "\"Token\":\"t\",\"Expiration\":\"soon\"}",
         "Expiration 'soon' is not an ISO 8601 time"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" SECRET "\","
         "\"Token\":\"t\"}",
         "Expiration is missing"},
        {"[\"" SECRET "\"]", "not a JSON object"},
        {"{\"SecretAccessKey\":\"" SECRET "\" garbage", "not JSON"},
        {"", "not JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(aws_container_parse_credentials(
                             bad[i].json, strlen(bad[i].json), &c, err,
                             sizeof(err)), -1);
        assert_contains(err, bad[i].says);
        assert_null(strstr(err, SECRET));
        assert_string_equal(c.secret_access_key, "");
    }
}

static void test_imds_role(void **state)
{
    (void)state;
    char role[64], err[256];
    assert_int_equal(aws_imds_parse_role("my-role_1+=,.@\n", 15, role,
                                         sizeof(role), err, sizeof(err)), 0);
    assert_string_equal(role, "my-role_1+=,.@");
    static const char two[] = "\r\n  first \r\nsecond\n";
    assert_int_equal(aws_imds_parse_role(two, sizeof(two) - 1, role,
                                         sizeof(role), err, sizeof(err)), 0);
    assert_string_equal(role, "first");
    assert_int_equal(aws_imds_parse_role("\n \n", 3, role, sizeof(role), err,
                                         sizeof(err)), -1);
    assert_contains(err, "no IAM role");
    assert_int_equal(aws_imds_parse_role("../x", 4, role, sizeof(role), err,
                                         sizeof(err)), -1);
    assert_int_equal(aws_imds_parse_role("a?b", 3, role, sizeof(role), err,
                                         sizeof(err)), -1);
    assert_int_equal(aws_imds_parse_role("abcdef", 6, role, 4, err,
                                         sizeof(err)), -1);
    /* A NUL byte is no role character (fuzz_aws_credentials found it
     * accepted, giving the role "" or a name cut short). */
    assert_int_equal(aws_imds_parse_role("\0", 1, role, sizeof(role), err,
                                         sizeof(err)), -1);
    assert_contains(err, "cannot have");
    assert_int_equal(aws_imds_parse_role("ab\0cd\n", 6, role, sizeof(role),
                                         err, sizeof(err)), -1);
}

static void test_container_url(void **state)
{
    (void)state;
    char url[256], err[256];
    assert_int_equal(aws_container_url("/v2/credentials/abc",
                                       "http://127.0.0.1/x", url, sizeof(url),
                                       err, sizeof(err)), 0);
    assert_string_equal(url, "http://169.254.170.2/v2/credentials/abc");
    static const char *const ok[] = {
        "http://127.0.0.1:8080/creds", "http://127.1.2.3/x",
        "http://localhost:9/x", "http://[::1]:80/x",
        "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1",
        "http://169.254.170.2/x", "https://creds.example.com/x",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (aws_container_url(NULL, ok[i], url, sizeof(url), err,
                              sizeof(err)) != 0) {
            fail_msg("'%s' refused: %s", ok[i], err);
        }
        assert_string_equal(url, ok[i]);
    }
    static const char *const refused[] = {
        "http://example.com/x", "http://localhost.example.com/x",
        "http://127.0.0.1.example.com/x", "http://user@127.0.0.1/x",
        "http://10.0.0.1/x", "ftp://127.0.0.1/x", "http:///x",
        "http://1127.0.0.1/x",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (aws_container_url("", refused[i], url, sizeof(url), err,
                              sizeof(err)) != -1) {
            fail_msg("'%s' allowed", refused[i]);
        }
    }
    assert_int_equal(aws_container_url("v2/x", NULL, url, sizeof(url), err,
                                       sizeof(err)), -1);
    assert_contains(err, "does not start with '/'");
    assert_int_equal(aws_container_url(NULL, NULL, url, sizeof(url), err,
                                       sizeof(err)), -1);
}

/* ---- the chain: environment and shared files ---------------------------- */

static void test_env_first(void **state)
{
    (void)state;
    put(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\n"
        "aws_secret_access_key = filesecret\n");
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    struct aws_credentials c;
    char err[1024] = "";
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.source, "env");
    assert_string_equal(c.access_key_id, "AKIDENV");
    assert_string_equal(c.secret_access_key, SECRET);
    assert_string_equal(c.session_token, "envtoken");
    assert_string_equal(c.region, "us-east-1");
    assert_int_equal(c.expires_ms, 0);
}

static void test_env_partial(void **state)
{
    (void)state;
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    const char *err = resolve_fails(NULL);
    assert_contains(err, "env failed");
    assert_contains(err, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID "
                         "is not");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    err = resolve_fails(NULL);
    assert_contains(err, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY "
                         "is not");
    /* A session token alone is no credentials: the chain goes on. */
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SESSION_TOKEN", "t", 1);
    err = resolve_fails(NULL);
    assert_contains(err, "no AWS credentials found");
}

static void test_profile_default(void **state)
{
    (void)state;
    put(".aws/credentials", "[other]\naws_access_key_id = AKIDOTHER\n"
        "aws_secret_access_key = x\n\n[default]\n"
        "aws_access_key_id = AKIDDEF\naws_secret_access_key = " SECRET "\n");
    struct aws_credentials c;
    char err[1024] = "";
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.source, "profile");
    assert_string_equal(c.access_key_id, "AKIDDEF");
    assert_string_equal(c.secret_access_key, SECRET);
    assert_string_equal(c.session_token, "");
    assert_int_equal(c.expires_ms, 0);
}

static void test_profile_choice(void **state)
{
    (void)state;
    put(".aws/credentials",
        "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = d\n"
        "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = v\n"
        "aws_session_token = devtoken\n"
        "[prod]\naws_access_key_id = AKIDPROD\naws_secret_access_key = p\n");
    struct aws_credentials c;
    char err[1024] = "";
    setenv("AWS_PROFILE", "dev", 1);
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDDEV");
    assert_string_equal(c.session_token, "devtoken");
    /* The argument wins over AWS_PROFILE; "" means no argument. */
    assert_int_equal(aws_credentials_resolve(&c, "prod", err, sizeof(err)),
                     0);
    assert_string_equal(c.access_key_id, "AKIDPROD");
    assert_int_equal(aws_credentials_resolve(&c, "", err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDDEV");
}

static void test_config_file_profiles(void **state)
{
    (void)state;
    /* In the config file, "[dev]" is not profile dev: "[profile dev]" is. */
    put(".aws/config",
        "[default]\naws_access_key_id = AKIDCFGDEF\n"
        "aws_secret_access_key = c\n"
        "[dev]\naws_access_key_id = WRONG\naws_secret_access_key = w\n"
        "[profile  dev]\naws_access_key_id = AKIDCFGDEV\n"
        "aws_secret_access_key = " SECRET "\n");
    struct aws_credentials c;
    char err[1024] = "";
    assert_int_equal(aws_credentials_resolve(&c, "dev", err, sizeof(err)), 0);
    assert_string_equal(c.source, "profile");
    assert_string_equal(c.access_key_id, "AKIDCFGDEV");
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDCFGDEF");
    /* The credentials file wins over the config file. */
    put(".aws/credentials", "[dev]\naws_access_key_id = AKIDCREDDEV\n"
        "aws_secret_access_key = k\n");
    assert_int_equal(aws_credentials_resolve(&c, "dev", err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDCREDDEV");
    /* "[profile default]" is the default profile when "[default]" is not
     * there. */
    put(".aws/config", "[profile default]\naws_access_key_id = AKIDPD\n"
        "aws_secret_access_key = k\n");
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDPD");
}

static void test_file_variables(void **state)
{
    (void)state;
    put(".aws/credentials", "[default]\naws_access_key_id = AKIDHOME\n"
        "aws_secret_access_key = h\n");
    put("creds.ini", "[default]\naws_access_key_id = AKIDVAR\n"
        "aws_secret_access_key = v\n");
    put("conf.ini", "[profile x]\nregion = ap-south-1\n"
        "aws_access_key_id = AKIDCONFX\naws_secret_access_key = x\n");
    char path[256];
    snprintf(path, sizeof(path), "%s/creds.ini", home);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    snprintf(path, sizeof(path), "%s/conf.ini", home);
    setenv("AWS_CONFIG_FILE", path, 1);
    struct aws_credentials c;
    char err[1024] = "";
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDVAR");
    assert_string_equal(c.region, "us-east-1");
    assert_int_equal(aws_credentials_resolve(&c, "x", err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDCONFX");
    assert_string_equal(c.region, "ap-south-1");
    /* "~/" in the variables is HOME. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", 1);
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.access_key_id, "AKIDHOME");
}

static void test_region_order(void **state)
{
    (void)state;
    put(".aws/config", "[default]\nregion = eu-central-1\n"
        "[profile p]\nregion = sa-east-1\n[profile q]\noutput = json\n");
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
    struct aws_credentials c;
    char err[1024] = "";
    setenv("AWS_REGION", "us-west-2", 1);
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    assert_int_equal(aws_credentials_resolve(&c, "p", err, sizeof(err)), 0);
    assert_string_equal(c.region, "us-west-2");
    unsetenv("AWS_REGION");
    assert_int_equal(aws_credentials_resolve(&c, "p", err, sizeof(err)), 0);
    assert_string_equal(c.region, "eu-west-1");
    unsetenv("AWS_DEFAULT_REGION");
    assert_int_equal(aws_credentials_resolve(&c, "p", err, sizeof(err)), 0);
    assert_string_equal(c.region, "sa-east-1");
    assert_int_equal(aws_credentials_resolve(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.region, "eu-central-1");
    /* A profile without a region does not borrow the default's. */
    assert_int_equal(aws_credentials_resolve(&c, "q", err, sizeof(err)), 0);
    assert_string_equal(c.region, "us-east-1");
    /* A region goes into a host name: it must look like one. */
    setenv("AWS_REGION", "us-east-1.evil.com/", 1);
    const char *e = resolve_fails(NULL);
    assert_contains(e, "from AWS_REGION is not a region name");
}

static void test_profile_errors(void **state)
{
    (void)state;
    /* A named profile that is nowhere: fail, do not go on down the chain. */
    put(".aws/credentials", "[default]\naws_access_key_id = A\n"
        "aws_secret_access_key = s\n");
    const char *err = resolve_fails("nope");
    assert_contains(err, "profile failed: profile 'nope' not found");
    assert_contains(err, "no [nope]");
    assert_contains(err, "no such file");
    assert_null(strstr(err, "web-identity"));
    /* Partial keys name the file and the missing key. */
    put(".aws/credentials", "[default]\naws_access_key_id = A\n");
    err = resolve_fails(NULL);
    assert_contains(err, "has aws_access_key_id but no aws_secret_access_key");
    assert_contains(err, "/.aws/credentials");
    put(".aws/credentials", "[default]\naws_secret_access_key = " SECRET "\n");
    err = resolve_fails(NULL);
    assert_contains(err, "has aws_secret_access_key but no aws_access_key_id");
    /* Profiles larder cannot use say so. */
    put(".aws/credentials", "");
    put(".aws/config", "[profile r]\nrole_arn = arn:aws:iam::1:role/r\n"
        "source_profile = default\n"
        "[profile s]\nsso_session = corp\n");
    err = resolve_fails("r");
    assert_contains(err, "uses role_arn, which larder does not support");
    err = resolve_fails("s");
    assert_contains(err, "uses sso_session");
    /* A value with a blank inside is refused without being quoted. */
    put(".aws/credentials", "[default]\naws_access_key_id = A\n"
        "aws_secret_access_key = " SECRET " more\n");
    err = resolve_fails(NULL);
    assert_contains(err, "aws_secret_access_key has a character that is not "
                         "printable ASCII");
}

static void test_nothing_found(void **state)
{
    (void)state;
    /* A default profile with only a region is not credentials. */
    put(".aws/config", "[default]\nregion = eu-west-3\n");
    const char *err = resolve_fails(NULL);
    assert_contains(err, "no AWS credentials found; tried env "
                         "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not "
                         "set), profile 'default' (");
    assert_contains(err, "/.aws/credentials: no such file");
    assert_contains(err, "/.aws/config: [default] has no aws_access_key_id");
    assert_contains(err, "web-identity (AWS_WEB_IDENTITY_TOKEN_FILE and "
                         "AWS_ROLE_ARN not set)");
    assert_contains(err, "ecs (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                         "AWS_CONTAINER_CREDENTIALS_FULL_URI not set)");
    assert_contains(err, "imds (disabled by AWS_EC2_METADATA_DISABLED)");
}

/* ---- the chain: network providers misconfigured (no network) ------------ */

static void test_web_identity_misconfigured(void **state)
{
    (void)state;
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r", 1);
    const char *err = resolve_fails(NULL);
    assert_contains(err, "web-identity failed: AWS_ROLE_ARN is set but "
                         "AWS_WEB_IDENTITY_TOKEN_FILE is not");
    assert_contains(err, "tried before: env (");
    char path[256];
    snprintf(path, sizeof(path), "%s/no-such-token", home);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    err = resolve_fails(NULL);
    assert_contains(err, "cannot read AWS_WEB_IDENTITY_TOKEN_FILE");
    assert_contains(err, "no-such-token");
    put("empty-token", "\n");
    snprintf(path, sizeof(path), "%s/empty-token", home);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path, 1);
    err = resolve_fails(NULL);
    assert_contains(err, "is empty");
}

static void test_container_misconfigured(void **state)
{
    (void)state;
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds",
           1);
    const char *err = resolve_fails(NULL);
    assert_contains(err, "ecs failed: AWS_CONTAINER_CREDENTIALS_FULL_URI host "
                         "'example.com' is not allowed");
    /* Not configured sources before it are listed. */
    assert_contains(err, "web-identity (AWS_WEB_IDENTITY_TOKEN_FILE");
}

/* A port on 127.0.0.1 that refuses connections: bound, never listening.
 * The socket stays open (in *fd) so no one else takes the port. */
static int refusing_port(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static void test_imds_unreachable(void **state)
{
    (void)state;
    int fd;
    int port = refusing_port(&fd);
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", port);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
    const char *err = resolve_fails(NULL);
    close(fd);
    assert_contains(err, "imds failed: no IMDSv2 session token: PUT "
                         "http://127.0.0.1:");
    assert_contains(err, "/latest/api/token");
    assert_contains(err, "AWS_EC2_METADATA_DISABLED=true");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ini_dialect),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_sts_parse_ok),
        cmocka_unit_test(test_sts_parse_error_response),
        cmocka_unit_test(test_sts_parse_bad),
        cmocka_unit_test(test_container_parse),
        cmocka_unit_test(test_imds_role),
        cmocka_unit_test(test_container_url),
        cmocka_unit_test_setup_teardown(test_env_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_profile_choice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_profiles, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_variables, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_misconfigured,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_container_misconfigured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_imds_unreachable, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
