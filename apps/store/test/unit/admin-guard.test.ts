import { ForbiddenException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { AdminTokenGuard } from '../../src/app/admin.module';
import type { StoreEnv } from '../../src/config/store-config';

const guard = (token?: string) => new AdminTokenGuard({ MDS_ADMIN_TOKEN: token } as StoreEnv);
const call = (authorization?: string) =>
  ({
    switchToHttp: () => ({ getRequest: () => ({ headers: { authorization } }) }),
  }) as unknown as ExecutionContext;

describe('AdminTokenGuard', () => {
  it('without MDS_ADMIN_TOKEN the admin endpoints are disabled (403), whatever the caller sends', () => {
    expect(() => guard(undefined).canActivate(call())).toThrow(ForbiddenException);
    expect(() => guard(undefined).canActivate(call('Bearer '))).toThrow(ForbiddenException);
    expect(() => guard(undefined).canActivate(call('Bearer undefined'))).toThrow(
      ForbiddenException,
    );
  });

  it('with a token set, only the exact bearer token passes', () => {
    const g = guard('s3cret');
    expect(g.canActivate(call('Bearer s3cret'))).toBe(true);
    for (const wrong of [
      undefined,
      '',
      'Bearer',
      'Bearer s3cre',
      'Bearer s3cret ',
      'Bearer s3cretx',
      'bearer s3cret',
      's3cret',
    ])
      expect(() => g.canActivate(call(wrong))).toThrow(UnauthorizedException);
  });

  it('compares in constant time (crypto.timingSafeEqual over equal-length digests), not with ===', () => {
    const crypto = jest.requireActual<typeof import('crypto')>('crypto');
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      guard('s3cret').canActivate(call('Bearer s3cret'));
      expect(() => guard('s3cret').canActivate(call('Bearer a-much-longer-wrong-token'))).toThrow(
        UnauthorizedException,
      );
      expect(spy).toHaveBeenCalledTimes(2);
      for (const [a, b] of spy.mock.calls) expect((a as Buffer).length).toBe((b as Buffer).length);
    } finally {
      spy.mockRestore();
    }
  });
});
