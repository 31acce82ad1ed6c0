import { native, NativeCudaInfo } from './native';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const pkg = require('../../package.json') as { version: string };

export interface Info {
  version: string;
  backends: ('cpu' | 'cuda')[];
  cuda: NativeCudaInfo;
}

/**
 * What hayate was built with and what it found: the backends present and, for CUDA, the device or the reason there is none.
 *
 * @example
 * ```ts
 * const { version, backends, cuda } = hy.info();
 * console.log(version, backends, cuda.available ? cuda.device?.name : cuda.reason);
 * ```
 */
export function info(): Info {
  const cuda = native.info();
  return { version: pkg.version, backends: cuda.available ? ['cpu', 'cuda'] : ['cpu'], cuda };
}
