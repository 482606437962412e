import { render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import { LiveProvider, useLive } from './live';

/** The browser's EventSource, played by the test: the stream's events arrive when it says. */
class FakeEventSource {
  static opened: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  private readonly listeners = new Map<string, () => void>();
  constructor(readonly url: string) {
    FakeEventSource.opened.push(this);
  }
  addEventListener(event: string, listener: () => void): void {
    this.listeners.set(event, listener);
  }
  close(): void {}
  emit(event: string): void {
    this.listeners.get(event)?.();
  }
}

function Tick() {
  const { tick, mode } = useLive();
  return (
    <span data-testid="tick">
      {mode} {tick}
    </span>
  );
}

beforeEach(() => {
  FakeEventSource.opened = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  vi.spyOn(api, 'POST').mockImplementation(() => Promise.resolve({ data: { ticket: 't1' }, response: new Response(null, { status: 201 }) }) as never);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('LiveProvider', () => {
  it.each(['job', 'node', 'queue', 'artifact'])('refreshes the pages on the stream’s %s event', async (event) => {
    render(
      <LiveProvider enabled>
        <Tick />
      </LiveProvider>,
    );
    await waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    const source = FakeEventSource.opened[0];
    expect(source.url).toBe('/v1/stream?ticket=t1');
    source.onopen?.();
    await waitFor(() => expect(screen.getByTestId('tick')).toHaveTextContent('live 0'));

    source.emit(event);
    await waitFor(() => expect(screen.getByTestId('tick')).toHaveTextContent('live 1'));
  });
});
