// Parse once: EC2 and S3 requests become one description with the IAM
// action(s) and ARN(s) AWS documents for them.
import t from 'tap';
import { denial } from '../helpers/match.js';
import { classifyEc2 } from '../../src/request/ec2.js';
import { classifyS3 } from '../../src/request/s3.js';
import { parseQuery } from '../../src/sigv4/encoding.js';

const ec2 = (query: string, form = '') =>
  classifyEc2({ region: 'eu-west-1', accountId: '123456789012', queryParams: parseQuery(query), formParams: parseQuery(form) });

t.test('EC2', async (t) => {
  const d = ec2('', 'Action=DescribeInstances&Version=2016-11-15');
  t.same([d.apiAction, d.readOnly, d.authorizations], ['DescribeInstances', true, [{ action: 'ec2:DescribeInstances', resource: '*' }]]);
  const term = ec2('', 'Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2');
  t.same(term.authorizations.map((a) => a.resource), ['arn:aws:ec2:eu-west-1:123456789012:instance/i-1', 'arn:aws:ec2:eu-west-1:123456789012:instance/i-2']);
  t.equal(term.readOnly, false);
  const tags = ec2('', 'Action=CreateTags&ResourceId.1=vol-9&ResourceId.2=i-3&Tag.1.Key=a');
  t.same(tags.authorizations.map((a) => a.resource), ['arn:aws:ec2:eu-west-1:123456789012:volume/vol-9', 'arn:aws:ec2:eu-west-1:123456789012:instance/i-3']);
  t.same(ec2('Action=DescribeRegions').apiAction, 'DescribeRegions', 'Action in the query string');
  t.throws(() => ec2('Action=DescribeInstances', 'Action=TerminateInstances'), denial('AmbiguousAction'));
  t.throws(() => ec2('', 'Action=DescribeInstances&Action=TerminateInstances'), denial('AmbiguousAction'));
  t.throws(() => ec2('', 'Version=2016-11-15'), denial('MissingAction'));
  t.throws(() => ec2('', 'Action=FlyToTheMoon'), denial('UnsupportedOperation', /FlyToTheMoon/));
  const run = ec2('', 'Action=RunInstances&ImageId=ami-1&UserData=c2VjcmV0&MinCount=1&MaxCount=1');
  // Issue 10, class 8: redacted with a marker (the record shows it was sent), the value never reaches the audit.
  t.equal(run.requestParameters['UserData'], '[redacted]', 'user data never reaches the audit');
  t.notMatch(JSON.stringify(run.requestParameters), /c2VjcmV0/, 'user data never reaches the audit');
  t.ok(run.authorizations.some((a) => a.resource === 'arn:aws:ec2:eu-west-1::image/ami-1'));
});

const s3 = (method: string, path: string, query = '', copySource?: string) =>
  classifyS3({ method, rawPath: path, queryParams: parseQuery(query), copySource });

t.test('S3', async (t) => {
  const table: Array<[string, string, string, string, string, string]> = [
    ['GET', '/', '', 'ListBuckets', 's3:ListAllMyBuckets', '*'],
    ['GET', '/b1', 'list-type=2&prefix=a%2F', 'ListObjectsV2', 's3:ListBucket', 'arn:aws:s3:::b1'],
    ['GET', '/b1/', '', 'ListObjects', 's3:ListBucket', 'arn:aws:s3:::b1'],
    ['HEAD', '/b1', '', 'HeadBucket', 's3:ListBucket', 'arn:aws:s3:::b1'],
    ['PUT', '/b1', '', 'CreateBucket', 's3:CreateBucket', 'arn:aws:s3:::b1'],
    ['GET', '/b1/a/b.txt', '', 'GetObject', 's3:GetObject', 'arn:aws:s3:::b1/a/b.txt'],
    ['GET', '/b1/a%20b%2Bc+d', '', 'GetObject', 's3:GetObject', 'arn:aws:s3:::b1/a b+c+d'],
    ['HEAD', '/b1/k', '', 'HeadObject', 's3:GetObject', 'arn:aws:s3:::b1/k'],
    ['PUT', '/b1/k', '', 'PutObject', 's3:PutObject', 'arn:aws:s3:::b1/k'],
    ['DELETE', '/b1/k', '', 'DeleteObject', 's3:DeleteObject', 'arn:aws:s3:::b1/k'],
    ['DELETE', '/b1/k', 'versionId=3', 'DeleteObject', 's3:DeleteObjectVersion', 'arn:aws:s3:::b1/k'],
    ['GET', '/b1/k', 'acl', 'GetObjectAcl', 's3:GetObjectAcl', 'arn:aws:s3:::b1/k'],
    ['PUT', '/b1/k', 'tagging', 'PutObjectTagging', 's3:PutObjectTagging', 'arn:aws:s3:::b1/k'],
    ['PUT', '/b1', 'policy', 'PutBucketPolicy', 's3:PutBucketPolicy', 'arn:aws:s3:::b1'],
    ['GET', '/b1', 'acl', 'GetBucketAcl', 's3:GetBucketAcl', 'arn:aws:s3:::b1'],
    ['POST', '/b1/k', 'uploads', 'CreateMultipartUpload', 's3:PutObject', 'arn:aws:s3:::b1/k'],
    ['PUT', '/b1/k', 'partNumber=1&uploadId=u', 'UploadPart', 's3:PutObject', 'arn:aws:s3:::b1/k'],
    ['POST', '/b1/k', 'uploadId=u', 'CompleteMultipartUpload', 's3:PutObject', 'arn:aws:s3:::b1/k'],
    ['DELETE', '/b1/k', 'uploadId=u', 'AbortMultipartUpload', 's3:AbortMultipartUpload', 'arn:aws:s3:::b1/k'],
    ['GET', '/b1/k', 'uploadId=u', 'ListParts', 's3:ListMultipartUploadParts', 'arn:aws:s3:::b1/k'],
    ['GET', '/b1', 'uploads', 'ListMultipartUploads', 's3:ListBucketMultipartUploads', 'arn:aws:s3:::b1'],
    ['GET', '/b1/k', 'x-id=GetObject', 'GetObject', 's3:GetObject', 'arn:aws:s3:::b1/k'],
  ];
  for (const [method, path, query, api, iam, arn] of table) {
    const d = s3(method, path, query);
    t.same([d.apiAction, d.authorizations[0]], [api, { action: iam, resource: arn }], `${method} ${path}?${query}`);
  }
  const list = s3('GET', '/b1', 'list-type=2&prefix=home%2Falice%2F&delimiter=%2F&max-keys=5');
  t.same(list.conditionKeys.get('s3:prefix'), ['home/alice/']);
  t.same(list.conditionKeys.get('s3:max-keys'), ['5']);
  const copy = s3('PUT', '/dst/k2', '', '/src/dir%2Fk1');
  t.equal(copy.apiAction, 'CopyObject');
  t.same(copy.authorizations, [
    { action: 's3:PutObject', resource: 'arn:aws:s3:::dst/k2' },
    { action: 's3:GetObject', resource: 'arn:aws:s3:::src/dir/k1' },
  ]);
  t.equal(s3('PUT', '/dst/k2', 'partNumber=2&uploadId=u', 'src/k1').apiAction, 'UploadPartCopy');
  t.throws(() => s3('GET', '/b1/k', 'torrent'), denial('UnsupportedOperation'), 'unknown sub-resource refused');
  const del = s3('POST', '/b1', 'delete');
  t.same([del.apiAction, del.needsBody, del.authorizations], ['DeleteObjects', 'DeleteObjects', []], 'DeleteObjects waits for its body; nothing is authorized yet');
  t.throws(() => s3('GET', '/b1/k', 'X-Amz-Copy-Source=%2Fother%2Fsecret'), denial('UnsupportedOperation'), 'a hoisted copy source is refused');
  t.equal(s3('GET', '/b1/k', 'x-amz-checksum-mode=ENABLED').apiAction, 'GetObject', 'hoistable headers are accepted');
  const vhost = classifyS3({ method: 'GET', rawPath: '/dir/a%20b', queryParams: [], copySource: undefined, hostBucket: 'b1' });
  t.same(vhost.authorizations, [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b1/dir/a b' }], 'virtual-hosted: the path is the key');
  t.throws(() => s3('PATCH', '/b1/k'), denial('UnsupportedOperation'));
  t.throws(() => s3('GET', '/b1/k', 'acl&tagging'), denial('UnsupportedOperation'));
  t.throws(() => s3('GET', '/b1/%FF'), denial('MalformedRequest'), 'keys must be UTF-8');
  t.throws(() => s3('GET', '/b1/k', 'prefix=a&prefix=b'), denial('MalformedRequest'));
});
