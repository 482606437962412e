import { Inject } from '@nestjs/common';

/** The one injection token of the API's configuration (loaded once by loadConfig()). */
export const APP_CONFIG = Symbol('AppConfig');

export const InjectAppConfig = (): ParameterDecorator => Inject(APP_CONFIG);
