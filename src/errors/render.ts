// Renders a denial as the error document each service's SDKs parse.
// Pure.

import { CATALOGUE, type DenialReason, type Service } from './catalog.js';

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

export interface RenderedError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly contentType: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export function renderError(reason: DenialReason, service: Service, requestId: string, detail?: string): RenderedError {
  const entry = CATALOGUE[reason];
  const { code, status } = entry[service];
  const message = detail && detail !== reason ? detail : entry.message;
  const head = '<?xml version="1.0" encoding="UTF-8"?>\n';
  const body =
    service === 's3'
      ? `${head}<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message><RequestId>${xmlEscape(requestId)}</RequestId></Error>`
      : `${head}<Response><Errors><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${xmlEscape(requestId)}</RequestID></Response>`;
  const headers: Record<string, string> = service === 's3' ? { 'x-amz-request-id': requestId } : { 'x-amzn-requestid': requestId };
  return { status, code, message, contentType: 'application/xml', body, headers };
}
