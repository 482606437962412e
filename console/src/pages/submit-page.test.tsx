import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import { installFakeXhr, sentUpload } from '../testing/fake-xhr';
import { SubmitPage } from './submit-page';

const identity = vi.hoisted(() => ({ scopes: ['jobs:submit'] }));
vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'alice', tenant: 'default', scopes: identity.scopes }, config: null }) }));
vi.mock('../lib/live', () => ({ useLive: () => ({ tick: 0, markUpdated: () => {} }) }));

const ARTIFACT_PATTERN = '^artifact://[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const taskTypes = {
  items: [
    { task_type: 'sleep', description: 'Sleeps.', params_schema: { type: 'object', properties: { seconds: { type: 'number', default: 1 } } } },
    { task_type: 'inference', description: 'Reads texts.', params_schema: { type: 'object', properties: { input: { type: 'string', pattern: ARTIFACT_PATTERN } } } },
  ],
};
const answer = (status: number, data?: unknown, error?: unknown) =>
  Promise.resolve({ data, error, response: new Response(null, { status }) }) as never;
const unavailable = () => answer(503, undefined, { error: { code: 'dependency_unavailable', message: 'The database is unavailable', request_id: 'r1' } });

let post: ReturnType<typeof vi.spyOn>;
const keys = () => post.mock.calls.map((call: unknown[]) => (call[1] as { params: { header: Record<string, string> } }).params.header['Idempotency-Key']);
const submit = () => userEvent.click(screen.getByRole('button', { name: 'Submit sleep' }));

beforeEach(() => {
  vi.spyOn(api, 'GET').mockImplementation(() => answer(200, taskTypes));
  post = vi.spyOn(api, 'POST');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  identity.scopes = ['jobs:submit'];
});

const renderPage = () =>
  render(
    <MemoryRouter initialEntries={['/submit']}>
      <SubmitPage />
    </MemoryRouter>,
  );

describe('SubmitPage', () => {
  it('retries the same form with the same Idempotency-Key, and a changed form with a new one', async () => {
    post.mockImplementation(unavailable);
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });

    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(2));
    await userEvent.type(screen.getByRole('textbox', { name: /seconds/ }), '5');
    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(3));

    const [first, retry, changed] = keys();
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(retry).toBe(first);
    expect(changed).not.toBe(first);
  });

  it('says the outcome of a 503 is unknown and that submitting again is safe', async () => {
    post.mockImplementation(unavailable);
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    const notice = await screen.findByTestId('submit-error');
    expect(notice).toHaveTextContent('Outcome unknown (503): dependency_unavailable');
    expect(notice).toHaveTextContent('Submitting the same form again is safe');
    expect(notice).not.toHaveTextContent('Refused');
  });

  it('says the outcome of a proxy\'s 504 is unknown too', async () => {
    post.mockImplementation(() => answer(504, undefined, { error: { code: 'gateway_timeout', message: 'Upstream timed out', request_id: 'r3' } }));
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    expect(await screen.findByTestId('submit-error')).toHaveTextContent('Outcome unknown (504): gateway_timeout');
  });

  it('says the outcome is unknown when the API could not be reached', async () => {
    post.mockImplementation(() => Promise.reject(new TypeError('Failed to fetch')) as never);
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    expect(await screen.findByTestId('submit-error')).toHaveTextContent('Outcome unknown (unreachable): unreachable');
  });

  it('still says Refused for an answer that created nothing', async () => {
    post.mockImplementation(() => answer(429, undefined, { error: { code: 'rate_limited', message: 'Slow down', request_id: 'r2' } }));
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    const notice = await screen.findByTestId('submit-error');
    expect(notice).toHaveTextContent('Refused (429): rate_limited');
    expect(notice).not.toHaveTextContent('Submitting the same form again is safe');
  });

  it('takes a new Idempotency-Key after a success', async () => {
    post.mockImplementation(() => answer(202, { id: 'job-1' }));
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();
    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(2));

    const [first, second] = keys();
    expect(second).not.toBe(first);
  });

  describe('a param that takes an artifact', () => {
    const ARTIFACT_ID = '0b9f2a4e-5c1d-4e8f-9a7b-3c2d1e0f4a5b';
    const chooseInference = async () => {
      renderPage();
      await userEvent.selectOptions(await screen.findByRole('combobox', { name: 'Task type' }), 'inference');
    };

    it('uploads the chosen file as the request body, fills in its reference, and the job carries it', async () => {
      identity.scopes = ['jobs:submit', 'artifacts:write'];
      installFakeXhr();
      post.mockImplementation(() => answer(202, { id: 'job-1' }));
      await chooseInference();
      const file = new File(['first text\nsecond text\n'], 'texts.txt', { type: 'text/plain' });
      await userEvent.upload(screen.getByLabelText('or upload a file as input'), file);

      const upload = await sentUpload();
      expect(upload.method).toBe('POST');
      expect(upload.url).toBe('/v1/artifacts?name=texts.txt');
      expect(upload.headers).toEqual({ 'Content-Type': 'text/plain' });
      // The File itself goes out, for the browser to stream: not read into memory, not JSON.
      expect(upload.body).toBe(file);
      upload.answer(201, { id: ARTIFACT_ID, name: 'texts.txt', size_bytes: 2048, content_type: 'text/plain' });

      expect(await screen.findByTestId('upload-input-done')).toHaveTextContent(`Uploaded texts.txt (2.0 KiB) as artifact ${ARTIFACT_ID}.`);
      expect(screen.getByRole('textbox', { name: /input/ })).toHaveValue(`artifact://${ARTIFACT_ID}`);

      await userEvent.click(screen.getByRole('button', { name: 'Submit inference' }));
      await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
      expect((post.mock.calls[0] as [string, { body: { params: unknown } }])[1].body.params).toEqual({ input: `artifact://${ARTIFACT_ID}` });
    });

    it('shows a refused upload with its code, and keeps the field as it was', async () => {
      identity.scopes = ['jobs:submit', 'artifacts:write'];
      installFakeXhr();
      await chooseInference();
      await userEvent.upload(screen.getByLabelText('or upload a file as input'), new File(['x'], 'big.bin'));

      const upload = await sentUpload();
      expect(upload.headers).toEqual({ 'Content-Type': 'application/octet-stream' });
      upload.answer(413, { error: { code: 'payload_too_large', message: 'larger than 1 GiB', request_id: 'r4' } });
      expect(await screen.findByText('Upload failed (413 payload_too_large): larger than 1 GiB')).toBeInTheDocument();
      expect(screen.getByRole('textbox', { name: /input/ })).toHaveValue('');
    });

    it('is off, saying why, without artifacts:write', async () => {
      await chooseInference();
      expect(screen.getByLabelText('or upload a file as input')).toBeDisabled();
      expect(screen.getByText('Your token lacks the artifacts:write scope: uploading needs artifacts:write.')).toBeInTheDocument();
    });
  });
});
