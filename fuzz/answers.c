/*
 * answers: what servers answer — AWS error answers in JSON and XML
 * (aws_error, kinesis_get_records_error), S3's XML (UploadId, the uploads
 * of a listing, an error inside a 200 CompleteMultipartUpload, ETags) and
 * the Kinesis responses (ListShards, GetShardIterator, GetRecords,
 * PutRecords).  Input: an x-amzn-ErrorType header value, a newline, the
 * body.
 */
#include "aws.h"
#include "buf.h"
#include "http.h"
#include "kinesis.h"
#include "s3.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response r;
	struct kinesis_shard_list l;
	struct kinesis_records recs;
	struct kinesis_put_response pr;
	struct buf b = BUF_INIT;
	char code[128], msg[512], err[512], etag[S3_ETAG_MAX], **ids;
	char *body, *it = NULL;
	const uint8_t *rest;
	size_t hn, rn, n, i;

	rest = fz_split(data, size, &hn, &rn);
	memset(&r, 0, sizeof(r));
	memcpy(r.error_type, data, hn < sizeof(r.error_type) ? hn :
	    sizeof(r.error_type) - 1);
	body = fz_str(rest, rn);
	r.body = body;
	r.body_len = rn;
	r.status = 400;
	aws_error(&r, code, sizeof(code), msg, sizeof(msg));
	(void)aws_outcome(&r, err, sizeof(err));
	(void)kinesis_get_records_error(&r);
	(void)s3_upload_id(body, &b);
	if (s3_uploads_of(body, "k", "u", &ids, &n) == 0 || ids != NULL) {
		for (i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
	}
	(void)s3_complete_error(body, code, sizeof(code), msg, sizeof(msg));
	s3_complete_etag(body, "\"h\"", etag, sizeof(etag));
	s3_etag_plain(body, etag, sizeof(etag));
	memset(&l, 0, sizeof(l));
	(void)kinesis_list_shards_parse(body, rn, &l, err, sizeof(err));
	kinesis_shard_list_free(&l);
	if (kinesis_get_shard_iterator_parse(body, rn, &it, err,
	    sizeof(err)) == 0)
		free(it);
	if (kinesis_get_records_parse(body, rn, &recs, err, sizeof(err)) == 0)
		kinesis_records_free(&recs);
	memset(&pr, 0, sizeof(pr));
	if (kinesis_put_records_parse(body, rn, 3, &pr, err, sizeof(err)) == 0)
		kinesis_put_response_free(&pr);
	buf_free(&b);
	free(body);
	return 0;
}
