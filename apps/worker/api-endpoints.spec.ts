import { ApiEndpoints, unavailable } from './api-endpoints';

describe(ApiEndpoints.name, () => {
  const [a, b, c] = ['http://api-a:8001', 'http://api-b:8001', 'http://api-c:8001'];

  it('sends calls to the first API until one fails, then to the next, wrapping round', () => {
    const api = new ApiEndpoints([`${a}/`, b, c]);
    expect(api.preferred).toBe(a);
    expect(api.inTurn()).toEqual([a, b, c]);

    api.failed(a);
    expect(api.preferred).toBe(b);
    expect(api.inTurn()).toEqual([b, c, a]);
    api.failed(b);
    api.failed(c);
    expect(api.preferred).toBe(a);
  });

  it('stays with the API that answered, and a failure of another that calls no longer go to moves nothing', () => {
    const api = new ApiEndpoints([a, b, c]);
    api.answered(c);
    expect(api.preferred).toBe(c);
    // A call that went to `a` before the switch fails late: the calls stay with `c`.
    api.failed(a);
    expect(api.preferred).toBe(c);
    api.answered('http://elsewhere:8001');
    expect(api.preferred).toBe(c);
  });

  it('needs at least one URL', () => {
    expect(() => new ApiEndpoints([])).toThrow('at least one API URL');
  });

  it('hands calls on only for answers that say the API cannot serve now', () => {
    expect([502, 503, 504].map(unavailable)).toEqual([true, true, true]);
    expect([200, 400, 401, 404, 409, 429, 500, 507].map(unavailable)).toEqual(Array(8).fill(false));
  });
});
