// hy.train: ready-made training loops over the library's modules, loaders and optimizers.
export { trainEpoch, evaluate, fit } from './loop';
export type { TrainEpochOptions, EpochResult, EvalResult, FitOptions } from './loop';
