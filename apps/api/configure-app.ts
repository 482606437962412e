import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { AppConfig } from '../../libs/config';
import { serveConsole } from './common/console-static';
import { accessLogMiddleware } from './common/access-log.middleware';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { isArtifactUpload } from './artifacts/artifact-upload-route';
import { jsonBodyMiddleware } from './common/json-body.middleware';
import { REQUEST_ID_HEADER, requestIdMiddleware } from './common/request-context';
import { createValidationPipe } from './common/validation';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';

/**
 * Everything around the routes, shared by the real app and the specs. Order matters: the request id
 * comes first so that every later response, errors and unknown routes included, carries it.
 * The app must be created with `bodyParser: false`: JSON parsing happens here, with our limit and errors.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.use(requestIdMiddleware);
  app.use(accessLogMiddleware(new Logger('http')));
  app.use(httpMetricsMiddleware());
  // Artifact uploads stream their raw body to the store: neither parsed nor held by the JSON limit.
  app.use(jsonBodyMiddleware(config.api.bodyLimitBytes, isArtifactUpload));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ApiExceptionFilter());

  serveConsole(app, config.console.dir);
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}

/** The API's OpenAPI document, as /docs-json serves it; the console's typed client is generated from it. */
export function buildOpenApiDocument(app: NestExpressApplication): OpenAPIObject {
  return SwaggerModule.createDocument(
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
}
