import { Fragment, useMemo, useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api, ApiError, unwrap, type CreateJob } from '../api/client';
import { ArtifactUpload } from '../components/artifact-upload';
import { ErrorNotice } from '../components/common';
import { useIdentity } from '../lib/identity';
import { describeParam, paramsFromForm, type FormValues, type ParamsSchema } from '../lib/params-form';
import { missingScope } from '../lib/scopes';
import { useResource } from '../lib/use-resource';

function parseSelector(text: string): Record<string, string> | null {
  const selector: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf('=');
    if (at <= 0) return null;
    selector[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return selector;
}

/** 128 random bits in hex. crypto.randomUUID needs a secure context (https, localhost); getRandomValues works on any page. */
function newIdempotencyKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** A server error (a 503 dependency_unavailable, a proxy's 502 or 504) or no answer: the job may or may not exist. */
function outcomeUnknown(error: ApiError): boolean {
  return error.status >= 500 || error.unreachable;
}

export function SubmitPage() {
  const { whoami, config } = useIdentity();
  const blocked = missingScope(whoami, 'jobs:submit');
  const navigate = useNavigate();
  const types = useResource(`task-types-${blocked ?? ''}`, () => (blocked ? Promise.resolve(null) : unwrap(api.GET('/v1/task-types'))), { live: false });
  const [taskType, setTaskType] = useState('');
  const [values, setValues] = useState<FormValues>({});
  const [resources, setResources] = useState({ cpu: '1', mem_mb: '256', gpu: '0', worker_group: '', node_selector: '', priority_class: '' });
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // One Idempotency-Key per form content: a retry of the same submission returns the job it may have created.
  const idempotency = useRef<{ content: string; key: string } | null>(null);

  const selected = types.data?.items.find((item) => item.task_type === (taskType || types.data?.items[0]?.task_type));
  const schema = selected?.params_schema as unknown as ParamsSchema | undefined;
  const fields = useMemo(() => Object.entries(schema?.properties ?? {}), [schema]);

  if (blocked) {
    return (
      <>
        <h1>Submit a job</h1>
        <p className="notice">{blocked}: submitting needs jobs:submit.</p>
      </>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!selected || !schema) return;
    const { params, problems: found } = paramsFromForm(schema, values);
    const selector = parseSelector(resources.node_selector);
    if (!selector) found.node_selector = 'key=value pairs, comma separated';
    setProblems(found);
    setError(null);
    if (Object.keys(found).length > 0) return;
    const body: CreateJob = {
      task_type: selected.task_type as CreateJob['task_type'],
      params,
      cpu: Number(resources.cpu),
      mem_mb: Number(resources.mem_mb),
      gpu: Number(resources.gpu),
      ...(resources.worker_group ? { worker_group: resources.worker_group } : {}),
      ...(selector && Object.keys(selector).length ? { node_selector: selector } : {}),
      ...(resources.priority_class ? { priority_class: resources.priority_class } : {}),
    };
    const content = JSON.stringify(body);
    if (idempotency.current?.content !== content) idempotency.current = { content, key: newIdempotencyKey() };
    setBusy(true);
    try {
      const job = await unwrap(api.POST('/v1/jobs', { body, params: { header: { 'Idempotency-Key': idempotency.current.key } } }));
      idempotency.current = null;
      void navigate(`/jobs/${job.id}`);
    } catch (cause) {
      const apiError = cause as ApiError;
      setError(apiError);
      // Field problems from the API (400 invalid_params / 422 unschedulable) go next to their fields.
      setProblems(Object.fromEntries((apiError.details ?? []).map((d) => [d.field.replace(/^params\./, ''), d.problem])));
    } finally {
      setBusy(false);
    }
  };

  const problem = (key: string) =>
    problems[key] ? (
      <span className="field-error" id={`${key}-problem`} role="alert">
        {problems[key]}
      </span>
    ) : null;
  const resource = (key: keyof typeof resources, label: string, type = 'number') => (
    <label>
      {label}
      <input
        type={type}
        name={key}
        min={type === 'number' ? 0 : undefined}
        value={resources[key]}
        onChange={(e) => setResources({ ...resources, [key]: e.target.value })}
        aria-describedby={problems[key] ? `${key}-problem` : undefined}
      />
      {problem(key)}
    </label>
  );

  return (
    <>
      <h1>Submit a job</h1>
      {types.error ? <ErrorNotice error={types.error} what="task types" /> : null}
      {types.data ? (
        <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Submit a job">
          <label>
            Task type
            <select
              name="task_type"
              value={selected?.task_type ?? ''}
              onChange={(e) => {
                setTaskType(e.target.value);
                setValues({});
                setProblems({});
              }}
            >
              {types.data.items.map((item) => (
                <option key={item.task_type} value={item.task_type}>
                  {item.task_type}
                </option>
              ))}
            </select>
          </label>
          {selected ? <p className="muted small">{selected.description}</p> : null}
          <fieldset>
            <legend>Params</legend>
            {fields.map(([key, param]) => (
              <Fragment key={key}>
                <label>
                  {key} <span className="muted small">({describeParam(param)})</span>
                  {param.enum ? (
                    <select name={`param-${key}`} value={values[key] ?? ''} onChange={(e) => setValues({ ...values, [key]: e.target.value })} aria-describedby={problems[key] ? `${key}-problem` : undefined}>
                      <option value="">default ({String(param.default)})</option>
                      {param.enum.map((choice) => (
                        <option key={choice} value={choice}>
                          {choice}
                        </option>
                      ))}
                    </select>
                  ) : param.type === undefined || param.type === 'string' || param.type === 'array' ? (
                    <textarea name={`param-${key}`} rows={3} value={values[key] ?? ''} onChange={(e) => setValues({ ...values, [key]: e.target.value })} aria-describedby={problems[key] ? `${key}-problem` : undefined} />
                  ) : (
                    <input
                      name={`param-${key}`}
                      inputMode="decimal"
                      placeholder={param.default === undefined ? '' : String(param.default)}
                      value={values[key] ?? ''}
                      onChange={(e) => setValues({ ...values, [key]: e.target.value })}
                      aria-describedby={problems[key] ? `${key}-problem` : undefined}
                    />
                  )}
                  {problem(key)}
                </label>
                {param.pattern?.startsWith('^artifact://') ? (
                  <ArtifactUpload
                    id={`upload-${key}`}
                    label={`or upload a file as ${key}`}
                    onUploaded={(artifact) => setValues((current) => ({ ...current, [key]: `artifact://${artifact.id}` }))}
                  />
                ) : null}
              </Fragment>
            ))}
          </fieldset>
          <fieldset>
            <legend>Resources and placement</legend>
            {resource('cpu', 'CPU cores')}
            {resource('mem_mb', 'Memory (MiB)')}
            {resource('gpu', 'GPUs')}
            {resource('worker_group', 'Worker group', 'text')}
            {resource('node_selector', 'Node selector (key=value, …)', 'text')}
            <label>
              Priority class
              <select name="priority_class" value={resources.priority_class} onChange={(e) => setResources({ ...resources, priority_class: e.target.value })}>
                <option value="">default</option>
                {(config?.priority_classes ?? []).map((name) => (
                  <option key={name}>{name}</option>
                ))}
              </select>
            </label>
          </fieldset>
          {error ? (
            <div className="notice notice-error" role="alert" data-testid="submit-error">
              <strong>
                {error.status === 422 ? 'Unschedulable' : outcomeUnknown(error) ? `Outcome unknown (${error.status || 'unreachable'})` : `Refused (${error.status})`}: {error.code}
              </strong>
              <p>{error.message}</p>
              {outcomeUnknown(error) ? (
                <p>The job may or may not have been created. Submitting the same form again is safe: it cannot create a second job.</p>
              ) : null}
            </div>
          ) : null}
          <button type="submit" disabled={busy}>
            Submit {selected?.task_type}
          </button>
        </form>
      ) : null}
    </>
  );
}
