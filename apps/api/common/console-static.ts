import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

export const CONSOLE_PATH = '/console';

/**
 * Serves the built console at /console, same origin as the API (no CORS, no token in a URL). Any
 * /console path that is not a file gets index.html, so deep links (/console/jobs/<id>) load the app.
 * Without a build (no index.html) nothing is mounted and /console is the API's ordinary 404.
 */
export function serveConsole(app: NestExpressApplication, dir: string): boolean {
  const root = resolve(dir);
  const index = join(root, 'index.html');
  if (!existsSync(index)) return false;
  // Hashed asset names: cache them for long; index.html always revalidates so a new build is picked up.
  app.useStaticAssets(root, {
    prefix: CONSOLE_PATH,
    index: false,
    redirect: false,
    setHeaders: (res, path) => res.setHeader('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
  app.use(CONSOLE_PATH, (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // A missing asset is a 404, not the app's HTML under a .js name.
    if (req.path.startsWith('/assets/')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return true;
}
