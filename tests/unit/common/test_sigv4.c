/*
 * This file implements the unit tests of the SigV4 signer
 * (common/sigv4.c) against the four S3 examples AWS publishes in "Examples:
 * Signature Calculations in AWS Signature Version 4" (header-based
 * authentication, example key AKIAIOSFODNN7EXAMPLE, 20130524T000000Z,
 * us-east-1, bucket examplebucket): GET Object with a Range, PUT Object
 * with a hashed body, GET Bucket lifecycle and GET Bucket (List Objects).
 * Each checks the canonical request, the hash AWS prints in its string to
 * sign, the signature and the Authorization header. Further tests pin the
 * encoding rules (path, query sorting), the session-token header and the
 * refusal of malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define EXAMPLE_KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EXAMPLE_DATE "20130524T000000Z"
#define EXAMPLE_HOST "examplebucket.s3.amazonaws.com"
#define EXAMPLE_CREDENTIAL \
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/" \
    "s3/aws4_request,"

static struct sigv4_request example_request(const char *method,
                                            const char *path,
                                            const char *query)
{
    struct sigv4_request r = {
        .method = method,
        .host = EXAMPLE_HOST,
        .path = path,
        .query = query,
        .payload_hash = SIGV4_EMPTY_SHA256,
        .amz_date = EXAMPLE_DATE,
        .region = "us-east-1",
        .service = "s3",
        .access_key_id = EXAMPLE_KEY_ID,
        .secret_access_key = EXAMPLE_SECRET,
    };
    return r;
}

/* Checks every step of r against AWS's published values. */
static void check_example(const struct sigv4_request *r, const char *creq,
                          const char *creq_hash, const char *signed_headers,
                          const char *signature)
{
    char *got = sigv4_canonical_request(r);
    assert_non_null(got);
    assert_string_equal(got, creq);
    char hash[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(got, strlen(got), hash);
    assert_string_equal(hash, creq_hash);
    free(got);

    char sts[256];
    snprintf(sts, sizeof(sts),
             "AWS4-HMAC-SHA256\n20130524T000000Z\n"
             "20130524/us-east-1/s3/aws4_request\n%s", creq_hash);
    got = sigv4_string_to_sign(r);
    assert_non_null(got);
    assert_string_equal(got, sts);
    free(got);

    char sig[SIGV4_HEX_LEN + 1];
    assert_int_equal(sigv4_signature(r, sig), 0);
    assert_string_equal(sig, signature);

    char want[512];
    snprintf(want, sizeof(want), "%sSignedHeaders=%s,Signature=%s",
             EXAMPLE_CREDENTIAL, signed_headers, signature);
    char auth[512];
    assert_int_equal(sigv4_authorization(r, auth, sizeof(auth)), 0);
    assert_string_equal(auth, want);
}

static void test_get_object_with_range(void **state)
{
    (void)state;
    struct sigv4_pair headers[] = {{"Range", "bytes=0-9"}};
    struct sigv4_request r = example_request("GET", "/test.txt", "");
    r.headers = headers;
    r.n_headers = 1;
    check_example(
        &r,
        "GET\n/test.txt\n\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "range:bytes=0-9\n"
        "x-amz-content-sha256:"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\n"
        "host;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_put_object(void **state)
{
    (void)state;
    const char *body = "Welcome to Amazon S3.";
    char body_hash[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(body, strlen(body), body_hash);
    assert_string_equal(
        body_hash,
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");

    /* The key "test$file.text" encodes to "test%24file.text". */
    char path[64] = "/";
    const char *key = "test$file.text";
    assert_int_equal(sigv4_uri_encode(key, strlen(key), true, path + 1,
                                      sizeof(path) - 1),
                     strlen("test%24file.text"));
    assert_string_equal(path, "/test%24file.text");

    struct sigv4_pair headers[] = {
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
    };
    struct sigv4_request r = example_request("PUT", path, NULL);
    r.headers = headers;
    r.n_headers = 2;
    r.payload_hash = body_hash;
    check_example(
        &r,
        "PUT\n/test%24file.text\n\n"
        "date:Fri, 24 May 2013 00:00:00 GMT\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:"
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
        "x-amz-date:20130524T000000Z\n"
        "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void test_get_bucket_lifecycle(void **state)
{
    (void)state;
    struct sigv4_pair params[] = {{"lifecycle", NULL}};
    char *query = sigv4_canonical_query(params, 1);
    assert_non_null(query);
    assert_string_equal(query, "lifecycle=");
    struct sigv4_request r = example_request("GET", "/", query);
    check_example(
        &r,
        "GET\n/\nlifecycle=\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\n"
        "host;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    free(query);
}

static void test_list_objects_sorts_the_query(void **state)
{
    (void)state;
    /* Given out of order, as a caller might: the signer sorts them. */
    struct sigv4_pair params[] = {{"prefix", "J"}, {"max-keys", "2"}};
    char *query = sigv4_canonical_query(params, 2);
    assert_non_null(query);
    assert_string_equal(query, "max-keys=2&prefix=J");
    struct sigv4_request r = example_request("GET", "/", query);
    check_example(
        &r,
        "GET\n/\nmax-keys=2&prefix=J\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\n"
        "host;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    free(query);
}

static void test_query_encoding(void **state)
{
    (void)state;
    /* Values are encoded, '/' included; sorting is by encoded name, then
     * value, byte-wise (upper case before lower case). */
    struct sigv4_pair params[] = {
        {"prefix", "a b/c+d~e"},
        {"list-type", "2"},
        {"delimiter", "/"},
        {"continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="},
        {"Z", ""},
    };
    char *query = sigv4_canonical_query(params, 5);
    assert_non_null(query);
    assert_string_equal(
        query,
        "Z=&continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2F"
        "wm36Hy4vbOwM%3D&delimiter=%2F&list-type=2&prefix=a%20b%2Fc%2Bd~e");
    free(query);

    char out[8];
    assert_int_equal(sigv4_uri_encode("a/b", 3, false, out, sizeof(out)),
                     5);
    assert_string_equal(out, "a%2Fb");
    /* A result that does not fit is refused, not truncated. */
    assert_int_equal(sigv4_uri_encode("a b c", 5, false, out, sizeof(out)),
                     (size_t)-1);
    /* Bytes above 0x7f are encoded one by one (UTF-8 stays UTF-8). */
    char wide[32];
    assert_int_equal(sigv4_uri_encode("\xc3\xa9", 2, true, wide,
                                      sizeof(wide)), 6);
    assert_string_equal(wide, "%C3%A9");
}

static void test_session_token_is_signed(void **state)
{
    (void)state;
    struct sigv4_request r = example_request("GET", "/test.txt", "");
    r.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
    char plain[SIGV4_HEX_LEN + 1];
    assert_int_equal(sigv4_signature(&r, plain), 0);

    r.session_token = "FQoGZXIvYXdzEXAMPLETOKEN";
    char *creq = sigv4_canonical_request(&r);
    assert_non_null(creq);
    assert_non_null(strstr(creq,
                           "\nx-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN\n"));
    assert_non_null(strstr(
        creq, "\nhost;x-amz-content-sha256;x-amz-date;x-amz-security-token\n"
              "UNSIGNED-PAYLOAD"));
    free(creq);
    char with_token[SIGV4_HEX_LEN + 1];
    assert_int_equal(sigv4_signature(&r, with_token), 0);
    assert_string_not_equal(plain, with_token);

    char auth[512];
    assert_int_equal(sigv4_authorization(&r, auth, sizeof(auth)), 0);
    assert_non_null(strstr(auth, "SignedHeaders=host;x-amz-content-sha256;"
                                 "x-amz-date;x-amz-security-token,"));
    /* The Authorization header never carries the secret or the token. */
    assert_null(strstr(auth, EXAMPLE_SECRET));
    assert_null(strstr(auth, "FQoGZXIvYXdz"));

    /* An empty token is no token. */
    r.session_token = "";
    char empty[SIGV4_HEX_LEN + 1];
    assert_int_equal(sigv4_signature(&r, empty), 0);
    assert_string_equal(plain, empty);
}

static void test_header_values_are_trimmed(void **state)
{
    (void)state;
    struct sigv4_pair headers[] = {{"X-Amz-Meta-Note", "  a   b\tc  "}};
    struct sigv4_request r = example_request("GET", "/k", "");
    r.headers = headers;
    r.n_headers = 1;
    char *creq = sigv4_canonical_request(&r);
    assert_non_null(creq);
    assert_non_null(strstr(creq, "\nx-amz-meta-note:a b c\n"));
    free(creq);
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    char auth[512];
    /* A control character in a value would make the signature ambiguous. */
    struct sigv4_pair bad_value[] = {{"range", "bytes=0-9\r\nx: y"}};
    struct sigv4_request r = example_request("GET", "/k", "");
    r.headers = bad_value;
    r.n_headers = 1;
    errno = 0;
    assert_int_equal(sigv4_authorization(&r, auth, sizeof(auth)), -1);
    assert_int_equal(errno, EINVAL);

    /* A header given twice (here Host, which the signer adds itself). */
    struct sigv4_pair dup[] = {{"Host", "other.example.com"}};
    r.headers = dup;
    errno = 0;
    assert_int_equal(sigv4_authorization(&r, auth, sizeof(auth)), -1);
    assert_int_equal(errno, EINVAL);

    /* A malformed date. */
    r = example_request("GET", "/k", "");
    r.amz_date = "2013-05-24";
    errno = 0;
    assert_null(sigv4_string_to_sign(&r));
    assert_int_equal(errno, EINVAL);

    /* A relative path. */
    r = example_request("GET", "k", "");
    assert_null(sigv4_canonical_request(&r));

    /* An output buffer too small for the header. */
    r = example_request("GET", "/k", "");
    errno = 0;
    assert_int_equal(sigv4_authorization(&r, auth, 40), -1);
    assert_int_equal(errno, ENOSPC);
}

static void test_amz_date(void **state)
{
    (void)state;
    char d[SIGV4_AMZ_DATE_LEN + 1];
    sigv4_amz_date((time_t)1369353600, d);
    assert_string_equal(d, "20130524T000000Z");
    sigv4_amz_date((time_t)0, d);
    assert_string_equal(d, "19700101T000000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_object_with_range),
        cmocka_unit_test(test_put_object),
        cmocka_unit_test(test_get_bucket_lifecycle),
        cmocka_unit_test(test_list_objects_sorts_the_query),
        cmocka_unit_test(test_query_encoding),
        cmocka_unit_test(test_session_token_is_signed),
        cmocka_unit_test(test_header_values_are_trimmed),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_amz_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
