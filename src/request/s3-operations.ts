// S3 REST operations as data: (method, target, sub-resource) → API action and
// IAM action, per "Actions, resources, and condition keys for Amazon S3".
// Sub-resource requests map to their own IAM actions, never silently to
// GetObject/PutObject. Anything not here is refused.
// Pure data.

export type S3Target = 'service' | 'bucket' | 'object';

export interface S3OperationSpec {
  readonly apiAction: string;
  readonly iamAction: string;
  readonly readOnly: boolean;
}

const op = (apiAction: string, iamAction: string, readOnly: boolean): S3OperationSpec => ({ apiAction, iamAction: `s3:${iamAction}`, readOnly });

/** Key: `${METHOD} ${target} ${subresource or '-'}`. */
export const S3_OPERATIONS: Readonly<Record<string, S3OperationSpec>> = {
  'GET service -': op('ListBuckets', 'ListAllMyBuckets', true),

  'GET bucket -': op('ListObjects', 'ListBucket', true),
  'GET bucket list-type=2': op('ListObjectsV2', 'ListBucket', true),
  'HEAD bucket -': op('HeadBucket', 'ListBucket', true),
  'PUT bucket -': op('CreateBucket', 'CreateBucket', false),
  'DELETE bucket -': op('DeleteBucket', 'DeleteBucket', false),
  'GET bucket versions': op('ListObjectVersions', 'ListBucketVersions', true),
  'GET bucket uploads': op('ListMultipartUploads', 'ListBucketMultipartUploads', true),
  'GET bucket location': op('GetBucketLocation', 'GetBucketLocation', true),
  'GET bucket policy': op('GetBucketPolicy', 'GetBucketPolicy', true),
  'PUT bucket policy': op('PutBucketPolicy', 'PutBucketPolicy', false),
  'DELETE bucket policy': op('DeleteBucketPolicy', 'DeleteBucketPolicy', false),
  'GET bucket policyStatus': op('GetBucketPolicyStatus', 'GetBucketPolicyStatus', true),
  'GET bucket acl': op('GetBucketAcl', 'GetBucketAcl', true),
  'PUT bucket acl': op('PutBucketAcl', 'PutBucketAcl', false),
  'GET bucket tagging': op('GetBucketTagging', 'GetBucketTagging', true),
  'PUT bucket tagging': op('PutBucketTagging', 'PutBucketTagging', false),
  'DELETE bucket tagging': op('DeleteBucketTagging', 'PutBucketTagging', false),
  'GET bucket versioning': op('GetBucketVersioning', 'GetBucketVersioning', true),
  'PUT bucket versioning': op('PutBucketVersioning', 'PutBucketVersioning', false),
  'GET bucket cors': op('GetBucketCors', 'GetBucketCORS', true),
  'PUT bucket cors': op('PutBucketCors', 'PutBucketCORS', false),
  'DELETE bucket cors': op('DeleteBucketCors', 'PutBucketCORS', false),
  'GET bucket lifecycle': op('GetBucketLifecycleConfiguration', 'GetLifecycleConfiguration', true),
  'PUT bucket lifecycle': op('PutBucketLifecycleConfiguration', 'PutLifecycleConfiguration', false),
  'DELETE bucket lifecycle': op('DeleteBucketLifecycle', 'PutLifecycleConfiguration', false),
  'GET bucket encryption': op('GetBucketEncryption', 'GetEncryptionConfiguration', true),
  'PUT bucket encryption': op('PutBucketEncryption', 'PutEncryptionConfiguration', false),
  'DELETE bucket encryption': op('DeleteBucketEncryption', 'PutEncryptionConfiguration', false),
  'GET bucket website': op('GetBucketWebsite', 'GetBucketWebsite', true),
  'PUT bucket website': op('PutBucketWebsite', 'PutBucketWebsite', false),
  'DELETE bucket website': op('DeleteBucketWebsite', 'DeleteBucketWebsite', false),
  'GET bucket logging': op('GetBucketLogging', 'GetBucketLogging', true),
  'PUT bucket logging': op('PutBucketLogging', 'PutBucketLogging', false),
  'GET bucket notification': op('GetBucketNotificationConfiguration', 'GetBucketNotification', true),
  'PUT bucket notification': op('PutBucketNotificationConfiguration', 'PutBucketNotification', false),
  'GET bucket publicAccessBlock': op('GetPublicAccessBlock', 'GetBucketPublicAccessBlock', true),
  'PUT bucket publicAccessBlock': op('PutPublicAccessBlock', 'PutBucketPublicAccessBlock', false),
  'DELETE bucket publicAccessBlock': op('DeletePublicAccessBlock', 'PutBucketPublicAccessBlock', false),
  'GET bucket ownershipControls': op('GetBucketOwnershipControls', 'GetBucketOwnershipControls', true),
  'PUT bucket ownershipControls': op('PutBucketOwnershipControls', 'PutBucketOwnershipControls', false),
  'DELETE bucket ownershipControls': op('DeleteBucketOwnershipControls', 'PutBucketOwnershipControls', false),
  'GET bucket object-lock': op('GetObjectLockConfiguration', 'GetBucketObjectLockConfiguration', true),
  'PUT bucket object-lock': op('PutObjectLockConfiguration', 'PutBucketObjectLockConfiguration', false),
  'GET bucket requestPayment': op('GetBucketRequestPayment', 'GetBucketRequestPayment', true),
  'GET bucket accelerate': op('GetBucketAccelerateConfiguration', 'GetAccelerateConfiguration', true),
  // Authorized per key from the body (request/delete-objects.ts).
  'POST bucket delete': op('DeleteObjects', 'DeleteObject', false),

  'GET object -': op('GetObject', 'GetObject', true),
  'HEAD object -': op('HeadObject', 'GetObject', true),
  'PUT object -': op('PutObject', 'PutObject', false),
  'DELETE object -': op('DeleteObject', 'DeleteObject', false),
  'GET object acl': op('GetObjectAcl', 'GetObjectAcl', true),
  'PUT object acl': op('PutObjectAcl', 'PutObjectAcl', false),
  'GET object tagging': op('GetObjectTagging', 'GetObjectTagging', true),
  'PUT object tagging': op('PutObjectTagging', 'PutObjectTagging', false),
  'DELETE object tagging': op('DeleteObjectTagging', 'DeleteObjectTagging', false),
  'GET object attributes': op('GetObjectAttributes', 'GetObjectAttributes', true),
  'GET object retention': op('GetObjectRetention', 'GetObjectRetention', true),
  'PUT object retention': op('PutObjectRetention', 'PutObjectRetention', false),
  'GET object legal-hold': op('GetObjectLegalHold', 'GetObjectLegalHold', true),
  'PUT object legal-hold': op('PutObjectLegalHold', 'PutObjectLegalHold', false),
  'POST object uploads': op('CreateMultipartUpload', 'PutObject', false),
  'PUT object uploadId': op('UploadPart', 'PutObject', false),
  'POST object uploadId': op('CompleteMultipartUpload', 'PutObject', false),
  'DELETE object uploadId': op('AbortMultipartUpload', 'AbortMultipartUpload', false),
  'GET object uploadId': op('ListParts', 'ListMultipartUploadParts', true),
  'POST object restore': op('RestoreObject', 'RestoreObject', false),
};

/** Query parameters that select a sub-resource (and so an operation). */
export const SUBRESOURCES = new Set([
  'versions', 'uploads', 'location', 'policy', 'policyStatus', 'acl', 'tagging', 'versioning', 'cors', 'lifecycle',
  'encryption', 'website', 'logging', 'notification', 'publicAccessBlock', 'ownershipControls', 'object-lock',
  'requestPayment', 'accelerate', 'attributes', 'retention', 'legal-hold', 'uploadId', 'restore', 'delete',
]);

/** Ordinary parameters that refine an operation without changing it. */
export const PLAIN_PARAMS = new Set([
  'list-type', 'prefix', 'delimiter', 'max-keys', 'marker', 'continuation-token', 'start-after', 'encoding-type',
  'fetch-owner', 'key-marker', 'version-id-marker', 'upload-id-marker', 'max-uploads', 'max-parts', 'part-number-marker',
  'partNumber', 'versionId', 'response-content-type', 'response-content-language', 'response-expires',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'x-id',
  'optional-object-attributes', 'bucket-region', 'max-buckets', 'expected-bucket-owner',
]);

/**
 * Request headers a presigner may hoist into the query string. Anything else
 * named x-amz-* in a query is refused: it could change what S3 does without
 * keyfence authorizing it (x-amz-copy-source above all).
 */
export const HOISTABLE_QUERY_HEADERS = new Set([
  'x-amz-acl', 'x-amz-checksum-mode', 'x-amz-sdk-checksum-algorithm', 'x-amz-checksum-crc32', 'x-amz-checksum-crc32c',
  'x-amz-checksum-crc64nvme', 'x-amz-checksum-sha1', 'x-amz-checksum-sha256', 'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-storage-class', 'x-amz-expected-bucket-owner', 'x-amz-request-payer',
  'x-amz-user-agent', 'x-amz-tagging',
]);
