/** Access tokens alone: mint and verify with jose, each refusal named. */
import { SignJWT } from 'jose';
import { AccessTokenError, mintAccessToken, secretKey, verifyAccessToken, type TokenProblem } from '../../server/auth/access-token';

const key = secretKey('a-test-secret-that-is-long-enough-32b');
const otherKey = secretKey('another-secret-that-is-also-long-enough');

async function problemOf(promise: Promise<unknown>): Promise<TokenProblem | 'accepted'> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof AccessTokenError) return error.problem;
    throw error;
  }
}

test('a minted token verifies: identity, room, name, grants (missing grants are false)', async () => {
  const token = await mintAccessToken(
    { identity: 'ada', roomId: 'standup', displayName: 'Ada', grants: { join: true, publish: ['camera'] }, ttlSeconds: 60 },
    key,
  );
  const verified = await verifyAccessToken(token, key, 'standup');
  expect(verified).toMatchObject({ identity: 'ada', roomId: 'standup', displayName: 'Ada' });
  expect(verified.grants).toEqual({ join: true, publish: ['camera'], subscribe: false, publishData: false, admin: false, plain: false });
  expect(verified.expiresAt).toBeGreaterThan(Date.now() / 1000);
});

test('each refusal is named: missing, malformed, bad signature, expired, other room, bad claims', async () => {
  const good = await mintAccessToken({ identity: 'ada', roomId: 'standup', grants: { join: true }, ttlSeconds: 60 }, key);
  const expired = await new SignJWT({ room: 'standup', grants: {} })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ada')
    .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
    .sign(key);
  const noExp = await new SignJWT({ room: 'standup' }).setProtectedHeader({ alg: 'HS256' }).setSubject('ada').sign(key);
  const badGrant = await new SignJWT({ room: 'standup', grants: { fly: true } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ada')
    .setExpirationTime('1h')
    .sign(key);
  expect(await problemOf(verifyAccessToken(undefined, key))).toBe('missing');
  expect(await problemOf(verifyAccessToken('', key))).toBe('missing');
  expect(await problemOf(verifyAccessToken(42, key))).toBe('missing');
  expect(await problemOf(verifyAccessToken('not.a.jwt', key))).toBe('malformed');
  expect(await problemOf(verifyAccessToken(good, otherKey))).toBe('bad-signature');
  expect(await problemOf(verifyAccessToken(expired, key))).toBe('expired');
  expect(await problemOf(verifyAccessToken(good, key, 'another-room'))).toBe('other-room');
  expect(await problemOf(verifyAccessToken(noExp, key))).toBe('bad-claims');
  expect(await problemOf(verifyAccessToken(badGrant, key))).toBe('bad-claims');
  expect(await problemOf(verifyAccessToken(good, key, 'standup'))).toBe('accepted');
});

test('a secret shorter than 32 bytes is refused', () => {
  expect(() => secretKey('short')).toThrow(/32 bytes/);
});
