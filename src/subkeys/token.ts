// Session tokens: JWTs signed with keyfence's own Ed25519 key, carrying the
// key id, role, CIDR allowlist and expiry, so a token says what its key may
// do without a network call. Must never log a token.

import type { KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
import { Denial } from '../errors/denial.js';

export const TOKEN_ISSUER = 'keyfence';

export interface TokenClaims {
  readonly keyId: string;
  readonly tokenId: string;
  readonly role: string;
  readonly cidrs: readonly string[];
  readonly expiresAt: number; // epoch ms
}

export async function signToken(claims: TokenClaims, key: KeyObject, nowMs: number): Promise<string> {
  return new SignJWT({ role: claims.role, cidrs: [...claims.cidrs] })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setSubject(claims.keyId)
    .setJti(claims.tokenId)
    .setIssuedAt(Math.floor(nowMs / 1000))
    .setExpirationTime(Math.floor(claims.expiresAt / 1000))
    .sign(key);
}

/** Verify a token's signature and expiry; Denial(InvalidToken | ExpiredToken) otherwise. */
export async function verifyToken(token: string, key: KeyObject, nowMs: number): Promise<TokenClaims> {
  try {
    const { payload } = await jwtVerify(token, key, {
      issuer: TOKEN_ISSUER,
      algorithms: ['EdDSA'],
      currentDate: new Date(nowMs),
      requiredClaims: ['sub', 'jti', 'exp'],
    });
    const role = payload['role'];
    const cidrs = payload['cidrs'];
    if (typeof role !== 'string' || !Array.isArray(cidrs) || !cidrs.every((c) => typeof c === 'string')) {
      throw new Denial('InvalidToken');
    }
    return { keyId: payload.sub as string, tokenId: payload.jti as string, role, cidrs: cidrs as string[], expiresAt: (payload.exp as number) * 1000 };
  } catch (err) {
    if (err instanceof Denial) throw err;
    if (err instanceof errors.JWTExpired) throw new Denial('ExpiredToken');
    throw new Denial('InvalidToken');
  }
}
