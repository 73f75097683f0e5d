/*
 * This file implements the unit tests of the S3 XML parsers
 * (common/s3_xml.c): ListObjectsV2 pages (objects, common prefixes,
 * truncation and the continuation token, entities in keys, appending
 * pages), refusal of malformed or foreign documents and of a truncated
 * page without a token, S3 error documents (Code and Message, including
 * one with unknown elements), and the UploadId of a multipart upload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_xml.h"

static const char page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bucket</Name><Prefix>in/</Prefix><KeyCount>3</KeyCount>"
    "<MaxKeys>2</MaxKeys><Delimiter>/</Delimiter>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>in/</Key><LastModified>2024-01-01T00:00:00.000Z"
    "</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;"
    "</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>in/a &amp; b.jsonl</Key>"
    "<ETag>\"0123\"</ETag><Size>18446744073709551615</Size></Contents>"
    "<CommonPrefixes><Prefix>in/sub/</Prefix></CommonPrefixes>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    "</NextContinuationToken>"
    "</ListBucketResult>";

static const char page2[] =
    "<ListBucketResult><IsTruncated>false</IsTruncated>"
    "<Contents><Key>in/z.csv</Key><Size>42</Size></Contents>"
    "</ListBucketResult>";

static void test_list_page(void **state)
{
    (void)state;
    struct s3_list l;
    char err[256];
    assert_int_equal(s3_xml_parse_list(page1, strlen(page1), &l, err,
                                       sizeof(err)), 0);
    assert_int_equal(l.n_objects, 2);
    assert_string_equal(l.objects[0].key, "in/");
    assert_int_equal(l.objects[0].size, 0);
    assert_string_equal(l.objects[0].etag,
                        "\"d41d8cd98f00b204e9800998ecf8427e\"");
    assert_string_equal(l.objects[1].key, "in/a & b.jsonl");
    assert_true(l.objects[1].size == UINT64_MAX);
    assert_int_equal(l.n_prefixes, 1);
    assert_string_equal(l.prefixes[0], "in/sub/");
    assert_true(l.truncated);
    assert_string_equal(l.next_token,
                        "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

    struct s3_list l2;
    assert_int_equal(s3_xml_parse_list(page2, strlen(page2), &l2, err,
                                       sizeof(err)), 0);
    assert_false(l2.truncated);
    assert_null(l2.next_token);
    assert_int_equal(l2.objects[0].size, 42);
    /* The etag of an object without one is "", never NULL. */
    assert_string_equal(l2.objects[0].etag, "");

    assert_int_equal(s3_list_append(&l, &l2), 0);
    assert_int_equal(l.n_objects, 3);
    assert_string_equal(l.objects[2].key, "in/z.csv");
    assert_int_equal(l2.n_objects, 0);
    s3_list_free(&l2);
    s3_list_free(&l);
    assert_null(l.objects);
}

static void test_list_empty(void **state)
{
    (void)state;
    const char *xml = "<ListBucketResult><KeyCount>0</KeyCount>"
                      "<IsTruncated>false</IsTruncated></ListBucketResult>";
    struct s3_list l;
    char err[256];
    assert_int_equal(s3_xml_parse_list(xml, strlen(xml), &l, err,
                                       sizeof(err)), 0);
    assert_int_equal(l.n_objects, 0);
    assert_int_equal(l.n_prefixes, 0);
    s3_list_free(&l);
}

static void expect_list_refused(const char *xml, const char *why)
{
    struct s3_list l;
    char err[256] = "";
    assert_int_equal(s3_xml_parse_list(xml, strlen(xml), &l, err,
                                       sizeof(err)), -1);
    if (strstr(err, why) == NULL) {
        fail_msg("'%s' does not say '%s'", err, why);
    }
    assert_null(l.objects);
    assert_int_equal(l.n_objects, 0);
}

static void test_list_refused(void **state)
{
    (void)state;
    expect_list_refused("<ListBucketResult><Contents><Key>a</Key>",
                        "malformed XML");
    expect_list_refused("not xml at all", "malformed XML");
    expect_list_refused("<Error><Code>NoSuchBucket</Code></Error>",
                        "not a ListBucketResult");
    expect_list_refused("<ListBucketResult><Contents><Key>a</Key>"
                        "<Size>-1</Size></Contents></ListBucketResult>",
                        "bad Size");
    expect_list_refused("<ListBucketResult><Contents><Key>a</Key>"
                        "<Size>12x</Size></Contents></ListBucketResult>",
                        "bad Size");
    /* strtoull would read " -1" as 2^64 - 1 and "+5" as 5: digits only. */
    expect_list_refused("<ListBucketResult><Contents><Key>a</Key>"
                        "<Size> -1</Size></Contents></ListBucketResult>",
                        "bad Size");
    expect_list_refused("<ListBucketResult><Contents><Key>a</Key>"
                        "<Size>+5</Size></Contents></ListBucketResult>",
                        "bad Size");
    expect_list_refused("<ListBucketResult><Contents><Key>a</Key>"
                        "<Size>\n5</Size></Contents></ListBucketResult>",
                        "bad Size");
    expect_list_refused("<ListBucketResult><Contents><Size>1</Size>"
                        "</Contents></ListBucketResult>",
                        "without a Key");
    expect_list_refused("<ListBucketResult><Contents><Key>a</Key>"
                        "</Contents></ListBucketResult>",
                        "without a Size");
    /* A truncated page must say where to continue, or a listing would
     * silently stop early. */
    expect_list_refused("<ListBucketResult><IsTruncated>true</IsTruncated>"
                        "</ListBucketResult>",
                        "NextContinuationToken");
    /* An over-long element is refused, not allocated. */
    size_t n = S3_XML_MAX_TEXT + 100;
    char *big = malloc(n + 128);
    assert_non_null(big);
    int k = sprintf(big, "<ListBucketResult><Contents><Key>");
    memset(big + k, 'a', n);
    strcpy(big + k + n, "</Key><Size>1</Size></Contents></ListBucketResult>");
    expect_list_refused(big, "too long");
    free(big);
}

static void test_error_document(void **state)
{
    (void)state;
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>The request signature we calculated does not match the "
        "signature you provided.</Message>"
        "<StringToSign>AWS4-HMAC-SHA256</StringToSign>"
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    struct s3_error_doc e;
    assert_int_equal(s3_xml_parse_error(xml, strlen(xml), &e), 0);
    assert_string_equal(e.code, "SignatureDoesNotMatch");
    assert_string_equal(e.message,
                        "The request signature we calculated does not match "
                        "the signature you provided.");

    const char *slow = "<Error><Code>SlowDown</Code></Error>";
    assert_int_equal(s3_xml_parse_error(slow, strlen(slow), &e), 0);
    assert_string_equal(e.code, "SlowDown");
    assert_string_equal(e.message, "");

    /* Not an error document: no Code, another root, not XML, nothing. */
    const char *no_code = "<Error><Message>x</Message></Error>";
    assert_int_equal(s3_xml_parse_error(no_code, strlen(no_code), &e), -1);
    assert_string_equal(e.message, "");
    assert_int_equal(s3_xml_parse_error(page2, strlen(page2), &e), -1);
    assert_int_equal(s3_xml_parse_error("<html>", 6, &e), -1);
    assert_int_equal(s3_xml_parse_error(NULL, 0, &e), -1);
    /* A Code nested elsewhere is not the error's code. */
    const char *nested = "<Other><Error><Code>X</Code></Error></Other>";
    assert_int_equal(s3_xml_parse_error(nested, strlen(nested), &e), -1);
}

static void test_upload_id(void **state)
{
    (void)state;
    const char *xml =
        "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/"
        "2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>"
        "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
        "</UploadId></InitiateMultipartUploadResult>";
    char id[128];
    assert_int_equal(s3_xml_parse_upload_id(xml, strlen(xml), id,
                                            sizeof(id)), 0);
    assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnR"
                            "zIHVwbG9hZA");
    char small[8];
    assert_int_equal(s3_xml_parse_upload_id(xml, strlen(xml), small,
                                            sizeof(small)), -1);
    const char *none = "<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                       "</InitiateMultipartUploadResult>";
    assert_int_equal(s3_xml_parse_upload_id(none, strlen(none), id,
                                            sizeof(id)), -1);
    assert_string_equal(id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_page),
        cmocka_unit_test(test_list_empty),
        cmocka_unit_test(test_list_refused),
        cmocka_unit_test(test_error_document),
        cmocka_unit_test(test_upload_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
