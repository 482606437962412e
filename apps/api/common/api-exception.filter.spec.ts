import { Controller, Get, Req, type LoggerService } from '@nestjs/common';
import type { Request } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { QueryFailedError } from 'typeorm';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { StoreFullError, UploadAbandonedError } from '@mlis/artifacts';
import { ApiErrorCode } from '@mlis/contracts';
import { accessLogMiddleware } from './access-log.middleware';
import { ApiExceptionFilter } from './api-exception.filter';
import { DomainError } from './domain-error';
import { redactSecrets } from './redact';
import { requestIdMiddleware } from './request-context';

// A real-looking (unsigned) JWT and a bearer credential, as a careless library might quote them.
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA';
const BEARER = 'Bearer opaque-credential-123';

class CapturingLogger implements LoggerService {
  readonly lines: unknown[] = [];
  log(message: unknown): void {
    this.lines.push(message);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.lines.push(message, ...rest);
  }
  warn(message: unknown): void {
    this.lines.push(message);
  }
}

@Controller('boom')
class BoomController {
  @Get('internal')
  internal(): never {
    throw new Error(`upstream refused Authorization: ${BEARER} and token ${JWT}`);
  }

  @Get('full')
  full(): never {
    throw new StoreFullError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  }

  @Get('abandoned')
  abandoned(): never {
    throw new UploadAbandonedError('ab'.repeat(32));
  }

  @Get('database')
  database(): never {
    throw new QueryFailedError('SELECT 1', [], Object.assign(new Error('the database system is starting up'), { code: '57P03' }));
  }

  @Get('store-refused')
  storeRefused(): never {
    throw new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied for key AKIAEXAMPLE' });
  }

  @Get('gone')
  gone(@Req() req: Request): never {
    // As when the client of an upload vanishes: its socket is gone, and the read fails with Node's "aborted".
    req.socket.destroy();
    throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  }

  @Get('domain')
  domain(): never {
    throw new DomainError(ApiErrorCode.ValidationFailed, `bad token ${JWT}`, [{ field: 'authorization', problem: `${BEARER} is malformed` }]);
  }
}

describe(ApiExceptionFilter.name, () => {
  let app: NestExpressApplication;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ controllers: [BoomController] }).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ logger });
    app.use(requestIdMiddleware);
    app.use(accessLogMiddleware(logger));
    app.useGlobalFilters(new ApiExceptionFilter());
    await app.init();
  });

  afterAll(() => app.close());

  async function logged(): Promise<string> {
    // The access log line is written on 'close', just after the response.
    const deadline = Date.now() + 2_000;
    while (!logger.lines.some((line) => String(JSON.stringify(line)).includes('"status"')) && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    return JSON.stringify(logger.lines);
  }

  beforeEach(() => {
    logger.lines.length = 0;
  });

  it('never echoes a bearer token from an unhandled error, and logs it redacted', async () => {
    const response = await request(app.getHttpServer()).get('/boom/internal').set('Authorization', `Bearer ${JWT}`).expect(500);
    expect(response.body.error).toEqual({ code: 'internal_error', message: 'internal error', request_id: expect.any(String) });
    const log = await logged();
    expect(log).toContain('upstream refused');
    expect(log).not.toContain(JWT);
    expect(log).not.toContain('opaque-credential-123');
    expect(JSON.stringify(response.body)).not.toContain(JWT);
  });

  it('answers a full artifact store with 507 insufficient_storage', async () => {
    const response = await request(app.getHttpServer()).get('/boom/full').expect(507);
    expect(response.body.error).toEqual({
      code: 'insufficient_storage',
      message: 'the artifact store has no space left; nothing was kept, try again later',
      request_id: expect.any(String),
    });
  });

  it('answers an upload that retention cleaned up before its row with 503 upload_abandoned and a Retry-After, logged as a warning', async () => {
    const response = await request(app.getHttpServer()).get('/boom/abandoned').expect(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body.error).toEqual({
      code: 'upload_abandoned',
      message: 'the upload took longer than an unfinished upload is kept (a day) and was cleaned up; nothing was kept: send it again',
      request_id: expect.any(String),
    });
    const log = await logged();
    expect(log).toContain('upload abandoned by retention before its row');
    expect(log).toContain('took longer than retention waits for an upload');
    expect(log).not.toContain('unhandled error');
  });

  it('answers a database that is down or restarting with 503 dependency_unavailable and a Retry-After, logged as a warning', async () => {
    const response = await request(app.getHttpServer()).get('/boom/database').expect(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body.error).toEqual({ code: 'dependency_unavailable', message: 'a service the API depends on (its database or artifact store) is unavailable; try again shortly', request_id: expect.any(String) });
    const log = await logged();
    expect(log).toContain('dependency unavailable');
    expect(log).not.toContain('unhandled error');
  });

  it('answers an S3 store that refused the request (a revoked credential) with 503 dependency_unavailable, not 500; the log says why', async () => {
    const response = await request(app.getHttpServer()).get('/boom/store-refused').expect(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body.error).toEqual({ code: 'dependency_unavailable', message: 'a service the API depends on (its database or artifact store) is unavailable; try again shortly', request_id: expect.any(String) });
    const log = await logged();
    expect(log).toContain('dependency unavailable');
    expect(log).toContain('Access Denied');
    expect(log).not.toContain('unhandled error');
  });

  it('logs a request whose client went away as such, not as an error or an outage, and answers nothing', async () => {
    await expect(request(app.getHttpServer()).get('/boom/gone')).rejects.toThrow(/socket hang up|ECONNRESET/);
    const log = await logged();
    expect(log).toContain('client went away before the answer');
    expect(log).not.toContain('unhandled error');
    expect(log).not.toContain('dependency unavailable');
  });

  it('redacts credentials quoted in a domain error message and its details', async () => {
    const response = await request(app.getHttpServer()).get('/boom/domain').expect(400);
    const body = JSON.stringify(response.body);
    expect(response.body.error.message).toBe('bad token [redacted]');
    expect(response.body.error.details).toEqual([{ field: 'authorization', problem: 'Bearer [redacted] is malformed' }]);
    expect(body).not.toContain(JWT);
    expect(body).not.toContain('opaque-credential-123');
  });

  it('does not echo a token pasted into an unknown path or its query, nor log it', async () => {
    const response = await request(app.getHttpServer()).get(`/v1/${JWT}?access_token=${JWT}&x=1`).expect(404);
    expect(response.body.error.code).toBe('not_found');
    expect(JSON.stringify(response.body)).not.toContain(JWT);
    expect(await logged()).not.toContain(JWT);
  });
});

describe(redactSecrets.name, () => {
  it.each([
    [`Authorization: ${BEARER}`, 'Authorization: Bearer [redacted]'],
    ['basic dXNlcjpwYXNz', 'basic [redacted]'],
    [`jwt=${JWT}`, 'jwt=[redacted]'],
    ['/cb?code=1&token=abc.def&x=2', '/cb?code=1&token=[redacted]&x=2'],
    ['nothing secret in job 3f2a', 'nothing secret in job 3f2a'],
  ])('%s -> %s', (input, output) => {
    expect(redactSecrets(input)).toBe(output);
  });
});
