import { describe, expect, it } from 'vitest';
import { decodeEcrToken, pushAuthSource, pushFailure } from '../../../src/image/push.js';

const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

describe('push: where the credentials come from', () => {
  it("ECR's own host name: a token from its region; any other host: none unless given", () => {
    expect(pushAuthSource(`${ECR}/php`, {})).toEqual({ kind: 'ecr', region: 'eu-west-1', host: ECR });
    expect(pushAuthSource('127.0.0.1:5000/php', {})).toEqual({ kind: 'none', host: '127.0.0.1:5000' });
    expect(pushAuthSource('127.0.0.1:5000/php', { registryAuth: 'env:X' })).toEqual({ kind: 'registry-auth', value: 'env:X', host: '127.0.0.1:5000' });
    expect(pushAuthSource(`${ECR}/php`, { registryAuth: '@f' })).toEqual({ kind: 'registry-auth', value: '@f', host: ECR });
  });

  it('--ecr-region: an ECR token for a registry behind another host name', () => {
    expect(pushAuthSource('ecr-proxy.example.com/team/php', { ecrRegion: 'us-east-1' })).toEqual({ kind: 'ecr', region: 'us-east-1', host: 'ecr-proxy.example.com' });
    expect(pushAuthSource(`${ECR}/php`, { ecrRegion: 'eu-west-1' })).toEqual({ kind: 'ecr', region: 'eu-west-1', host: ECR });
  });

  it('refuses contradicting or malformed options in one line', () => {
    expect(() => pushAuthSource('h.example.com/php', { ecrRegion: 'us-east-1', registryAuth: 'env:X' })).toThrow(/^--registry-auth and --ecr-region both give credentials: pass one$/);
    expect(() => pushAuthSource('h.example.com/php', { ecrRegion: 'EU' })).toThrow(/^--ecr-region 'EU' is not an AWS region name/);
    expect(() => pushAuthSource(`${ECR}/php`, { ecrRegion: 'us-east-1' })).toThrow(`--ecr-region us-east-1 contradicts ${ECR}, an ECR registry in eu-west-1: drop --ecr-region`);
    expect(() => pushAuthSource('team/php', { ecrRegion: 'us-east-1' })).toThrow(/^--ecr-region needs --to with the registry's host/);
  });

  it("decodes ECR's token (base64 of AWS:<password>) and refuses one that is not user:password", () => {
    const token = Buffer.from('AWS:pa:ss').toString('base64');
    expect(decodeEcrToken(token, ECR)).toEqual({ username: 'AWS', password: 'pa:ss', serveraddress: ECR });
    expect(() => decodeEcrToken(Buffer.from('nocolon').toString('base64'), ECR)).toThrow(/not base64 of user:password/);
  });
});

describe('push: a refused push is one line that says what to check', () => {
  const engineMessage = 'unauthorized: authentication required\n';
  it('names the target, the host, the registry\'s words and the credential source to check', () => {
    expect(pushFailure('h:5000/php:t', { kind: 'registry-auth', value: 'env:X', host: 'h:5000' }, engineMessage)).toBe(
      'push of h:5000/php:t to h:5000 failed: unauthorized: authentication required: check the user and password that --registry-auth gives',
    );
    expect(pushFailure('h:5000/php:t', { kind: 'ecr', region: 'us-east-1', host: 'h:5000' }, engineMessage)).toMatch(/the ECR token from us-east-1 was refused/);
    expect(pushFailure('h:5000/php:t', { kind: 'none', host: 'h:5000' }, 'no basic auth credentials')).toMatch(/the registry wants credentials: pass --registry-auth/);
  });

  it('other failures keep the engine\'s words, on one line, without a credentials hint', () => {
    const msg = pushFailure('h:5000/php:t', { kind: 'registry-auth', value: 'env:X', host: 'h:5000' }, 'Get "http://h:5000/v2/":\n dial tcp: connection refused');
    expect(msg).toBe('push of h:5000/php:t to h:5000 failed: Get "http://h:5000/v2/": dial tcp: connection refused');
  });
});
