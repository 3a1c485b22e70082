import { method } from './define.ts';
import { s } from './schema.ts';

export interface AppInfo {
  name: string;
  version: string;
  host: 'electron' | 'headless';
  nodeVersion: string;
}

export const appMethods = {
  'app.info': method<AppInfo>()(s.object({}), 'Which host serves the console and its versions.'),
};
