import { AppError } from '../../errors';
import { sessionHandler } from './types';

export const leave = sessionHandler<'leave'>((session) => {
  if (!session.member) throw new AppError('NOT_JOINED', 'join the room first');
  return { data: {}, after: { type: 'leave' } };
});
