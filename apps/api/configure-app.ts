import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { plainPriorityRange, type AppConfig } from '@mlis/config';
import { serveConsole } from './common/console-static';
import { accessLogMiddleware } from './common/access-log.middleware';
import { bodyIdleTimeoutMiddleware, configureHttpServer } from './common/body-idle-timeout.middleware';
import { Draining } from './core/draining';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { isArtifactUpload } from './artifacts/artifact-upload-route';
import { jsonBodyMiddleware } from './common/json-body.middleware';
import { methodNotAllowedMiddleware, type DeclaredPaths } from './common/method-not-allowed.middleware';
import { REQUEST_ID_HEADER, requestIdMiddleware } from './common/request-context';
import { createValidationPipe } from './common/validation';
import { CREATE_JOB_CROSS_FIELD_RULES, CREATE_JOB_DEPENDENCIES } from './jobs/jobs.dto';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { MetricsService } from './metrics/metrics.service';
import { submissionMetricsMiddleware } from './metrics/submission-metrics.middleware';

/** What the decorators cannot say: rules across fields, and the values this deployment configured. */
function describeCrossFieldRules(document: OpenAPIObject, config: AppConfig): void {
  const createJob = document.components?.schemas?.CreateJobDto as SchemaObject | undefined;
  if (!createJob?.properties) throw new Error('OpenAPI document has no CreateJobDto schema');
  createJob.allOf = CREATE_JOB_CROSS_FIELD_RULES as SchemaObject[];
  Object.assign(createJob, { dependencies: CREATE_JOB_DEPENDENCIES });
  createJob.description = 'gpu_model and gpu_memory_mb need gpu >= 1; give priority or priority_class, not both.';
  // One consistent whole example: the per-field examples and defaults together would break the rules above
  // (a gpu_model with the default gpu 0, priority_class with the default priority).
  createJob.example = { task_type: 'sleep', params: { seconds: 1 }, cpu: 1, mem_mb: 256, gpu: 0, priority_class: 'normal' };
  for (const field of ['gpu_model', 'gpu_memory_mb', 'priority_class', 'priority']) {
    const property = createJob.properties[field] as SchemaObject;
    if (property.default !== undefined) property.description = `${property.description ?? ''} Default ${JSON.stringify(property.default)}.`;
    delete property.example;
    delete property.default;
  }
  // A plain priority's bounds follow the configured classes (plainPriorityRange); admission refuses the rest.
  const plain = plainPriorityRange(config.scheduling.priorityClasses);
  Object.assign(createJob.properties.priority, { minimum: plain.min, maximum: plain.max });
  // Configured priority classes and worker groups stay out of the document: the console's types are generated
  // from it once, and a deployment configures its own (an unknown one is a 422 naming the configured ones).
  // Bodies are validated with forbidNonWhitelisted: a field the schema does not name is refused.
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations) as { requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> } }[]) {
      const ref = operation?.requestBody?.content?.['application/json']?.schema?.$ref;
      const schema = ref ? (document.components?.schemas?.[ref.split('/').pop() ?? ''] as SchemaObject | undefined) : undefined;
      if (schema) schema.additionalProperties = false;
    }
  }
  // group_limits: only configured groups, each with only the two limit fields.
  for (const name of ['CreateTenantDto', 'UpdateTenantDto']) {
    const groupLimits = (document.components?.schemas?.[name] as SchemaObject | undefined)?.properties?.group_limits as SchemaObject | undefined;
    if (!groupLimits) throw new Error(`OpenAPI document has no ${name}.group_limits`);
    const perGroup = { ...(groupLimits.additionalProperties as SchemaObject), additionalProperties: false };
    groupLimits.properties = Object.fromEntries(config.workerGroups.map((group) => [group, perGroup]));
    groupLimits.additionalProperties = false;
  }
}

/**
 * Everything around the routes, shared by the real app and the specs. Order matters: the request id
 * comes first so that every later response, errors and unknown routes included, carries it.
 * The app must be created with `bodyParser: false`: JSON parsing happens here, with our limit and errors.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  const document = buildOpenApiDocument(app, config);
  const draining = app.get(Draining);
  configureHttpServer(app.getHttpServer());
  draining.attach(app.getHttpServer());
  app.disable('x-powered-by');
  app.use(requestIdMiddleware);
  app.use(draining.middleware);
  app.use(accessLogMiddleware(new Logger('http')));
  app.use(httpMetricsMiddleware());
  app.use('/v1/jobs', submissionMetricsMiddleware(app.get(MetricsService)));
  // Before the body is read, and before the routes (they are mounted at init): from the document clients read.
  app.use(methodNotAllowedMiddleware(document.paths as DeclaredPaths));
  app.use(bodyIdleTimeoutMiddleware(config.api.bodyIdleSeconds));
  // Artifact uploads stream their raw body to the store: neither parsed nor held by the JSON limit.
  app.use(jsonBodyMiddleware(config.api.bodyLimitBytes, isArtifactUpload));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ApiExceptionFilter());

  serveConsole(app, config.console.dir);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

/** The API's OpenAPI document, as /docs-json serves it; the console's typed client is generated from it. */
export function buildOpenApiDocument(app: NestExpressApplication, config: AppConfig): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('MLIS')
      .setDescription(
        'Control plane for durable ML inference jobs. Errors: {"error": {"code", "message", "details"?, "request_id"}}; ' +
          `every response carries ${REQUEST_ID_HEADER}.`,
      )
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
  );
  describeCrossFieldRules(document, config);
  return document;
}
