import { canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: [{ z: 1, a: null }, 'x'], a: { d: true, c: 1.5 } })).toBe('{"a":{"c":1.5,"d":true},"b":[{"a":null,"z":1},"x"]}');
  });

  it('writes the same text for the same value whatever order its keys came in', () => {
    expect(canonicalJson({ x: 1, y: { q: 2, p: 3 } })).toBe(canonicalJson({ y: { p: 3, q: 2 }, x: 1 }));
  });

  it('sorts keys by UTF-16 code unit, as JSON.stringify escapes them', () => {
    expect(canonicalJson({ é: 1, Z: 2, a: 3, 'a"b': 4 })).toBe('{"Z":2,"a":3,"a\\"b":4,"é":1}');
  });

  it('writes scalars as JSON does', () => {
    expect([null, 0, -2.5, 'tab\there', false].map(canonicalJson)).toEqual(['null', '0', '-2.5', '"tab\\there"', 'false']);
  });
});
