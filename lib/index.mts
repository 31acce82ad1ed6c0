// The ES module entry (package.json "exports" → "import"). The build is CommonJS (dist/lib/index.js):
// this re-exports it, every name as a named export and the whole API as the default export, so
// `import hy from 'hayate'` and `import { tensor } from 'hayate'` both work and share one instance
// of the addon with `require('hayate')`.
import hy from './index.js';

export * from './index.js';
export default hy;
