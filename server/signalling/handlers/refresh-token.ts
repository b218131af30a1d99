import { AccessTokenError } from '../../auth/access-token';
import { AppError, ForbiddenError } from '../../errors';
import { sessionHandler } from './types';

/**
 * A fresh access token for this connection, before the current one expires (the session then
 * keeps the connection past the old expiry). It must verify for this room and name the same
 * identity; its grants replace the old ones for the requests that follow (its name is not
 * looked at: the others know the peer by the name it joined with). Works before join too.
 */
export const refreshToken = sessionHandler<'refreshToken'>(async (session, req) => {
  let fresh;
  try {
    fresh = await session.authenticate(req.token);
  } catch (error) {
    if (error instanceof AccessTokenError) throw new AppError('UNAUTHORIZED', error.message);
    throw error;
  }
  if (fresh.identity !== session.credentials.identity) {
    throw new ForbiddenError('the new token is for another identity: a connection keeps the identity it connected with');
  }
  return {
    data: fresh.expiresAt === undefined ? {} : { expiresAt: fresh.expiresAt },
    after: { type: 'refresh', credentials: fresh },
  };
});
