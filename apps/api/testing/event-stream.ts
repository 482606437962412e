export interface StreamMessage {
  event: string;
  data: Record<string, unknown>;
}

/** SSE events from a real HTTP connection, read one at a time. */
export async function openEventStream(url: string): Promise<{ next(): Promise<StreamMessage>; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  if (response.headers.get('content-type') !== 'text/event-stream') throw new Error(`not an event stream: ${response.status} ${response.headers.get('content-type')}`);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const queued: StreamMessage[] = [];
  let buffer = '';
  return {
    async next() {
      while (queued.length === 0) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop()!;
        for (const block of blocks) {
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) queued.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
      return queued.shift()!;
    },
    close: () => controller.abort(),
  };
}
