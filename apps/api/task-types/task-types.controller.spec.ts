import request from 'supertest';
import { createTestApp, type TestApp } from '../testing/test-app';

describe('GET /v1/task-types', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({}, { auth: 'real' });
  });

  afterAll(async () => {
    await t.app.close();
  });

  it("lists every task type with its runner's params schema, to a token that may submit", async () => {
    const { body } = await request(t.app.getHttpServer()).get('/v1/task-types').set('Authorization', `Bearer ${t.userToken({ scope: 'jobs:submit' })}`).expect(200);
    expect(body.items.map((item: { task_type: string }) => item.task_type)).toEqual(['sleep', 'gpu_demo', 'inference', 'onnx', 'echo']);
    expect(body.items[1].params_schema.properties).toEqual({
      seconds: { type: 'number', minimum: 0, maximum: 86_400, default: 0.5 },
      matrix_size: { type: 'integer', minimum: 1, maximum: 512, default: 64 },
    });
    await request(t.app.getHttpServer()).get('/v1/task-types').set('Authorization', `Bearer ${t.userToken({ scope: 'jobs:read' })}`).expect(403);
  });
});
