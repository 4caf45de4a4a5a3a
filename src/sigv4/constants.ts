// The SigV4 payload-mode strings (the values of x-amz-content-sha256 that are
// not a hex digest), the empty-payload hash, and the aws-chunked sizes and
// names other modules share.
//
// Must not: hold logic, or import anything; every other module that needs one
// of these strings takes it from here instead of spelling the literal again.

/** Signed aws-chunked body, no trailer. */
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
/** Signed aws-chunked body with a signed trailer. */
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
/** Unsigned aws-chunked body with a (checksum) trailer. */
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
/** A whole body whose hash is not part of the signature. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** keyfence's re-chunking size: the size AWS recommends. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** S3's minimum for every chunk but the last. */
export const MIN_CHUNK_SIZE = 8 * 1024;
/** The largest single chunk keyfence accepts from a client. */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** The name of the trailer line that carries the trailer signature. */
export const TRAILER_SIGNATURE = 'x-amz-trailer-signature';
