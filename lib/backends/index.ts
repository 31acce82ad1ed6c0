// hy.backends: process-wide switches of the backends, as torch.backends (cudnn.benchmark there is
// autotune here, general over every op with several implementations).
export { autotune, Autotuner, buildId } from './autotune';
export type { AutotuneDecision, DecisionSource } from './autotune';
