/*
 * s3addr_test - unit tests of S3 addressing (common/s3addr.c) and of the
 * FIPS and dual-stack AWS endpoints of Kinesis and S3 (awsconf_endpoint()),
 * no server: a table of service, region, FIPS and dual-stack flags,
 * addressing style, bucket and custom endpoint -> the URL a request goes
 * to (below it: "/KEY").
 *
 * The expected URLs are botocore's (1.43): its EndpointProvider run on
 * botocore/data/{s3,kinesis}/.../endpoint-rule-set-1.json with
 * partitions.json, ForcePathStyle derived from addressing_style as
 * botocore/args.py derives it, and UseFIPS/UseDualStack dropped when an
 * endpoint URL is given (args.py: "SDK_ENDPOINT cannot be combined with
 * AWS_USE_FIPS").  One deliberate difference: a bucket with dots in front
 * of an IP-address endpoint with addressing_style = virtual, which the
 * rule set makes http://my.bucket.127.0.0.1:4569, stays path style here
 * (an IP address has no sub-domains).  Empty expectation: an error
 * (S3 FIPS in aws-cn: "Partition does not support FIPS").
 *
 *   s3addr_test [-v]
 *
 * Then aws_s3_redirect() on the answers S3 gives a request signed for the
 * wrong region (no request is sent: only answers that name the region are
 * handed to it): which answers count, the region and endpoint remembered
 * for the bucket (AWS's of the new region, FIPS kept; a custom endpoint
 * kept as it is).
 *
 * Prints TAP (tap.h) and exits 0 when every check passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws.h"
#include "awsconf.h"
#include "http.h"
#include "s3addr.h"
#include "tap.h"

struct row {
	const char *service, *region;
	int fips, dualstack;
	enum s3addr_style style;
	const char *bucket, *endpoint, *want;
};

static const struct row rows[] = {
	{ "S3", "us-east-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.us-east-1.amazonaws.com" },
	{ "S3", "us-east-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.us-east-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-east-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-east-1.amazonaws.com" },
	{ "S3", "us-east-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.us-east-1.amazonaws.com" },
	{ "S3", "us-east-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.us-east-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-east-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-east-1.api.aws" },
	{ "S3", "us-east-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.us-east-1.amazonaws.com" },
	{ "S3", "us-east-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.us-east-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-east-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-east-1.amazonaws.com" },
	{ "S3", "us-east-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.us-east-1.amazonaws.com" },
	{ "S3", "us-east-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.us-east-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-east-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-east-1.api.aws" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.eu-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "eu-west-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.eu-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "eu-west-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.eu-west-1.api.aws" },
	{ "S3", "eu-west-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.eu-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "eu-west-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.eu-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "eu-west-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.eu-west-1.api.aws" },
	{ "S3", "us-gov-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.us-gov-west-1.amazonaws.com" },
	{ "S3", "us-gov-west-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.us-gov-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-gov-west-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-gov-west-1.amazonaws.com" },
	{ "S3", "us-gov-west-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.us-gov-west-1.amazonaws.com" },
	{ "S3", "us-gov-west-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.us-gov-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-gov-west-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-gov-west-1.api.aws" },
	{ "S3", "us-gov-west-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.us-gov-west-1.amazonaws.com" },
	{ "S3", "us-gov-west-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.us-gov-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-gov-west-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-gov-west-1.amazonaws.com" },
	{ "S3", "us-gov-west-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.us-gov-west-1.amazonaws.com" },
	{ "S3", "us-gov-west-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.us-gov-west-1.amazonaws.com/my-bucket" },
	{ "Kinesis", "us-gov-west-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-gov-west-1.api.aws" },
	{ "S3", "cn-north-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.cn-north-1.amazonaws.com.cn" },
	{ "S3", "cn-north-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.cn-north-1.amazonaws.com.cn/my-bucket" },
	{ "Kinesis", "cn-north-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.cn-north-1.amazonaws.com.cn" },
	{ "S3", "cn-north-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.cn-north-1.amazonaws.com.cn" },
	{ "S3", "cn-north-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.cn-north-1.amazonaws.com.cn/my-bucket" },
	{ "Kinesis", "cn-north-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.cn-north-1.api.amazonwebservices.com.cn" },
	{ "S3", "cn-north-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, NULL },
	{ "S3", "cn-north-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, NULL },
	{ "Kinesis", "cn-north-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.cn-north-1.amazonaws.com.cn" },
	{ "S3", "cn-north-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, NULL },
	{ "S3", "cn-north-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, NULL },
	{ "Kinesis", "cn-north-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.cn-north-1.api.amazonwebservices.com.cn" },
	{ "S3", "us-iso-east-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.us-iso-east-1.c2s.ic.gov" },
	{ "S3", "us-iso-east-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.us-iso-east-1.c2s.ic.gov/my-bucket" },
	{ "Kinesis", "us-iso-east-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-iso-east-1.c2s.ic.gov" },
	{ "S3", "us-iso-east-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.us-iso-east-1.c2s.ic.gov" },
	{ "S3", "us-iso-east-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.us-iso-east-1.c2s.ic.gov/my-bucket" },
	{ "Kinesis", "us-iso-east-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-iso-east-1.api.aws.ic.gov" },
	{ "S3", "us-iso-east-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.us-iso-east-1.c2s.ic.gov" },
	{ "S3", "us-iso-east-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.us-iso-east-1.c2s.ic.gov/my-bucket" },
	{ "Kinesis", "us-iso-east-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-iso-east-1.c2s.ic.gov" },
	{ "S3", "us-iso-east-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.us-iso-east-1.c2s.ic.gov" },
	{ "S3", "us-iso-east-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.us-iso-east-1.c2s.ic.gov/my-bucket" },
	{ "Kinesis", "us-iso-east-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-iso-east-1.api.aws.ic.gov" },
	{ "S3", "us-isob-east-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.us-isob-east-1.sc2s.sgov.gov" },
	{ "S3", "us-isob-east-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.us-isob-east-1.sc2s.sgov.gov/my-bucket" },
	{ "Kinesis", "us-isob-east-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-isob-east-1.sc2s.sgov.gov" },
	{ "S3", "us-isob-east-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.us-isob-east-1.sc2s.sgov.gov" },
	{ "S3", "us-isob-east-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.us-isob-east-1.sc2s.sgov.gov/my-bucket" },
	{ "Kinesis", "us-isob-east-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-isob-east-1.api.aws.scloud" },
	{ "S3", "us-isob-east-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.us-isob-east-1.sc2s.sgov.gov" },
	{ "S3", "us-isob-east-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.us-isob-east-1.sc2s.sgov.gov/my-bucket" },
	{ "Kinesis", "us-isob-east-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-isob-east-1.sc2s.sgov.gov" },
	{ "S3", "us-isob-east-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.us-isob-east-1.sc2s.sgov.gov" },
	{ "S3", "us-isob-east-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.us-isob-east-1.sc2s.sgov.gov/my-bucket" },
	{ "Kinesis", "us-isob-east-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-isob-east-1.api.aws.scloud" },
	{ "S3", "us-isof-south-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.us-isof-south-1.csp.hci.ic.gov" },
	{ "S3", "us-isof-south-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.us-isof-south-1.csp.hci.ic.gov/my-bucket" },
	{ "Kinesis", "us-isof-south-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-isof-south-1.csp.hci.ic.gov" },
	{ "S3", "us-isof-south-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.us-isof-south-1.csp.hci.ic.gov" },
	{ "S3", "us-isof-south-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.us-isof-south-1.csp.hci.ic.gov/my-bucket" },
	{ "Kinesis", "us-isof-south-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.us-isof-south-1.api.aws.hci.ic.gov" },
	{ "S3", "us-isof-south-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.us-isof-south-1.csp.hci.ic.gov" },
	{ "S3", "us-isof-south-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.us-isof-south-1.csp.hci.ic.gov/my-bucket" },
	{ "Kinesis", "us-isof-south-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-isof-south-1.csp.hci.ic.gov" },
	{ "S3", "us-isof-south-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.us-isof-south-1.csp.hci.ic.gov" },
	{ "S3", "us-isof-south-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.us-isof-south-1.csp.hci.ic.gov/my-bucket" },
	{ "Kinesis", "us-isof-south-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.us-isof-south-1.api.aws.hci.ic.gov" },
	{ "S3", "eu-isoe-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.eu-isoe-west-1.cloud.adc-e.uk" },
	{ "S3", "eu-isoe-west-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.eu-isoe-west-1.cloud.adc-e.uk/my-bucket" },
	{ "Kinesis", "eu-isoe-west-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.eu-isoe-west-1.cloud.adc-e.uk" },
	{ "S3", "eu-isoe-west-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.eu-isoe-west-1.cloud.adc-e.uk" },
	{ "S3", "eu-isoe-west-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.eu-isoe-west-1.cloud.adc-e.uk/my-bucket" },
	{ "Kinesis", "eu-isoe-west-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.eu-isoe-west-1.api.cloud-aws.adc-e.uk" },
	{ "S3", "eu-isoe-west-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.eu-isoe-west-1.cloud.adc-e.uk" },
	{ "S3", "eu-isoe-west-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.eu-isoe-west-1.cloud.adc-e.uk/my-bucket" },
	{ "Kinesis", "eu-isoe-west-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.eu-isoe-west-1.cloud.adc-e.uk" },
	{ "S3", "eu-isoe-west-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.eu-isoe-west-1.cloud.adc-e.uk" },
	{ "S3", "eu-isoe-west-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.eu-isoe-west-1.cloud.adc-e.uk/my-bucket" },
	{ "Kinesis", "eu-isoe-west-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.eu-isoe-west-1.api.cloud-aws.adc-e.uk" },
	{ "S3", "eusc-de-east-1", 0, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.eusc-de-east-1.amazonaws.eu" },
	{ "S3", "eusc-de-east-1", 0, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3.eusc-de-east-1.amazonaws.eu/my-bucket" },
	{ "Kinesis", "eusc-de-east-1", 0, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis.eusc-de-east-1.amazonaws.eu" },
	{ "S3", "eusc-de-east-1", 0, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3.dualstack.eusc-de-east-1.amazonaws.eu" },
	{ "S3", "eusc-de-east-1", 0, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3.dualstack.eusc-de-east-1.amazonaws.eu/my-bucket" },
	{ "Kinesis", "eusc-de-east-1", 0, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis.eusc-de-east-1.api.amazonwebservices.eu" },
	{ "S3", "eusc-de-east-1", 1, 0, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.eusc-de-east-1.amazonaws.eu" },
	{ "S3", "eusc-de-east-1", 1, 0, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.eusc-de-east-1.amazonaws.eu/my-bucket" },
	{ "Kinesis", "eusc-de-east-1", 1, 0, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.eusc-de-east-1.amazonaws.eu" },
	{ "S3", "eusc-de-east-1", 1, 1, S3ADDR_AUTO, "my-bucket", NULL, "https://my-bucket.s3-fips.dualstack.eusc-de-east-1.amazonaws.eu" },
	{ "S3", "eusc-de-east-1", 1, 1, S3ADDR_PATH, "my-bucket", NULL, "https://s3-fips.dualstack.eusc-de-east-1.amazonaws.eu/my-bucket" },
	{ "Kinesis", "eusc-de-east-1", 1, 1, S3ADDR_AUTO, NULL, NULL, "https://kinesis-fips.eusc-de-east-1.api.amazonwebservices.eu" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my.bucket", NULL, "https://s3.eu-west-1.amazonaws.com/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my.bucket", NULL, "https://s3.eu-west-1.amazonaws.com/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "a--b", NULL, "https://a--b.s3.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "a--b", NULL, "https://a--b.s3.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "xn--abc", NULL, "https://xn--abc.s3.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "xn--abc", NULL, "https://xn--abc.s3.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "1.2.3.4", NULL, "https://s3.eu-west-1.amazonaws.com/1.2.3.4" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "1.2.3.4", NULL, "https://s3.eu-west-1.amazonaws.com/1.2.3.4" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "abc-s3alias", NULL, "https://abc-s3alias.s3.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "abc-s3alias", NULL, "https://abc-s3alias.s3.eu-west-1.amazonaws.com" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "a.-b", NULL, "https://s3.eu-west-1.amazonaws.com/a.-b" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "a.-b", NULL, "https://s3.eu-west-1.amazonaws.com/a.-b" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", "http://localhost:4569", "http://localhost:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my-bucket", "http://localhost:4569", "http://localhost:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my-bucket", "http://localhost:4569", "http://my-bucket.localhost:4569" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my.bucket", "http://localhost:4569", "http://localhost:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my.bucket", "http://localhost:4569", "http://localhost:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my.bucket", "http://localhost:4569", "http://my.bucket.localhost:4569" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", "https://localhost:4569", "https://localhost:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my-bucket", "https://localhost:4569", "https://localhost:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my-bucket", "https://localhost:4569", "https://my-bucket.localhost:4569" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my.bucket", "https://localhost:4569", "https://localhost:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my.bucket", "https://localhost:4569", "https://localhost:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my.bucket", "https://localhost:4569", "https://localhost:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", "https://proxy.example/s3", "https://proxy.example/s3/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my-bucket", "https://proxy.example/s3", "https://proxy.example/s3/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my-bucket", "https://proxy.example/s3", "https://my-bucket.proxy.example/s3" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my.bucket", "https://proxy.example/s3", "https://proxy.example/s3/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my.bucket", "https://proxy.example/s3", "https://proxy.example/s3/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my.bucket", "https://proxy.example/s3", "https://proxy.example/s3/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", "http://127.0.0.1:4569", "http://127.0.0.1:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my-bucket", "http://127.0.0.1:4569", "http://127.0.0.1:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my-bucket", "http://127.0.0.1:4569", "http://127.0.0.1:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my.bucket", "http://127.0.0.1:4569", "http://127.0.0.1:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my.bucket", "http://127.0.0.1:4569", "http://127.0.0.1:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my.bucket", "http://127.0.0.1:4569", "http://127.0.0.1:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my-bucket", "http://[::1]:4569", "http://[::1]:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my-bucket", "http://[::1]:4569", "http://[::1]:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my-bucket", "http://[::1]:4569", "http://[::1]:4569/my-bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_AUTO, "my.bucket", "http://[::1]:4569", "http://[::1]:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_PATH, "my.bucket", "http://[::1]:4569", "http://[::1]:4569/my.bucket" },
	{ "S3", "eu-west-1", 0, 0, S3ADDR_VIRTUAL, "my.bucket", "http://[::1]:4569", "http://[::1]:4569/my.bucket" },
	{ "S3", "eu-west-1", 1, 0, S3ADDR_AUTO, "my-bucket", "http://localhost:4569", "http://localhost:4569/my-bucket" },
	{ "Kinesis", "eu-west-1", 1, 0, S3ADDR_AUTO, NULL, "http://localhost:4567", "http://localhost:4567" },
	{ "S3", "eu-west-1", 0, 1, S3ADDR_AUTO, "my-bucket", "http://localhost:4569", "http://localhost:4569/my-bucket" },
	{ "Kinesis", "eu-west-1", 0, 1, S3ADDR_AUTO, NULL, "http://localhost:4567", "http://localhost:4567" },
	{ "S3", "eu-west-1", 1, 1, S3ADDR_AUTO, "my-bucket", "http://localhost:4569", "http://localhost:4569/my-bucket" },
	{ "Kinesis", "eu-west-1", 1, 1, S3ADDR_AUTO, NULL, "http://localhost:4567", "http://localhost:4567" },
};

/* The URL of one row into out (""  on an error). */
static void
resolve(const struct row *r, char *out, size_t outsz)
{
	struct awsconf_endpoint ep;
	char err[AWSCONF_ERRSZ], *url = NULL, *bpath = NULL;

	out[0] = '\0';
	if (r->fips)
		setenv("AWS_USE_FIPS_ENDPOINT", "true", 1);
	else
		unsetenv("AWS_USE_FIPS_ENDPOINT");
	if (r->dualstack)
		setenv("AWS_USE_DUALSTACK_ENDPOINT", "TRUE", 1);
	else
		unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
	if (awsconf_endpoint(NULL, r->service, r->endpoint, r->region, &ep,
	    err, sizeof(err)) != 0) {
		if (verbose)
			diag("%s", err);
		return;
	}
	if (r->bucket == NULL)
		snprintf(out, outsz, "%s", ep.url);
	else if (s3addr_url(r->bucket, ep.url, s3addr_virtual(r->bucket,
	    ep.url, ep.custom, r->style), &url, &bpath) == 0)
		snprintf(out, outsz, "%s%s", url, bpath);
	free(url);
	free(bpath);
	awsconf_endpoint_clear(&ep);
}

/* The region and endpoint of bucket in c. */
static void
check_region(const struct aws_client *c, const char *bucket,
    const char *region, const char *endpoint, const char *what)
{
	const char *r = aws_bucket_region(c, bucket);
	const char *e = aws_bucket_endpoint(c, bucket);

	if (!check(strcmp(r, region) == 0 && strcmp(e, endpoint) == 0, "%s",
	    what))
		diag("got %s at %s", r, e);
}

static void
test_table(void)
{
	size_t i;
	char got[512];

	section("the table: service, region, FIPS, dual-stack, style -> URL");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		const char *want = r->want != NULL ? r->want : "";

		resolve(r, got, sizeof(got));
		if (!check(strcmp(got, want) == 0, "%s %s%s%s %d %s %s -> %s",
		    r->service, r->region, r->fips ? " fips" : "",
		    r->dualstack ? " dualstack" : "", (int)r->style,
		    r->bucket ? r->bucket : "-",
		    r->endpoint ? r->endpoint : "AWS", want[0] ? want : "error"))
			diag("got: %s", got[0] ? got : "an error");
	}
	unsetenv("AWS_USE_FIPS_ENDPOINT");
	unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
}

static void
test_style_and_flags(void)
{
	enum s3addr_style st = S3ADDR_AUTO;
	struct awsconf_endpoint ep;
	char err[AWSCONF_ERRSZ];

	section("addressing_style values; flag values");
	check(s3addr_style_parse("path", &st) == 0 && st == S3ADDR_PATH,
	    "path");
	check(s3addr_style_parse("Virtual", &st) == 0 && st == S3ADDR_VIRTUAL,
	    "Virtual (any case)");
	check(s3addr_style_parse("auto", &st) == 0 && st == S3ADDR_AUTO,
	    "auto");
	check(s3addr_style_parse("vhost", &st) != 0, "vhost is refused");
	check(s3addr_style_parse("", &st) != 0, "empty is refused");
	/* Only "true" (any case) turns a variant on, as botocore's
	 * ensure_boolean reads it. */
	setenv("AWS_USE_FIPS_ENDPOINT", "1", 1);
	check(awsconf_endpoint(NULL, "S3", NULL, "eu-west-1", &ep, err,
	    sizeof(err)) == 0 && strcmp(ep.url,
	    "https://s3.eu-west-1.amazonaws.com") == 0 && !ep.fips,
	    "AWS_USE_FIPS_ENDPOINT=1 is not true");
	awsconf_endpoint_clear(&ep);
	setenv("AWS_USE_FIPS_ENDPOINT", "True", 1);
	check(awsconf_endpoint(NULL, "Kinesis", NULL, "eu-west-1", &ep, err,
	    sizeof(err)) == 0 && strcmp(ep.url,
	    "https://kinesis-fips.eu-west-1.amazonaws.com") == 0 && ep.fips,
	    "AWS_USE_FIPS_ENDPOINT=True is");
	awsconf_endpoint_clear(&ep);
	check(awsconf_endpoint(NULL, "STS", NULL, "eu-west-1", &ep, err,
	    sizeof(err)) == 0 && strcmp(ep.url,
	    "https://sts.eu-west-1.amazonaws.com") == 0 && !ep.fips,
	    "other services: no variant");
	awsconf_endpoint_clear(&ep);
	unsetenv("AWS_USE_FIPS_ENDPOINT");
	check(awsconf_endpoint(NULL, "S3", NULL, "cn-north-1", &ep, err,
	    sizeof(err)) == 0 && strcmp(ep.url,
	    "https://s3.cn-north-1.amazonaws.com.cn") == 0, "cn without FIPS");
	awsconf_endpoint_clear(&ep);
}

/* A new S3 (or Kinesis) client in us-east-1, endpoint_url NULL: AWS's. */
static struct aws_client *
client(const char *service, const char *endpoint_url)
{
	struct aws_opts o;
	struct aws_client *c;
	char err[512];
	int usage;

	aws_opts_init(&o);
	o.region = "us-east-1";
	o.endpoint_url = endpoint_url;
	c = aws_client_new(service, strcmp(service, "S3") == 0 ? "s3" :
	    "kinesis", &o, err, sizeof(err), &usage);
	if (c == NULL)
		diag("aws_client_new: %s", err);
	return c;
}

/* An answer: status, x-amz-bucket-region and body (borrowed). */
static struct http_response
answer(long status, const char *bucket_region, const char *body)
{
	struct http_response r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.retry_after_ms = -1;
	snprintf(r.bucket_region, sizeof(r.bucket_region), "%s",
	    bucket_region);
	r.body = (char *)body;
	r.body_len = body != NULL ? strlen(body) : 0;
	return r;
}

#define MALFORMED(region) "<Error><Code>AuthorizationHeaderMalformed</Code>" \
	"<Message>the region 'us-east-1' is wrong</Message>" region \
	"<RequestId>R</RequestId></Error>"

static void
test_redirects(void)
{
	struct aws_client *c = client("S3", NULL), *k;
	struct http_response r;

	section("redirects: which answers, and what is remembered");
	if (c == NULL)
		return;
	r = answer(200, "eu-west-1", NULL);
	check(!aws_s3_redirect(c, "b1", 0, &r), "200: none");
	r = answer(403, "", "<Error><Code>AccessDenied</Code></Error>");
	check(!aws_s3_redirect(c, "b1", 0, &r), "403 AccessDenied: none");
	r = answer(400, "", MALFORMED(""));
	check(!aws_s3_redirect(c, "b1", 0, &r),
	    "AuthorizationHeaderMalformed without <Region>: none");
	r = answer(301, "EU WEST", "");
	check(!aws_s3_redirect(c, "b1", 1, &r),
	    "a region that is no region name: none");
	check_region(c, "b1", "us-east-1", "https://s3.us-east-1.amazonaws.com",
	    "so b1 stays in us-east-1");
	r = answer(301, "eu-west-1", "<Error><Code>PermanentRedirect</Code>"
	    "</Error>");
	check(aws_s3_redirect(c, "b1", 0, &r), "301 PermanentRedirect with "
	    "x-amz-bucket-region: redirected");
	check_region(c, "b1", "eu-west-1", "https://s3.eu-west-1.amazonaws.com",
	    "b1: eu-west-1, its endpoint");
	check_region(c, "b2", "us-east-1", "https://s3.us-east-1.amazonaws.com",
	    "b2 is not b1");
	r = answer(400, "", MALFORMED("<Region>ap-south-1</Region>"));
	check(aws_s3_redirect(c, "b2", 0, &r), "400 AuthorizationHeaderMalformed "
	    "with <Region>: redirected");
	check_region(c, "b2", "ap-south-1", "https://s3.ap-south-1.amazonaws.com",
	    "b2: ap-south-1");
	r = answer(307, "us-west-2", "");
	check(aws_s3_redirect(c, "b1", 0, &r), "307 with x-amz-bucket-region");
	check_region(c, "b1", "us-west-2", "https://s3.us-west-2.amazonaws.com",
	    "b1 moved again: us-west-2");
	r = answer(400, "eu-north-1", "");
	check(aws_s3_redirect(c, "b3", 1, &r), "400 to a HEAD with the header");
	check_region(c, "b3", "eu-north-1",
	    "https://s3.eu-north-1.amazonaws.com", "b3: eu-north-1");
	aws_client_free(c);

	setenv("AWS_USE_FIPS_ENDPOINT", "true", 1);
	c = client("S3", NULL);
	r = answer(301, "us-east-2", "");
	check(c != NULL && aws_s3_redirect(c, "b1", 0, &r), "FIPS: redirected");
	if (c != NULL)
		check_region(c, "b1", "us-east-2",
		    "https://s3-fips.us-east-2.amazonaws.com",
		    "FIPS: the new region's FIPS endpoint");
	aws_client_free(c);
	unsetenv("AWS_USE_FIPS_ENDPOINT");

	c = client("S3", "http://localhost:4569/s3");
	r = answer(301, "eu-west-1", "");
	check(c != NULL && aws_s3_redirect(c, "b1", 0, &r),
	    "custom endpoint: redirected");
	if (c != NULL)
		check_region(c, "b1", "eu-west-1", "http://localhost:4569/s3",
		    "custom endpoint: kept; the signing region changes");
	aws_client_free(c);

	k = client("Kinesis", NULL);
	r = answer(301, "eu-west-1", "");
	check(k != NULL && !aws_s3_redirect(k, "b1", 0, &r),
	    "Kinesis: never");
	aws_client_free(k);
}

int
main(int argc, char **argv)
{
	if (tap_begin("s3addr_test", argc, argv) != 0)
		return 2;
	/* No file may turn a variant on behind the table's back. */
	setenv("AWS_CONFIG_FILE", "/nonexistent/kinpipe-config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/kinpipe-creds", 1);
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_ENDPOINT_URL_KINESIS");
	test_table();
	test_style_and_flags();
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s3addr-test-secret", 1);
	unsetenv("AWS_PROFILE");
	test_redirects();
	return tap_end();
}
