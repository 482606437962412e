import { act } from '@testing-library/react';
import { vi } from 'vitest';
import { api } from '../api/client';

/** A GET the page sent that the test has not answered yet: its query, and how to answer it. */
export interface HeldGet<T> {
  query: Record<string, unknown>;
  resolve(data: T): void;
}

/**
 * Holds every `api.GET` until the test answers it (`answer`), so it decides the order answers arrive in: a late
 * answer for filters the page has since left, say. Undo with vi.restoreAllMocks().
 */
export function holdGets<T>(): { calls: HeldGet<T>[]; answer(index: number, data: T): Promise<void> } {
  const calls: HeldGet<T>[] = [];
  const held = (_path: string, init: { params: { query: Record<string, unknown> } }) =>
    new Promise((resolve) => {
      calls.push({ query: init.params.query, resolve: (data) => resolve({ data, response: new Response(null, { status: 200 }) }) });
    });
  vi.spyOn(api, 'GET').mockImplementation(held as never);
  return { calls, answer: (index, data) => act(async () => calls[index].resolve(data)) };
}
