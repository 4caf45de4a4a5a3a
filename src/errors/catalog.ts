// The denial catalogue: one row per reason keyfence refuses a request, with the
// AWS error code and HTTP status each service's SDKs expect and the audit
// event type. This table is the only place codes and statuses are decided.
// Pure data: imports nothing.

export type Service = 's3' | 'ec2';

interface WireError {
  readonly code: string;
  readonly status: number;
}

export interface CatalogueEntry {
  /** AuthFailure: the caller was not authenticated. AwsApiCall: authenticated, then refused. */
  readonly eventType: 'AuthFailure' | 'AwsApiCall';
  readonly s3: WireError;
  readonly ec2: WireError;
  /** Default message, written the way AWS words the same error. */
  readonly message: string;
}

const e = (code: string, status: number): WireError => ({ code, status });

export const CATALOGUE = {
  MissingAuthentication: {
    eventType: 'AuthFailure',
    s3: e('AccessDenied', 403),
    ec2: e('MissingAuthenticationToken', 401),
    message: 'Request is missing authentication: anonymous requests are not accepted.',
  },
  UnsupportedSignatureVersion: {
    eventType: 'AuthFailure',
    s3: e('InvalidRequest', 400),
    ec2: e('AuthFailure', 401),
    message: 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
  },
  MalformedAuthorization: {
    eventType: 'AuthFailure',
    s3: e('AuthorizationHeaderMalformed', 400),
    ec2: e('IncompleteSignature', 400),
    message: 'The authorization header is malformed.',
  },
  UnknownAccessKey: {
    eventType: 'AuthFailure',
    s3: e('InvalidAccessKeyId', 403),
    ec2: e('AuthFailure', 401),
    message: 'The AWS access key Id you provided does not exist in our records.',
  },
  RevokedAccessKey: {
    eventType: 'AuthFailure',
    s3: e('InvalidAccessKeyId', 403),
    ec2: e('AuthFailure', 401),
    message: 'The AWS access key Id you provided does not exist in our records.',
  },
  InvalidToken: {
    eventType: 'AuthFailure',
    s3: e('InvalidToken', 400),
    ec2: e('AuthFailure', 401),
    message: 'The provided token is malformed or otherwise invalid.',
  },
  ExpiredToken: {
    eventType: 'AuthFailure',
    s3: e('ExpiredToken', 400),
    ec2: e('RequestExpired', 400),
    message: 'The provided token has expired.',
  },
  PresignedExpired: {
    eventType: 'AuthFailure',
    s3: e('AccessDenied', 403),
    ec2: e('RequestExpired', 400),
    message: 'Request has expired.',
  },
  RequestTimeSkewed: {
    eventType: 'AuthFailure',
    s3: e('RequestTimeTooSkewed', 403),
    ec2: e('RequestExpired', 400),
    message: 'The difference between the request time and the current time is too large.',
  },
  SignatureMismatch: {
    eventType: 'AuthFailure',
    s3: e('SignatureDoesNotMatch', 403),
    ec2: e('SignatureDoesNotMatch', 403),
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  },
  UnsignedHeaders: {
    eventType: 'AuthFailure',
    s3: e('AccessDenied', 403),
    ec2: e('SignatureDoesNotMatch', 403),
    message: 'There were headers present in the request which were not signed.',
  },
  PayloadHashMismatch: {
    eventType: 'AuthFailure',
    s3: e('XAmzContentSHA256Mismatch', 400),
    ec2: e('SignatureDoesNotMatch', 403),
    message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  },
  MissingContentSha256: {
    eventType: 'AuthFailure',
    s3: e('InvalidRequest', 400),
    ec2: e('InvalidRequest', 400),
    message: 'Missing required header for this request: x-amz-content-sha256.',
  },
  UnsupportedPayloadMode: {
    eventType: 'AwsApiCall',
    s3: e('NotImplemented', 501),
    ec2: e('UnsupportedOperation', 501),
    message: 'This payload signing mode is not supported by keyfence yet.',
  },
  SourceIpDenied: {
    eventType: 'AwsApiCall',
    s3: e('AccessDenied', 403),
    ec2: e('UnauthorizedOperation', 403),
    message: 'Access Denied: the request does not come from an address this access key may be used from.',
  },
  PolicyDenied: {
    eventType: 'AwsApiCall',
    s3: e('AccessDenied', 403),
    ec2: e('UnauthorizedOperation', 403),
    message: 'You are not authorized to perform this operation.',
  },
  UnsupportedOperation: {
    eventType: 'AwsApiCall',
    s3: e('NotImplemented', 501),
    ec2: e('InvalidAction', 400),
    message: 'keyfence does not know this operation, so it cannot authorize it.',
  },
  AmbiguousAction: {
    eventType: 'AwsApiCall',
    s3: e('InvalidRequest', 400),
    ec2: e('InvalidParameterCombination', 400),
    message: 'The request names more than one action.',
  },
  UnknownResourceParameter: {
    eventType: 'AwsApiCall',
    s3: e('InvalidArgument', 400),
    ec2: e('UnknownParameter', 400),
    message: 'The request has a parameter that names a resource keyfence cannot authorize for this action.',
  },
  MissingAction: {
    eventType: 'AwsApiCall',
    s3: e('InvalidRequest', 400),
    ec2: e('MissingAction', 400),
    message: 'The request must contain the parameter Action.',
  },
  MalformedRequest: {
    eventType: 'AuthFailure',
    s3: e('InvalidArgument', 400),
    ec2: e('InvalidParameterValue', 400),
    message: 'The request is malformed.',
  },
  BodyTooLarge: {
    eventType: 'AuthFailure',
    s3: e('MaxMessageLengthExceeded', 413),
    ec2: e('RequestEntityTooLarge', 413),
    message: 'The request body is larger than keyfence accepts for this operation.',
  },
  NoMasterCredential: {
    eventType: 'AwsApiCall',
    s3: e('ServiceUnavailable', 503),
    ec2: e('Unavailable', 503),
    message: 'keyfence has no master credential configured, so it cannot forward this call.',
  },
  LockedOut: {
    eventType: 'AuthFailure',
    s3: e('SlowDown', 503),
    ec2: e('RequestLimitExceeded', 503),
    message: 'Too many failed authentications from your address; try again later.',
  },
  AuditUnavailable: {
    eventType: 'AwsApiCall',
    s3: e('ServiceUnavailable', 503),
    ec2: e('Unavailable', 503),
    message: 'keyfence cannot write its audit log, so it refuses calls until it can.',
  },
  UpstreamUnavailable: {
    eventType: 'AwsApiCall',
    s3: e('ServiceUnavailable', 503),
    ec2: e('Unavailable', 503),
    message: 'keyfence could not reach the upstream service.',
  },
  InternalError: {
    eventType: 'AwsApiCall',
    s3: e('InternalError', 500),
    ec2: e('InternalError', 500),
    message: 'keyfence encountered an internal error. Please try again.',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type DenialReason = keyof typeof CATALOGUE;

export function wireError(reason: DenialReason, service: Service): WireError {
  return CATALOGUE[reason][service];
}
