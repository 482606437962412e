import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

// Node 25 and later have a localStorage and a sessionStorage of their own on the global object, unusable without
// --localstorage-file, and Vitest's jsdom environment keeps a global the runtime already has: use jsdom's.
const { window: dom } = (globalThis as unknown as { jsdom: { window: Window } }).jsdom;
for (const storage of ['localStorage', 'sessionStorage'] as const) {
  Object.defineProperty(globalThis, storage, { value: dom[storage], configurable: true, writable: true });
}

// Vitest runs without globals, so Testing Library's automatic cleanup is not registered.
afterEach(cleanup);
