import { resolve } from 'node:path';
import type { BundleOptions } from '@temporalio/worker';

type WebpackConfigHook = NonNullable<BundleOptions['webpackConfigHook']>;
type WebpackAliases = Record<string, string | false | string[]>;

/**
 * Resolves @mlis/<lib> (tsconfig.json's paths) in a workflow bundle built from the TypeScript sources, as the workflow
 * tests build it. The processes bundle dist/workflows, whose imports tsc-alias has already made relative.
 */
export const resolveLibAliases: WebpackConfigHook = (config) => ({
  ...config,
  resolve: { ...config.resolve, alias: { ...(config.resolve?.alias as WebpackAliases), '@mlis': resolve(__dirname, '../../libs') } },
});
