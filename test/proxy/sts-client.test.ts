// sts-client: parsing STS's AssumeRole answer (the response shape of the STS
// API reference's AssumeRole example) into a credential and its expiry, and
// refusing every incomplete or failed answer with AssumeRoleError.
import t from 'tap';
import { AssumeRoleError, parseAssumeRoleResponse } from '../../src/proxy/sts-client.js';

const OK = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>`;

t.test('a complete answer gives the credential and its expiry', async (t) => {
  const r = parseAssumeRoleResponse(200, OK);
  t.same(r.credential, { accessKeyId: 'ASIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY', sessionToken: 'AQoDYXdzEPT//////////wEXAMPLEtc764' });
  t.equal(r.expiresAt, Date.UTC(2019, 10, 9, 13, 34, 41));
  t.ok(Object.isFrozen(r.credential), 'the credential is frozen');
});

t.test('incomplete answers are refused', async (t) => {
  const cases: Array<[string, string]> = [
    ['no AccessKeyId', OK.replace(/<AccessKeyId>[^<]*<\/AccessKeyId>/, '')],
    ['no SecretAccessKey', OK.replace(/<SecretAccessKey>[^<]*<\/SecretAccessKey>/, '')],
    ['no SessionToken', OK.replace(/<SessionToken>[^<]*<\/SessionToken>/, '')],
    ['empty SessionToken', OK.replace(/<SessionToken>[^<]*<\/SessionToken>/, '<SessionToken></SessionToken>')],
    ['no Expiration', OK.replace(/<Expiration>[^<]*<\/Expiration>/, '')],
    ['unparseable Expiration', OK.replace(/<Expiration>[^<]*<\/Expiration>/, '<Expiration>soon</Expiration>')],
    ['not XML', 'hello'],
  ];
  for (const [name, xml] of cases) {
    t.throws(() => parseAssumeRoleResponse(200, xml), new AssumeRoleError('sts:AssumeRole answered without a complete credential'), name);
  }
});

t.test('a refusal names STS error code and a bounded message, and never a credential', async (t) => {
  const xml = `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${'m'.repeat(500)}</Message></Error></ErrorResponse>`;
  let err: unknown;
  try {
    parseAssumeRoleResponse(403, xml);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof AssumeRoleError);
  t.equal((err as Error).message, `sts:AssumeRole refused (HTTP 403 AccessDenied): ${'m'.repeat(200)}`);
  // A non-200 answer is refused even when it carries credential fields, and they are not echoed.
  t.throws(() => parseAssumeRoleResponse(500, OK), new AssumeRoleError('sts:AssumeRole refused (HTTP 500 ): '));
});
