import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from '../../libs/config';
import { accessLogMiddleware } from './common/access-log.middleware';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { jsonBodyMiddleware } from './common/json-body.middleware';
import { methodNotAllowedMiddleware, type DeclaredPaths } from './common/method-not-allowed.middleware';
import { REQUEST_ID_HEADER, requestIdMiddleware } from './common/request-context';
import { createValidationPipe } from './common/validation';

/**
 * Everything around the routes, shared by the real app and the specs. Order matters: the request id
 * comes first so that every later response, errors and unknown routes included, carries it.
 * The app must be created with `bodyParser: false`: JSON parsing happens here, with our limit and errors.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
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
  app.disable('x-powered-by');
  app.use(requestIdMiddleware);
  app.use(accessLogMiddleware(new Logger('http')));
  // Before the body is read, and before the routes (they are mounted at init): from the document clients read.
  app.use(methodNotAllowedMiddleware(document.paths as DeclaredPaths));
  app.use(jsonBodyMiddleware(config.api.bodyLimitBytes));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ApiExceptionFilter());
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
