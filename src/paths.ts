import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: where recipes/, dockerfiles/ and runtime/ live. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const paths = {
  recipes: path.join(PACKAGE_ROOT, 'recipes'),
  dockerfiles: path.join(PACKAGE_ROOT, 'dockerfiles'),
  scripts: path.join(PACKAGE_ROOT, 'dockerfiles', 'scripts'),
  platforms: path.join(PACKAGE_ROOT, 'dockerfiles', 'platforms.json'),
};

export const TOOL_NAME = 'lambda-runtime-builder';
export const TOOL_VERSION: string = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
